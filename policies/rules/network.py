"""Network isolation: default deny, every workload covered, no accidental exposure, TLS at the edge."""

from __future__ import annotations

from .base import Example, Resource, resource_rule, stack_rule
from .k8s import (
    DEPLOYMENT,
    INGRESS,
    NETWORK_POLICY,
    SERVICE,
    WORKLOADS,
    matches,
    name_of,
    namespace_of,
    pod_labels,
    with_change,
)
from .samples import SELECTOR, deployment, network_policy

GOOD = deployment()
SERVICE_GOOD = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "api", "namespace": "agents"},
    "spec": {"type": "ClusterIP", "selector": SELECTOR, "ports": [{"port": 80, "targetPort": "http"}]},
}
INGRESS_GOOD = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "Ingress",
    "metadata": {"name": "api", "namespace": "agents"},
    "spec": {
        "ingressClassName": "nginx",
        "tls": [{"hosts": ["a.example.com"], "secretName": "tls"}],
        "rules": [{"host": "a.example.com"}],
    },
}


@stack_rule(
    "workload-network-policy",
    "Every workload's pods are selected by some NetworkPolicy.",
    "high",
    "Add a NetworkPolicy selecting the pods with the ingress and egress they need.",
    Example(
        [Resource.of(GOOD, DEPLOYMENT), Resource.of(network_policy(selector=SELECTOR), NETWORK_POLICY)],
        [Resource.of(GOOD, DEPLOYMENT)],
    ),
    tags=("network",),
    reads=(NETWORK_POLICY, *WORKLOADS),
)
def workload_network_policy(resources, config):
    policies = [r for r in resources if r.type == NETWORK_POLICY]
    for w in resources:
        if w.type not in WORKLOADS:
            continue
        labels = pod_labels(w.props)
        if not any(
            namespace_of(p.props) == namespace_of(w.props)
            and matches(p.props.get("spec", {}).get("podSelector", {}), labels)
            for p in policies
        ):
            yield f"{w.props.get('kind')} {name_of(w.props)}: no NetworkPolicy selects its pods", w.urn


@stack_rule(
    "namespace-default-deny",
    "Each namespace that runs workloads has a default-deny NetworkPolicy for ingress and egress.",
    "high",
    "Add a NetworkPolicy with podSelector: {} and policyTypes [Ingress, Egress] and no rules; allow flows explicitly.",
    Example(
        [Resource.of(GOOD, DEPLOYMENT), Resource.of(network_policy("deny"), NETWORK_POLICY)],
        [Resource.of(GOOD, DEPLOYMENT), Resource.of(network_policy("deny", types=("Ingress",)), NETWORK_POLICY)],
    ),
    tags=("network",),
    reads=(NETWORK_POLICY,),
)
def namespace_default_deny(resources, config):
    namespaces = {namespace_of(r.props) for r in resources if r.type in WORKLOADS}
    for ns in sorted(namespaces):
        denies = [
            r
            for r in resources
            if r.type == NETWORK_POLICY
            and namespace_of(r.props) == ns
            and not (r.props.get("spec", {}).get("podSelector") or {}).get("matchLabels")
            and not (r.props.get("spec", {}).get("podSelector") or {}).get("matchExpressions")
            and {"Ingress", "Egress"} <= set(r.props.get("spec", {}).get("policyTypes") or [])
            and not r.props.get("spec", {}).get("ingress")
            and not r.props.get("spec", {}).get("egress")
        ]
        if not denies:
            yield f"namespace {ns}: no default-deny NetworkPolicy (ingress and egress)", ""


@resource_rule(
    "no-external-service-types",
    "Services are ClusterIP unless the policy config allows LoadBalancer or NodePort.",
    "high",
    "Expose HTTP through the Ingress; if a LoadBalancer is really needed, list its type in allowedTypes.",
    (SERVICE,),
    Example(SERVICE_GOOD, with_change(SERVICE_GOOD, "spec.type", "LoadBalancer")),
    config={"allowedTypes": {"type": "array", "items": {"type": "string"}, "default": ["ClusterIP"]}},
    tags=("network",),
)
def no_external_service_types(props, config):
    kind = (props.get("spec") or {}).get("type") or "ClusterIP"
    if kind not in config["allowedTypes"] and kind != "ClusterIP":
        yield f"Service type {kind} is not allowed (allowedTypes: {config['allowedTypes']})"


@resource_rule(
    "ingress-tls",
    "Ingresses terminate TLS for every host they serve.",
    "high",
    "Add spec.tls with the hosts and a secretName (cert-manager can issue it).",
    (INGRESS,),
    Example(INGRESS_GOOD, with_change(INGRESS_GOOD, "spec.tls", [])),
    tags=("network",),
)
def ingress_tls(props, config):
    spec = props.get("spec") or {}
    covered = {h for t in spec.get("tls") or [] for h in t.get("hosts") or []}
    for rule in spec.get("rules") or []:
        if rule.get("host") not in covered:
            yield f"host {rule.get('host')!r} is served without TLS"
