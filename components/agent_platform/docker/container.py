"""HardenedContainer: one container on the Docker host with the secure defaults built in.

Read-only root with tmpfs where the process writes, ALL capabilities dropped,
no-new-privileges, a non-root user, a memory and CPU limit, a restart policy, a
healthcheck and a wait until healthy (a one-shot: a wait until it exits, and its exit
code checked). Callers cannot forget any of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from agent_platform.settings.pod import Resources
from agent_platform.settings.values import quantity_value


@dataclass
class ContainerSpec:
    name: str
    image: pulumi.Input[str]
    user: str
    resources: Resources
    healthcheck: Sequence[str]  # Docker healthcheck test, e.g. ["CMD", "pg_isready"]
    networks: Sequence[tuple[pulumi.Input[str], Sequence[str]]]  # (network name, aliases)
    env: dict[str, pulumi.Input[str]] = field(default_factory=dict)  # secret values stay Pulumi secrets
    command: Sequence[str] | None = None
    tmpfs: Sequence[str] = ("/tmp",)
    volumes: Sequence[tuple[pulumi.Input[str], str]] = ()  # (volume name, container path)
    read_only_volumes: Sequence[tuple[pulumi.Input[str], str]] = ()  # mounted read-only
    ports: Sequence[tuple[int, int, str]] = ()  # (container port, host port, bind address)
    # (path, content): generated config files, written at start into a tmpfs (see start_files).
    files: Sequence[tuple[str, str]] = ()
    start_period: str = "20s"
    stop_grace_seconds: int = 30
    wait_seconds: int = 180  # how long `pulumi up` waits for it to turn healthy
    # A one-shot (a migration) runs to its end instead of serving: the provider attaches and
    # waits for it to exit, and its exit code is an output (see one_shot_succeeded).
    one_shot: bool = False
    # No network at all (`network_mode: none`): for a container that needs none (the backup
    # containers reach Postgres over its Unix socket only).
    no_network: bool = False
    stop_signal: str = "SIGTERM"


def memory_mb(quantity: str) -> int:
    return max(6, int(quantity_value(quantity) / 2**20))


FILE_ENV = "AGENT_PLATFORM_FILE_{}"


def start_files(
    files: Sequence[tuple[str, str]], tmpfs: Sequence[str], command: Sequence[str]
) -> tuple[dict[str, str], list[str]]:
    """Env vars and a command that write generated files into tmpfs paths, then exec `command`.

    Not pulumi-docker `uploads`: the provider copies them into the container before it
    starts (pulumi-docker provider/resource_docker_container_funcs.go, CopyToContainer),
    and the Docker daemon refuses to copy into a read-only root filesystem unless the path
    is a volume (moby daemon/archive.go, ErrRootFSReadOnly). A tmpfs exists only once the
    container runs, so the file is written then, from the environment.
    """
    env: dict[str, str] = {}
    script = []
    for i, (path, content) in enumerate(files):
        directory = path.rsplit("/", 1)[0]
        if directory not in tmpfs:
            raise ValueError(f"{path}: a generated file must live in one of the tmpfs paths {list(tmpfs)}")
        env[FILE_ENV.format(i)] = content
        script.append(f'printf "%s" "${FILE_ENV.format(i)}" > {path}')
    return env, ["sh", "-c", " && ".join([*script, 'exec "$@"']), "sh", *command]


def scratch_options(user: str) -> str:
    """tmpfs options owned by the container's own UID:GID.

    Docker gives a tmpfs over an existing image directory that directory's mode with root
    as owner, so a non-root process cannot write into e.g. /var/run/postgresql unless the
    image made it world-writable (found by the first real run, tools/e2e-docker.sh).
    """
    uid, _, gid = user.partition(":")
    return f"rw,noexec,nosuid,size=64m,uid={uid},gid={gid or uid}"


def hardened_container(spec: ContainerSpec, opts: pulumi.ResourceOptions) -> docker.Container:
    """A long-running container that `pulumi up` waits for until healthy, or a one-shot that
    `pulumi up` waits for until it exits: terraform-provider-docker v4.5.0
    resource_docker_container_funcs.go, `attach` -> ContainerWait(not-running), then Read
    sets `exit_code` of a stopped container; `must_run: false` keeps a stopped one in place.
    A restart policy would run a finished one-shot again (`unless-stopped` forever), so it has
    none; it has no healthcheck because it never serves."""
    env, command = dict(spec.env), list(spec.command) if spec.command else None
    if spec.files:
        if not command:
            raise ValueError(f"{spec.name}: generated files need an explicit command to exec afterwards")
        file_env, command = start_files(spec.files, spec.tmpfs, command)
        env.update(file_env)
    return docker.Container(
        spec.name,
        name=spec.name,
        image=spec.image,
        user=spec.user,
        envs=[pulumi.Output.concat(k, "=", v) for k, v in sorted(env.items())],
        command=command,
        read_only=True,
        tmpfs={path: scratch_options(spec.user) for path in spec.tmpfs},
        capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"]),
        security_opts=["no-new-privileges:true"],
        memory=memory_mb(spec.resources.limits.memory),
        cpus=str(quantity_value(spec.resources.limits.cpu)),
        restart="no" if spec.one_shot else "unless-stopped",
        healthcheck=None
        if spec.one_shot
        else docker.ContainerHealthcheckArgs(
            tests=list(spec.healthcheck), interval="10s", timeout="3s", retries=5, start_period=spec.start_period
        ),
        networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=n, aliases=list(a)) for n, a in spec.networks],
        **(dict(network_mode="none") if spec.no_network else {}),
        volumes=[docker.ContainerVolumeArgs(volume_name=v, container_path=p) for v, p in spec.volumes]
        + [
            docker.ContainerVolumeArgs(volume_name=v, container_path=p, read_only=True)
            for v, p in spec.read_only_volumes
        ],
        ports=[docker.ContainerPortArgs(internal=i, external=e, ip=ip) for i, e, ip in spec.ports],
        destroy_grace_seconds=spec.stop_grace_seconds,
        stop_timeout=spec.stop_grace_seconds,
        stop_signal=spec.stop_signal,
        **(
            dict(attach=True, must_run=False) if spec.one_shot else dict(wait=True, wait_timeout=spec.wait_seconds)
        ),  # `pulumi up` returns only once the container is healthy
        opts=opts,
    )


def one_shot_succeeded(container: docker.Container, then: pulumi.Input[str]) -> pulumi.Output[str]:
    """`then`, once the one-shot `container` has exited 0. Whatever takes it as an input waits
    for the one-shot and is never created or replaced after a failed run: the program stops
    with one line naming the container (the engine reports a RunError without a traceback)."""

    def check(args: list) -> str:
        code, name, urn, value = args
        if code != 0:
            raise pulumi.RunError(
                f"{name} exited with {code} (`docker logs {name}`): what waits on it was left as it was; "
                f"after fixing the cause, run it again with `pulumi up --replace '{urn}'`"
            )
        return value

    return pulumi.Output.all(container.exit_code, container.name, container.urn, then).apply(check)
