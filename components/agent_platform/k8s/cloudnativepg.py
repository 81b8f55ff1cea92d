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

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from agent_platform import operators
from agent_platform.k8s import monitoring, pod
from agent_platform.labels import selector_labels
from agent_platform.settings.pod import Resources
from agent_platform.settings.stores import BARMAN_SIDECAR_RESOURCES, DRILL_RESOURCES, POOLER_RESOURCES, PostgresConfig
from agent_platform.store_runtime import POSTGRES_PORT

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


def scheduled_backup_cron(five_fields: str) -> str:
    """ScheduledBackup's schedule has six fields, seconds first (robfig/cron with seconds)."""
    return f"0 {five_fields}"


def _object_store_spec(c: PostgresConfig) -> dict[str, Any]:
    store = c.backup.object_store
    assert store is not None  # PostgresConfig requires it in mode cloudnativepg with backups
    configuration: dict[str, Any] = {"destinationPath": store.destination_path}
    if store.endpoint_url:
        configuration["endpointURL"] = store.endpoint_url
    creds = store.credentials
    scheme = store.destination_path.split("://", 1)[0]
    if scheme == "s3":
        configuration["s3Credentials"] = (
            {"inheritFromIAMRole": True}
            if creds.workload_identity
            else {
                "accessKeyId": {"name": creds.secret_name, "key": "ACCESS_KEY_ID"},
                "secretAccessKey": {"name": creds.secret_name, "key": "ACCESS_SECRET_KEY"},
            }
        )
    elif scheme == "gs":
        configuration["googleCredentials"] = (
            {"gkeEnvironment": True}
            if creds.workload_identity
            else {"applicationCredentials": {"name": creds.secret_name, "key": "APPLICATION_CREDENTIALS"}}
        )
    else:
        configuration["azureCredentials"] = (
            {"inheritFromAzureAD": True}
            if creds.workload_identity
            else {"connectionString": {"name": creds.secret_name, "key": "AZURE_STORAGE_CONNECTION_STRING"}}
        )
    configuration["wal"] = {"compression": "gzip"}
    configuration["data"] = {"compression": "gzip"}
    return {
        "configuration": configuration,
        "retentionPolicy": f"{c.backup.retention_days}d",
        # The plugin's sidecar in every instance pod (and the drill's) takes these; unset, it would take
        # the LimitRange's defaults, which the quota cannot know (operators.cnpg_instance_pod).
        "instanceSidecarConfiguration": {"resources": _resources(BARMAN_SIDECAR_RESOURCES)},
    }


def _resources(r: Resources) -> dict[str, Any]:
    return {"requests": r.requests.model_dump(), "limits": r.limits.model_dump()}


def _affinity(c: PostgresConfig) -> dict[str, Any]:
    s = c.scheduling
    affinity: dict[str, Any] = {
        # One instance per node, required: losing a node loses one instance, never two.
        "enablePodAntiAffinity": True,
        "topologyKey": "kubernetes.io/hostname",
        "podAntiAffinityType": "required",
    }
    if s.node_selector:
        affinity["nodeSelector"] = dict(s.node_selector)
    if s.tolerations:
        affinity["tolerations"] = [t.model_dump(by_alias=True, exclude_none=True) for t in s.tolerations]
    if s.affinity.get("nodeAffinity"):
        affinity["nodeAffinity"] = s.affinity["nodeAffinity"]
    return affinity


