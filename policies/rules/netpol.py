"""Kubernetes NetworkPolicy semantics, as a pure function of the policies and two endpoints.

Read from the API reference (kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/)
and the types (k8s.io/api networking/v1 types.go), with the concept page
(kubernetes.io/docs/concepts/services-networking/network-policies/):

- A pod is isolated for ingress (egress) when any NetworkPolicy in its namespace selects it
  (spec.podSelector; `{}` selects every pod) and has Ingress (Egress) in spec.policyTypes. Unset
  policyTypes means Ingress, plus Egress when the policy has egress rules.
- A connection is allowed when the source's egress side and the destination's ingress side both
  allow it: a non-isolated side allows everything, an isolated side allows it when ANY rule of ANY
  policy selecting the pod admits it. Policies are additive; there is no deny rule.
- A rule admits when one of its peers matches (no `from`/`to`: every peer) and one of its ports
  matches (no `ports`: every port).
- A peer: `ipBlock` (cidr minus `except`), or a podSelector and/or namespaceSelector. Both in one
  peer are ANDed (pods matching podSelector in namespaces matching namespaceSelector); only
  podSelector means the policy's own namespace; only namespaceSelector means every pod there.
- A port: protocol (default TCP), `port` a number or a named port (resolved against the container
  ports of the destination pod, on both sides), `endPort` the end of a numeric range; no `port`
  means every port of the protocol.
- A pod can always reach itself, and the node's kubelet its probes: neither is a path checked here.

Endpoints outside the cluster (an address in an ipBlock) are pods of no namespace; pods are never
matched by ipBlock here (the reference leaves pod IPs in ipBlocks to the implementation).
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .k8s import matches

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set on every namespace by the API server (1.21+)


@dataclass(frozen=True)
class Endpoint:
    """One side of a connection: a group of pods (same labels and ports), or an address outside the cluster."""

    name: str
    namespace: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    namespace_labels: Mapping[str, str] = field(default_factory=dict)
    # (name, containerPort, protocol) of every container port, for named ports and Service targetPorts.
    ports: tuple[tuple[str, int, str], ...] = ()
    address: str = ""  # an IP: an endpoint outside the cluster

    @property
    def external(self) -> bool:
        return bool(self.address)

    def ns_labels(self) -> Mapping[str, str]:
        return {NAMESPACE_NAME_LABEL: self.namespace, **self.namespace_labels}

    def port_named(self, name: str, protocol: str = "TCP") -> int | None:
        return next((n for pname, n, proto in self.ports if pname == name and proto == protocol), None)


@dataclass(frozen=True)
class Side:
    """What one side (egress of the source, ingress of the destination) says about a connection."""

    allowed: bool
    policy: str = ""  # the policy whose rule admits it ("" when the pod is not isolated on this side)
    rule: int = -1
    isolating: tuple[str, ...] = ()  # the policies that isolate the pod on this side
    own: tuple[str, ...] = ()  # those of them that select it by labels (not every pod of the namespace)

    def why(self) -> str:
        if not self.allowed:
            return "no rule of " + ", ".join(self.isolating)
        return f"{self.policy}[{self.rule}]" if self.policy else "not isolated"


@dataclass(frozen=True)
class Verdict:
    egress: Side
    ingress: Side

    @property
    def allowed(self) -> bool:
        return self.egress.allowed and self.ingress.allowed


def policy_types(spec: Mapping[str, Any]) -> list[str]:
    types = spec.get("policyTypes")
    if types:
        return list(types)
    return ["Ingress", *(["Egress"] if spec.get("egress") else [])]


def _name(policy: Mapping[str, Any]) -> str:
    return (policy.get("metadata") or {}).get("name", "?")


def _namespace(policy: Mapping[str, Any]) -> str:
    return (policy.get("metadata") or {}).get("namespace") or "default"


class Work:
    """Selector evaluations done so far: a deterministic unit of work, which a test reads at two stack
    sizes to show the analysis stays linear (no timing)."""

    selectors = 0


def _matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    Work.selectors += 1
    return matches(selector, labels)


class Policies:
    """The policies by namespace, direction and one label pair of their pod selector, and the ones
    isolating each distinct pod (namespace and labels) worked out once: finding them costs the policies
    that could select the pod (those keyed by one of its labels, and those selecting by expressions or
    every pod), and a path the rules of the policies selecting its two pods, never a pass over every
    policy of the stack."""

    def __init__(self, policies: Sequence[Mapping[str, Any]]) -> None:
        self.all = list(policies)
        self._keyed: dict[tuple[str, str, str, str], list[tuple[int, Mapping[str, Any]]]] = defaultdict(list)
        self._open: dict[tuple[str, str], list[tuple[int, Mapping[str, Any]]]] = defaultdict(list)
        for i, p in enumerate(self.all):
            selector = (p.get("spec") or {}).get("podSelector") or {}
            pairs = list((selector.get("matchLabels") or {}).items())
            for direction in policy_types(p.get("spec") or {}):
                if pairs:
                    k, v = pairs[0]  # a pod it selects carries this pair: look it up by it
                    self._keyed[(_namespace(p), direction, k, str(v))].append((i, p))
                else:
                    self._open[(_namespace(p), direction)].append((i, p))
        self._isolating: dict[tuple, list[Mapping[str, Any]]] = {}

    def selecting(self, pod: Endpoint, direction: str) -> list[Mapping[str, Any]]:
        if pod.external:
            return []
        key = (pod.namespace, frozenset(pod.labels.items()), direction)
        found = self._isolating.get(key)
        if found is None:
            candidates = [*self._open.get((pod.namespace, direction), ())]
            for k, v in pod.labels.items():
                candidates += self._keyed.get((pod.namespace, direction, k, v), ())
            found = self._isolating[key] = [
                p
                for _, p in sorted(candidates, key=lambda c: c[0])  # in the stack's order, as a scan finds them
                if _matches((p.get("spec") or {}).get("podSelector") or {}, pod.labels)
            ]
        return found


def indexed(policies: Sequence[Mapping[str, Any]] | Policies) -> Policies:
    return policies if isinstance(policies, Policies) else Policies(policies)


def selecting(
    policies: Sequence[Mapping[str, Any]] | Policies, pod: Endpoint, direction: str
) -> list[Mapping[str, Any]]:
    """The policies that isolate `pod` for `direction` (Ingress or Egress)."""
    return indexed(policies).selecting(pod, direction)


def in_block(address: str, block: Mapping[str, Any]) -> bool:
    ip = ipaddress.ip_address(address)
    cidr = ipaddress.ip_network(block.get("cidr", ""), strict=False)
    if ip.version != cidr.version or ip not in cidr:
        return False
    return not any(
        ip in net
        for net in (ipaddress.ip_network(e, strict=False) for e in block.get("except") or [])
        if net.version == ip.version
    )


def peer_matches(peer: Mapping[str, Any], policy_namespace: str, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        return other.external and in_block(other.address, peer["ipBlock"])
    if other.external:
        return False
    namespaces = peer.get("namespaceSelector")
    pods = peer.get("podSelector")
    if namespaces is None and pods is None:
        return False  # an empty peer: the API server refuses it
    in_namespace = (
        other.namespace == policy_namespace if namespaces is None else _matches(namespaces, other.ns_labels())
    )
    return in_namespace and (pods is None or _matches(pods, other.labels))


def port_matches(ports: Sequence[Mapping[str, Any]] | None, port: int, protocol: str, destination: Endpoint) -> bool:
    if not ports:
        return True
    for p in ports:
        if (p.get("protocol") or "TCP") != protocol:
            continue
        value = p.get("port")
        if value is None:
            return True
        if isinstance(value, str) and not value.isdigit():
            if destination.port_named(value, protocol) == port:
                return True
            continue
        start = int(value)
        end = p.get("endPort")
        if (start <= port <= int(end)) if end is not None else port == start:
            return True
    return False


def side(
    policies: Sequence[Mapping[str, Any]] | Policies,
    subject: Endpoint,
    peer: Endpoint,
    destination: Endpoint,
    port: int,
    protocol: str,
    direction: str,
) -> Side:
    isolating = selecting(policies, subject, direction)
    if not isolating:
        return Side(True)
    field_, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for p in isolating:
        for i, rule in enumerate((p.get("spec") or {}).get(field_) or []):
            peers = rule.get(peers_key)
            if (not peers or any(peer_matches(x, _namespace(p), peer) for x in peers)) and port_matches(
                rule.get("ports"), port, protocol, destination
            ):
                return Side(True, _name(p), i)
    own = tuple(_name(p) for p in isolating if _selects_by_labels(p))
    return Side(False, isolating=tuple(_name(p) for p in isolating), own=own)


def _selects_by_labels(policy: Mapping[str, Any]) -> bool:
    selector = (policy.get("spec") or {}).get("podSelector") or {}
    return bool(selector.get("matchLabels") or selector.get("matchExpressions"))


def evaluate(
    policies: Sequence[Mapping[str, Any]] | Policies,
    source: Endpoint,
    destination: Endpoint,
    port: int,
    protocol: str = "TCP",
) -> Verdict:
    """Whether `source` may open a connection to `destination` on `port`/`protocol` (the pod's port, after
    a Service's translation), and which rule admits it on each side."""
    policies = indexed(policies)
    return Verdict(
        side(policies, source, destination, destination, port, protocol, "Egress"),
        side(policies, destination, source, destination, port, protocol, "Ingress"),
    )
