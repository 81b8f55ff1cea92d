"""An agent service's least-privilege NetworkPolicy, as a pure function of what it may reach and who may
reach it: its declared callers on the app port, the edge when routed, Prometheus on the metrics port; the
services it calls, the data stores it uses (by the labels their pods carry, operators.py for
CloudNativePG's) and the egress its stack allows."""

from __future__ import annotations

import pulumi_kubernetes as k8s

from agent_platform.k8s.backend import Backend
from agent_platform.k8s.peers import from_namespace
from agent_platform.labels import selector_labels
from agent_platform.settings.cluster import EgressRule, Monitoring, NetworkConfig
from agent_platform.settings.tracing import Tracing

meta = k8s.meta.v1
net = k8s.networking.v1


def spec(
    selector: dict[str, str],
    port: int,
    network: NetworkConfig,
    monitoring: Monitoring,
    *,
    callers: list[str],
    exposed: bool,
    callees: list[tuple[str, int]],
    backends: list[Backend],
    tracing: Tracing | None = None,
) -> net.NetworkPolicySpecArgs:
    """The policy selecting `selector`'s pods: ingress and egress both isolated, each rule named above."""
    ingress = []
    if callers:
        # Declared peers only (allowFrom), on the app port: nothing else in the namespace.
        ingress.append(
            net.NetworkPolicyIngressRuleArgs(
                from_=[
                    net.NetworkPolicyPeerArgs(pod_selector=meta.LabelSelectorArgs(match_labels=selector_labels(name)))
                    for name in callers
                ],
                ports=[net.NetworkPolicyPortArgs(protocol="TCP", port=port)],
            )
        )
    if exposed:
        ingress.append(from_namespace(network.ingress_controller_namespace, port))
    if monitoring.enabled:
        # Only Prometheus, from its namespace, and only to the metrics port.
        ingress.append(from_namespace(monitoring.namespace, monitoring.port))
    egress = []
    for name, port in callees:
        # NetworkPolicy ports are the pods' ports (the Service's targetPort), not port 80.
        egress.append(
            net.NetworkPolicyEgressRuleArgs(
                to=[net.NetworkPolicyPeerArgs(pod_selector=meta.LabelSelectorArgs(match_labels=selector_labels(name)))],
                ports=[net.NetworkPolicyPortArgs(protocol="TCP", port=port)],
            )
        )
    for b in backends:
        if b.in_cluster:
            egress.append(
                net.NetworkPolicyEgressRuleArgs(
                    to=[net.NetworkPolicyPeerArgs(pod_selector=meta.LabelSelectorArgs(match_labels=b.peer_labels))],
                    ports=[net.NetworkPolicyPortArgs(protocol="TCP", port=b.port)],
                )
            )
    for rule in egress_rules(network, tracing):
        egress.append(
            net.NetworkPolicyEgressRuleArgs(
                to=[
                    net.NetworkPolicyPeerArgs(
                        ip_block=net.IPBlockArgs(cidr=rule.cidr, except_=rule.except_cidrs or None)
                    )
                ],
                ports=[net.NetworkPolicyPortArgs(protocol="TCP", port=p) for p in rule.ports],
            )
        )
    namespace = tracing.in_cluster_namespace() if tracing is not None and tracing.enabled else None
    if namespace is not None:
        # An in-cluster collector: its namespace, on the endpoint's port only.
        egress.append(
            net.NetworkPolicyEgressRuleArgs(
                to=[
                    net.NetworkPolicyPeerArgs(
                        namespace_selector=meta.LabelSelectorArgs(
                            match_labels={"kubernetes.io/metadata.name": namespace}
                        )
                    )
                ],
                ports=[net.NetworkPolicyPortArgs(protocol="TCP", port=tracing.address()[1])],
            )
        )
    return net.NetworkPolicySpecArgs(
        pod_selector=meta.LabelSelectorArgs(match_labels=selector),
        policy_types=["Ingress", "Egress"],
        ingress=ingress,
        egress=egress,
    )


# The world outside the cluster, as the default `network.egress` rule has it: every address but the
# private ranges (which hold the cluster's own pods and Services, and the cloud's metadata address).
OUTSIDE = NetworkConfig.model_fields["egress"].default[0]


def egress_rules(network: NetworkConfig, tracing: Tracing | None) -> list[EgressRule]:
    """The stack's egress rules, and for a tracing endpoint outside the cluster one more rule to the
    world outside on the endpoint's port alone, unless a rule to 0.0.0.0/0 already admits that port."""
    rules = list(network.egress)
    if tracing is None or not tracing.enabled or tracing.in_cluster_namespace() is not None:
        return rules
    port = tracing.address()[1]
    if any(r.cidr == OUTSIDE.cidr and port in r.ports for r in rules):
        return rules
    return [*rules, OUTSIDE.model_copy(update={"ports": [port]})]
