"""The components' public args: generated from the settings model, checked like a stack file."""

from __future__ import annotations

import pulumi
import pytest
from agent_platform import AgentNamespace, AgentService, ConfigError, Postgres
from agent_platform import args as args_module
from agent_platform.codegen import COMPONENTS, SETTINGS, TARGET, generated


class EchoMocks(pulumi.runtime.Mocks):
    def new_resource(self, args):
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args):
        return {}, None


@pytest.fixture(autouse=True)
def mocks():
    pulumi.runtime.set_mocks(EchoMocks(), project="p", stack="s", preview=False)


def test_args_package_is_generated_from_the_model_and_holds_nothing_else():
    files = generated()
    for path, render in files:
        assert path.read_text() == render(), f"{path.name}: run venv/bin/python -m agent_platform.codegen"
    assert {p.name for p in TARGET.glob("*.py")} == {path.name for path, _render in files}
    assert {path.name for path, _render in files} >= {"__init__.py", "components.py", "wiring.py", "pod.py"}


def test_every_setting_is_an_arg_and_required_ones_are_required():
    for model, name in SETTINGS.items():
        typed = getattr(args_module, name)
        assert set(typed.__annotations__) == set(model.model_fields), name
        assert typed.__required_keys__ == {k for k, f in model.model_fields.items() if f.is_required()}, name
    for name, (model, skip, wiring) in COMPONENTS.items():
        typed = getattr(args_module, name)
        assert set(typed.__annotations__) == (set(model.model_fields) - set(skip)) | {w[0] for w in wiring}, name


def test_a_typo_in_args_is_an_error_not_a_silently_ignored_key():
    with pytest.raises(ConfigError) as error:
        AgentService(
            "api",
            {
                "name": "api",
                "image": "ghcr.io/a/b:1.0",
                "namespace": "ns",
                "environment": "dev",
                "image_pul_policy": "Never",
            },
        )
    assert str(error.value) == "AgentService api: image_pul_policy: unknown key (did you mean image_pull_policy?)"


def test_bad_values_are_reported_by_key_with_the_value():
    with pytest.raises(ConfigError) as error:
        AgentService(
            "api",
            {
                "name": "api",
                "image": "ghcr.io/a/b:latest",
                "namespace": "ns",
                "environment": "dev",
                "resources": {"requests": {"cpu": "2", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
            },
        )
    lines = str(error.value).splitlines()
    assert lines[0] == "AgentService api: image: must not use the mutable tag `latest`, got 'ghcr.io/a/b:latest'"
    assert lines[1] == "AgentService api: resources.requests.cpu: must be <= limits.cpu (2 > 1)"


def test_a_secret_named_but_not_passed_is_reported():
    with pytest.raises(ConfigError) as error:
        AgentService(
            "api",
            {
                "name": "api",
                "image": "ghcr.io/a/b:1.0",
                "namespace": "ns",
                "environment": "dev",
                "secret_env": {"OPENAI_API_KEY": "openaiApiKey"},
            },
        )
    assert "secret_values: no value for 'openaiApiKey', which secret_env.OPENAI_API_KEY names" in str(error.value)
    with pytest.raises(ConfigError, match="external_url_key"):
        Postgres("pg", {"namespace": "ns", "environment": "dev", "mode": "external", "external_url_key": "pgUrl"})


def test_a_standalone_namespace_needs_every_quota_amount():
    with pytest.raises(ConfigError) as error:
        AgentNamespace("ns", {"name": "agents", "environment": "dev", "quota": {"cpu": "4"}})
    problems = str(error.value).splitlines()
    assert len(problems) == 5 and all("is required" in p for p in problems)
    assert not any("quota.cpu" in p for p in problems)


INHERITING_COMPONENT = '''
from typing import TypedDict

import pulumi


class BaseSettingsArgs(TypedDict, total=False):
    replicas: int
    """How many pods."""


class ThingArgs(BaseSettingsArgs, total=False):
    namespace: str
    """Where the pods run."""


class Thing(pulumi.ComponentResource):
    def __init__(self, name: str, args: ThingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("test:index:Thing", name, {}, opts)
'''


def test_the_analyzer_drops_inherited_descriptions_so_component_args_repeat_their_settings(tmp_path, monkeypatch):
    """Why codegen repeats a settings model's fields in its component's Args rather than
    inheriting them: the SDK's analyzer reads inherited keys (analyzer.py:410, the MRO walk) but
    looks descriptions up in the analyzed class's own source (analyzer.py:707-725). When this
    fails, upstream reads inherited descriptions: generate `<Component>Args(<Model>SettingsArgs)`."""
    from pulumi.provider.experimental.analyzer import Analyzer

    (tmp_path / "inheriting_component.py").write_text(INHERITING_COMPONENT)
    monkeypatch.syspath_prepend(str(tmp_path))
    import inheriting_component

    result = Analyzer("test").analyze([inheriting_component.Thing])
    inputs = result["component_definitions"]["Thing"].inputs
    assert set(inputs) == {"replicas", "namespace"}  # the inherited key is read...
    assert inputs["namespace"].description == "Where the pods run."
    assert inputs["replicas"].description is None  # ...its description is not


def test_every_arg_of_every_component_reaches_the_schema_with_its_description():
    from agent_platform import COMPONENTS
    from pulumi.provider.experimental.analyzer import Analyzer

    result = Analyzer("agent-platform").analyze(list(COMPONENTS))
    missing = [
        f"{name}.{key}"
        for name, component in result["component_definitions"].items()
        for key, prop in component.inputs.items()
        if not prop.description
    ]
    missing += [
        f"{name}.{key}"
        for name, typ in result["type_definitions"].items()
        for key, prop in typ.properties.items()
        if not prop.description
    ]
    assert missing == []


def test_a_service_handed_tracing_refuses_a_variable_tracing_sets():
    """AgentService used on its own (no stack check before it): tracing's names are refused there too."""
    with pytest.raises(ConfigError) as error:
        AgentService(
            "api",
            {
                "name": "api",
                "image": "ghcr.io/a/b:1.0",
                "namespace": "ns",
                "environment": "dev",
                "env": {"OTEL_SERVICE_NAME": "mine"},
                "secret_env": {"LANGSMITH_API_KEY": "lsKey"},
                "secret_values": {"lsKey": "x"},
                "tracing": {"enabled": True, "provider": "langsmith", "api_key_key": "lsKey", "project": "p"},
            },
        )
    assert str(error.value).splitlines() == [
        "AgentService api: env.OTEL_SERVICE_NAME: is set by tracing; remove it, or turn tracing off",
        "AgentService api: secretEnv.LANGSMITH_API_KEY: is set by tracing; remove it, or turn tracing off",
    ]