def cluster_spec(
    c: PostgresConfig,
    name: str,
    app_secret: str,
    labels: dict[str, str],
    pull_secrets: list[str],
    *,
    instances: int | None = None,
    recover_from: str | None = None,
    target_time: str | None = None,
    archive: bool = True,
) -> dict[str, Any]:
    """The Cluster's spec: the production one, a restored one, or the drill's throwaway one."""
    n = c.instances if instances is None else instances
    spec: dict[str, Any] = {
        "instances": n,
        "imageName": c.image,
        "imagePullPolicy": "IfNotPresent",
        "primaryUpdateStrategy": "unsupervised",
        "primaryUpdateMethod": "switchover",
        "enableSuperuserAccess": False,
        "postgresql": {"parameters": {"max_connections": str(c.max_connections)}},
        "storage": {
            "size": c.persistence.size,
            **({"storageClass": c.persistence.storage_class} if c.persistence.storage_class else {}),
        },
        "resources": {
            "requests": c.resources.requests.model_dump(),
            "limits": c.resources.limits.model_dump(),
        },
        "affinity": _affinity(c),
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway" if n < 3 else "DoNotSchedule",
                "labelSelector": {"matchLabels": {CLUSTER_LABEL: name, POD_ROLE_LABEL: "instance"}},
            }
        ],
        "inheritedMetadata": {"labels": labels},
        "monitoring": {"enablePodMonitor": False},  # deprecated in 1.30: a PodMonitor of our own
    }
    standbys = min(c.synchronous_standbys, n - 1)
    if standbys:
        # Quorum commit: a commit returns once `number` of the standbys have it (ANY n (...)).
        spec["postgresql"]["synchronous"] = {"method": "any", "number": standbys, "dataDurability": "required"}
    if c.scheduling.priority_class_name:
        spec["priorityClassName"] = c.scheduling.priority_class_name
    if pull_secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in pull_secrets]
    if archive and c.backup.enabled:
        spec["plugins"] = [
            {
                "name": BARMAN_CLOUD_PLUGIN,
                "isWALArchiver": True,
                "parameters": {"barmanObjectName": name_of_store(c), "serverName": name},
            }
        ]
    if recover_from:
        recovery: dict[str, Any] = {
            "source": recover_from,
            "database": c.database,
            "owner": c.user,
            "secret": {"name": app_secret},
        }
        if target_time:
            recovery["recoveryTarget"] = {"targetTime": target_time}
        spec["bootstrap"] = {"recovery": recovery}
        spec["externalClusters"] = [
            {
                "name": recover_from,
                "plugin": {
                    "name": BARMAN_CLOUD_PLUGIN,
                    "parameters": {"barmanObjectName": name_of_store(c), "serverName": recover_from},
                },
            }
        ]
    else:
        spec["bootstrap"] = {"initdb": {"database": c.database, "owner": c.user, "secret": {"name": app_secret}}}
    return spec


def name_of_store(c: PostgresConfig) -> str:
    """The ObjectStore's name: one per stack (a restored cluster archives there under its own serverName)."""
    return "postgres-backups"


def pooler_name(c: PostgresConfig) -> str:
    """The Pooler, and so its Service: `<cluster>-pooler-rw`."""
    return f"{cluster_name(c)}-pooler-rw"


def serving_labels(c: PostgresConfig) -> dict[str, str]:
    """The labels that select the pods behind the clients' host, as the operator guarantees them: the
    Pooler's pods by `cnpg.io/poolerName`, else every instance of the Cluster (operators.py)."""
    if c.pooler.enabled:
        return operators.cnpg_pooler_selector(pooler_name(c))
    return operators.cnpg_instance_selector(cluster_name(c))


def cluster_name(c: PostgresConfig) -> str:
    """`postgres`, or `postgres-restored` when the stack restores: a new Cluster recovering from the old
    one's archive (serverName `postgres`), which it then archives under its own name."""
    return "postgres-restored" if c.restore.enabled else "postgres"


