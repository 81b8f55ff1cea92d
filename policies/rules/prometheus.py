"""Prometheus Operator objects: monitors that scrape only this stack's targets, alerts that can fire.

Sources: the Prometheus Operator API reference (prometheus-operator.dev/docs/api-reference/api/):
ServiceMonitor/PodMonitor spec.namespaceSelector (`any: true` selects every namespace, `matchNames`
a list; unset means the monitor's own namespace), spec.selector (an empty selector matches every
Service or Pod), endpoints / podMetricsEndpoints (each a named port); a PrometheusRule's alerting
rule has `alert` and `expr`, and `for` keeps a single bad scrape from paging.
"""

from __future__ import annotations

from .base import Example, resource_rule
from .k8s import POD_MONITOR, PROMETHEUS_RULE, SERVICE_MONITOR, namespace_of, with_change

MONITOR = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "ServiceMonitor",
    "metadata": {"name": "agent-platform", "namespace": "agents"},
    "spec": {
        "namespaceSelector": {"matchNames": ["agents"]},
        "selector": {"matchLabels": {"app.kubernetes.io/part-of": "agent-platform"}},
        "endpoints": [{"port": "metrics", "path": "/metrics", "interval": "30s"}],
    },
}
RULES = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "PrometheusRule",
    "metadata": {"name": "agent-platform", "namespace": "agents"},
    "spec": {
        "groups": [
            {
                "name": "agent-platform",
                "rules": [
                    {
                        "alert": "AgentApiErrors",
                        "expr": 'sum(rate(http_requests_total{code=~"5.."}[5m])) > 1',
                        "for": "10m",
                        "labels": {"severity": "critical"},
                    }
                ],
            }
        ]
    },
}


@resource_rule(
    "monitor-scoped-to-its-namespace",
    "A ServiceMonitor or PodMonitor selects targets in its own namespace only (no namespaceSelector.any, no other "
    "matchNames), by a non-empty label selector, on named ports (Prometheus Operator API: NamespaceSelector, "
    "ServiceMonitorSpec, PodMonitorSpec).",
    "medium",
    "Set namespaceSelector.matchNames to the stack's namespace, selector.matchLabels to the service's labels, "
    "and each endpoint's port to the Service's metrics port name.",
    (SERVICE_MONITOR, POD_MONITOR),
    Example(MONITOR, with_change(MONITOR, "spec.namespaceSelector", {"any": True})),
    tags=("operations",),
)
def monitor_scoped_to_its_namespace(props, config):
    spec, ns = props.get("spec") or {}, namespace_of(props)
    chooser = spec.get("namespaceSelector") or {}
    if chooser.get("any"):
        yield "namespaceSelector.any: scrapes matching targets in every namespace"
    others = [n for n in chooser.get("matchNames") or [] if n != ns]
    if others:
        yield f"namespaceSelector.matchNames reaches other namespaces: {others}"
    selector = spec.get("selector") or {}
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        yield "empty selector: matches every Service or Pod in the selected namespaces"
    field = "podMetricsEndpoints" if props.get("kind") == "PodMonitor" else "endpoints"
    endpoints = spec.get(field) or []
    if not endpoints:
        yield f"no {field}"
    for i, endpoint in enumerate(endpoints):
        if not endpoint.get("port") and not endpoint.get("portNumber"):
            yield f"{field}[{i}] names no port"


@resource_rule(
    "alert-rules-well-formed",
    "Every alerting rule of a PrometheusRule has an expr, a `for` duration and a severity label (Prometheus "
    "alerting rules; the Prometheus Operator's PrometheusRule API).",
    "medium",
    "Give each alert an expr, a for (e.g. 5m) and labels.severity (warning or critical).",
    (PROMETHEUS_RULE,),
    Example(RULES, with_change(RULES, "spec.groups.0.rules.0.labels", {})),
    tags=("operations",),
)
def alert_rules_well_formed(props, config):
    for group in (props.get("spec") or {}).get("groups") or []:
        for rule in group.get("rules") or []:
            if not rule.get("alert"):
                continue  # a recording rule
            where = f"group {group.get('name')} alert {rule.get('alert')}"
            if not str(rule.get("expr") or "").strip():
                yield f"{where}: no expr"
            if not rule.get("for"):
                yield f"{where}: no `for`: a single bad scrape pages"
            if not (rule.get("labels") or {}).get("severity"):
                yield f"{where}: no labels.severity"
