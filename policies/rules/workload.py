"""Rules on pods: images, probes, resources and pod security (one container at a time)."""

from __future__ import annotations

from .base import Example, resource_rule
from .k8s import DELETE, WORKLOADS, containers, effective, long_running, pod_spec, with_change
from .samples import deployment

C0 = "spec.template.spec.containers.0"
POD = "spec.template.spec"
GOOD = deployment()


def split_image(ref: str) -> tuple[str, str | None, str | None]:
    name, _, digest = ref.partition("@")
    tag = None
    if ":" in name.rsplit("/", 1)[-1]:
        name, tag = name.rsplit(":", 1)
    return name, tag, digest or None


# --------------------------------------------------------------------------- images


@resource_rule(
    "image-tag-set",
    "Every container image names a tag or digest, and the tag is not `latest`.",
    "high",
    "Pin the image to a released tag (e.g. `repo:1.4.2`) and, in prod, its digest.",
    WORKLOADS,
    Example(GOOD, with_change(GOOD, f"{C0}.image", "registry.example.com/api:latest")),
    tags=("images",),
)
def image_tag_set(props, config):
    for c in containers(props):
        _, tag, digest = split_image(c.get("image", ""))
        if tag == "latest" or (tag is None and digest is None):
            yield f"container {c.get('name')}: image {c.get('image')!r} is mutable (no tag, or `latest`)"


@resource_rule(
    "image-digest-pinned",
    "Container images are immutable references (`@sha256:` digest).",
    "medium",
    "Append the image's digest: `repo:tag@sha256:...` (your CI or dependency bot can write it).",
    WORKLOADS,
    Example(GOOD, with_change(GOOD, f"{C0}.image", "registry.example.com/api:1.0.0")),
    tags=("images",),
)
def image_digest_pinned(props, config):
    for c in containers(props):
        if split_image(c.get("image", ""))[2] is None:
            yield f"container {c.get('name')}: image {c.get('image')!r} is not pinned by digest"


@resource_rule(
    "image-pull-policy",
    "imagePullPolicy is `Always`, or `IfNotPresent` for a digest-pinned image.",
    "low",
    "Set imagePullPolicy: Always so a moved tag is noticed (IfNotPresent is safe only with a digest).",
    WORKLOADS,
    Example(GOOD, with_change(with_change(GOOD, f"{C0}.image", "r/api:1.0"), f"{C0}.imagePullPolicy", "IfNotPresent")),
    tags=("images",),
)
def image_pull_policy(props, config):
    for c in containers(props):
        policy = c.get("imagePullPolicy")
        digest = split_image(c.get("image", ""))[2]
        if policy == "Never" or policy is None or (policy == "IfNotPresent" and not digest):
            yield f"container {c.get('name')}: imagePullPolicy {policy!r}"


# --------------------------------------------------------------------------- probes


def _probe_rule(field: str, name: str, why: str):
    @resource_rule(
        name,
        f"Every long-running container (containers, and native sidecars: initContainers with restartPolicy "
        f"Always) has a {field}.",
        "medium",
        why,
        WORKLOADS - {"kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob"},
        Example(GOOD, with_change(GOOD, f"{C0}.{field}", DELETE)),
        tags=("probes",),
    )
    def check(props, config):
        for c in long_running(props):
            if not c.get(field):
                yield f"container {c.get('name')}: no {field}"

    return check


liveness_probe = _probe_rule("livenessProbe", "liveness-probe", "Add a livenessProbe (the app contract: GET /healthz).")
readiness_probe = _probe_rule(
    "readinessProbe", "readiness-probe", "Add a readinessProbe (the app contract: GET /readyz)."
)


