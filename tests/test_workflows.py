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
        "      - run: echo \"${{ github.event.pull_request.title }}\"\n")
    result = subprocess.run([str(ACTIONLINT), "-no-color", str(bad)], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 1 and "potentially untrusted" in result.stdout


def test_pr_workflow_runs_the_offline_preview_and_gates_the_real_one():
    text = (ROOT / ".github" / "workflows" / "pull-request.yml").read_text()
    assert "python -m preview" in text and '--base "origin/$BASE_REF"' in text
    assert "comment-on-pr: true" in text and "policyPacks: policies" in text
    assert "needs.credentials.outputs.available == 'true'" in text
    deploy = (ROOT / ".github" / "workflows" / "deploy.yml").read_text()
    assert "production" in deploy and "workflow_dispatch" in deploy
