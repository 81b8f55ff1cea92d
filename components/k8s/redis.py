"""Redis: cache, queues and stream resumption, in-cluster or external."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.config import RedisConfig, quantity_value
from components.k8s import pod
from components.k8s.datastore import Datastore

core = k8s.core.v1

# redis-cli reads the password from REDISCLI_AUTH, set only for the probe's own process
# from the mounted Secret, so it never appears in a command line or the pod's env.
PING = ["sh", "-c", 'REDISCLI_AUTH="$(cat /run/secrets/redis/password)" redis-cli -h 127.0.0.1 ping | grep -q PONG']


class Redis(Datastore):
    store = "redis"
    port = 6379
    url_key = "REDIS_URL"
    data_path = "/data"
    config: RedisConfig

    def connection_url(self, password: pulumi.Output[str], host: pulumi.Output[str]) -> pulumi.Output[str]:
        return pulumi.Output.concat("redis://:", password, "@", host, f":{self.port}/0")

    def server_secret_data(self, password: pulumi.Output[str]) -> dict:
        # A config include with requirepass: the password reaches redis-server as a file.
        return {"redis.conf": pulumi.Output.concat("requirepass ", password, "\n")}

    def server_args(self) -> list[str]:
        c = self.config
        return [
            f"{self.credentials_dir}/redis.conf",
            "--appendonly", "yes" if c.append_only else "no",
            "--appendfsync", "everysec",
            "--maxmemory", str(int(quantity_value(c.maxmemory))),
            "--maxmemory-policy", c.maxmemory_policy,
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
            readiness_probe=pod.exec_probe(PING, period=5, timeout=2, failures=3),
            liveness_probe=pod.exec_probe(PING, period=15, timeout=5, failures=5, initial_delay=10),
            volume_mounts=self.volume_mounts(),
        )