@resource_rule(
    "probes-distinct",
    "Liveness and readiness probes differ: a busy pod should leave the Service, not be restarted.",
    "medium",
    "Point readiness at /readyz (dependencies) and liveness at /healthz (process), or give them different thresholds.",
    WORKLOADS,
    Example(
        GOOD,
        with_change(GOOD, f"{C0}.readinessProbe", GOOD["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]),
    ),
    tags=("probes",),
)
def probes_distinct(props, config):
    for c in long_running(props):
        if c.get("livenessProbe") and c.get("livenessProbe") == c.get("readinessProbe"):
            yield f"container {c.get('name')}: livenessProbe and readinessProbe are identical"


# --------------------------------------------------------------------------- resources


def _resource_rule(resource: str):
    @resource_rule(
        f"{resource}-requests-and-limits",
        f"Every container requests and limits {resource}.",
        "medium",
        f"Set resources.requests.{resource} and resources.limits.{resource} on every container.",
        WORKLOADS,
        Example(GOOD, with_change(GOOD, f"{C0}.resources.limits.{resource}", DELETE)),
        tags=("resources",),
    )
    def check(props, config):
        for c in containers(props):
            res = c.get("resources") or {}
            for part in ("requests", "limits"):
                if not (res.get(part) or {}).get(resource):
                    yield f"container {c.get('name')}: no resources.{part}.{resource}"

    return check


cpu_requests_and_limits = _resource_rule("cpu")
memory_requests_and_limits = _resource_rule("memory")


# --------------------------------------------------------------------------- pod security


def _container_field_rule(name: str, description: str, severity: str, remediation: str, field: str, ok, bad_value):
    @resource_rule(
        name,
        description,
        severity,
        remediation,
        WORKLOADS,
        Example(
            GOOD,
            with_change(
                with_change(GOOD, f"{C0}.securityContext.{field}", bad_value),
                f"{POD}.securityContext.{field}",
                bad_value,
            ),
        ),
        tags=("pod-security",),
    )
    def check(props, config):
        pod = pod_spec(props)
        for c in containers(props):
            value = effective(c, pod, field)
            if not ok(value):
                yield f"container {c.get('name')}: securityContext.{field} is {value!r}"

    return check


run_as_non_root = _container_field_rule(
    "run-as-non-root",
    "Containers must not run as root.",
    "high",
    "Set securityContext.runAsNonRoot: true and a non-zero runAsUser.",
    "runAsNonRoot",
    lambda v: v is True,
    False,
)
read_only_root_filesystem = _container_field_rule(
    "read-only-root-filesystem",
    "Container root filesystems are read-only.",
    "medium",
    "Set readOnlyRootFilesystem: true; mount an emptyDir where the app writes (e.g. /tmp).",
    "readOnlyRootFilesystem",
    lambda v: v is True,
    False,
)
no_privilege_escalation = _container_field_rule(
    "no-privilege-escalation",
    "Processes cannot gain more privileges than their parent (setuid).",
    "high",
    "Set securityContext.allowPrivilegeEscalation: false.",
    "allowPrivilegeEscalation",
    lambda v: v is False,
    True,
)
not_privileged = _container_field_rule(
    "not-privileged",
    "No privileged containers.",
    "critical",
    "Remove securityContext.privileged or set it to false.",
    "privileged",
    lambda v: not v,
    True,
)


@resource_rule(
    "high-uid-gid",
    "Containers run with UID and GID of at least 10000 (outside host user ranges).",
    "medium",
    "Set runAsUser and runAsGroup to 10000 or more (pod or container securityContext).",
    WORKLOADS,
    Example(
        GOOD,
        with_change(
            with_change(GOOD, f"{C0}.securityContext.runAsUser", 1000), f"{POD}.securityContext.runAsUser", 1000
        ),
    ),
    config={"minId": {"type": "integer", "default": 10000}},
    tags=("pod-security",),
)
def high_uid_gid(props, config):
    pod = pod_spec(props)
    for c in containers(props):
        for field in ("runAsUser", "runAsGroup"):
            value = effective(c, pod, field)
            if not isinstance(value, int) or value < config["minId"]:
                yield f"container {c.get('name')}: {field} {value!r} < {config['minId']}"


@resource_rule(
    "drop-all-capabilities",
    "Containers drop ALL Linux capabilities.",
    "medium",
    "Set securityContext.capabilities.drop: [ALL]; add back only what is proven needed.",
    WORKLOADS,
    Example(GOOD, with_change(GOOD, f"{C0}.securityContext.capabilities.drop", ["NET_RAW"])),
    tags=("pod-security",),
)
def drop_all_capabilities(props, config):
    for c in containers(props):
        drops = ((c.get("securityContext") or {}).get("capabilities") or {}).get("drop") or []
        if "ALL" not in drops:
            yield f"container {c.get('name')}: capabilities.drop does not include ALL"


@resource_rule(
    "seccomp-runtime-default",
    "Pods use the RuntimeDefault (or a Localhost) seccomp profile.",
    "medium",
    "Set securityContext.seccompProfile.type: RuntimeDefault on the pod.",
    WORKLOADS,
    Example(
        GOOD,
        with_change(
            with_change(GOOD, f"{POD}.securityContext.seccompProfile", DELETE),
            f"{C0}.securityContext.seccompProfile.type",
            "Unconfined",
        ),
    ),
    tags=("pod-security",),
)
def seccomp_runtime_default(props, config):
    pod = pod_spec(props)
    for c in containers(props):
        profile = effective(c, pod, "seccompProfile") or {}
        if profile.get("type") not in ("RuntimeDefault", "Localhost"):
            yield f"container {c.get('name')}: seccompProfile {profile.get('type')!r}"


@resource_rule(
    "no-host-namespaces",
    "Pods do not share the host's network, PID or IPC namespace.",
    "high",
    "Remove hostNetwork, hostPID and hostIPC from the pod spec.",
    WORKLOADS,
    Example(GOOD, with_change(GOOD, f"{POD}.hostNetwork", True)),
    tags=("pod-security",),
)
def no_host_namespaces(props, config):
    pod = pod_spec(props)
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field):
            yield f"pod sets {field}: true"


@resource_rule(
    "no-host-path",
    "Pods mount no hostPath volumes.",
    "high",
    "Use an emptyDir, a PersistentVolumeClaim, a ConfigMap or a Secret instead of hostPath.",
    WORKLOADS,
    Example(GOOD, with_change(GOOD, f"{POD}.volumes", [{"name": "h", "hostPath": {"path": "/var/run"}}])),
    tags=("pod-security",),
)
def no_host_path(props, config):
    for volume in pod_spec(props).get("volumes") or []:
        if volume.get("hostPath"):
            yield f"volume {volume.get('name')} is a hostPath ({volume['hostPath'].get('path')})"


@resource_rule(
    "no-host-port",
    "Containers bind no host ports.",
    "medium",
    "Remove hostPort; expose the pod through a Service.",
    WORKLOADS,
    Example(GOOD, with_change(GOOD, f"{C0}.ports", [{"containerPort": 8000, "hostPort": 8000}])),
    tags=("pod-security",),
)
def no_host_port(props, config):
    for c in containers(props):
        for port in c.get("ports") or []:
            if port.get("hostPort"):
                yield f"container {c.get('name')}: hostPort {port['hostPort']}"


@resource_rule(
    "no-service-account-token",
    "Pods do not mount a Kubernetes API token they do not need.",
    "medium",
    "Set automountServiceAccountToken: false on the pod (and its ServiceAccount).",
    (*WORKLOADS, "kubernetes:core/v1:ServiceAccount"),
    Example(GOOD, with_change(GOOD, f"{POD}.automountServiceAccountToken", True)),
    tags=("pod-security",),
)
def no_service_account_token(props, config):
    if props.get("kind") == "ServiceAccount":
        if props.get("automountServiceAccountToken") is not False:
            yield "ServiceAccount does not set automountServiceAccountToken: false"
    elif pod_spec(props).get("automountServiceAccountToken") is not False:
        yield "pod does not set automountServiceAccountToken: false"
