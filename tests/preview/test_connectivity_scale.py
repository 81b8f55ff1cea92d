"""The connectivity analysis stays linear in the objects it reads, counted without a clock.

The unit of work is a selector evaluation (netpol.Work.selectors: every pod selector, namespace selector
and peer matched against labels). prod with N copies of its API service is rendered by the real program
at two sizes; the work per service at the larger size may not exceed the smaller's by more than a
margin. Pairing every path with every policy, or every Service with every pod (what the analysis did
before it was indexed: about N^2), makes the per-service work grow with N and fails here.
"""

from __future__ import annotations

import copy

from policies.rules import netpol
from preview.connectivity import connectivity
from preview.render import manifests
from tests.conftest import capture_with, stack_file
from tests.preview.test_connectivity import config_of

P = "agent-platform:"


def with_services(n: int):
    def mutate(cfg: dict) -> None:
        template = cfg[P + "services"][0]
        services = []
        for i in range(n):
            svc = copy.deepcopy(template)
            svc["name"] = f"agent-{i:03d}"
            svc["ingress"] = {"paths": [f"/g{i}"]}
            services.append(svc)
        cfg[P + "services"] = services
        # Each service's pool adds clients at PgBouncer: its limit grows with them (the stack stays valid).
        cfg[P + "postgres"].setdefault("pooler", {})["maxClientConn"] = 10000

    return mutate


def work(tmp_path, n: int) -> tuple[int, int]:
    """(selector evaluations, paths) of the connectivity report of prod with n API services."""
    mutate = with_services(n)
    cfg = copy.deepcopy(stack_file("prod")["config"])
    mutate(cfg)
    (tmp_path / str(n)).mkdir(exist_ok=True)
    kube = manifests(capture_with(tmp_path / str(n), "prod", mutate))
    before = netpol.Work.selectors
    report = connectivity(kube, config_of(cfg))
    assert report is not None and report.failures == [] and report.warnings == []
    return netpol.Work.selectors - before, len(report.checked)


def test_selector_work_per_service_stays_flat(tmp_path):
    small, large = 3, 12
    (work_small, paths_small), (work_large, paths_large) = work(tmp_path, small), work(tmp_path, large)
    # The paths themselves grow linearly: the test measures the work per path and per service.
    assert paths_large < paths_small * large / small * 1.2
    per_small, per_large = work_small / small, work_large / large
    assert per_large <= per_small * 1.2, (work_small, work_large)


def test_the_counter_sees_quadratic_work(tmp_path):
    """The unit can fail: the same report over an unindexed policy list (every path paired with every
    policy, the analysis before it was indexed) counts more work per service at the larger size."""
    from policies.rules import connectivity as engine

    original = engine.Policies

    class Unindexed(netpol.Policies):
        def selecting(self, pod, direction):
            return [
                p
                for p in self.all
                if netpol._matches((p.get("spec") or {}).get("podSelector") or {}, pod.labels)
                and p.get("metadata", {}).get("namespace", "default") == pod.namespace
                and direction in netpol.policy_types(p.get("spec") or {})
            ]

    engine.Policies = Unindexed
    try:
        (w_small, _), (w_large, _) = work(tmp_path, 3), work(tmp_path, 12)
    finally:
        engine.Policies = original
    assert w_large / 12 > 1.5 * (w_small / 3)
