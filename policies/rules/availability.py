"""Availability: enough replicas, budgets that allow drains, rollouts that keep capacity, spread."""

from __future__ import annotations

from .base import Example, Resource, resource_rule, stack_rule
from .datastores import workload_store
from .k8s import (
    DELETE,
    DEPLOYMENT,
    HPA,
    HTTP_ROUTE,
    INGRESS,
    PDB,
    SCALABLE,
    SCALED_OBJECT,
    SERVICE,
    matches,
    name_of,
    namespace_of,
    pod_labels,
    pod_spec,
    with_change,
)
from .samples import deployment, hpa, pdb

GOOD = deployment()


def _hpa_for(workload: Resource, resources: list[Resource]) -> Resource | None:
    for r in resources:
        if r.type in (HPA, SCALED_OBJECT) and namespace_of(r.props) == namespace_of(workload.props):
            ref = r.props.get("spec", {}).get("scaleTargetRef", {})
            if ref.get("kind", "Deployment") == workload.props.get("kind") and ref.get("name") == name_of(
                workload.props
            ):
                return r
    return None


def _min_pods(workload: Resource, resources: list[Resource]) -> int:
    scaler = _hpa_for(workload, resources)
    if scaler and scaler.type == SCALED_OBJECT:
        spec = scaler.props["spec"]
        pods = int(spec.get("minReplicaCount", 0))  # KEDA's default scales to zero
        # With idleReplicaCount (KEDA allows only 0) the target drops to it whenever no trigger is
        # active, below minReplicaCount (keda.sh/docs/2.16/reference/scaledobject-spec, idleReplicaCount).
        if spec.get("idleReplicaCount") is not None:
            pods = min(pods, int(spec["idleReplicaCount"]))
        return pods
    if scaler:
        return int(scaler.props["spec"].get("minReplicas", 1))
    return int(workload.props.get("spec", {}).get("replicas", 1))


def _workloads(resources: list[Resource]) -> list[Resource]:
    return [r for r in resources if r.type in SCALABLE]


def is_datastore(props) -> bool:
    """The project's component label, or a Postgres/Redis recognised by image, port or name label (store_runtime.py)."""
    return pod_labels(props).get("app.kubernetes.io/component") == "datastore" or workload_store(props) is not None


def _is_datastore(r: Resource) -> bool:
    # Single-instance data stores are exempt from replica rules: they scale by other means.
    return is_datastore(r.props)


def _routed_services(resources: list[Resource]) -> set[tuple[str, str]]:
    """(namespace, name) of the Services an Ingress or an HTTPRoute sends external traffic to."""
    routed = set()
    for r in resources:
        ns = namespace_of(r.props)
        spec = r.props.get("spec") or {}
        if r.type == INGRESS:
            backends = [spec.get("defaultBackend") or {}] + [
                p.get("backend") or {}
                for rule in spec.get("rules") or []
                for p in (rule.get("http") or {}).get("paths") or []
            ]
            routed |= {(ns, (b.get("service") or {}).get("name")) for b in backends if b.get("service")}
        elif r.type == HTTP_ROUTE:
            for rule in spec.get("rules") or []:
                for ref in rule.get("backendRefs") or []:
                    if ref.get("kind", "Service") == "Service":
                        routed.add((ref.get("namespace") or ns, ref.get("name")))
    return routed


def _idle_release(r: Resource, resources: list[Resource]) -> bool:
    """The idle colour of a blue-green release may be scaled to zero on purpose, but only while nothing
    sends it traffic: no Service selects its pods but its own colour Service (`<name>-blue`, named like
    the Deployment), and no Ingress or HTTPRoute routes to that one. A Service that takes traffic
    selecting a colour at zero replicas is an outage, whatever the colour label says."""
    if not (
        pod_labels(r.props).get("agent-platform.io/release-track") in ("blue", "green")
        and r.props.get("spec", {}).get("replicas") == 0
    ):
        return False
    ns, labels, routed = namespace_of(r.props), pod_labels(r.props), _routed_services(resources)
    for svc in resources:
        if svc.type != SERVICE or namespace_of(svc.props) != ns:
            continue
        selector = (svc.props.get("spec") or {}).get("selector") or {}
        if not selector or not matches({"matchLabels": selector}, labels):
            continue
        if name_of(svc.props) != name_of(r.props) or (ns, name_of(svc.props)) in routed:
            return False
    return True


@stack_rule(
    "min-replicas",
    "Workloads run at least `minReplicas` pods (fixed, or the HPA's minimum).",
    "high",
    "Raise replicas, or the HPA's minReplicas, to at least the configured minimum.",
    Example(
        [Resource.of(GOOD, DEPLOYMENT), Resource.of(hpa(3), HPA)],
        [Resource.of(with_change(GOOD, "spec.replicas", 1), DEPLOYMENT)],
    ),
    config={"minReplicas": {"type": "integer", "default": 2}},
    tags=("availability",),
    reads=(*SCALABLE, HPA, SCALED_OBJECT, SERVICE, INGRESS, HTTP_ROUTE),
)
def min_replicas(resources, config):
    """Reads both scalers (an HPA's minReplicas; a KEDA ScaledObject's minReplicaCount and idleReplicaCount)
    and, for a blue-green colour at zero, the Services that select it (_idle_release)."""
    for w in _workloads(resources):
        if _is_datastore(w) or _idle_release(w, resources):
            continue
        pods = _min_pods(w, resources)
        if pods < config["minReplicas"]:
            yield (
                f"{w.props.get('kind')} {name_of(w.props)}: {pods} pod(s) at minimum, want >= {config['minReplicas']}",
                w.urn,
            )


