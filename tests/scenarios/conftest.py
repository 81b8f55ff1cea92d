"""The fixture every scenario uses: the real program under the SDK's mocks, from an edited stack file."""

from __future__ import annotations

import copy

import pytest
import yaml

from preview.changes import recording_ignore_changes
from preview.program import capture_stack
from tests.conftest import ROOT, stack_file


@pytest.fixture
def run(tmp_path):
    """run(stack, mutate) -> (capture, ignoreChanges by (type, name)), as the engine receives them."""
    ignores: dict = {}
    count = iter(range(1000))

    def _run(stack: str, mutate=lambda cfg: None):
        data = copy.deepcopy(stack_file(stack))
        mutate(data["config"])
        path = tmp_path / f"{next(count)}" / f"Pulumi.{stack}.yaml"
        path.parent.mkdir()
        path.write_text(yaml.safe_dump(data))
        with recording_ignore_changes() as recorded:
            capture = capture_stack(ROOT, stack, path)[1]
        ignores.update(recorded)
        return capture
    _run.ignores = ignores
    return _run
