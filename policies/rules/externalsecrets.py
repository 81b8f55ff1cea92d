"""External Secrets Operator: an ExternalSecret that owns the Secret it writes and keeps it current.

Source: the ExternalSecret API page (external-secrets.io/latest/api/externalsecret/) and its spec
reference: spec.secretStoreRef names a SecretStore or ClusterSecretStore; target.creationPolicy Owner
makes the ExternalSecret the Secret's owner (deleted with it; Orphan leaves it behind, None writes
nothing, Merge edits a Secret someone else keeps); refreshInterval `0` fetches once and never again,
so a rotated credential never reaches the pods; data or dataFrom say what to fetch.
"""

from __future__ import annotations

from .base import Example, resource_rule
from .k8s import EXTERNAL_SECRET, with_change

EXTERNAL = {
    "apiVersion": "external-secrets.io/v1",
    "kind": "ExternalSecret",
    "metadata": {"name": "agent-platform-secrets", "namespace": "agents"},
    "spec": {
        "refreshInterval": "1h",
        "secretStoreRef": {"name": "vault", "kind": "ClusterSecretStore"},
        "target": {"name": "agent-platform-secrets", "creationPolicy": "Owner"},
        "data": [{"secretKey": "openaiApiKey", "remoteRef": {"key": "agents/prod/openaiApiKey"}}],
    },
}
STORE_KINDS = ("SecretStore", "ClusterSecretStore")
ZERO_DURATIONS = {"0", "0s", "0m", "0h", "0m0s", "0h0m0s"}


@resource_rule(
    "externalsecret-owned-and-refreshed",
    "An ExternalSecret names its store (SecretStore or ClusterSecretStore), says what to fetch, owns the Secret it "
    "writes (target.creationPolicy Owner) and refreshes it (refreshInterval not 0) (External Secrets Operator "
    "ExternalSecret API).",
    "high",
    "Set secrets.secretStoreRef, keep creationPolicy Owner and a refreshInterval such as 1h (secrets.refreshInterval).",
    (EXTERNAL_SECRET,),
    Example(EXTERNAL, with_change(EXTERNAL, "spec.refreshInterval", "0")),
    tags=("secrets",),
)
def externalsecret_owned_and_refreshed(props, config):
    spec = props.get("spec") or {}
    store = spec.get("secretStoreRef") or {}
    if not store.get("name"):
        yield "secretStoreRef.name is not set"
    if store.get("kind", "SecretStore") not in STORE_KINDS:
        yield f"secretStoreRef.kind {store.get('kind')!r} is not SecretStore or ClusterSecretStore"
    if not spec.get("data") and not spec.get("dataFrom"):
        yield "neither data nor dataFrom: the Secret would be empty"
    policy = (spec.get("target") or {}).get("creationPolicy", "Owner")
    if policy != "Owner":
        yield f"target.creationPolicy {policy!r}: the ExternalSecret does not own the Secret it writes"
    refresh = spec.get("refreshInterval", "1h")
    if spec.get("refreshPolicy") == "CreatedOnce" or str(refresh).strip() in ZERO_DURATIONS:
        yield f"refreshInterval {refresh!r}: fetched once, a rotated credential never reaches the pods"
