"""The paths a stack relies on, read from its rendered objects, and the NetworkPolicy rule that admits each.

A path is a source pod group, a destination pod group and the destination pod's port (a Service's
targetPort resolved against the pods' container ports, as kube-proxy forwards it). The stack relies on:

- every address it hands a container: an env value, a ConfigMap or Secret key (env, envFrom) holding a
  URL or `host:port` whose host is a Service of the render (`name`, `name.ns`, `name.ns.svc[.domain]`)
  or one an operator creates (CloudNativePG's `<cluster>-rw|ro|r` and a Pooler's Service, by their
  documented selectors); a host outside the cluster needs an egress rule to some address on that port;
- the data planes in front of it: the ingress controller to each Ingress backend, the Gateway's data
  plane to each HTTPRoute backendRef (in the Gateway's namespace unless told otherwise), Prometheus to
  each ServiceMonitor endpoint and PodMonitor port, KEDA to each ScaledObject trigger's address, the
  CloudNativePG operator to each instance's status port, the pooler and the standbys to `<cluster>-rw`;
- cluster DNS, from every pod.

Pods outside the stack's namespace (controllers, Prometheus, DNS) are modelled by their namespace and
the labels their upstream install gives them (PEER_LABELS); their own egress is not the stack's to
set, and no rendered policy selects them. `netpol.evaluate` says which rule admits each path.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .base import Example, Resource, stack_rule
from .k8s import (
    CONFIGMAP,
    HTTP_ROUTE,
    INGRESS,
    NAMESPACE,
    NETWORK_POLICY,
    POD_MONITOR,
    SCALED_OBJECT,
    SECRET,
    SERVICE,
    SERVICE_MONITOR,
    TRIGGER_AUTHENTICATION,
    WORKLOADS,
    matches,
)
from .netpol import Endpoint, Policies, Verdict, evaluate, peer_matches, port_matches
from .operators import (
    CNPG_INSTANCE_PORTS,
    CNPG_POOLER_PORTS,
    DNS_PORTS,
    PEERS,
    cnpg_cluster_services,
    cnpg_instance_labels,
    cnpg_pooler_labels,
    cnpg_pooler_service,
)

POD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod")
# Default ports of the URL schemes the platform hands out (IANA; redis and postgres: their own docs).
SCHEME_PORTS = {
    "postgres": 5432,
    "postgresql": 5432,
    "redis": 6379,
    "rediss": 6379,
    "http": 80,
    "https": 443,
    "amqp": 5672,
    "mysql": 3306,
}
# Who runs outside the namespace, and what CloudNativePG makes at run time: the operators' own picture
# (operators.py, a copy of the package's agent_platform/operators.py, with the upstream file and line of
# each rule).
PEER_LABELS = PEERS
DEFAULT_PEERS = {"ingress": "ingress-nginx", "monitoring": "monitoring", "keda": "keda", "cnpg": "cnpg-system"}
DEFAULT_DNS = "kube-system"
HOST_PORT = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?):(\d{1,5})$")


@dataclass(frozen=True)
class Service:
    name: str
    namespace: str
    selector: Mapping[str, str]
    ports: tuple[Mapping[str, Any], ...]
    rendered: bool = True  # False: an operator creates it (CloudNativePG)


@dataclass(frozen=True)
class Path:
    source: Endpoint
    destination: Endpoint
    port: int
    protocol: str
    via: str  # what makes the stack rely on it: `env DATABASE_URL`, `Ingress x`, `ServiceMonitor y`, `DNS`
    service: str = ""  # `Service name:port` the traffic is addressed to, if any


@dataclass(frozen=True)
class Checked:
    path: Path
    verdict: Verdict

    def row(self) -> tuple[str, str, str, str, str]:
        p, v = self.path, self.verdict
        port = f"{p.port}/{p.protocol}"
        admitted = (
            f"egress {v.egress.why()}; ingress {v.ingress.why()}"
            if v.allowed
            else "DENIED: " + "; ".join(s for s in (_denied("egress", v.egress), _denied("ingress", v.ingress)) if s)
        )
        return p.source.name, p.destination.name + (f" ({p.service})" if p.service else ""), port, p.via, admitted

    def failure(self) -> str:
        p, v = self.path, self.verdict
        needs = [_needs("egress", p.source, v.egress), _needs("ingress", p.destination, v.ingress)]
        target = p.service or p.destination.name
        return (
            f"{p.source.name} -> {p.destination.name}:{p.port}/{p.protocol} ({p.via}, to {target}) is admitted by no "
            f"NetworkPolicy rule: it needs {' and '.join(n for n in needs if n)}"
        )


def _needs(direction: str, pod: Endpoint, side) -> str:
    """Which policy would need the rule: the pod's own (selecting it by labels), else a new one."""
    if side.allowed:
        return ""
    if side.own:
        return f"an {direction} rule in NetworkPolicy {' or '.join(side.own)}"
    return (
        f"an {direction} rule in a NetworkPolicy selecting {pod.name} (only {', '.join(side.isolating)}, "
        "namespace-wide, select it)"
    )


