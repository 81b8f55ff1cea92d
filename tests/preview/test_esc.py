"""Stack files that import Pulumi ESC environments (`environment:`), previewed offline from what
`esc env open NAME --format json` prints (--esc-values NAME=FILE), merged as the Pulumi CLI merges
them (pulumi sdk/go/common/workspace/config.go mergeConfig)."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from preview.esc import merge_patch
from tests.conftest import stack_file
from tests.preview.test_cli import run_cli

P = "agent-platform:"
SECRET = "sk-proj-" + "EscS3cretValueQ7wLz3Rk9Tb2Xc4Vn6Mp8Hd1Jf"


@pytest.fixture
def esc_stack(tmp_path):
    """prod with redis and a secret moved into an environment, and postgres split between the two."""
    data = copy.deepcopy(stack_file("prod"))
    config = data["config"]
    values = {
        "pulumiConfig": {
            "redis": config.pop(P + "redis"),
            "openaiApiKey": SECRET,
            P + "postgres": {"instances": 5, "maxConnections": 321},
        },
        "environmentVariables": {"UNUSED": "by the program"},
    }
    assert config[P + "postgres"]["instances"] == 3 and "maxConnections" not in config[P + "postgres"]
    data["environment"] = ["agent-platform/prod"]
    (tmp_path / "Pulumi.prod.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    (tmp_path / "prod-esc.json").write_text(json.dumps(values))
    return tmp_path


def test_an_imported_environment_without_its_values_is_one_located_line_with_the_commands(esc_stack):
    result = run_cli("prod", "--config-file", str(esc_stack / "Pulumi.prod.yaml"), "--out", str(esc_stack / "out"))
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    text = (esc_stack / "Pulumi.prod.yaml").read_text().splitlines()
    number = next(i for i, t in enumerate(text, 1) if t.startswith("environment:"))
    where = f"{esc_stack / 'Pulumi.prod.yaml'}:{number}"
    assert line.startswith(f"error: {where}: environment: imports agent-platform/prod")
    assert "esc env open agent-platform/prod --format json" in line and "--esc-values agent-platform/prod=" in line
    assert not (esc_stack / "out").exists()


def test_the_environments_config_is_merged_under_the_stack_files_and_its_secret_stays_secret(esc_stack):
    out = esc_stack / "out"
    result = run_cli(
        "prod",
        "--config-file",
        str(esc_stack / "Pulumi.prod.yaml"),
        "--esc-values",
        f"agent-platform/prod={esc_stack / 'prod-esc.json'}",
        "--out",
        str(out),
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["policy"]["mandatoryFailed"] is False  # the phase worker read the environment too
    assert not [w for w in report["warnings"] if "openaiApiKey" in w]  # the environment gave it
    (cluster_file,) = (out / "kubernetes").glob("*-cluster-postgres.yaml")
    cluster = yaml.safe_load(cluster_file.read_text())
    assert cluster["spec"]["instances"] == 3  # the stack file's value wins
    assert cluster["spec"]["postgresql"]["parameters"]["max_connections"] == "321"  # only the environment's
    assert any("redis" in p.name for p in (out / "kubernetes").iterdir())  # a whole key from the environment
    texts = [result.stdout, result.stderr] + [p.read_text() for p in out.rglob("*") if p.is_file()]
    assert [t for t in texts if SECRET[:20] in t] == []


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", ":1: not JSON ("),
        (json.dumps({"pulumiConfig": ["a", "list"]}), ": must be a JSON object whose pulumiConfig is an object"),
    ],
)
def test_a_bad_values_file_is_one_line_naming_it(esc_stack, content, problem):
    (esc_stack / "prod-esc.json").write_text(content)
    flag = f"agent-platform/prod={esc_stack / 'prod-esc.json'}"
    result = run_cli("prod", "--config-file", str(esc_stack / "Pulumi.prod.yaml"), "--esc-values", flag, "--no-policy")
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: --esc-values {flag}") and problem in line


def test_merge_patch_follows_rfc_7396():
    # RFC 7396 section 3's example, and the appendix's cases that differ from a deep update.
    target = {"title": "Goodbye!", "author": {"givenName": "John", "familyName": "Doe"}, "tags": ["example"]}
    patch = {"title": "Hello!", "phoneNumber": "+01-123-456-7890", "author": {"familyName": None}, "tags": ["x"]}
    assert merge_patch(target, patch) == {
        "title": "Hello!",
        "author": {"givenName": "John"},
        "tags": ["x"],
        "phoneNumber": "+01-123-456-7890",
    }
    assert merge_patch({"a": "b"}, {"a": {"b": "c"}}) == {"a": {"b": "c"}}
    assert merge_patch({"a": {"b": "c"}}, ["x"]) == ["x"]
    assert merge_patch("x", {"a": None}) == {}
