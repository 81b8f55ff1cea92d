"""python -m preview.promote: one service's release copied from one stack file into another,
comments and layout kept, checked before anything is written."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from ruamel.yaml.comments import CommentedMap

from preview.promote import RELEASE_KEYS, dump, load
from tests.conftest import ROOT

STACKS = sorted(p.name for p in ROOT.glob("Pulumi.*.yaml"))
DIGEST = "sha256:" + "5e" * 32
NEW_IMAGE = f"registry.example.com/agents/agent-api:1.5.0@{DIGEST}"


@pytest.mark.parametrize("name", STACKS)
def test_a_stack_file_read_and_written_back_unchanged_is_byte_identical(name):
    text = (ROOT / name).read_text()
    assert dump(load(text)) == text


@pytest.fixture
def project(tmp_path):
    for name in ("Pulumi.yaml", "__main__.py", "Pulumi.dev.yaml", "Pulumi.prod.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def promote(project, *args):
    return subprocess.run(
        [sys.executable, "-m", "preview.promote", *args, "--project-dir", str(project)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def edit(path, change):
    data = load(path.read_text())
    change(data["config"])
    path.write_text(dump(data))


def api(config) -> CommentedMap:
    return next(s for s in config["agent-platform:services"] if s["name"] == "agent-api")


def _new_release(config):
    svc = api(config)
    svc["image"] = NEW_IMAGE
    svc["env"]["FEATURE_SUMMARIES"] = "enabled"
    svc["secretEnv"]["ANTHROPIC_API_KEY"] = "anthropicApiKey"
    svc["probes"] = CommentedMap(readiness=CommentedMap(path="/ready"))


def test_promote_copies_exactly_the_release_and_keeps_everything_else(project):
    edit(project / "Pulumi.dev.yaml", _new_release)
    prod_before = (project / "Pulumi.prod.yaml").read_text()
    result = promote(project, "agent-api", "--from", "dev", "--to", "prod")
    assert result.returncode == 0, result.stderr
    prod_after = (project / "Pulumi.prod.yaml").read_text()
    before, after = load(prod_before)["config"], load(prod_after)["config"]
    # The release, exactly: the image, the probes; what the image needs, added for review.
    assert api(after)["image"] == NEW_IMAGE
    assert api(after)["probes"] == {"readiness": {"path": "/ready"}}
    assert api(after)["env"]["FEATURE_SUMMARIES"] == "enabled"
    assert api(after)["secretEnv"]["ANTHROPIC_API_KEY"] == "anthropicApiKey"
    # Nothing else: the service's environment settings and every other key as prod had them.
    for key in set(api(before)) | set(api(after)):
        if key not in ("image", "probes", "env", "secretEnv"):
            assert api(after).get(key) == api(before).get(key), key
    assert {k: v for k, v in api(after)["env"].items() if k != "FEATURE_SUMMARIES"} == api(before)["env"]
    for key in before:
        if key != "agent-platform:services":
            assert after[key] == before[key], key
    other = [s for s in after["agent-platform:services"] if s["name"] != "agent-api"]
    assert other == [s for s in before["agent-platform:services"] if s["name"] != "agent-api"]
    # Comments and layout kept; the additions marked; the review diff and the to-do printed.
    assert "# Tag for people, digest for the machine: the digest is what runs." in prod_after
    assert "FEATURE_SUMMARIES: enabled  # promoted from dev: review" in prod_after
    assert len(prod_after.splitlines()) - len(prod_before.splitlines()) == 5
    assert "+      image: " + NEW_IMAGE in result.stdout and result.stdout.startswith("--- Pulumi.prod.yaml")
    assert "pulumi config set --secret anthropicApiKey --stack prod" in result.stdout


def test_promoting_again_changes_nothing(project):
    edit(project / "Pulumi.dev.yaml", _new_release)
    assert promote(project, "agent-api", "--from", "dev", "--to", "prod").returncode == 0
    text = (project / "Pulumi.prod.yaml").read_text()
    again = promote(project, "agent-api", "--from", "dev", "--to", "prod")
    assert again.returncode == 0 and "nothing to change" in again.stdout
    assert (project / "Pulumi.prod.yaml").read_text() == text


def test_a_canary_target_gets_the_release_as_its_canary(project):
    edit(project / "Pulumi.dev.yaml", _new_release)

    def canary(config):
        api(config)["rollout"] = CommentedMap(
            strategy="canary", canary=CommentedMap(image=api(config)["image"], weight=10, replicas=1)
        )

    edit(project / "Pulumi.prod.yaml", canary)
    old_image = api(load((project / "Pulumi.prod.yaml").read_text())["config"])["image"]
    result = promote(project, "agent-api", "--from", "dev", "--to", "prod")
    assert result.returncode == 0, result.stderr
    after = api(load((project / "Pulumi.prod.yaml").read_text())["config"])
    assert after["rollout"]["canary"]["image"] == NEW_IMAGE and after["rollout"]["canary"]["weight"] == 10
    assert after["image"] == old_image  # the stable track keeps serving the rest
    assert "when the canary holds" in result.stdout


def test_an_image_without_a_digest_is_refused_at_its_line_and_nothing_is_written(project):
    text = (project / "Pulumi.prod.yaml").read_text()
    result = promote(project, "agent-api", "--from", "dev", "--to", "prod")
    assert result.returncode == 2 and result.stdout == ""
    [line] = result.stderr.splitlines()
    number = next(i for i, t in enumerate((project / "Pulumi.dev.yaml").read_text().splitlines(), 1) if "image:" in t)
    assert line.startswith(f"error: Pulumi.dev.yaml:{number}: services[agent-api].image: ") and "--digest" in line
    assert (project / "Pulumi.prod.yaml").read_text() == text
    # The same release given its digest on the command line goes through.
    assert promote(project, "agent-api", "--from", "dev", "--to", "prod", "--digest", DIGEST).returncode == 0


def test_a_promotion_the_target_would_refuse_is_reported_at_its_line_and_not_written(project):
    def bad_port(config):
        _new_release(config)
        api(config)["port"] = 70000

    edit(project / "Pulumi.dev.yaml", bad_port)
    text = (project / "Pulumi.prod.yaml").read_text()
    result = promote(project, "agent-api", "--from", "dev", "--to", "prod")
    assert result.returncode == 2, result.stdout
    assert result.stderr.startswith("error: Pulumi.prod.yaml:") and "services[agent-api].port" in result.stderr
    assert (project / "Pulumi.prod.yaml").read_text() == text
    assert not list(project.glob(".Pulumi.prod.yaml.promote-*")) and not list(project.glob("tmp*.yaml"))


def test_an_unknown_service_names_the_ones_there_are(project):
    result = promote(project, "summarizer", "--from", "dev", "--to", "prod")
    assert result.returncode == 2
    assert "no service named 'summarizer' (services: agent-api, agent-runner)" in result.stderr


def test_the_release_keys_are_settings_of_a_service():
    from agent_platform.settings.service import AgentServiceConfig

    fields = {f.alias or n for n, f in AgentServiceConfig.model_fields.items()}
    assert {path[0] for path, _what in RELEASE_KEYS} <= fields
