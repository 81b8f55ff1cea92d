"""Every bad input: exit 2, one line naming the file, flag or key and the bad value, no traceback,
nothing written — and the user's files survive any --out."""

from __future__ import annotations

import os
import subprocess
import sys
import time
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
        "error: {bad}:2:31: malformed YAML: ",
    ),
    (
        "deep nesting",
        b"config:\n  agent-platform:x: " + b"[" * 20000 + b"]" * 20000 + b"\n",
        "error: {bad}:1: nested more than 64 levels deep",
    ),
    (
        "tab",
        b"config:\n\tagent-platform:environment: dev\n",
        "error: {bad}:2:1: malformed YAML: a tab character: YAML indents with spaces only; replace the tab with spaces",
    ),
    (
        "set nested",
        b"config:\n  agent-platform:services:\n    - name: a\n      allowFrom: !!set {b: null}\n",
        "error: {bad}:4: a !!set is not plain data: write a list (- item) instead",
    ),
    ("alias bomb", BILLION_LAUGHS.encode(), "error: {bad}:1: expands to more than 200,000 values"),
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


# --- Inputs judged strictly, messages a person can read, no credential echoed -------------------------

OPENAI_CANARY = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcd"
ANTHROPIC_CANARY = "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"


def _hundred_services(text: str) -> str:
    """prod with 100 copies of agent-api: about 300 terms in the connection budget."""
    start, end = text.index("    - name: agent-api\n"), text.index("    - name: agent-runner\n")
    api = text[start:end]
    copies = "".join(
        api.replace("name: agent-api", f"name: api-{i:03d}").replace('paths: ["/"]', f'paths: ["/p{i}"]')
        for i in range(100)
    )
    return text[:start] + copies + text[end:]


STRICT = [
    # (label, stack, the shipped stack file changed, the one line printed)
    (
        "boolean for a number",
        "local",
        lambda t: t.replace("retentionDays: 7", "retentionDays: true"),
        "{bad}:40: agent-platform:postgres.backup.retentionDays: must be a number, not the boolean true",
    ),
    (
        "control character in an Ingress path",
        "dev",
        lambda t: t.replace('paths: ["/"]', 'paths: ["/api\\a"]'),
        "{bad}:44: agent-platform:services[agent-api].ingress.paths[0]: must be a URL path (a-z, A-Z, 0-9, "
        "-._~!$&'()*+,;=:@/ and %XX escapes); it holds a control character (U+0007), got '/api\\x07'",
    ),
    (
        "setting stored as a secret",
        "dev",
        lambda t: t.replace("agent-platform:environment: dev", "agent-platform:environment:\n    secure: v1:AAAA"),
        "{bad}:6: agent-platform:environment: is a setting, not a secret: write its value in plain (`pulumi config "
        "set environment <value>`); secrets are the keys that secretEnv and externalUrlKey name",
    ),
    (
        "secure list",
        "dev",
        lambda t: t.replace(
            "  agent-platform:kubernetes:",
            "  agent-platform:openaiApiKey:\n    secure: [a, b]\n  agent-platform:kubernetes:",
        ),
        "{bad}:7: agent-platform:openaiApiKey: secure: must be the encrypted string `pulumi config set --secret "
        "openaiApiKey` writes, not a list (Pulumi reads any other secure: as a plain value, not a secret)",
    ),
    (
        "key without its namespace",
        "dev",
        lambda t: t.replace("  agent-platform:services:", "  services:"),
        "{bad}:21: services: a config key needs its namespace: write agent-platform:services (Pulumi reads config "
        "keys as <namespace>:<name> and refuses this one)",
    ),
    (
        "replicas past int32",
        "dev",
        lambda t: t.replace("      replicas: 1\n", "      replicas: 3000000000\n", 1),
        "{bad}:35: agent-platform:services[agent-api].replicas: must be at most 2147483647, the Kubernetes API's "
        "largest integer (int32), got 3000000000",
    ),
    (
        "2000 replicas on a Docker host",
        "local",
        lambda t: t.replace("replicas: 2 ", "replicas: 2000 "),
        "{bad}:27: agent-platform:services[agent-api].replicas: must be at most 100 on a Docker host, got 2000: ",
    ),
    (
        "a million replicas on a Docker host",
        "local",
        lambda t: t.replace("replicas: 2 ", "replicas: 1000000 "),
        "{bad}:27: agent-platform:services[agent-api].replicas: must be at most 100 on a Docker host, got 1000000: ",
    ),
    (
        "a 1 MB value",
        "dev",
        lambda t: t.replace("image: registry.example.com/agents/agent-api:1.4.2", 'image: "' + "X" * 1_000_000 + '"'),
        "{bad}:23: agent-platform:services[agent-api].image: repository must be lowercase (a-z, 0-9, '.', '_', '-', "
        "'/'), as registries and the kubelet require, got '" + "X" * 118 + "... (1,000,000 characters)",
    ),
    (
        "connection budget of 300 terms",
        "prod",
        _hundred_services,
        "{bad}:3239: agent-platform:postgres.pooler.maxClientConn: connection budget: 11550 connections at worst "
        "(301 terms, the largest: services[0] api-000: 21 pods x 5 = 105; services[1] api-001: 21 pods x 5 = 105; "
        "services[2] api-002: 21 pods x 5 = 105; and 298 more) exceed 1000, ",
    ),
    ("empty file", "dev", lambda t: "", "{bad}:1: is empty: a stack file holds its settings under config:"),
    (
        "no config",
        "dev",
        lambda t: "encryptionsalt: v1:abc\n",
        "{bad}:1: has no config: section: a stack file holds its settings under config:",
    ),
    (
        "a key where a secret's name goes",
        "dev",
        lambda t: t.replace(
            "OPENAI_API_KEY: openaiApiKey\n        LANGSMITH", f"OPENAI_API_KEY: {OPENAI_CANARY}\n        LANGSMITH"
        ),
        "{bad}:30: agent-platform:services[agent-api].secretEnv.OPENAI_API_KEY: is an OpenAI project key "
        "(sk-proj-...) itself (not shown here), where the NAME of a secret config key goes: store the value with "
        "`pulumi config set --secret <name>`, write that name here, and rotate the credential",
    ),
    (
        "a credential in plain env",
        "dev",
        lambda t: t.replace(
            "LLM_MODEL: gpt-4o-mini", f"LLM_MODEL: gpt-4o-mini\n        ANTHROPIC_API_KEY: {ANTHROPIC_CANARY}", 1
        ),
        "{bad}:28: agent-platform:services[agent-api].env.ANTHROPIC_API_KEY: holds an Anthropic API key "
        "(sk-ant-...), not shown here, which would be written in plain into rendered files and reports: store it "
        "with `pulumi config set --secret <name>` and name it under secretEnv instead, then rotate it",
    ),
]


