"""Cases beyond each rule's own example: Docker parity, credential forms, data-store recognition."""

from __future__ import annotations

from policies.rules import RULES_BY_NAME
from policies.rules.base import Resource
from policies.rules.k8s import DEPLOYMENT, HPA, PDB, with_change
from policies.rules.samples import deployment, hpa, pdb

C0 = "spec.template.spec.containers.0"


def test_args_references_and_files_are_not_secrets_but_literals_are():
    rule = RULES_BY_NAME["args-no-literal-secrets"]
    assert rule.run(with_change(deployment(), f"{C0}.args", ["--requirepass", "$(REDIS_PASSWORD)"])) == []
    assert rule.run(with_change(deployment(), f"{C0}.args", ["--password-file", "/run/secrets/pw"])) == []
    assert rule.run(with_change(deployment(), f"{C0}.args", ["--requirepass", "hunter2hunter2"]))
    assert rule.run(
        with_change(deployment(), f"{C0}.command", ["sh", "-c", "redis-cli -u redis://:pw@redis:6379 ping"])
    )


def test_pdb_percentages_that_forbid_every_disruption():
    rule = RULES_BY_NAME["pdb-allows-disruption"]
    for spec in ({"minAvailable": "100%"}, {"maxUnavailable": "0%"}):
        found = rule.run(
            [Resource.of(deployment(), DEPLOYMENT), Resource.of(hpa(3), HPA), Resource.of(pdb(**spec), PDB)]
        )
        assert found and "no drain can proceed" in found[0][0]


def test_added_capabilities_beside_drop_all_are_caught():
    bad = with_change(deployment(), f"{C0}.securityContext.capabilities", {"drop": ["ALL"], "add": ["NET_ADMIN"]})
    assert RULES_BY_NAME["pss-capabilities-added"].run(bad)
    ok = with_change(deployment(), f"{C0}.securityContext.capabilities", {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]})
    assert RULES_BY_NAME["pss-capabilities-added"].run(ok) == []