def _denied(direction: str, side) -> str:
    return "" if side.allowed else f"{direction}: no rule of {', '.join(side.isolating)}"


@dataclass
class Stack:
    """The rendered objects, read for connectivity."""

    objects: Sequence[Mapping[str, Any]]
    peers: Mapping[str, str] = field(default_factory=dict)  # data plane -> namespace (DEFAULT_PEERS)
    dns_namespace: str = DEFAULT_DNS
    # Egress the stack's config says pods rely on: (pod name label, cidr, except cidrs, port); the render
    # alone cannot tell a relied-on ipBlock from a spare one, so only the preview (which reads the config)
    # passes these.
    external: Sequence[tuple[str, str, Sequence[str], int]] = ()
    dns_address: str = ""  # NodeLocal DNSCache's link-local address, when pods ask it instead of kube-dns

    def __post_init__(self) -> None:
        self.peers = {**DEFAULT_PEERS, **self.peers}
        by_kind: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for o in self.objects:
            by_kind[str(o.get("kind", ""))].append(o)
        self.by_kind = by_kind
        self.namespace_labels = {
            _meta(o).get("name", ""): dict(_meta(o).get("labels") or {}) for o in by_kind["Namespace"]
        }
        self.policies = Policies(by_kind["NetworkPolicy"])
        # Indexes, so each lookup costs what it finds, not a pass over the stack: objects by kind,
        # namespace and name (first wins, as a scan would), pods by namespace and label.
        self._named: dict[tuple[str, str, str], Mapping[str, Any]] = {}
        for o in self.objects:
            self._named.setdefault((str(o.get("kind", "")), _ns(o), _name(o)), o)
        self.pods = self._pods()
        self._pod_index = _EndpointIndex([pod for pod, _ in self.pods])
        self.services = self._services()
        self._monitors: tuple[list[Path], list[str]] | None = None

    # --- what runs -----------------------------------------------------------------------------
    def _endpoint(self, name: str, namespace: str, labels: Mapping[str, str], ports) -> Endpoint:
        return Endpoint(name, namespace, dict(labels), self.namespace_labels.get(namespace, {}), tuple(ports))

    def _pods(self) -> list[tuple[Endpoint, Mapping[str, Any]]]:
        """Each pod group with its pod spec (operator-run pods: an empty spec)."""
        pods = []
        for kind in POD_KINDS:
            for o in self.by_kind[kind]:
                template = _template(o)
                spec = template.get("spec") or {}
                ports = [
                    (p.get("name", ""), int(p["containerPort"]), p.get("protocol") or "TCP")
                    for c in _long_running(spec)
                    for p in c.get("ports") or []
                    if "containerPort" in p
                ]
                labels = (template.get("metadata") or {}).get("labels") or {}
                pods.append((self._endpoint(f"{kind}/{_name(o)}", _ns(o), labels, ports), spec))
        for o in self.by_kind["Cluster"]:
            if not str(o.get("apiVersion", "")).startswith("postgresql.cnpg.io/"):
                continue
            inherited = ((o.get("spec") or {}).get("inheritedMetadata") or {}).get("labels") or {}
            labels = cnpg_instance_labels(_name(o), inherited)
            pods.append((self._endpoint(f"Cluster/{_name(o)}", _ns(o), labels, CNPG_INSTANCE_PORTS), {}))
        for o in self.by_kind["Pooler"]:
            spec = o.get("spec") or {}
            template = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
            labels = cnpg_pooler_labels(_name(o), (spec.get("cluster") or {}).get("name", ""), template)
            pods.append((self._endpoint(f"Pooler/{_name(o)}", _ns(o), labels, CNPG_POOLER_PORTS), {}))
        return pods

    def _services(self) -> dict[tuple[str, str], Service]:
        services = {}
        for o in self.by_kind["Service"]:
            spec = o.get("spec") or {}
            services[(_ns(o), _name(o))] = Service(
                _name(o), _ns(o), dict(spec.get("selector") or {}), tuple(spec.get("ports") or [])
            )
        for o in self.by_kind["Cluster"]:
            if not str(o.get("apiVersion", "")).startswith("postgresql.cnpg.io/"):
                continue
            for name, selector, ports in cnpg_cluster_services(_name(o)):
                services.setdefault((_ns(o), name), Service(name, _ns(o), selector, ports, rendered=False))
        for o in self.by_kind["Pooler"]:
            name, selector, ports = cnpg_pooler_service(_name(o))
            services.setdefault((_ns(o), name), Service(name, _ns(o), selector, ports, rendered=False))
        return services

    def peer(self, role: str, labels: Mapping[str, str] | None = None, namespace: str | None = None) -> Endpoint:
        ns = namespace or (self.dns_namespace if role == "dns" else self.peers[role])
        ports = DNS_PORTS if role == "dns" else ()
        name = {"ingress": "ingress controller", "monitoring": "Prometheus", "keda": "KEDA operator"}.get(role, role)
        name = {"cnpg": "CloudNativePG operator", "dns": "kube-dns"}.get(role, name)
        return self._endpoint(f"{name} ({ns})", ns, labels or PEER_LABELS[role], ports)

    def selected(self, service: Service) -> list[Endpoint]:
        if not service.selector:
            return []
        return self._pod_index.carrying(service.namespace, service.selector)

    def service_port(self, service: Service, port: Any) -> Mapping[str, Any] | None:
        for p in service.ports:
            if port in (p.get("port"), p.get("name")) and port is not None:
                return p
        return None

    @staticmethod
    def target(port: Mapping[str, Any], pod: Endpoint) -> tuple[int, str] | None:
        protocol = port.get("protocol") or "TCP"
        target = port.get("targetPort", port.get("port"))
        if isinstance(target, str) and not target.isdigit():
            number = pod.port_named(target, protocol)
            return None if number is None else (number, protocol)
        return (int(target), protocol) if target is not None else None

    def resolve(self, host: str, namespace: str) -> Service | None:
        """A Service by the DNS names a pod in `namespace` may use for it."""
        parts = host.rstrip(".").split(".")
        name, ns = parts[0], namespace
        if len(parts) >= 2:
            ns = parts[1]
            if len(parts) > 2 and parts[2] != "svc":
                return None
        return self.services.get((ns, name))

    # --- the paths ------------------------------------------------------------------------------
    def to_service(self, source: Endpoint, service: Service, port: Any, via: str) -> Iterable[Path]:
        p = self.service_port(service, port)
        if p is None:
            return
        for pod in self.selected(service):
            resolved = self.target(p, pod)
            if resolved:
                yield Path(source, pod, resolved[0], resolved[1], via, f"Service {service.name}:{p.get('port')}")

    def paths(self) -> list[Path]:
        paths: list[Path] = []
        for pod, spec in self.pods:
            for via, value in self._addresses(pod, spec):
                paths += self._address_paths(pod, value, via)
            resolvers = [self.peer("dns")]
            if self.dns_address:
                resolvers.append(Endpoint(f"NodeLocal DNSCache {self.dns_address}", address=self.dns_address))
            paths += [Path(pod, dns, port, protocol, "DNS") for dns in resolvers for _, port, protocol in DNS_PORTS]
        for name, cidr, excepted, port in self.external:
            address = sample_address(cidr, excepted)
            for pod, _ in self.pods:
                if pod.labels.get("app.kubernetes.io/name") == name and address:
                    paths.append(Path(pod, Endpoint(f"external {cidr}", address=address), port, "TCP", "egress"))
        paths += self._ingress_paths()
        paths += self._route_paths()
        paths += self._monitor_paths()[0]
        paths += self._scaler_paths()
        paths += self._postgres_operator_paths()
        return _unique(paths)

    def _address_paths(self, source: Endpoint, value: str, via: str) -> list[Path]:
        host, port = address_of(value)
        if not host or port is None:
            return []
        service = self.resolve(host, source.namespace)
        if service is not None:
            return list(self.to_service(source, service, port, via))
        if _in_cluster_name(host):
            return []  # a Service the render does not hold (another stack's, a drill's): not checked here
        return [Path(source, Endpoint(f"external {host}", address=_sample_public()), port, "TCP", via)]

    def _addresses(self, pod: Endpoint, spec: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
        for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
            for env in c.get("env") or []:
                value = env.get("value")
                ref = env.get("valueFrom") or {}
                if value is None and ref.get("secretKeyRef"):
                    r = ref["secretKeyRef"]
                    value = self._key("Secret", pod.namespace, r.get("name"), r.get("key"))
                elif value is None and ref.get("configMapKeyRef"):
                    r = ref["configMapKeyRef"]
                    value = self._key("ConfigMap", pod.namespace, r.get("name"), r.get("key"))
                if isinstance(value, str):
                    yield f"env {env.get('name')}", value
            for source in c.get("envFrom") or []:
                for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                    if source.get(key):
                        for k, v in self._data(kind, pod.namespace, source[key].get("name")).items():
                            if isinstance(v, str):
                                yield f"env {source.get('prefix', '')}{k}", v

    def _data(self, kind: str, namespace: str, name: Any) -> dict[str, Any]:
        o = self._named.get((kind, namespace, name)) if isinstance(name, str) else None
        if o is None:
            return {}
        # Unknown during a first preview (a generated password in the URL): no address, no path.
        plain, encoded = o.get("stringData"), o.get("data")
        data = {k: v for k, v in plain.items()} if isinstance(plain, Mapping) else {}
        for k, v in (encoded if isinstance(encoded, Mapping) else {}).items():
            if kind == "Secret" and isinstance(v, str):
                try:
                    v = base64.b64decode(v).decode()
                except ValueError:
                    continue
            data.setdefault(k, v)
        return data

    def _key(self, kind: str, namespace: str, name: Any, key: Any) -> Any:
        return self._data(kind, namespace, name).get(key)

    def _ingress_paths(self) -> list[Path]:
        paths: list[Path] = []
        controller = self.peer("ingress")
        for o in self.by_kind["Ingress"]:
            spec = o.get("spec") or {}
            backends = [spec.get("defaultBackend")] if spec.get("defaultBackend") else []
            backends += [
                p.get("backend") for r in spec.get("rules") or [] for p in (r.get("http") or {}).get("paths") or []
            ]
            for b in backends:
                svc = (b or {}).get("service") or {}
                service = self.services.get((_ns(o), svc.get("name")))
                port = (svc.get("port") or {}).get("number") or (svc.get("port") or {}).get("name")
                if service:
                    paths += self.to_service(controller, service, port, f"Ingress {_name(o)}")
        return paths

    def _route_paths(self) -> list[Path]:
        paths: list[Path] = []
        for o in self.by_kind["HTTPRoute"]:
            spec = o.get("spec") or {}
            for parent in spec.get("parentRefs") or []:
                # The data plane's namespace: told (peers["gateway"]), else the Gateway's own (GEP-1762).
                ns = self.peers.get("gateway") or parent.get("namespace") or _ns(o)
                plane = self._endpoint(
                    f"Gateway {parent.get('name')} data plane ({ns})",
                    ns,
                    {"gateway.networking.k8s.io/gateway-name": parent.get("name", "")},
                    (),
                )
                for rule in spec.get("rules") or []:
                    for ref in rule.get("backendRefs") or []:
                        if ref.get("kind", "Service") != "Service":
                            continue
                        service = self.services.get((ref.get("namespace") or _ns(o), ref.get("name")))
                        if service:
                            paths += self.to_service(plane, service, ref.get("port"), f"HTTPRoute {_name(o)}")
        return paths

    def _monitor_paths(self) -> tuple[list[Path], list[str]]:
        """Prometheus's scrapes, and the warnings: a Service selected without the port, a pod scraped twice."""
        if self._monitors is None:
            self._monitors = self._scrapes()
        return self._monitors

    def _scrapes(self) -> tuple[list[Path], list[str]]:
        paths: list[Path] = []
        warnings: list[str] = []
        prometheus = self.peer("monitoring")
        scrapes: dict[str, list[str]] = defaultdict(list)
        for o in self.by_kind["ServiceMonitor"]:
            spec = o.get("spec") or {}
            for service in self._monitored(o, self.services.values(), lambda s: s.namespace, lambda s: s.selector):
                if not service.rendered:
                    continue
                for e in spec.get("endpoints") or []:
                    port = e.get("port") or e.get("targetPort")
                    found = list(self.to_service(prometheus, service, port, f"ServiceMonitor {_name(o)}"))
                    if self.service_port(service, port) is None:
                        warnings.append(
                            f"ServiceMonitor {_name(o)} selects Service {service.name}, which has no port {port!r}"
                        )
                    for p in found:
                        scrapes[f"{p.destination.name}:{p.port}"].append(f"Service {service.name}")
                    paths += found
        for o in self.by_kind["PodMonitor"]:
            spec = o.get("spec") or {}
            pods = [p for p, _ in self.pods]
            for pod in self._monitored(o, pods, lambda p: p.namespace, None):
                for e in spec.get("podMetricsEndpoints") or []:
                    number = pod.port_named(e.get("port", "")) if e.get("port") else e.get("portNumber")
                    if number:
                        paths.append(Path(prometheus, pod, int(number), "TCP", f"PodMonitor {_name(o)}"))
                        scrapes[f"{pod.name}:{number}"].append(f"PodMonitor {_name(o)}")
        for target, through in sorted(scrapes.items()):
            if len(through) > 1:
                warnings.append(
                    f"{target} is scraped {len(through)} times (through {', '.join(through)}): every series doubled"
                )
        return paths, warnings

    def _monitored(self, monitor, candidates, namespace_of, selector_of):
        spec = monitor.get("spec") or {}
        chooser = spec.get("namespaceSelector") or {}
        names = chooser.get("matchNames")
        selector = spec.get("selector") or {}
        for c in candidates:
            ns = namespace_of(c)
            if not chooser.get("any") and ns not in (names or [_ns(monitor)]):
                continue
            labels = self._service_labels(c) if selector_of else c.labels
            if matches(selector, labels):
                yield c

    def _service_labels(self, service: Service) -> Mapping[str, str]:
        o = self._named.get(("Service", service.namespace, service.name))
        return (_meta(o).get("labels") or {}) if o is not None else {}

    def _scaler_paths(self) -> list[Path]:
        paths: list[Path] = []
        keda = self.peer("keda")
        auths = {(_ns(o), _name(o)): o for o in self.by_kind["TriggerAuthentication"]}
        for o in self.by_kind["ScaledObject"]:
            for t in (o.get("spec") or {}).get("triggers") or []:
                meta = t.get("metadata") or {}
                values = [meta.get("address"), meta.get("connectionString")]
                if meta.get("host"):
                    values.append(f"{meta['host']}:{meta.get('port', SCHEME_PORTS.get(t.get('type', ''), 0))}")
                auth = auths.get((_ns(o), (t.get("authenticationRef") or {}).get("name")))
                for ref in ((auth or {}).get("spec") or {}).get("secretTargetRef") or []:
                    if ref.get("parameter") in ("connection", "connectionString", "address", "host"):
                        values.append(self._key("Secret", _ns(o), ref.get("name"), ref.get("key")))
                for value in values:
                    if isinstance(value, str):
                        paths += self._address_paths(
                            Endpoint(keda.name, keda.namespace, keda.labels, keda.namespace_labels),
                            value,
                            f"ScaledObject {_name(o)} ({t.get('type')})",
                        )
        return paths

    def _postgres_operator_paths(self) -> list[Path]:
        paths: list[Path] = []
        operator = self.peer("cnpg")
        for pod, _ in self.pods:
            cluster = pod.labels.get("cnpg.io/cluster", "")
            role = pod.labels.get("cnpg.io/podRole")
            if role == "instance":
                paths.append(Path(operator, pod, pod.port_named("status") or 8000, "TCP", "CloudNativePG status"))
            primary = self.services.get((pod.namespace, f"{cluster}-rw"))
            if role in ("instance", "pooler") and primary is not None:
                via = "streaming replication" if role == "instance" else "PgBouncer upstream"
                # A standby streams from the primary: another pod of the same group.
                paths += list(self.to_service(pod, primary, 5432, via))
        return paths

    # --- verdicts -------------------------------------------------------------------------------
    def check(self) -> list[Checked]:
        return [Checked(p, evaluate(self.policies, p.source, p.destination, p.port, p.protocol)) for p in self.paths()]

    def candidates(self) -> list[Endpoint]:
        """Every pod that may try: the stack's own and the data planes outside it."""
        outside = [self.peer(role) for role in ("ingress", "monitoring", "keda", "cnpg")]
        planes = {(p.source.name, p.source.namespace): p.source for p in self._route_paths()}  # Gateway data planes
        return [p for p, _ in self.pods] + outside + list(planes.values())

    def unreachable(self) -> list[str]:
        """A rendered Service that selects no pod, or a port of it nobody may reach (by the policies)."""
        warnings = []
        sources = self.candidates()
        index = _EndpointIndex(sources)
        for service in self.services.values():
            if not service.rendered:
                continue
            pods = self.selected(service)
            if not pods:
                warnings.append(f"Service {service.name} selects no pod of the stack")
                continue
            for p in service.ports:
                reached = any(
                    self._reached(pod, *resolved, sources, index) for pod in pods if (resolved := self.target(p, pod))
                )
                if not reached:
                    warnings.append(
                        f"Service {service.name} port {p.get('name') or p.get('port')} ({p.get('port')}): "
                        "no NetworkPolicy admits anyone to its pods on it"
                    )
        return warnings

    def _reached(self, pod: Endpoint, port: int, protocol: str, sources: list[Endpoint], index) -> bool:
        """Whether any source may reach `pod` on the port. Only the sources an ingress rule admitting the
        port names are tried (by the index), so a Service costs its callers, not every pod of the stack."""
        isolating = self.policies.selecting(pod, "Ingress")
        if not isolating:
            tried: Iterable[Endpoint] = sources
        else:
            tried = (
                src
                for policy in isolating
                for rule in (policy.get("spec") or {}).get("ingress") or []
                if port_matches(rule.get("ports"), port, protocol, pod)
                for src in index.named_by(rule.get("from"), _ns(policy))
            )
        return any(src != pod and evaluate(self.policies, src, pod, port, protocol).allowed for src in tried)

    def warnings(self) -> list[str]:
        return self.unreachable() + self._monitor_paths()[1]


class _EndpointIndex:
    """Pod groups by namespace and label: those a Service selects, the candidates a peer could name."""

    def __init__(self, sources: Sequence[Endpoint]) -> None:
        self.all = list(sources)
        self.by_ns: dict[str, list[Endpoint]] = defaultdict(list)
        self.by_label: dict[tuple[str, str, str], list[Endpoint]] = defaultdict(list)
        for s in self.all:
            self.by_ns[s.namespace].append(s)
            for k, v in s.labels.items():
                self.by_label[(s.namespace, k, v)].append(s)

    def carrying(self, namespace: str, labels: Mapping[str, str]) -> list[Endpoint]:
        """The endpoints of `namespace` carrying every pair of `labels`, in index order: the ones with the
        rarest pair, then the whole set checked."""
        fewest = min((self.by_label.get((namespace, k, v), []) for k, v in labels.items()), key=len)
        return [e for e in fewest if all(e.labels.get(k) == v for k, v in labels.items())]

    def named_by(self, peers: Sequence[Mapping[str, Any]] | None, policy_namespace: str) -> Iterable[Endpoint]:
        """The sources some peer of a rule matches (no peers: every source)."""
        if not peers:
            yield from self.all
            return
        for peer in peers:
            if "ipBlock" in peer:
                continue  # the sources are pods, which an ipBlock never names here (netpol.peer_matches)
            if peer.get("namespaceSelector") is None:
                namespaces = [policy_namespace]
            else:
                namespaces = [
                    ns for ns, pods in self.by_ns.items() if matches(peer["namespaceSelector"], pods[0].ns_labels())
                ]
            wanted = ((peer.get("podSelector") or {}).get("matchLabels") or {}).items()
            for ns in namespaces:
                candidates = min(
                    (self.by_label.get((ns, k, v), []) for k, v in wanted), key=len, default=self.by_ns.get(ns, [])
                )
                yield from (s for s in candidates if peer_matches(peer, policy_namespace, s))


def address_of(value: str) -> tuple[str, int | None]:
    """(host, port) of a URL (`scheme://user:pass@host:port/...`, the scheme's port by default) or `host:port`."""
    value = value.strip()
    if "://" in value:
        try:
            parts = urlsplit(value)
            return (parts.hostname or "", parts.port or SCHEME_PORTS.get(parts.scheme.lower()))
        except ValueError:
            return "", None
    m = HOST_PORT.match(value)
    return (m.group(1), int(m.group(3))) if m else ("", None)


def _in_cluster_name(host: str) -> bool:
    parts = host.split(".")
    return len(parts) == 1 or (len(parts) > 2 and parts[2] == "svc")


def _sample_public() -> str:
    # TEST-NET-3 (RFC 5737): an address on the internet side of every private-range exception.
    return str(ipaddress.ip_address("203.0.113.10"))


def sample_address(cidr: str, excepted: Sequence[str] = ()) -> str:
    """An address inside `cidr` and outside every `excepted` block (a public one when it can be)."""
    net = ipaddress.ip_network(cidr, strict=False)
    holes = [ipaddress.ip_network(e, strict=False) for e in excepted]
    candidates = [ipaddress.ip_address(_sample_public())] if net.version == 4 else []
    candidates += [net.network_address + 1 if net.num_addresses > 1 else net.network_address]
    candidates += [h.broadcast_address + 1 for h in holes]
    for ip in candidates:
        if ip in net and not any(ip in h for h in holes):
            return str(ip)
    return ""


def _unique(paths: list[Path]) -> list[Path]:
    seen, out = set(), []
    for p in paths:
        key = (p.source.name, p.destination.name, p.port, p.protocol, p.via)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def _meta(o: Mapping[str, Any]) -> Mapping[str, Any]:
    return o.get("metadata") or {}


def _name(o: Mapping[str, Any]) -> str:
    return _meta(o).get("name", "?")


def _ns(o: Mapping[str, Any]) -> str:
    return _meta(o).get("namespace") or "default"


def _template(o: Mapping[str, Any]) -> Mapping[str, Any]:
    if o.get("kind") == "Pod":
        return {"metadata": o.get("metadata") or {}, "spec": o.get("spec") or {}}
    spec = o.get("spec") or {}
    if o.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return spec.get("template") or {}


def _long_running(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    # Containers and native sidecars (initContainers with restartPolicy Always) serve on their ports.
    return [
        *(spec.get("containers") or []),
        *(c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"),
    ]


# --- for people: the table ---------------------------------------------------------------------------
HEADER = ("from", "to", "port", "because of", "admitted by")


def table_rows(checked: Sequence[Checked]) -> list[tuple[str, str, str, str, str]]:
    """One row per path, the same flow's protocols on one row, and the sources of an identical
    destination, reason and verdict (DNS from every pod) folded into one row."""
    by_flow: dict[tuple, list[str]] = defaultdict(list)
    for c in checked:
        src, dst, port, via, why = c.row()
        by_flow[(src, dst, port.split("/")[0], via, why)].append(port.split("/")[1])
    merged: dict[tuple, list[str]] = defaultdict(list)
    for (src, dst, number, via, why), protocols in by_flow.items():
        merged[(dst, f"{number}/{','.join(sorted(protocols, reverse=True))}", via, why)].append(src)
    rows = []
    for (dst, port, via, why), sources in merged.items():
        source = sources[0] if len(sources) == 1 else f"each of {len(sources)} pod groups"
        rows.append((source, dst, port, via, why))
    return sorted(rows, key=lambda r: (r[0].startswith("each of"), r[3] == "DNS", r[0], r[1], r[2]))


def format_table(rows: Sequence[Sequence[str]], markdown: bool = False) -> list[str]:
    if markdown:
        escape = lambda text: str(text).replace("|", "\\|")  # noqa: E731
        lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        return lines + ["| " + " | ".join(escape(x) for x in r) + " |" for r in rows]
    widths = [max(len(str(r[i])) for r in [HEADER, *rows]) for i in range(len(HEADER) - 1)]
    return [
        "  ".join(f"{str(x):<{w}}" for x, w in zip(r[:-1], widths, strict=True)) + "  " + str(r[-1])
        for r in [HEADER, *rows]
    ]


# --- the pack's rules ---------------------------------------------------------------------------------
def objects_of(resources: Sequence[Resource]) -> list[Mapping[str, Any]]:
    return [r.props for r in resources if r.type.startswith("kubernetes:") and isinstance(r.props.get("kind"), str)]


def _example(admitted: bool) -> list[Resource]:
    """A Deployment whose DATABASE_URL names the postgres Service, under a default deny: shaped as the platform
    renders them (out/prod/kubernetes: NetworkPolicy agent-api, NetworkPolicy redis, Service redis)."""
    from .samples import SELECTOR, deployment, network_policy, statefulset

    db = {"app.kubernetes.io/name": "postgres", "app.kubernetes.io/part-of": "agent-platform"}
    store = statefulset()
    store["metadata"] = {"name": "postgres", "namespace": "agents"}
    store["spec"]["selector"] = {"matchLabels": db}
    store["spec"]["template"]["metadata"]["labels"] = dict(db)
    store["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"name": "postgres", "containerPort": 5432}]
    store["spec"]["template"]["spec"]["containers"][0]["env"] = []
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "postgres", "namespace": "agents"},
        "spec": {
            "clusterIP": "None",
            "selector": db,
            "ports": [{"name": "postgres", "port": 5432, "targetPort": "postgres"}],
        },
    }
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "agents"},
        "stringData": {"DATABASE_URL": "postgresql://agent:pw@postgres.agents.svc.cluster.local:5432/agent"},
    }
    api = network_policy("api", SELECTOR)
    api["spec"]["egress"] = [
        {"to": [{"podSelector": {"matchLabels": db}}], "ports": [{"port": 5432, "protocol": "TCP"}]}
    ]
    pg = network_policy("postgres", db)
    pg["spec"]["ingress"] = (
        [{"from": [{"podSelector": {"matchLabels": SELECTOR}}], "ports": [{"port": 5432, "protocol": "TCP"}]}]
        if admitted
        else []
    )
    deny = network_policy("default-deny")
    dns = network_policy("allow-dns", types=("Egress",))
    dns["spec"]["egress"] = [
        {
            "to": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                }
            ],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        }
    ]
    from .k8s import DEPLOYMENT, SERVICE, STATEFULSET

    return [
        Resource.of(deployment(), DEPLOYMENT),
        Resource.of(store, STATEFULSET),
        Resource.of(service, SERVICE),
        Resource.of(secret, "kubernetes:core/v1:Secret"),
        *(Resource.of(p, NETWORK_POLICY) for p in (api, pg, deny, dns)),
    ]


