"""Gateway API exposure: how an HTTPRoute attaches to its Gateway, and what it may reference.

Sources: the Gateway API reference (gateway-api.sigs.k8s.io/reference/spec/, HTTPRouteSpec hostnames,
ParentReference sectionName, BackendRef namespace) and its ReferenceGrant page
(gateway-api.sigs.k8s.io/api-types/referencegrant/, GEP-709): every cross-namespace reference but a
Route's attachment to a Gateway (governed by the listener's allowedRoutes) needs a ReferenceGrant in
the referenced namespace, and implementations must refuse one without.
"""

from __future__ import annotations

from .base import Example, Resource, resource_rule, stack_rule
from .k8s import HTTP_ROUTE, REFERENCE_GRANTS, name_of, namespace_of, with_change
from .operations import ROUTE

GATEWAY_GROUP = "gateway.networking.k8s.io"


@resource_rule(
    "httproute-attachment",
    "An HTTPRoute attaches to one named listener of a Gateway (parentRefs[].sectionName) and serves exact "
    "hostnames: without sectionName it attaches to every listener the Gateway has, plain HTTP included, and "
    "without hostnames (or with a wildcard) it answers any host the listener accepts (Gateway API spec: "
    "ParentReference.sectionName, HTTPRouteSpec.hostnames).",
    "high",
    "Set gateway.sectionName to the Gateway's HTTPS listener and ingress.host to the service's exact host.",
    (HTTP_ROUTE,),
    Example(ROUTE, with_change(ROUTE, "spec.parentRefs.0.sectionName", None)),
    tags=("exposure",),
)
def httproute_attachment(props, config):
    spec = props.get("spec") or {}
    parents = spec.get("parentRefs") or []
    if not parents:
        yield "no parentRefs: the route attaches to no Gateway"
    for i, ref in enumerate(parents):
        if ref.get("kind", "Gateway") == "Gateway" and not ref.get("sectionName"):
            yield f"parentRefs[{i}] ({ref.get('name')}): no sectionName, so it attaches to every listener"
    hostnames = spec.get("hostnames") or []
    if not hostnames:
        yield "no hostnames: the route answers every host its listeners accept"
    for host in hostnames:
        if str(host).startswith("*"):
            yield f"hostname {host!r} is a wildcard"


def _grant(from_ns: str = "agents", to_ns: str = "shared") -> Resource:
    return Resource.of(
        {
            "apiVersion": "gateway.networking.k8s.io/v1beta1",
            "kind": "ReferenceGrant",
            "metadata": {"name": "from-agents", "namespace": to_ns},
            "spec": {
                "from": [{"group": GATEWAY_GROUP, "kind": "HTTPRoute", "namespace": from_ns}],
                "to": [{"group": "", "kind": "Service"}],
            },
        },
        REFERENCE_GRANTS[1],
    )


CROSS = with_change(ROUTE, "spec.rules.0.backendRefs.1.namespace", "shared")


def _granted(grants: list[Resource], from_ns: str, to_ns: str, kind: str, name: str) -> bool:
    for g in grants:
        if namespace_of(g.props) != to_ns:
            continue
        spec = g.props.get("spec") or {}
        if not any(
            f.get("namespace") == from_ns and f.get("kind") == "HTTPRoute" and f.get("group") == GATEWAY_GROUP
            for f in spec.get("from") or []
        ):
            continue
        if any(t.get("kind") == kind and t.get("name") in (None, "", name) for t in spec.get("to") or []):
            return True
    return False


@stack_rule(
    "httproute-cross-namespace-backends-granted",
    "An HTTPRoute's backendRefs into another namespace are allowed there by a ReferenceGrant in the stack "
    "(Gateway API ReferenceGrant, GEP-709: without one the reference is invalid and the backend gets no "
    "traffic; with one, the other namespace's owner agreed to it).",
    "high",
    "Keep backends in the route's namespace, or declare a ReferenceGrant in the backend's namespace from "
    "HTTPRoute in the route's namespace to the Service.",
    Example(
        [Resource.of(CROSS, HTTP_ROUTE), _grant()],
        [Resource.of(CROSS, HTTP_ROUTE)],
    ),
    tags=("exposure",),
    reads=(HTTP_ROUTE, *REFERENCE_GRANTS),
)
def httproute_cross_namespace_backends_granted(resources, config):
    grants = [r for r in resources if r.type in REFERENCE_GRANTS]
    for route in resources:
        if route.type != HTTP_ROUTE:
            continue
        ns = namespace_of(route.props)
        for i, rule in enumerate((route.props.get("spec") or {}).get("rules") or []):
            for ref in rule.get("backendRefs") or []:
                target = ref.get("namespace")
                kind = ref.get("kind", "Service")
                if target and target != ns and not _granted(grants, ns, target, kind, ref.get("name")):
                    yield (
                        f"HTTPRoute {name_of(route.props)} rules[{i}]: backend {kind} {target}/{ref.get('name')} "
                        f"has no ReferenceGrant in {target} allowing it",
                        route.urn,
                    )
