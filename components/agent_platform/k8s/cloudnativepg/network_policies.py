"""The namespace denies everything by default: what the instances and PgBouncer may reach, and who may reach them."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from agent_platform import operators
from agent_platform.k8s.cloudnativepg.names import (
    METRICS_PORT,
    POD_ROLE_LABEL,
    POOLER_METRICS_PORT,
    RESTORE_DRILL,
    STATUS_PORT,
    PostgresOwner,
)
from agent_platform.labels import selector_labels
from agent_platform.store_runtime import POSTGRES_PORT

core = k8s.core.v1
meta = k8s.meta.v1
net = k8s.networking.v1
rbac = k8s.rbac.v1
batch = k8s.batch.v1


def _peer(namespace: str, labels: dict[str, str]) -> net.NetworkPolicyPeerArgs:
    return net.NetworkPolicyPeerArgs(
        namespace_selector=meta.LabelSelectorArgs(match_labels={"kubernetes.io/metadata.name": namespace}),
        pod_selector=meta.LabelSelectorArgs(match_labels=labels),
    )


def _tcp(*ports: int) -> list[net.NetworkPolicyPortArgs]:
    return [net.NetworkPolicyPortArgs(protocol="TCP", port=p) for p in ports]


def network_policies(store: PostgresOwner, name: str, metrics_namespace: str, opts: pulumi.ResourceOptions) -> None:
    """The namespace denies everything by default. Instances (of every Cluster of the namespace:
    the restore drill's too) take Postgres from the pooler, the clients, the drill and each other,
    status calls from the operator and scrapes from Prometheus; they reach each other (streaming
    replication), the API server and the object store. PgBouncer reaches the instances."""
    c = store.config
    instance = {POD_ROLE_LABEL: operators.ROLE_INSTANCE}
    operator = _peer(c.operator_namespace, operators.PEERS["cnpg"])
    # KEDA's operator reads a postgresql trigger at the clients' host: the pooler, else the primary.
    scaler = [_peer(store.scaler_namespace, operators.PEERS["keda"])] if store.scaler_namespace else []
    same_ns = lambda labels: net.NetworkPolicyPeerArgs(pod_selector=meta.LabelSelectorArgs(match_labels=labels))  # noqa: E731
    clients = [
        same_ns(instance),
        same_ns({POD_ROLE_LABEL: operators.ROLE_POOLER}),
        same_ns({store.client_label: "true"}),
        same_ns(selector_labels(RESTORE_DRILL)),
    ]
    ingress = [
        net.NetworkPolicyIngressRuleArgs(
            from_=[*clients, *([] if c.pooler.enabled else scaler)], ports=_tcp(POSTGRES_PORT)
        ),
        net.NetworkPolicyIngressRuleArgs(from_=[operator], ports=_tcp(STATUS_PORT, POSTGRES_PORT)),
    ]
    if metrics_namespace:
        ingress.append(
            net.NetworkPolicyIngressRuleArgs(
                from_=[
                    net.NetworkPolicyPeerArgs(
                        namespace_selector=meta.LabelSelectorArgs(
                            match_labels={"kubernetes.io/metadata.name": metrics_namespace}
                        )
                    )
                ],
                ports=_tcp(METRICS_PORT),
            )
        )
    net.NetworkPolicy(
        f"{name}-instances",
        metadata=store.meta(f"{name}-instances"),
        spec=net.NetworkPolicySpecArgs(
            pod_selector=meta.LabelSelectorArgs(match_labels=instance),
            policy_types=["Ingress", "Egress"],
            ingress=ingress,
            egress=[
                net.NetworkPolicyEgressRuleArgs(to=[same_ns(instance)], ports=_tcp(POSTGRES_PORT, STATUS_PORT)),
                # The API server (the instance manager watches its Cluster) and the object store: HTTPS
                # to addresses no selector can name.
                net.NetworkPolicyEgressRuleArgs(ports=_tcp(443, 6443)),
            ],
        ),
        opts=opts,
    )
    if c.pooler.enabled:
        pooler = {POD_ROLE_LABEL: operators.ROLE_POOLER}
        net.NetworkPolicy(
            f"{name}-pooler",
            metadata=store.meta(f"{name}-pooler"),
            spec=net.NetworkPolicySpecArgs(
                pod_selector=meta.LabelSelectorArgs(match_labels=pooler),
                policy_types=["Ingress", "Egress"],
                ingress=[
                    net.NetworkPolicyIngressRuleArgs(
                        from_=[same_ns({store.client_label: "true"}), *scaler], ports=_tcp(POSTGRES_PORT)
                    ),
                    net.NetworkPolicyIngressRuleArgs(from_=[operator], ports=_tcp(POSTGRES_PORT, POOLER_METRICS_PORT)),
                    *(
                        [
                            net.NetworkPolicyIngressRuleArgs(
                                from_=[
                                    net.NetworkPolicyPeerArgs(
                                        namespace_selector=meta.LabelSelectorArgs(
                                            match_labels={"kubernetes.io/metadata.name": metrics_namespace}
                                        )
                                    )
                                ],
                                ports=_tcp(POOLER_METRICS_PORT),
                            )
                        ]
                        if metrics_namespace
                        else []
                    ),
                ],
                egress=[
                    net.NetworkPolicyEgressRuleArgs(to=[same_ns(instance)], ports=_tcp(POSTGRES_PORT)),
                    net.NetworkPolicyEgressRuleArgs(ports=_tcp(443, 6443)),  # the API server (its Secrets)
                ],
            ),
            opts=opts,
        )
