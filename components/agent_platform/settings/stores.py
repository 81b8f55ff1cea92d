"""The data stores: Postgres (plain or CloudNativePG, backups, restore, pooler, drill) and Redis."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import (
    Field,
    field_validator,
)

from agent_platform.settings.base import Model
from agent_platform.settings.errors import bad, check, rule, shown
from agent_platform.settings.pod import (
    NetworkPolicyToggle,
    Pdb,
    Persistence,
    ResourceAmounts,
    Resources,
    Scheduling,
    SecurityContext,
)
from agent_platform.settings.values import (
    CronSchedule,
    DnsLabel,
    Image,
    Int,
    LabelValue,
    MetadataKey,
    PlainText,
    PositiveQuantity,
    SecretKey,
    quantity_value,
    whole_number,
)


class DatastoreBase(Model):
    mode: Literal["inCluster", "external"] = Field(
        "inCluster", description="Run it in the namespace, or use a managed instance."
    )
    external_url_key: SecretKey | None = Field(
        None, description="external: secret stack config key that holds the connection URL."
    )
    resources: Resources = Field(
        Resources(requests=ResourceAmounts(cpu="250m", memory="512Mi"), limits=ResourceAmounts(cpu="1", memory="1Gi")),
        description="CPU and memory requests and limits.",
    )
    security_context: SecurityContext = Field(
        SecurityContext(), description="Runs as this non-root identity with a read-only root filesystem."
    )
    persistence: Persistence = Field(
        Persistence(), description="Data volume (volumeClaimTemplates, retained on scale-down and delete)."
    )
    network_policy: NetworkPolicyToggle = Field(
        NetworkPolicyToggle(), description="Accept connections from the agent pods only."
    )
    pdb: Pdb = Field(
        Pdb(enabled=False),
        description="PodDisruptionBudget; a single instance has no replica to fail over to, so off by default.",
    )
    protect: bool = Field(
        True,
        description="Pulumi `protect` + `retainOnDelete` on the data-bearing objects: no destroy or replacement drops "
        "data.",
    )
    scheduling: Scheduling = Field(
        Scheduling(), description="Node selection, tolerations, affinity and priority of the pod."
    )
    pod_labels: dict[MetadataKey, LabelValue] = Field({}, description="Extra labels on the pod (never on selectors).")
    pod_annotations: dict[MetadataKey, PlainText] = Field({}, description="Extra annotations on the pod.")

    @check
    def _mode(self) -> DatastoreBase:
        if self.mode == "external" and not self.external_url_key:
            raise rule("externalUrlKey", "is required when mode is external")
        if self.mode == "inCluster" and self.external_url_key:
            raise rule("externalUrlKey", "only applies when mode is external")
        return self


class ObjectStoreCredentials(Model):
    """How the backup tool authenticates to the object store: an existing Secret, or the pods' identity."""

    secret_name: DnsLabel | None = Field(
        None,
        description="An existing Secret in the namespace with the store's keys (S3: `ACCESS_KEY_ID`, "
        "`ACCESS_SECRET_KEY`; GCS: `APPLICATION_CREDENTIALS`; Azure: `AZURE_STORAGE_CONNECTION_STRING`).",
    )
    workload_identity: bool = Field(
        False,
        description="Use the pods' cloud identity (IRSA, GKE or Azure workload identity) instead of a Secret.",
    )

    @check
    def _one_source(self) -> ObjectStoreCredentials:
        if bool(self.secret_name) == self.workload_identity:
            raise rule("secretName", "set exactly one of secretName or workloadIdentity: true")
        return self


class ObjectStore(Model):
    """An object store for base backups and archived WAL (S3 or S3-compatible, GCS, Azure Blob)."""

    destination_path: str = Field(
        pattern=r"^(s3://|gs://|https://)\S+$",
        description="Where backups go: `s3://bucket/prefix`, `gs://bucket/prefix` or "
        "`https://<account>.blob.core.windows.net/<container>/prefix`.",
    )
    endpoint_url: str | None = Field(
        None, pattern=r"^https?://\S+$", description="S3-compatible stores (MinIO, Ceph): the endpoint URL."
    )
    credentials: ObjectStoreCredentials = Field(description="How the backup tool authenticates.")


