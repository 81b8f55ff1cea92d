"""What the engine holds as a resource's *outputs* in each phase: what AnalyzeStack receives.

Resource policies (Analyze) see a resource's inputs; stack policies (AnalyzeStack) see
each resource's outputs (pulumi pkg/resource/deploy/step_executor / deployment_executor:
the stack analysis runs over the new states, whose Outputs are what the provider returned).
Shapes, per provider:

- pulumi-kubernetes (provider/pkg/provider/provider.go `Create`/`Update` then
  `checkpointObject`): the object as the API server returns it, plus the inputs under
  `__inputs` (a plain object, `resource.NewObjectProperty`; only Secret data is marked
  secret), `__initialApiVersion` and `__fieldManager`. Live objects carry API-server defaults and bookkeeping:
  `metadata.uid/resourceVersion/generation/creationTimestamp/managedFields`, `status`,
  `spec.replicas` on a Deployment or StatefulSet that did not set it (defaulted to 1 by
  the apps/v1 defaulting, then written by an HPA), and a Secret holds `data` (base64),
  never `stringData` (the API server folds stringData into data). In a preview of a
  create only the inputs are known: `status` is unknown.
- pulumi-random RandomPassword: `result` and `bcryptHash` (unknown in a preview; secret).
- pulumi-docker RemoteImage: `imageId`/`repoDigest` (unknown in a preview); a one-shot
  Container (attach, not mustRun): `exitCode` (unknown in a preview).
Values here are the document's redacted forms: secrets `[secret]`, unknowns `[unknown]`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from preview.engine import REDACTED, UNKNOWN, is_one_shot

INPUTS_KEY = "__inputs"
SCALED_KINDS = ("Deployment", "StatefulSet")


def _uid(urn: str) -> str:
    h = hashlib.sha256(urn.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


def kubernetes_outputs(urn: str, inputs: dict[str, Any], phase: str) -> dict[str, Any]:
    # Copied only where changed: the rest (and `__inputs`) shares the inputs' objects, so callers
    # treat outputs as read-only. A deep copy of every object was a third of a 100-service pack run.
    obj = dict(inputs)
    obj[INPUTS_KEY] = inputs
    obj["__initialApiVersion"] = inputs.get("apiVersion", "")
    obj["__fieldManager"] = "pulumi-kubernetes"
    if phase == "preview":
        obj["status"] = UNKNOWN
        return obj
    meta = obj["metadata"] = dict(obj.get("metadata") or {})
    meta.update(
        uid=_uid(urn),
        resourceVersion="1",
        generation=1,
        creationTimestamp="2026-01-01T00:00:00Z",
        managedFields=[{"manager": "pulumi-kubernetes", "operation": "Apply", "apiVersion": obj.get("apiVersion", "")}],
    )
    kind = obj.get("kind")
    if kind in SCALED_KINDS and isinstance(obj.get("spec"), dict):
        spec = obj["spec"] = dict(obj["spec"])
        spec.setdefault("replicas", 1)
        replicas = spec["replicas"]
        obj["status"] = {"replicas": replicas, "readyReplicas": replicas, "observedGeneration": 1}
    elif kind == "Secret":
        data = dict(obj.pop("stringData", None) or {})
        data.update(obj.get("data") or {})
        obj["data"] = {k: REDACTED for k in sorted(data)}  # base64 of a secret: still a secret
    elif kind not in ("ConfigMap", "Namespace", "ServiceAccount"):
        obj.setdefault("status", {})
    return obj


def outputs_for(resource: dict[str, Any], phase: str) -> dict[str, Any]:
    """The outputs of one resources-document entry in `phase`."""
    type_, inputs = resource["type"], resource["inputs"]
    if type_.startswith("kubernetes:") and not type_.startswith("pulumi:providers:"):
        return kubernetes_outputs(resource["urn"], inputs, phase)
    outputs = dict(inputs)  # read-only beyond the keys set here, as above
    if type_ == "random:index/randomPassword:RandomPassword":
        value = UNKNOWN if phase == "preview" else REDACTED
        outputs.update(result=value, bcryptHash=value)
    elif type_ == "docker:index/remoteImage:RemoteImage":
        # repoDigest is `repo@sha256:...`: the pinned digest when the reference has one. The
        # image id (the pulled image's config digest) cannot be known offline: a stand-in.
        name = str(inputs.get("name", ""))
        repo, _, pinned = name.partition("@")
        repo = repo.rsplit(":", 1)[0] if ":" in repo.rsplit("/", 1)[-1] else repo
        stand_in = "sha256:" + hashlib.sha256(name.encode()).hexdigest()
        outputs.update(
            imageId=UNKNOWN if phase == "preview" else stand_in,
            repoDigest=UNKNOWN if phase == "preview" else f"{repo}@{pinned or stand_in}",
        )
    elif type_ == "docker:index/container:Container" and is_one_shot(inputs):
        outputs["exitCode"] = UNKNOWN if phase == "preview" else 0  # as the program's mocks (preview/engine.py)
    return outputs
