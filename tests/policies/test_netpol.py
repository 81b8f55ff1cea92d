"""NetworkPolicy semantics (policies/rules/netpol.py), case by case.

Each case is a few policies, a source, a destination and a port, and whether Kubernetes admits the
connection. The policies have the shape of the networking.k8s.io/v1 API (the reference's examples:
kubernetes.io/docs/concepts/services-networking/network-policies/), and each case differs from an
admitted one by the one field its name says, so each could fail.
"""

from __future__ import annotations

import pytest

from policies.rules.netpol import Endpoint, evaluate, in_block, policy_types

API = Endpoint(
    "Deployment/api",
    "agents",
    {"app": "api", "role": "agent"},
    ports=(("http", 8000, "TCP"), ("metrics", 9090, "TCP")),
)
DB = Endpoint("StatefulSet/db", "agents", {"app": "db"}, ports=(("postgres", 5432, "TCP"),))
PROMETHEUS = Endpoint("prometheus", "monitoring", {"app.kubernetes.io/name": "prometheus"}, {"team": "obs"})
PUBLIC = Endpoint("external", address="203.0.113.10")
PRIVATE = Endpoint("external", address="10.1.2.3")


def policy(name, selector, types=None, ingress=None, egress=None, namespace="agents"):
    spec = {"podSelector": {"matchLabels": selector} if selector else {}}
    if types is not None:
        spec["policyTypes"] = types
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    return {"kind": "NetworkPolicy", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


DENY = policy("default-deny", None, ["Ingress", "Egress"])
API_TO_DB = policy(
    "api", {"app": "api"}, ["Ingress", "Egress"], egress=[{"to": [{"podSelector": {"matchLabels": {"app": "db"}}}]}]
)


def db_from(peer, ports=None):
    rule = {"from": [peer]} if peer is not None else {}
    if ports is not None:
        rule["ports"] = ports
    return policy("db", {"app": "db"}, ["Ingress", "Egress"], ingress=[rule])


API_PEER = {"podSelector": {"matchLabels": {"app": "api"}}}
TCP_5432 = [{"port": 5432, "protocol": "TCP"}]

CASES = [
    # (id, policies, source, destination, port, protocol, admitted)
    ("no policy: nothing isolated", [], API, DB, 5432, "TCP", True),
    ("default deny isolates both sides", [DENY], API, DB, 5432, "TCP", False),
    ("egress alone is not enough", [DENY, API_TO_DB], API, DB, 5432, "TCP", False),
    ("egress and ingress admit", [DENY, API_TO_DB, db_from(API_PEER, TCP_5432)], API, DB, 5432, "TCP", True),
    ("wrong port", [DENY, API_TO_DB, db_from(API_PEER, [{"port": 5433}])], API, DB, 5432, "TCP", False),
    ("protocol defaults to TCP", [DENY, API_TO_DB, db_from(API_PEER, [{"port": 5432}])], API, DB, 5432, "TCP", True),
    ("UDP is another port", [DENY, API_TO_DB, db_from(API_PEER, TCP_5432)], API, DB, 5432, "UDP", False),
    (
        "named port on the destination",
        [DENY, API_TO_DB, db_from(API_PEER, [{"port": "postgres"}])],
        API,
        DB,
        5432,
        "TCP",
        True,
    ),
    ("named port the pod lacks", [DENY, API_TO_DB, db_from(API_PEER, [{"port": "pg"}])], API, DB, 5432, "TCP", False),
    (
        "endPort range holds it",
        [DENY, API_TO_DB, db_from(API_PEER, [{"port": 5400, "endPort": 5500}])],
        API,
        DB,
        5432,
        "TCP",
        True,
    ),
    (
        "endPort range ends before it",
        [DENY, API_TO_DB, db_from(API_PEER, [{"port": 5400, "endPort": 5431}])],
        API,
        DB,
        5432,
        "TCP",
        False,
    ),
    ("a rule without ports admits every port", [DENY, API_TO_DB, db_from(API_PEER)], API, DB, 5432, "TCP", True),
    ("a rule without from admits every peer", [DENY, API_TO_DB, db_from(None, TCP_5432)], API, DB, 5432, "TCP", True),
    (
        "podSelector alone is the policy's namespace",
        [DENY, API_TO_DB, db_from(API_PEER, TCP_5432)],
        Endpoint("other", "elsewhere", {"app": "api"}),
        DB,
        5432,
        "TCP",
        False,
    ),
    (
        "namespaceSelector alone: every pod there",
        [db_from({"namespaceSelector": {"matchLabels": {"team": "obs"}}})],
        PROMETHEUS,
        DB,
        5432,
        "TCP",
        True,
    ),
    (
        "namespace by its automatic name label",
        [db_from({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}})],
        PROMETHEUS,
        DB,
        5432,
        "TCP",
        True,
    ),
    (
        "both selectors in one peer are ANDed",
        [
            db_from(
                {
                    "namespaceSelector": {"matchLabels": {"team": "obs"}},
                    "podSelector": {"matchLabels": {"app": "grafana"}},
                }
            )
        ],
        PROMETHEUS,
        DB,
        5432,
        "TCP",
        False,
    ),
    (
        "both selectors in one peer, both match",
        [
            db_from(
                {
                    "namespaceSelector": {"matchLabels": {"team": "obs"}},
                    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
                }
            )
        ],
        PROMETHEUS,
        DB,
        5432,
        "TCP",
        True,
    ),
    (
        "matchExpressions NotIn",
        [db_from({"podSelector": {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["api"]}]}})],
        API,
        DB,
        5432,
        "TCP",
        False,
    ),
    (
        "policies add up: any one admits",
        [
            DENY,
            API_TO_DB,
            db_from({"podSelector": {"matchLabels": {"app": "x"}}}),
            {**db_from(API_PEER), "metadata": {"name": "db-2", "namespace": "agents"}},
        ],
        API,
        DB,
        5432,
        "TCP",
        True,
    ),
    (
        "a policy of another namespace selects nothing here",
        [policy("deny", None, ["Ingress"], namespace="other")],
        API,
        DB,
        5432,
        "TCP",
        True,
    ),
    ("Egress only: ingress stays open", [policy("e", {"app": "db"}, ["Egress"])], API, DB, 5432, "TCP", True),
    (
        "policyTypes unset with egress rules isolates egress",
        [policy("e", {"app": "api"}, egress=[{"to": [{"podSelector": {"matchLabels": {"app": "x"}}}]}])],
        API,
        DB,
        5432,
        "TCP",
        False,
    ),
    (
        "ipBlock admits a public address",
        [
            policy(
                "out",
                {"app": "api"},
                ["Egress"],
                egress=[
                    {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}], "ports": [{"port": 443}]}
                ],
            )
        ],
        API,
        PUBLIC,
        443,
        "TCP",
        True,
    ),
    (
        "ipBlock except carves a range out",
        [
            policy(
                "out",
                {"app": "api"},
                ["Egress"],
                egress=[
                    {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}], "ports": [{"port": 443}]}
                ],
            )
        ],
        API,
        PRIVATE,
        443,
        "TCP",
        False,
    ),
    (
        "ipBlock never matches a pod",
        [
            DENY,
            policy("out", {"app": "api"}, ["Egress"], egress=[{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]),
            db_from(API_PEER),
        ],
        API,
        DB,
        5432,
        "TCP",
        False,
    ),
    (
        "an egress rule with no to reaches any address",
        [policy("out", {"app": "api"}, ["Egress"], egress=[{"ports": [{"port": 443}]}])],
        API,
        PUBLIC,
        443,
        "TCP",
        True,
    ),
]


