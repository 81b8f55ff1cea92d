"""Docker containers (the compose-style stack): the same hardening as the pods."""

from __future__ import annotations

from .base import Example, resource_rule
from .samples import docker_container

CONTAINER = ("docker:index/container:Container",)
GOOD = docker_container()


@resource_rule(
    "docker-non-root",
    "Containers run as a non-root user.",
    "high",
    "Set `user` to a numeric UID:GID of 10000 or more (or the image's non-root user).",
    CONTAINER,
    Example(GOOD, docker_container(user="root")),
    tags=("docker",),
)
def docker_non_root(props, config):
    user = str(props.get("user") or "")
    if user.split(":")[0] in ("", "0", "root"):
        yield f"container {props.get('name')}: runs as {user or 'the image default (root)'}"


@resource_rule(
    "docker-read-only-rootfs",
    "Containers have a read-only root filesystem.",
    "medium",
    "Set read_only=True and mount tmpfs where the process writes.",
    CONTAINER,
    Example(GOOD, docker_container(readOnly=False)),
    tags=("docker",),
)
def docker_read_only_rootfs(props, config):
    if props.get("readOnly") is not True:
        yield f"container {props.get('name')}: root filesystem is writable"


@resource_rule(
    "docker-cap-drop-all",
    "Containers drop ALL capabilities.",
    "medium",
    "Set capabilities.drops=['ALL'] and add back only what is needed.",
    CONTAINER,
    Example(GOOD, docker_container(capabilities={"drops": ["NET_RAW"]})),
    tags=("docker",),
)
def docker_cap_drop_all(props, config):
    if "ALL" not in ((props.get("capabilities") or {}).get("drops") or []):
        yield f"container {props.get('name')}: capabilities are not all dropped"


@resource_rule(
    "docker-no-new-privileges",
    "Containers run with no-new-privileges.",
    "high",
    "Add security_opts=['no-new-privileges:true'].",
    CONTAINER,
    Example(GOOD, docker_container(securityOpts=[])),
    tags=("docker",),
)
def docker_no_new_privileges(props, config):
    opts = props.get("securityOpts") or []
    if not any(o in ("no-new-privileges", "no-new-privileges:true", "no-new-privileges=true") for o in opts):
        yield f"container {props.get('name')}: no-new-privileges is not set"


@resource_rule(
    "docker-ports-loopback",
    "Published ports bind to 127.0.0.1 unless the policy config allows other addresses.",
    "high",
    "Publish on 127.0.0.1 (put a reverse proxy or tunnel in front), or list the address in allowedBindAddresses.",
    CONTAINER,
    Example(GOOD, docker_container(ports=[{"internal": 8000, "external": 8000, "ip": "0.0.0.0"}])),
    config={"allowedBindAddresses": {"type": "array", "items": {"type": "string"}, "default": ["127.0.0.1", "::1"]}},
    tags=("docker",),
)
def docker_ports_loopback(props, config):
    if props.get("publishAllPorts"):
        yield f"container {props.get('name')}: publishAllPorts publishes every exposed port on all addresses"
    for port in props.get("ports") or []:
        ip = port.get("ip") or "0.0.0.0"
        if ip not in config["allowedBindAddresses"]:
            yield f"container {props.get('name')}: port {port.get('external')} published on {ip}"


def one_shot(props) -> bool:
    """A container `pulumi up` runs to its end (a migration): attached, not kept running. The
    provider waits for it to exit and the program checks its exit code
    (terraform-provider-docker resource_docker_container_funcs.go, `attach`)."""
    return props.get("attach") is True and props.get("mustRun") is False


@resource_rule(
    "docker-healthcheck",
    "Long-running containers declare a healthcheck (a one-shot is waited for until it exits).",
    "medium",
    "Add healthcheck.tests (e.g. an HTTP GET of /healthz, pg_isready, redis-cli ping).",
    CONTAINER,
    Example(GOOD, docker_container(healthcheck=None)),
    tags=("docker",),
)
def docker_healthcheck(props, config):
    tests = (props.get("healthcheck") or {}).get("tests") or []
    if (not tests or tests[0] == "NONE") and not one_shot(props):
        yield f"container {props.get('name')}: no healthcheck"


