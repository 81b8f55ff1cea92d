"""Prometheus Operator objects for the agent services: a ServiceMonitor and the alert rules.

The five alerts follow the LangGraph deployment notes (error rate, p95 latency, memory against
the limit, an exhausted database pool, crash looping), written against the metrics the app
contract names (docs/operations.md "Observability": agent_http_requests_total{status},
agent_http_request_duration_seconds, agent_db_connections_in_use / agent_db_pool_size) and
kube-state-metrics / cAdvisor series for the last two.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from agent_platform import dashboards
from agent_platform.k8s import pod
from agent_platform.labels import PART_OF, SCRAPED
from agent_platform.settings.cluster import Dashboards, Monitoring

METRICS = "metrics"


def service_monitor(
    name: str, namespace: str, meta: pod.Metadata, m: Monitoring, opts: pulumi.ResourceOptions
) -> k8s.apiextensions.CustomResource:
    return k8s.apiextensions.CustomResource(
        name,
        api_version="monitoring.coreos.com/v1",
        kind="ServiceMonitor",
        metadata=meta(name),
        spec={
            # Only the Services that carry the metrics port, one per pod (labels.SCRAPED).
            "selector": {
                "matchLabels": {
                    "app.kubernetes.io/part-of": PART_OF,
                    "app.kubernetes.io/component": "agent-api",
                    SCRAPED: "true",
                }
            },
            "namespaceSelector": {"matchNames": [namespace]},
            "endpoints": [{"port": METRICS, "path": m.path, "interval": "30s", "scrapeTimeout": "10s"}],
        },
        opts=opts,
    )


def alert_rules(
    name: str, namespace: str, meta: pod.Metadata, m: Monitoring, opts: pulumi.ResourceOptions
) -> k8s.apiextensions.CustomResource:
    a, ns = m.alerts, f'namespace="{namespace}"'
    rules = [
        (
            "AgentHighErrorRate",
            "5m",
            "critical",
            f'100 * sum by (service) (rate(agent_http_requests_total{{{ns},status=~"5.."}}[5m])) '
            f"/ sum by (service) (rate(agent_http_requests_total{{{ns}}}[5m])) > {a.error_rate_percent}",
            f"More than {a.error_rate_percent}% of requests to {{{{ $labels.service }}}} fail",
        ),
        (
            "AgentHighLatencyP95",
            "10m",
            "warning",
            "histogram_quantile(0.95, sum by (service, le) "
            f"(rate(agent_http_request_duration_seconds_bucket{{{ns}}}[5m]))) "
            f"> {a.p95_latency_seconds}",
            f"p95 latency of {{{{ $labels.service }}}} above {a.p95_latency_seconds}s",
        ),
        (
            "AgentMemoryNearLimit",
            "10m",
            "warning",
            f'100 * max by (pod, container) (container_memory_working_set_bytes{{{ns},container!=""}}) '
            f'/ max by (pod, container) (kube_pod_container_resource_limits{{{ns},resource="memory"}}) > '
            f"{a.memory_percent_of_limit}",
            f"{{{{ $labels.pod }}}} uses more than {a.memory_percent_of_limit}% of its memory limit",
        ),
        (
            "AgentDbPoolExhausted",
            f"{a.db_pool_exhausted_minutes}m",
            "critical",
            f"min by (pod) (agent_db_pool_size{{{ns}}} - agent_db_connections_in_use{{{ns}}}) <= 0",
            f"{{{{ $labels.pod }}}} has had no free database connection for {a.db_pool_exhausted_minutes} minutes",
        ),
        (
            "AgentCrashLooping",
            "0m",
            "critical",
            f"increase(kube_pod_container_status_restarts_total{{{ns}}}[15m]) >= {a.crash_loop_restarts}",
            f"{{{{ $labels.pod }}}} restarted {a.crash_loop_restarts} or more times in 15 minutes",
        ),
    ]
    return prometheus_rule(name, "agent-platform", rules, meta, opts)


def prometheus_rule(
    name: str,
    group: str,
    rules: list[tuple[str, str, str, str, str]],
    meta: pod.Metadata,
    opts: pulumi.ResourceOptions,
) -> k8s.apiextensions.CustomResource:
    """A PrometheusRule (monitoring.coreos.com/v1) of one group: each rule (alert, for, severity, expr,
    summary)."""
    return k8s.apiextensions.CustomResource(
        name,
        api_version="monitoring.coreos.com/v1",
        kind="PrometheusRule",
        metadata=meta(name),
        spec={
            "groups": [
                {
                    "name": group,
                    "rules": [
                        {
                            "alert": alert,
                            "expr": expr,
                            "for": for_,
                            "labels": {"severity": severity},
                            "annotations": {"summary": summary},
                        }
                        for alert, for_, severity, expr, summary in rules
                    ],
                }
            ]
        },
        opts=opts,
    )


def dashboard_config_maps(
    name: str,
    environment: str,
    namespace: str,
    cluster: str | None,
    meta: pod.Metadata,
    d: Dashboards,
    opts: pulumi.ResourceOptions,
) -> list[k8s.core.v1.ConfigMap]:
    """One ConfigMap per dashboard, labelled for the Grafana sidecar and annotated with its folder."""
    labelled = pod.Metadata(meta.namespace, {**meta.labels, d.label: d.label_value}, meta.annotations)
    made = []
    for file, model in dashboards.dashboards(environment, namespace, cluster).items():
        key = f"{name}-dashboard-{file.removesuffix('.json')}"
        made.append(
            k8s.core.v1.ConfigMap(
                key,
                metadata=labelled(key, {d.folder_annotation: d.folder}),
                data={file: dashboards.as_text(model)},
                opts=opts,
            )
        )
    return made
