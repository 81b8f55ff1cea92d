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
from agent_platform.config import DatastoreBase, StackConfig, with_registry
from agent_platform.datastores import pg_isready, postgres_url, redis_server_options, redis_url
from agent_platform.docker.container import ContainerSpec, hardened_container, one_shot_succeeded
from agent_platform.docker.nginx import nginx_conf
from agent_platform.inputs import secret_value, settings_of

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

    def __init__(
        self, resource_name: str, args: DockerPlatformArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agent-platform:docker:DockerPlatform", resource_name, None, opts)
        self.where = f"DockerPlatform {resource_name}"
        config = settings_of(StackConfig, {**args, "platform": "docker"}, DockerPlatformArgs, self.where)
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
        database_url = self._postgres(config, d.postgres_user)
        redis_url = self._redis(config, d.redis_user)

        upstreams = []
        self.app_containers: list[docker.Container] = []
        for s in config.services:
            env: dict[str, pulumi.Input[str]] = {"PORT": str(s.port), **s.env}
            env.update(
                {
                    name: secret_value(self.secrets, key, self.where, f"services.{s.name}.secret_env.{name}")
                    for name, key in s.secret_env.items()
                }
            )
            if s.uses_postgres:
                env["DATABASE_URL"] = database_url
            if s.uses_redis:
                env["REDIS_URL"] = redis_url
            replicas = [f"{s.name}-{i}" for i in range(1, s.replicas + 1)]
            image, after = self._image(s.image), list(self.datastores)
            if s.migration.enabled:
                migration = self._migration(s, image, database_url)
                image, after = one_shot_succeeded(migration, image), [*after, migration]
            for replica in replicas:
                self.app_containers.append(
                    hardened_container(
                        ContainerSpec(
                            name=replica,
                            image=image,
                            user=f"{s.security_context.run_as_user}:{s.security_context.run_as_group}",
                            resources=s.resources,
                            env=env,
                            command=(s.command or []) + (s.args or []) or None,
                            healthcheck=app_healthcheck(s.port, s.probes.liveness.path),
                            networks=[(self.backend.name, [s.name, replica]), (self.frontend.name, [s.name, replica])],
                            start_period=f"{max(20, s.probes.startup.period_seconds * s.probes.startup.failure_threshold)}s",
                            stop_grace_seconds=s.drain.termination_grace_seconds,
                        ),
                        pulumi.ResourceOptions.merge(self.child, pulumi.ResourceOptions(depends_on=after)),
                    )
                )
            if s.ingress.enabled:
                upstreams.append((s.name, replicas, s.port, s.ingress.paths))

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

        self.url = pulumi.Output.from_input(f"http://{d.proxy.bind_address}:{d.proxy.host_port}")
        self.service_names = pulumi.Output.from_input([s.name for s in config.services])
        self.register_outputs({"url": self.url})

    # --- pieces ------------------------------------------------------------------------------
    def _image(self, ref: str) -> pulumi.Output[str]:
        """One pinned RemoteImage per distinct reference; containers run exactly that image."""
        ref = with_registry(ref, self.config.registry)
        if ref not in self.images:
            logical = "image-" + ref.split("@")[0].rsplit("/", 1)[-1].replace(":", "-").replace(".", "-")
            self.images[ref] = docker.RemoteImage(logical, name=ref, keep_locally=True, opts=self.child)
        return self.images[ref].image_id

    def _migration(self, s, image: pulumi.Output[str], database_url: pulumi.Input[str]) -> docker.Container:
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
                env={"DATABASE_URL": database_url},
                command=[*m.command, *(m.args or [])],
                healthcheck=(),
                networks=[(self.backend.name, [name])],
                one_shot=True,
            ),
            pulumi.ResourceOptions.merge(
                self.child,
                pulumi.ResourceOptions(
                    depends_on=[self.postgres] if self.postgres else [],
                    custom_timeouts=pulumi.CustomTimeouts(create=f"{m.active_deadline_seconds + 60}s"),
                ),
            ),
        )

    def _volume(self, store: str, config: DatastoreBase) -> list[tuple[pulumi.Input[str], str]]:
        if not config.persistence.enabled:
            return []
        volume = docker.Volume(
            f"{store}-data",
            name=f"{self.prefix}-{store}-data",
            opts=pulumi.ResourceOptions.merge(
                self.child, pulumi.ResourceOptions(protect=config.protect, retain_on_delete=config.protect)
            ),
        )
        return [(volume.name, "/var/lib/postgresql/data" if store == "postgres" else "/data")]

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
        password = self._password("postgres", c)
        self.postgres = hardened_container(
            ContainerSpec(
                name="postgres",
                image=self._image(c.image),
                user=user,
                resources=c.resources,
                env={
                    "POSTGRES_USER": c.user,
                    "POSTGRES_DB": c.database,
                    "POSTGRES_PASSWORD": password,
                    "PGDATA": "/var/lib/postgresql/data/pgdata",
                },
                healthcheck=["CMD", *pg_isready(c)],
                networks=[(self.backend.name, ["postgres"])],
                tmpfs=("/tmp", "/var/run/postgresql"),
                volumes=self._volume("postgres", c),
                stop_grace_seconds=60,
            ),
            pulumi.ResourceOptions.merge(
                self.child, pulumi.ResourceOptions(protect=c.protect, retain_on_delete=c.protect)
            ),
        )
        self.datastores.append(self.postgres)
        return pulumi.Output.secret(postgres_url(c, password, "postgres"))

    def _redis(self, config: StackConfig, user: str) -> pulumi.Output[str]:
        c = config.redis_settings()
        if c.mode == "external":
            return secret_value(self.secrets, c.external_url_key, self.where, "redis.external_url_key")
        password = self._password("redis", c)
        # The password is read from the env at start: it is in no command line.
        server = " ".join(["exec redis-server", *redis_server_options(c), '--requirepass "$REDIS_PASSWORD"'])
        self.datastores.append(
            hardened_container(
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
        )
        return pulumi.Output.secret(redis_url(password, "redis"))
