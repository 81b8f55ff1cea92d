"""Tracing turned on in copies of the shipped stacks: every service gets the variables its framework
reads (plain in its ConfigMap, secret from its Secret), its NetworkPolicy admits the endpoint's port
and nothing else, the connectivity table shows the path, and no secret value reaches a rendered file."""

from __future__ import annotations

import re

import pytest
import yaml
from pulumi.runtime.config import get_config_env_key

from preview.connectivity import connectivity
from preview.engine import ProgramError
from preview.render import manifests, render_files
from program.stack_config import parse_stack_config
from tests.conftest import capture_with, objects, stack_file

HEADERS = "Authorization=Basic dHJhY2luZy1jYW5hcnktNzMxOQ=="  # the planted secret value
OTLP = {
    "enabled": True,
    "provider": "otlp",
    "endpoint": "https://otlp.example.com:4318",
    "headersKey": "otlpHeaders",
}
SERVICES = ("agent-api", "agent-runner")


@pytest.fixture
def planted(monkeypatch):
    monkeypatch.setenv(get_config_env_key("agent-platform:otlpHeaders"), HEADERS)


def with_tracing(tracing: dict, also=lambda cfg: None):
    def mutate(cfg):
        cfg["agent-platform:tracing"] = tracing
        also(cfg)

    return mutate


def test_prod_with_otlp_tracing_env_secret_and_egress(tmp_path, planted):
    capture = capture_with(tmp_path, "prod", with_tracing(OTLP))
    got = objects(capture)
    for name in SERVICES:
        data = got[("ConfigMap", name)]["data"]
        assert data["OTEL_SERVICE_NAME"] == name
        assert data["OTEL_EXPORTER_OTLP_ENDPOINT"] == "https://otlp.example.com:4318"
        assert data["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
        assert data["OTEL_RESOURCE_ATTRIBUTES"] == "deployment.environment.name=prod"
        assert "OTEL_EXPORTER_OTLP_HEADERS" not in data
        kind = "StatefulSet" if name == "agent-runner" else "Deployment"
        [container] = got[(kind, name)]["spec"]["template"]["spec"]["containers"]
        [headers] = [e for e in container["env"] if e["name"] == "OTEL_EXPORTER_OTLP_HEADERS"]
        assert headers["valueFrom"]["secretKeyRef"] == {"name": name, "key": "OTEL_EXPORTER_OTLP_HEADERS"}
        egress = got[("NetworkPolicy", name)]["spec"]["egress"]
        outside = [r for r in egress if "ipBlock" in r["to"][0]]
        # The shipped 443 rule, and one more to the same outside world on 4318 alone.
        assert [[p["port"] for p in r["ports"]] for r in outside] == [[443], [4318]]
        assert outside[1]["to"][0]["ipBlock"] == outside[0]["to"][0]["ipBlock"]
    report = connectivity(manifests(capture), parse_stack_config(_config(tmp_path)))
    traced = [c for c in report.checked if c.path.via == "env OTEL_EXPORTER_OTLP_ENDPOINT"]
    assert sorted(c.path.source.name for c in traced) == ["Deployment/agent-api", "StatefulSet/agent-runner"]
    assert all(c.path.port == 4318 and c.verdict.allowed for c in traced)
    assert not report.failures


def _config(tmp_path) -> dict:
    data = yaml.safe_load((tmp_path / "Pulumi.prod.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: v for k, v in data.items()}


@pytest.mark.parametrize("stack", ["prod", "e2e"])
def test_no_secret_value_in_any_rendered_file(tmp_path, planted, stack):
    capture = capture_with(tmp_path, stack, with_tracing(OTLP))
    files = render_files(capture)
    assert not [path for path, text in files.items() if HEADERS in text or "dHJhY2luZy1jYW5hcnktNzMxOQ" in text]
    if stack == "e2e":
        compose = files["docker-compose.yml"]
        assert "OTEL_EXPORTER_OTLP_HEADERS: ${OTEL_EXPORTER_OTLP_HEADERS:?" in compose
        assert "OTEL_EXPORTER_OTLP_HEADERS=change-me" in files["compose.env.example"]
    else:
        assert any("OTEL_EXPORTER_OTLP_HEADERS" in t for p, t in files.items() if "secret-agent-api" in p)


def test_an_in_cluster_collector_is_reached_in_its_namespace_only(tmp_path):
    tracing = {"enabled": True, "endpoint": "http://otel-collector.observability.svc:4318"}
    got = objects(capture_with(tmp_path, "prod", with_tracing(tracing)))
    egress = got[("NetworkPolicy", "agent-api")]["spec"]["egress"]
    [collector] = [
        r
        for r in egress
        if r["to"][0].get("namespaceSelector", {}).get("matchLabels")
        == {"kubernetes.io/metadata.name": "observability"}
    ]
    assert collector["ports"] == [{"port": 4318, "protocol": "TCP"}]
    assert [[p["port"] for p in r["ports"]] for r in egress if "ipBlock" in r["to"][0]] == [[443]]


def test_langsmith_against_prods_own_langsmith_key_is_a_located_error(tmp_path):
    tracing = {"enabled": True, "provider": "langsmith", "apiKeyKey": "langsmithApiKey", "project": "agents"}
    with pytest.raises(ProgramError) as info:
        capture_with(tmp_path, "prod", with_tracing(tracing))
    # One line, at the line of the stack file that sets it.
    assert re.fullmatch(
        r"Pulumi\.prod\.yaml:\d+: agent-platform:services\[agent-api\]\.secretEnv\.LANGSMITH_API_KEY: is set by "
        r"tracing \(provider langsmith\); remove it, or turn tracing off",
        str(info.value),
    )


def test_langfuse_on_docker_reaches_the_containers(tmp_path):
    tracing = {
        "enabled": True,
        "provider": "langfuse",
        "apiKeyKey": "langfuseSecretKey",
        "publicKeyKey": "langfusePublicKey",
    }
    files = render_files(capture_with(tmp_path, "e2e", with_tracing(tracing)))
    compose, example = files["docker-compose.yml"], files["compose.env.example"]
    assert "LANGFUSE_BASE_URL: https://cloud.langfuse.com" in compose
    assert "LANGFUSE_SECRET_KEY: ${LANGFUSE_SECRET_KEY:?" in compose
    assert "LANGFUSE_PUBLIC_KEY=change-me" in example and "LANGFUSE_SECRET_KEY=change-me" in example
    assert stack_file("e2e")["config"]["agent-platform:services"][0]["name"] in compose
