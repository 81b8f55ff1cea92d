"""Jobs of an agent service: the database migration before a rollout, the checkpoint cleanup.

Both run the service's own image and hardening, reach only Postgres (their own NetworkPolicy;
their pods carry the store's client label) and never match the service's selector, so a Service
never sends them traffic. They run as a ServiceAccount of their own, `<name>-jobs`, with no token
and none of the service account's annotations: an identity webhook (EKS Pod Identity / IRSA, GKE
and Azure workload identity) injects the cloud credentials an annotated account carries into
every pod that runs as it, whatever automountServiceAccountToken says, and the jobs need only the
database (its URL comes from a Secret).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from agent_platform.k8s import pod
from agent_platform.k8s.backend import Backend
from agent_platform.k8s.cloudnativepg.names import BARMAN_CLOUD_PLUGIN, ORIGINAL
from agent_platform.labels import CLIENT_OF, selector_labels
from agent_platform.settings.service import AgentServiceConfig

batch = k8s.batch.v1
core = k8s.core.v1
meta = k8s.meta.v1
net = k8s.networking.v1


@dataclass
class ServiceJobs:
    """What a service's jobs take from the service (its settings, labels and metadata, the stores it
    uses, the objects they start after, the component they hang under), and the jobs' own
    ServiceAccount once the first job has made it."""

    config: AgentServiceConfig
    labels: dict[str, str]
    meta: pod.Metadata
    backends: list[Backend]
    pull_secrets: list[str]
    after: list[pulumi.Resource]  # the service's ConfigMap and Secret
    parent: pulumi.Resource
    account: core.ServiceAccount | None = None


def job_service_account(svc: ServiceJobs) -> core.ServiceAccount:
    """The jobs' least-privilege ServiceAccount, one per service (created with the first job)."""
    if svc.account is None:
        name = f"{svc.config.name}-jobs"
        svc.account = core.ServiceAccount(
            name,
            metadata=svc.meta(name),
            automount_service_account_token=False,
            opts=pulumi.ResourceOptions(parent=svc.parent),
        )
    return svc.account


def _pod_spec(svc: ServiceJobs, name: str, command: list[str], args: list[str] | None) -> core.PodTemplateSpecArgs:
    c = svc.config
    postgres = [b for b in svc.backends if b.store == "postgres"]
    env = [pod.secret_env(b.env_name, b.secret_name, b.secret_key or b.env_name) for b in postgres]
    labels = {**svc.labels, **selector_labels(name), **{CLIENT_OF.format(store="postgres"): "true"}}
    return core.PodTemplateSpecArgs(
        metadata=meta.ObjectMetaArgs(labels=labels),
        spec=core.PodSpecArgs(
            service_account_name=job_service_account(svc).metadata.name,
            automount_service_account_token=False,
            enable_service_links=False,
            restart_policy="Never",
            security_context=pod.pod_security_context(c.security_context),
            containers=[
                core.ContainerArgs(
                    name="job",
                    image=c.image,
                    image_pull_policy=c.image_pull_policy,
                    command=command,
                    args=args,
                    env=env,
                    resources=pod.resource_requirements(c.resources),
                    security_context=pod.container_security_context(c.security_context),
                    volume_mounts=[core.VolumeMountArgs(name=pod.TMP_VOLUME, mount_path="/tmp")],
                )
            ],
            volumes=[pod.scratch_volume()],
            **pod.scheduling_fields(c.scheduling, pull_secrets=svc.pull_secrets),
        ),
    )


def _network_policy(svc: ServiceJobs, name: str) -> net.NetworkPolicy:
    egress = [
        net.NetworkPolicyEgressRuleArgs(
            to=[net.NetworkPolicyPeerArgs(pod_selector=meta.LabelSelectorArgs(match_labels=b.peer_labels))],
            ports=[net.NetworkPolicyPortArgs(protocol="TCP", port=b.port)],
        )
        for b in svc.backends
        if b.store == "postgres" and b.in_cluster
    ]
    return net.NetworkPolicy(
        name,
        metadata=svc.meta(name),
        spec=net.NetworkPolicySpecArgs(
            pod_selector=meta.LabelSelectorArgs(match_labels=selector_labels(name)),
            policy_types=["Ingress", "Egress"],
            ingress=[],
            egress=egress or None,
        ),
        opts=pulumi.ResourceOptions(parent=svc.parent),
    )


