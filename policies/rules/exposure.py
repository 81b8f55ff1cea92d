"""Exposure and RBAC: open NetworkPolicies, wildcard Ingress hosts, Service externalIPs, Pod Security
admission labels weaker than restricted, cluster-admin bindings, wildcard Roles."""

from __future__ import annotations

from .base import Example, resource_rule
from .k8s import INGRESS, NAMESPACE, NETWORK_POLICY, SERVICE, with_change
from .samples import namespace, network_policy

ROLES = ("kubernetes:rbac.authorization.k8s.io/v1:Role", "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")
BINDINGS = (
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
)
ROLE = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "Role",
    "metadata": {"name": "reader", "namespace": "agents"},
    "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}],
}
BINDING = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "RoleBinding",
    "metadata": {"name": "reader", "namespace": "agents"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
    "subjects": [{"kind": "ServiceAccount", "name": "api", "namespace": "agents"}],
}
SVC = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "api", "namespace": "agents"},
    "spec": {"type": "ClusterIP", "ports": [{"port": 80, "targetPort": 8000}], "selector": {"app": "api"}},
}
ING = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "Ingress",
    "metadata": {"name": "api", "namespace": "agents"},
    "spec": {"tls": [{"hosts": ["api.example.com"], "secretName": "api-tls"}], "rules": [{"host": "api.example.com"}]},
}
NP = network_policy()
PSA = "pod-security.kubernetes.io/"


@resource_rule(
    "rbac-no-cluster-admin-binding",
    "No RoleBinding or ClusterRoleBinding grants cluster-admin.",
    "critical",
    "Bind a Role with the verbs and resources the subject needs.",
    BINDINGS,
    Example(
        BINDING,
        with_change(
            BINDING,
            "roleRef",
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        ),
    ),
    tags=("rbac",),
)
def no_cluster_admin_binding(props, config):
    if (props.get("roleRef") or {}).get("name") == "cluster-admin":
        yield f"{props.get('kind')} binds cluster-admin"


@resource_rule(
    "rbac-no-wildcards",
    "Roles and ClusterRoles grant no wildcard verbs, resources or API groups.",
    "high",
    "List the verbs and resources explicitly.",
    ROLES,
    Example(ROLE, with_change(ROLE, "rules.0.verbs", ["*"])),
    tags=("rbac",),
)
def no_wildcards(props, config):
    for i, rule in enumerate(props.get("rules") or []):
        for field in ("verbs", "resources", "apiGroups"):
            if "*" in (rule.get(field) or []):
                yield f"rules[{i}].{field} contains '*'"


@resource_rule(
    "service-no-external-ips",
    "Services set no externalIPs (CVE-2020-8554: traffic interception).",
    "high",
    "Remove spec.externalIPs; expose through an Ingress.",
    (SERVICE,),
    Example(SVC, with_change(SVC, "spec.externalIPs", ["203.0.113.10"])),
    tags=("exposure",),
)
def no_external_ips(props, config):
    if (props.get("spec") or {}).get("externalIPs"):
        yield f"spec.externalIPs {props['spec']['externalIPs']}"


@resource_rule(
    "ingress-no-wildcard-host",
    "Ingress rules and TLS entries name exact hosts (no `*` and no empty host).",
    "medium",
    "Set rules[].host (and tls[].hosts) to the service's exact host name.",
    (INGRESS,),
    Example(ING, with_change(ING, "spec.rules.0.host", "*.example.com")),
    tags=("exposure",),
)
def no_wildcard_host(props, config):
    spec = props.get("spec") or {}
    for i, rule in enumerate(spec.get("rules") or []):
        host = rule.get("host") or ""
        if not host or host.startswith("*"):
            yield f"rules[{i}].host {host!r} matches any host"
    for t in spec.get("tls") or []:
        for host in t.get("hosts") or []:
            if host.startswith("*"):
                yield f"tls host {host!r} is a wildcard"


@resource_rule(
    "networkpolicy-not-open",
    "NetworkPolicies admit no ingress from everywhere and allow no egress anywhere on any port.",
    "high",
    "Give each ingress rule `from` peers and each egress rule `to` peers or `ports`.",
    (NETWORK_POLICY,),
    Example(NP, with_change(NP, "spec.ingress", [{}])),
    tags=("exposure",),
)
def networkpolicy_not_open(props, config):
    spec = props.get("spec") or {}
    for i, rule in enumerate(spec.get("ingress") or []):
        peers = rule.get("from") or []
        if not peers or any(p.get("ipBlock", {}).get("cidr") in ("0.0.0.0/0", "::/0") or p == {} for p in peers):
            yield f"ingress[{i}] admits traffic from anywhere"
    for i, rule in enumerate(spec.get("egress") or []):
        if not rule.get("to") and not rule.get("ports"):
            yield f"egress[{i}] allows any destination on any port"


@resource_rule(
    "namespace-pss-restricted",
    "Namespaces enforce the restricted Pod Security level (labels not weaker than restricted).",
    "high",
    "Label the namespace pod-security.kubernetes.io/enforce: restricted (audit and warn too).",
    (NAMESPACE,),
    Example(
        namespace(),
        with_change(namespace(), "metadata.labels", {**namespace()["metadata"]["labels"], PSA + "enforce": "baseline"}),
    ),
    tags=("pod-security", "exposure"),
)
def namespace_pss_restricted(props, config):
    labels = (props.get("metadata") or {}).get("labels") or {}
    if labels.get(PSA + "enforce") != "restricted":
        yield f"{PSA}enforce is {labels.get(PSA + 'enforce')!r}, want 'restricted'"
    for mode in ("audit", "warn"):
        if labels.get(PSA + mode) not in (None, "restricted"):
            yield f"{PSA}{mode} is {labels[PSA + mode]!r}, weaker than restricted"
