"""One agent API with Postgres and Redis, routed by an Ingress, declared with the agent_platform components."""

import pulumi
import pulumi_kubernetes as k8s
from agent_platform import AgentIngress, AgentNamespace, AgentService, Postgres, Redis

config = pulumi.Config()
environment = pulumi.get_stack()

cluster = k8s.Provider("cluster", context=config.require("context"))
opts = pulumi.ResourceOptions(providers={"kubernetes": cluster})

namespace = AgentNamespace(
    "namespace",
    {
        "name": f"agents-{environment}",
        "environment": environment,
        # A standalone namespace has no workloads to derive its quota from: set every amount.
        "quota": {
            "cpu": "8",
            "memory": "16Gi",
            "limits_cpu": "16",
            "limits_memory": "32Gi",
            "storage": "40Gi",
            "pods": 30,
        },
    },
    opts=opts,
)
in_namespace = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[namespace]))
wiring = {"namespace": namespace.name, "environment": environment}

postgres = Postgres("postgres", {**wiring, "persistence": {"size": "20Gi"}}, opts=in_namespace)
redis = Redis("redis", wiring, opts=in_namespace)

api = AgentService(
    "agent-api",
    {
        **wiring,
        "name": "agent-api",
        "image": config.require("image"),
        "env": {"LOG_LEVEL": "info"},
        "secret_env": {"OPENAI_API_KEY": "openaiApiKey"},
        "secret_values": {"openaiApiKey": config.require_secret("openaiApiKey")},
        "backends": [postgres.backend, redis.backend],
        "autoscaling": {"min_replicas": 2, "max_replicas": 6},
        "pdb": {"max_unavailable": 1},
        # Routed by the Ingress below: its NetworkPolicy admits the ingress controller to the app port.
        "exposed": True,
    },
    opts=pulumi.ResourceOptions.merge(in_namespace, pulumi.ResourceOptions(depends_on=[postgres, redis])),
)

AgentIngress(
    "ingress",
    {
        **wiring,
        "host": config.require("host"),
        "routes": [{"service": "agent-api", "paths": ["/"]}],
    },
    opts=pulumi.ResourceOptions.merge(in_namespace, pulumi.ResourceOptions(depends_on=[api])),
)

pulumi.export("service", api.service_name)
pulumi.export("postgresHost", postgres.host)
