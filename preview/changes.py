"""What `pulumi up` would do to each resource between two renders: create / update / replace / delete.

Both sides are lists of `Resource` records, built from a render's resources.json (the CLI's
`--against` / `--base`) or from a live Capture (the scenario suite, which also has the raw,
unredacted inputs so secret rotations count; those are compared, never printed).

The replace rules are data, taken from upstream:
- pulumi-kubernetes provider/pkg/provider/diff.go (`forceNewProperties`, `forceNew`):
  `.metadata.name` / `.metadata.namespace` always replace; per kind the paths below; a Secret's
  `.stringData`/`.data` and a ConfigMap's `.data`/`.binaryData` replace only when the provider's
  enableSecretMutable / enableConfigMapMutable are off (read from the Provider's inputs).
- pulumi-docker is terraform-bridged (provider/resources.go maps docker_container, docker_volume,
  docker_network; its `upstream` submodule is kreuzwerker/terraform-provider-docker v4.5.0,
  5074970c). The fields below are the top-level `ForceNew: true` ones of that commit's
  internal/provider/resource_docker_{container,volume,network}.go, under the input names of
  pulumi-docker's schema.json (`env` -> `envs`, `ulimit` -> `ulimits`, ...). Everything else
  is an in-place update (`restart`, `memory`, `healthcheck`, `tmpfs`, `init`, ...).
- pulumi/pulumi pkg/resource/deploy/step_generator.go: ignoreChanges paths are reset to the old
  values before Diff; a replace or delete of a `protect`ed resource fails the update.
- With a fixed metadata.name the provider cannot create the new object first (same name), so
  pulumi-kubernetes marks the replace deleteBeforeReplace (diff.go: `DeleteBeforeReplace` when
  `.metadata.name` is set and unchanged): the object is absent in between.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

K8S_DIFF = "pulumi-kubernetes provider/pkg/provider/diff.go"
TF_DOCKER = "terraform-provider-docker v4.5.0 internal/provider/resource_docker_{}.go (ForceNew), via pulumi-docker"

METADATA = ("metadata.name", "metadata.namespace")
_SELECTOR = ("spec.selector",)
REPLACE_ONLY: dict[tuple[str, str], tuple[str, ...]] = {
    ("apps/v1", "StatefulSet"): (
        "spec.podManagementPolicy",
        "spec.revisionHistoryLimit",
        "spec.serviceName",
        "spec.volumeClaimTemplates",
    )
    + _SELECTOR,
    ("apps/v1", "Deployment"): _SELECTOR,
    ("v1", "Service"): ("spec.clusterIP",),
    ("v1", "PersistentVolumeClaim"): ("spec.accessModes", "spec.selector", "spec.storageClassName", "spec.volumeName"),
    ("v1", "ResourceQuota"): ("spec.scopes",),
    ("v1", "Secret"): ("type",),
}
MUTABLE_FLAG = {
    ("v1", "Secret"): ("enableSecretMutable", ("type", "stringData", "data")),
    ("v1", "ConfigMap"): ("enableConfigMapMutable", ("data", "binaryData")),
}

# pulumi-docker input names (camelCase, as registered) that are ForceNew upstream.
DOCKER_FORCE_NEW: dict[str, tuple[str, ...]] = {
    "docker:index/container:Container": (
        "capabilities",
        "cgroupParent",
        "cgroupnsMode",
        "command",
        "cpus",
        "deviceRequests",
        "devices",
        "dns",
        "dnsOpts",
        "dnsSearches",
        "domainname",
        "entrypoints",
        "envs",
        "gpus",
        "groupAdds",
        "hostname",
        "hosts",
        "image",
        "ipcMode",
        "labels",
        "logDriver",
        "logOpts",
        "mounts",
        "name",
        "networkMode",
        "networksAdvanced",
        "pidMode",
        "platform",
        "ports",
        "privileged",
        "publishAllPorts",
        "readOnly",
        "runtime",
        "securityOpts",
        "shmSize",
        "stdinOpen",
        "stopSignal",
        "stopTimeout",
        "storageOpts",
        "sysctls",
        "tty",
        "ulimits",
        "uploads",
        "user",
        "usernsMode",
        "volumes",
        "workingDir",
    ),
    "docker:index/volume:Volume": ("driver", "driverOpts", "labels", "name"),
    "docker:index/network:Network": (
        "attachable",
        "driver",
        "ingress",
        "internal",
        "ipamConfigs",
        "ipamDriver",
        "ipamOptions",
        "labels",
        "name",
        "options",
    ),
}
DATA_KINDS = {"PersistentVolumeClaim", "Volume", "RandomPassword"}

# Labels whose value is the environment: a promotion diff folds changes only to these.
ENVIRONMENT_PATHS = (
    re.compile(r"(^|\.)labels\.(agent-platform\.io/environment|app\.kubernetes\.io/instance)$"),
    re.compile(r"(^|\.)matchLabels\.(agent-platform\.io/environment|app\.kubernetes\.io/instance)$"),
    re.compile(r"(^|\.)metadata\.namespace$"),
    re.compile(r"(^|\.)namespace$"),
)


@dataclass
class Resource:
    urn: str
    type: str
    name: str
    protect: bool
    inputs: dict[str, Any]
    ignore_changes: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.inputs.get("kind") or self.type.split(":")[-1]

    @property
    def object_name(self) -> str:
        """As in the cluster (metadata.name) for a Kubernetes object, else the resource name."""
        return (self.inputs.get("metadata") or {}).get("name") or self.inputs.get("name") or self.name

    @property
    def holds_data(self) -> bool:
        if self.kind == "StatefulSet":
            return bool((self.inputs.get("spec") or {}).get("volumeClaimTemplates"))
        return self.kind in DATA_KINDS


@dataclass
class Change:
    op: str  # create | update | replace | delete
    type: str
    name: str
    urn: str = ""
    paths: list[str] = field(default_factory=list)
    replace_because: list[str] = field(default_factory=list)  # changed paths that force the replace
    sources: list[str] = field(default_factory=list)  # "path: upstream rule"
    protected: bool = False
    holds_data: bool = False
    fixed_name: bool = False
    environment_only: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.type.split(":")[-1], self.name)

    @property
    def kind(self) -> str:
        return self.key[0]

    @property
    def blocked(self) -> bool:
        return self.protected and self.op in ("replace", "delete")


def resources_from_document(doc: dict[str, Any] | None) -> list[Resource]:
    """Custom resources of a render's resources.json (preview/render.py resources_document)."""
    return [
        Resource(r["urn"], r["type"], r["name"], r["protect"], r["inputs"], r.get("ignoreChanges", []))
        for r in (doc or {}).get("resources", [])
        if r.get("custom")
    ]


