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
- Holding data is judged on both sides of a change (a StatefulSet losing its volumeClaimTemplates,
  a Redis whose persistence is turned off, still holds data until it is gone), and a Namespace
  holds data when a data store's PVCs live in it (deleting a Namespace deletes every PVC in it).
- A Postgres major version change (image tag 16 -> 17) of a StatefulSet is refused: the new
  server cannot start on the old data directory (pg_upgrade or dump/restore is needed). Only
  this classifier sees both sides (the --base / --against render or the state); a stack file
  alone holds only the new version.
- With a fixed metadata.name the provider cannot create the new object first (same name), so
  pulumi-kubernetes marks the replace deleteBeforeReplace (diff.go: `DeleteBeforeReplace` when
  `.metadata.name` is set and unchanged): the object is absent in between.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from agent_platform.settings.values import quantity_value

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
CNPG_TYPES = "kubernetes:postgresql.cnpg.io/"

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
    def namespace(self) -> str:
        return (self.inputs.get("metadata") or {}).get("namespace") or ""

    @property
    def holds_data(self) -> bool:
        if self.kind == "StatefulSet":
            return bool((self.inputs.get("spec") or {}).get("volumeClaimTemplates"))
        if self.type.startswith(CNPG_TYPES):
            # The operator deletes a Cluster's PVCs with it (its instances' data directories).
            return self.kind == "Cluster"
        return self.kind in DATA_KINDS

    def images(self) -> list[str]:
        pod = ((self.inputs.get("spec") or {}).get("template") or {}).get("spec") or {}
        return [c.get("image") or "" for c in (pod.get("containers") or []) if isinstance(c, dict)]


def postgres_major(image: str) -> int | None:
    """The major version of a postgres image reference (`postgres:16.4-alpine@sha256:..` -> 16)."""
    name = image.split("@", 1)[0]
    repository, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "")
    # `postgres` (the StatefulSet mode's image) or CloudNativePG's operand images, `postgresql`.
    if repository.rsplit("/", 1)[-1] not in ("postgres", "postgresql"):
        return None
    match = re.match(r"^(\d+)", tag)
    return int(match.group(1)) if match else None


def _postgres_images(r: Resource) -> list[str]:
    if r.kind == "StatefulSet":
        return r.images()
    if r.kind == "Cluster" and r.type.startswith(CNPG_TYPES):
        return [str((r.inputs.get("spec") or {}).get("imageName") or "")]
    return []


def postgres_major_change(a: Resource, b: Resource) -> tuple[int, int] | None:
    if a.kind != b.kind:
        return None
    old = {m for m in map(postgres_major, _postgres_images(a)) if m is not None}
    new = {m for m in map(postgres_major, _postgres_images(b)) if m is not None}
    if len(old) == 1 and len(new) == 1 and old != new:
        return (old.pop(), new.pop())
    return None


POSTGRES_MAJOR_PROCEDURE = (
    "a Postgres major version cannot start on the previous major's data directory: keep the old "
    "image and upgrade deliberately (pg_dump/pg_restore, or pg_upgrade into a new volume, then "
    "switch; or move to the cloudnativepg mode and use its major upgrade), docs/day-2.md "
    '"Postgres major version"'
)


# Set on a CloudNativePG Cluster by postgres.majorUpgradeFrom (components/agent_platform/k8s/cloudnativepg.py).
MAJOR_UPGRADE_FROM = "agent-platform.io/major-upgrade-from"
CLUSTER_MAJOR_PROCEDURE = (
    "set `postgres.majorUpgradeFrom: {old}` in the same change: `pulumi up` then backs the Cluster up and "
    "waits for that Backup before the operator's offline in-place upgrade (pg_upgrade, every instance "
    'stopped for it); docs/day-2.md "Postgres major version"'
)


