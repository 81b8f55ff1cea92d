"""AgentNamespace: the namespace and its guard rails.

Namespace with Pod Security Admission labels, ResourceQuota, LimitRange, a
default deny of all ingress and egress, and the one exception every pod needs:
cluster DNS.
"""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from components.config import NamespaceConfig, NetworkConfig
from components.k8s.pod import object_meta
from components.labels import PART_OF, MANAGED_BY

core = k8s.core.v1
meta = k8s.meta.v1
net = k8s.networking.v1


class AgentNamespace(pulumi.ComponentResource):
    name: pulumi.Output[str]

    def __init__(self, resource_name: str, config: NamespaceConfig, network: NetworkConfig, environment: str,
                 quota_hard: dict[str, str], opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("agent-platform:k8s:AgentNamespace", resource_name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = {
            "app.kubernetes.io/part-of": PART_OF,
            "app.kubernetes.io/managed-by": MANAGED_BY,
            "agent-platform.io/environment": environment,
        }
        level = config.pod_security
        self.namespace = core.Namespace(
            config.name,
            metadata=meta.ObjectMetaArgs(name=config.name, labels={
                **labels,
                "pod-security.kubernetes.io/enforce": level,
                "pod-security.kubernetes.io/enforce-version": "latest",
                "pod-security.kubernetes.io/audit": "restricted",
                "pod-security.kubernetes.io/warn": "restricted",
            }),
            opts=child,
        )
        # Every other object names the namespace through this output, so it is created first.
        ns = self.namespace.metadata.name
        after_ns = pulumi.ResourceOptions(parent=self, depends_on=[self.namespace])

        # quota_hard: StackConfig.quota_hard(), derived from (or validated against) the worst
        # case, so the HPA maximums and a rollout surge always fit.
        self.quota = core.ResourceQuota(
            f"{config.name}-quota",
            metadata=object_meta("quota", ns, labels),
            spec=core.ResourceQuotaSpecArgs(hard={
                **quota_hard, "services.loadbalancers": "0", "services.nodeports": "0",
            }),
            opts=after_ns,
        )
        lr = config.limit_range
        self.limit_range = core.LimitRange(
            f"{config.name}-limits",
            metadata=object_meta("limits", ns, labels),
            spec=core.LimitRangeSpecArgs(limits=[core.LimitRangeItemArgs(
                type="Container",
                default={"cpu": lr.default_cpu, "memory": lr.default_memory},
                default_request={"cpu": lr.default_request_cpu, "memory": lr.default_request_memory},
            )]),
            opts=after_ns,
        )
        self.default_deny = net.NetworkPolicy(
            f"{config.name}-default-deny",
            metadata=object_meta("default-deny", ns, labels),
            spec=net.NetworkPolicySpecArgs(pod_selector=meta.LabelSelectorArgs(), policy_types=["Ingress", "Egress"]),
            opts=after_ns,
        )
        self.allow_dns = net.NetworkPolicy(
            f"{config.name}-allow-dns",
            metadata=object_meta("allow-dns", ns, labels),
            spec=net.NetworkPolicySpecArgs(
                pod_selector=meta.LabelSelectorArgs(),
                policy_types=["Egress"],
                egress=[net.NetworkPolicyEgressRuleArgs(
                    to=[net.NetworkPolicyPeerArgs(
                        namespace_selector=meta.LabelSelectorArgs(match_labels={"kubernetes.io/metadata.name": network.dns_namespace}),
                        pod_selector=meta.LabelSelectorArgs(match_labels={"k8s-app": "kube-dns"}),
                    )],
                    ports=[net.NetworkPolicyPortArgs(protocol=p, port=53) for p in ("UDP", "TCP")],
                )],
            ),
            opts=after_ns,
        )
        self.name = ns
        self.register_outputs({"name": ns})
