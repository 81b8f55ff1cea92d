"""The stack outputs a person reads after `pulumi up` (agent_platform/outputs.py and __main__.py)."""

from __future__ import annotations

import copy
import json
import re

import pytest
from agent_platform import outputs

from program.stack_config import parse_stack_config
from tests.conftest import shipped, stack_file
from tests.fully_featured import CANARY_IMAGE, VARIANTS


def settings_of_stack(stack: str, mutate=lambda cfg: None):
    cfg = copy.deepcopy(stack_file(stack)["config"])
    mutate(cfg)
    return parse_stack_config({k.split(":", 1)[1]: v for k, v in cfg.items()})


def test_release_state_names_the_canary_and_the_active_colour():
    canary = settings_of_stack("prod", VARIANTS["ingress-canary"]).services[0]
    assert outputs.release(canary)["canary"] == {"image": CANARY_IMAGE, "weight": 10}
    blue_green = settings_of_stack("prod", VARIANTS["ingress-blue-green"]).services[0]
    colours = outputs.release(blue_green)["colours"]
    assert colours == {"active": "blue", "blue": blue_green.image, "green": CANARY_IMAGE}
    assert outputs.release(settings_of_stack("prod").services[1]) == {
        "strategy": "rolling",
        "image": settings_of_stack("prod").services[1].image,
    }


def test_database_output_follows_the_restore_steps():
    def serve(cfg):
        cfg["agent-platform:postgres"]["restore"] = {"enabled": True, "serve": True}

    config = settings_of_stack("prod", serve)
    out = outputs.database(config, "postgres-restored-pooler-rw")
    assert out["cluster"] == "postgres-restored" and out["restore"]["serving"] == "postgres-restored"
    assert outputs.database(settings_of_stack("prod"), "h")["backup"]["destination"].startswith("s3://")


@pytest.mark.parametrize("stack", ["dev", "prod", "local", "e2e"])
def test_every_stack_exports_urls_releases_and_the_database_and_no_secret(stack):
    capture = shipped(stack)
    out = capture.outputs
    assert {"serviceUrls", "releases", "database"} <= set(out)
    assert set(out["releases"]) == {s["name"] for s in _services(stack)}
    text = json.dumps(out)
    # The generated passwords (the mocks' values, as the program's Secrets carry them) appear in no output.
    passwords = {
        value
        for r in capture.resources
        if r.type == "kubernetes:core/v1:Secret"
        for key, value in (r.raw_inputs.get("stringData") or {}).items()
        if key == "password" and isinstance(value, str)
    }
    assert stack in ("local", "e2e") or passwords
    assert not any(p in text for p in passwords)
    assert not re.search(r"://[^/\s\"]*@", text)  # no URL with credentials
    assert out.get("postgresPassword", "[secret]") == "[secret]"
    assert "@" not in json.dumps(out["database"])


def _services(stack: str) -> list[dict]:
    return stack_file(stack)["config"]["agent-platform:services"]
