"""A whole stack: every concern together, and the checks across them."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
)
from pydantic_core import PydanticCustomError

from agent_platform.settings import capacity
from agent_platform.settings.base import Model
from agent_platform.settings.capacity import _bytes_quantity, _cpu_quantity
from agent_platform.settings.cluster import (
    DOCKER_MIN_MEMORY,
    Availability,
    GatewayRef,
    IngressConfig,
    KubernetesConfig,
    Monitoring,
    NamespaceConfig,
    NetworkConfig,
    SecretsSettings,
)
from agent_platform.settings.docker import DOCKER_MAX_REPLICAS, DockerConfig
from agent_platform.settings.errors import Findings, check, shown
from agent_platform.settings.service import AgentServiceConfig
from agent_platform.settings.stores import (
    SUPERUSER_RESERVED_CONNECTIONS,
    PostgresConfig,
    RedisConfig,
    check_eviction,
    official_postgres_image,
)
from agent_platform.settings.tracing import Tracing
from agent_platform.settings.values import DnsLabel, LabelValue, MetadataKey, ObjectName, PlainText, quantity_value


class StackConfig(Model):
    environment: DnsLabel = Field(description="Environment name (labels, policy config): e.g. `dev`, `prod`.")
    platform: Literal["kubernetes", "docker"] = Field(
        "kubernetes", description="Target: a Kubernetes cluster or a Docker host."
    )
    kubernetes: KubernetesConfig | None = Field(None, description="Cluster to deploy to (platform kubernetes).")
    namespace: NamespaceConfig | None = Field(None, description="Namespace and its guard rails (platform kubernetes).")
    services: list[AgentServiceConfig] = Field(min_length=1, description="Agent API services (one per graph or API).")
    postgres: PostgresConfig = Field(PostgresConfig(), description="Checkpoint store.")
    redis: RedisConfig = Field(RedisConfig(), description="Cache, queues and stream resumption.")
    ingress: IngressConfig = Field(
        IngressConfig(enabled=False), description="External HTTPS entry (platform kubernetes)."
    )
    network: NetworkConfig = Field(NetworkConfig(), description="NetworkPolicy peers (platform kubernetes).")
    availability: Availability = Field(Availability(), description="Placement of agent pods.")
    docker: DockerConfig | None = Field(None, description="Docker host settings (platform docker).")
    registry: str | None = Field(
        None,
        pattern=r"^(localhost|[a-z0-9-]+(\.[a-z0-9-]+)+)(:\d{1,5})?(/[a-z0-9._-]+)*$",
        description="Registry (and path) put before every image given without one (`postgres:16`, `acme/agent:1.2`): a "
        "private mirror, e.g. `registry.example.com/mirror`.",
    )
    image_pull_secrets: list[ObjectName] = Field(
        [],
        description="Existing docker-registry Secrets in the namespace that every pod pulls with "
        "(platform kubernetes).",
    )
    monitoring: Monitoring = Field(Monitoring(), description="Metrics scraping and alert rules (platform kubernetes).")
    tracing: Tracing = Field(
        Tracing(), description="Where every agent service sends its traces (OTLP, LangSmith or Langfuse); default off."
    )
    exposure: Literal["ingress", "gatewayApi"] = Field(
        "ingress",
        description="How external traffic enters: an Ingress (`ingress`), or an HTTPRoute on an existing Gateway "
        "(`gatewayApi`); `ingress` settings (host, timeouts, body size) apply to both.",
    )
    gateway: GatewayRef | None = Field(None, description="gatewayApi: the Gateway and its HTTPS listener.")
    secrets: SecretsSettings = Field(
        SecretsSettings(),
        description="Where API keys and external data-store URLs come from (in-cluster data stores always generate "
        "their password).",
    )
    labels: dict[MetadataKey, LabelValue] = Field(
        {}, description="Labels added to every object (cost centre, team); the platform's own keys are refused."
    )
    annotations: dict[MetadataKey, PlainText] = Field({}, description="Annotations added to every object.")

    def redis_queue_services(self) -> list[int]:
        """Indexes of the services whose run queue is a Redis list (KEDA trigger redis)."""
        return [
            i
            for i, s in enumerate(self.services)
            if s.autoscaling.enabled and s.autoscaling.engine == "keda" and s.autoscaling.keda.trigger == "redis"
        ]

    def redis_settings(self) -> RedisConfig:
        """Redis as it runs: the eviction policy resolved for what this stack keeps in it."""
        policy = self.redis.eviction_policy(bool(self.redis_queue_services()))
        return self.redis.model_copy(update={"maxmemory_policy": policy})

    @check
    def _stack(self) -> StackConfig:
        found = Findings()
        self._check_run_queue(found)
        self._check_service_names(found)
        self._check_ingress_paths(found)
        self._check_tracing(found)
        if self.platform == "docker" and self.postgres.mode == "inCluster":
            self._check_docker_postgres(found)
        if self.platform == "kubernetes":
            self._check_kubernetes(found)
        else:
            self._check_docker(found)
        found.raise_any("StackConfig")
        return self

    def _check_run_queue(self, found: Findings) -> None:
        """A Redis list that is the run queue must not be evicted."""
        queued = self.redis_queue_services()
        if queued and self.redis.mode == "inCluster":
            i = queued[0]
            try:
                check_eviction(
                    self.redis.maxmemory_policy,
                    f"services[{i}].autoscaling.keda.trigger is redis: "
                    f"its list {shown(self.services[i].autoscaling.keda.list_name)} is the run queue",
                    "redis.maxmemoryPolicy",
                )
            except PydanticCustomError as error:
                found.errors.append(error)  # reported with the stack's other findings

    def _check_service_names(self, found: Findings) -> None:
        """Service names unique and not those of the data stores."""
        names = [s.name for s in self.services]
        for i, name in enumerate(names):
            if name in names[:i]:
                found(f"services[{i}].name", f"duplicate service name {shown(name)}")
            if name in ("postgres", "redis"):
                found(f"services[{i}].name", f"{shown(name)} is taken by the data store")

    def _check_ingress_paths(self, found: Findings) -> None:
        """Each path prefix routed to one service: nginx (the Ingress controller's, and a Docker host's
        proxy) refuses a duplicate location, and an Ingress or HTTPRoute holding one is ambiguous. A
        service that leaves ingress.paths unset inherits ["/"]: the second such service collides."""
        seen: dict[str, int] = {}
        for i, s in enumerate(self.services):
            if not s.ingress.enabled:
                continue
            inherited = "paths" not in s.ingress.model_fields_set
            for j, path in enumerate(s.ingress.paths):
                if path not in seen:
                    seen[path] = i
                    continue
                first = shown(self.services[seen[path]].name)
                fix = (
                    f"give {shown(s.name)} its own ingress.paths (e.g. {shown([f'/{s.name}'])}), or set its "
                    "ingress.enabled: false if it takes no external traffic"
                )
                if inherited:
                    found(
                        f"services[{i}].ingress.paths",
                        f"unset, so it inherits {shown(list(s.ingress.paths))}, and {shown(path)} is already routed "
                        f"to {first}: {fix}",
                    )
                else:
                    found(f"services[{i}].ingress.paths[{j}]", f"{shown(path)} is already routed to {first}: {fix}")

    def _check_tracing(self, found: Findings) -> None:
        """Tracing's variables set by no service itself, and its endpoint one the platform can reach."""
        names = set(self.tracing.reserved_names())
        if not names:
            return
        for i, s in enumerate(self.services):
            for where, given in (("env", s.env), ("secretEnv", s.secret_env)):
                for name in sorted(names & set(given)):
                    found(
                        f"services[{i}].{where}.{name}",
                        f"is set by tracing (provider {self.tracing.provider}); remove it, or turn tracing off",
                    )
            for j, extra in enumerate(s.extra_env):
                if extra.name in names:
                    found(
                        f"services[{i}].extraEnv[{j}].name",
                        f"{shown(extra.name)} is set by tracing (provider {self.tracing.provider})",
                    )
            if s.drain.budget_env in names:
                found(f"services[{i}].drain.budgetEnv", f"{shown(s.drain.budget_env)} is set by tracing")
        if self.platform == "docker" and self.tracing.in_cluster_namespace() is not None:
            found(
                "tracing.endpoint",
                f"{shown(self.tracing.url())} is a Kubernetes Service name: a Docker host does not resolve it",
            )

    def _check_docker_postgres(self, found: Findings) -> None:
        """What Postgres on a Docker host can and cannot do: backups, restores."""
        backup = self.postgres.backup
        if backup.enabled and backup.store == "objectStore":
            found(
                "postgres.backup.store",
                "objectStore is not implemented on the Docker platform yet (the Postgres network has no "
                "route out); use store volume and copy the repository off the host (docs/backups-docker.md)",
            )
        if self.postgres.restore.enabled:
            found(
                "postgres.restore.enabled",
                "a Docker host restores with `tools/restore-docker.sh --to latest|<RFC 3339 time>`, "
                "not a stack setting (docs/backups-docker.md)",
            )
        if backup.enabled and not self.postgres.persistence.enabled:
            found("postgres.backup.enabled", "needs postgres.persistence.enabled (a data volume to back up)")
        if backup.enabled and official_postgres_image(self.postgres.image):
            # Postgres runs pgbackrest as its archive_command: with the official image every WAL
            # segment's archiving fails, WAL piles up on the volume and no backup is ever taken.
            found(
                "postgres.image",
                f"{shown(self.postgres.image)} is the official image, which has no pgbackrest (postgres.backup "
                "runs it): build images/postgres-pgbackrest from it and set that image here "
                "(docs/backups-docker.md)",
            )

    def _check_kubernetes(self, found: Findings) -> None:
        """The keys a cluster needs, and what they must agree on."""
        for key in ("kubernetes", "namespace"):
            if getattr(self, key) is None:
                found(key, "is required when platform is kubernetes")
        if self.docker is not None:
            found("docker", "only applies when platform is docker")
        routed = [i for i, s in enumerate(self.services) if s.ingress.enabled]
        if self.ingress.enabled and not routed:
            found("ingress.enabled", "no service has ingress.enabled: nothing to route")
        if self.exposure == "gatewayApi" and self.gateway is None:
            found("gateway", "is required when exposure is gatewayApi")
        if self.exposure != "gatewayApi" and self.gateway is not None:
            found("gateway", "only applies when exposure is gatewayApi")
        if self.exposure == "gatewayApi" and self.gateway is not None:
            self._check_gateway_data_plane(found)
        self._check_releases(found)
        self._check_kubernetes_names(found)
        if self.namespace is not None:
            self._check_quota(found)
        if self.postgres.mode == "cloudnativepg":
            self._check_connection_budget(found)

    def _check_releases(self, found: Findings) -> None:
        """Canary and blue-green: routed at the Ingress, their Deployments' names free."""
        taken = {s.name: i for i, s in enumerate(self.services)}
        for i, s in enumerate(self.services):
            if s.rollout.strategy == "canary" and not (self.ingress.enabled and s.ingress.enabled):
                found(
                    f"services[{i}].rollout.strategy",
                    "canary splits external traffic at the Ingress: it needs ingress.enabled and the service's "
                    "ingress.enabled",
                )
            for unit in s.pod_names()[1:] if s.rollout.strategy == "canary" else s.pod_names():
                if unit in taken and unit != s.name:
                    found(
                        f"services[{i}].rollout.strategy",
                        f"its Deployment {shown(unit)} would clash with service {shown(unit)}",
                    )

    def _check_docker(self, found: Findings) -> None:
        """A Docker host has no cluster, namespace, Ingress or autoscaler: such keys mean a mixed-up stack file."""
        for key in ("kubernetes", "namespace"):
            if getattr(self, key) is not None:
                found(key, "only applies when platform is kubernetes")
        if self.ingress.enabled:
            found("ingress.enabled", "only applies when platform is kubernetes (Docker uses docker.proxy)")
        if self.secrets.mode != "pulumi":
            found(
                "secrets.mode",
                "only `pulumi` applies when platform is docker (a Docker host has no Secrets to read)",
            )
        if self.image_pull_secrets:
            found(
                "imagePullSecrets",
                "only applies when platform is kubernetes (a Docker host pulls with its own `docker login`)",
            )
        self._check_docker_services(found)
        if not any(s.ingress.enabled for s in self.services):
            found("services", "no service has ingress.enabled: the proxy has nothing to route")
        self._check_docker_memory(found)
        self._check_docker_monitoring(found)

    def _check_docker_monitoring(self, found: Findings) -> None:
        """With monitoring on, the image of Prometheus and of each in-stack store's exporter is named."""
        if not self.monitoring.enabled:
            return
        m = self.docker_settings().monitoring
        needed = [("prometheusImage", m.prometheus_image, "Prometheus")]
        if self.postgres.mode == "inCluster":
            needed.append(("postgresExporterImage", m.postgres_exporter_image, "postgres_exporter"))
        if self.redis.mode == "inCluster":
            needed.append(("redisExporterImage", m.redis_exporter_image, "redis_exporter"))
        for key, image, what in needed:
            if image is None:
                found(
                    f"docker.monitoring.{key}",
                    f"monitoring.enabled runs {what} on the Docker host: name its image here, pinned "
                    "(docs/observability.md says which interface it needs), or set monitoring.enabled to false",
                )

    def _check_docker_services(self, found: Findings) -> None:
        """Per service, what only a cluster does, and the replicas one host runs."""
        for i, s in enumerate(self.services):
            if s.rollout != type(s).model_fields["rollout"].default:
                found(
                    f"services[{i}].rollout",
                    "only applies when platform is kubernetes (a Docker host replaces containers one by one)",
                )
            for key, alias in (
                ("scheduling", "scheduling"),
                ("service_account", "serviceAccount"),
                ("env_from", "envFrom"),
                ("extra_env", "extraEnv"),
                ("init_containers", "initContainers"),
                ("sidecars", "sidecars"),
                ("extra_volumes", "extraVolumes"),
                ("extra_volume_mounts", "extraVolumeMounts"),
                ("checkpoint_cleanup", "checkpointCleanup"),
            ):
                if getattr(s, key) != type(s).model_fields[key].default:
                    found(f"services[{i}].{alias}", "only applies when platform is kubernetes")
        for i, s in enumerate(self.services):
            if s.autoscaling.enabled:
                found(
                    f"services[{i}].autoscaling.enabled",
                    "a Docker host has no autoscaler: set it to false and use replicas",
                )
        for i, s in enumerate(self.services):
            if s.replicas > DOCKER_MAX_REPLICAS:
                found(
                    f"services[{i}].replicas",
                    f"must be at most {DOCKER_MAX_REPLICAS} on a Docker host, got {s.replicas}: each replica is a "
                    "container the platform replaces after the one before it (docs/docker.md); more capacity "
                    "comes from each replica's resources, or from platform kubernetes",
                )

    def _check_docker_memory(self, found: Findings) -> None:
        """Every container's memory limit at least Docker's minimum."""
        # Docker refuses a container memory limit under 6 MiB (moby daemon/daemon_unix.go
        # linuxMinMemory: "Minimum memory limit allowed is 6MB").
        docker = self.docker_settings()
        limited = [(f"services[{i}].resources", s.resources) for i, s in enumerate(self.services)]
        limited += [("docker.proxy.resources", docker.proxy.resources)]
        limited += [("docker.backup.resources", docker.backup.resources)]
        if self.monitoring.enabled:
            limited += [
                ("docker.monitoring.resources", docker.monitoring.resources),
                ("docker.monitoring.exporterResources", docker.monitoring.exporter_resources),
            ]
        limited += [
            (f"{k}.resources", getattr(self, k).resources)
            for k in ("postgres", "redis")
            if getattr(self, k).mode == "inCluster"
        ]
        for where, resources in limited:
            if quantity_value(resources.limits.memory) < DOCKER_MIN_MEMORY:
                found(
                    f"{where}.limits.memory",
                    f"Docker's minimum memory limit is 6Mi, got {shown(resources.limits.memory)}",
                )

    def _check_gateway_data_plane(self, found: Findings) -> None:
        # The backends admit the Gateway's data plane by its namespace; ingressControllerNamespace names an
        # Ingress controller's, which a Gateway's proxies need not share.
        if "ingress_controller_namespace" in self.network.model_fields_set:
            found(
                "network.ingressControllerNamespace",
                f"applies to exposure ingress, got {shown(self.network.ingress_controller_namespace)}; with gatewayApi "
                "the "
                "backends admit gateway.dataPlaneNamespace (default: gateway.namespace): set that instead",
            )
        gateway = self.gateway
        assert gateway is not None
        if gateway.data_plane_namespace is None and gateway.namespace is None:
            found(
                "gateway.dataPlaneNamespace",
                "is required when gateway.namespace is unset: name the namespace the Gateway's proxy pods run in "
                "(the backends admit only that one; the stack's own namespace would admit every pod in it)",
            )

    def gateway_data_plane_namespace(self) -> str:
        """Where the Gateway's data plane runs: as set, else the Gateway's namespace (validated to be one)."""
        gateway = self.gateway
        assert gateway is not None
        return gateway.data_plane_namespace or gateway.namespace or ""

    def _check_kubernetes_names(self, found: Findings) -> None:
        names = {s.name for s in self.services}
        for i, s in enumerate(self.services):
            # app.kubernetes.io/instance = <name>-<environment>, a label value (<= 63).
            instance = f"{s.name}-{self.environment}"
            if len(instance) > 63:
                found(
                    f"services[{i}].name",
                    f"with the environment, the instance label {shown(instance)} exceeds 63 characters "
                    f"({len(instance)})",
                )
            for j, peer in enumerate(s.allow_from):
                if peer not in names:
                    found(f"services[{i}].allowFrom[{j}]", f"{shown(peer)} is not a service of this stack")

    def worst_case(self) -> dict[str, float]:
        """What the namespace holds at worst (capacity.worst_case)."""
        limit_range = self.namespace.limit_range if self.namespace is not None else None
        return capacity.worst_case(self.services, self.postgres, self.redis, limit_range)

    def derived_quota(self) -> dict[str, str]:
        """The worst case as ResourceQuota spec.hard amounts (used where namespace.quota sets none)."""
        return capacity.as_quota(self.worst_case())

    def _check_quota(self, found: Findings) -> None:
        assert self.namespace is not None
        q, worst = self.namespace.quota, self.worst_case()
        given = {
            "requests.cpu": ("cpu", q.cpu),
            "requests.memory": ("memory", q.memory),
            "limits.cpu": ("limitsCpu", q.limits_cpu),
            "limits.memory": ("limitsMemory", q.limits_memory),
            "requests.storage": ("storage", q.storage),
            "pods": ("pods", q.pods),
        }
        for hard, (key, value) in given.items():
            if value is None:
                continue
            need = worst[hard]
            if quantity_value(str(value)) < need - 1e-9:
                shown = (
                    _cpu_quantity(need)
                    if hard.endswith("cpu")
                    else (str(int(need)) if hard == "pods" else _bytes_quantity(need))
                )
                found(
                    f"namespace.quota.{key}",
                    f"{value} is below the worst case {shown} ({hard} at every service's maximum replicas with their "
                    "sidecars and init containers, plus rollout surge or migration, cleanup jobs and data stores): "
                    "the rollout or the autoscaler would stall; raise it or unset it to derive it",
                )

    def connection_demand(self) -> list[tuple[str, int]]:
        """What connects to Postgres at worst (capacity.connection_demand)."""
        return capacity.connection_demand(self.services)

    def _check_connection_budget(self, found: Findings) -> None:
        pg = self.postgres
        demand = self.connection_demand()
        need = sum(n for _, n in demand)
        for key, limit, what in pg.connection_capacity():
            if need > limit:
                found(
                    key,
                    f"connection budget: {need} connections at worst ({_terms(demand)}) "
                    f"exceed {limit}, {what}; raise {key.split('.', 1)[1]} or lower services[].databasePoolSize "
                    f"or the autoscaling maxima",
                )
        if pg.pooler.enabled:
            p, usable = pg.pooler, pg.max_connections - SUPERUSER_RESERVED_CONNECTIONS
            servers = p.instances * p.default_pool_size
            if servers > usable:
                found(
                    "postgres.pooler.defaultPoolSize",
                    f"connection budget: {p.instances} PgBouncer pods x defaultPoolSize {p.default_pool_size} = "
                    f"{servers} "
                    f"server connections exceed postgres.maxConnections {pg.max_connections} minus "
                    f"{SUPERUSER_RESERVED_CONNECTIONS} superuser-reserved = {usable}; lower it or raise "
                    "postgres.maxConnections",
                )

    def docker_settings(self) -> DockerConfig:
        return self.docker or DockerConfig()

    def named_secret_keys(self) -> list[str]:
        """Every key `secretEnv` and `externalUrlKey` name, wherever the values live."""
        keys = {k for s in self.services for k in s.secret_env.values()}
        keys |= {d.external_url_key for d in (self.postgres, self.redis) if d.external_url_key}
        keys |= set(self.tracing.secret_keys())
        return sorted(keys)

    def secret_keys(self) -> list[str]:
        """Every secret stack config key the program reads (sorted, unique): none when they live in an
        existing Secret."""
        if self.secrets.mode != "pulumi":
            return []
        keys = {k for s in self.services for k in s.secret_env.values()}
        keys |= {d.external_url_key for d in (self.postgres, self.redis) if d.external_url_key}
        keys |= set(self.tracing.secret_keys())
        return sorted(keys)


# A sum of more terms than this is summarised in a message: how many, and the three largest.
TERMS_SHOWN = 6


def _terms(demand: list[tuple[str, int]]) -> str:
    """The terms of a connection budget as a message lists them: all of a short sum; of a long one (a
    stack of 100 services has 300) the count and the three largest, each with its amount."""
    if len(demand) <= TERMS_SHOWN:
        return "; ".join(what for what, _ in demand)
    largest = sorted(demand, key=lambda term: -term[1])[:3]
    shown_terms = "; ".join(f"{what} = {n}" for what, n in largest)
    return f"{len(demand)} terms, the largest: {shown_terms}; and {len(demand) - 3} more"
