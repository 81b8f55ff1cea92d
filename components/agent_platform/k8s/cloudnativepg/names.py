"""CloudNativePG's API groups, the labels and ports the platform relies on, and the names of what it makes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from agent_platform import operators
from agent_platform.k8s import pod
from agent_platform.settings.pod import Resources
from agent_platform.settings.stores import PostgresConfig

core = k8s.core.v1
meta = k8s.meta.v1
net = k8s.networking.v1
rbac = k8s.rbac.v1
batch = k8s.batch.v1


CNPG = "postgresql.cnpg.io/v1"


BARMAN = "barmancloud.cnpg.io/v1"


BARMAN_CLOUD_PLUGIN = "barman-cloud.cloudnative-pg.io"


CLUSTER_LABEL = operators.CNPG_CLUSTER_LABEL


POD_ROLE_LABEL = operators.CNPG_POD_ROLE_LABEL  # instance | pooler


METRICS_PORT = 9187


STATUS_PORT = 8000  # the instance manager's status endpoint, which the operator calls


RESTORE_DRILL = "restore-drill"


# PgBouncer's exporter in a Pooler pod (cloudnative-pg v1.30.0 pkg/management/url/url.go PgBouncerMetricsPort).
POOLER_METRICS_PORT = 9127


# On the Cluster while a major upgrade is under way: the preview reads it to tell the deliberate
# upgrade (postgres.majorUpgradeFrom) from an accidental major change of the image.
MAJOR_UPGRADE_FROM = "agent-platform.io/major-upgrade-from"


@dataclass(frozen=True)
class PostgresOwner:
    """What the CloudNativePG objects take from the Postgres component: its settings, metadata and
    labels, its owner-role Secret, its clients' label, who scales on it, and where they hang."""

    config: PostgresConfig
    meta: pod.Metadata
    labels: dict[str, str]
    app_secret: pulumi.Resource
    app_secret_name: str
    client_label: str
    pull_secrets: list[str]
    scaler_namespace: str
    namespace: str
    parent: pulumi.Resource


def name_of_store(c: PostgresConfig) -> str:
    """The ObjectStore's name: one per stack (a restored cluster archives there under its own serverName)."""
    return "postgres-backups"


ORIGINAL = "postgres"
# On a Cluster that is hibernated (cloudnative-pg v1.30.0 pkg/utils/labels_annotations.go:225
# HibernationAnnotationName, :376 value "on"): the operator deletes its pods and keeps its PVCs.
HIBERNATION = "cnpg.io/hibernation"


# The restored cluster, recovering the original's archive (serverName `postgres`), which it then
# archives under its own name.
RESTORED = f"{ORIGINAL}-restored"


def clusters(c: PostgresConfig) -> list[str]:
    """Every Cluster the stack declares: the original, and the restored one beside it while restoring."""
    return [ORIGINAL, RESTORED] if c.restore.enabled else [ORIGINAL]


def retired(c: PostgresConfig, cluster: str) -> bool:
    """The original, hibernated once the agents moved to the restored cluster (restore.retireOriginal)."""
    return cluster == ORIGINAL and c.restore.retire_original


def pooler_name(c: PostgresConfig, cluster: str | None = None) -> str:
    """A cluster's Pooler, and so its Service: `<cluster>-pooler-rw` (the serving cluster's by default)."""
    return f"{cluster or cluster_name(c)}-pooler-rw"


def serving_labels(c: PostgresConfig) -> dict[str, str]:
    """The labels that select the pods behind the clients' host, as the operator guarantees them: the
    Pooler's pods by `cnpg.io/poolerName`, else every instance of the Cluster (operators.py)."""
    if c.pooler.enabled:
        return operators.cnpg_pooler_selector(pooler_name(c))
    return operators.cnpg_instance_selector(cluster_name(c))


def cluster_name(c: PostgresConfig) -> str:
    """The cluster the agents use: the original, or the restored one once restore.serve switches them."""
    return RESTORED if c.restore.enabled and c.restore.serve else ORIGINAL


def resource_amounts(r: Resources) -> dict[str, Any]:
    return {"requests": r.requests.model_dump(), "limits": r.limits.model_dump()}
