"""Redis: cache, queues and stream resumption, in-cluster or external."""

import pulumi
import pulumi_kubernetes as k8s

from agent_platform.args import RedisArgs
from agent_platform.k8s import pod
from agent_platform.k8s.datastore import Datastore
from agent_platform.settings.stores import RedisConfig
from agent_platform.store_runtime import REDIS_PORT, redis_server_options, redis_url

core = k8s.core.v1


class Redis(Datastore):
    """Redis, for cache, queues and stream resumption: in-cluster (password required, AOF, bounded memory,
    retained volume, NetworkPolicy admitting only its clients) or external; either way the Secret
    `redis-connection` holds REDIS_URL."""

    store = "redis"
    port = REDIS_PORT
    url_key = "REDIS_URL"
    data_path = "/data"
    settings_model = RedisConfig
    args_type = RedisArgs

    def __init__(self, resource_name: str, args: RedisArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(resource_name, args, opts)

    def connection_url(self, password: pulumi.Output[str], host: pulumi.Output[str]) -> pulumi.Output[str]:
        return redis_url(password, host)

    def server_secret_data(self, password: pulumi.Output[str]) -> dict:
        # A config include with requirepass: the password reaches redis-server as a file.
        return {"redis.conf": pulumi.Output.concat("requirepass ", password, "\n")}

    def server_args(self) -> list[str]:
        return [f"{self.credentials_dir}/redis.conf", *redis_server_options(self.config)]

    def ping(self) -> list[str]:
        # redis-cli reads the password from REDISCLI_AUTH, set only for the probe's own process
        # from the mounted Secret, so it never appears in a command line or the pod's env.
        return [
            "sh",
            "-c",
            f'REDISCLI_AUTH="$(cat {self.credentials_dir}/password)" redis-cli -h 127.0.0.1 ping | grep -q PONG',
        ]

    def container(self) -> core.ContainerArgs:
        c = self.config
        return core.ContainerArgs(
            name=self.store,
            image=c.image,
            image_pull_policy="Always",
            command=["redis-server"],
            args=self.server_args(),
            ports=[core.ContainerPortArgs(name=self.store, container_port=self.port, protocol="TCP")],
            resources=pod.resource_requirements(c.resources),
            security_context=pod.container_security_context(c.security_context),
            readiness_probe=pod.exec_probe(self.ping(), period=5, timeout=2, failures=3),
            liveness_probe=pod.exec_probe(self.ping(), period=15, timeout=5, failures=5, initial_delay=10),
            volume_mounts=self.volume_mounts(),
        )