def build(
    store: PostgresOwner, child: pulumi.ResourceOptions, keep: pulumi.ResourceOptions, metrics_namespace: str
) -> str:
    """Every CloudNativePG object of the store; returns the host clients connect to."""
    c = store.config
    name = cluster_name(c)
    labels = {k: v for k, v in store.labels.items() if k != "app.kubernetes.io/name"}
    data = pulumi.ResourceOptions.merge(child, keep)
    after_secret = pulumi.ResourceOptions.merge(data, pulumi.ResourceOptions(depends_on=[store.app_secret]))
    object_store = None
    if c.backup.enabled:
        object_store = k8s.apiextensions.CustomResource(
            name_of_store(c),
            api_version=BARMAN,
            kind="ObjectStore",
            metadata=store.meta(name_of_store(c)),
            spec=_object_store_spec(c),
            opts=data,
        )
        after_secret = pulumi.ResourceOptions.merge(after_secret, pulumi.ResourceOptions(depends_on=[object_store]))
    cluster_annotations = None
    if c.major_upgrade_from is not None:
        # The operator upgrades a major in place, offline (pg_upgrade): there is no way back but a
        # restore, so the old major is backed up first and the Cluster's update waits for it.
        before = major_upgrade_backup(store, name, c.major_upgrade_from)
        after_secret = pulumi.ResourceOptions.merge(after_secret, pulumi.ResourceOptions(depends_on=[before]))
        cluster_annotations = {MAJOR_UPGRADE_FROM: str(c.major_upgrade_from)}
    cluster = k8s.apiextensions.CustomResource(
        name,
        api_version=CNPG,
        kind="Cluster",
        metadata=store.meta(name, cluster_annotations),
        spec=cluster_spec(
            c,
            name,
            store.app_secret_name,
            labels,
            store.pull_secrets,
            recover_from="postgres" if c.restore.enabled else None,
            target_time=c.restore.target_time,
        ),
        opts=after_secret,
    )
    in_order = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[cluster]))
    if c.backup.enabled:
        k8s.apiextensions.CustomResource(
            f"{name}-scheduled",
            api_version=CNPG,
            kind="ScheduledBackup",
            metadata=store.meta(f"{name}-scheduled"),
            spec={
                "cluster": {"name": name},
                "schedule": scheduled_backup_cron(c.backup.schedule),
                "method": "plugin",
                "pluginConfiguration": {"name": BARMAN_CLOUD_PLUGIN},
                "backupOwnerReference": "self",
                "immediate": True,  # the first base backup right away, not at the next 02:00
                "target": "prefer-standby",
            },
            opts=in_order,
        )
    host = f"{name}-rw"
    if c.pooler.enabled:
        p = c.pooler
        host = pooler_name(c)
        k8s.apiextensions.CustomResource(
            host,
            api_version=CNPG,
            kind="Pooler",
            metadata=store.meta(host),
            spec={
                "cluster": {"name": name},
                "type": "rw",
                "instances": p.instances,
                "pgbouncer": {
                    "poolMode": p.pool_mode,
                    "parameters": {
                        "default_pool_size": str(p.default_pool_size),
                        "max_client_conn": str(p.max_client_conn),
                        # psycopg prepares statements; PgBouncer tracks them in transaction mode (1.21+).
                        "max_prepared_statements": "200",
                    },
                },
                "template": {
                    # The operator sets its own app.kubernetes.io labels over the template's
                    # (operators.cnpg_pooler_labels): the agents select PgBouncer by cnpg.io/poolerName.
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {
                                "name": "pgbouncer",
                                "resources": _resources(POOLER_RESOURCES),
                            }
                        ],
                        "topologySpreadConstraints": [
                            {
                                "maxSkew": 1,
                                "topologyKey": "topology.kubernetes.io/zone",
                                "whenUnsatisfiable": "ScheduleAnyway",
                                "labelSelector": {"matchLabels": operators.cnpg_pooler_selector(host)},
                            }
                        ],
                    },
                },
            },
            opts=in_order,
        )
    if c.network_policy.enabled:
        _network_policies(store, name, metrics_namespace, child)
    if c.backup.enabled and c.restore_drill.enabled:
        restore_drill(store, name, child)
    return host


# On the Cluster while a major upgrade is under way: the preview reads it to tell the deliberate
# upgrade (postgres.majorUpgradeFrom) from an accidental major change of the image.
MAJOR_UPGRADE_FROM = "agent-platform.io/major-upgrade-from"
# PgBouncer's exporter in a Pooler pod (cloudnative-pg v1.30.0 pkg/management/url/url.go PgBouncerMetricsPort).
POOLER_METRICS_PORT = 9127
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


def _peer(namespace: str, labels: dict[str, str]) -> net.NetworkPolicyPeerArgs:
    return net.NetworkPolicyPeerArgs(
        namespace_selector=meta.LabelSelectorArgs(match_labels={"kubernetes.io/metadata.name": namespace}),
        pod_selector=meta.LabelSelectorArgs(match_labels=labels),
    )


def _tcp(*ports: int) -> list[net.NetworkPolicyPortArgs]:
    return [net.NetworkPolicyPortArgs(protocol="TCP", port=p) for p in ports]


