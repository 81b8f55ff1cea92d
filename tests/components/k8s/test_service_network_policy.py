"""An agent service's NetworkPolicy as a pure function (k8s/service_network_policy.py): no program run."""

from __future__ import annotations

from agent_platform.k8s.backend import Backend
from agent_platform.k8s.service_network_policy import egress_rules, spec
from agent_platform.settings.cluster import Monitoring, NetworkConfig
from agent_platform.settings.tracing import Tracing

NETWORK = NetworkConfig.model_validate(
    {"egress": [{"cidr": "0.0.0.0/0", "exceptCidrs": ["10.0.0.0/8"], "ports": [443]}]}
)
PGBOUNCER = {"cnpg.io/poolerName": "postgres-pooler-rw"}


def backends() -> list[Backend]:
    return [
        Backend("postgres", "DATABASE_URL", "postgres-connection", 5432, in_cluster=True, pod_labels=PGBOUNCER),
        Backend("redis", "REDIS_URL", "redis-connection", 6379, in_cluster=True),
        Backend("postgres", "DATABASE_URL", "external", 5432, in_cluster=False),
    ]


def policy(**given):
    args = {"callers": [], "exposed": False, "callees": [], "backends": backends(), **given}
    return spec({"app.kubernetes.io/name": "api"}, 8000, NETWORK, Monitoring(enabled=False), **args)


def peers(rules, field):
    return [getattr(p, field).match_labels for r in rules for p in r.to or [] if getattr(p, field, None)]


def test_egress_reaches_each_in_cluster_store_by_the_labels_its_pods_carry():
    p = policy()
    assert p.policy_types == ["Ingress", "Egress"] and p.ingress == []
    assert peers(p.egress, "pod_selector") == [
        PGBOUNCER,  # CloudNativePG's pooler: the label the operator guarantees
        {"app.kubernetes.io/name": "redis", "app.kubernetes.io/part-of": "agent-platform"},
    ]
    [internet] = [r for r in p.egress if r.to[0].ip_block]
    assert internet.to[0].ip_block.except_ == ["10.0.0.0/8"] and internet.ports[0].port == 443


def test_ingress_admits_only_declared_callers_the_edge_and_prometheus():
    p = policy(callers=["worker"], exposed=True)
    callers, edge = p.ingress
    assert callers.from_[0].pod_selector.match_labels["app.kubernetes.io/name"] == "worker"
    assert edge.from_[0].namespace_selector.match_labels == {
        "kubernetes.io/metadata.name": NETWORK.ingress_controller_namespace
    }
    assert all(r.ports[0].port == 8000 for r in p.ingress)
    scraped = spec(
        {"a": "b"}, 8000, NETWORK, Monitoring(enabled=True), callers=[], exposed=False, callees=[], backends=[]
    )
    [prometheus] = scraped.ingress
    assert prometheus.ports[0].port == Monitoring(enabled=True).port


def test_callees_are_reached_on_their_pods_port():
    p = policy(callees=[("runner", 9000)], backends=[])
    [callee, _internet] = p.egress
    assert callee.to[0].pod_selector.match_labels["app.kubernetes.io/name"] == "runner"
    assert callee.ports[0].port == 9000


def tracing(endpoint: str) -> Tracing:
    return Tracing(enabled=True, endpoint=endpoint, insecure_reason=None)


def ports_outside(p) -> list[tuple[str, list[str], list[int]]]:
    return [
        (r.to[0].ip_block.cidr, list(r.to[0].ip_block.except_ or []), [q.port for q in r.ports])
        for r in p.egress
        if r.to[0].ip_block
    ]


def test_tracing_outside_the_cluster_adds_its_port_alone_to_the_outside_world():
    p = policy(tracing=tracing("https://otlp.example.com:4318"))
    outside = ports_outside(p)
    private = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"]
    assert outside == [("0.0.0.0/0", ["10.0.0.0/8"], [443]), ("0.0.0.0/0", private, [4318])]


def test_tracing_on_a_port_the_egress_already_admits_adds_nothing():
    assert ports_outside(policy(tracing=tracing("https://otlp.example.com"))) == ports_outside(policy())
    assert egress_rules(NETWORK, Tracing()) == list(NETWORK.egress)


def test_an_in_cluster_collector_is_admitted_by_its_namespace_and_port_only():
    p = policy(tracing=tracing("http://otel-collector.observability.svc:4317"))
    [collector] = [r for r in p.egress if r.to[0].namespace_selector]
    assert collector.to[0].namespace_selector.match_labels == {"kubernetes.io/metadata.name": "observability"}
    assert collector.to[0].pod_selector is None and [q.port for q in collector.ports] == [4317]
    assert ports_outside(p) == ports_outside(policy())
