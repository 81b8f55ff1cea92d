"""Helpers to read Kubernetes objects as the engine hands them to policies (camelCase inputs)."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

WORKLOADS = {
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:apps/v1:DaemonSet",
    "kubernetes:apps/v1:ReplicaSet",
    "kubernetes:batch/v1:Job",
    "kubernetes:batch/v1:CronJob",
    "kubernetes:core/v1:Pod",
}
SCALABLE = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet")
DEPLOYMENT, STATEFULSET = SCALABLE
CONFIGMAP = "kubernetes:core/v1:ConfigMap"
SERVICE = "kubernetes:core/v1:Service"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
NAMESPACE = "kubernetes:core/v1:Namespace"
QUOTA = "kubernetes:core/v1:ResourceQuota"
LIMIT_RANGE = "kubernetes:core/v1:LimitRange"
SECRET = "kubernetes:core/v1:Secret"
JOB = "kubernetes:batch/v1:Job"
CRONJOB = "kubernetes:batch/v1:CronJob"
HTTP_ROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
REFERENCE_GRANTS = (
    "kubernetes:gateway.networking.k8s.io/v1:ReferenceGrant",
    "kubernetes:gateway.networking.k8s.io/v1beta1:ReferenceGrant",
)
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
TRIGGER_AUTHENTICATION = "kubernetes:keda.sh/v1alpha1:TriggerAuthentication"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
SERVICE_MONITOR = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
POD_MONITOR = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"


def kind_of(props: Mapping[str, Any]) -> str:
    return props.get("kind", "")


def pod_spec(props: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = props.get("spec") or {}
    if kind_of(props) == "Pod":
        return spec
    if kind_of(props) == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return ((spec.get("template") or {}).get("spec")) or {}


def pod_labels(props: Mapping[str, Any]) -> Mapping[str, str]:
    if kind_of(props) == "Pod":
        return (props.get("metadata") or {}).get("labels") or {}
    return (((props.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}


def containers(props: Mapping[str, Any], init: bool = True) -> Iterator[Mapping[str, Any]]:
    spec = pod_spec(props)
    yield from spec.get("containers") or []
    if init:
        yield from spec.get("initContainers") or []
        yield from spec.get("ephemeralContainers") or []  # PSS applies every control to these too


def long_running(props: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """The containers that run as long as the pod: `containers` and native sidecars (initContainers with
    restartPolicy Always, Kubernetes 1.29+: kubernetes.io/docs/concepts/workloads/pods/sidecar-containers,
    which take liveness, readiness and startup probes like any container)."""
    spec = pod_spec(props)
    yield from spec.get("containers") or []
    for c in spec.get("initContainers") or []:
        if c.get("restartPolicy") == "Always":
            yield c


def effective(container: Mapping[str, Any], pod: Mapping[str, Any], field: str) -> Any:
    """A securityContext field: the container's, else the pod's."""
    value = (container.get("securityContext") or {}).get(field)
    if value is None:
        value = (pod.get("securityContext") or {}).get(field)
    return value


def name_of(props: Mapping[str, Any]) -> str:
    return (props.get("metadata") or {}).get("name", "?")


def matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist) against labels."""
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def namespace_of(props: Mapping[str, Any]) -> str:
    return (props.get("metadata") or {}).get("namespace") or ""


def with_change(obj: Mapping[str, Any], path: str, value: Any) -> dict:
    """A deep copy of obj with the dotted path (list indexes as numbers) set, or removed when value is DELETE."""
    result = copy.deepcopy(dict(obj))
    node: Any = result
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    last = parts[-1]
    if value is DELETE:
        if isinstance(node, list):
            node.pop(int(last))
        else:
            node.pop(last, None)
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return result


DELETE = object()
