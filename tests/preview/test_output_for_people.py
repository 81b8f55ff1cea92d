"""Output for people: plain text in the terminal, markdown only in markdown, warnings in every format,
a summary of a large promotion, and promotion diffs that pair objects by what they are."""

from __future__ import annotations

import contextlib
import io

import pytest

from preview.__main__ import main
from preview.changes import Resource, classify

NS = "kubernetes:core/v1:Namespace"
QUOTA = "kubernetes:core/v1:ResourceQuota"


def stack_objects(namespace: str, cpu: str = "4") -> list[Resource]:
    return [
        Resource(f"urn:{namespace}", NS, namespace, True, {"kind": "Namespace", "metadata": {"name": namespace}}),
        Resource(
            f"urn:{namespace}-quota",
            QUOTA,
            f"{namespace}-quota",
            False,
            {
                "kind": "ResourceQuota",
                "metadata": {"name": "quota", "namespace": namespace},
                "spec": {"hard": {"requests.cpu": cpu}},
            },
        ),
    ]


def test_a_promotion_pairs_objects_whose_logical_names_embed_the_namespace():
    changes = classify(stack_objects("agents-prod"), stack_objects("agents-dev", cpu="8"), promotion=True)
    assert [(c.op, c.kind, c.paths, c.environment_only) for c in changes] == [
        ("update", "Namespace", ["metadata.name"], True),
        ("update", "ResourceQuota", ["spec.hard.requests.cpu"], False),
    ]


def test_an_update_of_one_stack_still_sees_a_renamed_object_as_create_and_delete():
    # Outside a promotion a new logical name is a new resource to Pulumi: no pairing.
    changes = classify(stack_objects("agents-prod"), stack_objects("agents-dev"))
    assert sorted(c.op for c in changes) == ["create", "create", "delete", "delete"]


@pytest.fixture(scope="module")
def promotion(tmp_path_factory):
    """dev promoted onto prod, in every format and with --summary (run once: each is a full preview)."""
    out = {}
    base = tmp_path_factory.mktemp("promotion")
    for name, extra in (("text", []), ("summary", ["--summary"]), ("markdown", ["--format", "markdown"])):
        mp = pytest.MonkeyPatch()
        mp.delenv("PULUMI_CONFIG_AGENT_PLATFORM_OPENAIAPIKEY", raising=False)
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(io.StringIO()):
            code = main(["dev", "--against", "prod", "--no-policy", "--out", str(base / name), *extra])
        mp.undo()
        out[name] = (code, stdout.getvalue())
    return out


def test_the_terminal_gets_plain_text_and_markdown_gets_markdown(promotion):
    code, text = promotion["text"]
    assert code == 0
    said = text.split("\n== ", 1)[1].split("Rendered objects:")[0]  # the title and what would happen
    assert "BLOCKED: protected" in said and "**" not in said and "`" not in said
    _, markdown = promotion["markdown"]
    assert "**BLOCKED: protected**" in markdown


def test_warnings_come_in_the_markdown_report_too(promotion):
    for name in ("text", "markdown"):
        _, report = promotion[name]
        assert "secret agent-platform:openaiApiKey not in the environment: a placeholder was used" in report, name


def test_summary_counts_what_changes_and_names_only_what_needs_weighing(promotion):
    _, full = promotion["text"]
    _, summary = promotion["summary"]
    assert "@@ " in full and "@@ " not in summary and "Rendered objects:" not in summary
    said = summary.split("\n== ", 1)[1]
    # Every change a reviewer must weigh is named, one line each; the rest are counted.
    weighty = [line for line in full.split("\n== ", 1)[1].split("Rendered objects:")[0].splitlines() if "why: " in line]
    assert weighty and said.count("BLOCKED: protected") == sum("BLOCKED: protected" in w for w in weighty)
    assert "replace StatefulSet/redis: " in said and "HOLDS DATA" in said
    counts = said.split("What pulumi up would do: ", 1)[1].splitlines()[0]
    assert "1 replace" in counts and "delete" in counts
    assert len(summary.splitlines()) <= 40 < len(full.splitlines()) / 5
