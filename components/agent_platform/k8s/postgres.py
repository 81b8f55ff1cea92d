"""Postgres: the checkpoint store (LangGraph's PostgresSaver), in-cluster or external."""

import pulumi
import pulumi_kubernetes as k8s

from agent_platform.args import PostgresArgs
from agent_platform.k8s import cloudnativepg, pod
from agent_platform.k8s.datastore import GRACE_SECONDS, Datastore
from agent_platform.settings.stores import PostgresConfig
from agent_platform.store_runtime import POSTGRES_PORT, pg_isready, postgres_url

core = k8s.core.v1


class Postgres(Datastore):
    """Postgres, the checkpoint store: in-cluster (generated password, StatefulSet with a retained volume,
    headless Service, NetworkPolicy admitting only its clients) or external; either way the Secret
    `postgres-connection` holds DATABASE_URL."""

    store = "postgres"
    port = POSTGRES_PORT
    url_key = "DATABASE_URL"
    data_path = "/var/lib/postgresql/data"
    # The entrypoint writes its socket and lock files here; the root filesystem is read-only.
    scratch_paths = ("/tmp", "/var/run/postgresql")
    settings_model = PostgresConfig
    args_type = PostgresArgs

    def __init__(self, resource_name: str, args: PostgresArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(resource_name, args, opts)

    def operator_managed(
        self, child: pulumi.ResourceOptions, keep: pulumi.ResourceOptions, metrics_namespace: str
    ) -> str:
        """CloudNativePG: our own basic-auth Secret for the owner role (the Cluster bootstraps it, so the
        connection Secret can hold a URL to the pooler with the same password), then the Cluster and
        its backups, pooler, policies and drill (k8s/cloudnativepg/)."""
        self.app_secret_name = f"{self.store}-app-credentials"
        self.app_secret = core.Secret(
            self.app_secret_name,
            metadata=self.meta(self.app_secret_name),
            type="kubernetes.io/basic-auth",
            string_data={"username": self.config.user, "password": self.password.result},
            opts=pulumi.ResourceOptions.merge(child, keep),
        )
        owner = cloudnativepg.PostgresOwner(
            self.config,
            self.meta,
            self.labels,
            self.app_secret,
            self.app_secret_name,
            self.client_label,
            self.pull_secrets,
            self.scaler_namespace,
            self.namespace,
            self,
        )
        return cloudnativepg.build(owner, child, keep, metrics_namespace)

    def backend_extras(self) -> dict:
        c = self.config
        if c.mode != "cloudnativepg":
            return {}
        extras: dict = {"pod_labels": cloudnativepg.serving_labels(c)}
        if c.backup.enabled and c.backup.before_migration:
            extras["backup_cluster"] = cloudnativepg.cluster_name(c)
        return extras

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
            # The kubelet's SIGTERM is Postgres' smart shutdown, which waits for every client to
            # disconnect; the agents' pools never do, so each drain, image bump or node restart
            # ran into the grace period and ended in SIGKILL and crash recovery. A fast shutdown
            # first (what the official image's STOPSIGNAL SIGINT asks for, which the kubelet does
            # not honour): open transactions roll back, a checkpoint, a clean exit.
            lifecycle=core.LifecycleArgs(
                pre_stop=core.LifecycleHandlerArgs(
                    exec_=core.ExecActionArgs(
                        command=[
                            "pg_ctl",
                            "stop",
                            "-D",
                            f"{self.data_path}/pgdata",
                            "-m",
                            "fast",
                            "-w",
                            "-t",
                            str(GRACE_SECONDS - 10),
                        ]
                    )
                )
            ),
            volume_mounts=self.volume_mounts(),
        )
