"""The capture engine in the engine's two phases, and the policy run over both.

preview: a first `pulumi preview` — what providers compute is unknown, and so is all that
derives from it; up: everything known, and stack policies see live-shaped outputs
(preview/provider_outputs.py names the upstream source of each shape).
"""

from __future__ import annotations

import functools

import pytest

from preview.capture import capture_stack
from preview.engine import REDACTED, UNKNOWN, Capture, _leaves
from preview.policy import run_policy_pack
from preview.provider_outputs import INPUTS_KEY, outputs_for
from preview.render import resources_document
from tests.conftest import ROOT, capture_with, shipped


@functools.cache
def previewed(stack: str) -> Capture:
    return capture_stack(ROOT, stack, phase="preview")[1]


def _find(capture: Capture, type_suffix: str, name: str):
    return next(r for r in capture.resources if r.type.endswith(type_suffix) and r.name == name)


def test_preview_phase_leaves_provider_computed_values_and_what_derives_from_them_unknown():
    preview, up = previewed("prod"), shipped("prod")
    assert preview.phase == "preview" and up.phase == "up"
    secret = _find(preview, ":Secret", "postgres-connection")
    # The connection URL embeds RandomPassword.result: unknown on a first preview.
    # (The SDK sends an object holding an unknown as one unknown: the whole stringData.)
    assert secret.inputs["stringData"] == UNKNOWN
    annotations = _find(preview, ":Deployment", "agent-api").inputs["spec"]["template"]["metadata"]["annotations"]
    assert UNKNOWN in annotations.values(), "a checksum over the connection Secret's inputs derives from the password"
    # The same objects at up: everything resolved (secrets redacted, never unknown).
    assert _find(up, ":Secret", "postgres-connection").inputs["stringData"] == REDACTED
    assert UNKNOWN not in _leaves(resources_document(up))


def test_up_phase_outputs_are_live_objects_with_the_inputs_kept_aside():
    doc = resources_document(shipped("prod"))
    deployment = next(r for r in doc["resources"] if r["type"].endswith(":Deployment"))
    assert "replicas" not in deployment["inputs"]["spec"]  # the HPA owns it
    live = outputs_for(deployment, "up")
    assert live["spec"]["replicas"] == 1 and live["status"]["replicas"] == 1 and live["metadata"]["uid"]
    assert "replicas" not in live[INPUTS_KEY]["spec"]
    secret = next(r for r in doc["resources"] if r["type"].endswith(":Secret") and r["name"] == "postgres-connection")
    live_secret = outputs_for(secret, "up")
    assert "stringData" not in live_secret and set(live_secret["data"]) == set(secret["inputs"]["stringData"])
    assert outputs_for(deployment, "preview")["status"] == UNKNOWN


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_shipped_stacks_pass_both_phases_without_preview_skips(tmp_path, stack):
    report = run_policy_pack(ROOT, shipped(stack), tmp_path, preview_capture=previewed(stack))
    assert report.phases == ["preview", "up"]
    assert not report.mandatory_failed
    assert not [v for v in report.violations if "can't run policy" in v.message], report.table_lines()


def test_a_planted_violation_beside_unknowns_is_mandatory_in_the_preview_phase(tmp_path):
    def privileged(cfg):
        cfg["agent-platform:services"][0]["securityContext"] = {"readOnlyRootFilesystem": False}

    up = capture_with(tmp_path, "prod", privileged)
    config = tmp_path / "Pulumi.prod.yaml"
    preview = capture_stack(ROOT, "prod", config, phase="preview")[1]
    report = run_policy_pack(ROOT, up, tmp_path / "out", preview_capture=preview)
    found = [
        v for v in report.violations if v.policy == "read-only-root-filesystem" and v.resource == "Deployment/agent-api"
    ]
    assert found and found[0].level == "mandatory" and found[0].phases == ["preview", "up"]


def test_provider_bookkeeping_keys_and_image_digests_have_the_providers_shapes():
    # pulumi-kubernetes provider.go checkpointObject: __inputs as a plain object, plus
    # __initialApiVersion and __fieldManager.
    ns = {
        "type": "kubernetes:core/v1:Namespace",
        "urn": "urn:ns",
        "inputs": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "agents"}},
    }
    live = outputs_for(ns, "up")
    assert live[INPUTS_KEY] == ns["inputs"] and live["__initialApiVersion"] == "v1" and live["__fieldManager"]
    image = {
        "type": "docker:index/remoteImage:RemoteImage",
        "urn": "urn:img",
        "inputs": {"name": "redis:7.4.1-alpine@sha256:" + "c" * 64},
    }
    assert outputs_for(image, "up")["repoDigest"] == "redis@sha256:" + "c" * 64
    assert outputs_for(image, "preview")["repoDigest"] == UNKNOWN
