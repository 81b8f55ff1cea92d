"""The fixture every scenario uses: the real program under the SDK's mocks, from an edited stack file."""

from __future__ import annotations

import copy

import pytest
import yaml

from preview.capture import capture_stack
from tests.conftest import ROOT, stack_file


@pytest.fixture
def run(tmp_path):
    """run(stack, mutate) -> the capture of the program run from the edited stack file."""
    count = iter(range(1000))

    def _run(stack: str, mutate=lambda cfg: None):
        data = copy.deepcopy(stack_file(stack))
        mutate(data["config"])
        path = tmp_path / f"{next(count)}" / f"Pulumi.{stack}.yaml"
        path.parent.mkdir()
        path.write_text(yaml.safe_dump(data))
        return capture_stack(ROOT, stack, path)[1]

    return _run