def resources_from_capture(capture) -> list[Resource]:
    """Declared resources of a Capture, raw inputs (so secret rotations count)."""
    out = []
    providers = [r for r in capture.resources if r.type.startswith("pulumi:providers:")]
    for r in providers + [r for r in capture.declared() if r not in providers]:
        out.append(Resource(r.urn, r.type, r.name, r.protect, r.raw_inputs, list(r.ignore_changes)))
    return out


def diff_paths(old: Any, new: Any, path: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new)):
            sub = f"{path}.{k}" if path else k
            out += diff_paths(old.get(k), new.get(k), sub) if k in old and k in new else [sub]
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [p for i, (a, b) in enumerate(zip(old, new, strict=True)) for p in diff_paths(a, b, f"{path}[{i}]")]
    return [] if old == new else [path]


def _matches(pattern: str, path: str) -> bool:
    """An ignoreChanges pattern (`a.b[*].c`) covers path and everything under it."""
    regex = re.escape(pattern).replace(r"\[\*\]", r"\[\d+\]")
    return re.match(rf"^{regex}($|[.\[])", path) is not None


def _touches(rule: str, path: str) -> bool:
    return path == rule or path.startswith(rule + ".") or path.startswith(rule + "[") or rule.startswith(path + ".")


def _provider_flags(resources: list[Resource]) -> dict[str, bool]:
    for r in resources:
        if r.type == "pulumi:providers:kubernetes":
            return {k: v in (True, "true") for k, v in r.inputs.items() if k.startswith("enable")}
    return {}


def _replace_rules(r: Resource, flags: dict[str, bool]) -> list[tuple[str, str]]:
    """(path, source) pairs whose change forces a replace of r."""
    if r.type in DOCKER_FORCE_NEW:
        src = TF_DOCKER.format(r.type.rsplit(":", 1)[-1].lower())
        return [(p, src) for p in DOCKER_FORCE_NEW[r.type]]
    if not r.type.startswith("kubernetes:"):
        return []
    gvk = (r.inputs.get("apiVersion"), r.inputs.get("kind"))
    rules = [(p, f"{K8S_DIFF} forceNewProperties") for p in METADATA + REPLACE_ONLY.get(gvk, ())]
    if gvk in MUTABLE_FLAG:
        flag, paths = MUTABLE_FLAG[gvk]
        if not flags.get(flag):
            rules += [(p, f"{K8S_DIFF}: immutable unless provider {flag}") for p in paths]
    return rules


def _environment(path: str) -> bool:
    return any(rx.search(path) for rx in ENVIRONMENT_PATHS)


def _pairing(resources: list[Resource], promotion: bool):
    """What pairs a resource with its counterpart on the other side: its type and logical name. In a
    promotion the two stacks' namespaces differ, and logical names that embed the namespace
    (`agents-dev-quota`, `agents-prod-quota`) would read as a create and a delete of one object:
    there the namespace in a name stands for "the stack's namespace"."""
    spaces = sorted({r.object_name for r in resources if r.kind == "Namespace"}, key=len, reverse=True)

    def key(r: Resource) -> tuple[str, str]:
        name = r.name
        if promotion:
            for space in spaces:
                name = re.sub(rf"(^|-){re.escape(space)}($|-)", r"\1<namespace>\2", name)
        return (r.type, name)

    return key