def _storage(r: Resource) -> list[tuple[str, str]]:
    """(where, size) of every volume size an object asks for: a CloudNativePG Cluster's storage and WAL
    storage, a StatefulSet's claim templates."""
    spec = r.inputs.get("spec") or {}
    if r.kind == "Cluster" and r.type.startswith(CNPG_TYPES):
        return [
            (k, str((spec.get(k) or {}).get("size")))
            for k in ("storage", "walStorage")
            if (spec.get(k) or {}).get("size")
        ]
    if r.kind == "StatefulSet":
        return [
            (f"volumeClaimTemplates[{t.get('metadata', {}).get('name')}]", str(size))
            for t in spec.get("volumeClaimTemplates") or []
            if (size := (((t.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage"))
        ]
    return []


def apply_verdict(a: Resource, b: Resource) -> str:
    """Why an update the preview would pass fails when applied, or "": a volume never shrinks
    (CloudNativePG refuses it, cloudnative-pg v1.30.0 internal/webhook/v1/cluster_webhook.go:1832 "can't
    shrink existing storage"; a bound PVC's request cannot go below its capacity, and the platform keeps a
    StatefulSet's claim templates as they are: ignoreChanges), and a CloudNativePG Backup's spec is
    immutable (its CRD's CEL rule `oldSelf == self`, preview/crds/cloudnative-pg/postgresql.cnpg.io_backups.yaml)."""
    old = dict(_storage(a))
    for where, size in _storage(b):
        if where in old and quantity_value(size) < quantity_value(old[where]):
            return (
                f"{where} {old[where]} -> {size}: a volume never shrinks; keep {old[where]}, or restore into a new "
                'cluster of the smaller size (docs/backups-kubernetes.md "Restore to a point in time")'
            )
    if b.kind == "Backup" and b.type.startswith(CNPG_TYPES) and a.inputs.get("spec") != b.inputs.get("spec"):
        return "a Backup's spec is immutable (its CRD refuses the update): give the new backup a new name"
    return ""


def major_verdict(a: Resource, b: Resource) -> tuple[str, str]:
    """(refused, note) for a Postgres major change between two renders of the same object."""
    major = postgres_major_change(a, b)
    if not major:
        return "", ""
    old, new = major
    if new < old:
        return f"Postgres {old} -> {new}: a data directory never goes back a major; restore a backup instead", ""
    if b.kind != "Cluster":
        return f"Postgres {old} -> {new}: {POSTGRES_MAJOR_PROCEDURE}", ""
    declared = str(((b.inputs.get("metadata") or {}).get("annotations") or {}).get(MAJOR_UPGRADE_FROM, ""))
    if declared != str(old):
        return f"Postgres {old} -> {new}: {CLUSTER_MAJOR_PROCEDURE.format(old=old)}", ""
    return "", (
        f"MAJOR UPGRADE Postgres {old} -> {new} by the operator: offline in place after an awaited Backup of {old}; "
        "no way back but a restore"
    )


def data_namespaces(resources: list[Resource]) -> set[str]:
    """Namespaces in which a PVC of the stack lives (a StatefulSet's claims, a PVC)."""
    return {r.namespace for r in resources if r.type.startswith("kubernetes:") and r.holds_data and r.namespace}


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
    refused: str = ""  # a change the preview refuses whatever the protection (a Postgres major bump)
    major_upgrade: str = ""  # a declared major upgrade (postgres.majorUpgradeFrom): shown, never routine

    @property
    def key(self) -> tuple[str, str]:
        return (self.type.split(":")[-1], self.name)

    @property
    def kind(self) -> str:
        return self.key[0]

    @property
    def blocked(self) -> bool:
        # A Namespace holding PVCs is blocked whatever its protection (a stack created before the
        # Namespace was protected has it unprotected in state, and its deletion takes every PVC).
        held = self.holds_data and self.kind == "Namespace"
        return bool(self.refused) or (self.op in ("replace", "delete") and (self.protected or held))


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
    holding = data_namespaces(before) | data_namespaces(after)
    changes = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        r = b or a
        # Either side: what is about to lose its claims (or its namespace) still holds the data.
        data = any(x is not None and x.holds_data for x in (a, b)) or (
            r.kind == "Namespace" and r.type.startswith("kubernetes:") and r.object_name in holding
        )
        base = dict(type=key[0], name=r.object_name, urn=r.urn, holds_data=data)
        if a is None:
            changes.append(Change("create", **base))
            continue
        if b is None:
            changes.append(Change("delete", protected=a.protect, **base))
            continue
        paths = [p for p in diff_paths(a.inputs, b.inputs) if not any(_matches(i, p) for i in b.ignore_changes)]
        impossible = apply_verdict(a, b)
        if not paths and impossible:
            # An ignored path (a StatefulSet's claim templates) the stack file still changed: never silent.
            changes.append(Change("update", paths=diff_paths(a.inputs, b.inputs), refused=impossible, **base))
            continue
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
        refused, upgrade = major_verdict(a, b)
        refused = refused or impossible
        changes.append(
            Change(
                op,
                paths=paths,
                replace_because=because,
                sources=sorted({f"{src}" for src in cited.values()}),
                protected=b.protect,
                fixed_name=fixed,
                refused=refused,
                major_upgrade=upgrade,
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


def way_out(c: Change) -> str:
    """A procedure that keeps the data: never dropping the protection and letting the engine act."""
    if c.refused:
        return c.refused
    if c.kind == "StatefulSet" and c.op == "replace" and c.replace_because:
        return (
            "keep the PVCs: back up, `kubectl delete statefulset "
            f"{c.name} --cascade=orphan` (pods and PVCs stay), `pulumi refresh` and `pulumi up` "
            "re-create it over the same claims; or revert the edit (docs/day-2.md "
            '"Change an immutable StatefulSet field")'
        )
    if c.kind == "Cluster" and c.type.startswith(CNPG_TYPES):
        return (
            "the Cluster's volumes go with it: take a Backup, then bootstrap the new cluster from the "
            'object store (docs/backups-kubernetes.md "Restore to a point in time"); or revert the edit'
        )
    if c.kind == "Namespace":
        return (
            "a Namespace's deletion deletes every PVC in it: move or back up the data stores first "
            '(docs/day-2.md "Remove protected data on purpose"), or revert the edit'
        )
    return (
        "back up (and restore into the replacement, or migrate to the new store) before removing it: "
        'docs/day-2.md "Remove protected data on purpose"; or revert the edit'
    )


def protection_keys(c: Change) -> list[str]:
    """The stack settings that make `c` protected: its data store's `protect` (the Namespace follows
    both stores'), read from the component it belongs to in its URN."""
    parts = c.urn.split("::")
    chain = parts[2].split("$") if len(parts) > 3 else []
    keys = [
        f"{store}.protect"
        for store in ("postgres", "redis")
        if any(t.endswith(f":{store.capitalize()}") for t in chain)
    ]
    if not keys and c.kind == "Namespace":
        keys = ["postgres.protect", "redis.protect"]
    if not keys and any(t.startswith("agent-platform:docker:") for t in chain):
        keys = [f"{store}.protect" for store in ("postgres", "redis") if parts[-1].startswith(store)]
    return keys


def _protected_by(c: Change) -> str:
    keys = protection_keys(c) if c.protected else []
    return f" (protected by {' and '.join(keys)} in the stack file)" if keys else ""


def _notes(c: Change) -> list[str]:
    notes = []
    if c.blocked:
        reason = "refused" if c.refused else ("protected" if c.protected else "holds data")
        notes.append(f"**BLOCKED: {reason}**{_protected_by(c)} — {way_out(c)}")
    if c.major_upgrade:
        notes.append(f"**{c.major_upgrade}**")
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
    out = []
    for c in changes:
        if not c.blocked:
            continue
        what = " ".join(w for w in ("protected" if c.protected else "", "data-holding" if c.holds_data else "") if w)
        op = "refused update" if c.refused and c.op == "update" else c.op
        out.append(f"{op} of {what + ' ' if what else ''}{c.kind}/{c.name} ({c.urn}){_protected_by(c)}: {way_out(c)}")
    return out


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


def summary_lines(changes: list[Change], folded_count: int = 0, width: int = 160) -> list[str]:
    """What pulumi up would do, for one screen: the count of each action, then only the changes a
    reviewer must weigh (a replace, a data-holding or protected object, a refused change), a line each."""
    counts = Counter(c.op for c in changes)
    head = ", ".join(f"{counts[op]} {op}" for op in ("create", "update", "replace", "delete") if counts[op])
    if folded_count:
        head += f"{'; ' if head else ''}{folded_count} differ only in environment labels / namespace"
    out = [f"What pulumi up would do: {head or 'nothing'}"]
    for c in changes:
        if c.op != "create" and (c.op == "replace" or c.blocked or c.holds_data or c.refused or c.major_upgrade):
            line = f"  {c.op:<7} {c.kind}/{c.name}" + (f": {plain(why(c))}" if why(c) else "")
            out.append(line if len(line) <= width else line[: width - 1] + "…")
    return out


def as_json(changes: list[Change], folded_count: int = 0) -> dict[str, Any]:
    return {
        "changes": [dict(asdict(c), why=why(c), blocked=c.blocked) for c in changes],
        "foldedEnvironmentOnly": folded_count,
    }
