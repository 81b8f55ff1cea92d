"""docs/policy-coverage.md is the pack's own account of what it covers: it cannot drift from ALL_RULES."""

from __future__ import annotations

import re

from policies.rules import ALL_RULES, RULES_BY_NAME
from policies.rules.coverage import ADMISSION, PSS_CONTROLS, mapped_rules, pss_table, render
from tests.conftest import ROOT

# Every control of the Pod Security Standards, as the standard names them.
PSS = {
    "baseline": {
        "HostProcess",
        "Host Namespaces",
        "Privileged Containers",
        "Capabilities",
        "HostPath Volumes",
        "Host Ports",
        "AppArmor",
        "SELinux",
        "/proc Mount Type",
        "Seccomp",
        "Sysctls",
    },
    "restricted": {
        "Volume Types",
        "Privilege Escalation",
        "Running as Non-root",
        "Running as Non-root user",
        "Seccomp",
    },
}


def test_the_page_is_what_the_rules_generate():
    page = (ROOT / "docs" / "policy-coverage.md").read_text()
    assert page == render(), "regenerate: venv/bin/python -m policies.rules.coverage > docs/policy-coverage.md"


def test_every_rule_is_on_the_page_and_every_named_rule_exists():
    page = (ROOT / "docs" / "policy-coverage.md").read_text()
    named = set(re.findall(r"`([a-z0-9-]+)`", page))
    assert {r.name for r in ALL_RULES} <= named
    assert mapped_rules() <= set(RULES_BY_NAME)
    assert f"**{len(ALL_RULES)} rules**" in page


def test_every_pss_control_has_a_kubernetes_rule_and_a_docker_answer():
    listed = {(level, control.split(" (")[0]) for level, control, _, _ in PSS_CONTROLS}
    assert {(level, c) for level, controls in PSS.items() for c in controls} <= listed
    for _, control, k8s, docker in PSS_CONTROLS:
        assert k8s and all("pod-security" in RULES_BY_NAME[n].tags for n in k8s), control
        assert docker, control  # a Docker rule, or a note saying why Docker has none
        if isinstance(docker, list):
            assert all("docker" in RULES_BY_NAME[n].tags for n in docker), control
    assert ADMISSION


def test_the_readme_and_the_policy_page_show_the_same_controls_and_rule_count():
    page = (ROOT / "docs" / "policy.md").read_text()
    assert pss_table() in page, "copy policies.rules.coverage.pss_table() into docs/policy.md"
    readme = (ROOT / "README.md").read_text()
    assert f"{len(ALL_RULES)} rules cover" in readme and f"{len(ALL_RULES)} rules cover" in page
    assert "docs/policy-coverage.md" in readme
