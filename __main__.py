"""agent-platform: load the stack's config, declare its components, export plain outputs."""

import pulumi

from components.config import ConfigError, load_stack_config

try:
    config = load_stack_config()
except ConfigError as error:
    # RunError is shown by the engine as a plain message, without a Python traceback.
    raise pulumi.RunError(str(error)) from None

if config.platform == "kubernetes":
    from components.k8s.platform import AgentPlatform

    platform = AgentPlatform("agent-platform", config)
    pulumi.export("namespace", platform.namespace.name)
    pulumi.export("services", [s.service_name for s in platform.services])
    pulumi.export("ingressUrl", platform.ingress.url if platform.ingress else None)
    pulumi.export("postgresHost", platform.postgres.host)
    pulumi.export("redisHost", platform.redis.host)
else:
    from components.docker.platform import DockerPlatform

    platform = DockerPlatform("agent-platform", config)
    pulumi.export("url", platform.url)
    pulumi.export("services", platform.service_names)