@resource_rule(
    "docker-restart-policy",
    "Long-running containers restart after a crash or a host reboot; a one-shot never restarts.",
    "medium",
    "Set restart='unless-stopped' (or 'always' / 'on-failure'); on a one-shot (attach, mustRun false), restart='no'.",
    CONTAINER,
    Example(GOOD, docker_container(restart="no")),
    tags=("docker",),
)
def docker_restart_policy(props, config):
    restart = props.get("restart")
    if one_shot(props):
        if restart not in (None, "no"):  # the provider's default is "no"
            yield (
                f"one-shot container {props.get('name')}: restart policy {restart!r} "
                "would run it again after it finished"
            )
    elif restart not in ("always", "unless-stopped", "on-failure"):
        yield f"container {props.get('name')}: restart policy {restart!r}"


@resource_rule(
    "docker-memory-limit",
    "Containers have a memory limit.",
    "medium",
    "Set memory (MB) so one runaway container cannot take the host down.",
    CONTAINER,
    Example(GOOD, docker_container(memory=0)),
    tags=("docker",),
)
def docker_memory_limit(props, config):
    if not props.get("memory"):
        yield f"container {props.get('name')}: no memory limit"


# --------------------------------------------------------------------------- PSS classes, as Docker has them
# Input names are pulumi-docker's Container inputs (pulumi/pulumi-docker sdk/python/pulumi_docker/container.py and
# _inputs.py, generated from provider/cmd/pulumi-resource-docker/schema.json; pinned here as pulumi-docker 5.2.0):
# privileged, networkMode, pidMode, ipcMode, usernsMode, cgroupnsMode, capabilities{adds,drops}, securityOpts,
# sysctls (map), volumes[{hostPath,containerPath,volumeName}], mounts[{source,target,type}], devices[{hostPath}],
# envs ["K=V"], command, entrypoints, healthcheck.tests, cpus (string), cpuQuota, memory (MB), publishAllPorts.

from .base import Unknown  # noqa: E402
from .pss import ALLOWED_ADDED_CAPABILITIES, SAFE_SYSCTLS, SELINUX_TYPES  # noqa: E402
from .secrets import credential_in_words, looks_secret  # noqa: E402


def _opts(props) -> list[tuple[str, str]]:
    """securityOpts as (key, value): Docker accepts both `key=value` and the legacy `key:value`."""
    pairs = []
    for opt in props.get("securityOpts") or []:
        key, sep, value = str(opt).partition("=")
        if not sep:
            key, _, value = str(opt).partition(":")
        pairs.append((key.strip().lower(), value.strip()))
    return pairs


@resource_rule(
    "docker-not-privileged",
    "PSS Privileged Containers: Docker containers are not privileged.",
    "critical",
    "Remove privileged=True; add back only the capability that is proven needed.",
    CONTAINER,
    Example(GOOD, docker_container(privileged=True)),
    tags=("docker",),
)
def docker_not_privileged(props, config):
    if props.get("privileged"):
        yield f"container {props.get('name')}: privileged"


@resource_rule(
    "docker-no-host-namespaces",
    "PSS Host Namespaces: no host network, PID, IPC, user or cgroup namespace.",
    "high",
    "Remove network_mode/pid_mode/ipc_mode/userns_mode/cgroupns_mode 'host'; use a user-defined network.",
    CONTAINER,
    Example(GOOD, docker_container(networkMode="host")),
    tags=("docker",),
)
def docker_no_host_namespaces(props, config):
    for field in ("networkMode", "pidMode", "ipcMode", "usernsMode", "cgroupnsMode"):
        if str(props.get(field) or "").lower() == "host":
            yield f"container {props.get('name')}: {field} host"


def _cap(name: str) -> str:
    name = str(name).upper()
    return name[4:] if name.startswith("CAP_") else name


