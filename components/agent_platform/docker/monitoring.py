"""Monitoring on the Docker host (`monitoring.enabled`): what Prometheus scrapes and the alert rules.

Prometheus scrapes each replica's metrics port (the app contract's `METRICS_PORT`), postgres_exporter
and redis_exporter over the internal backend network, and evaluates the rules below: the Docker
equivalents of the Kubernetes alerts (k8s/monitoring.py, k8s/cloudnativepg/monitoring.py), on the
metrics the Docker exporters publish (dashboards/metrics.py). A host has no kube-state-metrics, cAdvisor
or CloudNativePG, so the memory and crash-loop alerts become `up` (a replica that does not answer its
scrape), and the backup age is read from pgBackRest's own record of its backups.

Pure functions of the settings: platform.py makes the containers, preview/render.py writes the same
files beside the compose file.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from agent_platform.docker import backup
from agent_platform.settings.stack import StackConfig

PROMETHEUS_PORT = 9090  # prom/prometheus' default --web.listen-address
POSTGRES_EXPORTER_PORT = 9187  # postgres_exporter's default (cmd/postgres_exporter/main.go line 34)
REDIS_EXPORTER_PORT = 9121  # redis_exporter's default (main.go line 69)
CONFIG_DIR = "/etc/prometheus"
CONFIG_PATH = f"{CONFIG_DIR}/prometheus.yml"
RULES_PATH = f"{CONFIG_DIR}/rules.yml"
DATA_PATH = "/prometheus"
QUERIES_DIR = "/etc/postgres_exporter"
QUERIES_PATH = f"{QUERIES_DIR}/queries.yaml"
# The upstream images' user (prom/prometheus and postgres-exporter: `USER nobody`); any non-root works.
NOBODY = "65534:65534"

# The newest completed base backup, from the file pgBackRest records its backups in: the repository's
# backup/<stanza>/backup.info, an INI file whose [backup:current] section has one line per completed
# backup, `<label>={..."backup-timestamp-stop":1796667408,...}` (as pgBackRest 2.45 writes it in the
# e2e's repository), the record `pgbackrest info` (the scheduler's health check, docker/backup.py)
# prints. Postgres has the repository mounted (its archive_command pushes WAL there), so it reads the
# file itself; no file (no stanza, every backup gone) reads as no backup: 0, which ages past any
# limit. pg_read_file's missing_ok needs the offset and length in Postgres 15; 16 MiB holds thousands
# of backups' lines (the newest is the last).
BACKUP_INFO = f"{backup.REPO_PATH}/backup/{backup.STANZA}/backup.info"
PGBACKREST_QUERIES = {
    "pgbackrest": {
        "query": "SELECT coalesce(max(r.m[1]::bigint), 0) AS last_backup_stop_time_seconds "
        f"FROM regexp_matches(coalesce(pg_read_file('{BACKUP_INFO}', 0, 16777216, true), ''), "
        "'\"backup-timestamp-stop\":([0-9]+)', 'g') AS r(m)",
        "master": True,
        "metrics": [
            {
                "last_backup_stop_time_seconds": {
                    "usage": "GAUGE",
                    "description": "Stop time (Unix seconds) of the newest completed base backup in the pgBackRest "
                    "repository; 0 when it has none.",
                }
            }
        ],
    }
}


@dataclass(frozen=True)
class Rule:
    """One alert: `query` compared by `condition` (kept apart so the e2e can ask Prometheus for the
    query alone and see it has series), for how long, how bad, what it says, and its panel."""

    alert: str
    for_seconds: int
    severity: str
    query: str
    condition: str
    summary: str

    @property
    def expr(self) -> str:
        return f"{self.query} {self.condition}"


def alert_rules(config: StackConfig) -> list[Rule]:
    """The Docker host's alerts; each names a panel of dashboards.docker_dashboards."""
    a = config.monitoring.alerts
    rules = [
        Rule(
            "AgentHighErrorRate",
            300,
            "critical",
            '100 * sum by (service) (rate(agent_http_requests_total{status=~"5.."}[5m])) '
            "/ sum by (service) (rate(agent_http_requests_total[5m]))",
            f"> {a.error_rate_percent}",
            f"More than {a.error_rate_percent}% of requests to {{{{ $labels.service }}}} fail",
        ),
        Rule(
            "AgentHighLatencyP95",
            600,
            "warning",
            "histogram_quantile(0.95, sum by (service, le) (rate(agent_http_request_duration_seconds_bucket[5m])))",
            f"> {a.p95_latency_seconds}",
            f"p95 latency of {{{{ $labels.service }}}} above {a.p95_latency_seconds}s",
        ),
        Rule(
            "AgentDbPoolExhausted",
            a.db_pool_exhausted_minutes * 60,
            "critical",
            "min by (pod) (agent_db_pool_size - agent_db_connections_in_use)",
            "<= 0",
            f"{{{{ $labels.pod }}}} has had no free database connection for {a.db_pool_exhausted_minutes} minutes",
        ),
        Rule(
            "AgentReplicaDown",
            120,
            "critical",
            'min by (service, pod) (up{service!=""})',
            "== 0",
            "{{ $labels.pod }} does not answer on its metrics port: stopped, crashed, restarting or hung",
        ),
    ]
    if config.postgres.mode == "inCluster":
        rules.append(
            Rule("PostgresDown", 120, "critical", "min(pg_up)", "== 0", "postgres_exporter cannot reach Postgres")
        )
        if config.postgres.backup.enabled:
            hours = config.postgres.backup.max_age_hours
            rules.append(
                Rule(
                    "PostgresWalArchiveFailing",
                    300,
                    "critical",
                    "sum(increase(pg_stat_archiver_failed_count[10m]))",
                    "> 0",
                    "WAL segments fail to reach the pgBackRest repository: the commits since are not backed up",
                )
            )
            rules.append(
                Rule(
                    "PostgresBackupTooOld",
                    900,
                    "warning",
                    "time() - max(pgbackrest_last_backup_stop_time_seconds)",
                    f"> {hours * 3600}",
                    f"The newest base backup in the pgBackRest repository is older than {hours} hours (or none)",
                )
            )
    if config.redis.mode == "inCluster":
        rules.append(Rule("RedisDown", 120, "critical", "min(redis_up)", "== 0", "redis_exporter cannot reach Redis"))
    return rules


