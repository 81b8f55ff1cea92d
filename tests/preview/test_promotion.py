"""The promotion report `--against` leads with (preview/promotion.py): app drift per service, the
environments' own differences counted, and dev against prod on one screen."""

from __future__ import annotations

import copy

from preview.promotion import drift, report_lines
from program.stack_config import TOP_LEVEL_KEYS, parse_stack_config
from tests.conftest import stack_file
from tests.preview.test_cli import run_cli

P = "agent-platform:"
DIGEST = "sha256:" + "7c" * 32


def settings(data: dict):
    values = {k.removeprefix(P): v for k, v in data["config"].items() if k.startswith(P)}
    return parse_stack_config({k: v for k, v in values.items() if k in TOP_LEVEL_KEYS})


def test_the_shipped_stacks_differ_by_environment_and_by_nothing_of_the_app():
    d = drift("dev", settings(stack_file("dev")), "prod", settings(stack_file("prod")))
    assert d["onlyIn"] == {"dev": [], "prod": []}
    # prod pins by digest the tags dev runs: the same release, said once per service, nothing else.
    assert {name: [i.split(":")[0] for i in items] for name, items in d["services"].items()} == {
        "agent-api": ["image"],
        "agent-runner": ["image"],
    }
    assert all("pins" in items[0] for items in d["services"].values())
    assert d["notRunIn"] == {"dev": {}}
    assert {"services.replicas", "services.resources", "postgres.backup", "ingress"} <= set(d["environmentSettings"])
    lines = report_lines(d)
    assert len(lines) <= 10 and "promote:" not in "\n".join(lines)


def test_drift_is_grouped_per_service_and_each_kind_is_named():
    dev, prod = copy.deepcopy(stack_file("dev")), copy.deepcopy(stack_file("prod"))
    dev_api = dev["config"][P + "services"][0]
    dev_api["image"] = f"registry.example.com/agents/agent-api:1.5.0@{DIGEST}"
    dev_api["env"]["FEATURE_SUMMARIES"] = "enabled"
    dev_api["probes"] = {"readiness": {"path": "/ready"}}
    summarizer = copy.deepcopy(dev_api) | {"name": "summarizer", "ingress": {"paths": ["/summaries"]}}
    dev["config"][P + "services"].append(summarizer)
    prod_api, prod_runner = prod["config"][P + "services"][:2]
    prod_runner["secretEnv"]["ANTHROPIC_API_KEY"] = "anthropicApiKey"
    hotfix = "registry.example.com/agents/agent-api:1.4.3@sha256:" + "9d" * 32
    prod_api["rollout"] = {"strategy": "canary", "canary": {"image": hotfix, "weight": 10, "replicas": 1}}
    d = drift("dev", settings(dev), "prod", settings(prod))
    assert d["onlyIn"] == {"dev": ["summarizer"], "prod": []}
    api, runner = d["services"]["agent-api"], d["services"]["agent-runner"]
    assert api[0].startswith("image: dev runs registry.example.com/agents/agent-api:1.5.0@")
    assert "probes: differs (it travels with the image)" in api
    assert "env keys only in dev: FEATURE_SUMMARIES" in api
    assert "secretEnv names only in prod: ANTHROPIC_API_KEY" in runner
    # What prod runs of agent-api that dev does not: its stable image and its canary's.
    assert d["notRunIn"] == {"dev": {"agent-api": sorted([prod_api["image"], hotfix])}}
    text = "\n".join(report_lines(d))
    assert "services only in dev: summarizer" in text
    assert "promote: venv/bin/python -m preview.promote agent-api --from dev --to prod" in text
    assert f"prod runs an image dev has not run: agent-api {hotfix}" in text


def test_dev_against_prod_with_summary_fits_on_one_screen(tmp_path):
    """The whole command, its pack included, as a reviewer runs it: at most 60 lines."""
    result = run_cli("dev", "--against", "prod", "--summary", "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-2000:]
    lines = (result.stdout + result.stderr).splitlines()
    assert len(lines) <= 60, "\n".join(lines)
    assert lines[0].startswith("Promotion dev -> prod: app drift")
    assert "What pulumi up would do: " in result.stdout and "BLOCKED: protected" in result.stdout
