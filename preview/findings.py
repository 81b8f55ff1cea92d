"""Where a policy finding is fixed: the stack-file key that controls the object it is about, that
key's line, and the fix.

A finding names a rendered object (`Deployment/agent-api`); the user changes a key of the stack
file (`services[agent-api].image`). The object's owner is the component that declared it, from the
capture's parent chain (an AgentService -> `services[NAME]`, Postgres -> `postgres`, ...); a Docker
stack's containers, and an object a stack rule names in its message, are matched by name.

KEYS says, per policy, which keys control what the rule judges, most precise first: the first one
the stack file holds is the finding's key; else the deepest part of one that the file holds (the
nearest enclosing key); else the owner's block; else the file itself (line 1). Lines come from the
one stack-file line lookup (program/stack_lines.py). The fix is the rule's remediation (every rule
has one: policies/rules/base.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from preview.engine import Capture
from preview.policy_results import Violation
from program.stack_lines import StackLines


@dataclass(frozen=True)
class Keys:
    """The stack-file keys that control a policy's objects, most precise first.

    A key is written as the config errors name it, without the project prefix: `services[NAME].image`
    (NAME: the owning service), `postgres.image`, `availability.topologySpread`; `{key}` is filled from
    the message by `subject`'s group `key`. A key under an owner's block (`services`, `postgres`, ...)
    applies only to that owner's objects. `subject`'s group `object` (`Kind/name`, or a name) names the
    object the finding is about when the message says it better than the resource reported.
    """

    keys: tuple[str, ...]
    subject: str | None = None
    # A group of `subject` whose text a key must hold to be the finding's (the image a message quotes:
    # a canary's image is `rollout.canary.image`, not the service's `image`).
    holds: str | None = None


IMAGES = (
    "services[NAME].rollout.canary.image",
    "services[NAME].rollout.blueGreen.blueImage",
    "services[NAME].rollout.blueGreen.greenImage",
    "services[NAME].image",
    "postgres.image",
    "redis.image",
)
QUOTED_IMAGE = r"image '(?P<image>[^']+)'"
RESOURCES = ("services[NAME].resources", "postgres.resources", "redis.resources")
SECURITY = ("services[NAME].securityContext",)
ENV_KEY = "env (?P<key>[A-Za-z_][A-Za-z0-9_]*)"
PERSISTENCE = ("postgres.persistence", "redis.persistence", "services[NAME].persistence")

KEYS: dict[str, Keys] = {
    # Images.
    "image-tag-set": Keys(IMAGES, QUOTED_IMAGE, holds="image"),
    "image-digest-pinned": Keys(IMAGES, QUOTED_IMAGE, holds="image"),
    "docker-image-tag-set": Keys(IMAGES, QUOTED_IMAGE, holds="image"),
    "image-pull-policy": Keys(("services[NAME].imagePullPolicy", "services[NAME].image")),
    # Probes and resources.
    "liveness-probe": Keys(("services[NAME].probes",)),
    "readiness-probe": Keys(("services[NAME].probes",)),
    "probes-distinct": Keys(("services[NAME].probes",)),
    "cpu-requests-and-limits": Keys(RESOURCES),
    "memory-requests-and-limits": Keys(RESOURCES),
    "docker-memory-limit": Keys(RESOURCES),
    "docker-cpu-limit": Keys(RESOURCES),
    # Pod security.
    **{
        name: Keys(SECURITY)
        for name in (
            "run-as-non-root",
            "read-only-root-filesystem",
            "no-privilege-escalation",
            "not-privileged",
            "high-uid-gid",
            "drop-all-capabilities",
            "seccomp-runtime-default",
            "pss-capabilities-added",
            "pss-run-as-user-not-root",
            "docker-non-root",
        )
    },
    "no-service-account-token": Keys(("services[NAME].serviceAccount",)),
    # Secrets: the plain env a service writes into its ConfigMap.
    "configmap-no-secrets": Keys(
        ("services[NAME].env.{key}", "services[NAME].env"), r"ConfigMap key (?P<key>[^\s:]+):"
    ),
    "configmap-ref-no-secrets": Keys(
        ("services[NAME].env.{key}", "services[NAME].envFrom"), r" key (?P<key>[A-Za-z_][A-Za-z0-9_]*):"
    ),
    "env-no-literal-secrets": Keys(("services[NAME].env.{key}", "services[NAME].extraEnv"), ENV_KEY),
    "secret-env-referenced": Keys(("services[NAME].env.{key}", "services[NAME].extraEnv"), ENV_KEY),
    "docker-no-literal-secrets": Keys(("services[NAME].env", "services[NAME].args", "services[NAME].command")),
    "docker-env-credentials": Keys(("services[NAME].env.{key}", "services[NAME].secretEnv"), ENV_KEY),
    "args-no-literal-secrets": Keys(("services[NAME].args", "services[NAME].command")),
    "annotations-no-secrets": Keys(("services[NAME].podAnnotations", "annotations")),
    # Availability.
    "min-replicas": Keys(("services[NAME].autoscaling.minReplicas", "services[NAME].replicas", "postgres.instances")),
    "pdb-allows-disruption": Keys(("services[NAME].pdb",)),
    "no-replicas-with-hpa": Keys(("services[NAME].autoscaling",)),
    "rolling-update-keeps-capacity": Keys(("services[NAME].rollout",)),
    "spread-across-failure-domains": Keys(
        ("services[NAME].scheduling", "availability.topologySpread", "availability.podAntiAffinity")
    ),
    "keda-scaledobject-bounds": Keys(("services[NAME].autoscaling",)),
    # Network.
    "workload-network-policy": Keys(("services[NAME].networkPolicy",)),
    "networkpolicy-not-open": Keys(("services[NAME].allowFrom", "network.egress")),
    "namespace-default-deny": Keys(("network",)),
    # The side a cut path needs a rule on: the policy or the workload the message names.
    "connectivity-paths-admitted": Keys(
        ("services[NAME].networkPolicy", "services[NAME].allowFrom"),
        r"needs an? \w+ rule in (?:a NetworkPolicy selecting |NetworkPolicy )(?P<object>[^\s,()]+)",
    ),
    "service-port-reachable": Keys(
        ("services[NAME].networkPolicy", "services[NAME].allowFrom", "services[NAME].ingress")
    ),
    "docker-ports-loopback": Keys(("docker.proxy.bindAddress", "docker.proxy")),
    # Exposure.
    "ingress-no-wildcard-host": Keys(("ingress.host",)),
    "ingress-tls": Keys(("ingress.tls",)),
    "canary-weight-in-range": Keys(("services[NAME].rollout.canary.weight",)),
    "httproute-attachment": Keys(("gateway.sectionName", "ingress.host")),
    # The namespace.
    "namespace-resource-quota": Keys(("namespace.quota",)),
    "namespace-pss-restricted": Keys(("namespace.podSecurity",)),
    "limitrange-container-defaults": Keys(("namespace.limitRange",)),
    # Data.
    "datastore-protected": Keys(("postgres.protect", "redis.protect")),
    "postgres-cluster-protected": Keys(("postgres.protect",)),
    "datastore-persistent-volume": Keys(PERSISTENCE),
    "statefulset-retains-volumes": Keys(PERSISTENCE),
    "volume-claims-request-storage": Keys(PERSISTENCE),
    "postgres-wal-archived": Keys(("postgres.backup",)),
    "postgres-backup-retention": Keys(("postgres.backup.retentionDays", "postgres.backup")),
    "postgres-instances": Keys(("postgres.instances",)),
    "pooler-instances": Keys(("postgres.pooler.instances", "postgres.pooler")),
    "backup-before-migration": Keys(("postgres.backup.beforeMigration", "postgres.backup")),
    "scheduled-backup-present": Keys(("postgres.backup",)),
    # Operations.
    "alert-rules-present": Keys(("monitoring.prometheusRule", "monitoring")),
    "monitor-scoped-to-its-namespace": Keys(("monitoring",)),
    "externalsecret-owned-and-refreshed": Keys(("secrets",)),
    "job-bounded": Keys(("services[NAME].migration", "services[NAME].checkpointCleanup")),
    "image-pull-secrets-consistent": Keys(("imagePullSecrets",)),
}

# The blocks that declare objects: a key under one applies to that block's objects only.
OWNER_BLOCKS = ("services", "postgres", "redis", "ingress", "namespace", "monitoring")
# Components and the block that configures what they declare (the others: by the object's name).
COMPONENTS = {
    "agent-platform:k8s:Postgres": "postgres",
    "agent-platform:k8s:Redis": "redis",
    "agent-platform:k8s:AgentIngress": "ingress",
    "agent-platform:k8s:AgentNamespace": "namespace",
}
MONITORING_KINDS = ("ServiceMonitor", "PodMonitor", "PrometheusRule")
# Objects named after a block (a Docker stack's containers and volumes: `postgres-backup`, `redis-data`).
NAMED_BLOCKS = ("postgres", "redis", "ingress", "gateway", "monitoring", "namespace", "network", "secrets")

Owner = tuple[str, ...]  # ("services", NAME) or (BLOCK,)


@dataclass(frozen=True)
class Location:
    line: int  # 1-based; 1 (the file) when no key says it
    key: str | None  # the key as config errors name it (`agent-platform:services[agent-api].image`)
    fix: str


def _key_parts(template: str) -> list[str]:
    """`services[NAME].env.{key}` -> ["services", "[NAME]", "env", "{key}"]."""
    parts: list[str] = []
    for piece in template.split("."):
        name, bracket, rest = piece.partition("[")
        parts.append(name)
        if bracket:
            parts.append(f"[{rest}")
    return parts


def key_templates() -> Iterable[tuple[str, str]]:
    """(policy, key template) of every entry of KEYS (tests check each against the settings)."""
    for policy, keys in KEYS.items():
        for template in keys.keys:
            yield policy, template


class Owners:
    """The owner of each captured object (its block of the stack file), by URN and by `Kind/name`."""

    def __init__(self, capture: Capture | None, services: Iterable[str]) -> None:
        self.services = sorted(services, key=len, reverse=True)  # the longest first: agent-api-canary
        self.by_urn: dict[str, Owner | None] = {}
        self.by_object: dict[str, Owner | None] = {}
        for r in capture.resources if capture is not None else []:
            kind = r.inputs.get("kind") if isinstance(r.inputs, dict) else None
            kind = kind if isinstance(kind, str) else r.type.split(":")[-1]
            owner = self._declared_by(capture, r, kind)
            self.by_urn[r.urn] = owner
            self.by_object.setdefault(f"{kind}/{r.name}", owner)
            metadata = r.inputs.get("metadata") if isinstance(r.inputs, dict) else None
            if isinstance(metadata, dict) and isinstance(metadata.get("name"), str):
                self.by_object.setdefault(f"{kind}/{metadata['name']}", owner)

    def _declared_by(self, capture: Capture, r: Any, kind: str) -> Owner | None:
        parent = capture.parent_of(r)
        while parent is not None and parent.custom:
            parent = capture.parent_of(parent)
        if parent is None:
            return self.named(r.name)
        if parent.type == "agent-platform:k8s:AgentService":
            return ("services", parent.name)
        if parent.type in COMPONENTS:
            return (COMPONENTS[parent.type],)
        if kind in MONITORING_KINDS:
            return ("monitoring",)
        return self.named(r.name)

    def named(self, name: str) -> Owner | None:
        """The owner an object's name says: a service's name or a block's, or that with a suffix."""
        for service in self.services:
            if name == service or name.startswith(f"{service}-"):
                return ("services", service)
        for block in NAMED_BLOCKS:
            if name == block or name.startswith(f"{block}-"):
                return (block,)
        return None

    def of(self, violation: Violation, obj: str | None = None) -> Owner | None:
        if obj is not None:
            if obj in self.by_object:
                return self.by_object[obj]
            return self.named(obj.split("/", 1)[-1])
        if violation.urn in self.by_urn:
            return self.by_urn[violation.urn]
        if violation.resource == "stack":
            return None
        return self.named(violation.resource.split("/", 1)[-1])


