"""Each policy finding on a rendered object at the stack-file key that controls it (preview/findings.py):
the key, its line and the fix in the terminal, the PR comment, the JSON and the SARIF.

The end-to-end runs edit a copy of the shipped prod stack file as text, so the expected lines are
found in the file as written, not by the line lookup under test."""

from __future__ import annotations

import contextlib
import io
import json
import random
import re
import string
import typing

import pytest
from agent_platform.settings.base import _unwrap
from agent_platform.settings.stack import StackConfig
from pydantic import BaseModel

from policies.rules import RULES_BY_NAME
from preview.__main__ import main
from preview.findings import KEYS, Owners, _key_parts, key_templates, locate
from preview.policy_results import Violation
from program.stack_lines import StackLines
from tests.conftest import ROOT

P = "agent-platform"
API_IMAGE = "registry.example.com/agents/agent-api:1.4.2"


def _field(model: type[BaseModel], key: str):
    for name, field in model.model_fields.items():
        if key in (field.alias, name):
            return field.annotation
    return None


def _setting(template: str):
    """The settings' annotation at a KEYS template, or None where the settings have no such key."""
    annotation: typing.Any = StackConfig
    for part in _key_parts(template):
        annotation = _unwrap(annotation)
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if part == "[NAME]":
            if origin is not list:
                return None
            annotation = args[0]
        elif part.startswith("{"):
            if origin is not dict:
                return None
            annotation = args[1]
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            annotation = _field(annotation, part)
            if annotation is None:
                return None
        else:
            return None
    return annotation


def test_every_entry_names_a_rule_and_every_key_a_setting():
    assert set(KEYS) <= set(RULES_BY_NAME), set(KEYS) - set(RULES_BY_NAME)
    assert [(policy, t) for policy, t in key_templates() if _setting(t) is None] == []


def test_every_rule_has_a_fix():
    assert [r.name for r in RULES_BY_NAME.values() if not r.remediation.strip()] == []


FILE = f"""config:
  {P}:availability:
    topologySpread: false
  {P}:services:
    - name: agent
      image: x:1
    - name: agent-api
      image: x:1
      env:
        VENDOR_TOKEN: x
      rollout:
        strategy: canary
        canary:
          image: x:2
  {P}:postgres:
    mode: cloudnativepg
"""


def _at(policy: str, resource: str, message: str = "m", urn: str = "urn:x") -> tuple[int, str | None]:
    lines = StackLines(FILE, P)
    where = locate(
        Violation(policy, "mandatory", "high", resource, urn, message), lines, Owners(None, lines.services), "f"
    )
    return where.line, where.key


def test_the_precise_key_where_the_file_holds_it():
    unpinned = "container app: image '{}' is not pinned by digest"
    assert _at("image-digest-pinned", "Deployment/agent-api", unpinned.format("x:1")) == (
        8,
        f"{P}:services[agent-api].image",
    )
    # The longest service name owns the canary's Deployment; its image is the canary's.
    assert _at("image-digest-pinned", "Deployment/agent-api-canary", unpinned.format("x:2")) == (
        14,
        f"{P}:services[agent-api].rollout.canary.image",
    )
    # An image no key holds (a sidecar's): the service.
    assert _at("image-digest-pinned", "Deployment/agent-api", unpinned.format("x:3")) == (7, f"{P}:services[agent-api]")
    assert _at(
        "configmap-no-secrets", "ConfigMap/agent-api", "ConfigMap key VENDOR_TOKEN: its name says it is a secret"
    ) == (
        10,
        f"{P}:services[agent-api].env.VENDOR_TOKEN",
    )
    assert _at("spread-across-failure-domains", "Deployment/agent") == (3, f"{P}:availability.topologySpread")


def test_the_nearest_enclosing_key_where_it_does_not():
    # min-replicas: neither autoscaling.minReplicas nor replicas is written: the service's item.
    assert _at("min-replicas", "Deployment/agent") == (5, f"{P}:services[agent]")
    assert _at("configmap-no-secrets", "ConfigMap/agent-api", "ConfigMap key OTHER: x") == (
        9,
        f"{P}:services[agent-api].env",
    )
    # postgres.instances is not written: the postgres block (another block's keys do not apply).
    assert _at("postgres-instances", "Cluster/postgres") == (15, f"{P}:postgres")


def test_the_owners_block_then_the_file():
    assert _at("recommended-labels", "Deployment/agent-api") == (7, f"{P}:services[agent-api]")
    assert _at("redis-requires-auth", "StatefulSet/redis") == (1, None)  # no redis block written
    assert _at("namespace-default-deny", "stack", urn="") == (1, None)


def test_an_object_the_message_names_owns_a_stack_finding():
    message = (
        "ingress controller (ingress-nginx) -> Deployment/agent-api:8000/TCP (Ingress x, to Service agent-api:80) "
        "is admitted by no NetworkPolicy rule: it needs an ingress rule in a NetworkPolicy selecting "
        "Deployment/agent-api (only default-deny, namespace-wide, select it)"
    )
    assert _at("connectivity-paths-admitted", "stack", message, urn="") == (7, f"{P}:services[agent-api]")


def _edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def _line(text: str, written: str, after: int = 0) -> int:
    """The 1-based line of the first line after line `after` that is `written` (stripped)."""
    lines = text.splitlines()
    return next(i for i in range(after, len(lines)) if lines[i].strip() == written) + 1


