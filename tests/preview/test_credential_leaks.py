"""Credential-shaped canaries planted wherever a stack file holds a value never come out: each is refused
at its line, and no output (stdout, stderr, anything under --out) carries it, in any format."""

from __future__ import annotations

import copy

import pytest
import yaml

from tests.conftest import stack_file
from tests.preview.test_cli import run_cli

P = "agent-platform:"
# One per shape the settings know (settings/errors.py CREDENTIAL_SHAPES), each unique so a hit says where.
CANARIES = {
    "openai": "sk-proj-" + "Q7wLz3Rk9Tb2Xc4Vn6Mp8Hd1Jf5Gs0Ya" * 2,
    "anthropic": "sk-ant-api03-" + "Zx8Cv7Bn6Mq5Wa4Se3Dr2Ft1Gy0Hu9Ji" * 2,
    "github": "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
    "aws": "AKIA" + "IOSFODNN7EXAMPLQ",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnktand0In0.c2lnbmF0dXJlLWNhbmFyeS1qd3QtMDE",
}


def _plant(cfg: dict, where: str, canary: str) -> None:
    api = cfg[P + "services"][0]
    if where == "env":
        api.setdefault("env", {})["VENDOR_TOKEN"] = canary
    elif where == "secretEnv name":
        api.setdefault("secretEnv", {})["OPENAI_API_KEY"] = canary
    elif where == "annotation":
        cfg[P + "annotations"] = {"example.com/token": canary}
    elif where == "pod label":
        api["podLabels"] = {"example.com/token": canary[:60]}
    elif where == "args":
        api["args"] = ["--token", canary]


PLACES = ["env", "secretEnv name", "annotation", "args"]


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_planted_credentials_are_each_refused_at_their_line_and_never_written(tmp_path, fmt):
    """Every canary in every place at once: one run reports each (all problems in one run), shows none."""
    data = copy.deepcopy(stack_file("prod"))
    services = data["config"][P + "services"]
    pairs = [(place, name) for place in PLACES for name in CANARIES]
    # One copy of the API service per (place, canary), so each problem has a line of its own.
    template = services[0]
    services[:] = [services[1]]
    for i, (place, name) in enumerate(pairs):
        svc = copy.deepcopy(template)
        svc["name"] = f"api-{i:02d}"
        svc["ingress"] = {"paths": [f"/p{i}"]}
        services.insert(i, svc)
        holder = {P + "services": [svc], P + "annotations": {}}
        _plant(holder, place, CANARIES[name])
        if holder[P + "annotations"]:
            data["config"].setdefault(P + "annotations", {})[f"example.com/token-{i}"] = CANARIES[name]
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    result = run_cli("prod", "--config-file", str(path), "--out", str(out), "--format", fmt, "--no-policy")
    assert result.returncode == 2
    written = [p.read_text(errors="replace") for p in out.rglob("*") if p.is_file()] if out.exists() else []
    for text in [result.stdout, result.stderr, *written]:
        assert not [n for n, c in CANARIES.items() if c in text or c[:20] in text]
    refused = [line for line in result.stderr.splitlines() if "not shown" in line]
    assert len(refused) >= len(pairs), result.stderr