def _duration(seconds: int) -> str:
    return f"{seconds // 60}m" if seconds % 60 == 0 and seconds else f"{seconds}s"


def rules_file(config: StackConfig) -> str:
    """The Prometheus rule file (rule_files), one group; `docker.monitoring.alertForSeconds` replaces
    every alert's own `for` when set (a test stack)."""
    override = config.docker_settings().monitoring.alert_for_seconds
    group = {
        "name": "agent-platform",
        "rules": [
            {
                "alert": r.alert,
                "expr": r.expr,
                "for": _duration(r.for_seconds if override is None else override),
                "labels": {"severity": r.severity},
                "annotations": {"summary": r.summary},
            }
            for r in alert_rules(config)
        ],
    }
    return "# Generated by agent-platform: the Docker host's alert rules. Do not edit.\n" + yaml.safe_dump(
        {"groups": [group]}, sort_keys=False, width=200
    )


def scrape_targets(config: StackConfig) -> list[tuple[str, str, dict[str, str]]]:
    """(job, host:port, labels) of everything Prometheus scrapes: each replica of each service (labelled
    with its service and replica, as a ServiceMonitor labels service and pod), and the exporters."""
    targets = [
        (s.name, f"{s.name}-{i}:{config.monitoring.port}", {"service": s.name, "pod": f"{s.name}-{i}"})
        for s in config.services
        for i in range(1, s.replicas + 1)
    ]
    if config.postgres.mode == "inCluster":
        targets.append(("postgres", f"postgres-exporter:{POSTGRES_EXPORTER_PORT}", {}))
    if config.redis.mode == "inCluster":
        targets.append(("redis", f"redis-exporter:{REDIS_EXPORTER_PORT}", {}))
    return targets


