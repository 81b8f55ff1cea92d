"""KEDA: a ScaledObject's bounds and where its triggers' credentials come from.

Sources: KEDA's ScaledObject specification (keda.sh/docs/2.16/reference/scaledobject-spec/:
scaleTargetRef.name is mandatory and in the ScaledObject's namespace, minReplicaCount defaults to 0,
maxReplicaCount to 100, idleReplicaCount must be lower than minReplicaCount and KEDA supports only 0)
and its authentication concept (keda.sh/docs/2.16/concepts/authentication/: a trigger reads secrets
through a TriggerAuthentication, by secretTargetRef, env, pod identity or an external vault, never as
literal trigger metadata).
"""

from __future__ import annotations

from .base import Example, resource_rule
from .k8s import SCALED_OBJECT, TRIGGER_AUTHENTICATION, with_change
from .secrets import looks_secret

SCALED = {
    "apiVersion": "keda.sh/v1alpha1",
    "kind": "ScaledObject",
    "metadata": {"name": "runner", "namespace": "agents"},
    "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "runner"},
        "minReplicaCount": 3,
        "maxReplicaCount": 10,
        "triggers": [
            {
                "type": "redis",
                "metadata": {"address": "redis.agents.svc:6379", "listName": "runs", "listLength": "5"},
                "authenticationRef": {"name": "runner-scaler"},
            }
        ],
    },
}
AUTH = {
    "apiVersion": "keda.sh/v1alpha1",
    "kind": "TriggerAuthentication",
    "metadata": {"name": "runner-scaler", "namespace": "agents"},
    "spec": {"secretTargetRef": [{"parameter": "password", "name": "redis-connection", "key": "password"}]},
}
# A TriggerAuthentication's sources (keda.sh/docs/2.16/concepts/authentication/).
AUTH_SOURCES = (
    "secretTargetRef",
    "env",
    "podIdentity",
    "hashiCorpVault",
    "azureKeyVault",
    "awsSecretManager",
    "gcpSecretManager",
    "configMapTargetRef",
    "boundServiceAccountToken",
)


@resource_rule(
    "keda-scaledobject-bounds",
    "A KEDA ScaledObject names its target, keeps minReplicaCount <= maxReplicaCount, sets idleReplicaCount only "
    "below minReplicaCount, and has triggers whose metadata carries no credential (KEDA ScaledObject "
    "specification; credentials belong in a TriggerAuthentication).",
    "high",
    "Set scaleTargetRef.name, consistent bounds (services[].autoscaling), and move any password or token from "
    "trigger metadata into a TriggerAuthentication (authenticationRef).",
    (SCALED_OBJECT,),
    Example(SCALED, with_change(SCALED, "spec.maxReplicaCount", 2)),
    tags=("availability",),
)
def keda_scaledobject_bounds(props, config):
    spec = props.get("spec") or {}
    if not (spec.get("scaleTargetRef") or {}).get("name"):
        yield "scaleTargetRef.name is not set"
    low, high = int(spec.get("minReplicaCount", 0)), int(spec.get("maxReplicaCount", 100))
    if low > high:
        yield f"minReplicaCount {low} > maxReplicaCount {high}"
    if spec.get("idleReplicaCount") is not None and int(spec["idleReplicaCount"]) >= low:
        yield f"idleReplicaCount {spec['idleReplicaCount']} must be below minReplicaCount {low}"
    triggers = spec.get("triggers") or []
    if not triggers:
        yield "no triggers"
    for i, trigger in enumerate(triggers):
        for key, value in sorted((trigger.get("metadata") or {}).items()):
            # `passwordFromEnv`-style keys name a variable, not a value.
            why = None if str(key).endswith("FromEnv") else looks_secret(str(key), str(value))
            if why:
                yield f"triggers[{i}].metadata.{key}: {why}; use a TriggerAuthentication"


@resource_rule(
    "keda-trigger-authentication-sources",
    "A KEDA TriggerAuthentication reads its credentials from a named source (secretTargetRef, env, pod identity or "
    "a vault), each secretTargetRef naming the parameter, Secret and key (KEDA authentication concept).",
    "medium",
    "Give the TriggerAuthentication a secretTargetRef {parameter, name, key} per credential the trigger needs.",
    (TRIGGER_AUTHENTICATION,),
    Example(AUTH, with_change(AUTH, "spec.secretTargetRef.0.key", "")),
    tags=("secrets",),
)
def keda_trigger_authentication_sources(props, config):
    spec = props.get("spec") or {}
    if not any(spec.get(source) for source in AUTH_SOURCES):
        yield "no credential source (secretTargetRef, env, podIdentity or a vault)"
    for i, ref in enumerate(spec.get("secretTargetRef") or []):
        for field in ("parameter", "name", "key"):
            if not ref.get(field):
                yield f"secretTargetRef[{i}].{field} is not set"
