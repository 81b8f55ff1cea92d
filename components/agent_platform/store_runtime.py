"""What Postgres and Redis need on any platform: ports, connection URLs, readiness and server options.

The Kubernetes components and the Docker stack both call these, so a URL or a Redis
setting cannot differ between what runs locally and what runs in the cluster.
"""

from __future__ import annotations

import pulumi

from agent_platform.settings.stores import PostgresConfig, RedisConfig
from agent_platform.settings.values import quantity_value

POSTGRES_PORT = 5432
REDIS_PORT = 6379


def postgres_url(config: PostgresConfig, password: pulumi.Input[str], host: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.concat(
        "postgresql://", config.user, ":", password, "@", host, f":{POSTGRES_PORT}/", config.database
    )


def redis_url(password: pulumi.Input[str], host: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.concat("redis://:", password, "@", host, f":{REDIS_PORT}/0")


def pg_isready(config: PostgresConfig) -> list[str]:
    return ["pg_isready", "-h", "127.0.0.1", "-p", str(POSTGRES_PORT), "-U", config.user, "-d", config.database]


def redis_server_options(config: RedisConfig) -> list[str]:
    """AOF and eviction settings for redis-server (the password is passed separately, never here)."""
    return [
        "--appendonly",
        "yes" if config.append_only else "no",
        "--appendfsync",
        "everysec",
        "--maxmemory",
        str(int(quantity_value(config.maxmemory))),
        "--maxmemory-policy",
        config.eviction_policy(),
    ]
