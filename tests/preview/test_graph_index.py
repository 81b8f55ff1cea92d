"""The traffic graph finds a selector's workload through an index, with the answer a scan would give."""

from __future__ import annotations

from preview.graph import WORKLOAD_KINDS, Workloads, _pod_labels
from preview.render import manifests
from tests.conftest import shipped


def scan(kube, match):
    """The workload the graph found before it was indexed: the first in render order that matches."""
    for m in kube:
        if m.kind in WORKLOAD_KINDS:
            labels = _pod_labels(m)
            if match and all(labels.get(k) == v for k, v in match.items()):
                return f"{m.kind}/{m.name}"
    return None


def test_every_selector_of_the_shipped_renders_finds_what_a_scan_finds(stack):
    kube = manifests(shipped(stack))
    index = Workloads(kube)
    selectors = [{}, {"app": "nothing-has-this"}]
    for m in kube:
        spec = m.obj.get("spec") or {}
        selectors.append(spec.get("selector") if m.kind == "Service" else None)
        selectors.append((spec.get("podSelector") or {}).get("matchLabels") if m.kind == "NetworkPolicy" else None)
        for rule in spec.get("egress") or [] if m.kind == "NetworkPolicy" else []:
            selectors += [(peer.get("podSelector") or {}).get("matchLabels") for peer in rule.get("to") or []]
    selectors = [s for s in selectors if isinstance(s, dict)]
    assert len(selectors) > 10
    found = [index.of(s) for s in selectors]
    assert found == [scan(kube, s) for s in selectors]
    assert any(found)
