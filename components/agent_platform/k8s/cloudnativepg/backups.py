"""Backups: the ScheduledBackup's schedule, and the on-demand Backup before a major upgrade."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from agent_platform.k8s import pod
from agent_platform.k8s.cloudnativepg.names import BARMAN_CLOUD_PLUGIN, CNPG, PostgresOwner
from agent_platform.settings.stores import PostgresConfig

core = k8s.core.v1
meta = k8s.meta.v1
net = k8s.networking.v1
rbac = k8s.rbac.v1
batch = k8s.batch.v1


def scheduled_backup_spec(c: PostgresConfig, cluster: str) -> dict[str, Any]:
    """Base backups of `cluster` on `backup.schedule` through the Barman Cloud plugin, from a standby."""
    return {
        "cluster": {"name": cluster},
        "schedule": scheduled_backup_cron(c.backup.schedule),
        "method": "plugin",
        "pluginConfiguration": {"name": BARMAN_CLOUD_PLUGIN},
        "backupOwnerReference": "self",
        "immediate": True,  # the first base backup right away, not at the next 02:00
        "target": "prefer-standby",
    }


def scheduled_backup_cron(five_fields: str) -> str:
    """ScheduledBackup's schedule has six fields, seconds first (robfig/cron with seconds)."""
    return f"0 {five_fields}"


PLUGIN_LAST_BACKUP = "barman_cloud_cloudnative_pg_io_last_available_backup_timestamp"


MAJOR_UPGRADE_BACKUP_TIMEOUT_SECONDS = 3600


def major_upgrade_backup(store: PostgresOwner, cluster: str, old_major: int) -> k8s.apiextensions.CustomResource:
    """An on-demand Backup of the Cluster while it still runs `old_major`, awaited by `pulumi up`
    (`pulumi.com/waitFor`, as the pre-migration Backup) before the Cluster's image changes; kept on
    delete (the backup itself lives in the object store, pruned by the retention policy)."""
    name = f"{cluster}-before-major-upgrade-from-{old_major}"
    return k8s.apiextensions.CustomResource(
        name,
        api_version=CNPG,
        kind="Backup",
        metadata=store.meta(
            name,
            {
                "pulumi.com/waitFor": "jsonpath={.status.phase}=completed",
                pod.TIMEOUT_SECONDS: str(MAJOR_UPGRADE_BACKUP_TIMEOUT_SECONDS),
            },
        ),
        spec={
            "cluster": {"name": cluster},
            "method": "plugin",
            "pluginConfiguration": {"name": BARMAN_CLOUD_PLUGIN},
            # The primary: a standby's backup may trail the last commits of the old major.
            "target": "primary",
        },
        opts=pulumi.ResourceOptions(parent=store.parent, retain_on_delete=True, depends_on=[store.app_secret]),
    )
