"""The settings model under its former name: everything public of agent_platform.settings, for code that
still imports agent_platform.config (the model itself lives in settings/, by concern)."""

from agent_platform.settings.base import *  # noqa: F403
from agent_platform.settings.capacity import *  # noqa: F403
from agent_platform.settings.cluster import *  # noqa: F403
from agent_platform.settings.docker import *  # noqa: F403
from agent_platform.settings.errors import *  # noqa: F403
from agent_platform.settings.locate import *  # noqa: F403
from agent_platform.settings.pod import *  # noqa: F403
from agent_platform.settings.service import *  # noqa: F403
from agent_platform.settings.stack import *  # noqa: F403
from agent_platform.settings.stores import *  # noqa: F403
from agent_platform.settings.values import *  # noqa: F403
from agent_platform.settings.workload import *  # noqa: F403
