"""Operations: releases and alerting (issue #12): canary weights that mean something, alert rules in prod."""

from __future__ import annotations

from .base import Example, Resource, resource_rule, stack_rule
from .k8s import INGRESS

CANARY = "nginx.ingress.kubernetes.io/canary"
CANARY_WEIGHT = "nginx.ingress.kubernetes.io/canary-weight"
PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"


def _canary_ingress(weight) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "api-canary", "annotations": {CANARY: "true", CANARY_WEIGHT: weight}},
        "spec": {"rules": [{"host": "agents.example.com"}]},
    }


@resource_rule(
    "canary-weight-in-range",
    "An ingress-nginx canary's weight is a whole percent, 0 to 100.",
    "high",
    "Set nginx.ingress.kubernetes.io/canary-weight to an integer from 0 to 100 (services[].rollout.canary.weight).",
    (INGRESS,),
    Example(_canary_ingress("10"), _canary_ingress("150")),
    tags=("releases",),
)
def canary_weight_in_range(props, config):
    annotations = (props.get("metadata") or {}).get("annotations") or {}
    if str(annotations.get(CANARY, "")).lower() != "true":
        return
    weight = annotations.get(CANARY_WEIGHT)
    # ingress-nginx reads it with strconv.Atoi; anything else is ignored and sends the canary nothing.
    if weight is None or not str(weight).isdigit() or not 0 <= int(weight) <= 100:
        yield f"canary-weight {weight!r}: must be an integer from 0 to 100"


def _rule(alerts: int) -> Resource:
    return Resource.of(
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PrometheusRule",
            "metadata": {"name": "agents"},
            "spec": {"groups": [{"name": "g", "rules": [{"alert": f"A{i}", "expr": "1"} for i in range(alerts)]}]},
        },
        PROMETHEUS_RULE,
    )


@stack_rule(
    "alert-rules-present",
    "Where the stack's policy config requires it (prod), a PrometheusRule holds at least `minAlerts` alerts.",
    "high",
    "Turn on monitoring.enabled and monitoring.prometheusRule in the stack file.",
    Example([_rule(5)], [_rule(0)], config={"required": True, "minAlerts": 5}),
    config={"required": {"type": "boolean", "default": False}, "minAlerts": {"type": "integer", "default": 5}},
    tags=("operations",),
)
def alert_rules_present(resources, config):
    if not config["required"]:
        return
    alerts = [
        r.get("alert")
        for res in resources
        if res.type == PROMETHEUS_RULE
        for group in (res.props.get("spec") or {}).get("groups") or []
        for r in group.get("rules") or []
        if r.get("alert")
    ]
    if len(alerts) < config["minAlerts"]:
        yield (
            f"{len(alerts)} alert rule(s) in the stack, want >= {config['minAlerts']} (error rate, latency, memory, DB "
            "pool, crash loops)",
            "stack",
        )
