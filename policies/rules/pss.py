"""Pod Security Standards controls not covered by workload.py (kubernetes/website
content/en/docs/concepts/security/pod-security-standards.md, baseline and restricted, Kubernetes 1.37).

Each check reads containers, initContainers and ephemeralContainers (k8s.containers) of every
pod-bearing kind (k8s.pod_spec: Pod, the template kinds, CronJob's jobTemplate).
"""

from __future__ import annotations

from .base import Example, resource_rule
from .k8s import WORKLOADS, containers, effective, pod_spec, with_change
from .samples import deployment

GOOD = deployment()
POD = "spec.template.spec"
C0 = f"{POD}.containers.0"

# Restricted "Capabilities": only NET_BIND_SERVICE may be added (beside drop ALL).
ALLOWED_ADDED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
# Baseline "Sysctls": the safe set as published for 1.37 (1.27 ip_local_reserved_ports, 1.29
# tcp_keepalive_*/fin_timeout, 1.32 tcp_rmem/wmem).
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",
    }
)
# Baseline "SELinux": allowed types ("" = unset); user and role must be unset.
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
# Restricted "Volume Types".
VOLUME_TYPES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
)
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


def _sc(c) -> dict:
    return c.get("securityContext") or {}


@resource_rule(
    "pss-capabilities-added",
    "PSS restricted Capabilities: containers add no capability but NET_BIND_SERVICE.",
    "high",
    "Remove securityContext.capabilities.add entries other than NET_BIND_SERVICE.",
    WORKLOADS,
    Example(GOOD, with_change(GOOD, f"{C0}.securityContext.capabilities.add", ["SYS_ADMIN"])),
    tags=("pod-security", "pss-restricted"),
)
def capabilities_added(props, config):
    for c in containers(props):
        added = set((_sc(c).get("capabilities") or {}).get("add") or []) - ALLOWED_ADDED_CAPABILITIES
        if added:
            yield f"container {c.get('name')}: capabilities.add {sorted(added)}"


@resource_rule(
    "pss-proc-mount",
    "PSS baseline /proc Mount Type: procMount is Default (or unset).",
    "high",
    "Remove securityContext.procMount (or set Default).",
    WORKLOADS,
    Example(GOOD, with_change(GOOD, f"{C0}.securityContext.procMount", "Unmasked")),
    tags=("pod-security", "pss-baseline"),
)
def proc_mount(props, config):
    for c in containers(props):
        if _sc(c).get("procMount") not in (None, "Default"):
            yield f"container {c.get('name')}: procMount {_sc(c)['procMount']!r}"


@resource_rule(
    "pss-sysctls",
    "PSS baseline Sysctls: only the safe sysctl set.",
    "high",
    "Remove unsafe sysctls from the pod securityContext.",
    WORKLOADS,
    Example(GOOD, with_change(GOOD, f"{POD}.securityContext.sysctls", [{"name": "kernel.msgmax", "value": "65536"}])),
    tags=("pod-security", "pss-baseline"),
)
def sysctls(props, config):
    for entry in (pod_spec(props).get("securityContext") or {}).get("sysctls") or []:
        if entry.get("name") not in SAFE_SYSCTLS:
            yield f"pod sysctl {entry.get('name')!r} is not in the safe set"


@resource_rule(
    "pss-apparmor",
    "PSS baseline AppArmor: profile RuntimeDefault or Localhost (field or annotation), never Unconfined.",
    "high",
    "Set appArmorProfile.type RuntimeDefault (or Localhost), or drop the override.",
    WORKLOADS,
    Example(GOOD, with_change(GOOD, f"{C0}.securityContext.appArmorProfile", {"type": "Unconfined"})),
    tags=("pod-security", "pss-baseline"),
)
def apparmor(props, config):
    pod = pod_spec(props)
    for c in containers(props):
        profile = effective(c, pod, "appArmorProfile") or {}
        if profile.get("type") not in (None, "RuntimeDefault", "Localhost"):
            yield f"container {c.get('name')}: appArmorProfile {profile.get('type')!r}"
    meta = (
        props.get("metadata")
        if props.get("kind") == "Pod"
        else (props.get("spec") or {}).get("template", {}).get("metadata")
    )
    for key, value in ((meta or {}).get("annotations") or {}).items():
        if (
            key.startswith(APPARMOR_ANNOTATION)
            and value != "runtime/default"
            and not str(value).startswith("localhost/")
        ):
            yield f"annotation {key}: {value!r}"


@resource_rule(
    "pss-selinux",
    "PSS baseline SELinux: seLinuxOptions.type is a container type; user and role unset.",
    "high",
    "Remove seLinuxOptions.user/role; use type container_t (or leave it unset).",
    WORKLOADS,
    Example(GOOD, with_change(GOOD, f"{C0}.securityContext.seLinuxOptions", {"type": "spc_t"})),
    tags=("pod-security", "pss-baseline"),
)
def selinux(props, config):
    contexts = [("pod", pod_spec(props).get("securityContext") or {})] + [
        (f"container {c.get('name')}", _sc(c)) for c in containers(props)
    ]
    for where, sc in contexts:
        options = sc.get("seLinuxOptions") or {}
        if options.get("type", "") not in SELINUX_TYPES:
            yield f"{where}: seLinuxOptions.type {options['type']!r}"
        for field in ("user", "role"):
            if options.get(field):
                yield f"{where}: seLinuxOptions.{field} set"


@resource_rule(
    "pss-volume-types",
    "PSS restricted Volume Types: only configMap, csi, downwardAPI, emptyDir, ephemeral, PVC, projected, secret.",
    "high",
    "Replace the volume with one of the allowed types.",
    WORKLOADS,
    Example(GOOD, with_change(GOOD, f"{POD}.volumes", [{"name": "n", "nfs": {"server": "nfs", "path": "/"}}])),
    tags=("pod-security", "pss-restricted"),
)
def volume_types(props, config):
    for volume in pod_spec(props).get("volumes") or []:
        kinds = set(volume) - {"name"} - VOLUME_TYPES
        if kinds:
            yield f"volume {volume.get('name')}: type {sorted(kinds)} not allowed"


@resource_rule(
    "pss-host-process",
    "PSS baseline HostProcess: no Windows HostProcess containers.",
    "critical",
    "Remove windowsOptions.hostProcess.",
    WORKLOADS,
    Example(GOOD, with_change(GOOD, f"{C0}.securityContext.windowsOptions", {"hostProcess": True})),
    tags=("pod-security", "pss-baseline"),
)
def host_process(props, config):
    pod = pod_spec(props)
    for c in containers(props):
        if (effective(c, pod, "windowsOptions") or {}).get("hostProcess"):
            yield f"container {c.get('name')}: windowsOptions.hostProcess true"


@resource_rule(
    "pss-run-as-user-not-root",
    "PSS restricted Running as Non-root user: runAsUser is never 0.",
    "high",
    "Set runAsUser to a non-zero UID.",
    WORKLOADS,
    Example(GOOD, with_change(GOOD, f"{C0}.securityContext.runAsUser", 0)),
    tags=("pod-security", "pss-restricted"),
)
def run_as_user_not_root(props, config):
    pod = pod_spec(props)
    for c in containers(props):
        for sc, where in ((_sc(c), f"container {c.get('name')}"), (pod.get("securityContext") or {}, "pod")):
            if sc.get("runAsUser") == 0:
                yield f"{where}: runAsUser 0"
