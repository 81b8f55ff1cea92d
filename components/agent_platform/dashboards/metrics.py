"""The metric names each exporter publishes, as far as the dashboards read them, each list with the
source it was read from. tests/components/dashboards checks that every panel's query names only
these: a dashboard that asks for a name no exporter publishes shows an empty panel forever."""

from __future__ import annotations

import re

from agent_platform.k8s.cloudnativepg.backups import PLUGIN_LAST_BACKUP

# The agent service: the app contract (docs/operations.md "Observability"; examples/agent-app/app.py
# publishes each, tests/examples/test_agent_app_metrics.py scrapes it). The first four are what the
# alert rules read (k8s/monitoring.py); the stream, queue and worker gauges were added to the contract
# with the dashboards: a service that has no queue (an API) publishes the stream metrics and no
# queue or worker gauge, whose panels then show "No data".
APP = frozenset(
    {
        "agent_http_requests_total",
        "agent_http_request_duration_seconds_bucket",
        "agent_http_request_duration_seconds_sum",
        "agent_http_request_duration_seconds_count",
        "agent_db_connections_in_use",
        "agent_db_pool_size",
        "agent_streams_in_flight",
        "agent_stream_first_event_seconds_bucket",
        "agent_stream_first_event_seconds_sum",
        "agent_stream_first_event_seconds_count",
        "agent_runs_pending",
        "agent_workers",
        "agent_workers_busy",
    }
)

# cAdvisor (the kubelet's /metrics/cadvisor; google/cadvisor metrics/prometheus.go: the
# container_cpu_usage_seconds_total counter and the container_memory_working_set_bytes gauge), as the
# AgentMemoryNearLimit alert reads the latter (k8s/monitoring.py).
CADVISOR = frozenset({"container_cpu_usage_seconds_total", "container_memory_working_set_bytes"})

# kube-state-metrics (docs/metrics/workload/pod-metrics.md and job-metrics.md), as the alert rules read them
# (k8s/monitoring.py AgentMemoryNearLimit, AgentCrashLooping; k8s/cloudnativepg/monitoring.py
# PostgresRestoreDrillFailed).
KUBE_STATE_METRICS = frozenset(
    {"kube_pod_container_resource_limits", "kube_pod_container_status_restarts_total", "kube_job_status_failed"}
)

# The kubelet's volume statistics (PostgresVolumeFilling, k8s/cloudnativepg/monitoring.py).
KUBELET = frozenset({"kubelet_volume_stats_used_bytes", "kubelet_volume_stats_capacity_bytes"})

# CloudNativePG's instance exporter (port 9187), cloudnative-pg
# pkg/management/postgres/webserver/metricserver/pg_collector.go: namespace "cnpg", subsystem
# "collector" (up, pg_wal_archive_status{value=ready|done}, last_failed_backup_timestamp,
# first_recoverability_point); and the default queries (config/manager/default-monitoring.yaml:
# pg_stat_archiver.*, pg_replication.lag and .streaming_replicas, each prefixed "cnpg_").
CNPG = frozenset(
    {
        "cnpg_collector_up",
        "cnpg_collector_pg_wal_archive_status",
        "cnpg_collector_last_failed_backup_timestamp",
        "cnpg_collector_first_recoverability_point",
        "cnpg_pg_stat_archiver_archived_count",
        "cnpg_pg_stat_archiver_failed_count",
        "cnpg_pg_stat_archiver_seconds_since_last_archival",
        "cnpg_pg_stat_archiver_last_archived_time",
        "cnpg_pg_stat_archiver_last_failed_time",
        "cnpg_pg_replication_lag",
        "cnpg_pg_replication_streaming_replicas",
    }
)
# The Barman Cloud plugin's last backup (k8s/cloudnativepg/backups.py PLUGIN_LAST_BACKUP, cited there:
# plugin-barman-cloud internal/cnpgi/instance/metrics.go).
BARMAN_CLOUD = frozenset({PLUGIN_LAST_BACKUP})

# CloudNativePG's PgBouncer exporter (Pooler pods, port 9127): cloudnative-pg
# pkg/management/pgbouncer/metricsserver/pools.go NewShowPoolsMetrics, namespace "cnpg", subsystem
# "pgbouncer_pools" (SHOW POOLS columns).
PGBOUNCER = frozenset(
    {
        "cnpg_pgbouncer_pools_cl_active",
        "cnpg_pgbouncer_pools_cl_waiting",
        "cnpg_pgbouncer_pools_sv_active",
        "cnpg_pgbouncer_pools_sv_idle",
        "cnpg_pgbouncer_pools_maxwait",
    }
)

