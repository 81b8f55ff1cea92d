"""The operator model (agent_platform/operators.py) against the operators' own source, and the stack against it.

The fixtures are what the upstream projects' own tests expect their code to produce, quoted with their
file and line at the pinned versions (CloudNativePG v1.30.0, commit 4b5e244a; plugin-barman-cloud
v0.14.0): a model that departs from them fails here, and so does a rendered rule that selects an
operator-made pod by a label the operator overwrites.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from agent_platform import operators
from agent_platform.settings.capacity import pod_amounts
from agent_platform.settings.pod import ResourceAmounts, Resources

from policies.rules.k8s import matches
from tests.conftest import capture_with, objects, shipped
from tests.fully_featured import VARIANTS

ROOT = Path(__file__).resolve().parents[2]

# cloudnative-pg v1.30.0 pkg/specs/pgbouncer/deployments_test.go:115-123: the pod template's labels of
# Pooler "test-pooler" on Cluster "test-cluster" (an empty template).
UPSTREAM_POOLER_POD_LABELS = {
    "cnpg.io/cluster": "test-cluster",
    "cnpg.io/poolerName": "test-pooler",
    "cnpg.io/podRole": "pooler",
    "app.kubernetes.io/name": "postgresql",
    "app.kubernetes.io/instance": "test-cluster",
    "app.kubernetes.io/component": "pooler",
    "app.kubernetes.io/managed-by": "cloudnative-pg",
}
# cloudnative-pg v1.30.0 pkg/specs/pods.go:545-553: an instance pod's own labels (instance 1 of "pg").
UPSTREAM_INSTANCE_LABELS = {
    "cnpg.io/cluster": "pg",
    "cnpg.io/instanceName": "pg-1",
    "cnpg.io/podRole": "instance",
    "app.kubernetes.io/name": "postgresql",
    "app.kubernetes.io/instance": "pg",
    "app.kubernetes.io/component": "database",
    "app.kubernetes.io/managed-by": "cloudnative-pg",
}


def test_the_pack_holds_the_packages_model_byte_for_byte():
    package = ROOT / "components" / "agent_platform" / "operators.py"
    assert (ROOT / "policies" / "rules" / "operators.py").read_bytes() == package.read_bytes()


def test_pooler_pods_carry_the_operators_labels_over_the_template():
    assert operators.cnpg_pooler_labels("test-pooler", "test-cluster", {}) == UPSTREAM_POOLER_POD_LABELS
    # podspec.NewFrom(template).WithLabel(...) (deployments.go:56-63): the operator's value wins.
    planted = {"app.kubernetes.io/name": "postgres", "app.kubernetes.io/part-of": "agent-platform"}
    labels = operators.cnpg_pooler_labels("test-pooler", "test-cluster", planted)
    assert labels["app.kubernetes.io/name"] == "postgresql"
    assert labels["app.kubernetes.io/part-of"] == "agent-platform"  # a label it does not set stays
    assert matches({"matchLabels": operators.cnpg_pooler_selector("test-pooler")}, labels)


def test_instance_pods_carry_inherited_labels_over_the_operators():
    assert operators.cnpg_instance_labels("pg", {}) == UPSTREAM_INSTANCE_LABELS
    # utils.InheritLabels (labels_annotations.go:450-469) writes inheritedMetadata last.
    labels = operators.cnpg_instance_labels("pg", {"app.kubernetes.io/part-of": "agent-platform"})
    assert labels["app.kubernetes.io/part-of"] == "agent-platform"
    assert matches({"matchLabels": operators.cnpg_instance_selector("pg")}, labels)


def test_the_operators_services_select_by_the_labels_it_sets():
    # services.go:95-98 (-r), :123-126 (-ro, plus instanceRole replica), :151-154 (-rw, instanceRole primary):
    # each selects by cnpg.io/cluster; our selector for a path is the one every instance keeps.
    names = [name for name, _, _ in operators.cnpg_cluster_services("pg")]
    assert names == ["pg-rw", "pg-ro", "pg-r"]
    name, selector, ports = operators.cnpg_pooler_service("pg-pooler-rw")
    assert (name, selector) == ("pg-pooler-rw", {"cnpg.io/poolerName": "pg-pooler-rw"})
    # pgbouncer/services.go:52-57: port pgbouncer 5432 to the pods' named port.
    assert ports[0]["targetPort"] == "pgbouncer" and ("pgbouncer", 5432, "TCP") in operators.CNPG_POOLER_PORTS


def test_the_plugins_sidecar_is_a_native_sidecar_counted_beside_postgres():
    # plugin-barman-cloud v0.14.0 lifecycle.go:433: RestartPolicy Always; appended after bootstrap-controller.
    containers, init = operators.cnpg_instance_pod(plugin=True)
    assert containers == [("postgres", "cluster", False)]
    assert init == [("bootstrap-controller", "cluster", False), ("plugin-barman-cloud", "sidecar", True)]
    assert operators.cnpg_instance_pod(plugin=False)[1] == [("bootstrap-controller", "cluster", False)]


def r(cpu: str, memory: str) -> Resources:
    return Resources(requests=ResourceAmounts(cpu=cpu, memory=memory), limits=ResourceAmounts(cpu=cpu, memory=memory))


def test_pod_amounts_follow_component_helpers_with_native_sidecars():
    # k8s.io/component-helpers resource/helpers.go AggregateContainerRequests, and its test cases'
    # shape: a restartable init container runs beside the containers and beside every later init container.
    app, big_init, sidecar = r("1", "1Gi"), r("3", "64Mi"), r("500m", "256Mi")
    assert pod_amounts([app], [(sidecar, True)])["requests.cpu"] == 1.5
    # An init container after the sidecar runs beside it: max(1 + 0.5, 3 + 0.5).
    assert pod_amounts([app], [(sidecar, True), big_init])["requests.cpu"] == 3.5
    # Before it, it runs alone: max(1.5, 3).
    assert pod_amounts([app], [big_init, (sidecar, True)])["requests.cpu"] == 3.0
    assert pod_amounts([app], [big_init])["requests.memory"] == 2**30


def test_pooler_surge_is_kubernetes_default_rolling_update():
    assert [operators.cnpg_pooler_surge(n) for n in (0, 1, 2, 4, 5, 8)] == [0, 1, 1, 1, 2, 2]


# --- the stack against the model ---------------------------------------------------------------------
def _egress_peers_to(policy: dict, port: int) -> list[dict]:
    return [
        peer
        for rule in policy["spec"].get("egress") or []
        if any(p.get("port") == port for p in rule.get("ports") or [])
        for peer in rule.get("to") or []
        if "podSelector" in peer and "namespaceSelector" not in peer
    ]


def pooler_pod_labels(objs: dict) -> dict[str, str]:
    """The labels PgBouncer's pods get on a real cluster, from the rendered Pooler and the operator's rules."""
    pooler = objs[("Pooler", "postgres-pooler-rw")]
    return operators.cnpg_pooler_labels(
        "postgres-pooler-rw", pooler["spec"]["cluster"]["name"], pooler["spec"]["template"]["metadata"]["labels"]
    )


def unreached(objs: dict) -> list[str]:
    """Workloads whose egress to Postgres' port selects no PgBouncer pod as the operator labels them."""
    labels = pooler_pod_labels(objs)
    return [
        name
        for (kind, name), policy in objs.items()
        if kind == "NetworkPolicy"
        and (peers := _egress_peers_to(policy, 5432))
        and not name.startswith("postgres")
        and name != "restore-drill"  # its own throwaway Cluster's instance: test_the_drill_reaches_its_instance
        and not any(matches(p["podSelector"], labels) for p in peers)
    ]


