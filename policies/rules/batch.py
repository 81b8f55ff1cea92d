"""Jobs and CronJobs: bounded runs, no pile-up, and an identity of their own.

Sources: Kubernetes Job docs (kubernetes.io/docs/concepts/workloads/controllers/job/: backoffLimit
defaults to 6 retries, activeDeadlineSeconds bounds a Job's whole run and wins over backoffLimit,
ttlSecondsAfterFinished removes a finished Job and its pods) and CronJob docs
(kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/: concurrencyPolicy defaults to Allow,
so runs overlap; without startingDeadlineSeconds a controller that missed over 100 schedules stops
scheduling the job). The identity rule: the EKS Pod Identity webhook (aws/amazon-eks-pod-identity-webhook),
GKE Workload Identity and Azure Workload Identity give every pod of an annotated ServiceAccount that
account's cloud role, by the annotation, whatever automountServiceAccountToken says.
"""

from __future__ import annotations

import copy

from .base import Example, Resource, resource_rule, stack_rule
from .k8s import (
    CRONJOB,
    JOB,
    SCALABLE,
    SERVICE_ACCOUNT,
    WORKLOADS,
    name_of,
    namespace_of,
    pod_spec,
    with_change,
)
from .samples import deployment

IDENTITY_ANNOTATIONS = (
    "eks.amazonaws.com/role-arn",
    "iam.gke.io/gcp-service-account",
    "azure.workload.identity/client-id",
)


def _job() -> dict:
    template = copy.deepcopy(deployment()["spec"]["template"])
    template["spec"]["restartPolicy"] = "Never"
    template["spec"]["serviceAccountName"] = "api-jobs"
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "api-migrate", "namespace": "agents"},
        "spec": {
            "backoffLimit": 2,
            "activeDeadlineSeconds": 600,
            "ttlSecondsAfterFinished": 86400,
            "template": template,
        },
    }


def _cronjob() -> dict:
    job = _job()
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "api-cleanup", "namespace": "agents"},
        "spec": {
            "schedule": "0 3 * * *",
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 600,
            "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {"spec": job["spec"]},
        },
    }


JOB_GOOD, CRONJOB_GOOD = _job(), _cronjob()


def _job_spec(props) -> dict:
    spec = props.get("spec") or {}
    return ((spec.get("jobTemplate") or {}).get("spec") or {}) if props.get("kind") == "CronJob" else spec


@resource_rule(
    "job-bounded",
    "A Job (and a CronJob's job template) bounds its run: activeDeadlineSeconds and backoffLimit set within the "
    "configured maxima, ttlSecondsAfterFinished set, restartPolicy Never or OnFailure (Kubernetes Job docs).",
    "medium",
    "Set activeDeadlineSeconds, backoffLimit and ttlSecondsAfterFinished (services[].migration for the migration Job).",
    (JOB, CRONJOB),
    Example(JOB_GOOD, with_change(JOB_GOOD, "spec.activeDeadlineSeconds", None)),
    config={
        "maxActiveDeadlineSeconds": {"type": "integer", "default": 86400},
        "maxBackoffLimit": {"type": "integer", "default": 6},
    },
    tags=("operations",),
)
def job_bounded(props, config):
    spec = _job_spec(props)
    deadline = spec.get("activeDeadlineSeconds")
    if not isinstance(deadline, int) or deadline <= 0:
        yield "no activeDeadlineSeconds: a hung run holds its pod forever"
    elif deadline > config["maxActiveDeadlineSeconds"]:
        yield f"activeDeadlineSeconds {deadline} > {config['maxActiveDeadlineSeconds']}"
    backoff = spec.get("backoffLimit")
    if not isinstance(backoff, int):
        yield "no backoffLimit (the default retries 6 times)"
    elif backoff > config["maxBackoffLimit"]:
        yield f"backoffLimit {backoff} > {config['maxBackoffLimit']}"
    if spec.get("ttlSecondsAfterFinished") is None:
        yield "no ttlSecondsAfterFinished: finished Jobs and their pods pile up"
    restart = pod_spec(props).get("restartPolicy")
    if restart not in ("Never", "OnFailure"):
        yield f"restartPolicy {restart!r}: a Job's pods take Never or OnFailure"


@resource_rule(
    "cronjob-no-overlap",
    "A CronJob never runs twice at once (concurrencyPolicy Forbid or Replace; the default Allow overlaps) and sets "
    "startingDeadlineSeconds, so missed runs neither pile up nor stop the schedule (Kubernetes CronJob docs).",
    "medium",
    "Set concurrencyPolicy: Forbid and startingDeadlineSeconds (the platform's cleanup CronJob sets both).",
    (CRONJOB,),
    Example(CRONJOB_GOOD, with_change(CRONJOB_GOOD, "spec.concurrencyPolicy", "Allow")),
    tags=("operations",),
)
def cronjob_no_overlap(props, config):
    spec = props.get("spec") or {}
    policy = spec.get("concurrencyPolicy", "Allow")
    if policy not in ("Forbid", "Replace"):
        yield f"concurrencyPolicy {policy!r}: runs may overlap"
    if not spec.get("startingDeadlineSeconds"):
        yield "no startingDeadlineSeconds: after 100 missed schedules the controller stops starting the job"


def _account(name: str, annotations: dict | None = None) -> Resource:
    props = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": "agents", **({"annotations": annotations} if annotations else {})},
        "automountServiceAccountToken": False,
    }
    return Resource.of(props, SERVICE_ACCOUNT)


def _api(account: str) -> Resource:
    return Resource.of(with_change(deployment(), "spec.template.spec.serviceAccountName", account), SCALABLE[0])


ROLE = {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/api"}


@stack_rule(
    "job-own-service-account",
    "Jobs and CronJobs run as a ServiceAccount of their own: not one a long-running workload uses, and not one "
    "carrying a workload-identity annotation (an identity webhook gives such an account's cloud role to every pod "
    "that runs as it, whatever automountServiceAccountToken says).",
    "high",
    "Run the job as a dedicated ServiceAccount without identity annotations (the platform's `<service>-jobs`).",
    Example(
        [_account("api", ROLE), _account("api-jobs"), _api("api"), Resource.of(JOB_GOOD, JOB)],
        [
            _account("api", ROLE),
            _api("api"),
            Resource.of(with_change(JOB_GOOD, "spec.template.spec.serviceAccountName", "api"), JOB),
        ],
    ),
    tags=("rbac",),
    reads=(JOB, CRONJOB, SERVICE_ACCOUNT, *WORKLOADS),
)
def job_own_service_account(resources, config):
    accounts = {(namespace_of(r.props), name_of(r.props)): r.props for r in resources if r.type == SERVICE_ACCOUNT}
    serving = {
        (namespace_of(r.props), pod_spec(r.props).get("serviceAccountName") or "default")
        for r in resources
        if r.type in WORKLOADS and r.type not in (JOB, CRONJOB)
    }
    for r in resources:
        if r.type not in (JOB, CRONJOB):
            continue
        key = (namespace_of(r.props), pod_spec(r.props).get("serviceAccountName") or "default")
        where = f"{r.props.get('kind')} {name_of(r.props)}"
        annotations = ((accounts.get(key) or {}).get("metadata") or {}).get("annotations") or {}
        identity = sorted(a for a in annotations if a in IDENTITY_ANNOTATIONS)
        if identity:
            yield f"{where}: runs as ServiceAccount {key[1]}, which carries {identity}", r.urn
        elif key in serving:
            yield f"{where}: shares ServiceAccount {key[1]} with a long-running workload", r.urn
