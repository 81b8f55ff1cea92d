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


# --- Every stack, every place, through --base and --against -----------------------------------------

STACKS = ("dev", "prod", "local", "e2e")


def _canary(place: str, stack: str) -> str:
    """A credential unique to (place, stack), so a hit names where it leaked from. Random-looking
    upper/lower/digit runs: each is a known shape the settings and the masker both know."""
    tag = f"{place}-{stack}".encode().hex()[:16]
    return "ghp_" + (tag + "Q7wLz3Rk9Tb2Xc4Vn6Mp8Hd1Jf5Gs0Ya")[:36]


def _plant_everywhere(data: dict, stack: str) -> list[str]:
    """A canary in every place a stack file holds a value: plain env (its name and its value), secretEnv
    (its name and its value), annotations, labels, pod labels, the host, the image, args."""
    cfg = data["config"]
    svc = cfg[P + "services"][0]
    c = {place: _canary(place, stack) for place in PLACE_NAMES}
    svc.setdefault("env", {})["VENDOR_TOKEN"] = c["env value"]
    svc["env"][c["env name"]] = "plain"
    svc.setdefault("secretEnv", {})[c["secretEnv name"]] = "openaiApiKey"
    svc["secretEnv"]["OPENAI_API_KEY"] = c["secretEnv value"]
    cfg[P + "annotations"] = {"example.com/token": c["annotation"]}
    cfg[P + "labels"] = {"team": c["label"]}
    svc["podLabels"] = {"example.com/token": c["pod label"]}
    svc["image"] = "registry.example.com/agents/agent-api:" + c["image"]
    svc["args"] = ["--token", c["args"]]
    if P + "ingress" in cfg:
        cfg[P + "ingress"]["host"] = c["host"].lower() + ".example.com"
    else:
        c.pop("host")
    return list(c.values())


PLACE_NAMES = (
    "env value",
    "env name",
    "secretEnv name",
    "secretEnv value",
    "annotation",
    "label",
    "pod label",
    "image",
    "args",
    "host",
)


@pytest.fixture(scope="module")
def planted_project(tmp_path_factory):
    """A project (this program, every shipped stack file) whose HEAD and working tree both hold the
    canaries in every stack file: --base HEAD renders planted files, --against a planted stack."""
    import shutil
    import subprocess

    from tests.conftest import ROOT

    root = tmp_path_factory.mktemp("planted")
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, root / name)
    canaries = {}
    for stack in STACKS:
        data = copy.deepcopy(stack_file(stack))
        canaries[stack] = _plant_everywhere(data, stack)
        (root / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(data))
    clean = root / "clean"
    clean.mkdir()
    for stack in STACKS:
        shutil.copy(ROOT / f"Pulumi.{stack}.yaml", clean / f"Pulumi.{stack}.yaml")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "add", "."], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "planted"], cwd=root, check=True)
    return root, canaries


def _hits(texts: list[str], canaries: list[str]) -> list[str]:
    return [c for c in canaries for t in texts if c in t or c[:20] in t or c[:20].lower() in t]


# Each stack once as the one planted, once clean against a planted base, once clean against a planted
# stack; the formats rotate over them (the prod-only test above runs every format on one stack).
CASES = [
    (stack, how, ("text", "markdown", "json")[(i + j) % 3])
    for i, stack in enumerate(STACKS)
    for j, how in enumerate(("planted", "base", "against"))
]


@pytest.mark.parametrize(("stack", "how", "fmt"), CASES, ids=[f"{s}-{h}-{f}" for s, h, f in CASES])
def test_no_canary_leaves_through_any_stack_base_or_against(planted_project, tmp_path, stack, how, fmt):
    root, canaries = planted_project
    other = {"dev": "prod", "prod": "dev", "local": "e2e", "e2e": "local"}[stack]
    args = [stack, "--project-dir", str(root), "--out", str(tmp_path / "out"), "--format", fmt, "--no-policy"]
    if how == "planted":
        args += ["--base", "HEAD", "--against", other]
    else:
        # The stack itself clean (a copy outside the planted files), the base or the other stack planted.
        args += ["--config-file", str(root / "clean" / f"Pulumi.{stack}.yaml")]
        args += ["--base", "HEAD"] if how == "base" else ["--against", other]
    result = run_cli(*args, cwd=root)
    out = tmp_path / "out"
    written = [p.read_text(errors="replace") for p in out.rglob("*") if p.is_file()] if out.exists() else []
    every = [c for s in STACKS for c in canaries[s]]
    assert _hits([result.stdout, result.stderr, *written], every) == []
    assert result.returncode == 2, result.stderr[-2000:]
    located = [line for line in result.stderr.splitlines() if line.startswith("error: ") and "not shown" in line]
    if how == "base":  # the base revision's render fails on its first problem; the working tree is clean
        assert len(located) == 1 and located[0].startswith("error: --base HEAD: "), result.stderr[-2000:]
    else:  # every place refused, one located line each
        planted_in = stack if how == "planted" else other
        assert len(located) == len(canaries[planted_in]), result.stderr[-3000:]
        assert all(line.startswith(f"error: Pulumi.{planted_in}.yaml:") for line in located), located