def prometheus_config(config: StackConfig) -> str:
    """prometheus.yml: the intervals, the rule file and one job per service and exporter."""
    m = config.docker_settings().monitoring
    jobs: dict[str, list[dict]] = {}
    for job, target, labels in scrape_targets(config):
        jobs.setdefault(job, []).append({"targets": [target], **({"labels": labels} if labels else {})})
    document = {
        "global": {
            "scrape_interval": f"{m.scrape_interval_seconds}s",
            # At most the interval (Prometheus refuses more), at least 5 s (the interval's lower bound):
            # longer than the exporters' own connect timeout (STORE_CONNECT_TIMEOUT_SECONDS).
            "scrape_timeout": f"{min(10, m.scrape_interval_seconds)}s",
            "evaluation_interval": f"{m.evaluation_interval_seconds}s",
            "external_labels": {"environment": config.environment},
        },
        "rule_files": [RULES_PATH],
        "scrape_configs": [
            {
                "job_name": job,
                "metrics_path": config.monitoring.path if job not in ("postgres", "redis") else "/metrics",
                "static_configs": static,
            }
            for job, static in jobs.items()
        ],
    }
    return "# Generated by agent-platform: Prometheus on the Docker host. Do not edit.\n" + yaml.safe_dump(
        document, sort_keys=False
    )


def postgres_exporter_queries(config: StackConfig) -> str:
    """postgres_exporter's --extend.query-path file: the pgBackRest backup age, with backups on
    (postgres.backup.enabled); none without them."""
    return yaml.safe_dump(PGBACKREST_QUERIES if config.postgres.backup.enabled else {}, sort_keys=False, width=200)


def healthcheck(port: int, path: str = "/") -> list[str]:
    """wget (busybox's in the upstream images, GNU's in the e2e ones) fetching a local page."""
    return ["CMD", "wget", "-qO", "/dev/null", f"http://127.0.0.1:{port}{path}"]


def prometheus_command(config: StackConfig) -> list[str]:
    m = config.docker_settings().monitoring
    return [
        "/bin/prometheus",
        f"--config.file={CONFIG_PATH}",
        f"--storage.tsdb.path={DATA_PATH}",
        f"--storage.tsdb.retention.time={m.retention_days}d",
        f"--web.listen-address=:{PROMETHEUS_PORT}",
    ]


def postgres_exporter_command() -> list[str]:
    return [
        "/bin/postgres_exporter",
        f"--extend.query-path={QUERIES_PATH}",
        f"--web.listen-address=:{POSTGRES_EXPORTER_PORT}",
    ]


# How long an exporter waits for its store: shorter than any scrape timeout, so a store that is down
# reads as redis_up / pg_up 0 rather than a failed scrape and no series (found by the e2e: with a
# stopped Redis container the name lookup hangs on the internal network, and redis_exporter's default
# 15 s outlasted the 5 s scrape timeout, so RedisDown never fired).
STORE_CONNECT_TIMEOUT_SECONDS = 2


def redis_exporter_command() -> list[str]:
    return [
        "/redis_exporter",
        f"--web.listen-address=:{REDIS_EXPORTER_PORT}",
        f"--connection-timeout={STORE_CONNECT_TIMEOUT_SECONDS}s",  # main.go line 73
    ]


def files(config: StackConfig) -> dict[str, str]:
    """The generated files by their path under prometheus/ in the preview's output."""
    out = {"prometheus/prometheus.yml": prometheus_config(config), "prometheus/rules.yml": rules_file(config)}
    if config.postgres.mode == "inCluster":
        out["prometheus/postgres-exporter-queries.yaml"] = postgres_exporter_queries(config)
    return out
