"""The two Grafana dashboards, as code (grafana-foundation-sdk's builders, Grafana 11.6 schema): the
agent services and the data stores. Pure functions of the stack's settings; each panel says which
question it answers and which alert points at it (docs/observability.md lists both).

Every query names only metrics of agent_platform.dashboards.metrics (tests/components/dashboards)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from grafana_foundation_sdk.builders import dashboard, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef

from agent_platform.k8s.cloudnativepg.backups import PLUGIN_LAST_BACKUP
from agent_platform.k8s.cloudnativepg.names import RESTORE_DRILL

DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
AGENTS_UID = "agent-platform-agents"
STORES_UID = "agent-platform-stores"


@dataclass(frozen=True)
class Panel:
    """One panel: its title, what it answers (the panel's description), its queries (PromQL,
    legend), its unit, and the alert that points at it, if any."""

    title: str
    answers: str
    queries: tuple[tuple[str, str], ...]
    unit: str = "short"
    alert: str | None = None
    kind: str = "timeseries"


def _traffic_panels(ns: str) -> list[Panel]:
    """Requests, errors, latency."""
    sel = f"{ns}," if ns else ""
    req = f"agent_http_requests_total{{{ns}}}"
    by_service = "sum by (service)"
    return [
        Panel(
            "Requests per second",
            "How much traffic each service takes, by response status class.",
            (
                (
                    f'{by_service} (rate(agent_http_requests_total{{{sel}status=~"[1-4].."}}[5m]))',
                    "{{service}} ok",
                ),
                (f'{by_service} (rate(agent_http_requests_total{{{sel}status=~"5.."}}[5m]))', "{{service}} 5xx"),
            ),
            "reqps",
        ),
        Panel(
            "Error rate (5xx)",
            "Which share of requests fail on the server side.",
            (
                (
                    f'100 * {by_service} (rate(agent_http_requests_total{{{sel}status=~"5.."}}[5m])) '
                    f"/ {by_service} (rate({req}[5m]))",
                    "{{service}}",
                ),
            ),
            "percent",
            "AgentHighErrorRate",
        ),
        Panel(
            "Request duration p95",
            "How long requests take, streams included (the p95 the latency alert reads).",
            (
                (
                    "histogram_quantile(0.95, sum by (service, le) "
                    f"(rate(agent_http_request_duration_seconds_bucket{{{ns}}}[5m])))",
                    "{{service}} p95",
                ),
            ),
            "s",
            "AgentHighLatencyP95",
        ),
    ]


def _run_panels(ns: str) -> list[Panel]:
    """Streams, the run queue and its workers."""
    by_service = "sum by (service)"
    return [
        Panel(
            "Streams in flight",
            "How many streamed runs are open now (each holds a connection until its last event).",
            ((f"{by_service} (agent_streams_in_flight{{{ns}}})", "{{service}}"),),
        ),
        Panel(
            "Time to first event",
            "How long a caller waits for a stream's first event (the model's first token or step), p50 and p95.",
            tuple(
                (
                    f"histogram_quantile({q}, sum by (service, le) "
                    f"(rate(agent_stream_first_event_seconds_bucket{{{ns}}}[5m])))",
                    f"{{{{service}}}} p{int(q * 100)}",
                )
                for q in (0.5, 0.95)
            ),
            "s",
        ),
        Panel(
            "Run queue depth",
            "How many runs wait for a worker (services that take runs from a queue).",
            ((f"{by_service} (agent_runs_pending{{{ns}}})", "{{service}}"),),
        ),
        Panel(
            "Workers busy",
            "Which share of each service's workers is running a run: near 100% means the queue grows.",
            (
                (
                    f"100 * {by_service} (agent_workers_busy{{{ns}}}) / {by_service} (agent_workers{{{ns}}})",
                    "{{service}}",
                ),
            ),
            "percent",
        ),
    ]


def _saturation_panels(ns: str) -> list[Panel]:
    """The database pool, CPU, memory and restarts."""
    sel = f"{ns}," if ns else ""
    return [
        Panel(
            "Database pool in use",
            "How full each pod's database pool is: at 100% requests wait for a connection.",
            (
                (
                    f"100 * max by (pod) (agent_db_connections_in_use{{{ns}}}) "
                    f"/ max by (pod) (agent_db_pool_size{{{ns}}})",
                    "{{pod}}",
                ),
            ),
            "percent",
            "AgentDbPoolExhausted",
        ),
        Panel(
            "CPU against the limit",
            "How close each pod is to its CPU limit (throttled above it).",
            (
                (
                    f'100 * sum by (pod) (rate(container_cpu_usage_seconds_total{{{sel}container!=""}}[5m])) '
                    f'/ sum by (pod) (kube_pod_container_resource_limits{{{sel}resource="cpu"}})',
                    "{{pod}}",
                ),
            ),
            "percent",
        ),
        Panel(
            "Memory against the limit",
            "How close each container is to its memory limit (OOM-killed at it).",
            (
                (
                    f'100 * max by (pod, container) (container_memory_working_set_bytes{{{sel}container!=""}}) '
                    f'/ max by (pod, container) (kube_pod_container_resource_limits{{{sel}resource="memory"}})',
                    "{{pod}}/{{container}}",
                ),
            ),
            "percent",
            "AgentMemoryNearLimit",
        ),
        Panel(
            "Restarts (15 minutes)",
            "Which containers restart: a crash loop, an OOM kill or a failing probe.",
            (
                (
                    f"increase(kube_pod_container_status_restarts_total{{{ns}}}[15m])",
                    "{{pod}}/{{container}}",
                ),
            ),
            "short",
            "AgentCrashLooping",
        ),
    ]


def agent_panels(ns: str) -> list[Panel]:
    """The agent services' panels; `ns` is the label matcher of the stack's namespace (none on Docker)."""
    return _traffic_panels(ns) + _run_panels(ns) + _saturation_panels(ns)


def _archive_panels(ns: str, cluster: str) -> list[Panel]:
    """CloudNativePG's durability: WAL archiving and the last base backup."""
    sel = f"{ns}," if ns else ""
    pg = f'{sel}pod=~"{cluster}-[0-9]+"'
    return [
        Panel(
            "WAL archiving",
            "Does every WAL segment reach the object store: failures, and segments waiting to be archived.",
            (
                (f"increase(cnpg_pg_stat_archiver_failed_count{{{pg}}}[10m])", "{{pod}} failed"),
                (f'cnpg_collector_pg_wal_archive_status{{{pg},value="ready"}}', "{{pod}} waiting"),
            ),
            "short",
            "PostgresWalArchiveFailing",
        ),
        Panel(
            "Seconds since the last archived WAL",
            "How much committed work the object store lacks should the volume be lost now.",
            ((f"cnpg_pg_stat_archiver_seconds_since_last_archival{{{pg}}}", "{{pod}}"),),
            "s",
            "PostgresWalArchiveFailing",
        ),
        Panel(
            "Age of the last base backup",
            "How old the newest completed base backup is (a restore replays WAL from it).",
            (
                (
                    f"time() - max({PLUGIN_LAST_BACKUP}{{{pg}}})",
                    "last backup",
                ),
            ),
            "s",
            "PostgresBackupTooOld",
            kind="stat",
        ),
    ]