PEERS_SCHEMA = {
    "peers": {
        "type": "object",
        "description": "Namespace of each data plane outside the stack: ingress, monitoring, keda, cnpg, gateway.",
        "additionalProperties": {"type": "string"},
        "default": {},
    },
    "dnsNamespace": {"type": "string", "default": DEFAULT_DNS},
}


def _stack(resources, config) -> Stack:
    return Stack(objects_of(resources), dict(config.get("peers") or {}), config.get("dnsNamespace") or DEFAULT_DNS)


def _urn(resources: Sequence[Resource], endpoint: Endpoint) -> str:
    kind, _, name = endpoint.name.partition("/")
    return next((r.urn for r in resources if r.props.get("kind") == kind and r.name == name), "")


@stack_rule(
    "connectivity-paths-admitted",
    "Every path the stack relies on (an address a container is given, an Ingress or HTTPRoute backend, a "
    "ServiceMonitor or PodMonitor scrape, a KEDA trigger, the CloudNativePG operator and replication, DNS) is "
    "admitted by a NetworkPolicy rule on both sides (Kubernetes NetworkPolicy semantics).",
    "high",
    "Add the rule the message names (an egress rule on the source's policy, an ingress rule on the destination's), "
    "or point the address at a destination that admits it.",
    Example(_example(True), _example(False)),
    config=PEERS_SCHEMA,
    tags=("network",),
    reads=(
        NETWORK_POLICY,
        SERVICE,
        *WORKLOADS,
        NAMESPACE,
        SECRET,
        CONFIGMAP,
        INGRESS,
        HTTP_ROUTE,
        SERVICE_MONITOR,
        POD_MONITOR,
        SCALED_OBJECT,
        TRIGGER_AUTHENTICATION,
        "kubernetes:postgresql.cnpg.io/v1:Cluster",
        "kubernetes:postgresql.cnpg.io/v1:Pooler",
    ),
)
def connectivity_paths_admitted(resources, config):
    for c in _stack(resources, config).check():
        if not c.verdict.allowed:
            yield c.failure(), _urn(resources, c.path.source)