# oliver006/redis_exporter exporter/exporter.go (metricMapGauges "used_memory" -> memory_used_bytes,
# "maxmemory" -> memory_max_bytes; metricMapCounters "evicted_keys" -> evicted_keys_total;
# "connected_clients"), under the exporter's default namespace "redis"; read at v1.45.0, Debian
# bookworm's prometheus-redis-exporter, which the Docker host runs (docker/monitoring.py), where the
# same file also registers "up" (line 404, set in line 474: 1 when the last scrape reached Redis).
# On Kubernetes no shipped stack runs it yet (policies/rules/operations.py).
REDIS_EXPORTER = frozenset(
    {
        "redis_up",
        "redis_memory_used_bytes",
        "redis_memory_max_bytes",
        "redis_evicted_keys_total",
        "redis_connected_clients",
    }
)

# prometheus-community/postgres_exporter v0.11.1 (Debian bookworm's prometheus-postgres-exporter),
# which the Docker host runs: cmd/postgres_exporter/postgres_exporter.go, namespace "pg": "up"
# (line 581: 1 when the last scrape reached Postgres); builtinMetricMaps (line 165 on), each column
# named <view>_<column> (line 343): pg_stat_archiver (archived_count, failed_count, and
# last_archive_age computed by the query of queries.go line 121), pg_stat_activity's count; and
# pg_setting.go, each numeric setting as pg_settings_<name> (subsystem "settings").
POSTGRES_EXPORTER = frozenset(
    {
        "pg_up",
        "pg_stat_archiver_archived_count",
        "pg_stat_archiver_failed_count",
        "pg_stat_archiver_last_archive_age",
        "pg_stat_activity_count",
        "pg_settings_max_connections",
    }
)

# The postgres_exporter query the Docker host adds (docker/monitoring.py PGBACKREST_QUERIES, named
# <query>_<column> as above): the stop time of the newest base backup pgBackRest's backup.info lists.
PGBACKREST = frozenset({"pgbackrest_last_backup_stop_time_seconds"})

# Prometheus' own series for every target (prometheus scrape/scrape.go scrapeHealthMetricName "up": 1
# when the target's last scrape succeeded), which the Docker host's availability alerts read.
PROMETHEUS = frozenset({"up"})

KNOWN: dict[str, frozenset[str]] = {
    "app contract": APP,
    "cAdvisor": CADVISOR,
    "kube-state-metrics": KUBE_STATE_METRICS,
    "kubelet": KUBELET,
    "CloudNativePG instance": CNPG,
    "Barman Cloud plugin": BARMAN_CLOUD,
    "CloudNativePG PgBouncer": PGBOUNCER,
    "redis_exporter": REDIS_EXPORTER,
    "postgres_exporter": POSTGRES_EXPORTER,
    "pgBackRest (postgres_exporter query)": PGBACKREST,
    "Prometheus": PROMETHEUS,
}
ALL_KNOWN = frozenset().union(*KNOWN.values())

# PromQL's functions, aggregations and keywords (prometheus promql/parser/functions.go, lex.go), of
# those the dashboards use or may: every other bare identifier in a query is a metric name.
PROMQL_WORDS = frozenset(
    {
        "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values",
        "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset",
        "rate", "irate", "increase", "delta", "idelta", "deriv", "histogram_quantile", "time", "abs", "clamp_min",
        "clamp_max", "max_over_time", "min_over_time", "avg_over_time", "sum_over_time", "absent", "vector",
        "scalar", "label_replace", "round", "ceil", "floor", "sort", "sort_desc", "timestamp", "changes", "resets",
    }
)  # fmt: skip
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_RANGE = re.compile(r"\[[^\]]*\]")
_IDENT = re.compile(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: what is left of its identifiers once strings,
    label matchers, grouping labels, ranges, numbers and PromQL's own words are taken out."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _GROUPING.sub("", text)
    text = _RANGE.sub("", text)
    return {name for name in _IDENT.findall(text) if name not in PROMQL_WORDS and not name.isdigit()}
