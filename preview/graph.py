"""The stack as a picture: components and their objects, and who talks to whom on which port.

Traffic edges come from what the stack declares, not from a hand-drawn list:
NetworkPolicy rules and Ingress backends on Kubernetes, networks and the proxy's
upstreams on Docker.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

from agent_platform import operators

from preview.engine import Capture, CapturedResource
from preview.render import Manifest


def _id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def _pod_labels(m: Manifest) -> dict[str, str]:
    """The labels of a workload's pods; for CloudNativePG's, as the operator sets them (operators.py)."""
    spec = m.obj.get("spec") or {}
    if m.kind == "Pooler":
        template = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        return operators.cnpg_pooler_labels(m.name, (spec.get("cluster") or {}).get("name", ""), template)
    if m.kind == "Cluster":
        return operators.cnpg_instance_labels(m.name, (spec.get("inheritedMetadata") or {}).get("labels") or {})
    return ((spec.get("template") or {}).get("metadata") or {}).get("labels", {})


WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Pooler", "Cluster")


class Workloads:
    """The workloads of a render by their pods' labels: a selector finds its workload in the few that
    carry one of its labels, not by trying every manifest (which made the edges quadratic in services)."""

    def __init__(self, manifests: list[Manifest]) -> None:
        self.labels: list[tuple[dict[str, str], str]] = []
        self.by_label: dict[tuple[str, str], list[int]] = defaultdict(list)
        for m in manifests:
            if m.kind in WORKLOAD_KINDS:
                labels = _pod_labels(m)
                for pair in labels.items():
                    self.by_label[pair].append(len(self.labels))
                self.labels.append((labels, f"{m.kind}/{m.name}"))

    def of(self, match: dict[str, str]) -> str | None:
        """The first workload, in render order, whose pods carry every label of `match`."""
        if not match:
            return None
        candidates = min((self.by_label.get(pair, []) for pair in match.items()), key=len)
        for index in candidates:
            labels, name = self.labels[index]
            if all(labels.get(k) == v for k, v in match.items()):
                return name
        return None


def traffic_edges(manifests: list[Manifest]) -> list[tuple[str, str, str]]:
    """(from, to, port label) for every allowed flow."""
    edges: set[tuple[str, str, str]] = set()
    services = {m.name: m for m in manifests if m.kind == "Service"}
    workloads = Workloads(manifests)
    for m in manifests:
        if m.kind == "Ingress":
            for rule in m.obj["spec"].get("rules", []):
                for p in rule.get("http", {}).get("paths", []):
                    svc = p["backend"]["service"]["name"]
                    edges.add((f"Ingress/{m.name}", f"Service/{svc}", f"{rule.get('host', '*')}{p['path']}"))
                    target = services.get(svc)
                    if target:
                        workload = workloads.of(target.obj["spec"].get("selector", {}))
                        if workload:
                            edges.add((f"Service/{svc}", workload, "http"))
        if m.kind != "NetworkPolicy":
            continue
        spec = m.obj["spec"]
        selected = spec.get("podSelector", {}).get("matchLabels", {})
        source = workloads.of(selected) if selected else "all pods"
        if source is None:
            continue
        for rule in spec.get("egress", []):
            ports = ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in rule.get("ports", [])) or "any"
            for peer in rule.get("to", []):
                if "ipBlock" in peer:
                    # The exceptions are part of the flow: `443/TCP except 10.0.0.0/8,...`.
                    target = f"external {peer['ipBlock']['cidr']}"
                    excepted = peer["ipBlock"].get("except")
                    if excepted:
                        edges.add((source, target, f"{ports} except {','.join(excepted)}"))
                        continue
                elif "podSelector" in peer and "namespaceSelector" not in peer:
                    target = workloads.of(peer["podSelector"].get("matchLabels", {})) or "pods"
                else:
                    ns = (
                        peer.get("namespaceSelector", {})
                        .get("matchLabels", {})
                        .get("kubernetes.io/metadata.name", "other namespace")
                    )
                    target = f"namespace {ns}"
                edges.add((source, target, ports))
        for rule in spec.get("ingress", []):
            ports = ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in rule.get("ports", [])) or "any"
            for peer in rule.get("from", []):
                if "namespaceSelector" in peer:
                    ns = (
                        peer["namespaceSelector"]
                        .get("matchLabels", {})
                        .get("kubernetes.io/metadata.name", "other namespace")
                    )
                    edges.add((f"namespace {ns}", source, ports))
    return sorted(edges)


def node_label(r: CapturedResource) -> str:
    """`Kind/name`, the Kubernetes name where there is one, as the traffic edges name objects."""
    metadata = r.inputs.get("metadata")
    return f"{r.kind}/{metadata.get('name', r.name) if isinstance(metadata, dict) else r.name}"


def compose_edges(doc: dict) -> list[tuple[str, str, str]]:
    """Docker: published ports into containers, each container to what it depends on by shared network,
    and each one-shot to what starts once it has completed."""
    edges: set[tuple[str, str, str]] = set()
    services = doc.get("services", {})
    for name, svc in services.items():
        for p in svc.get("ports", []):
            edges.add((f"host {p['host_ip']}:{p['published']}", f"Container/{name}", f"{p['target']}/{p['protocol']}"))
        for dep, condition in svc.get("depends_on", {}).items():
            if (
                condition.get("condition") == "service_completed_successfully"
            ):  # a one-shot (migration): order, not traffic
                edges.add((f"Container/{dep}", f"Container/{name}", "completes before"))
                continue
            shared = sorted(set(svc.get("networks", {})) & set(services.get(dep, {}).get("networks", {})))
            port = services.get(dep, {}).get("environment", {}).get("PORT")
            edges.add(
                (f"Container/{name}", f"Container/{dep}", (f"{port}/tcp via " if port else "via ") + ",".join(shared))
            )
    return sorted(edges)


# Objects that configure a workload rather than carry traffic: drawn inside their
# component's workload node, not as nodes of their own.
FOLDED_KINDS = (
    "ConfigMap",
    "Secret",
    "ServiceAccount",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "NetworkPolicy",
)


def mermaid(capture: Capture, edges: list[tuple[str, str, str]]) -> str:
    groups: dict[str, list[str]] = defaultdict(list)
    folded: dict[str, list[str]] = defaultdict(list)
    for r in capture.declared():
        parent = capture.parent_of(r)
        group = f"{parent.type.split(':')[-1]} {parent.name}" if parent else "stack"
        if r.kind in FOLDED_KINDS:
            folded[group].append(r.kind)
        else:
            groups[group].append(node_label(r))
    for group, kinds in folded.items():
        workloads = [n for n in groups[group] if n.split("/")[0] in ("Deployment", "StatefulSet", "Container")]
        if not workloads:
            groups[group].append(f"config: {', '.join(sorted(set(kinds)))}")
    labels = {
        node: f"{node}<br/>+ {', '.join(sorted(set(folded[group])))}"
        if folded.get(group) and node.split("/")[0] in ("Deployment", "StatefulSet")
        else node
        for group, nodes in groups.items()
        for node in nodes
    }
    lines = ["flowchart LR"]
    for group in sorted(groups):
        lines.append(f'  subgraph {_id(group)}["{group}"]')
        lines += [f'    {_id(node)}["{labels[node]}"]' for node in sorted(groups[group])]
        lines.append("  end")
    known = {node for nodes in groups.values() for node in nodes}
    for src, dst, label in edges:
        for node in (src, dst):
            if node not in known:
                lines.append(f'  {_id(node)}(["{node}"])')
                known.add(node)
        lines.append(f'  {_id(src)} -->|"{label}"| {_id(dst)}')
    return "\n".join(lines) + "\n"


def graph_markdown(title: str, diagram: str) -> str:
    return f"# {title}\n\n```mermaid\n{diagram}```\n"


def write_svg(diagram_edges: list[tuple[str, str, str]], path: Path) -> bool:
    """An SVG of the traffic graph when Graphviz's `dot` is installed; skipped (False) otherwise."""
    dot = shutil.which("dot")
    if not dot:
        return False
    body = ["digraph stack {", "  rankdir=LR;", "  node [shape=box, fontname=Helvetica];"]
    body += [f'  "{s}" -> "{d}" [label="{label}"];' for s, d, label in diagram_edges]
    body.append("}")
    result = subprocess.run([dot, "-Tsvg", "-o", str(path)], input="\n".join(body), text=True, capture_output=True)
    return result.returncode == 0
