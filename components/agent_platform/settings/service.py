"""One agent service: its settings and the checks that tie them together."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
)

from agent_platform.settings.base import Model
from agent_platform.settings.errors import Findings, check, shown
from agent_platform.settings.pod import (
    EnvFromSource,
    ExtraEnv,
    NetworkPolicyToggle,
    Pdb,
    Persistence,
    ResourceAmounts,
    Resources,
    Scheduling,
    SecurityContext,
    ServiceAccountSettings,
)
from agent_platform.settings.values import (
    STATEFULSET_NAME_MAX,
    EnvName,
    Image,
    Int,
    LabelValue,
    MetadataKey,
    PlainText,
    Port,
    SecretKey,
    ServiceName,
)
from agent_platform.settings.workload import (
    CANARY_SUFFIX,
    RESERVED_ENV,
    Autoscaling,
    CheckpointCleanup,
    ConnectionEnv,
    Drain,
    ExtraContainer,
    ExtraVolume,
    Migration,
    Probes,
    ReleaseUnit,
    Rollout,
    ServiceIngress,
    VolumeMountSettings,
)


class AgentServiceConfig(Model):
    name: ServiceName = Field(
        description="Service name; names every object of the service (a DNS-1035 label: at most 63 characters, 52 for "
        "a StatefulSet)."
    )
    image: Image = Field(
        description="Container image with a tag and/or digest (`repo:tag@sha256:...` in prod); never `latest`."
    )
    image_pull_policy: Literal["Always", "IfNotPresent"] = Field(
        "Always", description="`Always` re-checks the registry so a moved tag is noticed."
    )
    kind: Literal["Deployment", "StatefulSet"] = Field(
        "Deployment",
        description="Stateless API pods (Deployment) or sticky identities (StatefulSet, with a headless Service).",
    )
    port: Port = Field(8000, description="Port the app listens on.")
    command: list[PlainText] | None = Field(None, description="Overrides the image ENTRYPOINT.")
    args: list[PlainText] | None = Field(None, description="Overrides the image CMD.")
    env: dict[EnvName, PlainText] = Field({}, description="Plain environment (a ConfigMap). Never put secrets here.")
    secret_env: dict[EnvName, SecretKey] = Field(
        {},
        description="Environment variable -> secret stack config key (`pulumi config set --secret KEY`); lands in a "
        "Secret.",
    )
    resources: Resources = Field(
        Resources(requests=ResourceAmounts(cpu="250m", memory="512Mi"), limits=ResourceAmounts(cpu="1", memory="1Gi")),
        description="CPU and memory requests and limits.",
    )
    security_context: SecurityContext = Field(
        SecurityContext(),
        description="Pod and container identity; always non-root, no privilege escalation, ALL capabilities dropped, "
        "seccomp RuntimeDefault.",
    )
    replicas: Int = Field(3, ge=1, description="Fixed replica count when autoscaling is disabled.")
    autoscaling: Autoscaling = Field(Autoscaling(), description="Horizontal autoscaling.")
    pdb: Pdb = Field(Pdb(), description="PodDisruptionBudget.")
    network_policy: NetworkPolicyToggle = Field(
        NetworkPolicyToggle(), description="Least-privilege ingress and egress for the pods."
    )
    persistence: Persistence = Field(
        Persistence(enabled=False, size="1Gi"), description="A volume per pod at /data (StatefulSet only)."
    )
    probes: Probes = Field(Probes(), description="Liveness (/healthz), readiness (/readyz) and startup probes.")
    drain: Drain = Field(Drain(), description="Graceful shutdown for in-flight streaming requests.")
    ingress: ServiceIngress = Field(ServiceIngress(), description="External exposure through the stack Ingress.")
    allow_from: list[ServiceName] = Field(
        [],
        description="Other services of the stack whose pods may call this one on its port (NetworkPolicy); no one else "
        "inside the namespace can.",
    )
    uses_postgres: bool = Field(True, description="Receive DATABASE_URL and egress to Postgres.")
    uses_redis: bool = Field(True, description="Receive REDIS_URL and egress to Redis.")
    connection_env: ConnectionEnv = Field(
        ConnectionEnv(),
        description="Names of the variables that carry the database and Redis URLs, for an app that reads other "
        "names than DATABASE_URL and REDIS_URL (its migration and cleanup jobs get the same).",
    )
    scheduling: Scheduling = Field(
        Scheduling(), description="Node selection, tolerations, affinity and priority of the pods."
    )
    service_account: ServiceAccountSettings = Field(
        ServiceAccountSettings(),
        description="The pods' identity: annotations for workload identity, or an existing ServiceAccount.",
    )
    pod_labels: dict[MetadataKey, LabelValue] = Field(
        {}, description="Extra labels on the pods (never on selectors; the platform's own keys are refused)."
    )
    pod_annotations: dict[MetadataKey, PlainText] = Field({}, description="Extra annotations on the pods.")
    env_from: list[EnvFromSource] = Field(
        [], description="Existing Secrets or ConfigMaps whose keys all become environment variables."
    )
    extra_env: list[ExtraEnv] = Field(
        [], description="Variables from existing Secrets, ConfigMaps or pod fields (`valueFrom`)."
    )
    migration: Migration = Field(
        Migration(),
        description="A database migration (a Job, or a one-shot container on Docker) run before each new image rolls "
        "out.",
    )
    checkpoint_cleanup: CheckpointCleanup = Field(
        CheckpointCleanup(), description="A CronJob deleting old checkpoints."
    )
    init_containers: list[ExtraContainer] = Field(
        [], description="Containers that run to completion before the app starts, hardened like it."
    )
    sidecars: list[ExtraContainer] = Field(
        [], description="Containers beside the app (proxies, log shippers), hardened like it; each needs a `probe`."
    )
    extra_volumes: list[ExtraVolume] = Field(
        [], description="Pod volumes: existing ConfigMaps, Secrets or PVCs, or sized emptyDirs."
    )
    extra_volume_mounts: list[VolumeMountSettings] = Field(
        [], description="Of extraVolumes, mounted in the app container."
    )
    rollout: Rollout = Field(
        Rollout(),
        description="Release strategy: rolling (default), canary, blue-green, or a staged StatefulSet rollout "
        "(partition).",
    )
    database_pool_size: Int = Field(
        5,
        ge=1,
        le=500,
        description="Database connections each pod (and its migration and cleanup Jobs) opens at most: the "
        "app's pool size, counted in the connection budget of `postgres` (mode cloudnativepg).",
    )

    def reserved_env(self) -> dict[str, str]:
        """Variables the platform sets on this service's containers, and where each comes from."""
        return {
            **RESERVED_ENV,
            self.connection_env.database: "from postgres, named by `connectionEnv.database`",
            self.connection_env.redis: "from redis, named by `connectionEnv.redis`",
        }

    def url_env(self, store: str) -> str:
        """The variable that carries `store`'s URL (`postgres` or `redis`) for this service."""
        return self.connection_env.database if store == "postgres" else self.connection_env.redis

    def platform_env(self) -> dict[str, str]:
        """Plain variables the platform sets on both platforms: the port, and the drain budget in
        the variable the stack names."""
        env = {"PORT": str(self.port)}
        if self.drain.budget_env:
            env[self.drain.budget_env] = str(self.drain.budget_seconds())
        return env

    def max_pods(self) -> int:
        """Pods running at the autoscaler's maximum (or the fixed count)."""
        return self.autoscaling.max_replicas if self.autoscaling.enabled else self.replicas

    def surge_pods(self) -> int:
        """Extra pods during a rollout: a Deployment surges by one (maxSurge 1); a StatefulSet replaces in place."""
        return 1 if self.kind == "Deployment" else 0

    def min_pods(self) -> int:
        """Pods running at the autoscaler's minimum (or the fixed count)."""
        return self.autoscaling.min_replicas if self.autoscaling.enabled else self.replicas

    @check
    def _coherent(self) -> AgentServiceConfig:
        found = Findings()
        self._check_env(found)
        self._check_name(found)
        self._check_availability(found)
        self._check_jobs(found)
        self._check_keda(found)
        self._check_volumes(found)
        self._check_containers(found)
        self._check_rollout(found)
        found.raise_any("AgentServiceConfig")
        return self

    def _check_env(self, found: Findings) -> None:
        """Each variable set once: env, secretEnv, extraEnv, the platform's own and the drain budget's."""
        both = set(self.env) & set(self.secret_env)
        if both:
            found(f"env.{sorted(both)[0]}", "is set both in env and in secretEnv")
        reserved = self.reserved_env()
        for i, extra in enumerate(self.extra_env):
            if extra.name in self.env or extra.name in self.secret_env or extra.name in reserved:
                found(f"extraEnv[{i}].name", f"{shown(extra.name)} is already set (env, secretEnv or the platform)")
        for name in sorted((set(self.env) | set(self.secret_env)) & set(reserved)):
            where = "env" if name in self.env else "secretEnv"
            found(f"{where}.{name}", f"is set by the platform ({reserved[name]}); remove it")
        budget = self.drain.budget_env
        if budget and (
            budget in self.env
            or budget in self.secret_env
            or budget in reserved
            or budget in {e.name for e in self.extra_env}
        ):
            found("drain.budgetEnv", f"{shown(budget)} is already set (env, secretEnv, extraEnv or the platform)")

    def _check_name(self, found: Findings) -> None:
        """The name, where objects built from it have a tighter limit, and the service not its own peer."""
        # A StatefulSet's <name>-headless Service (<= 63) allows 54; its pods' revision label 52.
        if self.kind == "StatefulSet" and len(self.name) > STATEFULSET_NAME_MAX:
            found(
                "name",
                f"must be at most {STATEFULSET_NAME_MAX} characters for a StatefulSet ({len(self.name)}: "
                f"{shown(self.name)}): "
                "its pods' controller-revision-hash label is <name>-<10-character hash> (<= 63)",
            )
        if self.name in self.allow_from:
            found("allowFrom", f"lists the service itself ({shown(self.name)})")

    def _check_availability(self, found: Findings) -> None:
        """The disruption budget against the pods there are; volumes per pod only on a StatefulSet."""
        if self.pdb.enabled:
            pods = self.min_pods()
            if self.pdb.min_available is not None and self.pdb.min_available >= pods:
                at = "autoscaling.minReplicas" if self.autoscaling.enabled else "replicas"
                found(
                    "pdb.minAvailable",
                    f"must be < {at} ({self.pdb.min_available} >= {pods}): the budget would forbid every voluntary "
                    "disruption",
                )
        if self.persistence.enabled and self.kind != "StatefulSet":
            found("persistence.enabled", "per-pod volumes need kind: StatefulSet")

    def _check_jobs(self, found: Findings) -> None:
        """Migration and cleanup: they work on Postgres, and their Jobs' names fit their labels."""
        # A Job's name is its pods' job-name label (<= 63); a CronJob's leaves 11 for its Jobs' (<= 52).
        for key, alias, suffix, limit in (
            ("migration", "migration", "-migrate-12345678", 63),
            ("checkpoint_cleanup", "checkpointCleanup", "-cleanup", 52),
        ):
            if getattr(self, key).enabled and not self.uses_postgres:
                found(f"{alias}.enabled", "needs usesPostgres: it works on the checkpoint database")
            if getattr(self, key).enabled and len(self.name) + len(suffix) > limit:
                found(
                    "name",
                    f"must be at most {limit - len(suffix)} characters with {alias} enabled (its name is "
                    f"<name>{suffix[:8]}..., at most {limit})",
                )

    def _check_keda(self, found: Findings) -> None:
        """KEDA scales on a store the service uses."""
        a = self.autoscaling
        if a.enabled and a.engine == "keda" and not getattr(self, f"uses_{a.keda.trigger}"):
            found(
                "autoscaling.keda.trigger",
                f"{a.keda.trigger} needs uses{a.keda.trigger.capitalize()}: "
                "the service must use the store it scales on",
            )

    def _check_volumes(self, found: Findings) -> None:
        """Extra volumes named once and mounted where they exist, mount paths unique per container, sidecars probed."""
        volumes = {v.name for v in self.extra_volumes} | {"tmp"}
        for i, v in enumerate(self.extra_volumes):
            if v.name in [w.name for w in self.extra_volumes[:i]]:
                found(f"extraVolumes[{i}].name", f"duplicate volume {shown(v.name)}")
        mounts = [("extraVolumeMounts", i, m) for i, m in enumerate(self.extra_volume_mounts)]
        for group in ("initContainers", "sidecars"):
            for j, extra in enumerate(getattr(self, "init_containers" if group == "initContainers" else "sidecars")):
                mounts += [(f"{group}[{j}].volumeMounts", i, m) for i, m in enumerate(extra.volume_mounts)]
                if group == "sidecars" and extra.probe is None:
                    found(f"sidecars[{j}].probe", "is required: a long-running container needs a health check")
        for where, i, m in mounts:
            if m.name not in volumes:
                found(f"{where}[{i}].name", f"{shown(m.name)} is not a volume of extraVolumes")
        # core validation ValidateVolumeMounts: a container's mount paths are unique; the platform's own
        # (/tmp, and /data with persistence) count.
        taken: dict[str, set[str]] = {}
        for where, i, m in mounts:
            platform = {"/tmp"} | ({"/data"} if where == "extraVolumeMounts" and self.persistence.enabled else set())
            paths = taken.setdefault(where, set(platform))
            if m.mount_path.rstrip("/") in paths:
                owner = "the platform's" if m.mount_path.rstrip("/") in platform else "another mount's"
                found(
                    f"{where}[{i}].mountPath",
                    f"{shown(m.mount_path)} is already {owner} mount path in this container",
                )
            paths.add(m.mount_path.rstrip("/"))

    def _check_containers(self, found: Findings) -> None:
        """Init containers and sidecars named once."""
        names = [x.name for x in self.init_containers + self.sidecars]
        for name in sorted({n for n in names if names.count(n) > 1}):
            found("sidecars", f"container name {shown(name)} is used twice")

    def _check_rollout(self, found: Findings) -> None:
        """The release strategy fits the kind and leaves room for the second Deployment's name."""
        r = self.rollout
        if r.partition is not None and self.kind != "StatefulSet":
            found("rollout.partition", "only applies to kind: StatefulSet (a Deployment has no ordinals)")
        if r.strategy != "rolling" and self.kind != "Deployment":
            found(
                "rollout.strategy",
                f"{r.strategy} needs kind: Deployment "
                "(a StatefulSet's pods own their volumes; stage it with partition)",
            )
        if r.strategy != "rolling" and len(self.name) > 63 - len(CANARY_SUFFIX):
            found(
                "name",
                f"must be at most {63 - len(CANARY_SUFFIX)} characters with strategy {r.strategy} "
                "(the second Deployment is named <name>-canary / -green)",
            )

    def units(self) -> list[ReleaseUnit]:
        """The Deployments or StatefulSets this service runs as, the stable (or active) one first.

        A canary or blueGreen strategy without its block (missing, or left out of a check run because
        it is invalid) is judged as a rolling service: the block's own problem is reported at its key."""
        r, autoscaled = self.rollout, self.autoscaling.enabled
        if r.strategy == "canary" and r.canary is not None:
            return [
                ReleaseUnit(self.name, self.image, "stable", autoscaled, self.replicas),
                ReleaseUnit(f"{self.name}{CANARY_SUFFIX}", r.canary.image, "canary", False, r.canary.replicas),
            ]
        if r.strategy == "blueGreen" and r.blue_green is not None:
            bg = r.blue_green
            images = {"blue": bg.blue_image or self.image, "green": bg.green_image or self.image}
            idle = bg.idle_replicas
            return [
                ReleaseUnit(f"{self.name}-{colour}", images[colour], "active", autoscaled, self.replicas)
                if colour == bg.active
                else ReleaseUnit(
                    f"{self.name}-{colour}",
                    images[colour],
                    "idle",
                    autoscaled and idle is None,
                    self.replicas if idle is None else idle,
                )
                for colour in ("blue", "green")
            ]
        return [ReleaseUnit(self.name, self.image, "stable", autoscaled, self.replicas)]

    def pod_names(self) -> list[str]:
        """The app names (app.kubernetes.io/name) its pods carry: what NetworkPolicies select."""
        return [unit.name for unit in self.units()]

    def canary_unit(self) -> ReleaseUnit | None:
        return next((unit for unit in self.units() if unit.role == "canary"), None)
