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
from agent_platform.k8s.peers import from_namespace, namespace_peer, tcp
from agent_platform.labels import selector_labels
from agent_platform.settings.stores import PostgresConfig
from agent_platform.store_runtime import POSTGRES_PORT

core = k8s.core.v1
meta = k8s.meta.v1
net = k8s.networking.v1
rbac = k8s.rbac.v1
batch = k8s.batch.v1


def _same_ns(labels: dict[str, str]) -> net.NetworkPolicyPeerArgs:
    return net.NetworkPolicyPeerArgs(pod_selector=meta.LabelSelectorArgs(match_labels=labels))


def _scrapes(metrics_namespace: str, port: int) -> list[net.NetworkPolicyIngressRuleArgs]:
    """Prometheus, from its namespace, to the exporter's port (none when nothing scrapes)."""
    return [from_namespace(metrics_namespace, port)] if metrics_namespace else []


def instances_spec(
    c: PostgresConfig, client_label: str, scaler: list[net.NetworkPolicyPeerArgs], metrics_namespace: str
) -> net.NetworkPolicySpecArgs:
    """Instances (of every Cluster of the namespace: the restore drill's too) take Postgres from each other,
    the pooler, the clients and the drill (and KEDA without a pooler), status calls from the operator and
    scrapes from Prometheus; they reach each other (streaming replication), the API server and the object
    store."""
    instance = {POD_ROLE_LABEL: operators.ROLE_INSTANCE}
    operator = namespace_peer(c.operator_namespace, operators.PEERS["cnpg"])
    clients = [
        _same_ns(instance),
        _same_ns({POD_ROLE_LABEL: operators.ROLE_POOLER}),
        _same_ns({client_label: "true"}),
        _same_ns(selector_labels(RESTORE_DRILL)),
    ]
    return net.NetworkPolicySpecArgs(
        pod_selector=meta.LabelSelectorArgs(match_labels=instance),
        policy_types=["Ingress", "Egress"],
        ingress=[
            net.NetworkPolicyIngressRuleArgs(
                from_=[*clients, *([] if c.pooler.enabled else scaler)], ports=tcp(POSTGRES_PORT)
            ),
            net.NetworkPolicyIngressRuleArgs(from_=[operator], ports=tcp(STATUS_PORT, POSTGRES_PORT)),
            *_scrapes(metrics_namespace, METRICS_PORT),
        ],
        egress=[
            net.NetworkPolicyEgressRuleArgs(to=[_same_ns(instance)], ports=tcp(POSTGRES_PORT, STATUS_PORT)),
            # The API server (the instance manager watches its Cluster) and the object store: HTTPS
            # to addresses no selector can name.
            net.NetworkPolicyEgressRuleArgs(ports=tcp(443, 6443)),
        ],
    )


def pooler_spec(
    c: PostgresConfig, client_label: str, scaler: list[net.NetworkPolicyPeerArgs], metrics_namespace: str
) -> net.NetworkPolicySpecArgs:
    """PgBouncer takes the clients (and KEDA), the operator and Prometheus; it reaches the instances and
    the API server (its Secrets)."""
    operator = namespace_peer(c.operator_namespace, operators.PEERS["cnpg"])
    return net.NetworkPolicySpecArgs(
        pod_selector=meta.LabelSelectorArgs(match_labels={POD_ROLE_LABEL: operators.ROLE_POOLER}),
        policy_types=["Ingress", "Egress"],
        ingress=[
            net.NetworkPolicyIngressRuleArgs(
                from_=[_same_ns({client_label: "true"}), *scaler], ports=tcp(POSTGRES_PORT)
            ),
            net.NetworkPolicyIngressRuleArgs(from_=[operator], ports=tcp(POSTGRES_PORT, POOLER_METRICS_PORT)),
            *_scrapes(metrics_namespace, POOLER_METRICS_PORT),
        ],
        egress=[
            net.NetworkPolicyEgressRuleArgs(
                to=[_same_ns({POD_ROLE_LABEL: operators.ROLE_INSTANCE})], ports=tcp(POSTGRES_PORT)
            ),
            net.NetworkPolicyEgressRuleArgs(ports=tcp(443, 6443)),  # the API server (its Secrets)
        ],
    )


def network_policies(store: PostgresOwner, name: str, metrics_namespace: str, opts: pulumi.ResourceOptions) -> None:
    """The namespace denies everything by default: the instances' policy, and PgBouncer's when pooled."""
    c = store.config
    # KEDA's operator reads a postgresql trigger at the clients' host: the pooler, else the primary.
    scaler = [namespace_peer(store.scaler_namespace, operators.PEERS["keda"])] if store.scaler_namespace else []
    net.NetworkPolicy(
        f"{name}-instances",
        metadata=store.meta(f"{name}-instances"),
        spec=instances_spec(c, store.client_label, scaler, metrics_namespace),
        opts=opts,
    )
    if c.pooler.enabled:
        net.NetworkPolicy(
            f"{name}-pooler",
            metadata=store.meta(f"{name}-pooler"),
            spec=pooler_spec(c, store.client_label, scaler, metrics_namespace),
            opts=opts,
        )
