"""agent_platform: Pulumi components for an LLM-agent service (a LangGraph-style API with Postgres
checkpoints and Redis) on Kubernetes or a Docker host, secure and highly available by default.

The public API is what this module exports; it follows semantic versioning (see the README's
"Versioning"). Each component takes one typed args dict (agent_platform.args) and the usual
`opts`; keys left out get the secure defaults documented there.
"""

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# Each public name and the module that defines it, imported on first use (PEP 562): a Kubernetes
# program does not pay for pulumi_docker, a Docker program not for pulumi_kubernetes, and the
# settings (`agent_platform.settings`, what the preview validates a stack file with) for neither.
_EXPORTS = {
    "AgentIngressArgs": "agent_platform.args",
    "AgentNamespaceArgs": "agent_platform.args",
    "AgentPlatformArgs": "agent_platform.args",
    "AgentServiceArgs": "agent_platform.args",
    "BackendArgs": "agent_platform.args",
    "DockerPlatformArgs": "agent_platform.args",
    "PeerArgs": "agent_platform.args",
    "PostgresArgs": "agent_platform.args",
    "RedisArgs": "agent_platform.args",
    "RouteArgs": "agent_platform.args",
    "DockerPlatform": "agent_platform.docker.platform",
    "AgentService": "agent_platform.k8s.agent_service",
    "AgentIngress": "agent_platform.k8s.ingress",
    "AgentNamespace": "agent_platform.k8s.namespace",
    "AgentPlatform": "agent_platform.k8s.platform",
    "Postgres": "agent_platform.k8s.postgres",
    "Redis": "agent_platform.k8s.redis",
    "ConfigError": "agent_platform.settings.errors",
}
# The components a Pulumi package (the component provider in provider/) hosts.
_COMPONENTS = ("AgentPlatform", "AgentNamespace", "AgentService", "Postgres", "Redis", "AgentIngress", "DockerPlatform")


def __getattr__(name: str):
    if name == "COMPONENTS":
        value = [__getattr__(n) for n in _COMPONENTS]
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    else:
        raise AttributeError(f"module 'agent_platform' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # what editors and type checkers see; nothing is imported at run time
    from agent_platform.args import (
        AgentIngressArgs,
        AgentNamespaceArgs,
        AgentPlatformArgs,
        AgentServiceArgs,
        BackendArgs,
        DockerPlatformArgs,
        PeerArgs,
        PostgresArgs,
        RedisArgs,
        RouteArgs,
    )
    from agent_platform.docker.platform import DockerPlatform
    from agent_platform.k8s.agent_service import AgentService
    from agent_platform.k8s.ingress import AgentIngress
    from agent_platform.k8s.namespace import AgentNamespace
    from agent_platform.k8s.platform import AgentPlatform
    from agent_platform.k8s.postgres import Postgres
    from agent_platform.k8s.redis import Redis
    from agent_platform.settings.errors import ConfigError

    COMPONENTS: list[type]

__all__ = [
    "AgentIngress",
    "AgentIngressArgs",
    "AgentNamespace",
    "AgentNamespaceArgs",
    "AgentPlatform",
    "AgentPlatformArgs",
    "AgentService",
    "AgentServiceArgs",
    "BackendArgs",
    "COMPONENTS",
    "ConfigError",
    "DockerPlatform",
    "DockerPlatformArgs",
    "PeerArgs",
    "Postgres",
    "PostgresArgs",
    "Redis",
    "RedisArgs",
    "RouteArgs",
    "__version__",
]