class PostgresBackup(Model):
    """Continuous WAL archiving plus scheduled base backups with a retention."""

    enabled: bool = Field(True, description="Archive every WAL segment and take base backups on `schedule`.")
    schedule: CronSchedule = Field(
        "0 2 * * *",
        description="Cron schedule of the base backups (five fields, UTC).",
    )
    retention_days: Int = Field(
        30, ge=1, le=3650, description="Base backups (and the WAL they need) are kept this many days."
    )
    store: Literal["volume", "objectStore"] = Field(
        "volume",
        description="`volume`: a backup volume of its own (Docker host); `objectStore`: `objectStore` "
        "(required on Kubernetes, and off the host where the data lives).",
    )
    object_store: ObjectStore | None = Field(None, description="store objectStore: where and how.")
    before_migration: bool = Field(
        True, description="Take a base backup before each migration; the migration waits for it."
    )
    max_age_hours: Int = Field(
        26,
        ge=1,
        le=24 * 60,
        description="The last completed base backup may be this old before the health check and alert fail.",
    )

    @check
    def _store(self) -> PostgresBackup:
        if self.store == "objectStore" and self.object_store is None:
            raise rule("objectStore", "is required when store is objectStore")
        if self.store == "volume" and self.object_store is not None:
            raise rule("objectStore", "only applies when store is objectStore")
        return self


class PostgresRestore(Model):
    """A restore as declared steps, none of which deletes data: a restored cluster beside the original
    (`enabled`), the agents switched to it (`serve`), the original hibernated (`retireOriginal`)."""

    enabled: bool = Field(
        False,
        description="Add a cluster `<name>-restored` beside the original, recovering the original's backups "
        "and WAL; the agents stay on the original until `serve`.",
    )
    target_time: str | None = Field(
        None,
        description="Restore up to this moment (RFC 3339 with a zone, e.g. `2026-12-03T10:15:00Z`); "
        "unset: every archived commit (the latest).",
    )
    serve: bool = Field(
        False,
        description="The agents connect to the restored cluster (the switch, once it is verified); the original "
        "stays, protected, serving nothing.",
    )
    retire_original: bool = Field(
        False,
        description="Hibernate the original cluster (`cnpg.io/hibernation: on`: its pods stop, its volumes stay) "
        "and drop its pooler and scheduled backups; it stays declared and protected until it is removed on "
        "purpose (docs/day-2.md). Needs `serve`.",
    )

    @check
    def _in_order(self) -> PostgresRestore:
        if self.serve and not self.enabled:
            raise rule("serve", "needs enabled: the agents can only move to a restored cluster that exists")
        if self.retire_original and not self.serve:
            raise rule("retireOriginal", "needs serve: the original is retired only once no agent uses it")
        return self

    @field_validator("target_time")
    @classmethod
    def _zoned(cls, value: str | None) -> str | None:
        # CloudNativePG's recoveryTarget.targetTime and pgBackRest's --target both take a timestamp
        # with its zone; without one each tool would read it in its own server's zone.
        if value is None:
            return value
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise bad("target_time", "must be an RFC 3339 time such as 2026-12-03T10:15:00Z", value) from None
        if moment.tzinfo is None:
            raise bad("target_time", "needs a time zone (a trailing Z for UTC, or +01:00)", value)
        return value


class PostgresPooler(Model):
    """PgBouncer in front of the CloudNativePG cluster (a `Pooler`, type rw): the app's stable endpoint."""

    enabled: bool = Field(True, description="Clients connect through PgBouncer (`<cluster>-pooler-rw`).")
    instances: Int = Field(2, ge=1, le=20, description="PgBouncer pods (2+ so a drained node keeps the endpoint).")
    pool_mode: Literal["transaction", "session"] = Field(
        "transaction",
        description="`transaction`: a server connection per transaction (many clients share few); "
        "`session`: one per client connection, for apps that keep session state (advisory locks, SET).",
    )
    default_pool_size: Int = Field(
        90,
        ge=1,
        le=10000,
        description="Server connections each PgBouncer pod opens to the primary (per database and user).",
    )
    max_client_conn: Int = Field(1000, ge=1, le=100000, description="Client connections each PgBouncer pod accepts.")


class RestoreDrill(Model):
    """A CronJob that restores the latest backup into a throwaway Cluster, checks it, reports and deletes it."""

    enabled: bool = Field(True, description="Run the drill on `schedule` (mode cloudnativepg with backups).")
    schedule: CronSchedule = Field("0 5 * * 0", description="Cron schedule of the drill (five fields, UTC).")
    image: Image = Field(
        "registry.k8s.io/kubectl:v1.31.2@sha256:d31de5468fb5c0943358671e3dcf8e4d8281108027efd1f211262d09aedd5519",
        description="Pinned kubectl image (each drill step is one kubectl command; no shell needed).",
    )
    check_sql: str = Field(
        "SELECT count(*) FROM pg_catalog.pg_tables",
        min_length=1,
        description="SQL run against the restored database as its owner; the drill fails when it errors.",
    )
    timeout_minutes: Int = Field(
        120, ge=10, le=1440, description="Give up (fail the drill and clean up) after this long."
    )