@pytest.fixture(scope="module")
def variants(tmp_path_factory) -> dict[str, dict]:
    found = {"prod": objects(shipped("prod"))}
    for name in ("gateway-canary-cloudnativepg", "ingress-blue-green-cloudnativepg"):
        found[name] = objects(capture_with(tmp_path_factory.mktemp(name), "prod", VARIANTS[name]))
    return found


def test_every_workload_reaches_pgbouncer_as_the_operator_labels_it(variants):
    for name, objs in variants.items():
        egress = [n for (k, n), p in objs.items() if k == "NetworkPolicy" and _egress_peers_to(p, 5432)]
        # API, runner, migration Job, cleanup CronJob (and the canary or both colours in the variants).
        api = {"agent-api-blue", "agent-api-green"} if "blue-green" in name else {"agent-api"}
        assert {*api, "agent-runner", "agent-api-migrate", "agent-api-cleanup"} <= set(egress), name
        assert unreached(objs) == [], name


def test_a_template_label_in_the_egress_rule_is_caught(variants):
    objs = copy.deepcopy(variants["prod"])
    policy = objs[("NetworkPolicy", "agent-api")]
    # What the platform rendered before it read the operator: the template's label, which never reaches the pods.
    for rule in policy["spec"]["egress"]:
        for peer in rule.get("to") or []:
            if peer.get("podSelector", {}).get("matchLabels") == {"cnpg.io/poolerName": "postgres-pooler-rw"}:
                peer["podSelector"]["matchLabels"] = {
                    "app.kubernetes.io/name": "postgres",
                    "app.kubernetes.io/part-of": "agent-platform",
                }
    assert unreached(objs) == ["agent-api"]


def test_keda_is_admitted_where_a_trigger_reads_the_database(variants):
    for name in ("gateway-canary-cloudnativepg", "ingress-blue-green-cloudnativepg"):
        objs = variants[name]
        ingress = objs[("NetworkPolicy", "postgres-pooler")]["spec"]["ingress"]
        keda = {"kubernetes.io/metadata.name": "keda"}
        assert any(
            p.get("namespaceSelector", {}).get("matchLabels") == keda
            and matches(p["podSelector"], operators.PEERS["keda"])
            for rule in ingress
            for p in rule["from"]
        ), name
    # prod's own autoscaler is an HPA: nothing of KEDA's is admitted.
    assert "keda" not in str(variants["prod"][("NetworkPolicy", "postgres-pooler")])


def test_the_drill_reaches_its_instance_as_the_operator_labels_it(variants):
    objs = variants["prod"]
    peers = _egress_peers_to(objs[("NetworkPolicy", "restore-drill")], 5432)
    # The drill's Cluster is applied from the CronJob's ConfigMap: its pods as the operator labels them.
    instance = operators.cnpg_instance_labels("postgres-drill", {"app.kubernetes.io/component": "restore-drill"})
    assert any(matches(p["podSelector"], instance) for p in peers)
    assert not any(matches(p["podSelector"], pooler_pod_labels(objs)) for p in peers)
