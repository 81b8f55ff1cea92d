"""agent-platform: validate the stack file, declare the platform's components, export plain outputs."""

import pulumi
from agent_platform import outputs
from agent_platform.component_args import Validated
from agent_platform.settings.errors import ConfigError

from program.stack_config import load_stack_config, secret_values

try:
    config = load_stack_config()
except ConfigError as error:
    # RunError is shown by the engine as a plain message, without a Python traceback.
    raise pulumi.RunError(str(error)) from None

# The stack file, validated once above, is the platform's settings as they are; its secrets
# come from Pulumi config.
args = Validated(config, secret_values=secret_values(config))

if config.platform == "kubernetes":
    from agent_platform import AgentPlatform

    platform = AgentPlatform("agent-platform", args)
    pulumi.export("namespace", platform.namespace_name)
    pulumi.export("services", platform.service_names)
    pulumi.export("ingressUrl", platform.ingress.url if platform.ingress else None)
    pulumi.export("postgresHost", platform.postgres_host)
    pulumi.export("redisHost", platform.redis_host)
    # What a person looks up after `pulumi up`: URLs and release state per service, the database.
    base = f"https://{config.ingress.host}" if config.ingress.enabled and config.ingress.host else ""
    pulumi.export("serviceUrls", outputs.service_urls(config, base) if base else {})
    pulumi.export("releases", {s.name: outputs.release(s) for s in config.services})
    pulumi.export("database", platform.postgres_host.apply(lambda host: outputs.database(config, host)))
else:
    from agent_platform import DockerPlatform

    platform = DockerPlatform("agent-platform", args)
    pulumi.export("url", platform.url)
    pulumi.export("services", platform.service_names)
    docker = config.docker_settings()
    proxy = f"http://{docker.proxy.bind_address}:{docker.proxy.host_port}"
    pulumi.export("serviceUrls", outputs.service_urls(config, proxy))
    pulumi.export("releases", {s.name: outputs.release(s) for s in config.services})
    pulumi.export("database", outputs.database(config, "postgres"))
    # Secret outputs, for running the rendered compose file against this stack's data:
    # `pulumi stack output --show-secrets postgresPassword` (docs/deploying.md).
    if platform.postgres_password is not None:
        pulumi.export("postgresPassword", pulumi.Output.secret(platform.postgres_password))
    if platform.redis_password is not None:
        pulumi.export("redisPassword", pulumi.Output.secret(platform.redis_password))
