"""Shared fixtures: the real program run under the Pulumi SDK's mocks with the real stack files."""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import pytest
import yaml

from preview.engine import Capture
from preview.program import capture_stack
from preview.render import manifests

ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def shipped(stack: str) -> Capture:
    return capture_stack(ROOT, stack)[1]


def stack_file(stack: str) -> dict:
    return yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())


def capture_with(tmp_path: Path, stack: str, mutate) -> Capture:
    """The shipped stack file, changed by `mutate(config_dict)`, run through the real program."""
    data = copy.deepcopy(stack_file(stack))
    mutate(data["config"])
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump(data))
    return capture_stack(ROOT, stack, path)[1]


def objects(capture: Capture) -> dict[tuple[str, str], dict]:
    """(kind, name) -> rendered Kubernetes object."""
    return {(m.kind, m.name): m.obj for m in manifests(capture)}


@pytest.fixture(params=["dev", "prod"])
def stack(request) -> str:
    return request.param


@pytest.fixture
def capture(stack) -> Capture:
    return shipped(stack)
