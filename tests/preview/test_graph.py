"""The Mermaid graph of the shipped stacks: configuration folded into workloads, traffic and egress exceptions shown."""

from __future__ import annotations

import pytest

from preview.graph import FOLDED_KINDS, mermaid, traffic_edges
from preview.render import manifests
from tests.conftest import shipped


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_config_objects_are_folded_and_egress_exceptions_visible(stack):
    capture = shipped(stack)
    edges = traffic_edges(manifests(capture))
    diagram = mermaid(capture, edges)
    node_lines = [line for line in diagram.splitlines() if line.startswith("    ")]
    assert not [line for line in node_lines if any(f'["{kind}/' in line for kind in FOLDED_KINDS)]
    assert any("Deployment/" in line and "+ " in line and "ConfigMap" in line for line in node_lines)
    egress = [e for e in edges if e[1].startswith("external ")]
    assert egress
    assert any("0.0.0.0/0" in dst and "except 10.0.0.0/8" in label for _, dst, label in egress)
    # Traffic to the data stores is drawn.
    assert any("postgres" in dst.lower() and "5432" in label for _, dst, label in edges)
