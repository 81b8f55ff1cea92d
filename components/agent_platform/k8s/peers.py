"""NetworkPolicy pieces every policy of the stack is made of: a peer in another namespace (by the
API server's `kubernetes.io/metadata.name` label on every namespace), a rule admitting one, TCP ports."""

from __future__ import annotations

import pulumi_kubernetes as k8s

meta = k8s.meta.v1
net = k8s.networking.v1

NAMESPACE_NAME = "kubernetes.io/metadata.name"


def tcp(*ports: int) -> list[net.NetworkPolicyPortArgs]:
    return [net.NetworkPolicyPortArgs(protocol="TCP", port=p) for p in ports]


def namespace_peer(namespace: str, pod_labels: dict[str, str] | None = None) -> net.NetworkPolicyPeerArgs:
    """The pods of `namespace` carrying `pod_labels` (every pod of it when None)."""
    return net.NetworkPolicyPeerArgs(
        namespace_selector=meta.LabelSelectorArgs(match_labels={NAMESPACE_NAME: namespace}),
        pod_selector=meta.LabelSelectorArgs(match_labels=pod_labels) if pod_labels is not None else None,
    )


def from_namespace(namespace: str, port: int) -> net.NetworkPolicyIngressRuleArgs:
    """Every pod of `namespace` (a data plane outside the stack), to `port` only."""
    return net.NetworkPolicyIngressRuleArgs(from_=[namespace_peer(namespace)], ports=tcp(port))
