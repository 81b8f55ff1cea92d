"""The pack as the engine runs it: a separate process over the analyzer gRPC protocol."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from preview.policy import PolicyRunError, configure_request, run_policy_pack, start_pack
from tests.conftest import ROOT, capture_with, shipped


def test_pack_starts_and_prints_its_port():
    process, port = start_pack(ROOT / "policies")
    try:
        assert 1024 < port < 65536 and process.poll() is None
    finally:
        process.kill()
        process.wait()


def test_importing_the_rules_starts_no_server():
    result = subprocess.run(
        [sys.executable, "-c", "import policies.rules, sys; print(len(policies.rules.ALL_RULES))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0 and int(result.stdout) >= 30


def test_prod_has_no_violation_at_all(tmp_path):
    report = run_policy_pack(ROOT, shipped("prod"), tmp_path)
    assert len(report.policies) >= 30
    assert report.violations == []
    assert all(p["enforcementLevel"] == "mandatory" for p in report.policies)


def test_dev_has_no_mandatory_violation_and_downgrades_say_why(tmp_path):
    report = run_policy_pack(ROOT, shipped("dev"), tmp_path)
    assert not report.mandatory_failed
    assert {v.policy for v in report.violations} <= {
        "image-digest-pinned",
        "min-replicas",
        "spread-across-failure-domains",
        "datastore-protected",
        "pdb-allows-disruption",
        "datastore-persistent-volume",
    }
    config = json.loads((ROOT / "policies" / "config" / "dev.json").read_text())
    for name, entry in config.items():
        if isinstance(entry, dict) and entry.get("enforcementLevel") == "advisory":
            assert entry.get("reason"), name


def test_a_violating_stack_fails_mandatory_with_reports(tmp_path):
    def insecure(cfg):
        svc = cfg["agent-platform:services"][0]
        svc["securityContext"] = {"readOnlyRootFilesystem": False}
        svc["image"] = "registry.example.com/agents/agent-api:1.4.2"

    report = run_policy_pack(ROOT, capture_with(tmp_path, "prod", insecure), tmp_path / "out")
    assert report.mandatory_failed
    found = {(v.policy, v.resource) for v in report.violations}
    assert ("read-only-root-filesystem", "Deployment/agent-api") in found
    assert ("image-digest-pinned", "Deployment/agent-api") in found
    doc = json.loads((tmp_path / "out" / "policy-report.json").read_text())
    assert doc["mandatoryFailed"] is True
    sarif = json.loads((tmp_path / "out" / "policy-report.sarif").read_text())
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    assert {r["ruleId"] for r in run["results"]} >= {"read-only-root-filesystem", "image-digest-pinned"}
    assert all(r["level"] == "error" for r in run["results"])
    assert run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "Pulumi.prod.yaml"
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    for result in run["results"]:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]


def test_stack_rule_sees_protect_option(tmp_path):
    def unprotected(cfg):
        cfg["agent-platform:postgres"]["protect"] = False

    report = run_policy_pack(ROOT, capture_with(tmp_path, "prod", unprotected), tmp_path / "out")
    # prod's Postgres is a CloudNativePG Cluster: it and its archive's ObjectStore.
    assert sorted((v.policy, v.resource, v.level) for v in report.violations) == [
        ("postgres-cluster-protected", "Cluster/postgres", "mandatory"),
        ("postgres-cluster-protected", "ObjectStore/postgres-backups", "mandatory"),
    ]


def test_preview_exits_1_on_mandatory_violation(tmp_path):
    import yaml

    stack = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    stack["config"]["agent-platform:services"][0]["image"] = "registry.example.com/agents/agent-api:1.4.2"
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(stack))
    result = subprocess.run(
        [sys.executable, "-m", "preview", "prod", "--config-file", str(path), "--out", str(tmp_path / "o")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "mandatory medium   preview+up image-digest-pinned" in result.stdout


def test_unknown_policy_in_config_is_reported():
    from pulumi.runtime.proto import analyzer_pb2

    info = analyzer_pb2.AnalyzerInfo(name="agent-platform", policies=[analyzer_pb2.PolicyInfo(name="a")])
    with pytest.raises(PolicyRunError, match="policies/config/x.json: b: no such policy"):
        configure_request(info, {"b": "advisory"}, "policies/config/x.json")
    with pytest.raises(PolicyRunError, match="a.enforcementLevel: 'loud'"):
        configure_request(info, {"a": {"enforcementLevel": "loud"}}, "policies/config/x.json")


def test_local_docker_stack_has_no_violation(tmp_path):
    report = run_policy_pack(ROOT, shipped("local"), tmp_path)
    assert report.violations == []


def test_docker_rules_apply_to_the_compose_stack_containers(tmp_path):
    def exposed(cfg):
        cfg["agent-platform:docker"]["proxy"]["bindAddress"] = "0.0.0.0"

    report = run_policy_pack(ROOT, capture_with(tmp_path, "local", exposed), tmp_path / "out")
    assert [(v.policy, v.resource, v.level) for v in report.violations] == [
        ("docker-ports-loopback", "Container/proxy", "mandatory")
    ]


def test_docker_data_stores_are_recognised_in_the_compose_stack(tmp_path):
    def no_volume(cfg):
        cfg["agent-platform:redis"]["persistence"] = {"enabled": False}

    report = run_policy_pack(ROOT, capture_with(tmp_path, "local", no_volume), tmp_path / "out")
    assert [(v.policy, v.resource, v.level) for v in report.violations] == [
        ("datastore-persistent-volume", "Container/redis", "mandatory")
    ]
