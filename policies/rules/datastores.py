"""Recognise Postgres and Redis (and Redis-compatible Valkey/KeyDB) on any platform, not by one project label.

Signals, any of: the image's repository name (postgres, bitnami/postgresql, postgis, redis, valkey, ...), a
well-known port (5432, 6379), the app.kubernetes.io/name label, or the server executable in the command.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import Unknown
from .k8s import containers, pod_labels

POSTGRES, REDIS = "postgres", "redis"
IMAGE_NAMES = {
    "postgres": POSTGRES,
    "postgresql": POSTGRES,
    "postgresql-repmgr": POSTGRES,
    "postgis": POSTGRES,
    "timescaledb": POSTGRES,
    "timescaledb-ha": POSTGRES,
    "pgvector": POSTGRES,
    "redis": REDIS,
    "redis-stack": REDIS,
    "redis-stack-server": REDIS,
    "redis-cluster": REDIS,
    "valkey": REDIS,
    "valkey-cluster": REDIS,
    "keydb": REDIS,
}
PORTS = {5432: POSTGRES, 6379: REDIS}
SERVERS = {"postgres": POSTGRES, "redis-server": REDIS, "valkey-server": REDIS, "keydb-server": REDIS}
NAME_LABEL = "app.kubernetes.io/name"


def image_store(image: Any) -> str | None:
    if isinstance(image, Unknown) or not image:  # an image id computed by a RemoteImage: judged by other signals
        return None
    name = str(image).split("@")[0]
    last = name.rsplit("/", 1)[-1].split(":")[0]
    return IMAGE_NAMES.get(last.lower())


def _command_store(words) -> str | None:
    for word in words or []:
        for token in str(word).split():
            store = SERVERS.get(token.rsplit("/", 1)[-1])
            if store:
                return store
    return None


def container_store(c: Mapping[str, Any]) -> str | None:
    """A Kubernetes container's store kind."""
    return (
        image_store(c.get("image"))
        or _command_store(c.get("command"))
        or next((PORTS[p.get("containerPort")] for p in c.get("ports") or [] if p.get("containerPort") in PORTS), None)
    )


def workload_store(props: Mapping[str, Any]) -> str | None:
    """A pod-bearing object's store kind: its containers, else its app.kubernetes.io/name label."""
    for c in containers(props, init=False):
        store = container_store(c)
        if store:
            return store
    return IMAGE_NAMES.get(str(pod_labels(props).get(NAME_LABEL, "")).lower())


def docker_store(props: Mapping[str, Any]) -> str | None:
    """A pulumi-docker Container's store kind (image, command, internal port, or the name label)."""
    labels = {item.get("label"): item.get("value") for item in props.get("labels") or []}
    return (
        image_store(props.get("image"))
        or _command_store((props.get("entrypoints") or []) + (props.get("command") or []))
        or next((PORTS[p.get("internal")] for p in props.get("ports") or [] if p.get("internal") in PORTS), None)
        or IMAGE_NAMES.get(str(labels.get(NAME_LABEL, "")).lower())
    )