def _resolve(
    template: str, owner: Owner | None, fill: dict[str, str], lines: StackLines
) -> tuple[tuple[Any, ...], list[str]] | None:
    """The key as a location (`("services", 0, "image")`) and its parts as shown, or None when it does
    not apply to this owner (another block's key) or cannot be filled."""
    parts = _key_parts(template)
    if parts[0] in OWNER_BLOCKS and owner is not None and owner[0] != parts[0]:
        return None
    loc: list[Any] = []
    shown: list[str] = []
    for part in parts:
        if part == "[NAME]":
            if owner is None or owner[0] != "services" or owner[1] not in lines.service_items:
                return None
            loc.append(lines.service_items[owner[1]][0])
            shown.append(f"[{owner[1]}]")
        elif part.startswith("{") and part.endswith("}"):
            value = fill.get(part[1:-1])
            if not value:
                return None
            loc.append(value)
            shown.append(f".{value}")
        else:
            loc.append(part)
            shown.append(f".{part}" if shown else part)
    return tuple(loc), shown


def _owner_key(owner: Owner) -> str:
    return "services[NAME]" if owner[0] == "services" else owner[0]


def locate(violation: Violation, lines: StackLines, owners: Owners, fix: str) -> Location:
    """The key of the stack file that controls the finding's object, its line, and the fix."""
    keys = KEYS.get(violation.policy) or Keys(())
    fill: dict[str, str] = {}
    obj = None
    if keys.subject is not None:
        match = re.search(keys.subject, violation.message)
        if match is not None:
            fill = {k: v for k, v in match.groupdict().items() if v}
            obj = fill.pop("object", None)
    owner = owners.of(violation, obj)
    wanted = fill.get(keys.holds) if keys.holds else None
    # (template, what its value must be): the rule's keys, then the owner's block as it is.
    templates = [(t, wanted) for t in keys.keys] + ([(_owner_key(owner), None)] if owner is not None else [])
    best: tuple[int, int, str] | None = None  # (depth, line, key shown)
    for template, value in templates:
        resolved = _resolve(template, owner, fill, lines)
        if resolved is None:
            continue
        loc, shown = resolved
        found = lines.deepest(loc)
        if found is None:
            break  # no `config:`: no line for any key
        line, depth = found
        if depth == len(loc):
            if value is not None and lines.value(loc) != value:
                continue  # it holds another image than the one the message quotes
            best = (depth, line, "".join(shown))
            break
        if depth > 0 and (best is None or depth > best[0]):
            best = (depth, line, "".join(shown[:depth]))
    if best is None:
        return Location(1, None, fix)
    return Location(best[1], f"{lines.project}:{best[2]}", fix)


