"""SARIF that code scanning can use (preview/sarif.py), checked against the OASIS 2.1.0 schema
(tests/fixtures/schemas/sarif-schema-2.1.0.json, its source in that folder's README)."""

from __future__ import annotations

import json

import jsonschema
import pytest

from preview.capture import capture_stack
from preview.findings import Owners, locate
from preview.policy import Violation, run_policy_pack
from program.stack_lines import StackLines
from tests.conftest import ROOT, shipped


def line_of(violation: Violation, lines: StackLines) -> int:
    return locate(violation, lines, Owners(None, lines.services), "fix").line


SCHEMA = json.loads((ROOT / "tests" / "fixtures" / "schemas" / "sarif-schema-2.1.0.json").read_text())


@pytest.fixture(scope="module")
def dev_sarif(tmp_path_factory):
    out = tmp_path_factory.mktemp("sarif")
    preview = capture_stack(ROOT, "dev", phase="preview")[1]
    run_policy_pack(ROOT, shipped("dev"), out, preview_capture=preview)
    return json.loads((out / "policy-report.sarif").read_text())


def test_the_schema_is_the_oasis_one():
    assert SCHEMA["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    assert SCHEMA["id"].endswith("/sarif-schema-2.1.0.json")


def test_sarif_validates_against_the_schema(dev_sarif):
    assert dev_sarif["runs"][0]["results"], "dev's declared relaxations give results to check"
    jsonschema.Draft4Validator(SCHEMA).validate(dev_sarif)


def test_results_sit_at_the_stack_file_key_that_produced_them(dev_sarif):
    text = (ROOT / "Pulumi.dev.yaml").read_text().splitlines()
    located = {}
    for result in dev_sarif["runs"][0]["results"]:
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] == "Pulumi.dev.yaml"
        resource = result["message"]["text"].split(":", 1)[0]
        located[(result["ruleId"], resource)] = text[location["region"]["startLine"] - 1].strip()
    assert located[("image-digest-pinned", "Deployment/agent-api")].startswith("image: registry.example.com/")
    assert located[("min-replicas", "StatefulSet/agent-runner")] == "replicas: 1"
    assert located[("spread-across-failure-domains", "Deployment/agent-api")].startswith("topologySpread: false")
    assert located[("datastore-protected", "StatefulSet/postgres")].startswith("protect: false")
    assert located[("datastore-persistent-volume", "StatefulSet/redis")] == "persistence:"


def test_fingerprints_name_each_result_and_ignore_lines(dev_sarif):
    results = dev_sarif["runs"][0]["results"]
    prints = [r["partialFingerprints"]["agent-platform/v1"] for r in results]
    assert len(set(prints)) == len(prints)
    moved = Violation("p", "advisory", "high", "Deployment/agent-api", "urn:x", "m")
    lines = StackLines("config:\n  agent-platform:services:\n    - name: agent-api\n", "agent-platform")
    shifted = StackLines(
        "# a comment\n\nconfig:\n  agent-platform:services:\n    - name: agent-api\n", "agent-platform"
    )
    assert (line_of(moved, lines), line_of(moved, shifted)) == (3, 5)


def test_rules_carry_a_security_severity_code_scanning_reads(dev_sarif):
    for rule in dev_sarif["runs"][0]["tool"]["driver"]["rules"]:
        assert 0.0 < float(rule["properties"]["security-severity"]) <= 10.0
        assert "security" in rule["properties"]["tags"]


def test_longest_service_name_wins_and_an_unparsable_file_falls_back_to_line_1():
    lines = StackLines(
        "config:\n  agent-platform:services:\n    - name: agent\n    - name: agent-api\n", "agent-platform"
    )
    canary = Violation("p", "advisory", "high", "Deployment/agent-api-canary", "urn:x", "m")
    assert line_of(canary, lines) == 4
    unparsable = StackLines("config: [unclosed", "agent-platform")
    assert unparsable.services == {} and unparsable.line(("services",)) is None
    assert line_of(canary, unparsable) == 1


def test_a_block_is_located_at_its_key_and_only_when_the_file_has_it():
    text = "config:\n  agent-platform:postgres:\n    mode: cloudnativepg\n  redis: {}\n"
    lines = StackLines(text, "agent-platform")
    postgres = Violation("p", "advisory", "high", "Cluster/postgres", "urn:x", "m")
    redis = Violation("p", "advisory", "high", "StatefulSet/redis-0", "urn:x", "m")
    ingress = Violation("p", "advisory", "high", "Ingress/ingress", "urn:x", "m")
    assert [line_of(v, lines) for v in (postgres, redis, ingress)] == [2, 4, 1]
