"""Data safety: volumes that outlive their pods, storage that is actually requested, protected state."""

from __future__ import annotations

from .base import Example, Resource, Unknown, resource_rule, stack_rule
from .k8s import DELETE, STATEFULSET, name_of, pod_labels, with_change
from .samples import statefulset

GOOD = statefulset()


@resource_rule(
    "statefulset-retains-volumes",
    "StatefulSets with volume claims keep them when deleted or scaled down.",
    "high",
    "Set persistentVolumeClaimRetentionPolicy: {whenDeleted: Retain, whenScaled: Retain}.",
    (STATEFULSET,),
    Example(GOOD, with_change(GOOD, "spec.persistentVolumeClaimRetentionPolicy.whenDeleted", "Delete")),
    tags=("data",),
)
def statefulset_retains_volumes(props, config):
    spec = props.get("spec") or {}
    if not spec.get("volumeClaimTemplates"):
        return
    policy = spec.get("persistentVolumeClaimRetentionPolicy") or {}
    for field in ("whenDeleted", "whenScaled"):
        if policy.get(field, "Retain") != "Retain":
            yield f"persistentVolumeClaimRetentionPolicy.{field} is {policy.get(field)!r}"


@resource_rule(
    "volume-claims-request-storage",
    "Every volume claim template requests a storage size.",
    "medium",
    "Set spec.resources.requests.storage on each volumeClaimTemplate.",
    (STATEFULSET, "kubernetes:core/v1:PersistentVolumeClaim"),
    Example(GOOD, with_change(GOOD, "spec.volumeClaimTemplates.0.spec.resources", DELETE)),
    tags=("data",),
)
def volume_claims_request_storage(props, config):
    claims = (props.get("spec") or {}).get("volumeClaimTemplates") or []
    if props.get("kind") == "PersistentVolumeClaim":
        claims = [props]
    for claim in claims:
        if not (((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage"):
            yield f"volume claim {name_of(claim)}: no resources.requests.storage"


DATASTORE_LABELS = {"app.kubernetes.io/component": "datastore"}


def _datastore(protect: bool) -> Resource:
    props = with_change(
        GOOD, "spec.template.metadata.labels", {**GOOD["spec"]["template"]["metadata"]["labels"], **DATASTORE_LABELS}
    )
    return Resource(STATEFULSET, "postgres", "urn:postgres", props, protect=protect)


@stack_rule(
    "datastore-protected",
    "Data-bearing workloads (component datastore, or Postgres/Redis by image, port or name label) are protected from "
    "`pulumi destroy` and replacement.",
    "high",
    "Set `protect: true` on the data store (stack config `postgres.protect` / `redis.protect`).",
    Example([_datastore(True)], [_datastore(False)]),
    tags=("data",),
    reads=(STATEFULSET, "kubernetes:apps/v1:Deployment"),
)
def datastore_protected(resources, config):
    for r in resources:
        if r.type in (STATEFULSET, *WORKLOADS) and _holds_data(r.props) and not r.protect:
            yield f"{r.props.get('kind')} {name_of(r.props)} holds data but is not protected", r.urn


# --------------------------------------------------------------------------- availability of data

from .datastores import REDIS, docker_store, workload_store  # noqa: E402
from .k8s import WORKLOADS, containers, pod_spec  # noqa: E402

DOCKER = "docker:index/container:Container"


def _postgres_set(**changes) -> dict:
    props = with_change(GOOD, "spec.template.spec.containers.0.image", "postgres:16.4@sha256:" + "ab" * 32)
    props = with_change(
        props,
        "spec.template.spec.containers.0.volumeMounts",
        [{"name": "data", "mountPath": "/var/lib/postgresql/data"}],
    )
    for path, value in changes.items():
        props = with_change(props, path, value)
    return props


def _mounts_persistent(props) -> bool:
    claims = {t.get("metadata", {}).get("name") for t in (props.get("spec") or {}).get("volumeClaimTemplates") or []}
    claims |= {v.get("name") for v in pod_spec(props).get("volumes") or [] if v.get("persistentVolumeClaim")}
    return any(m.get("name") in claims for c in containers(props, init=False) for m in c.get("volumeMounts") or [])


def _docker_persistent(props) -> bool:
    return any(v.get("volumeName") or v.get("hostPath") for v in props.get("volumes") or []) or any(
        m.get("type") in ("volume", "bind") for m in props.get("mounts") or []
    )


@resource_rule(
    "datastore-persistent-volume",
    "Postgres and Redis keep their data on a persistent volume (a PVC, or a Docker named volume).",
    "high",
    "Enable persistence (stack config `postgres.persistence` / `redis.persistence`); lower this rule only where the "
    "data is disposable.",
    (*WORKLOADS, DOCKER),
    Example(_postgres_set(), _postgres_set(**{"spec.volumeClaimTemplates": DELETE})),
    tags=("data", "availability"),
)
def datastore_persistent_volume(props, config):
    if "kind" in props:
        store = workload_store(props)
        if store and not _mounts_persistent(props):
            yield (
                f"{props.get('kind')} {name_of(props)}: {store} with no persistent volume mounted: "
                "its data dies with the pod"
            )
    else:
        store = docker_store(props)
        if store and not _docker_persistent(props):
            yield f"container {props.get('name')}: {store} with no named volume: its data dies with the container"


# Images whose entrypoint turns a password env var into requirepass (bitnami/redis, bitnami/valkey); the
# official images ignore env and need --requirepass or a config file.
PASSWORD_ENV = ("REDIS_PASSWORD", "REDIS_PASSWORD_FILE", "VALKEY_PASSWORD", "VALKEY_PASSWORD_FILE")


def _requirepass(words) -> bool:
    tokens = " ".join(str(w) for w in words or []).split()
    for i, token in enumerate(tokens):
        if token.startswith("--requirepass=") and token.split("=", 1)[1].strip("\"'"):
            return True
        if token in ("--requirepass", "--aclfile") and i + 1 < len(tokens) and tokens[i + 1].strip("\"'"):
            return True
    return False


def _redis_k8s_auth(props) -> bool:
    pod = pod_spec(props)
    secret_volumes = {v.get("name") for v in pod.get("volumes") or [] if v.get("secret") or v.get("projected")}
    for c in containers(props, init=False):
        words = (c.get("command") or []) + (c.get("args") or [])
        if _requirepass(words):
            return True
        envs = {e.get("name"): e for e in c.get("env") or []}
        if any(envs.get(k, {}).get("value") in ("yes", "true") for k in ("ALLOW_EMPTY_PASSWORD",)):
            return False
        if "bitnami/" in str(c.get("image")) and any(
            (envs.get(k) or {}).get("valueFrom", {}).get("secretKeyRef") for k in PASSWORD_ENV
        ):
            return True
        # A redis.conf (which holds requirepass) read from a Secret volume: the project's own form.
        secret_dirs = [m.get("mountPath", "") for m in c.get("volumeMounts") or [] if m.get("name") in secret_volumes]
        if any(
            str(w).endswith(".conf") and any(str(w).startswith(d.rstrip("/") + "/") for d in secret_dirs) for w in words
        ):
            return True
    return False


def _redis_set(**changes) -> dict:
    props = with_change(GOOD, "spec.template.spec.containers.0.image", "redis:7.4.1@sha256:" + "ab" * 32)
    props = with_change(props, "spec.template.spec.containers.0.args", ["--requirepass", "$(REDIS_PASSWORD)"])
    for path, value in changes.items():
        props = with_change(props, path, value)
    return props


@resource_rule(
    "redis-requires-auth",
    "Redis (and Valkey/KeyDB) requires a password: --requirepass, an ACL file, a Secret-held redis.conf, "
    "or a bitnami image's REDIS_PASSWORD from a Secret.",
    "high",
    'Start redis-server with --requirepass "$(REDIS_PASSWORD)" (the variable from a secretKeyRef) or a redis.conf from '
    "a Secret.",
    (*WORKLOADS, DOCKER),
    Example(_redis_set(), _redis_set(**{"spec.template.spec.containers.0.args": ["--appendonly", "yes"]})),
    tags=("data", "secrets"),
)
def redis_requires_auth(props, config):
    if "kind" in props:
        if workload_store(props) == REDIS and not _redis_k8s_auth(props):
            yield f"{props.get('kind')} {name_of(props)}: Redis accepts connections without a password"
    elif docker_store(props) == REDIS:
        envs = dict(str(e).partition("=")[::2] for e in props.get("envs") or [] if not isinstance(e, Unknown))
        words = (props.get("entrypoints") or []) + (props.get("command") or [])
        bitnami = "bitnami/" in str(props.get("image") if not isinstance(props.get("image"), Unknown) else "")
        if not (
            _requirepass(words)
            or (bitnami and any(envs.get(k) for k in PASSWORD_ENV) and envs.get("ALLOW_EMPTY_PASSWORD") != "yes")
        ):
            yield f"container {props.get('name')}: Redis accepts connections without a password"


def _holds_data(props) -> bool:
    return pod_labels(props).get("app.kubernetes.io/component") == "datastore" or workload_store(props) is not None
