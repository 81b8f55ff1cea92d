"""A stack file is validated into the model once: the program hands the components the model
itself (inputs.Validated), and no component dumps it and validates it again."""

from __future__ import annotations

import collections

import agent_platform.component_args
import pytest
from pydantic import BaseModel

import program.stack_config
from preview.capture import stack_inputs
from preview.engine import run_program
from tests.conftest import ROOT


@pytest.fixture
def validations(monkeypatch):
    counts: collections.Counter[str] = collections.Counter()
    for module in (agent_platform.component_args, program.stack_config):
        original = module.validated

        def counting(model, *args, _original=original, **kwargs):
            counts[model.__name__] += 1
            return _original(model, *args, **kwargs)

        monkeypatch.setattr(module, "validated", counting)
    return counts


@pytest.mark.parametrize("stack", ["prod", "local"])
def test_a_shipped_stack_is_validated_once_and_no_component_validates_again(validations, stack):
    # The preview reads the file once beforehand, standing in for the CLI (which secrets to supply);
    # what is counted is the program's run, as `pulumi up` runs it.
    inputs = stack_inputs(ROOT, stack)
    validations.clear()
    run_program(ROOT, inputs.project, stack, inputs.config, inputs.secret_keys, "up")
    # program/stack_config.py validates the stack file once; the components take the model as it is.
    assert validations == {"StackConfig": 1}


def test_the_package_boundary_still_validates_a_plain_dict(validations):
    # A consumer's dict (the package and the provider boundary) is validated where it enters.
    from agent_platform.settings.cluster import NetworkConfig

    network = agent_platform.component_args.setting(
        NetworkConfig, {"network": {"dnsNamespace": "dns"}}, "network", "here"
    )
    assert isinstance(network, BaseModel) and network.dns_namespace == "dns"
    assert validations == {"NetworkConfig": 1}
