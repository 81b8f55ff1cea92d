"""Data safety: volumes that outlive their pods, storage that is actually requested, protected state."""

from __future__ import annotations

from .base import Example, Resource, resource_rule, stack_rule
from .k8s import DELETE, STATEFULSET, name_of, pod_labels, with_change
from .samples import statefulset

GOOD = statefulset()


@resource_rule(
    "statefulset-retains-volumes", "StatefulSets with volume claims keep them when deleted or scaled down.", "high",
    "Set persistentVolumeClaimRetentionPolicy: {whenDeleted: Retain, whenScaled: Retain}.", (STATEFULSET,),
    Example(GOOD, with_change(GOOD, "spec.persistentVolumeClaimRetentionPolicy.whenDeleted", "Delete")), tags=("data",))
def statefulset_retains_volumes(props, config):
    spec = props.get("spec") or {}
    if not spec.get("volumeClaimTemplates"):
        return
    policy = spec.get("persistentVolumeClaimRetentionPolicy") or {}
    for field in ("whenDeleted", "whenScaled"):
        if policy.get(field, "Retain") != "Retain":
            yield f"persistentVolumeClaimRetentionPolicy.{field} is {policy.get(field)!r}"


@resource_rule(
    "volume-claims-request-storage", "Every volume claim template requests a storage size.", "medium",
    "Set spec.resources.requests.storage on each volumeClaimTemplate.", (STATEFULSET, "kubernetes:core/v1:PersistentVolumeClaim"),
    Example(GOOD, with_change(GOOD, "spec.volumeClaimTemplates.0.spec.resources", DELETE)), tags=("data",))
def volume_claims_request_storage(props, config):
    claims = (props.get("spec") or {}).get("volumeClaimTemplates") or []
    if props.get("kind") == "PersistentVolumeClaim":
        claims = [props]
    for claim in claims:
        if not (((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage"):
            yield f"volume claim {name_of(claim)}: no resources.requests.storage"


DATASTORE_LABELS = {"app.kubernetes.io/component": "datastore"}


def _datastore(protect: bool) -> Resource:
    props = with_change(GOOD, "spec.template.metadata.labels", {**GOOD["spec"]["template"]["metadata"]["labels"], **DATASTORE_LABELS})
    return Resource(STATEFULSET, "postgres", "urn:postgres", props, protect=protect)


@stack_rule(
    "datastore-protected", "Data-bearing StatefulSets (component datastore) are protected from `pulumi destroy` and replacement.", "high",
    "Set `protect: true` on the data store (stack config `postgres.protect` / `redis.protect`).",
    Example([_datastore(True)], [_datastore(False)]), tags=("data",))
def datastore_protected(resources, config):
    for r in resources:
        if r.type == STATEFULSET and pod_labels(r.props).get("app.kubernetes.io/component") == "datastore" and not r.protect:
            yield f"StatefulSet {name_of(r.props)} holds data but is not protected", r.urn
