"""HardenedContainer: one container on the Docker host with the secure defaults built in.

Read-only root with tmpfs where the process writes, ALL capabilities dropped,
no-new-privileges, a non-root user, a memory and CPU limit, a restart policy, a
healthcheck and a wait until healthy. Callers cannot forget any of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import pulumi
import pulumi_docker as docker

from components.config import Resources, quantity_value


@dataclass
class ContainerSpec:
    name: str
    image: pulumi.Input[str]
    user: str
    resources: Resources
    healthcheck: Sequence[str]                    # Docker healthcheck test, e.g. ["CMD", "pg_isready"]
    networks: Sequence[tuple[pulumi.Input[str], Sequence[str]]]  # (network name, aliases)
    env: dict[str, pulumi.Input[str]] = field(default_factory=dict)   # secret values stay Pulumi secrets
    command: Optional[Sequence[str]] = None
    tmpfs: Sequence[str] = ("/tmp",)
    volumes: Sequence[tuple[pulumi.Input[str], str]] = ()           # (volume name, container path)
    ports: Sequence[tuple[int, int, str]] = ()                     # (container port, host port, bind address)
    uploads: Sequence[tuple[str, pulumi.Input[str]]] = ()          # (path, content): generated config files
    start_period: str = "20s"
    stop_grace_seconds: int = 30


def memory_mb(quantity: str) -> int:
    return max(6, int(quantity_value(quantity) / 2**20))


def hardened_container(spec: ContainerSpec, opts: pulumi.ResourceOptions) -> docker.Container:
    return docker.Container(
        spec.name,
        name=spec.name,
        image=spec.image,
        user=spec.user,
        envs=[pulumi.Output.concat(k, "=", v) for k, v in sorted(spec.env.items())],
        command=list(spec.command) if spec.command else None,
        read_only=True,
        tmpfs={path: "rw,noexec,nosuid,size=64m" for path in spec.tmpfs},
        capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"]),
        security_opts=["no-new-privileges:true"],
        memory=memory_mb(spec.resources.limits.memory),
        cpus=str(quantity_value(spec.resources.limits.cpu)),
        restart="unless-stopped",
        healthcheck=docker.ContainerHealthcheckArgs(
            tests=list(spec.healthcheck), interval="10s", timeout="3s", retries=5, start_period=spec.start_period),
        networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=n, aliases=list(a)) for n, a in spec.networks],
        volumes=[docker.ContainerVolumeArgs(volume_name=v, container_path=p) for v, p in spec.volumes],
        ports=[docker.ContainerPortArgs(internal=i, external=e, ip=ip) for i, e, ip in spec.ports],
        uploads=[docker.ContainerUploadArgs(file=path, content=content) for path, content in spec.uploads],
        destroy_grace_seconds=spec.stop_grace_seconds,
        stop_timeout=spec.stop_grace_seconds,
        stop_signal="SIGTERM",
        wait=True,  # `pulumi up` returns only once the container is healthy
        wait_timeout=180,
        opts=opts,
    )
