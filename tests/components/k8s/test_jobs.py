"""The migration Job and the checkpoint cleanup CronJob prod turns on (Pulumi.prod.yaml)."""

from __future__ import annotations

import hashlib

from tests.conftest import objects, shipped, stack_file


def prod():
    capture = shipped("prod")
    return capture, objects(capture)


def migration_name() -> str:
    image = stack_file("prod")["config"]["agent-platform:services"][0]["image"]
    return f"agent-api-migrate-{hashlib.sha256(image.encode()).hexdigest()[:8]}"


def test_the_rollout_waits_for_the_migration_of_its_image():
    capture, objs = prod()
    job = objs[("Job", migration_name())]
    spec = job["spec"]
    assert (spec["backoffLimit"], spec["activeDeadlineSeconds"], spec["ttlSecondsAfterFinished"]) == (2, 600, 86400)
    container = spec["template"]["spec"]["containers"][0]
    assert container["command"] == ["python3", "/app/app.py", "migrate"]
    assert container["image"] == objs[("Deployment", "agent-api")]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert [e["name"] for e in container["env"]] == ["DATABASE_URL"]
    # The provider awaits the Job (timeout over its deadline); the Deployment depends on it.
    assert job["metadata"]["annotations"]["pulumi.com/timeoutSeconds"] == "660"
    [job_resource] = [r for r in capture.declared() if r.inputs.get("kind") == "Job"]
    [deployment] = [r for r in capture.declared() if r.inputs.get("kind") == "Deployment" and r.name == "agent-api"]
    assert job_resource.urn in deployment.dependencies


def test_job_pods_are_hardened_and_never_behind_the_service():
    _, objs = prod()
    app = objs[("Deployment", "agent-api")]["spec"]["template"]["spec"]
    service_selector = objs[("Service", "agent-api")]["spec"]["selector"]
    for kind, name in (("Job", migration_name()), ("CronJob", "agent-api-cleanup")):
        obj = objs[(kind, name)]
        template = obj["spec"]["template"] if kind == "Job" else obj["spec"]["jobTemplate"]["spec"]["template"]
        pod = template["spec"]
        assert pod["securityContext"] == app["securityContext"] and pod["restartPolicy"] == "Never"
        assert pod["containers"][0]["securityContext"] == app["containers"][0]["securityContext"]
        assert pod["automountServiceAccountToken"] is False
        labels = template["metadata"]["labels"]
        assert not all(labels.get(k) == v for k, v in service_selector.items()), name
        assert labels["agent-platform.io/client-of-postgres"] == "true"


def test_cleanup_never_overlaps_and_keeps_little_history():
    _, objs = prod()
    spec = objs[("CronJob", "agent-api-cleanup")]["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (1, 3)
    container = spec["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python3", "/app/app.py", "cleanup-checkpoints"]
    assert container["args"] == ["--older-than-days", "30"]


def test_job_pods_may_reach_postgres_and_nothing_else():
    _, objs = prod()
    for name in ("agent-api-migrate", "agent-api-cleanup"):
        policy = objs[("NetworkPolicy", name)]["spec"]
        assert policy["podSelector"] == {
            "matchLabels": {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "agent-platform"}
        }
        assert policy.get("ingress", []) == []
        [egress] = policy["egress"]
        # PgBouncer's pods, by the label CloudNativePG guarantees them (agent_platform/operators.py).
        assert egress["to"] == [{"podSelector": {"matchLabels": {"cnpg.io/poolerName": "postgres-pooler-rw"}}}]
        assert egress["ports"] == [{"protocol": "TCP", "port": 5432}]


def test_jobs_run_as_their_own_account_never_the_services_identity(tmp_path):
    from tests.conftest import capture_with

    def workload_identity(cfg):
        api = cfg["agent-platform:services"][0]
        api["serviceAccount"] = {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/api"}}

    objs = objects(capture_with(tmp_path, "prod", workload_identity))
    assert "eks.amazonaws.com/role-arn" in objs[("ServiceAccount", "agent-api")]["metadata"]["annotations"]
    account = objs[("ServiceAccount", "agent-api-jobs")]
    assert account["automountServiceAccountToken"] is False
    assert "eks.amazonaws.com/role-arn" not in (account["metadata"].get("annotations") or {})
    for kind, name in (("Job", migration_name()), ("CronJob", "agent-api-cleanup")):
        obj = objs[(kind, name)]
        template = obj["spec"]["template"] if kind == "Job" else obj["spec"]["jobTemplate"]["spec"]["template"]
        assert template["spec"]["serviceAccountName"] == "agent-api-jobs", name
    assert objs[("Deployment", "agent-api")]["spec"]["template"]["spec"]["serviceAccountName"] == "agent-api"