def _serving_panels(ns: str, cluster: str) -> list[Panel]:
    """CloudNativePG's serving: standbys, instances, the pooler, volumes, the restore drill."""
    sel = f"{ns}," if ns else ""
    pg = f'{sel}pod=~"{cluster}-[0-9]+"'
    claims = f'{sel}persistentvolumeclaim=~"{cluster}-[0-9]+.*"'
    return [
        Panel(
            "Replication lag",
            "How far each standby is behind the primary (a failover to it loses nothing in sync mode).",
            (
                (f"max by (pod) (cnpg_pg_replication_lag{{{pg}}})", "{{pod}}"),
                (f"max(cnpg_pg_replication_streaming_replicas{{{pg}}})", "streaming standbys"),
            ),
            "s",
            "PostgresReplicationLag",
        ),
        Panel(
            "Instances up",
            "Which instances answer their exporter (1 up, 0 down).",
            ((f"cnpg_collector_up{{{pg}}}", "{{pod}}"),),
        ),
        Panel(
            "Pooler (PgBouncer)",
            "Are clients waiting for a server connection: active and waiting clients, server connections.",
            (
                (f"sum(cnpg_pgbouncer_pools_cl_active{{{ns}}})", "clients active"),
                (f"sum(cnpg_pgbouncer_pools_cl_waiting{{{ns}}})", "clients waiting"),
                (f"sum(cnpg_pgbouncer_pools_sv_active{{{ns}}})", "server connections active"),
                (f"max(cnpg_pgbouncer_pools_maxwait{{{ns}}})", "longest wait (s)"),
            ),
        ),
        Panel(
            "Volume used",
            "How full each instance's volume is (WAL piles up there when archiving fails).",
            (
                (
                    f"100 * kubelet_volume_stats_used_bytes{{{claims}}} "
                    f"/ kubelet_volume_stats_capacity_bytes{{{claims}}}",
                    "{{persistentvolumeclaim}}",
                ),
            ),
            "percent",
            "PostgresVolumeFilling",
        ),
        Panel(
            "Restore drill",
            "Did the latest scheduled restore drill fail (the backups may not restore).",
            ((f'max(kube_job_status_failed{{{sel}job_name=~"{RESTORE_DRILL}-.*"}})', "failed"),),
            "short",
            "PostgresRestoreDrillFailed",
            kind="stat",
        ),
    ]


