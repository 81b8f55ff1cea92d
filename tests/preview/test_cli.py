"""The offline preview command end to end: files, determinism, redaction, validation, diffs, exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from preview.__main__ import main
from preview.validate import validate_object
from tests.conftest import ROOT

SECRET = "sk-test-DO-NOT-LEAK-4f9a8b7c6d5e"


def run_cli(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "preview", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)},
    )


def tree(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def prod_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("prod")
    assert main(["prod", "--out", str(out), "--no-policy"]) == 0
    return out


def test_writes_manifests_resources_and_graph(prod_out):
    files = tree(prod_out)
    manifests = [f for f in files if f.startswith("kubernetes/")]
    # 13 of them Postgres as CloudNativePG (docs/backups-kubernetes.md); agent-api-jobs runs its Job and CronJob;
    # 2 the dashboards (monitoring.dashboards)
    assert len(manifests) == 53
    assert manifests[0] == "kubernetes/001-namespace-agents-prod.yaml"
    kinds = [yaml.safe_load(files[f])["kind"] for f in manifests]
    assert kinds.index("Secret") < kinds.index("Deployment") < kinds.index("Service") < kinds.index("Ingress")
    for f in manifests:
        obj = yaml.safe_load(files[f])
        assert obj["metadata"]["name"]
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "agents-prod"
    doc = json.loads(files["resources.json"])
    assert {r["type"] for r in doc["resources"]} >= {
        "agent-platform:k8s:AgentService",
        "random:index/randomPassword:RandomPassword",
    }
    graph = files["graph.md"].decode()
    assert "```mermaid" in graph and '-->|"5432/TCP"|' in graph and "external 0.0.0.0/0" in graph


def test_integers_stay_integers(prod_out):
    deploy = yaml.safe_load((prod_out / "kubernetes").glob("*-deployment-agent-api.yaml").__next__().read_text())
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    assert container["ports"][0]["containerPort"] == 8000 and isinstance(container["ports"][0]["containerPort"], int)
    assert isinstance(deploy["spec"]["template"]["spec"]["terminationGracePeriodSeconds"], int)
    text = (prod_out / "resources.json").read_text()
    assert "8000.0" not in text


def test_render_is_byte_identical_twice(tmp_path, prod_out):
    assert main(["prod", "--out", str(tmp_path), "--no-policy"]) == 0
    assert tree(tmp_path) == tree(prod_out)


def test_a_known_secret_never_reaches_any_output(tmp_path):
    result = run_cli(
        "dev",
        "--out",
        str(tmp_path),
        "--no-policy",
        "--format",
        "json",
        env={"PULUMI_CONFIG_AGENT_PLATFORM_OPENAIAPIKEY": SECRET},
    )
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    for name, content in tree(tmp_path).items():
        assert SECRET.encode() not in content, name
    report = json.loads(result.stdout)
    # The real value was used (only langsmith fell back to a placeholder).
    assert report["warnings"] == [
        "secret agent-platform:langsmithApiKey not in the environment: a placeholder was used"
    ]


def test_invalid_manifest_fails_with_file_object_and_path():
    bad = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x", "namespace": "n"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "i:1",
                            "ports": [{"containerPort": "eighty"}],
                            "livenessProbe": {"bogus": 1},
                        }
                    ]
                }
            },
        },
    }
    findings = validate_object("kubernetes/001-deployment-x.yaml", bad, ["1.29"])
    paths = {f.path for f in findings}
    assert "spec.template.spec.containers[0].ports[0].containerPort" in paths
    assert "spec.template.spec.containers[0].livenessProbe" in paths  # strict: unknown field
    line = findings[0].line()
    assert line.startswith("kubernetes/001-deployment-x.yaml: Deployment/x: spec.template.spec.containers[0]")


def test_removed_api_version_is_reported():
    old = {
        "apiVersion": "policy/v1beta1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "p", "namespace": "n"},
        "spec": {},
    }
    [finding] = validate_object("f.yaml", old, ["1.29"])
    assert finding.path == "apiVersion" and "no schema" in finding.message


def test_validation_failure_exits_1(tmp_path, monkeypatch):
    import preview.cli as cli
    from preview.validate import Finding

    monkeypatch.setattr(
        cli, "validate_manifests", lambda pairs, versions: [Finding(f, "X/y", "spec", "broken") for f, _ in pairs]
    )
    assert main(["dev", "--out", str(tmp_path), "--no-policy"]) == 1


def test_against_shows_promotion_changes(tmp_path):
    result = run_cli("prod", "--out", str(tmp_path), "--no-policy", "--against", "dev", "--format", "json")
    assert result.returncode == 0, result.stderr
    [d] = json.loads(result.stdout)["diffs"]
    assert "HorizontalPodAutoscaler/agent-api" in d["added"] and "PodDisruptionBudget/agent-runner" in d["added"]
    assert "Deployment/agent-api" in d["changed"]
    # dev's Postgres is the StatefulSet, prod's a CloudNativePG Cluster.
    assert d["removed"] == ["NetworkPolicy/postgres", "Service/postgres", "StatefulSet/postgres"]
    assert "Cluster/postgres" in d["added"]
    # Each stack's Namespace is the same object, named for its environment: changed, not added and removed.
    assert "Namespace/agents-prod" in d["changed"] and not any(k.startswith("Namespace/") for k in d["added"])
    assert "-  replicas: 1" in d["patches"]["Deployment/agent-api"]


def test_markdown_report_is_a_pr_comment(tmp_path):
    result = run_cli("prod", "--out", str(tmp_path), "--no-policy", "--against", "dev", "--format", "markdown")
    assert result.returncode == 0
    assert "| added | `HorizontalPodAutoscaler/agent-api` |" in result.stdout
    assert "<details><summary><code>Deployment/agent-api</code></summary>" in result.stdout


def _project_copy(dest: Path) -> Path:
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "__main__.py"):
        shutil.copy(ROOT / name, dest / name)
    for package in ("components", "program"):
        shutil.copytree(ROOT / package, dest / package, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def test_base_renders_a_real_earlier_commit(tmp_path):
    (tmp_path / "project").mkdir()
    project = _project_copy(tmp_path / "project")
    git = lambda *a: subprocess.run(["git", *a], cwd=project, check=True, capture_output=True)  # noqa: E731
    git("init", "-q")
    git("-c", "user.email=t@t", "-c", "user.name=t", "add", "-A")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "base")
    stack = yaml.safe_load((project / "Pulumi.dev.yaml").read_text())
    stack["config"]["agent-platform:services"][0]["env"]["LOG_LEVEL"] = "warning"
    (project / "Pulumi.dev.yaml").write_text(yaml.safe_dump(stack))
    result = run_cli(
        "dev", "--project-dir", str(project), "--no-policy", "--base", "HEAD", "--format", "json", cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    [d] = json.loads(result.stdout)["diffs"]
    assert d["changed"] == [
        "ConfigMap/agent-api",
        "Deployment/agent-api",
    ]  # the env, and the checksum that rolls the pods
    assert "+  LOG_LEVEL: warning" in d["patches"]["ConfigMap/agent-api"]
    worktrees = subprocess.run(["git", "worktree", "list"], cwd=project, capture_output=True, text=True).stdout
    assert len(worktrees.strip().splitlines()) == 1  # the temporary worktree is gone


def test_base_that_is_not_a_commit_is_bad_input_and_leaves_no_output(tmp_path):
    result = run_cli("dev", "--no-policy", "--base", "no-such-rev-xyz", "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.strip() == "error: --base no-such-rev-xyz: not a commit in this repository"
    assert list(tmp_path.iterdir()) == []  # neither the render nor its staging dir


BAD_INPUTS = [
    (
        "unknown stack",
        ["staging"],
        None,
        "error: Pulumi.staging.yaml: no such stack file (stacks here: dev, e2e, e2e-aegra, local, prod)",
    ),
    (
        "malformed stack file",
        ["dev", "--config-file", "{bad}"],
        "config: [unclosed\n",
        "error: {bad}:2:1: malformed YAML: ",
    ),
    (
        "config not a mapping",
        ["dev", "--config-file", "{bad}"],
        "config: 3\n",
        "error: {bad}: config: must be a mapping",
    ),
    (
        "invalid config",
        ["dev", "--config-file", "{bad}"],
        "config:\n  agent-platform:environment: dev\n  agent-platform:services: []\n",
        "error: {bad}:3: agent-platform:services: List should have at least 1 item",
    ),
    (
        "bad k8s version",
        ["dev", "--k8s-version", "1.99"],
        None,
        "error: --k8s-version 1.99: newer than the schemas shipped",
    ),
]


@pytest.mark.parametrize("label,args,content,message", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_exits_2_with_one_line(tmp_path, label, args, content, message):
    if content is not None:
        (tmp_path / "bad.yaml").write_text(content)
    args = [a.replace("{bad}", str(tmp_path / "bad.yaml")) for a in args]
    result = run_cli(*args, "--no-policy", "--out", str(tmp_path / "out"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(message.replace("{bad}", str(tmp_path / "bad.yaml"))), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_a_program_that_raises_exits_2(tmp_path):
    project = _project_copy(tmp_path)
    (project / "__main__.py").write_text("raise RuntimeError('boom in the program')\n")
    result = run_cli("dev", "--project-dir", str(project), "--no-policy")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: __main__.py: RuntimeError: boom in the program"


def test_malformed_policy_config_is_bad_input(tmp_path):
    project = _project_copy(tmp_path)
    shutil.copytree(ROOT / "policies", project / "policies", ignore=shutil.ignore_patterns("__pycache__"))
    (project / "policies" / "config" / "dev.json").write_text('{"all": "loud"}')
    result = run_cli("dev", "--project-dir", str(project), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.startswith("error: policies/config/dev.json: image-tag-set.enforcementLevel: 'loud'")


def test_no_policy_run_leaves_no_stale_policy_report(tmp_path):
    assert main(["dev", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "policy-report.json").exists()
    assert main(["dev", "--out", str(tmp_path), "--no-policy"]) == 0
    assert not (tmp_path / "policy-report.json").exists()


def test_secure_values_become_marked_placeholders_or_env(tmp_path):
    from preview.stackfile import read_stack_config

    stack = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    stack["config"]["agent-platform:openaiApiKey"] = {"secure": "v1:AAABBBCCC="}
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump(stack))
    inputs = read_stack_config(ROOT, "dev", path)
    assert inputs.config["agent-platform:openaiApiKey"] == "preview-placeholder-openaiApiKey"
    assert inputs.secret_keys == ["agent-platform:openaiApiKey"] and inputs.placeholders == [
        "agent-platform:openaiApiKey"
    ]
    os.environ["PULUMI_CONFIG_AGENT_PLATFORM_OPENAIAPIKEY"] = SECRET
    try:
        assert read_stack_config(ROOT, "dev", path).config["agent-platform:openaiApiKey"] == SECRET
    finally:
        del os.environ["PULUMI_CONFIG_AGENT_PLATFORM_OPENAIAPIKEY"]


def test_k8s_versions_accept_a_list(tmp_path):
    result = run_cli("dev", "--no-policy", "--out", str(tmp_path), "--k8s-version", "1.30,1.33", "--format", "json")
    assert result.returncode == 0, result.stderr


def test_markdown_comment_is_stable_and_has_the_right_header(tmp_path):
    # A PR comment is updated only when its text changes: nothing run-specific (timings, paths) in it.
    first = run_cli("local", "--out", str(tmp_path / "a"), "--format", "markdown")
    second = run_cli("local", "--out", str(tmp_path / "b"), "--format", "markdown")
    assert first.returncode == second.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert "Policy pack: 0 mandatory" in first.stdout and "s</summary>" not in first.stdout
    assert "Docker host: 6 Compose services" in first.stdout and "Kubernetes objects" not in first.stdout


def test_json_report_carries_the_policy_results(tmp_path):
    result = run_cli("dev", "--out", str(tmp_path), "--format", "json")
    assert result.returncode == 0, result.stderr
    policy = json.loads(result.stdout)["policy"]
    assert policy["phases"] == ["preview", "up"] and not policy["mandatoryFailed"]
    levels = {(v["policy"], v["level"]) for v in policy["violations"]}
    assert ("min-replicas", "advisory") in levels  # dev's declared relaxations, as in policies/config/dev.json


def test_a_promotion_reads_in_the_direction_it_goes(tmp_path):
    result = run_cli("dev", "--against", "prod", "--no-policy", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "Changes, promoting dev onto prod:" in result.stdout and " in prod\n" in result.stdout
    assert "prod -> dev" not in result.stdout
