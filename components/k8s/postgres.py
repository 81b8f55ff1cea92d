"""Postgres: the checkpoint store (LangGraph's PostgresSaver), in-cluster or external."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.config import PostgresConfig
from components.datastores import POSTGRES_PORT, pg_isready, postgres_url
from components.k8s import pod
from components.k8s.datastore import Datastore

core = k8s.core.v1


class Postgres(Datastore):
    store = "postgres"
    port = POSTGRES_PORT
    url_key = "DATABASE_URL"
    data_path = "/var/lib/postgresql/data"
    # The entrypoint writes its socket and lock files here; the root filesystem is read-only.
    scratch_paths = ("/tmp", "/var/run/postgresql")
    config: PostgresConfig

    def connection_url(self, password: pulumi.Output[str], host: pulumi.Output[str]) -> pulumi.Output[str]:
        return postgres_url(self.config, password, host)

    def container(self) -> core.ContainerArgs:
        c = self.config
        ready = pg_isready(c)
        return core.ContainerArgs(
            name=self.store,
            image=c.image,
            image_pull_policy="Always",  # cheap with a digest, and a moved tag is noticed without one
            ports=[core.ContainerPortArgs(name=self.store, container_port=self.port, protocol="TCP")],
            env=[
                core.EnvVarArgs(name="POSTGRES_USER", value=c.user),
                core.EnvVarArgs(name="POSTGRES_DB", value=c.database),
                # initdb refuses a mount point that holds lost+found; use a subdirectory.
                core.EnvVarArgs(name="PGDATA", value=f"{self.data_path}/pgdata"),
                # The image reads the password from a file: no secret in the environment.
                core.EnvVarArgs(name="POSTGRES_PASSWORD_FILE", value=f"{self.credentials_dir}/password"),
            ],
            resources=pod.resource_requirements(c.resources),
            security_context=pod.container_security_context(c.security_context),
            readiness_probe=pod.exec_probe(ready, period=5, timeout=3, failures=3),
            liveness_probe=pod.exec_probe(ready, period=15, timeout=5, failures=6, initial_delay=30),
            volume_mounts=self.volume_mounts(),
        )
