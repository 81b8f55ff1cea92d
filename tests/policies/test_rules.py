"""Every rule: well-formed metadata, and its own passing and failing example."""

from __future__ import annotations

import pytest

from policies.rules import ALL_RULES, RULES_BY_NAME
from policies.rules.k8s import with_change
from policies.rules.samples import deployment

SEVERITIES = {"low", "medium", "high", "critical"}


def test_pack_has_at_least_30_rules():
    assert len(ALL_RULES) >= 30


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.name)
def test_rule_metadata(rule):
    assert rule.name and rule.name == rule.name.lower() and " " not in rule.name
    assert rule.description.endswith(".") and rule.remediation
    assert rule.severity in SEVERITIES
    assert rule.stack or rule.types, "a resource rule names the types it applies to"


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.name)
def test_rule_passes_good_and_fails_bad(rule):
    assert rule.run(rule.example.passing, rule.example.config) == []
    assert rule.run(rule.example.failing, rule.example.config) != []


def test_rules_cover_the_required_areas():
    tags = {t for r in ALL_RULES for t in r.tags}
    assert {
        "images",
        "probes",
        "resources",
        "pod-security",
        "secrets",
        "availability",
        "network",
        "hygiene",
        "data",
        "docker",
    } <= tags


def test_applies_to_matches_exact_and_prefix_types():
    assert RULES_BY_NAME["run-as-non-root"].applies_to("kubernetes:apps/v1:Deployment")
    assert not RULES_BY_NAME["run-as-non-root"].applies_to("kubernetes:core/v1:ConfigMap")
    assert RULES_BY_NAME["no-deprecated-api"].applies_to("kubernetes:core/v1:ConfigMap")
    assert not RULES_BY_NAME["no-deprecated-api"].applies_to("pulumi:providers:kubernetes")


def test_config_parameters_change_the_verdict():
    lb = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s", "namespace": "n"},
        "spec": {"type": "LoadBalancer"},
    }
    rule = RULES_BY_NAME["no-external-service-types"]
    assert rule.run(lb) != []
    assert rule.run(lb, {"allowedTypes": ["ClusterIP", "LoadBalancer"]}) == []


def test_pdb_rule_agrees_with_the_hpa_minimum():
    from policies.rules.base import Resource
    from policies.rules.k8s import DEPLOYMENT, HPA, PDB
    from policies.rules.samples import hpa, pdb

    rule = RULES_BY_NAME["pdb-allows-disruption"]
    good = deployment()
    assert (
        rule.run([Resource.of(good, DEPLOYMENT), Resource.of(hpa(4), HPA), Resource.of(pdb(minAvailable=3), PDB)]) == []
    )
    assert (
        rule.run([Resource.of(good, DEPLOYMENT), Resource.of(hpa(3), HPA), Resource.of(pdb(minAvailable=3), PDB)]) != []
    )
    assert rule.run([Resource.of(good, DEPLOYMENT), Resource.of(hpa(3), HPA)]) != []  # no budget at all


def test_secret_detection_ignores_plain_config_and_references():
    rule = RULES_BY_NAME["env-no-literal-secrets"]
    ok = with_change(deployment(), "spec.template.spec.containers.0.env.1.value", "postgresql://db:5432/agent")
    assert rule.run(ok) == []


def test_secret_location_variables_are_not_secrets():
    rule = RULES_BY_NAME["secret-env-referenced"]
    ok = with_change(
        deployment(),
        "spec.template.spec.containers.0.env.1",
        {"name": "POSTGRES_PASSWORD_FILE", "value": "/run/secrets/p"},
    )
    assert rule.run(ok) == []
    bad = with_change(
        deployment(), "spec.template.spec.containers.0.env.1", {"name": "POSTGRES_PASSWORD", "value": "x"}
    )
    assert rule.run(bad) != []


def test_a_one_shot_container_runs_to_its_end_and_never_restarts():
    from policies.rules.samples import docker_container

    health, restart = RULES_BY_NAME["docker-healthcheck"], RULES_BY_NAME["docker-restart-policy"]
    migration = docker_container(
        name="api-migrate", attach=True, mustRun=False, healthcheck=None, restart="no", ports=[]
    )
    assert health.run(migration) == [] and restart.run(migration) == []
    assert restart.run({**migration, "restart": None}) == []  # the provider's default is "no"
    # unless-stopped would start a finished migration again, forever.
    assert restart.run({**migration, "restart": "unless-stopped"}) == [
        "one-shot container api-migrate: restart policy 'unless-stopped' would run it again after it finished"
    ]
    # Only attached and not kept running is a one-shot: anything else still serves and needs both.
    for kept in ({"mustRun": True}, {"attach": False}, {"attach": None}):
        assert health.run({**migration, **kept}) != [] and restart.run({**migration, **kept}) != []
    # The hardening rules apply to a one-shot like to any container.
    for name in ("docker-non-root", "docker-read-only-rootfs", "docker-cap-drop-all", "docker-memory-limit"):
        assert (
            RULES_BY_NAME[name].run({**migration, "user": "0", "readOnly": False, "capabilities": {}, "memory": 0})
            != []
        ), name