@stack_rule(
    "pdb-allows-disruption",
    "Every multi-replica workload has a PodDisruptionBudget that allows at least one disruption at its minimum.",
    "medium",
    "Add a PDB with maxUnavailable: 1 (or minAvailable below the HPA minimum).",
    Example(
        [Resource.of(GOOD, DEPLOYMENT), Resource.of(hpa(3), HPA), Resource.of(pdb(), PDB)],
        [Resource.of(GOOD, DEPLOYMENT), Resource.of(hpa(3), HPA), Resource.of(pdb(minAvailable=3), PDB)],
    ),
    tags=("availability",),
    reads=(PDB, *SCALABLE),
)
def pdb_allows_disruption(resources, config):
    budgets = [r for r in resources if r.type == PDB]
    for w in _workloads(resources):
        pods = _min_pods(w, resources)
        if pods < 2:
            continue
        mine = [
            b
            for b in budgets
            if namespace_of(b.props) == namespace_of(w.props)
            and matches(b.props.get("spec", {}).get("selector", {}), pod_labels(w.props))
        ]
        label = f"{w.props.get('kind')} {name_of(w.props)}"
        if not mine:
            yield f"{label}: {pods} replicas and no PodDisruptionBudget", w.urn
            continue
        for b in mine:
            allowed = disruptions_allowed(b.props.get("spec", {}), pods)
            if allowed is not None and allowed < 1:
                yield (
                    f"{label}: PDB {name_of(b.props)} allows {allowed} disruption(s) at {pods} pods: no drain can "
                    "proceed",
                    b.urn,
                )


def _scaled(value, total: int) -> int | None:
    """intstr.GetScaledValueFromIntOrPercent(value, total, roundUp=true): percentages round up."""
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%") and text[:-1].isdigit():
        return -(-int(text[:-1]) * total // 100)
    return int(text) if text.isdigit() else None


def disruptions_allowed(spec, pods: int) -> int | None:
    """What the disruption controller allows at `pods` healthy pods (kubernetes pkg/controller/disruption/
    disruption.go getExpectedPodCount: maxUnavailable and string minAvailable scale against the pod count,
    rounding up)."""
    if spec.get("maxUnavailable") is not None:
        scaled = _scaled(spec["maxUnavailable"], pods)
        return None if scaled is None else pods - max(0, pods - scaled)
    if spec.get("minAvailable") is not None:
        scaled = _scaled(spec["minAvailable"], pods)
        return None if scaled is None else pods - scaled
    return None


@stack_rule(
    "no-replicas-with-hpa",
    "A workload scaled by an HPA does not also set spec.replicas.",
    "medium",
    "Remove spec.replicas: with server-side apply every deploy would reset the autoscaler's choice.",
    Example(
        [Resource.of(GOOD, DEPLOYMENT), Resource.of(hpa(3), HPA)],
        [Resource.of(with_change(GOOD, "spec.replicas", 3), DEPLOYMENT), Resource.of(hpa(3), HPA)],
    ),
    tags=("availability",),
    reads=(HPA, SCALED_OBJECT, *SCALABLE),
)
def no_replicas_with_hpa(resources, config):
    for w in _workloads(resources):
        if _hpa_for(w, resources) and "replicas" in w.props.get("spec", {}):
            yield f"{w.props.get('kind')} {name_of(w.props)}: sets spec.replicas but an HPA scales it", w.urn


@resource_rule(
    "rolling-update-keeps-capacity",
    "Deployments roll out with maxUnavailable 0: capacity never drops during a deploy.",
    "medium",
    "Set strategy.rollingUpdate.maxUnavailable: 0 and maxSurge: 1.",
    (DEPLOYMENT,),
    Example(GOOD, with_change(GOOD, "spec.strategy.rollingUpdate.maxUnavailable", "25%")),
    tags=("availability",),
)
def rolling_update_keeps_capacity(props, config):
    strategy = props.get("spec", {}).get("strategy") or {}
    if strategy.get("type") == "Recreate":
        yield "strategy Recreate stops every pod before starting new ones"
    elif (strategy.get("rollingUpdate") or {}).get("maxUnavailable") not in (0, "0", "0%"):
        unavailable = (strategy.get("rollingUpdate") or {}).get("maxUnavailable", "25% (default)")
        yield f"rollingUpdate.maxUnavailable is {unavailable!r}, want 0"


@resource_rule(
    "spread-across-failure-domains",
    "Replicated pods spread across zones (topologySpreadConstraints) or nodes (pod anti-affinity).",
    "medium",
    "Add a topologySpreadConstraint on topology.kubernetes.io/zone or a podAntiAffinity on kubernetes.io/hostname.",
    SCALABLE,
    Example(GOOD, with_change(GOOD, "spec.template.spec.topologySpreadConstraints", DELETE)),
    tags=("availability",),
)
def spread_across_failure_domains(props, config):
    if is_datastore(props):
        return
    spec = pod_spec(props)
    if not spec.get("topologySpreadConstraints") and not (spec.get("affinity") or {}).get("podAntiAffinity"):
        yield "no topologySpreadConstraints and no podAntiAffinity"
