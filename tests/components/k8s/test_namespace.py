"""`pulumi destroy` never leaves the Namespace waiting on its own contents.

The engine deletes in reverse dependency order (pulumi/pulumi pkg/resource/deploy: a resource is
deleted only after everything that depends on it), so every object inside the namespace must
depend on the Namespace: it then goes first, and the Namespace is deleted empty, with nothing for
its `kubernetes` finalizer to wait on but what the cluster itself put there."""

from __future__ import annotations

import pytest

from tests.conftest import shipped


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_namespaced_object_depends_on_the_namespace(stack):
    capture = shipped(stack)
    [namespace] = [r for r in capture.declared() if r.inputs.get("kind") == "Namespace"]
    namespaced = [
        r for r in capture.declared() if r.type.startswith("kubernetes:") and r.inputs.get("kind") != "Namespace"
    ]
    assert len(namespaced) > 20
    missing = [f"{r.inputs.get('kind')}/{r.name}" for r in namespaced if namespace.urn not in r.dependencies]
    assert missing == []


def test_data_is_retained_not_deadlocked(stack="prod"):
    """Data-bearing objects are protected and retained on delete (their PVCs: whenDeleted Retain),
    so a destroy neither drops data nor waits on it: docs/operations.md "Deleting a stack"."""
    capture = shipped(stack)
    for r in capture.declared():
        if r.inputs.get("kind") == "StatefulSet" and r.name in ("postgres", "redis"):
            assert r.protect and r.retain_on_delete
            assert r.inputs["spec"]["persistentVolumeClaimRetentionPolicy"] == {
                "whenDeleted": "Retain",
                "whenScaled": "Retain",
            }
