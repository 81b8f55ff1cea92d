"""Durable Postgres on Kubernetes (CloudNativePG): every commit archived, backups kept and scheduled,
enough instances to fail over, a fresh backup before each schema migration.

The objects are the operator's custom resources (postgresql.cnpg.io/v1 Cluster, Backup,
ScheduledBackup; barmancloud.cnpg.io/v1 ObjectStore). tests/policies/test_sdk_memo.py runs every
failing example again with an engine unknown and a secret added: the verdict does not change.
"""

from __future__ import annotations

from .base import Example, Resource, resource_rule, stack_rule
from .k8s import name_of

CLUSTER = "kubernetes:postgresql.cnpg.io/v1:Cluster"
BACKUP = "kubernetes:postgresql.cnpg.io/v1:Backup"
SCHEDULED_BACKUP = "kubernetes:postgresql.cnpg.io/v1:ScheduledBackup"
POOLER = "kubernetes:postgresql.cnpg.io/v1:Pooler"
OBJECT_STORE = "kubernetes:barmancloud.cnpg.io/v1:ObjectStore"
JOB = "kubernetes:batch/v1:Job"
BARMAN_CLOUD_PLUGIN = "barman-cloud.cloudnative-pg.io"
WAIT_FOR = "pulumi.com/waitFor"
NAME_LABEL = "app.kubernetes.io/name"


def _cluster(instances: int = 3, plugins: list | None = None, namespace=None) -> dict:
    archiver = [{"name": BARMAN_CLOUD_PLUGIN, "isWALArchiver": True, "parameters": {"barmanObjectName": "store"}}]
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": "postgres", "namespace": namespace if namespace is not None else "agents"},
        "spec": {
            "instances": instances,
            "storage": {"size": "10Gi"},
            "plugins": archiver if plugins is None else plugins,
        },
    }


def _object_store(retention: str | None = "30d", namespace=None) -> dict:
    spec: dict = {"configuration": {"destinationPath": "s3://bucket/postgres"}}
    if retention is not None:
        spec["retentionPolicy"] = retention
    return {
        "apiVersion": "barmancloud.cnpg.io/v1",
        "kind": "ObjectStore",
        "metadata": {"name": "store", "namespace": namespace if namespace is not None else "agents"},
        "spec": spec,
    }


def _archives(spec) -> bool:
    plugins = spec.get("plugins") or []
    if any(p.get("isWALArchiver") for p in plugins):
        return True
    # The in-core Barman Cloud support (deprecated since 1.26) archives through spec.backup.
    return bool(((spec.get("backup") or {}).get("barmanObjectStore") or {}).get("destinationPath"))


@resource_rule(
    "postgres-wal-archived",
    "Every CloudNativePG Cluster archives its WAL to an object store (a plugin with isWALArchiver, or "
    "spec.backup.barmanObjectStore).",
    "critical",
    "Set postgres.backup (enabled, store objectStore, objectStore.destinationPath and credentials) in the stack file.",
    (CLUSTER,),
    Example(_cluster(), _cluster(plugins=[])),
    tags=("data", "durability"),
)
def postgres_wal_archived(props, config):
    if not _archives(props.get("spec") or {}):
        yield f"Cluster {name_of(props)} archives no WAL: commits since the last base backup cannot be recovered"


@resource_rule(
    "postgres-backup-retention",
    "Backups have a retention policy: an ObjectStore's spec.retentionPolicy (or a Cluster's "
    "spec.backup.retentionPolicy) is set.",
    "high",
    "Set postgres.backup.retentionDays in the stack file.",
    (OBJECT_STORE, CLUSTER),
    Example(_object_store(), _object_store(retention=None)),
    tags=("data", "durability"),
)
def postgres_backup_retention(props, config):
    spec = props.get("spec") or {}
    if props.get("kind") == "ObjectStore":
        if not spec.get("retentionPolicy"):
            yield f"ObjectStore {name_of(props)} has no retentionPolicy: backups pile up or are pruned by hand"
    elif (spec.get("backup") or {}).get("barmanObjectStore") and not (spec.get("backup") or {}).get("retentionPolicy"):
        yield f"Cluster {name_of(props)}: spec.backup has no retentionPolicy"