@pytest.mark.parametrize(
    ("policies", "source", "destination", "port", "protocol", "admitted"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_semantics(policies, source, destination, port, protocol, admitted):
    assert evaluate(policies, source, destination, port, protocol).allowed is admitted


def test_the_verdict_names_the_admitting_rule_and_the_isolating_policies():
    admitted = evaluate([DENY, API_TO_DB, db_from(API_PEER, TCP_5432)], API, DB, 5432)
    assert (admitted.egress.policy, admitted.egress.rule) == ("api", 0)
    assert (admitted.ingress.policy, admitted.ingress.rule) == ("db", 0)
    cut = evaluate([DENY, API_TO_DB], API, DB, 5432)
    assert cut.egress.allowed and not cut.ingress.allowed
    assert cut.ingress.isolating == ("default-deny",) and cut.ingress.own == ()
    wrong_port = evaluate([DENY, API_TO_DB, db_from(API_PEER, [{"port": 5433}])], API, DB, 5432)
    assert wrong_port.ingress.own == ("db",)  # the policy selecting the pod by its labels: where the rule goes


def test_policy_types_default_as_the_api_sets_them():
    assert policy_types({"podSelector": {}}) == ["Ingress"]
    assert policy_types({"podSelector": {}, "egress": [{}]}) == ["Ingress", "Egress"]
    assert policy_types({"podSelector": {}, "policyTypes": ["Egress"]}) == ["Egress"]


def test_ip_blocks_keep_to_their_family_and_exceptions():
    assert in_block("203.0.113.10", {"cidr": "203.0.113.0/24"})
    assert not in_block("203.0.113.10", {"cidr": "203.0.113.0/24", "except": ["203.0.113.0/28"]})
    assert not in_block("2001:db8::1", {"cidr": "0.0.0.0/0"})
