"""Custom resources are validated against their CRDs' schemas (kubernetes-models' generated validators)."""

from __future__ import annotations

from preview import crds
from preview.validate import validate_object

SCALED = {
    "apiVersion": "keda.sh/v1alpha1",
    "kind": "ScaledObject",
    "metadata": {"name": "api", "namespace": "agents"},
    "spec": {
        "scaleTargetRef": {"name": "api"},
        "minReplicaCount": 3,
        "maxReplicaCount": 10,
        "triggers": [{"type": "postgresql", "metadata": {"query": "SELECT 1", "targetQueryValue": "20"}}],
    },
}


def test_a_valid_custom_resource_passes():
    assert validate_object("f.yaml", SCALED, ["1.29", "1.37"]) == []


def test_a_wrong_type_and_a_missing_field_are_findings():
    bad = {**SCALED, "spec": {**SCALED["spec"], "minReplicaCount": "three"}}
    [finding] = validate_object("f.yaml", bad, ["1.29"])
    assert (finding.path, finding.message) == ("spec.minReplicaCount", "must be integer")
    missing = {**SCALED, "spec": {k: v for k, v in SCALED["spec"].items() if k != "scaleTargetRef"}}
    assert [f.message for f in validate_object("f.yaml", missing, ["1.29"])] == [
        "must have required property scaleTargetRef"
    ]


def test_gateway_api_patterns_are_enforced():
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "r"},
        "spec": {"parentRefs": [{"name": "g"}], "rules": [{"timeouts": {"request": "3600 seconds"}}]},
    }
    [finding] = validate_object("f.yaml", route, ["1.37"])
    assert finding.path == "spec.rules.0.timeouts.request" and "must match pattern" in finding.message


def test_an_unknown_kind_of_a_known_group_is_not_a_silent_pass():
    unknown = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledWidget", "metadata": {"name": "x"}}
    assert crds.validate(unknown) == [("apiVersion", "no CRD schema for keda.sh/v1alpha1 ScaledWidget")]


def test_missing_validators_are_reported(monkeypatch, tmp_path):
    monkeypatch.setattr(crds, "HERE", tmp_path)
    assert crds.validate(SCALED)[0][1].startswith("cannot validate custom resources")
