"""Every bad input: exit 2, one line naming the file, flag or key and the bad value, no traceback,
nothing written — and the user's files survive any --out."""

from __future__ import annotations

from pathlib import Path

import pytest

from preview.output import MARKER
from tests.conftest import ROOT
from tests.preview.test_cli import run_cli

BILLION_LAUGHS = "config:\n  agent-platform:x:\n" + "".join(
    f"    {chr(97 + i)}: &{chr(97 + i)} [{', '.join(['*' + chr(96 + i)] * 9) if i else 'lol'}]\n" for i in range(9)
)

STACK_FILES = [
    (
        "not utf-8",
        b"config:\n  agent-platform:environment: d\xe9v\n",
        "error: {bad}:2: not UTF-8 (byte 0xe9)",
    ),
    (
        "duplicate key",
        b"config:\n  agent-platform:environment: dev\n  agent-platform:environment: prod\n",
        "error: {bad}:3: duplicate key 'agent-platform:environment' (first at line 2)",
    ),
    (
        "date",
        b"config:\n  agent-platform:environment: 2026-11-22\n",
        "error: {bad}:2: a YAML date/timestamp ('2026-11-22') is not plain data: quote it as a string",
    ),
    (
        "binary",
        b"config:\n  agent-platform:environment: !!binary ZGV2\n",
        "error: {bad}:2: a !!binary value ('ZGV2') is not plain data: quote it as a string",
    ),
    (
        "set",
        b"config:\n  agent-platform:environment: !!set {a, b}\n",
        "error: {bad}:2: a !!set is not plain data: write a list (- item) instead",
    ),
    (
        "python tag",
        b"config:\n  agent-platform:environment: !!python/name:os.system\n",
        "error: {bad}:2: malformed YAML: ",
    ),
    (
        "deep nesting",
        b"config:\n  agent-platform:x: " + b"[" * 20000 + b"]" * 20000 + b"\n",
        "error: {bad}: nested more than 64 levels deep",
    ),
    (
        "tab",
        b"config:\n\tagent-platform:environment: dev\n",
        "error: {bad}:2: malformed YAML: a tab character: YAML indents with spaces only; replace the tab with spaces",
    ),
    (
        "set nested",
        b"config:\n  agent-platform:services:\n    - name: a\n      allowFrom: !!set {b: null}\n",
        "error: {bad}:4: a !!set is not plain data: write a list (- item) instead",
    ),
    ("alias bomb", BILLION_LAUGHS.encode(), "error: {bad}: expands to more than 200,000 values"),
    (
        "oversize",
        b"config:\n  agent-platform:x: '" + b"a" * (2 * 1024 * 1024) + b"'\n",
        "error: {bad}: 2,097,183 bytes, over the 1,048,576-byte limit",
    ),
]


def assert_bad_input(result, message: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(message), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize("label,content,message", STACK_FILES, ids=[s[0] for s in STACK_FILES])
def test_a_bad_stack_file_is_refused_and_nothing_is_written(tmp_path, label, content, message):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(content)
    result = run_cli("dev", "--config-file", str(bad), "--no-policy", "--out", str(tmp_path / "out"))
    assert_bad_input(result, message.replace("{bad}", str(bad)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


def test_a_missing_config_file_is_not_found_not_an_unknown_stack(tmp_path):
    missing = tmp_path / "nonexistent.yaml"
    result = run_cli("dev", "--config-file", str(missing), "--no-policy", "--out", str(tmp_path / "out"))
    assert_bad_input(result, f"error: {missing}: file not found")


def test_a_stack_file_under_the_working_directory_is_named_by_its_relative_path(tmp_path):
    (tmp_path / "staging").mkdir()
    (tmp_path / "staging" / "candidate.yaml").write_text("config:\n  agent-platform:environment: 7x\n")
    result = run_cli(
        "dev", "--config-file", "staging/candidate.yaml", "--project-dir", str(ROOT), "--no-policy", cwd=tmp_path
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[0] == "error: staging/candidate.yaml:1: agent-platform:services: is required"


def test_a_directory_given_as_the_stack_file(tmp_path):
    result = run_cli("dev", "--config-file", str(tmp_path), "--no-policy", "--out", str(tmp_path / "out"))
    assert_bad_input(result, f"error: {tmp_path}: is a directory, not a stack file")


@pytest.mark.parametrize("stack", ["../prod", "a/b", "dev;rm", ".."])
def test_a_stack_name_that_pulumi_would_refuse(tmp_path, stack):
    result = run_cli(stack, "--no-policy", "--out", str(tmp_path / "out"))
    assert_bad_input(result, f"error: argument stack: stack name {stack!r}: use letters, digits")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("value", ["abc", "1.29.3", "v1.30", "1."])
def test_k8s_version_that_is_not_a_version_names_the_flag(tmp_path, value):
    result = run_cli("dev", "--k8s-version", value, "--no-policy", "--out", str(tmp_path / "out"))
    assert_bad_input(result, f"error: argument --k8s-version: {value!r} is not a Kubernetes minor version")


def test_the_version_flag_cannot_swallow_the_stack_name(tmp_path):
    result = run_cli("--k8s-version", "1.29", "dev", "--no-policy", "--out", str(tmp_path / "out"), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / MARKER).exists()


def test_against_a_broken_stack_leaves_no_output(tmp_path):
    result = run_cli("dev", "--against", "staging", "--no-policy", "--out", str(tmp_path / "out"))
    assert_bad_input(result, "error: Pulumi.staging.yaml: no such stack file")
    assert list(tmp_path.iterdir()) == []


# --- --out: the user's files survive whatever it points at -----------------------------------------


def _snapshot(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}


def test_out_that_is_a_file(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    assert_bad_input(run_cli("dev", "--no-policy", "--out", str(target)), f"error: --out {target}: is a file")
    assert target.read_text() == "mine"


def test_out_inside_a_file_cannot_be_written(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    result = run_cli("dev", "--no-policy", "--out", str(target / "render"))
    assert_bad_input(result, f"error: --out {target / 'render'}: {target} is not writable")


@pytest.mark.parametrize("where", ["user-dir", "repo-root"])
def test_a_directory_of_the_users_is_refused_untouched(tmp_path, where):
    if where == "repo-root":
        target = Path(__file__).resolve().parents[2]
        before = {p.name for p in target.iterdir()}
    else:
        target = tmp_path / "home"
        (target / "docs").mkdir(parents=True)
        (target / "docs" / "plan.md").write_text("keep me")
        (target / "kubernetes").mkdir()
        (target / "kubernetes" / "001-mine.yaml").write_text("kind: Mine\n")
        before = _snapshot(target)
    result = run_cli("dev", "--no-policy", "--out", str(target))
    assert_bad_input(result, f"error: --out {target}: not empty and not a previous render")
    if where == "repo-root":
        assert {p.name for p in target.iterdir()} == before
    else:
        assert _snapshot(target) == before


def test_a_previous_render_is_replaced_but_a_file_added_to_it_is_refused(tmp_path):
    out = tmp_path / "out"
    assert run_cli("dev", "--no-policy", "--out", str(out)).returncode == 0
    first = _snapshot(out)
    assert run_cli("dev", "--no-policy", "--out", str(out)).returncode == 0
    assert _snapshot(out) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging or previous dir left
    (out / "kubernetes" / "my-notes.yaml").write_text("mine")
    result = run_cli("dev", "--no-policy", "--out", str(out))
    assert_bad_input(
        result, f"error: --out {out}: holds 'kubernetes/my-notes.yaml', which the previous render did not write"
    )
    assert (out / "kubernetes" / "my-notes.yaml").read_text() == "mine"