def _unreachable_example(ports: bool) -> list[Resource]:
    """The postgres Service of `_example`, with its app port admitted (passing) or a port no rule admits
    anyone to, as prod's agent-runner headless Service had (failing)."""
    resources = _example(True)
    if not ports:
        return resources
    service = next(r for r in resources if r.type == SERVICE)
    props = {**service.props, "spec": {**service.props["spec"]}}
    props["spec"]["ports"] = [*props["spec"]["ports"], {"name": "admin", "port": 8080, "targetPort": 8080}]
    return [Resource.of(props, SERVICE) if r is service else r for r in resources]


@stack_rule(
    "service-port-reachable",
    "Every port of every Service selects pods some NetworkPolicy lets someone reach on it (the stack's pods or "
    "the data planes outside it): a Service no one may reach promises what the policies refuse.",
    "medium",
    "Admit the caller that needs the port (allowFrom, the exposure), or drop the port or the Service.",
    Example(_unreachable_example(False), _unreachable_example(True)),
    config=PEERS_SCHEMA,
    tags=("network",),
    reads=(NETWORK_POLICY, SERVICE, *WORKLOADS, NAMESPACE),
)
def service_port_reachable(resources, config):
    stack = _stack(resources, config)
    for message in stack.unreachable():
        name = message.split(" ")[1]
        yield message, next((r.urn for r in resources if r.type == SERVICE and r.name == name), "")