@resource_rule(
    "postgres-instances",
    "A CloudNativePG Cluster runs at least `minInstances` instances (prod: 3, a primary and two standbys to fail over "
    "to).",
    "high",
    "Set postgres.instances to at least the minimum in the stack file.",
    (CLUSTER,),
    Example(_cluster(3), _cluster(1), config={"minInstances": 3}),
    config={"minInstances": {"type": "integer", "default": 1}},
    tags=("data", "availability", "durability"),
)
def postgres_instances(props, config):
    instances = (props.get("spec") or {}).get("instances", 1)
    if instances < config["minInstances"]:
        yield f"Cluster {name_of(props)} runs {instances} instance(s), want >= {config['minInstances']}"


def _migration_job(namespace=None) -> dict:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "api-migrate-1a2b3c4d", "namespace": namespace if namespace is not None else "agents"},
        "spec": {"template": {"metadata": {"labels": {NAME_LABEL: "api-migrate"}}, "spec": {"containers": []}}},
    }


def _backup(job: str = "api-migrate-1a2b3c4d", awaited: bool = True) -> dict:
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Backup",
        "metadata": {
            "name": f"{job}-backup",
            "namespace": "agents",
            "annotations": {WAIT_FOR: "jsonpath={.status.phase}=completed"} if awaited else {},
        },
        "spec": {"cluster": {"name": "postgres"}, "method": "plugin"},
    }


def _migration_stack(backup: bool = True, awaited: bool = True, namespace=None) -> list[Resource]:
    resources = [Resource.of(_cluster(), CLUSTER), Resource.of(_migration_job(namespace), JOB)]
    if backup:
        resources.append(Resource.of(_backup(awaited=awaited), BACKUP))
    return resources