def _prod(tmp_path, credential: str | None = None) -> dict[str, int]:
    """prod with agent-api's image unpinned, its NetworkPolicy off (its paths cut) and a secret-named
    plain env variable in agent-runner (and `credential` as the value of another); the lines of each."""
    text = (ROOT / "Pulumi.prod.yaml").read_text()
    text, pinned = re.subn(rf"image: {re.escape(API_IMAGE)}@sha256:[0-9a-f]{{64}}", f"image: {API_IMAGE}", text)
    assert pinned == 1
    text = _edit(text, "      port: 8000\n", "      port: 8000\n      networkPolicy:\n        enabled: false\n")
    env = '        RUNNER_CONCURRENCY: "8"\n'
    extra = "        VENDOR_API_KEY: see-the-vault\n"
    if credential is not None:
        extra += f"        ANTHROPIC_API_KEY: {credential}\n"
    text = _edit(text, env, env + extra)
    (tmp_path / "Pulumi.prod.yaml").write_text(text)
    runner = _line(text, "- name: agent-runner")
    return {
        "image": _line(text, f"image: {API_IMAGE}"),
        "networkPolicy": _line(text, "networkPolicy:"),
        "env": _line(text, "VENDOR_API_KEY: see-the-vault", runner),
        "credential": _line(text, f"ANTHROPIC_API_KEY: {credential}", runner) if credential else 0,
    }


def _run(tmp_path, monkeypatch, fmt: str, out: str = "out") -> tuple[int, str, str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PULUMI_CONFIG_AGENT_PLATFORM_OPENAIAPIKEY", raising=False)
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(
            ["prod", "--project-dir", str(ROOT), "--config-file", "Pulumi.prod.yaml", "--out", out, "--format", fmt]
        )
    return code, stdout.getvalue(), stderr.getvalue()


# (policy, resource, key, line name in _prod, words of the rule's fix)
EXPECTED = [
    (
        "image-digest-pinned",
        "Deployment/agent-api",
        f"{P}:services[agent-api].image",
        "image",
        "Append the image's digest",
    ),
    (
        "connectivity-paths-admitted",
        "stack",
        f"{P}:services[agent-api].networkPolicy",
        "networkPolicy",
        "Add the rule the message names",
    ),
    (
        "configmap-no-secrets",
        "ConfigMap/agent-runner",
        f"{P}:services[agent-runner].env.VENDOR_API_KEY",
        "env",
        "Move the value to a Secret",
    ),
]


@pytest.fixture(scope="module")
def unpinned_and_cut(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("findings")
    lines = _prod(tmp_path)
    mp = pytest.MonkeyPatch()
    try:
        markdown = _run(tmp_path, mp, "markdown")
        text = _run(tmp_path, mp, "text", "out-text")
    finally:
        mp.undo()
    sarif = json.loads((tmp_path / "out" / "policy-report.sarif").read_text())
    report = json.loads((tmp_path / "out" / "policy-report.json").read_text())
    return lines, markdown, text, sarif, report


def test_the_pr_comment_shows_each_finding_at_its_key_and_line_with_the_fix(unpinned_and_cut):
    lines, (code, markdown, _), *_ = unpinned_and_cut
    assert code == 1
    for policy, resource, key, name, fix in EXPECTED:
        at = f"`Pulumi.prod.yaml:{lines[name]}: {key}`"
        found = [
            row for row in markdown.splitlines() if at in row and f"**{policy}**" in row and f"`{resource}`" in row
        ]
        assert found, (policy, at, markdown)
        assert all(f"Fix: {fix}" in row for row in found)
    assert "<details open><summary>Policy pack:" in markdown  # a mandatory finding fails it: shown open


def test_the_terminal_names_the_key_line_and_fix_under_each_finding(unpinned_and_cut):
    lines, _, (code, text, _), *_ = unpinned_and_cut
    assert code == 1
    rows = text.splitlines()
    for policy, resource, key, name, fix in EXPECTED:
        i = next(i for i, row in enumerate(rows) if f" {policy} " in row and f" {resource} " in row)
        assert rows[i + 1].strip().startswith(f"at Pulumi.prod.yaml:{lines[name]}: {key}; fix: {fix}"), rows[i + 1]


def test_sarif_and_json_results_sit_at_that_line(unpinned_and_cut):
    lines, *_, sarif, report = unpinned_and_cut
    for policy, resource, key, name, fix in EXPECTED:
        results = [
            r
            for r in sarif["runs"][0]["results"]
            if r["ruleId"] == policy and r["message"]["text"].startswith(f"{resource}: ")
        ]
        assert results, policy
        for result in results:
            location = result["locations"][0]["physicalLocation"]
            assert location["artifactLocation"]["uri"] == "Pulumi.prod.yaml"
            assert location["region"]["startLine"] == lines[name]
            assert result["properties"]["key"] == key and result["properties"]["fix"].startswith(fix)
        violations = [v for v in report["violations"] if v["policy"] == policy and v["resource"] == resource]
        assert violations and all(
            (v["file"], v["line"], v["key"]) == ("Pulumi.prod.yaml", lines[name], key) for v in violations
        )


def test_a_credential_in_plain_env_is_refused_at_its_line_in_the_comment_and_never_shown(tmp_path, monkeypatch):
    secret = "sk-ant-api03-" + "".join(random.SystemRandom().choices(string.ascii_letters + string.digits, k=40))
    lines = _prod(tmp_path, secret)
    code, markdown, stderr = _run(tmp_path, monkeypatch, "markdown")
    assert code == 2
    key = f"{P}:services[agent-runner].env.ANTHROPIC_API_KEY"
    located = f"error: Pulumi.prod.yaml:{lines['credential']}: {key}: holds an Anthropic API key"
    assert [row for row in markdown.splitlines() if row.startswith(located) and "pulumi config set --secret" in row]
    assert located in stderr
    written = [p.read_text(errors="replace") for p in (tmp_path / "out").rglob("*") if p.is_file()]
    for output in [markdown, stderr, *written]:
        assert secret not in output and secret[:24] not in output
