"""Operations: releases and alerting (issue #12): canary weights that mean something, alert rules in prod."""

from __future__ import annotations

from .base import Example, Resource, resource_rule, stack_rule
from .k8s import DEPLOYMENT, HTTP_ROUTE, INGRESS, PROMETHEUS_RULE, STATEFULSET, with_change

CANARY = "nginx.ingress.kubernetes.io/canary"
CANARY_WEIGHT = "nginx.ingress.kubernetes.io/canary-weight"
# Gateway API HTTPBackendRef.weight: an integer 0 to 1,000,000; a backend's share is its weight over the
# rule's total, and a rule whose weights are all 0 sends every request a 500
# (gateway-api.sigs.k8s.io/reference/spec/#backendref, "weight").
MAX_ROUTE_WEIGHT = 1_000_000


def _canary_ingress(weight) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "api-canary", "annotations": {CANARY: "true", CANARY_WEIGHT: weight}},
        "spec": {"rules": [{"host": "agents.example.com"}]},
    }


ROUTE = {
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "HTTPRoute",
    "metadata": {"name": "agent-platform", "namespace": "agents"},
    "spec": {
        "parentRefs": [
            {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "public", "sectionName": "https"}
        ],
        "hostnames": ["agents.example.com"],
        "rules": [
            {
                "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                "backendRefs": [
                    {"name": "api", "port": 80, "weight": 90},
                    {"name": "api-canary", "port": 80, "weight": 10},
                ],
            }
        ],
    },
}


@resource_rule(
    "canary-weight-in-range",
    "A canary's share of traffic means what it says, in both forms the platform renders: an ingress-nginx canary "
    "Ingress's weight is a whole percent 0 to 100; an HTTPRoute's backend weights are integers 0 to 1,000,000 and "
    "not all 0 (ingress-nginx docs annotations.md#canary; Gateway API spec BackendRef.weight).",
    "high",
    "Set services[].rollout.canary.weight to an integer from 0 to 100; the platform writes the annotation or the "
    "HTTPRoute weights from it.",
    (INGRESS, HTTP_ROUTE),
    Example(_canary_ingress("10"), _canary_ingress("150")),
    tags=("releases",),
)
def canary_weight_in_range(props, config):
    if props.get("kind") == "HTTPRoute":
        for i, rule in enumerate((props.get("spec") or {}).get("rules") or []):
            refs = rule.get("backendRefs") or []
            weights = [ref.get("weight", 1) for ref in refs]
            for ref, weight in zip(refs, weights, strict=True):
                if not isinstance(weight, int) or isinstance(weight, bool) or not 0 <= weight <= MAX_ROUTE_WEIGHT:
                    yield f"rules[{i}] backend {ref.get('name')}: weight {weight!r} must be an integer 0 to 1000000"
            if refs and all(w == 0 for w in weights):
                yield f"rules[{i}]: every backend weight is 0, so the route answers every request with a 500"
        return
    annotations = (props.get("metadata") or {}).get("annotations") or {}
    if str(annotations.get(CANARY, "")).lower() != "true":
        return
    weight = annotations.get(CANARY_WEIGHT)
    # ingress-nginx reads it with strconv.Atoi; anything else is ignored and sends the canary nothing.
    if weight is None or not str(weight).isdigit() or not 0 <= int(weight) <= 100:
        yield f"canary-weight {weight!r}: must be an integer from 0 to 100"


ROUTE_CANARY_EXAMPLE = Example(ROUTE, with_change(ROUTE, "spec.rules.0.backendRefs.1.weight", -10))


# Who an alert is about: the PrometheusRule's app.kubernetes.io/name (the app's rules are the platform's,
# Postgres' the store's), and what in the render needs that component's alerts: agent workloads (the
# platform's role label) and a CloudNativePG Cluster, whose exporters publish what the alerts read. Redis
# runs with no exporter in any shipped stack, so nothing requires its alerts until one scrapes it.
ALERT_COMPONENTS = {"app": "agent-platform", "postgres": "postgres", "redis": "redis"}
AGENT_ROLE = "agent-platform.io/role"
CNPG_CLUSTER = "kubernetes:postgresql.cnpg.io/v1:Cluster"


