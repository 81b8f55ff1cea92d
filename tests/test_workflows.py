"""The GitHub workflows pass actionlint, and actionlint really flags untrusted input used inline."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import ROOT

ACTIONLINT = ROOT / "venv" / "bin" / "actionlint"


def test_workflows_pass_actionlint():
    result = subprocess.run([str(ACTIONLINT), "-no-color"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(list((ROOT / ".github" / "workflows").glob("*.yml"))) >= 2


def test_actionlint_flags_untrusted_input_inline(tmp_path: Path):
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: pull_request\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
        '      - run: echo "${{ github.event.pull_request.title }}"\n'
    )
    result = subprocess.run([str(ACTIONLINT), "-no-color", str(bad)], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 1 and "potentially untrusted" in result.stdout


def test_pr_workflow_runs_the_offline_preview_and_gates_the_real_one():
    text = (ROOT / ".github" / "workflows" / "pull-request.yml").read_text()
    assert "python -m preview" in text and '--base "origin/$BASE_REF"' in text
    assert "comment-on-pr: true" in text and "policyPacks: policies" in text
    assert "needs.credentials.outputs.available == 'true'" in text
    deploy = (ROOT / ".github" / "workflows" / "deploy.yml").read_text()
    assert "production" in deploy and "workflow_dispatch" in deploy


# --- the real preview and deploy get the stack's secrets; fork PRs never try to comment ------------

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import pytest  # noqa: E402
import yaml  # noqa: E402

from preview.stackfile import read_stack_config  # noqa: E402
from program.stack_config import TOP_LEVEL_KEYS, parse_stack_config, read_project_config  # noqa: E402

SCRIPT = ROOT / "tools" / "stack_secrets.py"


def _workflow(name: str) -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())


def _pulumi_command_jobs():
    for name in ("pull-request.yml", "deploy.yml"):
        for job_id, job in _workflow(name)["jobs"].items():
            steps = job.get("steps", [])
            for i, step in enumerate(steps):
                if str(step.get("uses", "")).startswith("pulumi/actions") and (step.get("with") or {}).get("command"):
                    yield name, job_id, steps[:i]


def test_every_real_pulumi_command_sets_the_stack_secrets_first():
    found = list(_pulumi_command_jobs())
    assert {(n, j) for n, j, _ in found} == {("pull-request.yml", "pulumi-preview"), ("deploy.yml", "deploy")}
    for name, job, before in found:
        runs = [s for s in before if "tools/stack_secrets.py" in s.get("run", "")]
        assert runs, f"{name}:{job} runs pulumi without setting the stack's secrets"
        assert "STACK_SECRETS" in runs[0]["env"] and "${{" not in runs[0]["run"], (
            "secrets reach the script via env only"
        )


def test_pr_comment_is_skipped_on_fork_pull_requests():
    steps = _workflow("pull-request.yml")["jobs"]["offline-preview"]["steps"]
    comment = next(s for s in steps if s.get("name") == "Post or update the PR comment")
    assert "github.event.pull_request.head.repo.full_name == github.repository" in comment["if"]
    summary = next(s for s in steps if "GITHUB_STEP_SUMMARY" in s.get("run", ""))
    assert "github.event.pull_request.head.repo.full_name != github.repository" in summary["if"]


def _needed(stack: str) -> list[str]:
    values = read_project_config(read_stack_config(ROOT, stack).config)
    return parse_stack_config({k: v for k, v in values.items() if k in TOP_LEVEL_KEYS}).secret_keys()


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_stack_secrets_check_accepts_exactly_the_keys_the_program_requires(stack):
    needed = _needed(stack)
    assert needed, "every shipped stack reads API keys"
    value = "value-that-must-not-be-printed"
    env = {**os.environ, "STACK_SECRETS": json.dumps({k: value for k in needed})}
    ok = subprocess.run([sys.executable, str(SCRIPT), stack, "--check"], capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines() == [f"ok: {stack}: {k} (secret)" for k in needed]
    assert value not in ok.stdout + ok.stderr
    env["STACK_SECRETS"] = json.dumps({k: value for k in needed[1:]})
    bad = subprocess.run([sys.executable, str(SCRIPT), stack, "--check"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and bad.stdout == ""
    assert (
        bad.stderr.strip()
        == f"error: STACK_SECRETS: {needed[0]}: missing or empty (stack {stack} needs {', '.join(needed)})"
    )
    assert value not in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize(
    "raw, message",
    [
        (None, "not set; stack dev needs"),
        ("not json", "not a JSON object"),
        ("[1, 2]", "must be a JSON object of config key -> value, got a list"),
    ],
)
def test_stack_secrets_rejects_malformed_input_in_one_line(raw, message):
    env = {k: v for k, v in os.environ.items() if k != "STACK_SECRETS"}
    if raw is not None:
        env["STACK_SECRETS"] = raw
    result = subprocess.run([sys.executable, str(SCRIPT), "dev", "--check"], capture_output=True, text=True, env=env)
    assert result.returncode == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
