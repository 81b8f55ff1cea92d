"""A Docker host: the proxy and the backups."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
)

from agent_platform.settings.base import Model
from agent_platform.settings.pod import ResourceAmounts, Resources
from agent_platform.settings.values import Image, Int, IpAddress, Port

# A Docker host runs each replica of a service as a container created after the one before it (an
# image bump replaces them one at a time: agent_platform/docker/platform.py), so the replicas are a
# dependency chain as long as their count, which the Pulumi SDK walks recursively for every new one
# (pulumi/runtime/resource_cycle_breaker.py _with_transitive_deps): the time grows with the square of
# the count (600: 23 s) and past about 950 the walk ends in RecursionError (2000: after 124 s). One
# host running more than 100 replicas of a service is past what it is for.
DOCKER_MAX_REPLICAS = 100


class ProxyConfig(Model):
    image: Image = Field(
        "nginxinc/nginx-unprivileged:1.27-alpine@sha256:65e3e85dbaed8ba248841d9d58a899b6197106c23cb0ff1a132b7bfe0547e4c0",
        description="Reverse proxy image (non-root nginx, listens on 8080).",
    )
    host_port: Port = Field(8080, description="Host port the proxy is published on.")
    bind_address: IpAddress = Field(
        "127.0.0.1", description="Host address the port binds to; loopback unless you mean to expose it."
    )
    resources: Resources = Field(
        Resources(
            requests=ResourceAmounts(cpu="100m", memory="64Mi"), limits=ResourceAmounts(cpu="500m", memory="128Mi")
        ),
        description="CPU and memory limits of the proxy.",
    )


class DockerBackupConfig(Model):
    """pgBackRest on the Docker host, when `postgres.backup` is enabled there.

    Postgres runs `archive_command` inside its own container, so `postgres.image` must contain
    pgbackrest; the backup containers run that same image, since pgBackRest wants one version on
    both sides of a repository.
    """

    archive_timeout_seconds: Int = Field(
        60,
        ge=1,
        le=3600,
        description="Postgres `archive_timeout`: a WAL segment is closed and archived at least this often under "
        "any write load, which bounds the commits at risk (RPO) when the disk is lost.",
    )
    compress_type: Literal["lz4", "zst", "gz", "none"] = Field(
        "lz4", description="pgBackRest `compress-type` of the repository (lz4: fastest restore)."
    )
    resources: Resources = Field(
        Resources(requests=ResourceAmounts(cpu="100m", memory="64Mi"), limits=ResourceAmounts(cpu="1", memory="256Mi")),
        description="CPU and memory limits of the backup containers (the scheduler and the one-shot base backup).",
    )


class DockerMonitoringConfig(Model):
    """Prometheus and the Postgres and Redis exporters on the Docker host, when `monitoring.enabled`.

    No image is assumed: each is named here, pinned like any other. The interface the containers
    expect is the upstream images' (prom/prometheus: `/bin/prometheus`; prometheus-community's
    postgres-exporter: `/bin/postgres_exporter`; oliver006/redis_exporter's alpine variant:
    `/redis_exporter`), each with `sh` (the generated config is written at start) and `wget` (the
    health check): images/README.md says how the e2e images keep it.
    """

    prometheus_image: Image | None = Field(
        None, description="Prometheus image (`/bin/prometheus`, `sh`, `wget`); required with `monitoring.enabled`."
    )
    postgres_exporter_image: Image | None = Field(
        None,
        description="postgres_exporter image (`/bin/postgres_exporter`, `sh`, `wget`); required with "
        "`monitoring.enabled` and an in-stack Postgres.",
    )
    redis_exporter_image: Image | None = Field(
        None,
        description="redis_exporter image (`/redis_exporter`, `sh`, `wget`: the upstream `-alpine` tags); required "
        "with `monitoring.enabled` and an in-stack Redis.",
    )
    host_port: Port = Field(9090, description="Host port Prometheus' web UI and HTTP API are published on.")
    bind_address: IpAddress = Field(
        "127.0.0.1", description="Host address Prometheus' port binds to; loopback unless you mean to expose it."
    )
    scrape_interval_seconds: Int = Field(
        15, ge=5, le=300, description="How often Prometheus scrapes each target (the scrape timeout: at most 10 s)."
    )
    evaluation_interval_seconds: Int = Field(
        15, ge=1, le=300, description="How often Prometheus evaluates the alert rules."
    )
    alert_for_seconds: Int | None = Field(
        None,
        ge=0,
        le=86400,
        description="One `for` for every alert instead of each alert's own (docs/observability.md): for a test "
        "stack that must see an alert fire within minutes; leave unset in a real one.",
    )
    retention_days: Int = Field(15, ge=1, le=3650, description="How long Prometheus keeps samples.")
    resources: Resources = Field(
        Resources(requests=ResourceAmounts(cpu="100m", memory="256Mi"), limits=ResourceAmounts(cpu="1", memory="1Gi")),
        description="CPU and memory limits of Prometheus.",
    )
    exporter_resources: Resources = Field(
        Resources(
            requests=ResourceAmounts(cpu="50m", memory="32Mi"), limits=ResourceAmounts(cpu="250m", memory="128Mi")
        ),
        description="CPU and memory limits of each exporter.",
    )


class DockerConfig(Model):
    backup: DockerBackupConfig = Field(
        DockerBackupConfig(), description="Backups of Postgres on this host (pgBackRest; `postgres.backup`)."
    )
    monitoring: DockerMonitoringConfig = Field(
        DockerMonitoringConfig(),
        description="Prometheus and the exporters on this host (`monitoring.enabled`; docs/observability.md).",
    )
    host: str = Field("unix:///var/run/docker.sock", description="Docker daemon address (`DOCKER_HOST` form).")
    proxy: ProxyConfig = Field(ProxyConfig(), description="The nginx reverse proxy in front of the app replicas.")
    postgres_user: str = Field(
        "70:70",
        pattern=r"^[1-9]\d*:[1-9]\d*$",
        description="UID:GID Postgres runs as (the alpine image's `postgres` user owns its data dir).",
    )
    redis_user: str = Field(
        "999:1000",
        pattern=r"^[1-9]\d*:[1-9]\d*$",
        description="UID:GID Redis runs as (the alpine image's `redis` user).",
    )
