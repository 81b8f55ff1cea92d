"""Former name of agent_platform.component_args, for code not yet moved."""

from agent_platform.component_args import *  # noqa: F403
from agent_platform.component_args import Validated, settings_of  # noqa: F401