@resource_rule(
    "docker-capabilities-added",
    "PSS restricted Capabilities: Docker containers add no capability but NET_BIND_SERVICE.",
    "high",
    "Remove capabilities.adds entries other than NET_BIND_SERVICE.",
    CONTAINER,
    Example(GOOD, docker_container(capabilities={"drops": ["ALL"], "adds": ["SYS_ADMIN"]})),
    tags=("docker",),
)
def docker_capabilities_added(props, config):
    added = {_cap(c) for c in (props.get("capabilities") or {}).get("adds") or []} - ALLOWED_ADDED_CAPABILITIES
    if added:
        yield f"container {props.get('name')}: capabilities.adds {sorted(added)}"


@resource_rule(
    "docker-seccomp",
    "PSS Seccomp: Docker containers keep a seccomp profile (no seccomp=unconfined).",
    "high",
    "Remove `seccomp=unconfined` from security_opts (Docker's default profile applies).",
    CONTAINER,
    Example(GOOD, docker_container(securityOpts=["no-new-privileges:true", "seccomp=unconfined"])),
    tags=("docker",),
)
def docker_seccomp(props, config):
    if ("seccomp", "unconfined") in _opts(props):
        yield f"container {props.get('name')}: seccomp unconfined"


@resource_rule(
    "docker-apparmor",
    "PSS AppArmor: Docker containers keep an AppArmor profile (no apparmor=unconfined).",
    "high",
    "Remove `apparmor=unconfined` from security_opts (docker-default applies).",
    CONTAINER,
    Example(GOOD, docker_container(securityOpts=["no-new-privileges:true", "apparmor=unconfined"])),
    tags=("docker",),
)
def docker_apparmor(props, config):
    if ("apparmor", "unconfined") in _opts(props):
        yield f"container {props.get('name')}: apparmor unconfined"


@resource_rule(
    "docker-selinux",
    "PSS SELinux: labeling stays on, the type is a container type, user and role unset.",
    "high",
    "Remove `label=disable` / `label=user:` / `label=role:`; use `label=type:container_t` or nothing.",
    CONTAINER,
    Example(GOOD, docker_container(securityOpts=["no-new-privileges:true", "label=disable"])),
    tags=("docker",),
)
def docker_selinux(props, config):
    for key, value in _opts(props):
        if key != "label":
            continue
        field, _, setting = value.partition(":")
        if value == "disable" or field in ("user", "role") or (field == "type" and setting not in SELINUX_TYPES):
            yield f"container {props.get('name')}: security opt label={value}"


@resource_rule(
    "docker-proc-mount",
    "PSS /proc Mount Type: Docker keeps /proc and /sys paths masked (no systempaths=unconfined).",
    "high",
    "Remove `systempaths=unconfined` from security_opts.",
    CONTAINER,
    Example(GOOD, docker_container(securityOpts=["no-new-privileges:true", "systempaths=unconfined"])),
    tags=("docker",),
)
def docker_proc_mount(props, config):
    if ("systempaths", "unconfined") in _opts(props):
        yield f"container {props.get('name')}: systempaths unconfined"


@resource_rule(
    "docker-sysctls",
    "PSS Sysctls: Docker containers set only the safe sysctls.",
    "high",
    "Remove sysctls outside the Pod Security Standards' safe set.",
    CONTAINER,
    Example(GOOD, docker_container(sysctls={"kernel.msgmax": "65536"})),
    tags=("docker",),
)
def docker_sysctls(props, config):
    for name in sorted(props.get("sysctls") or {}):
        if name not in SAFE_SYSCTLS:
            yield f"container {props.get('name')}: sysctl {name!r} is not in the safe set"


# Host paths whose bind mount hands the container the host (CIS Docker Benchmark 5.5 and 5.31: system
# directories and the daemon socket). "/" matches only itself; the others match their subtrees too.
HOST_SYSTEM_PATHS = (
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib64",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/sys",
    "/usr",
    "/var/run",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/lib/kubelet",
)
SOCKETS = ("docker.sock", "containerd.sock", "podman.sock", "crio.sock", "docker_engine")


