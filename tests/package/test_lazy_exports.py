"""agent_platform's names are imported on first use: a program pays only for the platform it runs on,
and the settings (what the preview validates a stack file with) for no provider SDK at all."""

from __future__ import annotations

import subprocess
import sys

import agent_platform
import pytest


def _loaded(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint(' '.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(result.stdout.split())


@pytest.mark.parametrize(
    ("statement", "absent"),
    [
        ("import agent_platform.settings.stack", {"pulumi_kubernetes", "pulumi_docker", "pulumi"}),
        ("from agent_platform import AgentPlatform", {"pulumi_docker"}),
        ("from agent_platform import DockerPlatform", {"pulumi_kubernetes.apps.v1"}),
    ],
)
def test_an_import_loads_only_what_it_needs(statement, absent):
    assert _loaded(statement) & absent == set()


def test_every_public_name_resolves_and_is_listed():
    assert sorted(dir(agent_platform)) == sorted(agent_platform.__all__)
    for name in agent_platform.__all__:
        assert getattr(agent_platform, name) is not None, name
    assert [c.__name__ for c in agent_platform.COMPONENTS] == list(agent_platform._COMPONENTS)
    with pytest.raises(AttributeError):
        agent_platform.NoSuchComponent  # noqa: B018
