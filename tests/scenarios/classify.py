"""Classify what `pulumi up` would do to each resource between two captures of the program.

A stand-in for the preview's classifier (being written on the `diff` branch) so the
scenario suite proves its property today. The rules are data, taken from upstream:

- pulumi-kubernetes provider/pkg/provider/diff.go (`forceNewProperties`, `forceNew`):
  `.metadata.name` / `.metadata.namespace` always replace; per kind the paths below;
  a Secret's `.stringData`/`.data` and a ConfigMap's `.data`/`.binaryData` replace
  only when enableSecretMutable / enableConfigMapMutable are off (read from the
  captured Provider's inputs, as the provider reads its own config).
- pulumi/pulumi pkg/resource/deploy/step_generator.go: ignoreChanges paths are reset to
  the old values before Diff; a replace or delete of a `protect`ed resource fails the
  update ("resource ... cannot be deleted because it is protected").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from preview.engine import Capture, CapturedResource

METADATA = ("metadata.name", "metadata.namespace")
_SELECTOR = ("spec.selector",)
REPLACE_ONLY = {
    ("apps/v1", "StatefulSet"): ("spec.podManagementPolicy", "spec.revisionHistoryLimit", "spec.serviceName",
                                 "spec.volumeClaimTemplates") + _SELECTOR,
    ("apps/v1", "Deployment"): _SELECTOR,
    ("v1", "Service"): ("spec.clusterIP",),
    ("v1", "PersistentVolumeClaim"): ("spec.accessModes", "spec.selector", "spec.storageClassName", "spec.volumeName"),
    ("v1", "ResourceQuota"): ("spec.scopes",),
    ("v1", "Secret"): ("type",),
}
MUTABLE_FLAG = {("v1", "Secret"): ("enableSecretMutable", ("type", "stringData", "data")),
                ("v1", "ConfigMap"): ("enableConfigMapMutable", ("data", "binaryData"))}
STATEFUL_KINDS = {"StatefulSet", "PersistentVolumeClaim", "RandomPassword"}


@dataclass
class Change:
    op: str                     # create | update | replace | delete
    type: str
    name: str
    paths: list[str] = field(default_factory=list)
    replace_because: list[str] = field(default_factory=list)
    protected: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.type.split(":")[-1], self.name)


def diff_paths(old: Any, new: Any, path: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new)):
            sub = f"{path}.{k}" if path else k
            out += diff_paths(old.get(k), new.get(k), sub) if k in old and k in new else [sub]
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [p for i, (a, b) in enumerate(zip(old, new)) for p in diff_paths(a, b, f"{path}[{i}]")]
    return [] if old == new else [path]


def _matches(pattern: str, path: str) -> bool:
    """An ignoreChanges pattern (`a.b[*].c`) covers path and everything under it."""
    regex = re.escape(pattern).replace(r"\[\*\]", r"\[\d+\]")
    return re.match(rf"^{regex}($|[.\[])", path) is not None


def _touches(rule: str, path: str) -> bool:
    return path == rule or path.startswith(rule + ".") or path.startswith(rule + "[") or rule.startswith(path + ".")


def _provider_flags(capture: Capture) -> dict[str, bool]:
    for r in capture.resources:
        if r.type == "pulumi:providers:kubernetes":
            return {k: v in (True, "true") for k, v in r.inputs.items() if k.startswith("enable")}
    return {}


def classify(before: Capture, after: Capture, ignores: dict[tuple[str, str], list[str]]) -> list[Change]:
    """Changes from `before` to `after` (raw inputs compared, so secret rotations count; never printed)."""
    old = {(r.type, r.name): r for r in before.declared()}
    new = {(r.type, r.name): r for r in after.declared()}
    flags = _provider_flags(after)
    changes = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        # Named as in the cluster (metadata.name) where the resource is a Kubernetes object.
        name = ((b or a).inputs.get("metadata") or {}).get("name") or key[1]
        if a is None:
            changes.append(Change("create", key[0], name))
            continue
        if b is None:
            changes.append(Change("delete", key[0], name, protected=a.protect))
            continue
        paths = [p for p in diff_paths(a.raw_inputs, b.raw_inputs)
                 if not any(_matches(i, p) for i in ignores.get(key, []))]
        if not paths:
            continue
        rules = list(METADATA) + list(_replace_rules(b, flags))
        because = sorted({p for p in paths for r in rules if _touches(r, p)})
        changes.append(Change("replace" if because else "update", key[0], name, paths, because, b.protect))
    return changes


def _replace_rules(r: CapturedResource, flags: dict[str, bool]) -> tuple[str, ...]:
    gvk = (r.inputs.get("apiVersion"), r.inputs.get("kind"))
    rules = REPLACE_ONLY.get(gvk, ())
    if gvk in MUTABLE_FLAG:
        flag, paths = MUTABLE_FLAG[gvk]
        if not flags.get(flag):
            rules = tuple(rules) + paths
    return tuple(rules)