def _redis_panels(ns: str) -> list[Panel]:
    """Redis' memory and evictions."""
    return [
        Panel(
            "Redis memory against maxmemory",
            "How close Redis is to maxmemory, where it evicts (or refuses writes, for a run queue).",
            (
                (
                    f"100 * max(redis_memory_used_bytes{{{ns}}}) / max(redis_memory_max_bytes{{{ns}}})",
                    "used of maxmemory",
                ),
            ),
            "percent",
        ),
        Panel(
            "Redis evictions",
            "Is Redis evicting keys (cached values, or stream-resumption data) to stay under maxmemory.",
            ((f"sum(rate(redis_evicted_keys_total{{{ns}}}[5m]))", "evicted keys/s"),),
            "short",
        ),
    ]


def store_panels(ns: str, cluster: str | None) -> list[Panel]:
    """The data stores' panels: CloudNativePG's (when `cluster` is its Cluster) and Redis'."""
    postgres = _archive_panels(ns, cluster) + _serving_panels(ns, cluster) if cluster is not None else []
    return postgres + _redis_panels(ns)


# --- The Docker host (docker/monitoring.py): no kubelet, cAdvisor, kube-state-metrics or CloudNativePG
# there, so its variant keeps the panels of the app contract and of the exporters it runs, and
# replaces the others with what its Prometheus has: `up` for availability, postgres_exporter's
# pg_stat_archiver and the pgBackRest query for durability. Every panel it renders has data.


def docker_agent_panels(holds_queues: bool) -> list[Panel]:
    """The agent services on a Docker host; the queue panels only where Redis holds run queues (a
    service without a queue publishes no queue gauge, and its panel would stay empty)."""
    runs = _run_panels("")
    db_pool = _saturation_panels("")[0]
    up = Panel(
        "Replicas up",
        "Which replicas answer Prometheus' scrape of their metrics port (1 up, 0 down or unreachable).",
        (('min by (service, pod) (up{service!=""})', "{{pod}}"),),
        "short",
        "AgentReplicaDown",
    )
    return _traffic_panels("") + runs[:2] + (runs[2:] if holds_queues else []) + [db_pool, up]


def docker_postgres_panels(backups: bool) -> list[Panel]:
    """Postgres on a Docker host: postgres_exporter, and pgBackRest's WAL archiving and base backups
    when `backups` (postgres.backup.enabled: without it nothing is archived nor backed up)."""
    up = Panel(
        "Postgres up",
        "Does postgres_exporter reach Postgres (1 yes, 0 no).",
        (("min(pg_up)", "postgres"),),
        "short",
        "PostgresDown",
    )
    connections = Panel(
        "Connections against max_connections",
        "How many of Postgres' connections are taken: at max_connections new ones are refused.",
        (("100 * sum(pg_stat_activity_count) / max(pg_settings_max_connections)", "used"),),
        "percent",
    )
    return [up, *(_docker_backup_panels() if backups else []), connections]


def _docker_backup_panels() -> list[Panel]:
    return [
        Panel(
            "WAL archiving",
            "Does every WAL segment reach the pgBackRest repository: archived and failed segments.",
            (
                ("sum(increase(pg_stat_archiver_archived_count[10m]))", "archived"),
                ("sum(increase(pg_stat_archiver_failed_count[10m]))", "failed"),
            ),
            "short",
            "PostgresWalArchiveFailing",
        ),
        Panel(
            "Seconds since the last archived WAL",
            "How much committed work the repository lacks should the data volume be lost now.",
            (("max(pg_stat_archiver_last_archive_age)", "seconds"),),
            "s",
            "PostgresWalArchiveFailing",
        ),
        Panel(
            "Age of the last base backup",
            "How old the newest completed base backup in the pgBackRest repository is (a restore replays WAL from it).",
            (("time() - max(pgbackrest_last_backup_stop_time_seconds)", "last backup"),),
            "s",
            "PostgresBackupTooOld",
            kind="stat",
        ),
    ]


