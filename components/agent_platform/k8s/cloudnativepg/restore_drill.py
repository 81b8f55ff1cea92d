"""The scheduled restore drill: restore the latest backup into a throwaway Cluster, check it, delete it."""

from __future__ import annotations

import functools
import json
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from agent_platform.k8s import pod
from agent_platform.k8s.cloudnativepg.cluster import cluster_spec
from agent_platform.k8s.cloudnativepg.names import CLUSTER_LABEL, CNPG, RESTORE_DRILL, PostgresOwner
from agent_platform.k8s.peers import tcp
from agent_platform.labels import selector_labels
from agent_platform.settings.stores import DRILL_RESOURCES, PostgresConfig
from agent_platform.store_runtime import POSTGRES_PORT

core = k8s.core.v1
meta = k8s.meta.v1
net = k8s.networking.v1
rbac = k8s.rbac.v1
batch = k8s.batch.v1


def drill_cluster_manifest(c: PostgresConfig, source: str, pull_secrets: list[str]) -> dict[str, Any]:
    """The throwaway one-instance Cluster recovering the latest backup and WAL of `source`."""
    drill_cluster = f"{source}-drill"
    manifest = {
        "apiVersion": CNPG,
        "kind": "Cluster",
        "metadata": {"name": drill_cluster, "labels": {"app.kubernetes.io/component": "restore-drill"}},
        "spec": cluster_spec(
            c,
            drill_cluster,
            f"{drill_cluster}-app",
            {"app.kubernetes.io/component": "restore-drill"},
            pull_secrets,
            instances=1,
            recover_from=source,
            archive=False,  # a drill never writes into the archive it checks
        ),
    }
    # The operator generates the drill's app Secret when recovery names none: drop ours.
    del manifest["spec"]["bootstrap"]["recovery"]["secret"]
    return manifest


def _kubectl(c: PostgresConfig, step: str, *words: str) -> core.ContainerArgs:
    """One drill step: a kubectl command, hardened, with the projected token and the Cluster manifest."""
    d = c.restore_drill
    return core.ContainerArgs(
        name=step,
        image=d.image,
        image_pull_policy="IfNotPresent",
        command=["kubectl", *words],
        # kubectl keeps its discovery cache under $HOME/.kube: the scratch volume, the root is read-only.
        env=[core.EnvVarArgs(name="HOME", value="/tmp")],
        resources=pod.resource_requirements(DRILL_RESOURCES),
        security_context=pod.container_security_context(c.security_context),
        volume_mounts=[
            core.VolumeMountArgs(name=pod.TMP_VOLUME, mount_path="/tmp"),
            core.VolumeMountArgs(name="manifest", mount_path="/drill", read_only=True),
            core.VolumeMountArgs(name="token", mount_path=TOKEN_PATH, read_only=True),
        ],
    )


def _check(c: PostgresConfig, drill_cluster: str) -> core.ContainerArgs:
    """`check_sql` against the restored database as its owner (psql, the Cluster's own image)."""
    d = c.restore_drill
    return core.ContainerArgs(
        name="check",
        image=c.image,
        image_pull_policy="IfNotPresent",
        command=["psql", "--no-psqlrc", "--set=ON_ERROR_STOP=1", "--command", d.check_sql],
        # --dbname takes a URI; Kubernetes expands $(VAR) from the env (the operator's `<cluster>-app` Secret).
        args=["--dbname", "$(DRILL_DATABASE_URL)"],
        env=[pod.secret_env("DRILL_DATABASE_URL", f"{drill_cluster}-app", "uri")],
        resources=pod.resource_requirements(DRILL_RESOURCES),
        security_context=pod.container_security_context(c.security_context),
        volume_mounts=[core.VolumeMountArgs(name=pod.TMP_VOLUME, mount_path="/tmp")],
    )


def _token_volume() -> core.VolumeArgs:
    """The drill's own token, CA and namespace, mounted only into the kubectl steps."""
    return core.VolumeArgs(
        name="token",
        projected=core.ProjectedVolumeSourceArgs(
            default_mode=0o440,
            sources=[
                core.VolumeProjectionArgs(
                    service_account_token=core.ServiceAccountTokenProjectionArgs(path="token", expiration_seconds=3600)
                ),
                core.VolumeProjectionArgs(
                    config_map=core.ConfigMapProjectionArgs(
                        name="kube-root-ca.crt", items=[core.KeyToPathArgs(key="ca.crt", path="ca.crt")]
                    )
                ),
                core.VolumeProjectionArgs(
                    downward_api=core.DownwardAPIProjectionArgs(
                        items=[
                            core.DownwardAPIVolumeFileArgs(
                                path="namespace",
                                field_ref=core.ObjectFieldSelectorArgs(field_path="metadata.namespace"),
                            )
                        ]
                    )
                ),
            ],
        ),
    )


