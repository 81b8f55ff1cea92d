"""Another team's program (examples/consumer), copied outside this tree, previewed as docs/consumers.md
says: its own project and stack file, the bundled policy pack at its default levels, the
connectivity table; nothing of this repository's stack-file model."""

from __future__ import annotations

import json
import shutil

import yaml

from tests.conftest import ROOT
from tests.preview.test_cli import run_cli


def test_a_consumer_program_previews_with_the_pack_and_its_connectivity(tmp_path):
    program = tmp_path / "consumer"
    shutil.copytree(ROOT / "examples" / "consumer", program)
    out = tmp_path / "out"
    result = run_cli("dev", "--project-dir", str(program), "--out", str(out), "--format", "json", cwd=program)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["policy"]["pack"] == "agent-platform" and report["policy"]["config"].startswith("none")
    assert report["policy"]["violations"] == [] and report["validation"] == []
    paths = {(c["from"], c["to"].split(" ")[0]) for c in report["connectivity"]}
    assert ("ingress controller (ingress-nginx)", "Deployment/agent-api") in paths
    assert ("Deployment/agent-api", "StatefulSet/postgres") in paths
    # Its Pulumi.yaml's `secret: true` key is filled offline and stays secret.
    assert report["warnings"] == ["secret agent-consumer:openaiApiKey not in the environment: a placeholder was used"]
    ingress = yaml.safe_load(
        (out / "kubernetes")
        .joinpath(next(p.name for p in (out / "kubernetes").iterdir() if "-ingress-" in p.name))
        .read_text()
    )
    assert ingress["spec"]["rules"][0]["host"] == "agents.dev.example.com"


def test_a_consumer_program_is_judged_by_the_pack(tmp_path):
    """The same program with its image unpinned: the bundled pack's mandatory finding, exit 1."""
    program = tmp_path / "consumer"
    shutil.copytree(ROOT / "examples" / "consumer", program)
    stack = program / "Pulumi.dev.yaml"
    stack.write_text(
        stack.read_text().replace("1.4.2@sha256:" + stack.read_text().split("@sha256:")[1].split()[0], "1.4.2")
    )
    result = run_cli("dev", "--project-dir", str(program), "--out", str(tmp_path / "out"), cwd=program)
    assert result.returncode == 1
    assert "image-digest-pinned" in result.stdout and "ghcr.io/example/agent-api:1.4.2' is not pinned" in result.stdout