def _is_migration(job) -> bool:
    labels = (((job.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
    return str(labels.get(NAME_LABEL, "")).endswith("-migrate")


@stack_rule(
    "backup-before-migration",
    "Where a CloudNativePG Cluster holds the data, each migration Job has an on-demand Backup named after it that "
    "`pulumi up` awaits (pulumi.com/waitFor).",
    "high",
    "Keep postgres.backup.beforeMigration true (the default) with mode cloudnativepg.",
    Example(_migration_stack(), _migration_stack(awaited=False)),
    tags=("data", "durability"),
    reads=(CLUSTER, JOB, BACKUP),
)
def backup_before_migration(resources, config):
    if not any(r.type == CLUSTER for r in resources):
        return
    awaited = {
        name_of(r.props)
        for r in resources
        if r.type == BACKUP and str(((r.props.get("metadata") or {}).get("annotations") or {}).get(WAIT_FOR, ""))
    }
    for r in resources:
        if r.type == JOB and _is_migration(r.props) and f"{name_of(r.props)}-backup" not in awaited:
            yield (
                f"migration Job {name_of(r.props)} runs with no awaited Backup {name_of(r.props)}-backup before it",
                r.urn,
            )


def _scheduled(cluster: str = "postgres") -> dict:
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "ScheduledBackup",
        "metadata": {"name": f"{cluster}-scheduled"},
        "spec": {"cluster": {"name": cluster}, "schedule": "0 0 2 * * *", "method": "plugin"},
    }


@stack_rule(
    "scheduled-backup-present",
    "Every CloudNativePG Cluster has a ScheduledBackup: base backups bound how much WAL a restore replays.",
    "high",
    "Keep postgres.backup.enabled with a schedule in the stack file.",
    Example(
        [Resource.of(_cluster(), CLUSTER), Resource.of(_scheduled(), SCHEDULED_BACKUP)],
        [
            Resource.of(_cluster(), CLUSTER),
            Resource.of(_scheduled("other"), SCHEDULED_BACKUP),
        ],
    ),
    tags=("data", "durability"),
    reads=(CLUSTER, SCHEDULED_BACKUP),
)
def scheduled_backup_present(resources, config):
    scheduled = {
        ((r.props.get("spec") or {}).get("cluster") or {}).get("name") for r in resources if r.type == SCHEDULED_BACKUP
    }
    for r in resources:
        if r.type == CLUSTER and name_of(r.props) not in scheduled:
            yield f"Cluster {name_of(r.props)} has no ScheduledBackup", r.urn


@stack_rule(
    "postgres-cluster-protected",
    "CloudNativePG Clusters and their ObjectStores are protected from `pulumi destroy` and replacement, like a "
    "data-bearing StatefulSet.",
    "high",
    "Set `postgres.protect: true` (the default) in the stack file.",
    Example(
        [Resource(CLUSTER, "postgres", "urn:cluster", _cluster(), protect=True)],
        [Resource(CLUSTER, "postgres", "urn:cluster", _cluster(), protect=False)],
    ),
    tags=("data", "durability"),
    reads=(CLUSTER, OBJECT_STORE),
)
def postgres_cluster_protected(resources, config):
    for r in resources:
        if r.type in (CLUSTER, OBJECT_STORE) and not r.protect:
            yield f"{r.props.get('kind')} {name_of(r.props)} holds or keeps data but is not protected", r.urn


def _pooler(instances: int = 2, cluster: str = "postgres", namespace=None) -> dict:
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Pooler",
        "metadata": {"name": f"{cluster}-pooler-rw", "namespace": namespace if namespace is not None else "agents"},
        "spec": {
            "cluster": {"name": cluster},
            "instances": instances,
            "type": "rw",
            "pgbouncer": {"poolMode": "session"},
        },
    }


@resource_rule(
    "pooler-instances",
    "A CloudNativePG Pooler runs at least `minInstances` PgBouncer pods (2 by default): every connection of every "
    "service goes through it, so one pod is a single point of failure for all of them.",
    "high",
    "Set postgres.pooler.instances to at least the minimum in the stack file.",
    (POOLER,),
    Example(_pooler(2), _pooler(1)),
    config={"minInstances": {"type": "integer", "default": 2}},
    tags=("data", "availability", "durability"),
)
def pooler_instances(props, config):
    # An unset spec.instances defaults to 1 (the Pooler CRD, preview/crds/cloudnative-pg, v1.30.0).
    instances = (props.get("spec") or {}).get("instances", 1)
    if instances < config["minInstances"]:
        yield f"Pooler {name_of(props)} runs {instances} instance(s), want >= {config['minInstances']}"


def _namespace_of(props) -> str:
    return str((props.get("metadata") or {}).get("namespace") or "")


@stack_rule(
    "postgres-objects-name-a-cluster",
    "Every CloudNativePG Backup, ScheduledBackup and Pooler names (spec.cluster.name) a Cluster of the stack in its "
    "own namespace: the operator accepts a dangling name, and the backup then never runs or the pooler has no backend.",
    "high",
    "Let the platform render these objects from postgres settings; a hand-written one must name the Cluster.",
    Example(
        [Resource.of(_cluster(), CLUSTER), Resource.of(_pooler(), POOLER), Resource.of(_backup(), BACKUP)],
        [Resource.of(_cluster(), CLUSTER), Resource.of(_pooler(cluster="postgress"), POOLER)],
    ),
    tags=("data", "durability"),
    reads=(CLUSTER, BACKUP, SCHEDULED_BACKUP, POOLER),
)
def postgres_objects_name_a_cluster(resources, config):
    clusters = {(_namespace_of(r.props), name_of(r.props)) for r in resources if r.type == CLUSTER}
    for r in resources:
        if r.type not in (BACKUP, SCHEDULED_BACKUP, POOLER):
            continue
        target = ((r.props.get("spec") or {}).get("cluster") or {}).get("name")
        if (_namespace_of(r.props), target) not in clusters:
            yield (
                f"{r.props.get('kind')} {name_of(r.props)} names Cluster {target!r}, which the stack does not render "
                f"in namespace {_namespace_of(r.props) or '(none)'!r}",
                r.urn,
            )