def _rule(alerts: int, name: str = "agent-platform", component: str = "agent-platform") -> Resource:
    return Resource.of(
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PrometheusRule",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/name": component}},
            "spec": {"groups": [{"name": "g", "rules": [{"alert": f"A{i}", "expr": "1"} for i in range(alerts)]}]},
        },
        PROMETHEUS_RULE,
    )


def _api() -> Resource:
    return Resource.of(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "api", "labels": {AGENT_ROLE: "api"}},
            "spec": {"template": {"metadata": {"labels": {AGENT_ROLE: "api"}}}},
        },
        DEPLOYMENT,
    )


def _cluster() -> Resource:
    return Resource.of(
        {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "postgres"}}, CNPG_CLUSTER
    )


def _needs(resources) -> set[str]:
    needs = set()
    for r in resources:
        labels = ((r.props.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}
        if r.type in (DEPLOYMENT, STATEFULSET) and AGENT_ROLE in labels:
            needs.add("app")
        if r.type == CNPG_CLUSTER:
            needs.add("postgres")
    return needs


ALERTS_EXAMPLE = Example(
    [_api(), _cluster(), _rule(5), _rule(3, "postgres-durability", "postgres")],
    # The app's rules gone: Postgres' alone may not stand in for them.
    [_api(), _cluster(), _rule(6, "postgres-durability", "postgres")],
    config={"required": True, "minAlerts": 5, "minAlertsPerComponent": {"postgres": 3}},
)


@stack_rule(
    "alert-rules-present",
    "Where the stack's policy config requires it (prod), each component the stack runs has its own alerts: the "
    "agent services at least `minAlerts`, a CloudNativePG Postgres at least `minAlertsPerComponent.postgres` "
    "(a PrometheusRule counts for the component its app.kubernetes.io/name names).",
    "high",
    "Turn on monitoring.enabled and monitoring.prometheusRule in the stack file (the app's rules), and "
    "postgres.monitoring for the database's.",
    ALERTS_EXAMPLE,
    config={
        "required": {"type": "boolean", "default": False},
        "minAlerts": {"type": "integer", "default": 5},
        "minAlertsPerComponent": {
            "type": "object",
            "additionalProperties": {"type": "integer"},
            "default": {"postgres": 3},
        },
    },
    tags=("operations",),
    reads=(PROMETHEUS_RULE, DEPLOYMENT, STATEFULSET, CNPG_CLUSTER),
)
def alert_rules_present(resources, config):
    if not config["required"]:
        return
    counts = dict.fromkeys(ALERT_COMPONENTS, 0)
    for res in resources:
        if res.type != PROMETHEUS_RULE:
            continue
        name = ((res.props.get("metadata") or {}).get("labels") or {}).get("app.kubernetes.io/name")
        component = next((c for c, n in ALERT_COMPONENTS.items() if n == name), None)
        if component is None:
            continue
        counts[component] += sum(
            1
            for group in (res.props.get("spec") or {}).get("groups") or []
            for r in group.get("rules") or []
            if r.get("alert")
        )
    wanted = {"app": config["minAlerts"], **(config.get("minAlertsPerComponent") or {})}
    what = {"app": "error rate, latency, memory, DB pool, crash loops", "postgres": "WAL archive, backup age, lag"}
    for component in sorted(_needs(resources)):
        want = wanted.get(component, 1)
        if counts[component] < want:
            yield (
                f"{counts[component]} {component} alert rule(s) in the stack, want >= {want} "
                f"({what.get(component, 'its failures')}): another component's alerts do not stand in for them",
                "stack",
            )