def migration_job(svc: ServiceJobs) -> batch.Job:
    """A Job named after the image (Jobs are immutable, and a new image must migrate again):
    the previous image's Job is deleted, the new one created, and the workload, which depends
    on it, rolls out only once the provider has seen it complete (pulumi-kubernetes
    provider/pkg/await/job.go waits for the Complete condition and fails on Failed)."""
    c, m = svc.config, svc.config.migration
    name = f"{c.name}-migrate"
    digest = hashlib.sha256(c.image.encode()).hexdigest()[:8]
    if c.network_policy.enabled:
        _network_policy(svc, name)
    after = list(svc.after)
    backup = next((b for b in svc.backends if b.store == "postgres" and b.backup_cluster), None)
    if backup is not None:
        after.append(
            pre_migration_backup(svc, backup.backup_cluster, f"{name}-{digest}", backup.backup_timeout_seconds)
        )
    return batch.Job(
        f"{name}-{digest}",
        metadata=svc.meta(
            f"{name}-{digest}", {**pod.CHECKOV_SKIPS, pod.TIMEOUT_SECONDS: str(m.active_deadline_seconds + 60)}
        ),
        spec=batch.JobSpecArgs(
            backoff_limit=m.backoff_limit,
            active_deadline_seconds=m.active_deadline_seconds,
            ttl_seconds_after_finished=m.ttl_seconds_after_finished,
            template=_pod_spec(svc, name, m.command, m.args),
        ),
        opts=pulumi.ResourceOptions(parent=svc.parent, depends_on=after),
    )


def pre_migration_backup(
    svc: ServiceJobs, cluster: str, job_name: str, timeout_seconds: int
) -> k8s.apiextensions.CustomResource:
    """An on-demand CloudNativePG `Backup` (method plugin, Barman Cloud) named after the migration
    Job, so each new image backs up again. `pulumi up` waits for `.status.phase` to be `completed`
    (pulumi-kubernetes provider/pkg/await/condition/jsonpath.go, the `pulumi.com/waitFor`
    annotation; a preview does not wait) and the Job depends on it: no migration runs on a
    database that has no fresh backup. Kept on delete: the record of a backup outlives the
    program's interest in it (the data is the object store's, pruned by the retention policy)."""
    # A Backup's spec is immutable (the CRD's CEL rule `oldSelf == self`, postgresql.cnpg.io_backups.yaml):
    # a Backup of another cluster (the restored one, once the agents use it) is a new Backup, named for it.
    name = f"{job_name}-backup" if cluster == ORIGINAL else f"{job_name}-{cluster}-backup"
    return k8s.apiextensions.CustomResource(
        name,
        api_version="postgresql.cnpg.io/v1",
        kind="Backup",
        metadata=svc.meta(
            name,
            {"pulumi.com/waitFor": "jsonpath={.status.phase}=completed", pod.TIMEOUT_SECONDS: str(timeout_seconds)},
        ),
        spec={
            "cluster": {"name": cluster},
            "method": "plugin",
            "pluginConfiguration": {"name": BARMAN_CLOUD_PLUGIN},
            "target": "prefer-standby",
        },
        opts=pulumi.ResourceOptions(parent=svc.parent, retain_on_delete=True),
    )


def checkpoint_cleanup(svc: ServiceJobs) -> batch.CronJob:
    c, cleanup = svc.config, svc.config.checkpoint_cleanup
    name = f"{c.name}-cleanup"
    if c.network_policy.enabled:
        _network_policy(svc, name)
    return batch.CronJob(
        name,
        metadata=svc.meta(name, dict(pod.CHECKOV_SKIPS)),
        spec=batch.CronJobSpecArgs(
            schedule=cleanup.schedule,
            time_zone=cleanup.time_zone,
            # Never two at once, never a pile of missed runs after an outage.
            concurrency_policy="Forbid",
            starting_deadline_seconds=600,
            successful_jobs_history_limit=1,
            failed_jobs_history_limit=3,
            job_template=batch.JobTemplateSpecArgs(
                spec=batch.JobSpecArgs(
                    backoff_limit=1,
                    active_deadline_seconds=3600,
                    ttl_seconds_after_finished=86400,
                    template=_pod_spec(svc, name, cleanup.command, ["--older-than-days", str(cleanup.retention_days)]),
                )
            ),
        ),
        opts=pulumi.ResourceOptions(parent=svc.parent),
    )