def drill_pod(
    c: PostgresConfig, source: str, labels: dict[str, str], pull_secrets: list[str]
) -> core.PodTemplateSpecArgs:
    """The drill's pod: each step an init container (a failed step fails the Job), then the clean-up."""
    name, drill_cluster, timeout = RESTORE_DRILL, f"{source}-drill", f"{c.restore_drill.timeout_minutes}m"
    kubectl = functools.partial(_kubectl, c)
    steps = [
        kubectl(
            "clear-leftover", "delete", "cluster", drill_cluster, "--ignore-not-found", "--wait", f"--timeout={timeout}"
        ),
        kubectl("restore", "apply", "--filename", "/drill/cluster.json"),
        kubectl("await-recovery", "wait", f"cluster/{drill_cluster}", "--for=condition=Ready", f"--timeout={timeout}"),
        _check(c, drill_cluster),
    ]
    token = _token_volume()
    return core.PodTemplateSpecArgs(
        metadata=meta.ObjectMetaArgs(labels=labels),
        spec=core.PodSpecArgs(
            service_account_name=name,
            # The token is mounted by the projected volume above, only into the kubectl steps.
            automount_service_account_token=False,
            enable_service_links=False,
            restart_policy="Never",
            security_context=pod.pod_security_context(c.security_context),
            init_containers=steps,
            containers=[
                kubectl("clean-up", "delete", "cluster", drill_cluster, "--wait", f"--timeout={timeout}"),
            ],
            volumes=[
                pod.scratch_volume(),
                core.VolumeArgs(
                    name="manifest", config_map=core.ConfigMapVolumeSourceArgs(name=name, default_mode=0o440)
                ),
                token,
            ],
            **pod.scheduling_fields(c.scheduling, pull_secrets=pull_secrets),
        ),
    )


def _drill_network_policy_spec(drill_cluster: str) -> net.NetworkPolicySpecArgs:
    """The drill reaches its own Cluster's instances and the API server, nothing else."""
    return net.NetworkPolicySpecArgs(
        pod_selector=meta.LabelSelectorArgs(match_labels=selector_labels(RESTORE_DRILL)),
        policy_types=["Ingress", "Egress"],
        ingress=[],
        egress=[
            net.NetworkPolicyEgressRuleArgs(
                to=[
                    net.NetworkPolicyPeerArgs(
                        pod_selector=meta.LabelSelectorArgs(match_labels={CLUSTER_LABEL: drill_cluster})
                    )
                ],
                ports=tcp(POSTGRES_PORT),
            ),
            net.NetworkPolicyEgressRuleArgs(ports=tcp(443, 6443)),  # the API server
        ],
    )


def restore_drill(store: PostgresOwner, source: str, opts: pulumi.ResourceOptions) -> batch.CronJob:
    """The drill (cloudnative-pg/cloudnative-pg#7197 asks for it): each step an init container, so a
    failed step stops the run and fails the Job (alert PostgresRestoreDrillFailed):
    1. delete what a previous failed run left (kept until now for inspection),
    2. create a one-instance Cluster recovering the latest backup and WAL of `source`,
    3. wait until it is Ready (recovery replayed),
    4. run `check_sql` against it as its owner (psql, the Cluster's own image),
    then delete it. kubectl only: its ServiceAccount may touch Clusters of this namespace, nothing else."""
    c, d = store.config, store.config.restore_drill
    name = RESTORE_DRILL
    drill_cluster = f"{source}-drill"
    labels = {**store.labels, **selector_labels(name), "app.kubernetes.io/component": "restore-drill"}
    meta_ = pod.Metadata(store.namespace, labels, dict(store.meta.annotations))
    sa = core.ServiceAccount(name, metadata=meta_(name), automount_service_account_token=False, opts=opts)
    role = rbac.Role(
        name,
        metadata=meta_(name),
        rules=[
            rbac.PolicyRuleArgs(
                api_groups=["postgresql.cnpg.io"],
                resources=["clusters"],
                verbs=["get", "list", "watch", "create", "patch", "delete"],
            )
        ],
        opts=opts,
    )
    rbac.RoleBinding(
        name,
        metadata=meta_(name),
        role_ref=rbac.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="Role", name=name),
        subjects=[rbac.SubjectArgs(kind="ServiceAccount", name=name, namespace=store.namespace)],
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[role, sa])),
    )
    manifest = drill_cluster_manifest(c, source, store.pull_secrets)
    config_map = core.ConfigMap(
        name, metadata=meta_(name), data={"cluster.json": json.dumps(manifest, sort_keys=True)}, opts=opts
    )
    template = drill_pod(c, source, labels, store.pull_secrets)
    if c.network_policy.enabled:
        net.NetworkPolicy(name, metadata=meta_(name), spec=_drill_network_policy_spec(drill_cluster), opts=opts)
    return batch.CronJob(
        name,
        metadata=meta_(name, DRILL_CHECKOV_SKIPS),
        spec=batch.CronJobSpecArgs(
            schedule=d.schedule,
            time_zone="Etc/UTC",
            concurrency_policy="Forbid",
            starting_deadline_seconds=3600,
            successful_jobs_history_limit=1,
            failed_jobs_history_limit=3,
            job_template=batch.JobTemplateSpecArgs(
                spec=batch.JobSpecArgs(
                    backoff_limit=0,  # a failed drill is a finding, not something to retry over
                    active_deadline_seconds=d.timeout_minutes * 60 * 2,
                    ttl_seconds_after_finished=7 * 86400,
                    template=template,
                )
            ),
        ),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[config_map, sa])),
    )


TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"


DRILL_CHECKOV_SKIPS = {
    "checkov.io/skip1": "CKV_K8S_35=The check step's psql takes the throwaway cluster's URI (the operator's "
    "<cluster>-app Secret) through secretKeyRef: libpq reads no URI from a file and ignores a group-readable pgpass.",
}