def classify(before: list[Resource], after: list[Resource], promotion: bool = False) -> list[Change]:
    """promotion: two different stacks; their environment labels and namespace are expected to
    differ, so those paths neither count as changes nor force a replace (folded into a count)."""
    old_key, new_key = _pairing(before, promotion), _pairing(after, promotion)
    old = {old_key(r): r for r in before}
    new = {new_key(r): r for r in after}
    flags = _provider_flags(after)
    changes = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        r = b or a
        base = dict(type=key[0], name=r.object_name, urn=r.urn, holds_data=r.holds_data)
        if a is None:
            changes.append(Change("create", **base))
            continue
        if b is None:
            changes.append(Change("delete", protected=a.protect, **base))
            continue
        paths = [p for p in diff_paths(a.inputs, b.inputs) if not any(_matches(i, p) for i in b.ignore_changes)]
        if not paths:
            continue
        # The stack's own Namespace is named for its environment: its name is one of the expected differences.
        own_name = a.kind == "Namespace"
        if promotion and all(_environment(p) or (own_name and p == "metadata.name") for p in paths):
            changes.append(Change("update", paths=paths, environment_only=True, **base))
            continue
        if promotion:
            paths = [p for p in paths if not (_environment(p) or (own_name and p == "metadata.name"))]
        cited = {p: src for p in paths for rule, src in _replace_rules(b, flags) if _touches(rule, p)}
        because = sorted(cited)
        op = "replace" if because else "update"
        fixed = (
            op == "replace" and b.type.startswith("kubernetes:") and bool((b.inputs.get("metadata") or {}).get("name"))
        )
        changes.append(
            Change(
                op,
                paths=paths,
                replace_because=because,
                sources=sorted({f"{src}" for src in cited.values()}),
                protected=b.protect,
                fixed_name=fixed,
                **base,
            )
        )
    return changes


def classify_captures(before, after) -> list[Change]:
    return classify(resources_from_capture(before), resources_from_capture(after))


def classify_documents(before: str | None, after: str | None, promotion: bool = False) -> list[Change]:
    """From two resources.json texts (a side that did not exist is empty); the after side's
    ignoreChanges apply (the engine resets those paths to the old values before Diff)."""
    return classify(
        resources_from_document(json.loads(before) if before else None),
        resources_from_document(json.loads(after) if after else None),
        promotion,
    )


def _notes(c: Change) -> list[str]:
    notes = []
    if c.blocked:
        notes.append(
            f"**BLOCKED: protected** — run `pulumi state unprotect '{c.urn}'` (or set the stack's "
            "protection off in config and `pulumi up` first), then retry"
        )
    if c.op in ("replace", "delete") and c.holds_data:
        notes.append("**HOLDS DATA: the data is lost unless retained/backed up**")
    if c.fixed_name:
        notes.append("fixed name: delete-then-create (object absent in between)")
    return notes


def why(c: Change) -> str:
    cause = (
        [f"{', '.join(f'`{p}`' for p in c.replace_because)} replace-only ({'; '.join(c.sources)})"]
        if c.replace_because
        else []
    )
    return "; ".join(cause + _notes(c))


def folded(changes: list[Change]) -> tuple[list[Change], int]:
    """Updates touching only environment labels/namespace (promotion diffs) fold into a count."""
    kept = [c for c in changes if not (c.op == "update" and c.environment_only)]
    return kept, len(changes) - len(kept)


def blocked_messages(changes: list[Change]) -> list[str]:
    return [
        f"{c.op} of protected {c.kind}/{c.name} ({c.urn}): run `pulumi state unprotect '{c.urn}'` "
        "(or set protection off in the stack's config and `pulumi up`), then retry"
        for c in changes
        if c.blocked
    ]


def _paths_cell(c: Change, limit: int = 6) -> str:
    shown = c.paths[:limit] + ([f"… +{len(c.paths) - limit}"] if len(c.paths) > limit else [])
    return ", ".join(f"`{p}`" for p in shown)


def markdown_table(changes: list[Change], folded_count: int = 0) -> str:
    if not changes and not folded_count:
        return "No resource changes.\n"
    lines = ["| object | action | changed paths | why |", "| --- | --- | --- | --- |"]
    for c in changes:
        lines.append(f"| `{c.kind}/{c.name}` | {c.op} | {_paths_cell(c)} | {why(c)} |")
    if folded_count:
        lines.append(f"\n{folded_count} objects differ only in environment labels / namespace (folded).")
    return "\n".join(lines) + "\n"


def plain(text: str) -> str:
    """A note for the terminal: markdown's emphasis and code marks dropped (they are for the PR comment)."""
    return text.replace("**", "").replace("`", "")


def text_lines(changes: list[Change], folded_count: int = 0) -> list[str]:
    out = []
    for c in changes:
        out.append(f"  {c.op:<7} {c.kind}/{c.name}" + (f"  [{', '.join(c.paths)}]" if c.paths else ""))
        if why(c):
            out.append(f"          why: {plain(why(c))}")
    if folded_count:
        out.append(f"  ({folded_count} objects differ only in environment labels / namespace)")
    return out


def as_json(changes: list[Change], folded_count: int = 0) -> dict[str, Any]:
    return {
        "changes": [dict(asdict(c), why=why(c), blocked=c.blocked) for c in changes],
        "foldedEnvironmentOnly": folded_count,
    }