def docker_redis_panels() -> list[Panel]:
    """Redis on a Docker host: the shared panels and whether the exporter reaches it."""
    up = Panel(
        "Redis up",
        "Does redis_exporter reach Redis (1 yes, 0 no).",
        (("min(redis_up)", "redis"),),
        "short",
        "RedisDown",
    )
    return [up, *_redis_panels("")]


def docker_dashboards(
    environment: str, postgres: bool, redis: bool, holds_queues: bool, backups: bool = True
) -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON model of a Docker host: the agent services' and the data stores'
    (the in-stack ones: `postgres` with its `backups`, `redis`)."""
    tags = ["agent-platform", environment]
    stores = (docker_postgres_panels(backups) if postgres else []) + (docker_redis_panels() if redis else [])
    return {
        "agent-services.json": _dashboard(
            f"Agent services ({environment})", f"{AGENTS_UID}-{environment}", tags, docker_agent_panels(holds_queues)
        ),
        "data-stores.json": _dashboard(f"Data stores ({environment})", f"{STORES_UID}-{environment}", tags, stores),
    }


def _panel(p: Panel) -> Any:
    builder = timeseries.Panel() if p.kind == "timeseries" else stat.Panel()
    description = p.answers + (f" Alert: {p.alert}." if p.alert else "")
    builder = builder.title(p.title).description(description).unit(p.unit).datasource(DATASOURCE).span(12)
    builder = builder.height(8)
    for i, (expr, legend) in enumerate(p.queries):
        builder = builder.with_target(
            prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(chr(ord("A") + i)).range()
        )
    return builder


def _dashboard(title: str, uid: str, tags: list[str], panels: list[Panel]) -> dict[str, Any]:
    d = (
        dashboard.Dashboard(title)
        .uid(uid)
        .tags(tags)
        .readonly()
        .time("now-6h", "now")
        .refresh("1m")
        .with_variable(dashboard.DatasourceVariable("datasource").label("Data source").type("prometheus"))
    )
    for p in panels:
        d = d.with_panel(_panel(p))
    # The SDK's models serialise through its encoder; a plain dict keeps the key order stable.
    return json.loads(json.dumps(d.build(), cls=JSONEncoder, sort_keys=True))


def namespace_matcher(namespace: str | None) -> str:
    return f'namespace="{namespace}"' if namespace else ""


def dashboards(environment: str, namespace: str | None, cluster: str | None) -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON model: the agent services' and the data stores'."""
    ns = namespace_matcher(namespace)
    tags = ["agent-platform", environment]
    return {
        "agent-services.json": _dashboard(
            f"Agent services ({environment})", f"{AGENTS_UID}-{environment}", tags, agent_panels(ns)
        ),
        "data-stores.json": _dashboard(
            f"Data stores ({environment})", f"{STORES_UID}-{environment}", tags, store_panels(ns, cluster)
        ),
    }


def as_text(model: dict[str, Any]) -> str:
    """A dashboard as the file Grafana reads: JSON, keys sorted, one trailing newline."""
    return json.dumps(model, indent=2, sort_keys=True) + "\n"


def queries(model: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query of a dashboard model."""
    return [(p.get("title", ""), t["expr"]) for p in model.get("panels", []) for t in p.get("targets", [])]


# Where a Grafana container mounts grafana/dashboards/ (the provider's path below).
DASHBOARDS_PATH = "/var/lib/grafana/dashboards/agent-platform"


def provisioning(folder: str) -> str:
    """Grafana's dashboard provider file (provisioning/dashboards/*.yaml: apiVersion 1, a `file`
    provider reading the JSON under options.path; https://grafana.com/docs/grafana/latest/administration/
    provisioning/#dashboards), read-only in the UI: the files are the source."""
    return (
        "# Grafana dashboard provisioning (generated by agent-platform): mount grafana/dashboards/ at\n"
        f"# {DASHBOARDS_PATH} and this file under /etc/grafana/provisioning/dashboards/.\n"
        "apiVersion: 1\n"
        "providers:\n"
        "  - name: agent-platform\n"
        "    orgId: 1\n"
        f"    folder: {json.dumps(folder)}\n"
        "    type: file\n"
        "    disableDeletion: true\n"
        "    allowUiUpdates: false\n"
        "    updateIntervalSeconds: 60\n"
        "    options:\n"
        f"      path: {DASHBOARDS_PATH}\n"
    )