# What CloudNativePG gives a PgBouncer pod when the Pooler's template sets none (its defaults are unset:
# counted here at a modest reservation so the derived quota leaves room for them).
POOLER_RESOURCES = Resources(
    requests=ResourceAmounts(cpu="100m", memory="64Mi"), limits=ResourceAmounts(cpu="500m", memory="256Mi")
)

# Each step of the restore drill's pod (kubectl, then psql): the pod's amounts, one step at a time.
DRILL_RESOURCES = Resources(
    requests=ResourceAmounts(cpu="50m", memory="64Mi"), limits=ResourceAmounts(cpu="500m", memory="256Mi")
)

# The Barman Cloud plugin's sidecar in each instance pod (ObjectStore spec.instanceSidecarConfiguration,
# plugin-barman-cloud v0.14.0 api/v1/objectstore_types.go:40-42): it compresses and uploads each WAL
# segment and base backups; set so it never takes the LimitRange's defaults unseen by the quota.
BARMAN_SIDECAR_RESOURCES = Resources(
    requests=ResourceAmounts(cpu="100m", memory="256Mi"), limits=ResourceAmounts(cpu="1", memory="512Mi")
)

# Connections Postgres keeps for superusers (superuser_reserved_connections' default): never the app's.
SUPERUSER_RESERVED_CONNECTIONS = 3


def official_postgres_image(image: str) -> bool:
    """Docker Hub's official image (`postgres`, `library/postgres`, `docker.io/library/postgres`)."""
    name = image.split("@", 1)[0]
    repository = name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name
    return repository in ("postgres", "library/postgres", "docker.io/library/postgres", "docker.io/postgres")


class PostgresConfig(DatastoreBase):
    mode: Literal["inCluster", "external", "cloudnativepg"] = Field(
        "inCluster",
        description="Run it in the namespace (a StatefulSet), use a managed instance, or a CloudNativePG "
        "`Cluster` (failover, synchronous replication, WAL archive, point-in-time restore; the operator "
        "and the Barman Cloud plugin are cluster prerequisites).",
    )
    image: Image = Field(
        "postgres:16.4-alpine@sha256:5660c2cbfea50c7a9127d17dc4e48543eedd3d7a41a595a2dfa572471e37e64c",
        description="Pinned Postgres image (tag and digest).",
    )
    database: DnsLabel = Field("agent", description="Database created at first start.")
    user: DnsLabel = Field("agent", description="Owner role of the database.")
    backup: PostgresBackup = Field(
        PostgresBackup(enabled=False),
        description="Backups and point-in-time recovery (off until a component implements them for the mode).",
    )
    restore: PostgresRestore = Field(PostgresRestore(), description="Point-in-time restore from `backup`.")
    instances: Int = Field(
        3, ge=1, le=9, description="cloudnativepg: Postgres instances, one primary and hot standbys in other zones."
    )
    synchronous_standbys: Int = Field(
        1,
        ge=0,
        le=8,
        description="cloudnativepg: a commit waits for this many standbys (quorum, method any); 0: asynchronous.",
    )
    max_connections: Int = Field(
        200, ge=10, le=10000, description="cloudnativepg: Postgres `max_connections` (3 are kept for superusers)."
    )
    pooler: PostgresPooler = Field(PostgresPooler(), description="cloudnativepg: PgBouncer in front of the primary.")
    operator_namespace: DnsLabel = Field(
        "cnpg-system", description="cloudnativepg: namespace of the operator (its NetworkPolicy peer)."
    )
    restore_drill: RestoreDrill = Field(RestoreDrill(), description="cloudnativepg: the scheduled restore drill.")
    major_upgrade_from: whole_number(ge=10, le=99) | None = Field(
        None,
        description="cloudnativepg: the major version the Cluster runs now, set in the same change that moves "
        "`image` to a later major. `pulumi up` then takes an awaited Backup of the old major before the operator's "
        "offline in-place upgrade (pg_upgrade); without it the preview refuses a major change. Remove it afterwards "
        "(docs/day-2.md).",
    )

    def image_major(self) -> int | None:
        """The major version in the image's tag (`postgresql:17.2@sha256:..` -> 17), None when the tag has none."""
        name = self.image.split("@", 1)[0]
        tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else ""
        match = re.match(r"^(\d+)", tag)
        return int(match.group(1)) if match else None

    @check
    def _cloudnativepg(self) -> PostgresConfig:
        if self.major_upgrade_from is not None:
            if self.mode != "cloudnativepg":
                raise rule(
                    "majorUpgradeFrom",
                    f"{self.major_upgrade_from} is for mode cloudnativepg (the operator's in-place upgrade); mode "
                    f"{shown(self.mode)} upgrades by dump and restore (docs/day-2.md)",
                )
            if not self.backup.enabled:
                raise rule("majorUpgradeFrom", "needs backup.enabled: the old major is backed up before the upgrade")
            target = self.image_major()
            if target is not None and target <= self.major_upgrade_from:
                raise rule(
                    "majorUpgradeFrom",
                    f"{self.major_upgrade_from} must be below the image's major ({target}, image {shown(self.image)}): "
                    "a major upgrade goes forward only; remove majorUpgradeFrom when the image stays on its major",
                )
        if self.mode != "cloudnativepg":
            return self
        if self.synchronous_standbys >= self.instances:
            raise rule(
                "synchronousStandbys",
                f"{self.synchronous_standbys} must be below instances ({self.instances}): the primary is not a standby",
            )
        if self.backup.enabled and self.backup.store != "objectStore":
            raise rule(
                "backup.store", "must be objectStore in mode cloudnativepg (the Barman Cloud plugin archives there)"
            )
        if self.restore.enabled and not (self.backup.enabled and self.backup.object_store):
            raise rule("restore.enabled", "needs backup.enabled with an objectStore to restore from")
        return self

    def connection_capacity(self) -> list[tuple[str, int, str]]:
        """What each hop accepts: (stack key, connections, what it is), for the connection budget."""
        usable = self.max_connections - SUPERUSER_RESERVED_CONNECTIONS
        if not self.pooler.enabled:
            return [
                (
                    "postgres.maxConnections",
                    usable,
                    f"max_connections {self.max_connections} minus {SUPERUSER_RESERVED_CONNECTIONS} superuser-reserved",
                )
            ]
        p = self.pooler
        clients = p.max_client_conn if p.pool_mode == "transaction" else p.default_pool_size
        key = "postgres.pooler.maxClientConn" if p.pool_mode == "transaction" else "postgres.pooler.defaultPoolSize"
        return [
            (
                key,
                clients,
                f"what one PgBouncer pod accepts in {p.pool_mode} mode (the Service may send it every client)",
            )
        ]


