"""An agent service's least-privilege NetworkPolicy, as a pure function of what it may reach and who may
reach it: its declared callers on the app port, the edge when routed, Prometheus on the metrics port; the
services it calls, the data stores it uses (by the labels their pods carry, operators.py for
CloudNativePG's) and the egress its stack allows."""

from __future__ import annotations

import pulumi_kubernetes as k8s

from agent_platform.k8s.backend import Backend
from agent_platform.k8s.peers import from_namespace
from agent_platform.labels import selector_labels
from agent_platform.settings.cluster import Monitoring, NetworkConfig

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
    for rule in network.egress:
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
    return net.NetworkPolicySpecArgs(
        pod_selector=meta.LabelSelectorArgs(match_labels=selector),
        policy_types=["Ingress", "Egress"],
        ingress=ingress,
        egress=egress,
    )