def host_path_problem(path: str) -> str | None:
    import posixpath

    clean = posixpath.normpath(str(path).replace("\\", "/")) if path else ""
    if any(clean.endswith(s) for s in SOCKETS):
        return "the container engine's socket (root on the host)"
    if clean == "/" or any(clean == p or clean.startswith(p + "/") for p in HOST_SYSTEM_PATHS):
        return "a host system path"
    return None


@resource_rule(
    "docker-no-host-mounts",
    "PSS HostPath Volumes: no bind mount of the Docker socket or host system paths, no host devices.",
    "critical",
    "Use a named volume or tmpfs; never mount the engine socket or /, /etc, /proc, /sys, /var/run, /root, /boot, /dev.",
    CONTAINER,
    Example(
        GOOD, docker_container(volumes=[{"hostPath": "/var/run/docker.sock", "containerPath": "/var/run/docker.sock"}])
    ),
    tags=("docker",),
)
def docker_no_host_mounts(props, config):
    name = props.get("name")
    sources = [v.get("hostPath") for v in props.get("volumes") or [] if v.get("hostPath")]
    sources += [
        m.get("source") for m in props.get("mounts") or [] if m.get("type") in ("bind", "npipe") and m.get("source")
    ]
    for source in sources:
        why = host_path_problem(source)
        if why:
            yield f"container {name}: bind mount of {source} ({why})"
    for device in props.get("devices") or []:
        yield f"container {name}: host device {device.get('hostPath')}"


@resource_rule(
    "docker-no-literal-secrets",
    "No credential in a Docker container's command, entrypoint or healthcheck.",
    "critical",
    'Reference an environment variable or a file instead ("$REDIS_PASSWORD", POSTGRES_PASSWORD_FILE) and rotate the '
    "exposed one.",
    CONTAINER,
    Example(GOOD, docker_container(command=["redis-server", "--requirepass", "hunter2-hunter2"])),
    tags=("docker", "secrets"),
)
def docker_no_literal_secrets(props, config):
    name = props.get("name")
    for field, words in (
        ("command", props.get("command")),
        ("entrypoints", props.get("entrypoints")),
        ("healthcheck.tests", (props.get("healthcheck") or {}).get("tests")),
    ):
        index = credential_in_words([str(w) for w in words or []])
        if index is not None:
            yield f"container {name}: {field} item {index} holds a credential-looking literal"


# A plain Docker host has no secret store: env is how a credential reaches a container, and
# `docker inspect` shows it. The engine hands a pack the plaintext of Pulumi secrets too
# (analyzer_plugin.go KeepSecrets; pulumi-policy unwraps them), so a rule cannot tell a
# hard-coded value from a Pulumi secret here: a stack that accepts env credentials on its
# Docker host says so, with the reason, in its policy config.
@resource_rule(
    "docker-env-credentials",
    "No credential in a Docker container's environment (visible to `docker inspect`).",
    "high",
    "Pass it as a file (POSTGRES_PASSWORD_FILE style) where the image supports it; otherwise declare in the stack's "
    "policy config that this Docker host accepts env credentials, and why.",
    CONTAINER,
    Example(GOOD, docker_container(envs=["LOG_LEVEL=info", "DATABASE_URL=postgresql://agent:hunter2@db:5432/agent"])),
    tags=("docker", "secrets"),
)
def docker_env_credentials(props, config):
    name = props.get("name")
    for entry in props.get("envs") or []:
        if isinstance(entry, Unknown):  # computed from another resource's output and not known yet
            continue
        key, sep, value = str(entry).partition("=")
        why = looks_secret(key, value) if sep else None
        if why:
            yield f"container {name}: env {key}: {why}"


@resource_rule(
    "docker-cpu-limit",
    "Docker containers have a CPU limit.",
    "medium",
    "Set cpus (e.g. '1.0'), or cpu_quota with cpu_period, so one container cannot starve the host.",
    CONTAINER,
    Example(GOOD, docker_container(cpus=None)),
    tags=("docker",),
)
def docker_cpu_limit(props, config):
    cpus = props.get("cpus")
    if not (cpus and float(cpus) > 0) and not (props.get("cpuQuota") or 0) > 0:
        yield f"container {props.get('name')}: no CPU limit (cpus or cpuQuota)"


REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"


@resource_rule(
    "docker-image-tag-set",
    "Docker images name a released tag or a digest, never `latest` or nothing.",
    "high",
    "Pin RemoteImage.name / Container.image to `repo:1.4.2` and, where a registry digest exists, `@sha256:...`.",
    (*CONTAINER, REMOTE_IMAGE),
    Example(GOOD, docker_container(image="registry.example.com/api:latest")),
    tags=("docker", "images"),
)
def docker_image_tag_set(props, config):
    from .workload import split_image

    ref = props.get("image") if "image" in props else props.get("name")
    # An image id computed by a RemoteImage (unknown until pulled, then `sha256:...`) is immutable; the
    # reference it was pulled by is judged on the RemoteImage itself.
    if isinstance(ref, Unknown) or str(ref).startswith("sha256:"):
        return
    _, tag, digest = split_image(str(ref or ""))
    if tag == "latest" or (tag is None and digest is None):
        yield f"image {ref!r} is mutable (no tag, or `latest`)"


# --------------------------------------------------------------------------- images, networks and volumes

from .base import Resource, stack_rule  # noqa: E402
from .datastores import docker_store  # noqa: E402

NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"


def _network(name: str, internal: bool) -> Resource:
    return Resource(NETWORK, name, f"urn:{NETWORK}::{name}", {"name": name, "internal": internal})


def _store_container(network: str) -> Resource:
    props = docker_container(
        name="postgres",
        image="postgres:16.4-alpine@sha256:" + "ab" * 32,
        networksAdvanced=[{"name": network, "aliases": ["postgres"]}],
        volumes=[{"containerPath": "/var/lib/postgresql/data", "volumeName": "pg-data"}],
    )
    return Resource(CONTAINER[0], "postgres", "urn:postgres", props)


def _volume(name: str) -> Resource:
    return Resource(VOLUME, name, f"urn:{VOLUME}::{name}", {"name": name})


@stack_rule(
    "docker-datastores-on-internal-networks",
    "Data-store containers (Postgres, Redis) attach only to `internal` Docker networks, which have no route to "
    "or from outside the host's containers (Docker: `docker network create --internal`).",
    "high",
    "Attach Postgres and Redis to the stack's internal backend network only.",
    Example(
        [_network("backend", True), _store_container("backend"), _volume("pg-data")],
        [_network("frontend", False), _store_container("frontend"), _volume("pg-data")],
    ),
    tags=("docker", "network"),
    reads=(CONTAINER[0], NETWORK),
)
def docker_datastores_on_internal_networks(resources, config):
    internal = {r.props.get("name"): bool(r.props.get("internal")) for r in resources if r.type == NETWORK}
    for r in resources:
        if r.type != CONTAINER[0] or not docker_store(r.props):
            continue
        for attached in r.props.get("networksAdvanced") or []:
            name = attached.get("name")
            if name in internal and not internal[name]:
                yield f"container {r.props.get('name')}: data store on non-internal network {name}", r.urn


@stack_rule(
    "docker-datastore-volumes-declared",
    "Every named volume a data-store container mounts is a docker Volume of the stack, so Pulumi owns (and can "
    "protect) it; Docker silently creates an undeclared name, outside the stack (Docker: volumes).",
    "medium",
    "Declare the volume (the platform's `<store>-data` Volume) and mount it by its name.",
    Example(
        [_network("backend", True), _store_container("backend"), _volume("pg-data")],
        [_network("backend", True), _store_container("backend")],
    ),
    tags=("docker", "data"),
    reads=(CONTAINER[0], VOLUME),
)
def docker_datastore_volumes_declared(resources, config):
    declared = {r.props.get("name") for r in resources if r.type == VOLUME}
    for r in resources:
        if r.type != CONTAINER[0] or not docker_store(r.props):
            continue
        for volume in r.props.get("volumes") or []:
            name = volume.get("volumeName")
            if name and name not in declared:
                yield f"container {r.props.get('name')}: volume {name} is not declared in the stack", r.urn
