"""Tracing settings (settings/tracing.py) and the stack's checks on them: the variables each provider
sets, and one located line per bad input. No program run."""

from __future__ import annotations

import copy

import pytest
from agent_platform.settings.errors import ConfigError
from agent_platform.settings.tracing import LANGFUSE_ENDPOINT, LANGSMITH_ENDPOINT, Tracing, traced

from program.stack_config import check_stack, parse_stack_config
from tests.conftest import stack_file

PREFIX = "agent-platform:"


def prod(tracing: dict, edit=lambda cfg: None) -> dict:
    """prod's settings (no project prefix) with `tracing`."""
    cfg = {k.removeprefix(PREFIX): v for k, v in copy.deepcopy(stack_file("prod")["config"]).items()}
    cfg["tracing"] = tracing
    edit(cfg)
    return cfg


def without_langsmith_key(cfg: dict) -> None:
    """prod sets LANGSMITH_API_KEY itself, which langsmith tracing would set."""
    cfg["services"][0]["secretEnv"].pop("LANGSMITH_API_KEY")


def problems(tracing: dict, edit=without_langsmith_key) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_stack_config(prod(tracing, edit))
    return info.value.problems


def test_off_by_default_and_sets_nothing():
    t = Tracing()
    assert not t.enabled and t.environment("api", "prod") == ({}, {}) and t.reserved_names() == ()
    assert parse_stack_config(prod({})).tracing == t


def test_otlp_variables_plain_and_secret():
    t = Tracing(enabled=True, endpoint="https://otlp.example.com/", headers_key="otlpHeaders", protocol="grpc")
    plain, secret = t.environment("agent-api", "prod")
    assert plain == {
        "OTEL_SERVICE_NAME": "agent-api",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=prod",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "https://otlp.example.com",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
    }
    assert secret == {"OTEL_EXPORTER_OTLP_HEADERS": "otlpHeaders"}
    assert t.address() == ("otlp.example.com", 443) and t.in_cluster_namespace() is None


def test_langsmith_defaults_to_its_documented_endpoint():
    t = Tracing(enabled=True, provider="langsmith", api_key_key="lsKey", project="agents")
    plain, secret = t.environment("agent-api", "prod")
    assert plain["LANGSMITH_TRACING"] == "true" and plain["LANGSMITH_PROJECT"] == "agents"
    assert plain["LANGSMITH_ENDPOINT"] == LANGSMITH_ENDPOINT == "https://api.smith.langchain.com"
    assert secret == {"LANGSMITH_API_KEY": "lsKey"}
    # The older LANGCHAIN_* names are read too (LANGSMITH_* first): a service may set neither.
    assert {"LANGCHAIN_TRACING_V2", "LANGCHAIN_API_KEY", "LANGSMITH_API_KEY"} <= set(t.reserved_names())


def test_langfuse_keys_are_both_secret():
    t = Tracing(enabled=True, provider="langfuse", api_key_key="lfSecret", public_key_key="lfPublic")
    plain, secret = t.environment("agent-api", "dev")
    assert plain["LANGFUSE_BASE_URL"] == plain["LANGFUSE_HOST"] == LANGFUSE_ENDPOINT
    assert plain["LANGFUSE_TRACING_ENVIRONMENT"] == "dev"
    assert secret == {"LANGFUSE_PUBLIC_KEY": "lfPublic", "LANGFUSE_SECRET_KEY": "lfSecret"}
    assert t.secret_keys() == ["lfPublic", "lfSecret"]


def test_in_cluster_http_collector_needs_no_reason():
    t = Tracing(enabled=True, endpoint="http://otel-collector.observability.svc.cluster.local:4318")
    assert t.in_cluster_namespace() == "observability" and t.address()[1] == 4318


