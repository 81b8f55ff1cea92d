"""The derived ResourceQuota counts what quota admission counts (k8s.io/component-helpers
resource.PodRequests/PodLimits): each pod's containers and init containers, every unit at its
maximum, the Job and CronJob pods that can run beside them, and the data stores. Each test plants
one kind of pod and shows the figure move by exactly its amounts."""

from __future__ import annotations

from agent_platform.config import quantity_value

from tests.conftest import capture_with, objects

SERVICES = "agent-platform:services"


def hard(tmp_path, mutate=lambda cfg: None) -> dict[str, float]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    capture = capture_with(tmp_path, "prod", mutate)
    spec = objects(capture)[("ResourceQuota", "quota")]["spec"]["hard"]
    return {k: quantity_value(str(v)) for k, v in spec.items()}


def sidecar(cpu: str, memory: str) -> dict:
    return {
        "name": "proxy",
        "image": "registry.example.com/tools/proxy:1.0@sha256:" + "a" * 64,
        "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu, "memory": memory}},
        "probe": {"port": 15000, "path": "/ready"},
    }


def test_prod_at_its_maxima_with_the_cleanup_job_running(tmp_path):
    quota = hard(tmp_path / "a")
    # agent-api: 20 (HPA max) + 1 (surge, or the migration Job before it) ; agent-runner: 10 (StatefulSet);
    # the cleanup CronJob's pod; Redis; Postgres on CloudNativePG: 3 instances, the restore drill's
    # throwaway instance and 2 PgBouncer pods.
    assert quota["pods"] == 20 + 1 + 10 + 1 + 1 + 3 + 1 + 2
    assert round(quota["requests.cpu"], 6) == round(21 * 0.5 + 10 * 0.5 + 0.5 + 0.25 + 4 * 1 + 2 * 0.1, 6)


def test_a_sidecar_counts_on_every_replica(tmp_path):
    before = hard(tmp_path / "a")

    def add(cfg):
        cfg[SERVICES][0]["sidecars"] = [sidecar("100m", "64Mi")]

    after = hard(tmp_path / "b", add)
    api_pods = 20 + 1  # the sidecar rides on every agent-api pod, surge included, not on the Jobs
    assert after["pods"] == before["pods"]
    assert round(after["requests.cpu"] - before["requests.cpu"], 6) == round(api_pods * 0.1, 6)
    assert after["requests.memory"] - before["requests.memory"] == api_pods * 64 * 2**20


def test_an_init_container_larger_than_the_pod_sets_the_pod_figure(tmp_path):
    before = hard(tmp_path / "a")

    def add(cfg):
        init = sidecar("3", "64Mi")
        del init["probe"]
        cfg[SERVICES][0]["initContainers"] = [init]

    after = hard(tmp_path / "b", add)
    app_cpu = quantity_value(str(objects_cpu(tmp_path / "c")))
    # Each agent-api pod now counts its init container (3 cores) instead of its app container.
    assert round(after["requests.cpu"] - before["requests.cpu"], 6) == round((20 + 1) * (3 - app_cpu), 6)


def objects_cpu(tmp_path) -> str:
    tmp_path.mkdir(parents=True, exist_ok=True)
    capture = capture_with(tmp_path, "prod", lambda cfg: None)
    deployment = objects(capture)[("Deployment", "agent-api")]
    [app] = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "app"]
    return app["resources"]["requests"]["cpu"]


def test_the_cleanup_cronjob_pod_counts_once(tmp_path):
    before = hard(tmp_path / "a")

    def off(cfg):
        cfg[SERVICES][0]["checkpointCleanup"] = {"enabled": False}

    after = hard(tmp_path / "b", off)
    assert before["pods"] - after["pods"] == 1


def test_a_statefulset_migration_pod_counts_beside_its_replicas(tmp_path):
    before = hard(tmp_path / "a")

    def migrate(cfg):
        cfg[SERVICES][1]["migration"] = {"enabled": True}

    after = hard(tmp_path / "b", migrate)
    # A StatefulSet replaces in place (no surge), so its migration pod is one more.
    assert after["pods"] - before["pods"] == 1
