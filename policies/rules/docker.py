"""Docker containers (the compose-style stack): the same hardening as the pods."""

from __future__ import annotations

from .base import Example, resource_rule
from .samples import docker_container

CONTAINER = ("docker:index/container:Container",)
GOOD = docker_container()


@resource_rule("docker-non-root", "Containers run as a non-root user.", "high",
               "Set `user` to a numeric UID:GID of 10000 or more (or the image's non-root user).",
               CONTAINER, Example(GOOD, docker_container(user="root")), tags=("docker",))
def docker_non_root(props, config):
    user = str(props.get("user") or "")
    if user.split(":")[0] in ("", "0", "root"):
        yield f"container {props.get('name')}: runs as {user or 'the image default (root)'}"


@resource_rule("docker-read-only-rootfs", "Containers have a read-only root filesystem.", "medium",
               "Set read_only=True and mount tmpfs where the process writes.",
               CONTAINER, Example(GOOD, docker_container(readOnly=False)), tags=("docker",))
def docker_read_only_rootfs(props, config):
    if props.get("readOnly") is not True:
        yield f"container {props.get('name')}: root filesystem is writable"


@resource_rule("docker-cap-drop-all", "Containers drop ALL capabilities.", "medium",
               "Set capabilities.drops=['ALL'] and add back only what is needed.",
               CONTAINER, Example(GOOD, docker_container(capabilities={"drops": ["NET_RAW"]})), tags=("docker",))
def docker_cap_drop_all(props, config):
    if "ALL" not in ((props.get("capabilities") or {}).get("drops") or []):
        yield f"container {props.get('name')}: capabilities are not all dropped"


@resource_rule("docker-no-new-privileges", "Containers run with no-new-privileges.", "high",
               "Add security_opts=['no-new-privileges:true'].",
               CONTAINER, Example(GOOD, docker_container(securityOpts=[])), tags=("docker",))
def docker_no_new_privileges(props, config):
    opts = props.get("securityOpts") or []
    if not any(o in ("no-new-privileges", "no-new-privileges:true", "no-new-privileges=true") for o in opts):
        yield f"container {props.get('name')}: no-new-privileges is not set"


@resource_rule("docker-ports-loopback", "Published ports bind to 127.0.0.1 unless the policy config allows other addresses.", "high",
               "Publish on 127.0.0.1 (put a reverse proxy or tunnel in front), or list the address in allowedBindAddresses.",
               CONTAINER, Example(GOOD, docker_container(ports=[{"internal": 8000, "external": 8000, "ip": "0.0.0.0"}])),
               config={"allowedBindAddresses": {"type": "array", "items": {"type": "string"}, "default": ["127.0.0.1", "::1"]}},
               tags=("docker",))
def docker_ports_loopback(props, config):
    for port in props.get("ports") or []:
        ip = port.get("ip") or "0.0.0.0"
        if ip not in config["allowedBindAddresses"]:
            yield f"container {props.get('name')}: port {port.get('external')} published on {ip}"


@resource_rule("docker-healthcheck", "Containers declare a healthcheck.", "medium",
               "Add healthcheck.tests (e.g. an HTTP GET of /healthz, pg_isready, redis-cli ping).",
               CONTAINER, Example(GOOD, docker_container(healthcheck=None)), tags=("docker",))
def docker_healthcheck(props, config):
    tests = (props.get("healthcheck") or {}).get("tests") or []
    if not tests or tests[0] == "NONE":
        yield f"container {props.get('name')}: no healthcheck"


@resource_rule("docker-restart-policy", "Containers restart after a crash or a host reboot.", "medium",
               "Set restart='unless-stopped' (or 'always' / 'on-failure').",
               CONTAINER, Example(GOOD, docker_container(restart="no")), tags=("docker",))
def docker_restart_policy(props, config):
    if props.get("restart") not in ("always", "unless-stopped", "on-failure"):
        yield f"container {props.get('name')}: restart policy {props.get('restart')!r}"


@resource_rule("docker-memory-limit", "Containers have a memory limit.", "medium",
               "Set memory (MB) so one runaway container cannot take the host down.",
               CONTAINER, Example(GOOD, docker_container(memory=0)), tags=("docker",))
def docker_memory_limit(props, config):
    if not props.get("memory"):
        yield f"container {props.get('name')}: no memory limit"
