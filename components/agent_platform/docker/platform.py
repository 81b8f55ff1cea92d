"""DockerPlatform: the same agent stack on one Docker host (compose-style), from the same settings.

Networks: `backend` (internal: no route out) for the app, Postgres and Redis;
`frontend` for the proxy and the app (the app's way out to LLM APIs). Named
volumes keep Postgres and Redis data. Each image is a pinned RemoteImage. Every
container is hardened (components/agent_platform/docker/container.py) and waits until healthy;
the app replicas start after the data stores, the proxy after the app.
"""

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from agent_platform.args import DockerPlatformArgs
from agent_platform.component_args import secret_value, stack_settings
from agent_platform.docker import backup, monitoring
from agent_platform.docker.container import ContainerSpec, hardened_container, one_shot_succeeded
from agent_platform.docker.nginx import nginx_conf
from agent_platform.settings.docker import DockerConfig
from agent_platform.settings.service import AgentServiceConfig
from agent_platform.settings.stack import StackConfig
from agent_platform.settings.stores import DatastoreBase
from agent_platform.settings.tracing import traced
from agent_platform.settings.values import with_registry
from agent_platform.store_runtime import REDIS_PORT, pg_isready, postgres_url, redis_server_options, redis_url

PROXY_PORT = 8080  # nginx-unprivileged listens here: non-root cannot bind below 1024


def app_healthcheck(port: int, path: str) -> list[str]:
    # The app is a Python (FastAPI) image: python is there even when curl and wget are not.
    return [
        "CMD",
        "python",
        "-c",
        f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}{path}', timeout=3)",
    ]