@pytest.mark.parametrize(
    "tracing,expected",
    [
        ({"enabled": True}, ["agent-platform:tracing.endpoint: is required when provider is otlp"]),
        (
            {"enabled": True, "endpoint": "http://collector.example.com:4318"},
            [
                "agent-platform:tracing.endpoint: 'http://collector.example.com:4318' is http outside the cluster: "
                "traces (prompts, outputs) would cross the network in plain text; use https, an in-cluster Service "
                "(<name>.<namespace>.svc), or state insecureReason"
            ],
        ),
        (
            {"enabled": True, "endpoint": "ftp://collector.example.com"},
            ["agent-platform:tracing.endpoint: must be an https:// URL with a host, got 'ftp://collector.example.com'"],
        ),
        (
            {"enabled": True, "provider": "langsmith"},
            [
                "agent-platform:tracing.apiKeyKey: is required when provider is langsmith",
                "agent-platform:tracing.project: is required when provider is langsmith",
            ],
        ),
        (
            {"enabled": True, "provider": "langfuse", "apiKeyKey": "k", "project": "p", "headersKey": "h"},
            [
                "agent-platform:tracing.headersKey: only applies when provider is otlp, got provider 'langfuse'",
                "agent-platform:tracing.publicKeyKey: is required when provider is langfuse",
                "agent-platform:tracing.project: does not apply to langfuse: traces go to the project its keys "
                "belong to",
            ],
        ),
    ],
    ids=["otlp-no-endpoint", "plain-http", "not-http", "langsmith-incomplete", "langfuse-mixed"],
)
def test_bad_input_one_located_line_per_problem(tracing, expected):
    assert problems(tracing) == expected


def test_http_with_a_stated_reason_is_accepted():
    t = Tracing(enabled=True, endpoint="http://10.1.2.3:4318", insecure_reason="collector on the node's VPN")
    assert t.address() == ("10.1.2.3", 4318)


def test_a_service_setting_a_tracing_variable_is_located():
    def edit(cfg):
        cfg["services"][1]["env"]["OTEL_SERVICE_NAME"] = "runner"
        cfg["services"][1]["extraEnv"] = [
            {"name": "OTEL_EXPORTER_OTLP_HEADERS", "valueFrom": {"secretKeyRef": {"name": "otel", "key": "headers"}}}
        ]

    assert problems({"enabled": True, "endpoint": "https://otlp.example.com"}, edit) == [
        "agent-platform:services[agent-runner].env.OTEL_SERVICE_NAME: is set by tracing (provider otlp); remove it, "
        "or turn tracing off",
        "agent-platform:services[agent-runner].extraEnv[0].name: "
        "'OTEL_EXPORTER_OTLP_HEADERS' is set by tracing (provider otlp)",
    ]


def test_the_same_names_are_free_while_tracing_is_off():
    config = parse_stack_config(prod({"enabled": False}))
    assert "LANGSMITH_API_KEY" in config.services[0].secret_env


def test_traced_adds_to_env_and_secret_env_only_when_on():
    config = parse_stack_config(prod({}, without_langsmith_key))
    s = config.services[0]
    assert traced(s, config.tracing, "prod") is s
    on = Tracing(enabled=True, provider="langsmith", api_key_key="langsmithApiKey", project="agents")
    t = traced(s, on, "prod")
    assert t.secret_env == {**s.secret_env, "LANGSMITH_API_KEY": "langsmithApiKey"}
    assert t.env["OTEL_SERVICE_NAME"] == "agent-api" and t.env["LOG_LEVEL"] == s.env["LOG_LEVEL"]


def test_tracing_secrets_are_read_and_must_be_secret():
    cfg = prod({"enabled": True, "endpoint": "https://otlp.example.com", "headersKey": "otlpHeaders"})
    assert "otlpHeaders" in parse_stack_config(cfg).secret_keys()
    raw = {PREFIX + k: v for k, v in cfg.items()}
    raw |= {PREFIX + "openaiApiKey": "x", PREFIX + "langsmithApiKey": "x", PREFIX + "otlpHeaders": "x"}
    with pytest.raises(ConfigError) as info:
        check_stack(raw, {PREFIX + "openaiApiKey", PREFIX + "langsmithApiKey"})
    assert [p for p in info.value.problems if "otlpHeaders" in p] == [
        "agent-platform:otlpHeaders: must be a secret; run `pulumi config set --secret otlpHeaders` instead of a "
        "plain value"
    ]


def test_docker_cannot_reach_a_kubernetes_service_name():
    cfg = {k.removeprefix(PREFIX): v for k, v in copy.deepcopy(stack_file("e2e")["config"]).items()}
    cfg["tracing"] = {"enabled": True, "endpoint": "http://otel.observability.svc:4318"}
    with pytest.raises(ConfigError) as info:
        parse_stack_config(cfg)
    assert info.value.problems == [
        "agent-platform:tracing.endpoint: 'http://otel.observability.svc:4318' is a Kubernetes Service name: a "
        "Docker host does not resolve it"
    ]
