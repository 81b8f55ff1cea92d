"""AgentNamespace: the namespace and its guard rails.

Namespace with Pod Security Admission labels, ResourceQuota, LimitRange, a
default deny of all ingress and egress, and the one exception every pod needs:
cluster DNS.
"""

import pulumi
import pulumi_kubernetes as k8s

from agent_platform import operators
from agent_platform.args import AgentNamespaceArgs
from agent_platform.component_args import setting, settings_of
from agent_platform.k8s.pod import Metadata, with_common
from agent_platform.labels import MANAGED_BY, PART_OF
from agent_platform.settings.cluster import LimitRangeConfig, NamespaceConfig, NetworkConfig
from agent_platform.settings.errors import ConfigError

core = k8s.core.v1
meta = k8s.meta.v1
net = k8s.networking.v1


# ResourceQuota spec.hard keys, by the quota setting that sets each.
QUOTA_KEYS = {
    "cpu": "requests.cpu",
    "memory": "requests.memory",
    "limits_cpu": "limits.cpu",
    "limits_memory": "limits.memory",
    "storage": "requests.storage",
    "pods": "pods",
}


class AgentNamespace(pulumi.ComponentResource):
    """The namespace of an agent stack and its guard rails: Pod Security Admission labels, a ResourceQuota
    (no LoadBalancer or NodePort Services), a LimitRange, default-deny NetworkPolicies and the DNS egress."""

    name: pulumi.Output[str]
    """Name of the namespace."""

    def __init__(
        self, resource_name: str, args: AgentNamespaceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agent-platform:k8s:AgentNamespace", resource_name, None, opts)
        where = f"AgentNamespace {resource_name}"
        config = settings_of(NamespaceConfig, args, AgentNamespaceArgs, where)
        network = setting(NetworkConfig, args, "network", where)
        environment = args["environment"]
        quota_hard = self.quota_hard(config, args.get("derived_quota") or {}, where)
        child = pulumi.ResourceOptions(parent=self)
        labels = with_common(
            {
                "app.kubernetes.io/part-of": PART_OF,
                "app.kubernetes.io/managed-by": MANAGED_BY,
                "agent-platform.io/environment": environment,
            },
            args.get("labels"),
        )
        common_annotations = dict(args.get("annotations") or {})
        self.namespace = core.Namespace(
            config.name,
            metadata=meta.ObjectMetaArgs(
                name=config.name,
                annotations=common_annotations or None,
                labels=pod_security_labels(labels, config.pod_security),
            ),
            # Deleting a Namespace deletes every PVC in it: where protected data stores keep theirs,
            # the Namespace is protected and retained as they are.
            opts=pulumi.ResourceOptions.merge(
                child,
                pulumi.ResourceOptions(protect=bool(args.get("protect")), retain_on_delete=bool(args.get("protect"))),
            ),
        )
        # Every other object names the namespace through this output, so it is created first.
        ns = self.namespace.metadata.name
        after_ns = pulumi.ResourceOptions(parent=self, depends_on=[self.namespace])
        metadata = Metadata(ns, labels, common_annotations)

        # Unset amounts come from derived_quota: AgentPlatform derives them from (and checks set
        # ones against) the worst case, so the HPA maximums and a rollout surge always fit.
        self.quota = core.ResourceQuota(
            f"{config.name}-quota",
            metadata=metadata("quota"),
            spec=core.ResourceQuotaSpecArgs(
                hard={
                    **quota_hard,
                    "services.loadbalancers": "0",
                    "services.nodeports": "0",
                }
            ),
            opts=after_ns,
        )
        self.limit_range = core.LimitRange(
            f"{config.name}-limits",
            metadata=metadata("limits"),
            spec=limit_range_spec(config.limit_range),
            opts=after_ns,
        )
        self.default_deny = net.NetworkPolicy(
            f"{config.name}-default-deny",
            metadata=metadata("default-deny"),
            spec=net.NetworkPolicySpecArgs(pod_selector=meta.LabelSelectorArgs(), policy_types=["Ingress", "Egress"]),
            opts=after_ns,
        )
        self.allow_dns = net.NetworkPolicy(
            f"{config.name}-allow-dns",
            metadata=metadata("allow-dns"),
            spec=allow_dns_spec(network),
            opts=after_ns,
        )
        self.name = ns
        self.register_outputs({"name": ns})

    @staticmethod
    def quota_hard(config: NamespaceConfig, derived: dict[str, str], where: str) -> dict[str, str]:
        """spec.hard: each amount as set, else as derived; a quota without an amount would not bound it."""
        hard, missing = {}, []
        for key, hard_key in QUOTA_KEYS.items():
            value = getattr(config.quota, key)
            value = str(value) if value is not None else derived.get(hard_key)
            if value is None:
                missing.append(
                    f"quota.{key}: is required (or derived_quota[{hard_key!r}]); AgentPlatform derives it from its "
                    "workloads"
                )
            hard[hard_key] = value
        if missing:
            raise ConfigError(missing, where)
        return hard


def pod_security_labels(labels: dict[str, str], level: str) -> dict[str, str]:
    """The namespace's labels with Pod Security Admission's: `level` enforced, restricted audited and warned."""
    return {
        **labels,
        "pod-security.kubernetes.io/enforce": level,
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
    }


def limit_range_spec(lr: LimitRangeConfig) -> core.LimitRangeSpecArgs:
    """What a container that sets no resources gets."""
    return core.LimitRangeSpecArgs(
        limits=[
            core.LimitRangeItemArgs(
                type="Container",
                default={"cpu": lr.default_cpu, "memory": lr.default_memory},
                default_request={"cpu": lr.default_request_cpu, "memory": lr.default_request_memory},
            )
        ]
    )


def allow_dns_spec(network: NetworkConfig) -> net.NetworkPolicySpecArgs:
    """Every pod may ask cluster DNS (kube-dns's pods, operators.PEERS), and NodeLocal DNSCache if used."""
    return net.NetworkPolicySpecArgs(
        pod_selector=meta.LabelSelectorArgs(),
        policy_types=["Egress"],
        egress=[
            net.NetworkPolicyEgressRuleArgs(
                to=[
                    net.NetworkPolicyPeerArgs(
                        namespace_selector=meta.LabelSelectorArgs(
                            match_labels={"kubernetes.io/metadata.name": network.dns_namespace}
                        ),
                        pod_selector=meta.LabelSelectorArgs(match_labels=operators.PEERS["dns"]),
                    )
                ],
                ports=[net.NetworkPolicyPortArgs(protocol=p, port=53) for p in ("UDP", "TCP")],
            ),
            *_node_local_dns(network),
        ],
    )


def _node_local_dns(network: NetworkConfig) -> list[net.NetworkPolicyEgressRuleArgs]:
    # NodeLocal DNSCache answers on a link-local address from a host-network pod, which no
    # pod or namespace selector matches: allow DNS to that address, nothing else there.
    if not network.node_local_dns:
        return []
    return [
        net.NetworkPolicyEgressRuleArgs(
            to=[net.NetworkPolicyPeerArgs(ip_block=net.IPBlockArgs(cidr=f"{network.node_local_dns}/32"))],
            ports=[net.NetworkPolicyPortArgs(protocol=p, port=53) for p in ("UDP", "TCP")],
        )
    ]