def locate_all(
    violations: list[Violation], text: str | None, project: str, capture: Capture | None, fixes: dict[str, str]
) -> None:
    """Set each violation's `line`, `key` and `fix` (in place)."""
    lines = StackLines(text, project)
    owners = Owners(capture, lines.services)
    for v in violations:
        where = locate(v, lines, owners, fixes.get(v.policy, ""))
        v.line, v.key, v.fix = where.line, where.key, where.fix


CUT_PATH_FIX = (
    "give the path a rule: the service's allowFrom (who may call it), network.egress (where it may go), "
    "or its networkPolicy as the platform renders it; an edit that removed the rule is what to revert"
)


def locate_cut_paths(
    failures: list[str], text: str | None, source: str, project: str, capture: Capture | None
) -> list[str]:
    """Each path the connectivity analysis found admitted by no rule, as `FILE:LINE: key: failure;
    fix: ...`: at the key of the service whose policy the path needs (the pack's own rule for it,
    connectivity-paths-admitted, is located the same way)."""
    lines = StackLines(text, project)
    owners = Owners(capture, lines.services)
    out = []
    for failure in failures:
        v = Violation("connectivity-paths-admitted", "mandatory", "high", "stack", "", failure, file=source)
        where = locate(v, lines, owners, CUT_PATH_FIX)
        v.line, v.key = where.line, where.key
        out.append(f"{v.at}: {failure}; fix: {CUT_PATH_FIX}")
    return out
