"""Pod-template pieces every workload of the stack shares.

The secure defaults live here, once: callers pass the typed config and get a
restricted-profile pod (non-root, read-only root, no privilege escalation, ALL
capabilities dropped, seccomp RuntimeDefault) whatever they forget.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from agent_platform.labels import stable_labels
from agent_platform.settings.cluster import Availability
from agent_platform.settings.pod import EnvFromSource, ExtraEnv, Persistence, Resources, Scheduling, SecurityContext
from agent_platform.settings.workload import ExtraContainer, ExtraVolume, VolumeMountSettings

core = k8s.core.v1
meta = k8s.meta.v1

TMP_VOLUME = "tmp"
# Accepted Checkov findings, declared on the object they concern (listed in the README).
CHECKOV_SKIPS = {
    "checkov.io/skip1": "CKV_K8S_35=The app contract reads DATABASE_URL, REDIS_URL and API keys from the environment "
    "(12-factor); the values come from Secrets through secretKeyRef, never inline.",
}


def object_meta(
    name: str, namespace: pulumi.Input[str], labels: dict[str, str], annotations: dict[str, str] | None = None
) -> meta.ObjectMetaArgs:
    return meta.ObjectMetaArgs(name=name, namespace=namespace, labels=labels, annotations=annotations)


@dataclass(frozen=True)
class Metadata:
    """ObjectMeta for one component's objects: its namespace, its labels, the caller's common annotations."""

    namespace: pulumi.Input[str]
    labels: dict[str, str]
    annotations: dict[str, str] = field(default_factory=dict)

    def __call__(self, name: str, annotations: dict[str, str] | None = None) -> meta.ObjectMetaArgs:
        return object_meta(name, self.namespace, self.labels, {**self.annotations, **(annotations or {})} or None)


def with_common(labels: dict[str, str], common: dict[str, str] | None) -> dict[str, str]:
    """The platform's labels over the caller's common ones: a selector or policy key cannot be overridden."""
    return {**(common or {}), **labels}


def pod_security_context(sc: SecurityContext) -> core.PodSecurityContextArgs:
    return core.PodSecurityContextArgs(
        run_as_non_root=True,
        run_as_user=sc.run_as_user,
        run_as_group=sc.run_as_group,
        fs_group=sc.fs_group,
        fs_group_change_policy="OnRootMismatch",  # large volumes: skip the recursive chown when already right
        seccomp_profile=core.SeccompProfileArgs(type="RuntimeDefault"),
    )


def container_security_context(sc: SecurityContext) -> core.SecurityContextArgs:
    return core.SecurityContextArgs(
        run_as_non_root=True,
        run_as_user=sc.run_as_user,
        run_as_group=sc.run_as_group,
        read_only_root_filesystem=sc.read_only_root_filesystem,
        allow_privilege_escalation=False,
        privileged=False,
        capabilities=core.CapabilitiesArgs(drop=["ALL"]),
        seccomp_profile=core.SeccompProfileArgs(type="RuntimeDefault"),
    )


def resource_requirements(resources: Resources) -> core.ResourceRequirementsArgs:
    return core.ResourceRequirementsArgs(
        requests={"cpu": resources.requests.cpu, "memory": resources.requests.memory},
        limits={"cpu": resources.limits.cpu, "memory": resources.limits.memory},
    )


def scratch_volume(name: str = TMP_VOLUME, size_limit: str = "256Mi") -> core.VolumeArgs:
    """An emptyDir for paths a read-only root filesystem still needs to write."""
    return core.VolumeArgs(name=name, empty_dir=core.EmptyDirVolumeSourceArgs(size_limit=size_limit))


# spec.volumeClaimTemplates of a StatefulSet is immutable (the API server refuses the
# update; pulumi-kubernetes lists it in provider/pkg/provider/diff.go forceNewProperties,
# so the Diff says replace). The StatefulSet ignores template changes for the size and
# class: a resize is done on the PVCs themselves (docs/operations.md "Resize a volume"), and
# the existing PVCs keep their class. The template's labels and annotations are ignored too:
# they reach only PVCs created later, and a stack-label edit must never replace the object
# that holds the data (the template carries the platform's own labels, never the stack's
# common ones; a live StatefulSet created with other labels keeps them, as the engine resets
# ignored paths to the old values before Diff). Paths as pulumi's ignoreChanges takes them.
VOLUME_CLAIM_IGNORES = [
    "spec.volumeClaimTemplates[*].spec.resources.requests.storage",
    "spec.volumeClaimTemplates[*].spec.storageClassName",
    "spec.volumeClaimTemplates[*].metadata.labels",
    "spec.volumeClaimTemplates[*].metadata.annotations",
]


def volume_claim_template(
    name: str, persistence: Persistence, platform_labels: dict[str, str]
) -> core.PersistentVolumeClaimArgs:
    """A claim template carrying only the platform's labels that never change (no image version,
    no stack common labels: spec.volumeClaimTemplates is replace-only, see stable_labels)."""
    return core.PersistentVolumeClaimArgs(
        metadata=meta.ObjectMetaArgs(name=name, labels=stable_labels(platform_labels)),
        spec=core.PersistentVolumeClaimSpecArgs(
            access_modes=["ReadWriteOnce"],
            storage_class_name=persistence.storage_class,
            resources=core.VolumeResourceRequirementsArgs(requests={"storage": persistence.size}),
        ),
    )


def placement(selector: dict[str, str], availability: Availability) -> dict[str, Any]:
    """Pod-spec fields that keep replicas apart: zones via topology spread, nodes via anti-affinity.

    Both are soft (ScheduleAnyway / preferred) so a single-zone cluster still schedules,
    while the scheduler spreads whenever it can.
    """
    fields: dict[str, Any] = {}
    if availability.topology_spread:
        fields["topology_spread_constraints"] = [
            core.TopologySpreadConstraintArgs(
                max_skew=1,
                topology_key="topology.kubernetes.io/zone",
                when_unsatisfiable="ScheduleAnyway",
                label_selector=meta.LabelSelectorArgs(match_labels=selector),
            ),
        ]
    if availability.pod_anti_affinity:
        fields["affinity"] = core.AffinityArgs(
            pod_anti_affinity=core.PodAntiAffinityArgs(
                preferred_during_scheduling_ignored_during_execution=[
                    core.WeightedPodAffinityTermArgs(
                        weight=100,
                        pod_affinity_term=core.PodAffinityTermArgs(
                            topology_key="kubernetes.io/hostname",
                            label_selector=meta.LabelSelectorArgs(match_labels=selector),
                        ),
                    )
                ]
            )
        )
    return fields


def scheduling_fields(
    scheduling: Scheduling, placement_fields: dict[str, Any] | None = None, pull_secrets: Sequence[str] = ()
) -> dict[str, Any]:
    """Pod-spec fields for where the pod runs and what it pulls with.

    The caller's affinity terms are added to the platform's (its soft pod anti-affinity stays).
    Nothing is set that the caller did not ask for, so a default pod renders as before.
    """
    fields = dict(placement_fields or {})
    if scheduling.node_selector:
        fields["node_selector"] = dict(scheduling.node_selector)
    if scheduling.tolerations:
        fields["tolerations"] = [core.TolerationArgs(**t.model_dump(exclude_none=True)) for t in scheduling.tolerations]
    if scheduling.priority_class_name:
        fields["priority_class_name"] = scheduling.priority_class_name
    if scheduling.affinity:
        fields["affinity"] = _merged_affinity(fields.get("affinity"), scheduling.affinity)
    if pull_secrets:
        fields["image_pull_secrets"] = [core.LocalObjectReferenceArgs(name=name) for name in pull_secrets]
    return fields


def _merged_affinity(platform: core.AffinityArgs | None, extra: dict[str, Any]) -> core.AffinityArgs:
    anti = dict(extra.get("podAntiAffinity") or {})
    preferred = list(anti.get("preferredDuringSchedulingIgnoredDuringExecution") or [])
    if platform is not None and platform.pod_anti_affinity is not None:
        preferred = list(platform.pod_anti_affinity.preferred_during_scheduling_ignored_during_execution) + preferred
    required = anti.get("requiredDuringSchedulingIgnoredDuringExecution")
    return core.AffinityArgs(
        node_affinity=extra.get("nodeAffinity"),
        pod_affinity=extra.get("podAffinity"),
        pod_anti_affinity=core.PodAntiAffinityArgs(
            preferred_during_scheduling_ignored_during_execution=preferred or None,
            required_during_scheduling_ignored_during_execution=required,
        )
        if preferred or required
        else None,
    )


def extra_env_vars(extra: Sequence[ExtraEnv]) -> list[core.EnvVarArgs]:
    """`valueFrom` variables: keys of existing Secrets or ConfigMaps, or pod fields."""
    out = []
    for e in extra:
        v = e.value_from
        source = core.EnvVarSourceArgs(
            secret_key_ref=core.SecretKeySelectorArgs(name=v.secret_key_ref.name, key=v.secret_key_ref.key)
            if v.secret_key_ref
            else None,
            config_map_key_ref=core.ConfigMapKeySelectorArgs(
                name=v.config_map_key_ref.name, key=v.config_map_key_ref.key
            )
            if v.config_map_key_ref
            else None,
            field_ref=core.ObjectFieldSelectorArgs(field_path=v.field_ref.field_path) if v.field_ref else None,
        )
        out.append(core.EnvVarArgs(name=e.name, value_from=source))
    return out


def env_from_sources(sources: Sequence[EnvFromSource]) -> list[core.EnvFromSourceArgs]:
    return [
        core.EnvFromSourceArgs(
            prefix=s.prefix,
            secret_ref=core.SecretEnvSourceArgs(name=s.secret) if s.secret else None,
            config_map_ref=core.ConfigMapEnvSourceArgs(name=s.config_map) if s.config_map else None,
        )
        for s in sources
    ]


def volume_mounts(mounts: Sequence[VolumeMountSettings]) -> list[core.VolumeMountArgs]:
    return [core.VolumeMountArgs(name=m.name, mount_path=m.mount_path, read_only=m.read_only) for m in mounts]


def extra_volumes(volumes: Sequence[ExtraVolume]) -> list[core.VolumeArgs]:
    out = []
    for v in volumes:
        out.append(
            core.VolumeArgs(
                name=v.name,
                config_map=core.ConfigMapVolumeSourceArgs(name=v.config_map) if v.config_map else None,
                secret=core.SecretVolumeSourceArgs(secret_name=v.secret, default_mode=0o440) if v.secret else None,
                empty_dir=core.EmptyDirVolumeSourceArgs(size_limit=v.empty_dir) if v.empty_dir else None,
                persistent_volume_claim=core.PersistentVolumeClaimVolumeSourceArgs(claim_name=v.persistent_volume_claim)
                if v.persistent_volume_claim
                else None,
            )
        )
    return out


def extra_container(x: ExtraContainer, sc: SecurityContext, pull_policy: str, sidecar: bool) -> core.ContainerArgs:
    """A sidecar or init container with the app's hardening (the same identity and restrictions)."""
    liveness = readiness = None
    if sidecar and x.probe is not None:

        def probe(period: int, failures: int) -> core.ProbeArgs:
            action = (
                {"exec_": core.ExecActionArgs(command=list(x.probe.command))}
                if x.probe.command
                else {"http_get": core.HTTPGetActionArgs(path=x.probe.path, port=x.probe.port)}
            )
            return core.ProbeArgs(**action, period_seconds=period, timeout_seconds=2, failure_threshold=failures)

        # Distinct, as for the app: a busy sidecar is taken out of rotation before it is restarted.
        liveness, readiness = probe(10, 3), probe(5, 2)
    return core.ContainerArgs(
        name=x.name,
        image=x.image,
        image_pull_policy=pull_policy,
        command=x.command,
        args=x.args,
        env=[core.EnvVarArgs(name=k, value=v) for k, v in x.env.items()] or None,
        resources=resource_requirements(x.resources),
        security_context=container_security_context(sc),
        liveness_probe=liveness,
        readiness_probe=readiness,
        volume_mounts=[core.VolumeMountArgs(name=TMP_VOLUME, mount_path="/tmp"), *volume_mounts(x.volume_mounts)],
    )