class RedisConfig(DatastoreBase):
    image: Image = Field(
        "redis:7.4.1-alpine@sha256:c1e88455c85225310bbea54816e9c3f4b5295815e6dbf80c34d40afc6df28275",
        description="Pinned Redis image (tag and digest).",
    )
    append_only: bool = Field(True, description="AOF persistence (`appendonly yes`).")
    maxmemory: PositiveQuantity = Field(
        "256Mi",
        description="`maxmemory`; keep it below the memory limit (0 would mean unlimited in Redis, so it is refused).",
    )
    maxmemory_policy: (
        Literal[
            "noeviction",
            "allkeys-lru",
            "volatile-lru",
            "allkeys-lfu",
            "volatile-lfu",
            "allkeys-random",
            "volatile-random",
            "volatile-ttl",
        ]
        | None
    ) = Field(
        None,
        description="Eviction policy at maxmemory; unset: `noeviction` when Redis holds queues (`holdsQueues`, or a "
        "service's KEDA trigger is redis: an evicted list is a lost run), else `allkeys-lru` (a cache).",
    )
    holds_queues: bool = Field(
        False,
        description="Redis holds queues or is the broker (lists/streams that must not be evicted): an `allkeys-*` "
        "policy is refused. A service whose KEDA trigger is redis implies it.",
    )

    def eviction_policy(self, queues: bool = False) -> str:
        """The policy redis-server runs with: as set, else the safe one for what it holds."""
        return self.maxmemory_policy or ("noeviction" if queues or self.holds_queues else "allkeys-lru")

    @check
    def _fits(self) -> RedisConfig:
        if self.holds_queues:
            check_eviction(self.maxmemory_policy, "holdsQueues is true", "maxmemoryPolicy")
        if self.mode == "inCluster" and quantity_value(self.maxmemory) >= quantity_value(self.resources.limits.memory):
            raise rule(
                "maxmemory",
                f"must be below resources.limits.memory ({self.maxmemory} >= {self.resources.limits.memory}) or Redis "
                "is OOM-killed before it evicts",
            )
        return self


def check_eviction(policy: str | None, why: str, at: str) -> None:
    """An allkeys-* policy evicts any key at maxmemory, queued runs included: refused when Redis holds queues."""
    if policy and policy.startswith("allkeys-"):
        raise rule(
            at,
            f"{shown(policy)} evicts any key at maxmemory, queued runs included ({why}): use `noeviction` (writes fail "
            "loudly when full), or `volatile-lru`/`volatile-lfu`/`volatile-ttl` with TTLs only on cache keys",
        )
