"""Host the agent_platform components as a Pulumi package (`agent-platform`), for any language.

The Python SDK's component provider host infers the schema from the components' Args
(components/agent_platform/args/) and constructs them on the engine's Construct calls.
"""

from agent_platform import COMPONENTS, __version__
from pulumi.provider.experimental import component_provider_host

if __name__ == "__main__":
    component_provider_host(COMPONENTS, name="agent-platform", version=__version__)
