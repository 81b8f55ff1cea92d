"""agent_platform: Pulumi components for an LLM-agent service (a LangGraph-style API with Postgres
checkpoints and Redis) on Kubernetes or a Docker host, secure and highly available by default.

The public API is what this module exports; it follows semantic versioning (see the README's
"Versioning"). Each component takes one typed args dict (agent_platform.args) and the usual
`opts`; keys left out get the secure defaults documented there.
"""

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

__version__ = "0.1.0"

# The components a Pulumi package (the component provider in provider/) hosts.
COMPONENTS = [AgentPlatform, AgentNamespace, AgentService, Postgres, Redis, AgentIngress, DockerPlatform]

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