def _network_policies(store: PostgresOwner, name: str, metrics_namespace: str, opts: pulumi.ResourceOptions) -> None:
    """The namespace denies everything by default. Instances (of every Cluster of the namespace:
    the restore drill's too) take Postgres from the pooler, the clients, the drill and each other,
    status calls from the operator and scrapes from Prometheus; they reach each other (streaming
    replication), the API server and the object store. PgBouncer reaches the instances."""
    c = store.config
    instance = {POD_ROLE_LABEL: operators.ROLE_INSTANCE}
    operator = _peer(c.operator_namespace, operators.PEERS["cnpg"])
    # KEDA's operator reads a postgresql trigger at the clients' host: the pooler, else the primary.
    scaler = [_peer(store.scaler_namespace, operators.PEERS["keda"])] if store.scaler_namespace else []
    same_ns = lambda labels: net.NetworkPolicyPeerArgs(pod_selector=meta.LabelSelectorArgs(match_labels=labels))  # noqa: E731
    clients = [
        same_ns(instance),
        same_ns({POD_ROLE_LABEL: operators.ROLE_POOLER}),
        same_ns({store.client_label: "true"}),
        same_ns(selector_labels(RESTORE_DRILL)),
    ]
    ingress = [
        net.NetworkPolicyIngressRuleArgs(
            from_=[*clients, *([] if c.pooler.enabled else scaler)], ports=_tcp(POSTGRES_PORT)
        ),
        net.NetworkPolicyIngressRuleArgs(from_=[operator], ports=_tcp(STATUS_PORT, POSTGRES_PORT)),
    ]
    if metrics_namespace:
        ingress.append(
            net.NetworkPolicyIngressRuleArgs(
                from_=[
                    net.NetworkPolicyPeerArgs(
                        namespace_selector=meta.LabelSelectorArgs(
                            match_labels={"kubernetes.io/metadata.name": metrics_namespace}
                        )
                    )
                ],
                ports=_tcp(METRICS_PORT),
            )
        )
    net.NetworkPolicy(
        f"{name}-instances",
        metadata=store.meta(f"{name}-instances"),
        spec=net.NetworkPolicySpecArgs(
            pod_selector=meta.LabelSelectorArgs(match_labels=instance),
            policy_types=["Ingress", "Egress"],
            ingress=ingress,
            egress=[
                net.NetworkPolicyEgressRuleArgs(to=[same_ns(instance)], ports=_tcp(POSTGRES_PORT, STATUS_PORT)),
                # The API server (the instance manager watches its Cluster) and the object store: HTTPS
                # to addresses no selector can name.
                net.NetworkPolicyEgressRuleArgs(ports=_tcp(443, 6443)),
            ],
        ),
        opts=opts,
    )
    if c.pooler.enabled:
        pooler = {POD_ROLE_LABEL: operators.ROLE_POOLER}
        net.NetworkPolicy(
            f"{name}-pooler",
            metadata=store.meta(f"{name}-pooler"),
            spec=net.NetworkPolicySpecArgs(
                pod_selector=meta.LabelSelectorArgs(match_labels=pooler),
                policy_types=["Ingress", "Egress"],
                ingress=[
                    net.NetworkPolicyIngressRuleArgs(
                        from_=[same_ns({store.client_label: "true"}), *scaler], ports=_tcp(POSTGRES_PORT)
                    ),
                    net.NetworkPolicyIngressRuleArgs(from_=[operator], ports=_tcp(POSTGRES_PORT, POOLER_METRICS_PORT)),
                    *(
                        [
                            net.NetworkPolicyIngressRuleArgs(
                                from_=[
                                    net.NetworkPolicyPeerArgs(
                                        namespace_selector=meta.LabelSelectorArgs(
                                            match_labels={"kubernetes.io/metadata.name": metrics_namespace}
                                        )
                                    )
                                ],
                                ports=_tcp(POOLER_METRICS_PORT),
                            )
                        ]
                        if metrics_namespace
                        else []
                    ),
                ],
                egress=[
                    net.NetworkPolicyEgressRuleArgs(to=[same_ns(instance)], ports=_tcp(POSTGRES_PORT)),
                    net.NetworkPolicyEgressRuleArgs(ports=_tcp(443, 6443)),  # the API server (its Secrets)
                ],
            ),
            opts=opts,
        )


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


