"""Redis: cache, queues and stream resumption, in-cluster or external."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.config import RedisConfig, quantity_value
from components.k8s import pod
from components.k8s.datastore import Datastore

core = k8s.core.v1

# redis-cli reads the password from REDISCLI_AUTH, so it never appears in the probe command.
PING = ["sh", "-c", "redis-cli -h 127.0.0.1 ping | grep -q PONG"]


class Redis(Datastore):
    store = "redis"
    port = 6379
    url_key = "REDIS_URL"
    data_path = "/data"
    config: RedisConfig

    def connection_url(self, password: pulumi.Output[str], host: pulumi.Output[str]) -> pulumi.Output[str]:
        return pulumi.Output.concat("redis://:", password, "@", host, f":{self.port}/0")

    def server_args(self) -> list[str]:
        c = self.config
        return [
            "--appendonly", "yes" if c.append_only else "no",
            "--appendfsync", "everysec",
            "--maxmemory", str(int(quantity_value(c.maxmemory))),
            "--maxmemory-policy", c.maxmemory_policy,
            "--requirepass", "$(REDIS_PASSWORD)",  # expanded by the kubelet from the env below
        ]

    def container(self) -> core.ContainerArgs:
        c = self.config
        return core.ContainerArgs(
            name=self.store,
            image=c.image,
            image_pull_policy="IfNotPresent",
            command=["redis-server"],
            args=self.server_args(),
            ports=[core.ContainerPortArgs(name=self.store, container_port=self.port, protocol="TCP")],
            env=[
                pod.secret_env("REDIS_PASSWORD", self.secret_name, "password"),
                pod.secret_env("REDISCLI_AUTH", self.secret_name, "password"),
            ],
            resources=pod.resource_requirements(c.resources),
            security_context=pod.container_security_context(c.security_context),
            readiness_probe=pod.exec_probe(PING, period=5, timeout=2, failures=3),
            liveness_probe=pod.exec_probe(PING, period=15, timeout=5, failures=5, initial_delay=10),
            volume_mounts=self.volume_mounts(),
        )
