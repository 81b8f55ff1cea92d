"""Every pod-security rule judges every pod-bearing kind, and every container list.

The rules' own Deployment examples are re-shaped into each kind as the API defines it: Pod (spec is the pod
spec), template kinds (spec.template), CronJob (spec.jobTemplate.spec.template); and the failing container is
moved into initContainers and ephemeralContainers.
"""

from __future__ import annotations

import copy

import pytest

from policies.rules import ALL_RULES
from policies.rules.k8s import WORKLOADS

POD_RULES = [r for r in ALL_RULES if set(WORKLOADS) <= set(r.types) and "pod-security" in r.tags]
# Rules whose failing example changes a container (the others change the pod spec itself).
CONTAINER_RULES = [
    r
    for r in POD_RULES
    if r.example.failing["spec"]["template"]["spec"]["containers"]
    != r.example.passing["spec"]["template"]["spec"]["containers"]
]
KINDS = ["Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"]


def as_kind(deployment: dict, kind: str) -> dict:
    template = copy.deepcopy(deployment["spec"]["template"])
    meta = copy.deepcopy(deployment["metadata"])
    if kind == "Pod":
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {**meta, **template.get("metadata", {})},
            "spec": template["spec"],
        }
    if kind == "CronJob":
        return {
            "apiVersion": "batch/v1",
            "kind": kind,
            "metadata": meta,
            "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": template}}},
        }
    return {
        "apiVersion": "batch/v1" if kind == "Job" else "apps/v1",
        "kind": kind,
        "metadata": meta,
        "spec": {"template": template},
    }


def test_there_are_pod_rules():
    assert len(POD_RULES) >= 18 and len(CONTAINER_RULES) >= 12


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("rule", POD_RULES, ids=lambda r: r.name)
def test_pod_rule_on_every_kind(rule, kind):
    assert rule.run(as_kind(rule.example.passing, kind), rule.example.config) == []
    assert rule.run(as_kind(rule.example.failing, kind), rule.example.config) != []


@pytest.mark.parametrize("field", ["initContainers", "ephemeralContainers"])
@pytest.mark.parametrize("rule", CONTAINER_RULES, ids=lambda r: r.name)
def test_pod_rule_on_every_container_list(rule, field):
    failing, passing = rule.example.failing, rule.example.passing
    bad = copy.deepcopy(passing)
    bad["spec"]["template"]["spec"][field] = copy.deepcopy(failing["spec"]["template"]["spec"]["containers"])
    assert rule.run(bad, rule.example.config) != []