def restore_drill(store: PostgresOwner, source: str, opts: pulumi.ResourceOptions) -> batch.CronJob:
    """The drill (cloudnative-pg/cloudnative-pg#7197 asks for it): each step an init container, so a
    failed step stops the run and fails the Job (alert PostgresRestoreDrillFailed):
    1. delete what a previous failed run left (kept until now for inspection),
    2. create a one-instance Cluster recovering the latest backup and WAL of `source`,
    3. wait until it is Ready (recovery replayed),
    4. run `check_sql` against it as its owner (psql, the Cluster's own image),
    then delete it. kubectl only: its ServiceAccount may touch Clusters of this namespace, nothing else."""
    c, d = store.config, store.config.restore_drill
    name = RESTORE_DRILL
    drill_cluster = f"{source}-drill"
    labels = {**store.labels, **selector_labels(name), "app.kubernetes.io/component": "restore-drill"}
    meta_ = pod.Metadata(store.namespace, labels, dict(store.meta.annotations))
    sa = core.ServiceAccount(name, metadata=meta_(name), automount_service_account_token=False, opts=opts)
    role = rbac.Role(
        name,
        metadata=meta_(name),
        rules=[
            rbac.PolicyRuleArgs(
                api_groups=["postgresql.cnpg.io"],
                resources=["clusters"],
                verbs=["get", "list", "watch", "create", "patch", "delete"],
            )
        ],
        opts=opts,
    )
    rbac.RoleBinding(
        name,
        metadata=meta_(name),
        role_ref=rbac.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="Role", name=name),
        subjects=[rbac.SubjectArgs(kind="ServiceAccount", name=name, namespace=store.namespace)],
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[role, sa])),
    )
    manifest = {
        "apiVersion": CNPG,
        "kind": "Cluster",
        "metadata": {"name": drill_cluster, "labels": {"app.kubernetes.io/component": "restore-drill"}},
        "spec": cluster_spec(
            c,
            drill_cluster,
            f"{drill_cluster}-app",
            {"app.kubernetes.io/component": "restore-drill"},
            store.pull_secrets,
            instances=1,
            recover_from=source,
            archive=False,  # a drill never writes into the archive it checks
        ),
    }
    # The operator generates the drill's app Secret when recovery names none: drop ours.
    del manifest["spec"]["bootstrap"]["recovery"]["secret"]
    config_map = core.ConfigMap(
        name, metadata=meta_(name), data={"cluster.json": json.dumps(manifest, sort_keys=True)}, opts=opts
    )
    timeout = f"{d.timeout_minutes}m"

    def kubectl(step: str, *words: str) -> core.ContainerArgs:
        return core.ContainerArgs(
            name=step,
            image=d.image,
            image_pull_policy="IfNotPresent",
            command=["kubectl", *words],
            # kubectl keeps its discovery cache under $HOME/.kube: the scratch volume, the root is read-only.
            env=[core.EnvVarArgs(name="HOME", value="/tmp")],
            resources=pod.resource_requirements(DRILL_RESOURCES),
            security_context=pod.container_security_context(c.security_context),
            volume_mounts=[
                core.VolumeMountArgs(name=pod.TMP_VOLUME, mount_path="/tmp"),
                core.VolumeMountArgs(name="manifest", mount_path="/drill", read_only=True),
                core.VolumeMountArgs(name="token", mount_path=TOKEN_PATH, read_only=True),
            ],
        )

    check = core.ContainerArgs(
        name="check",
        image=c.image,
        image_pull_policy="IfNotPresent",
        command=["psql", "--no-psqlrc", "--set=ON_ERROR_STOP=1", "--command", d.check_sql],
        # --dbname takes a URI; Kubernetes expands $(VAR) from the env (the operator's `<cluster>-app` Secret).
        args=["--dbname", "$(DRILL_DATABASE_URL)"],
        env=[pod.secret_env("DRILL_DATABASE_URL", f"{drill_cluster}-app", "uri")],
        resources=pod.resource_requirements(DRILL_RESOURCES),
        security_context=pod.container_security_context(c.security_context),
        volume_mounts=[core.VolumeMountArgs(name=pod.TMP_VOLUME, mount_path="/tmp")],
    )
    steps = [
        kubectl(
            "clear-leftover", "delete", "cluster", drill_cluster, "--ignore-not-found", "--wait", f"--timeout={timeout}"
        ),
        kubectl("restore", "apply", "--filename", "/drill/cluster.json"),
        kubectl("await-recovery", "wait", f"cluster/{drill_cluster}", "--for=condition=Ready", f"--timeout={timeout}"),
        check,
    ]
    token = core.VolumeArgs(
        name="token",
        projected=core.ProjectedVolumeSourceArgs(
            default_mode=0o440,
            sources=[
                core.VolumeProjectionArgs(
                    service_account_token=core.ServiceAccountTokenProjectionArgs(path="token", expiration_seconds=3600)
                ),
                core.VolumeProjectionArgs(
                    config_map=core.ConfigMapProjectionArgs(
                        name="kube-root-ca.crt", items=[core.KeyToPathArgs(key="ca.crt", path="ca.crt")]
                    )
                ),
                core.VolumeProjectionArgs(
                    downward_api=core.DownwardAPIProjectionArgs(
                        items=[
                            core.DownwardAPIVolumeFileArgs(
                                path="namespace",
                                field_ref=core.ObjectFieldSelectorArgs(field_path="metadata.namespace"),
                            )
                        ]
                    )
                ),
            ],
        ),
    )
    template = core.PodTemplateSpecArgs(
        metadata=meta.ObjectMetaArgs(labels=labels),
        spec=core.PodSpecArgs(
            service_account_name=name,
            # The token is mounted by the projected volume above, only into the kubectl steps.
            automount_service_account_token=False,
            enable_service_links=False,
            restart_policy="Never",
            security_context=pod.pod_security_context(c.security_context),
            init_containers=steps,
            containers=[
                kubectl("clean-up", "delete", "cluster", drill_cluster, "--wait", f"--timeout={timeout}"),
            ],
            volumes=[
                pod.scratch_volume(),
                core.VolumeArgs(
                    name="manifest", config_map=core.ConfigMapVolumeSourceArgs(name=name, default_mode=0o440)
                ),
                token,
            ],
            **pod.scheduling_fields(c.scheduling, pull_secrets=store.pull_secrets),
        ),
    )
    if c.network_policy.enabled:
        net.NetworkPolicy(
            name,
            metadata=meta_(name),
            spec=net.NetworkPolicySpecArgs(
                pod_selector=meta.LabelSelectorArgs(match_labels=selector_labels(name)),
                policy_types=["Ingress", "Egress"],
                ingress=[],
                egress=[
                    net.NetworkPolicyEgressRuleArgs(
                        to=[
                            net.NetworkPolicyPeerArgs(
                                pod_selector=meta.LabelSelectorArgs(match_labels={CLUSTER_LABEL: drill_cluster})
                            )
                        ],
                        ports=_tcp(POSTGRES_PORT),
                    ),
                    net.NetworkPolicyEgressRuleArgs(ports=_tcp(443, 6443)),  # the API server
                ],
            ),
            opts=opts,
        )
    return batch.CronJob(
        name,
        metadata=meta_(name, DRILL_CHECKOV_SKIPS),
        spec=batch.CronJobSpecArgs(
            schedule=d.schedule,
            time_zone="Etc/UTC",
            concurrency_policy="Forbid",
            starting_deadline_seconds=3600,
            successful_jobs_history_limit=1,
            failed_jobs_history_limit=3,
            job_template=batch.JobTemplateSpecArgs(
                spec=batch.JobSpecArgs(
                    backoff_limit=0,  # a failed drill is a finding, not something to retry over
                    active_deadline_seconds=d.timeout_minutes * 60 * 2,
                    ttl_seconds_after_finished=7 * 86400,
                    template=template,
                )
            ),
        ),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[config_map, sa])),
    )


TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
DRILL_CHECKOV_SKIPS = {
    "checkov.io/skip1": "CKV_K8S_35=The check step's psql takes the throwaway cluster's URI (the operator's "
    "<cluster>-app Secret) through secretKeyRef: libpq reads no URI from a file and ignores a group-readable pgpass.",
}
