"""The stack-file JSON Schema: in sync with the model (components/agent_platform/settings/), and it accepts
the shipped stack files."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest

from preview.schema import SCHEMA_PATH, render
from tests.conftest import ROOT, stack_file

STACKS = ["dev", "prod", "local"]


def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_shipped_schema_is_regenerated_from_the_model():
    assert SCHEMA_PATH.read_text() == render(), "run `venv/bin/python -m preview.schema`"


@pytest.mark.parametrize("stack", STACKS)
def test_stack_file_points_at_the_schema_and_validates(stack):
    first = (ROOT / f"Pulumi.{stack}.yaml").read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=./docs/stack-file.schema.json"
    assert list(validator().iter_errors(stack_file(stack))) == []


@pytest.mark.parametrize(
    "mutate, where",
    [
        (lambda c: c.__setitem__("agent-platform:platfrom", "docker"), "agent-platform:platfrom"),
        (lambda c: c["agent-platform:services"][0].__setitem__("port", "eighty"), "port"),
        (lambda c: c["agent-platform:services"][0].__setitem__("imagePullPolicy", "Never"), "imagePullPolicy"),
        (lambda c: c.__setitem__("agent-platform:openaiApiKey", "sk-plaintext"), "agent-platform:openaiApiKey"),
        (lambda c: c.pop("agent-platform:environment"), "agent-platform:environment"),
    ],
)
def test_a_broken_stack_file_fails(mutate, where):
    data = copy.deepcopy(stack_file("prod"))
    mutate(data["config"])
    errors = list(validator().iter_errors(data))
    assert errors
    assert any(where in e.message or where in map(str, e.absolute_path) for e in errors), [e.message for e in errors]


def test_pulumi_stack_file_top_level_keys_are_allowed():
    data = copy.deepcopy(stack_file("dev"))
    data.update(secretsprovider="passphrase", encryptionsalt="v1:abc", environment=["agents/dev"])
    assert list(validator().iter_errors(data)) == []
    data["secretprovider"] = "typo"
    assert list(validator().iter_errors(data))