class DockerPlatform(pulumi.ComponentResource):
    """The agent stack on one Docker host: Postgres, Redis, the app replicas and an nginx proxy, each a
    hardened container (non-root, read-only, no capabilities, limits, health checks) on an internal
    backend network, images pinned, data on named volumes."""

    url: pulumi.Output[str]
    """URL of the proxy on the host."""
    service_names: pulumi.Output[list[str]]
    """Names of the agent services."""
    postgres_password: pulumi.Output[str] | None
    """The generated Postgres password (secret); None for an external database."""
    redis_password: pulumi.Output[str] | None
    """The generated Redis password (secret); None for an external Redis."""

    def __init__(
        self, resource_name: str, args: DockerPlatformArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agent-platform:docker:DockerPlatform", resource_name, None, opts)
        self.where = f"DockerPlatform {resource_name}"
        config = stack_settings(StackConfig, args, "docker", DockerPlatformArgs, self.where)
        self.config = config
        self.secrets = args.get("secret_values") or {}
        d = config.docker_settings()
        self.provider = docker.Provider("docker-host", host=d.host, opts=pulumi.ResourceOptions(parent=self))
        self.child = pulumi.ResourceOptions(parent=self, provider=self.provider)
        self.prefix = f"agent-platform-{config.environment}"
        self.images: dict[str, docker.RemoteImage] = {}

        self.backend = docker.Network("backend", name=f"{self.prefix}-backend", internal=True, opts=self.child)
        self.frontend = docker.Network("frontend", name=f"{self.prefix}-frontend", opts=self.child)

        self.datastores: list[docker.Container] = []
        self.postgres: docker.Container | None = None  # in-stack Postgres, which a migration waits for
        self.redis: docker.Container | None = None  # in-stack Redis, which its exporter waits for
        self.postgres_password = self.redis_password = None
        self.backup_scheduler: docker.Container | None = None  # base backups on schedule (postgres.backup)
        self.backup_mounts: list[tuple[pulumi.Input[str], str]] = []  # (repository, socket) volumes
        self.data_volume: pulumi.Input[str] | None = None
        database_url = self._postgres(config, d.postgres_user)
        redis_url = self._redis(config, d.redis_user)

        upstreams = []
        self.app_containers: list[docker.Container] = []
        for s in config.services:
            upstream = self._service(s, database_url, redis_url)
            if upstream is not None:
                upstreams.append(upstream)
        self._proxy(config, d, upstreams)
        if config.monitoring.enabled:
            self._monitoring(config, d)

        self.url = pulumi.Output.from_input(f"http://{d.proxy.bind_address}:{d.proxy.host_port}")
        self.service_names = pulumi.Output.from_input([s.name for s in config.services])
        self.register_outputs({"url": self.url})

    def _service(
        self, s: AgentServiceConfig, database_url: pulumi.Input[str], redis_url: pulumi.Input[str]
    ) -> tuple[str, list[str], int, list[str]] | None:
        """A service's replicas (after its migration, each after the one before it); its proxy upstream."""
        # Tracing's variables as the service's own: plain in the container's env, secret ones from the
        # compose env file (preview/compose.py). The app reaches the endpoint through the frontend
        # network, its one way out.
        s = traced(s, self.config.tracing, self.config.environment)
        env: dict[str, pulumi.Input[str]] = {**s.platform_env(), **s.env}
        env.update(
            {
                name: secret_value(self.secrets, key, self.where, f"services.{s.name}.secret_env.{name}")
                for name, key in s.secret_env.items()
            }
        )
        if self.config.monitoring.enabled:
            env["METRICS_PORT"] = str(self.config.monitoring.port)  # the app contract's metrics port
        if s.uses_postgres:
            env[s.url_env("postgres")] = database_url
        if s.uses_redis:
            env[s.url_env("redis")] = redis_url
        replicas = [f"{s.name}-{i}" for i in range(1, s.replicas + 1)]
        image, after = self._image(s.image), list(self.datastores)
        if s.migration.enabled:
            before = self._backup_before_migration(s, image) if self.backup_scheduler else None
            if before is not None:
                image = one_shot_succeeded(before, image)
            migration = self._migration(s, image, database_url, before)
            image, after = one_shot_succeeded(migration, image), [*after, migration]
        startup = s.probes.startup
        previous: list[docker.Container] = []
        for replica in replicas:
            # Each replica after the one before it: an image bump replaces them one at a
            # time, the next old one stopped only once the new one before it is healthy.
            # dependsOn orders the engine's delete-before-replace chains without making the
            # next replica a dependent replacement (pulumi/pulumi step_generator.go
            # calculateDependentReplacements: only property dependencies do); a property
            # taken from the previous replica, replaceWith or deletedWith would take both
            # down together.
            self.app_containers.append(
                hardened_container(
                    ContainerSpec(
                        name=replica,
                        image=image,
                        user=f"{s.security_context.run_as_user}:{s.security_context.run_as_group}",
                        resources=s.resources,
                        env=env,
                        command=(s.command or []) + (s.args or []) or None,
                        healthcheck=["CMD", *s.probes.docker_command]
                        if s.probes.docker_command
                        else app_healthcheck(s.probes.port or s.port, s.probes.liveness.path),
                        networks=[(self.backend.name, [s.name, replica]), (self.frontend.name, [s.name, replica])],
                        start_period=f"{max(20, startup.period_seconds * startup.failure_threshold)}s",
                        stop_grace_seconds=s.drain.termination_grace_seconds,
                    ),
                    pulumi.ResourceOptions.merge(self.child, pulumi.ResourceOptions(depends_on=after + previous)),
                )
            )
            previous = [self.app_containers[-1]]
        return (s.name, replicas, s.port, s.ingress.paths) if s.ingress.enabled else None

    def _proxy(self, config: StackConfig, d: DockerConfig, upstreams: list) -> None:
        """nginx in front of every routed replica, the only published port."""
        conf = nginx_conf(upstreams, PROXY_PORT, config.ingress.stream_timeout_seconds, config.ingress.max_body_size)
        self.proxy = hardened_container(
            ContainerSpec(
                name="proxy",
                image=self._image(d.proxy.image),
                user="101:101",
                resources=d.proxy.resources,
                healthcheck=["CMD", "wget", "-qO-", f"http://127.0.0.1:{PROXY_PORT}/nginx-health"],
                networks=[(self.frontend.name, ["proxy"])],
                # conf.d is a tmpfs: the generated server config is written there at start.
                tmpfs=("/tmp", "/var/cache/nginx", "/etc/nginx/conf.d"),
                files=[("/etc/nginx/conf.d/default.conf", conf)],
                command=["nginx", "-g", "daemon off;"],
                ports=[(PROXY_PORT, d.proxy.host_port, d.proxy.bind_address)],
                stop_grace_seconds=max(s.drain.termination_grace_seconds for s in config.services),
            ),
            pulumi.ResourceOptions.merge(self.child, pulumi.ResourceOptions(depends_on=self.app_containers)),
        )

    def _monitoring(self, config: StackConfig, d: DockerConfig) -> None:
        """Prometheus (docker/monitoring.py) and an exporter per in-stack store, on the backend network;
        Prometheus also on a `monitoring` network of its own, which only publishes its port."""
        m = d.monitoring
        exporters: list[docker.Container] = []
        if config.postgres.mode == "inCluster" and self.postgres is not None:
            url = postgres_url(config.postgres, self.postgres_password, "postgres")
            exporters.append(
                hardened_container(
                    ContainerSpec(
                        name="postgres-exporter",
                        image=self._image(m.postgres_exporter_image),
                        user=monitoring.NOBODY,
                        resources=m.exporter_resources,
                        # The DSN holds the password: a secret, so it goes to the compose env file.
                        env={
                            "DATA_SOURCE_NAME": pulumi.Output.secret(
                                pulumi.Output.concat(
                                    url, f"?sslmode=disable&connect_timeout={monitoring.STORE_CONNECT_TIMEOUT_SECONDS}"
                                )
                            )
                        },
                        command=monitoring.postgres_exporter_command(),
                        healthcheck=monitoring.healthcheck(monitoring.POSTGRES_EXPORTER_PORT),
                        networks=[(self.backend.name, ["postgres-exporter"])],
                        tmpfs=("/tmp", monitoring.QUERIES_DIR),
                        files=[(monitoring.QUERIES_PATH, monitoring.postgres_exporter_queries(config))],
                    ),
                    pulumi.ResourceOptions.merge(self.child, pulumi.ResourceOptions(depends_on=[self.postgres])),
                )
            )
        if config.redis.mode == "inCluster" and self.redis is not None:
            exporters.append(
                hardened_container(
                    ContainerSpec(
                        name="redis-exporter",
                        image=self._image(m.redis_exporter_image),
                        user=monitoring.NOBODY,
                        resources=m.exporter_resources,
                        # redis_exporter reads REDIS_ADDR and REDIS_PASSWORD (main.go lines 56, 58).
                        env={"REDIS_ADDR": f"redis://redis:{REDIS_PORT}", "REDIS_PASSWORD": self.redis_password},
                        command=monitoring.redis_exporter_command(),
                        healthcheck=monitoring.healthcheck(monitoring.REDIS_EXPORTER_PORT),
                        networks=[(self.backend.name, ["redis-exporter"])],
                    ),
                    # Redis alone: what depends on Postgres is what its restore stops (tools/restore_docker.py).
                    pulumi.ResourceOptions.merge(self.child, pulumi.ResourceOptions(depends_on=[self.redis])),
                )
            )
        self.monitoring_network = docker.Network("monitoring", name=f"{self.prefix}-monitoring", opts=self.child)
        data = self._named_volume("prometheus-data", False)
        self.prometheus = hardened_container(
            ContainerSpec(
                name="prometheus",
                image=self._image(m.prometheus_image),
                user=monitoring.NOBODY,
                resources=m.resources,
                command=monitoring.prometheus_command(config),
                healthcheck=monitoring.healthcheck(monitoring.PROMETHEUS_PORT, "/-/ready"),
                networks=[(self.backend.name, ["prometheus"]), (self.monitoring_network.name, ["prometheus"])],
                tmpfs=("/tmp", monitoring.CONFIG_DIR),
                files=[
                    (monitoring.CONFIG_PATH, monitoring.prometheus_config(config)),
                    (monitoring.RULES_PATH, monitoring.rules_file(config)),
                ],
                volumes=[(data.name, monitoring.DATA_PATH)],
                ports=[(monitoring.PROMETHEUS_PORT, m.host_port, m.bind_address)],
            ),
            pulumi.ResourceOptions.merge(
                self.child, pulumi.ResourceOptions(depends_on=[*exporters, *self.app_containers])
            ),
        )

    # --- pieces ------------------------------------------------------------------------------
    def _image(self, ref: str) -> pulumi.Output[str]:
        """One pinned RemoteImage per distinct reference; containers run exactly that image."""
        ref = with_registry(ref, self.config.registry)
        if ref not in self.images:
            logical = "image-" + ref.split("@")[0].rsplit("/", 1)[-1].replace(":", "-").replace(".", "-")
            self.images[ref] = docker.RemoteImage(logical, name=ref, keep_locally=True, opts=self.child)
        return self.images[ref].image_id

    def _backup_spec(self, name: str, **kwargs) -> ContainerSpec:
        """A pgBackRest container: Postgres' image (the same pgBackRest as its archive_command), no
        network, the repository and socket volumes read-write and the data volume read-only."""
        c, d = self.config.postgres, self.config.docker_settings()
        return ContainerSpec(
            name=name,
            image=self._image(c.image),
            user=d.postgres_user,
            resources=d.backup.resources,
            networks=[],
            no_network=True,
            volumes=self.backup_mounts,
            read_only_volumes=[(self.data_volume, backup.DATA_PATH)],
            stop_grace_seconds=60,
            **kwargs,
        )

    def _backup_scheduler(self) -> docker.Container:
        c = self.config.postgres
        return hardened_container(
            self._backup_spec(
                "postgres-backup",
                env={**self.backup_env, "PGBACKREST_SCHEDULE": c.backup.schedule},
                command=["sh", backup.SCHEDULER_PATH],
                files=[(backup.SCHEDULER_PATH, backup.scheduler_script(c.backup.schedule))],
                healthcheck=backup.healthcheck(c.backup.max_age_hours),
                # The first base backup is taken before it turns healthy: give a large database time.
                start_period="3600s",
                wait_seconds=3600,
            ),
            pulumi.ResourceOptions.merge(
                self.child,
                pulumi.ResourceOptions(
                    depends_on=[self.postgres],
                ),
            ),
        )

    def _backup_before_migration(self, s, image: pulumi.Output[str]) -> docker.Container | None:
        """A one-shot full base backup `<name>-migrate-backup` that the migration waits for. It
        carries the service's image id, so a new image (which runs the migration again) takes a
        new backup first."""
        if not self.config.postgres.backup.before_migration:
            return None
        return hardened_container(
            self._backup_spec(
                f"{s.name}-migrate-backup",
                env={**self.backup_env, "BACKUP_BEFORE_MIGRATION_TO": image},
                command=backup.base_backup_command(),
                healthcheck=(),
                one_shot=True,
            ),
            pulumi.ResourceOptions.merge(
                self.child,
                pulumi.ResourceOptions(
                    depends_on=[self.postgres, self.backup_scheduler],
                    custom_timeouts=pulumi.CustomTimeouts(create="60m"),
                ),
            ),
        )

    def _migration(
        self, s, image: pulumi.Output[str], database_url: pulumi.Input[str], before: docker.Container | None = None
    ) -> docker.Container:
        """The Kubernetes migration Job's equivalent: a one-shot `<name>-migrate` container of the
        service's image running its migration command once the data stores are healthy. Its image
        is ForceNew, so a new image runs it again (Docker replaces a container delete-first:
        pulumi-docker provider/resources.go DeleteBeforeReplace). It reaches Postgres only (the
        internal backend network), waits for it alone and gets only DATABASE_URL. The provider waits up to the
        deadline plus a minute, as pulumi-kubernetes waits for a Job; Docker has no retries."""
        m = s.migration
        name = f"{s.name}-migrate"
        return hardened_container(
            ContainerSpec(
                name=name,
                image=image,
                user=f"{s.security_context.run_as_user}:{s.security_context.run_as_group}",
                resources=s.resources,
                env={s.url_env("postgres"): database_url},
                command=[*m.command, *(m.args or [])],
                healthcheck=(),
                networks=[(self.backend.name, [name])],
                one_shot=True,
            ),
            pulumi.ResourceOptions.merge(
                self.child,
                pulumi.ResourceOptions(
                    depends_on=([self.postgres] if self.postgres else []) + ([before] if before else []),
                    custom_timeouts=pulumi.CustomTimeouts(create=f"{m.active_deadline_seconds + 60}s"),
                ),
            ),
        )

    def _named_volume(self, logical: str, protect: bool) -> docker.Volume:
        return docker.Volume(
            logical,
            name=f"{self.prefix}-{logical}",
            opts=pulumi.ResourceOptions.merge(
                self.child, pulumi.ResourceOptions(protect=protect, retain_on_delete=protect)
            ),
        )

    def _volume(self, store: str, config: DatastoreBase) -> list[tuple[pulumi.Input[str], str]]:
        if not config.persistence.enabled:
            return []
        volume = self._named_volume(f"{store}-data", config.protect)
        return [(volume.name, backup.DATA_PATH if store == "postgres" else "/data")]

    def _password(self, store: str, config: DatastoreBase) -> pulumi.Output[str]:
        return random.RandomPassword(
            f"{store}-password",
            length=32,
            special=False,
            opts=pulumi.ResourceOptions.merge(self.child, pulumi.ResourceOptions(protect=config.protect)),
        ).result

    def _postgres(self, config: StackConfig, user: str) -> pulumi.Output[str]:
        c = config.postgres
        if c.mode == "external":
            return secret_value(self.secrets, c.external_url_key, self.where, "postgres.external_url_key")
        password = self.postgres_password = self._password("postgres", c)
        volumes = self._volume("postgres", c)
        env: dict[str, pulumi.Input[str]] = {
            "POSTGRES_USER": c.user,
            "POSTGRES_DB": c.database,
            "POSTGRES_PASSWORD": password,
            "PGDATA": backup.PGDATA,
        }
        command, tmpfs = None, ("/tmp", backup.SOCKET_PATH)
        if c.backup.enabled:
            # WAL goes to the repository from Postgres itself (archive_command); the socket
            # directory is a volume the backup containers mount to reach Postgres.
            d = self.config.docker_settings()
            self.data_volume = volumes[0][0]
            self.backup_mounts = [
                (self._named_volume("postgres-backup", c.protect).name, backup.REPO_PATH),
                (self._named_volume("postgres-socket", False).name, backup.SOCKET_PATH),
            ]
            self.backup_env = backup.pgbackrest_env(c, d.backup)
            env.update(self.backup_env)
            command, tmpfs = ["postgres", *backup.archive_options(d.backup)], ("/tmp",)
            volumes = [*volumes, *self.backup_mounts]
        self.postgres = hardened_container(
            ContainerSpec(
                name="postgres",
                image=self._image(c.image),
                user=user,
                resources=c.resources,
                env=env,
                command=command,
                healthcheck=["CMD", *pg_isready(c)],
                networks=[(self.backend.name, ["postgres"])],
                tmpfs=tmpfs,
                volumes=volumes,
                stop_grace_seconds=60,
                # Fast shutdown: SIGTERM is Postgres' smart shutdown, which waits for every client
                # to leave; the app's pools never do, so every stop ran into the grace period and
                # ended in SIGKILL and crash recovery (found by the Aegra e2e: restarts took 60 s).
                # SIGINT rolls back open transactions, checkpoints and exits, as the official
                # image's STOPSIGNAL does.
                stop_signal="SIGINT",
            ),
            pulumi.ResourceOptions.merge(
                self.child, pulumi.ResourceOptions(protect=c.protect, retain_on_delete=c.protect)
            ),
        )
        self.datastores.append(self.postgres)
        if c.backup.enabled:
            self.backup_scheduler = self._backup_scheduler()
        return pulumi.Output.secret(postgres_url(c, password, "postgres"))

    def _redis(self, config: StackConfig, user: str) -> pulumi.Output[str]:
        c = config.redis_settings()
        if c.mode == "external":
            return secret_value(self.secrets, c.external_url_key, self.where, "redis.external_url_key")
        password = self.redis_password = self._password("redis", c)
        # The password is read from the env at start: it is in no command line.
        server = " ".join(["exec redis-server", *redis_server_options(c), '--requirepass "$REDIS_PASSWORD"'])
        self.redis = hardened_container(
            ContainerSpec(
                name="redis",
                image=self._image(c.image),
                user=user,
                resources=c.resources,
                env={"REDIS_PASSWORD": password},
                command=["sh", "-c", server],
                healthcheck=[
                    "CMD-SHELL",
                    'REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -h 127.0.0.1 ping | grep -q PONG',
                ],
                networks=[(self.backend.name, ["redis"])],
                volumes=self._volume("redis", c),
            ),
            pulumi.ResourceOptions.merge(
                self.child, pulumi.ResourceOptions(protect=c.protect, retain_on_delete=c.protect)
            ),
        )
        self.datastores.append(self.redis)
        return pulumi.Output.secret(redis_url(password, "redis"))
