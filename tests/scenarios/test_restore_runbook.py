"""The runbook docs/backups-kubernetes.md "Restore to a point in time", walked as written.

Each step of the page gives a stack-file edit (a yaml block), the preview command to run and the plan
the preview must show (a text block, `op Kind/name` per line). Here each step's edit is applied to prod
on top of the previous steps, the preview's own classifier (what `--base` runs) compares the render with
the previous step's, and the plan must be exactly the page's: the page and the platform cannot drift
apart. Each step also previews clean through the CLI (validation, the pack, connectivity: exit 0).
"""

from __future__ import annotations

import copy
import re

import pytest
import yaml

from preview.__main__ import main
from preview.changes import classify_captures
from tests.conftest import ROOT, stack_file

PAGE = ROOT / "docs" / "backups-kubernetes.md"
SECTION = "## Restore to a point in time"


def steps() -> list[dict]:
    """Each `### Step` of the section: its title, stack-file edit, command and plan."""
    text = PAGE.read_text()
    section = text[text.index(SECTION) :]
    section = section[: section.index("\n## ", len(SECTION))]
    found = []
    for block in re.split(r"\n### ", section)[1:]:
        title = block.splitlines()[0]
        if not title.startswith("Step "):
            continue
        fences = re.findall(r"```(\w+)\n(.*?)```", block, flags=re.S)
        by_kind: dict[str, list[str]] = {}
        for kind, body in fences:
            by_kind.setdefault(kind, []).append(body)
        found.append(
            {
                "title": title,
                "edit": yaml.safe_load(by_kind["yaml"][0]),
                "command": by_kind["sh"][0].strip(),
                "plan": sorted(line.strip() for line in by_kind["text"][0].splitlines() if line.strip()),
            }
        )
    return found


STEPS = steps()


def test_the_page_has_the_three_steps():
    assert [s["title"].split(":")[0] for s in STEPS] == ["Step 1", "Step 2", "Step 3"]
    for s in STEPS:
        # The command a reviewer runs is the preview's diff against the base: what the plan is checked with.
        assert s["command"] == "venv/bin/python -m preview prod --base origin/main --summary"
        assert set(s["edit"]) == {"agent-platform:postgres"}


def config_after(n: int) -> dict:
    """prod's stack file with the first `n` steps' edits, each merged into the postgres settings."""
    data = copy.deepcopy(stack_file("prod"))
    for s in STEPS[:n]:
        data["config"]["agent-platform:postgres"].update(s["edit"]["agent-platform:postgres"])
    return data


@pytest.fixture(scope="module")
def captures(tmp_path_factory):
    from preview.capture import capture_stack

    out = []
    for n in range(len(STEPS) + 1):
        path = tmp_path_factory.mktemp(f"step{n}") / "Pulumi.prod.yaml"
        path.write_text(yaml.safe_dump(config_after(n)))
        out.append((path, capture_stack(ROOT, "prod", path)[1]))
    return out


@pytest.mark.parametrize("n", range(1, len(STEPS) + 1), ids=[f"step{n}" for n in range(1, len(STEPS) + 1)])
def test_each_step_previews_with_the_plan_the_page_states(captures, n):
    changes = classify_captures(captures[n - 1][1], captures[n][1])
    plan = sorted(f"{c.op} {c.kind}/{c.name}" for c in changes)
    assert plan == STEPS[n - 1]["plan"]
    # None of the steps is refused, and none deletes anything that holds data.
    assert not [c for c in changes if c.blocked]
    assert not [c for c in changes if c.op in ("delete", "replace") and c.holds_data]


@pytest.mark.parametrize("n", range(1, len(STEPS) + 1), ids=[f"step{n}" for n in range(1, len(STEPS) + 1)])
def test_each_step_previews_clean(captures, tmp_path, capsys, n):
    path, _ = captures[n]
    assert main(["prod", "--config-file", str(path), "--out", str(tmp_path / "out"), "--no-policy"]) == 0
    capsys.readouterr()


def test_the_original_keeps_its_data_and_protection_through_the_steps(captures):
    for _, capture in captures:
        original = capture.get("kubernetes:postgresql.cnpg.io/v1:Cluster", "postgres")
        assert original.protect and original.retain_on_delete
    retired = captures[-1][1].get("kubernetes:postgresql.cnpg.io/v1:Cluster", "postgres")
    assert retired.raw_inputs["metadata"]["annotations"]["cnpg.io/hibernation"] == "on"


def test_steps_out_of_order_are_refused(tmp_path, capsys):
    data = copy.deepcopy(stack_file("prod"))
    data["config"]["agent-platform:postgres"]["restore"] = {"enabled": False, "serve": True, "retireOriginal": True}
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["prod", "--config-file", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "agent-platform:postgres.restore.serve: needs enabled" in err
