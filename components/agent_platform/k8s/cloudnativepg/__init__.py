"""Postgres as a CloudNativePG `Cluster`: failover, a synchronous quorum, WAL archived to an object store.

Objects (API versions as vendored in preview/crds/cloudnative-pg/, CloudNativePG 1.30.0 and the
Barman Cloud plugin 0.14.0):

- `Cluster` (postgresql.cnpg.io/v1): `instances` spread across zones, a quorum of synchronous
  standbys (`spec.postgresql.synchronous`, method any), updates by switchover, the app's owner
  role and database from our own basic-auth Secret (bootstrap initdb, or recovery when
  `restore.enabled`), WAL archived by the Barman Cloud plugin (`spec.plugins`, isWALArchiver).
- `ObjectStore` (barmancloud.cnpg.io/v1): where and how, with the retention policy.
- `ScheduledBackup` (method plugin): base backups on `backup.schedule` (six cron fields).
- `Pooler` (PgBouncer, type rw): the app's stable endpoint `<cluster>-pooler-rw`.
- NetworkPolicies: the operator, the instances and the pooler reach what they must, nothing else.
- the restore drill (`restore_drill`): a CronJob that restores the latest backup into a
  throwaway Cluster, runs `check_sql` against it and deletes it.

The operator and the plugin are cluster prerequisites (docs/backups-kubernetes.md). pulumi-kubernetes
diffs a custom resource's spec as an update: only `.metadata.name` and `.metadata.namespace` force a
replacement (provider/pkg/provider/provider.go, forceNewFields; diff.go's forceNew table lists
built-in groups only), so a routine change never replaces the Cluster; it is protected and kept on
delete like the StatefulSet.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from agent_platform.k8s.cloudnativepg.backups import major_upgrade_backup, scheduled_backup_spec
from agent_platform.k8s.cloudnativepg.cluster import cluster_spec
from agent_platform.k8s.cloudnativepg.monitoring import alert_rules, pod_monitor
from agent_platform.k8s.cloudnativepg.names import (
    BARMAN,
    BARMAN_CLOUD_PLUGIN,
    CNPG,
    HIBERNATION,
    MAJOR_UPGRADE_FROM,
    ORIGINAL,
    PostgresOwner,
    cluster_name,
    clusters,
    name_of_store,
    pooler_name,
    retired,
    serving_labels,
)
from agent_platform.k8s.cloudnativepg.network_policies import network_policies
from agent_platform.k8s.cloudnativepg.object_store import object_store_spec
from agent_platform.k8s.cloudnativepg.pooler import pooler_spec
from agent_platform.k8s.cloudnativepg.restore_drill import restore_drill

__all__ = [
    "BARMAN_CLOUD_PLUGIN",
    "PostgresOwner",
    "alert_rules",
    "build",
    "cluster_name",
    "pod_monitor",
    "serving_labels",
]


def build(
    store: PostgresOwner, child: pulumi.ResourceOptions, keep: pulumi.ResourceOptions, metrics_namespace: str
) -> str:
    """Every CloudNativePG object of the store; returns the host clients connect to."""
    c = store.config
    name = cluster_name(c)
    data = pulumi.ResourceOptions.merge(child, keep)
    after_secret = pulumi.ResourceOptions.merge(data, pulumi.ResourceOptions(depends_on=[store.app_secret]))
    if c.backup.enabled:
        object_store = k8s.apiextensions.CustomResource(
            name_of_store(c),
            api_version=BARMAN,
            kind="ObjectStore",
            metadata=store.meta(name_of_store(c)),
            spec=object_store_spec(c),
            opts=data,
        )
        after_secret = pulumi.ResourceOptions.merge(after_secret, pulumi.ResourceOptions(depends_on=[object_store]))
    for cluster in clusters(c):
        _cluster(store, cluster, after_secret, child)
    if c.network_policy.enabled:
        # Named for the original: they select every instance and pooler of the namespace, whichever serves.
        network_policies(store, ORIGINAL, metrics_namespace, child)
    if c.backup.enabled and c.restore_drill.enabled:
        restore_drill(store, name, child)
    return pooler_name(c) if c.pooler.enabled else f"{name}-rw"


def _cluster(
    store: PostgresOwner, name: str, after_secret: pulumi.ResourceOptions, child: pulumi.ResourceOptions
) -> None:
    """One Cluster with its scheduled backups and Pooler: the original (hibernated, with neither, once
    retired) or the restored one, recovering the original's archive."""
    c = store.config
    labels = {k: v for k, v in store.labels.items() if k != "app.kubernetes.io/name"}
    annotations: dict[str, str] = {}
    if c.major_upgrade_from is not None and name == cluster_name(c):
        # The operator upgrades a major in place, offline (pg_upgrade): there is no way back but a
        # restore, so the old major is backed up first and the Cluster's update waits for it.
        before = major_upgrade_backup(store, name, c.major_upgrade_from)
        after_secret = pulumi.ResourceOptions.merge(after_secret, pulumi.ResourceOptions(depends_on=[before]))
        annotations[MAJOR_UPGRADE_FROM] = str(c.major_upgrade_from)
    if retired(c, name):
        annotations[HIBERNATION] = "on"
    restored = name != ORIGINAL
    cluster = k8s.apiextensions.CustomResource(
        name,
        api_version=CNPG,
        kind="Cluster",
        metadata=store.meta(name, annotations or None),
        spec=cluster_spec(
            c,
            name,
            store.app_secret_name,
            labels,
            store.pull_secrets,
            recover_from=ORIGINAL if restored else None,
            target_time=c.restore.target_time if restored else None,
        ),
        opts=after_secret,
    )
    if retired(c, name):
        return
    in_order = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[cluster]))
    if c.backup.enabled:
        k8s.apiextensions.CustomResource(
            f"{name}-scheduled",
            api_version=CNPG,
            kind="ScheduledBackup",
            metadata=store.meta(f"{name}-scheduled"),
            spec=scheduled_backup_spec(c, name),
            opts=in_order,
        )
    if c.pooler.enabled:
        host = pooler_name(c, name)
        k8s.apiextensions.CustomResource(
            host,
            api_version=CNPG,
            kind="Pooler",
            metadata=store.meta(host),
            spec=pooler_spec(c, name, labels),
            opts=in_order,
        )
