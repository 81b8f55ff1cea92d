"""The instances' PodMonitor and the durability alerts."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from agent_platform.k8s import monitoring, pod
from agent_platform.k8s.cloudnativepg.backups import PLUGIN_LAST_BACKUP
from agent_platform.k8s.cloudnativepg.names import CLUSTER_LABEL, POD_ROLE_LABEL, RESTORE_DRILL

core = k8s.core.v1
meta = k8s.meta.v1
net = k8s.networking.v1
rbac = k8s.rbac.v1
batch = k8s.batch.v1


def pod_monitor(name: str, cluster: str, meta_: pod.Metadata, opts: pulumi.ResourceOptions):
    """Scrape the instances' exporter (port `metrics`, 9187): the way the 1.30 docs recommend, since
    `spec.monitoring.enablePodMonitor` is deprecated."""
    return k8s.apiextensions.CustomResource(
        name,
        api_version="monitoring.coreos.com/v1",
        kind="PodMonitor",
        metadata=meta_(name),
        spec={
            "selector": {"matchLabels": {CLUSTER_LABEL: cluster, POD_ROLE_LABEL: "instance"}},
            "podMetricsEndpoints": [{"port": "metrics", "interval": "30s"}],
        },
        opts=opts,
    )


def alert_rules(
    name: str, namespace: str, cluster: str, max_age_hours: int, meta_: pod.Metadata, opts: pulumi.ResourceOptions
):
    """Alerts on the durability promise, by the CloudNativePG exporter's metric names (docs/src/monitoring.md,
    docs/src/samples/monitoring/prometheusrule.yaml), kubelet volume stats and kube-state-metrics."""
    sel = f'namespace="{namespace}",pod=~"{cluster}-[0-9]+"'
    claims = f'namespace="{namespace}",persistentvolumeclaim=~"{cluster}-[0-9]+.*"'
    rules = [
        (
            "PostgresWalArchiveFailing",
            "5m",
            "critical",
            f"increase(cnpg_pg_stat_archiver_failed_count{{{sel}}}[10m]) > 0 and "
            f"(cnpg_pg_stat_archiver_last_failed_time{{{sel}}} "
            f"- cnpg_pg_stat_archiver_last_archived_time{{{sel}}}) > 0",
            "WAL archiving fails on {{ $labels.pod }}: commits since the last archived segment are not in the object "
            "store",
        ),
        (
            "PostgresBackupTooOld",
            "15m",
            "critical",
            # The Barman Cloud plugin's own metric (plugin-barman-cloud v0.14.0
            # internal/cnpgi/instance/metrics.go: the plugin name sanitised as the prefix; 0 until a
            # backup exists, so a cluster never backed up alerts too); the instance manager exports it
            # under that name (cloudnative-pg internal/cnpi/plugin/client/metrics.go). The core
            # cnpg_collector_last_available_backup_timestamp is deprecated (pg_collector.go, v1.30.0).
            f"time() - max({PLUGIN_LAST_BACKUP}{{{sel}}}) > {max_age_hours * 3600}",
            f"The last completed base backup of {cluster} is older than {max_age_hours} hours",
        ),
        (
            "PostgresReplicationLag",
            "5m",
            "warning",
            f"max by (pod) (cnpg_pg_replication_lag{{{sel}}}) > 300",
            "Standby {{ $labels.pod }} lags the primary by more than 5 minutes",
        ),
        (
            "PostgresVolumeFilling",
            "10m",
            "warning",
            f"100 * kubelet_volume_stats_used_bytes{{{claims}}} / kubelet_volume_stats_capacity_bytes{{{claims}}} > 80",
            "Volume {{ $labels.persistentvolumeclaim }} is more than 80% full",
        ),
        (
            "PostgresRestoreDrillFailed",
            "0m",
            "critical",
            f'kube_job_status_failed{{namespace="{namespace}",job_name=~"{RESTORE_DRILL}-.*"}} > 0',
            "The scheduled restore drill failed: the latest backup may not restore; see the Job's logs",
        ),
    ]
    return monitoring.prometheus_rule(name, "postgres-durability", rules, meta_, opts)
