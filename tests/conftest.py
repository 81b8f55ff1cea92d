"""Shared fixtures: the real program run under the Pulumi SDK's mocks with the real stack files."""

from __future__ import annotations

import copy
import functools
import os
import re
from pathlib import Path

import pytest
import yaml

from preview.capture import capture_stack
from preview.engine import Capture
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
    # From the file's directory, as a user runs it: messages name it as they would type it.
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        return capture_stack(ROOT, stack, path)[1]
    finally:
        os.chdir(cwd)


def objects(capture: Capture) -> dict[tuple[str, str], dict]:
    """(kind, name) -> rendered Kubernetes object."""
    return {(m.kind, m.name): m.obj for m in manifests(capture)}


@pytest.fixture(params=["dev", "prod"])
def stack(request) -> str:
    return request.param


@pytest.fixture
def capture(stack) -> Capture:
    return shipped(stack)


def unlined(text: str) -> str:
    """Config problems without their stack-file line numbers (`FILE:LINE: key: ...` -> `FILE: key: ...`),
    for tests about the message; tests/program/test_messages.py checks the lines themselves."""
    return re.sub(r"^(\S+?\.yaml):\d+: ", r"\1: ", text, flags=re.M)