def secret_env(name: str, secret_name: pulumi.Input[str], key: str) -> core.EnvVarArgs:
    return core.EnvVarArgs(
        name=name,
        value_from=core.EnvVarSourceArgs(secret_key_ref=core.SecretKeySelectorArgs(name=secret_name, key=key)),
    )


def exec_probe(
    command: Sequence[str], period: int, timeout: int, failures: int, initial_delay: int = 0
) -> core.ProbeArgs:
    return core.ProbeArgs(
        exec_=core.ExecActionArgs(command=list(command)),
        period_seconds=period,
        timeout_seconds=timeout,
        failure_threshold=failures,
        initial_delay_seconds=initial_delay,
    )


# Await timeouts (pulumi-kubernetes provider/pkg/metadata/annotations.go
# AnnotationTimeoutSeconds = "pulumi.com/timeoutSeconds", AnnotationSkipAwait =
# "pulumi.com/skipAwait"). Without them the provider waits 10 minutes for a Deployment,
# StatefulSet or Ingress (provider/pkg/await/deployment.go DefaultDeploymentTimeoutMins,
# statefulset.go DefaultStatefulSetTimeoutMins, ingress.go DefaultIngressTimeoutMins).
TIMEOUT_SECONDS = "pulumi.com/timeoutSeconds"
SKIP_AWAIT = "pulumi.com/skipAwait"
DEFAULT_AWAIT_SECONDS = 600


def rollout_timeout_seconds(pods: int, grace_seconds: int, startup_seconds: int, at_once: int = 1) -> int:
    """Time a rolling update of `pods` pods may take, `at_once` at a time.

    Each step drains an old pod (its whole termination grace) and starts a new one (the
    startup probe's budget). Never below the provider's own default.
    """
    steps = -(-pods // at_once)
    return max(DEFAULT_AWAIT_SECONDS, steps * (grace_seconds + startup_seconds) + 60)


def checksum(data: pulumi.Input[Any]) -> pulumi.Output[str]:
    """A stable sha256 of some data, safe to publish: it reveals nothing of secret inputs.

    Put on the pod template as an annotation, a change of ConfigMap or Secret content
    changes the template and so rolls the pods.
    """
    digest = pulumi.Output.from_input(data).apply(
        lambda value: hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()
    )
    return pulumi.Output.unsecret(digest)