def _run_bad(tmp_path, stack: str, text: str):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "preview",
            stack,
            "--config-file",
            str(bad),
            "--no-policy",
            "--out",
            str(tmp_path / "out"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return bad, result, time.monotonic() - started


@pytest.mark.parametrize("label,stack,change,message", STRICT, ids=[s[0] for s in STRICT])
def test_an_input_judged_strictly_is_one_line_and_nothing_is_written(tmp_path, label, stack, change, message):
    text = change((ROOT / f"Pulumi.{stack}.yaml").read_text())
    bad, result, seconds = _run_bad(tmp_path, stack, text)
    assert_bad_input(result, "error: " + message.replace("{bad}", str(bad)))
    assert len(result.stderr) < 800, f"{len(result.stderr)} characters"
    assert OPENAI_CANARY not in result.stderr + result.stdout and ANTHROPIC_CANARY not in result.stderr + result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]
    assert seconds < 30  # 2000 replicas took 124 s and a million never finished


# What the preview's own reader (preview/stackfile.py _load_yaml) says before the program sees the
# file: program/stack_file.py has the checks (scan, yaml_problem, problems), the preview does not
# call them yet. Each of these passes once it does.
PREVIEW_READER = [
    ("a list at the top", b"- a\n- b\n", "error: {bad}:1: must be a YAML mapping with a config: key, not a list"),
    (
        "alias bomb",
        BILLION_LAUGHS.encode(),
        "error: {bad}:1: expands to more than 200,000 values through its aliases (*name), from line 9 on",
    ),
    (
        "nesting too deep",
        b"config:\n  agent-platform:x: " + b"[" * 20000 + b"]" * 20000 + b"\n",
        "error: {bad}:1: nested more than 64 levels deep (at line 2, column 83)",
    ),
    (
        "nesting that crashes libyaml's composer",
        b"config:\n  agent-platform:x: " + b"[" * 400_000 + b"]" * 400_000 + b"\n",
        "error: {bad}:1: nested more than 64 levels deep (at line 2, column 83)",
    ),
    (
        "YAML error at its line and column",
        b"config:\n  agent-platform:environment: dev\n  - x\n",
        "error: {bad}:3:3: malformed YAML: a line at an indentation where no key fits (check the indentation)",
    ),
    (
        "control character in the file",
        b"config:\n  agent-platform:environment: d\x07v\n",
        "error: {bad}:2:32: malformed YAML: a control character (U+0007) is not allowed in YAML; remove it",
    ),
]


@pytest.mark.parametrize("label,content,message", PREVIEW_READER, ids=[s[0] for s in PREVIEW_READER])
def test_the_preview_reads_the_file_as_the_program_does(tmp_path, label, content, message):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(content)
    result = run_cli("dev", "--config-file", str(bad), "--no-policy", "--out", str(tmp_path / "out"))
    assert_bad_input(result, message.replace("{bad}", str(bad)))


def test_refused_input_in_json_is_a_json_document_of_the_same_lines(tmp_path):
    """A tool reading --format json gets a document on exit 2 too: the problems, as stderr has them."""
    import json

    bad = tmp_path / "Pulumi.dev.yaml"
    bad.write_text("config:\n  agent-platform:services: 3\n")
    result = run_cli(
        "dev", "--config-file", str(bad), "--no-policy", "--out", str(tmp_path / "out"), "--format", "json"
    )
    assert result.returncode == 2
    doc = json.loads(result.stdout)
    assert doc["refused"] is True and doc["stack"] == "dev"
    assert [f"error: {e}" for e in doc["errors"]] == result.stderr.splitlines()
    assert any(":2: agent-platform:services:" in e for e in doc["errors"])
