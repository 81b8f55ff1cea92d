"""What any pod takes: resources, security context, volumes, scheduling, service account, environment."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    Field,
    model_validator,
)
from pydantic_core import PydanticCustomError

from agent_platform.settings.base import Model
from agent_platform.settings.errors import Findings, check, rule, shown
from agent_platform.settings.values import (
    _LABEL_VALUE,
    EnvName,
    LabelValue,
    MetadataKey,
    NonRootId,
    ObjectName,
    PlainText,
    PositiveQuantity,
    Quantity,
    _metadata_key_syntax,
    quantity_value,
    whole_number,
)

# The same knobs sit in the same place on every workload (Bitnami-style):
# image, resources, securityContext, persistence, networkPolicy, pdb.


class ResourceAmounts(Model):
    cpu: Quantity = Field(description="CPU, e.g. `250m` or `1`.")
    memory: Quantity = Field(description="Memory, e.g. `256Mi` or `1Gi`.")


class Resources(Model):
    requests: ResourceAmounts = Field(
        description="What the scheduler reserves; the HPA's utilisation is relative to it."
    )
    limits: ResourceAmounts = Field(description="The hard ceiling; memory over it OOM-kills the container.")

    @check
    def _requests_within_limits(self) -> Resources:
        for field in ("cpu", "memory"):
            req, lim = getattr(self.requests, field), getattr(self.limits, field)
            if quantity_value(req) > quantity_value(lim):
                raise rule(f"requests.{field}", f"must be <= limits.{field} ({req} > {lim})")
        return self


class SecurityContext(Model):
    run_as_user: NonRootId = Field(10001, description="UID the containers run as.")
    run_as_group: NonRootId = Field(10001, description="GID the containers run as.")
    fs_group: NonRootId = Field(10001, description="GID that owns mounted volumes.")
    read_only_root_filesystem: bool = Field(
        True, description="Mount the image read-only; writable paths are emptyDirs."
    )


class Persistence(Model):
    enabled: bool = Field(
        True, description="Keep data on a PersistentVolumeClaim (false: an emptyDir that dies with the pod)."
    )
    # A claim's storage request must be > 0 (core validation ValidatePersistentVolumeClaimSpec:
    # ValidatePositiveQuantityValue of resources.requests.storage).
    size: PositiveQuantity = Field(
        "10Gi",
        description="Requested volume size. Changing it later does not resize existing volumes: see docs/operations.md "
        '"Resize a volume".',
    )
    storage_class: ObjectName | None = Field(
        None, description="StorageClass name; unset uses the cluster default. Applies to new volumes only."
    )


class NetworkPolicyToggle(Model):
    enabled: bool = Field(True, description="Declare least-privilege NetworkPolicies for this workload.")


class Pdb(Model):
    enabled: bool = Field(True, description="Declare a PodDisruptionBudget.")
    max_unavailable: whole_number(ge=0) | None = Field(
        None,
        description="Pods that may be down in a voluntary disruption (default 1 when minAvailable is unset).",
    )
    min_available: whole_number(ge=0) | None = Field(
        None, description="Pods that must stay up; exclusive with maxUnavailable."
    )

    @check
    def _one_of(self) -> Pdb:
        if self.max_unavailable is not None and self.min_available is not None:
            raise rule("minAvailable", "set either minAvailable or maxUnavailable, not both")
        if self.max_unavailable == 0:
            raise rule("maxUnavailable", "must be >= 1: 0 blocks every node drain")
        return self


class Toleration(Model):
    key: str | None = Field(None, description="Taint key; unset with operator Exists tolerates every taint.")
    operator: Literal["Equal", "Exists"] = Field(
        "Equal", description="`Equal` matches key and value, `Exists` the key only."
    )
    value: str | None = Field(None, description="Taint value (operator Equal).")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        None, description="Taint effect; unset matches all."
    )
    toleration_seconds: whole_number(ge=0) | None = Field(
        None, description="NoExecute: how long the pod stays bound after the taint appears."
    )

    @check
    def _as_the_api_server(self) -> Toleration:
        # kubernetes pkg/apis/core/validation/validation.go ValidateTolerations.
        found = Findings()
        if self.key:
            try:
                _metadata_key_syntax(self.key)
            except PydanticCustomError as error:
                found("key", error.message())
        if not self.key and self.operator != "Exists":
            found("operator", f"must be Exists when key is empty (match every taint), got {shown(self.operator)}")
        if self.toleration_seconds is not None and self.effect != "NoExecute":
            found("effect", f"must be NoExecute when tolerationSeconds is set, got {shown(self.effect)}")
        if self.operator == "Exists" and self.value:
            found("value", f"must be empty when operator is Exists, got {shown(self.value)}")
        if self.operator == "Equal" and self.value and not _LABEL_VALUE.match(self.value):
            found("value", f"must be a label value (at most 63: a-z, A-Z, 0-9, '-', '_', '.'), got {shown(self.value)}")
        found.raise_any("Toleration")
        return self


class Scheduling(Model):
    """Where the pods may run: the same knobs on every workload (agent services, Postgres, Redis)."""

    node_selector: dict[MetadataKey, LabelValue] = Field(
        {}, description="Node labels the pods require (a node pool, an architecture)."
    )
    tolerations: list[Toleration] = Field([], description="Taints the pods tolerate (dedicated or GPU node pools).")
    affinity: dict[str, Any] = Field(
        {},
        description="A Kubernetes `Affinity` object (keys as in a manifest: nodeAffinity, podAffinity, "
        "podAntiAffinity). The platform's own soft anti-affinity and zone spread stay; terms given here "
        "are added.",
    )
    priority_class_name: ObjectName | None = Field(
        None, description="PriorityClass of the pods (it must exist in the cluster)."
    )

    @check
    def _affinity(self) -> Scheduling:
        unknown = set(self.affinity) - {"nodeAffinity", "podAffinity", "podAntiAffinity"}
        if unknown:
            raise rule(
                f"affinity.{sorted(unknown)[0]}",
                "unknown key: an Affinity has nodeAffinity, podAffinity and podAntiAffinity",
            )
        return self


class ServiceAccountSettings(Model):
    name: ObjectName | None = Field(
        None, description="Use this existing ServiceAccount instead of creating one (it is not managed here)."
    )
    annotations: dict[MetadataKey, PlainText] = Field(
        {},
        description="Annotations of the created ServiceAccount: workload identity, e.g. `eks.amazonaws.com/role-arn`, "
        "`iam.gke.io/gcp-service-account`, `azure.workload.identity/client-id`.",
    )

    @check
    def _one(self) -> ServiceAccountSettings:
        if self.name and self.annotations:
            raise rule(
                "annotations",
                "cannot annotate an existing ServiceAccount (name is set): annotate it where it is managed",
            )
        return self


class SecretKeyRef(Model):
    name: ObjectName = Field(description="Secret name (in the namespace).")
    key: str = Field(min_length=1, description="Key in the Secret.")


class ConfigMapKeyRef(Model):
    name: ObjectName = Field(description="ConfigMap name (in the namespace).")
    key: str = Field(min_length=1, description="Key in the ConfigMap.")


class FieldRef(Model):
    field_path: Literal[
        "metadata.name",
        "metadata.namespace",
        "metadata.uid",
        "spec.nodeName",
        "spec.serviceAccountName",
        "status.hostIP",
        "status.podIP",
    ] = Field(description="Pod field (the downward API).")


class ValueFrom(Model):
    secret_key_ref: SecretKeyRef | None = Field(None, description="A key of an existing Secret.")
    config_map_key_ref: ConfigMapKeyRef | None = Field(
        None, description="A key of an existing ConfigMap (never a credential)."
    )
    field_ref: FieldRef | None = Field(None, description="A field of the pod.")

    @check
    def _one(self) -> ValueFrom:
        given = [k for k in ("secret_key_ref", "config_map_key_ref", "field_ref") if getattr(self, k) is not None]
        if len(given) != 1:
            raise rule("secretKeyRef", "set exactly one of secretKeyRef, configMapKeyRef, fieldRef")
        return self


class ExtraEnv(Model):
    name: EnvName = Field(description="Environment variable name.")
    value_from: ValueFrom = Field(description="Where the value comes from.")


def _manifest_shape(values: Any, shapes: dict[str, tuple[str, str]]) -> Any:
    """A Kubernetes manifest's nested form accepted for a flat setting: `{secretRef: {name: x}}` is
    `{secret: x}`. Only a reference holding just that one key is unwrapped; anything else stays as
    written and is reported as it is."""
    if not isinstance(values, dict):
        return values
    values = dict(values)
    for manifest_key, (inner, flat) in shapes.items():
        ref = values.get(manifest_key)
        if isinstance(ref, dict) and set(ref) == {inner} and flat not in values:
            values[flat] = values.pop(manifest_key)[inner]
    return values


class EnvFromSource(Model):
    """Keys as here or as in a pod manifest's envFrom (`secretRef: {name: x}`, `configMapRef: {name: x}`)."""

    @model_validator(mode="before")
    @classmethod
    def _manifest(cls, values: Any) -> Any:
        return _manifest_shape(values, {"secretRef": ("name", "secret"), "configMapRef": ("name", "configMap")})

    secret: ObjectName | None = Field(None, description="An existing Secret: every key becomes a variable.")
    config_map: ObjectName | None = Field(
        None, description="An existing ConfigMap: every key becomes a variable (never credentials)."
    )
    prefix: str | None = Field(
        None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Prefix added to each variable name."
    )

    @check
    def _one(self) -> EnvFromSource:
        if (self.secret is None) == (self.config_map is None):
            raise rule("secret", "set exactly one of secret, configMap")
        return self
