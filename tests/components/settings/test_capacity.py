"""The derived ResourceQuota counts what quota admission counts (k8s.io/component-helpers
resource.PodRequests/PodLimits): each pod's containers and init containers, every unit at its
maximum, the Job and CronJob pods that can run beside them, and the data stores. Each test plants
one kind of pod and shows the figure move by exactly its amounts."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
from agent_platform.settings.capacity import pod_amounts
from agent_platform.settings.pod import ResourceAmounts, Resources
from agent_platform.settings.stack import StackConfig
from agent_platform.settings.stores import POOLER_RESOURCES
from agent_platform.settings.values import quantity_value

from program.stack_config import parse_stack_config
from tests.conftest import capture_with, objects, shipped, stack_file
from tests.fully_featured import CANARY_IMAGE, VARIANTS

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
    # throwaway instance and its own pod, 2 PgBouncer pods and their rollout's surge pod.
    assert quota["pods"] == 20 + 1 + 10 + 1 + 1 + 3 + 1 + 1 + 2 + 1
    # cpu: each instance 1 core + the plugin's sidecar 0.1; PgBouncer 0.1 (its init container the same).
    instances, drill, pgbouncer = 4 * (1 + 0.1), 0.05, 3 * 0.1
    assert round(quota["requests.cpu"], 6) == round(21 * 0.5 + 10 * 0.5 + 0.5 + 0.25 + instances + drill + pgbouncer, 6)


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


# --------------------------------------------------------------------------- the stack's own numbers


def validated(stack: str, mutate=lambda cfg: None) -> StackConfig:
    """The stack file, changed by `mutate(config_dict)`, as the program validates it (defaults filled in)."""
    cfg = copy.deepcopy(stack_file(stack)["config"])
    mutate(cfg)
    return parse_stack_config({k.split(":", 1)[1]: v for k, v in cfg.items()})


def amounts(resources) -> tuple[float, float]:
    """(requests.cpu in cores, requests.memory in bytes) of one container."""
    return quantity_value(resources.requests.cpu), quantity_value(resources.requests.memory)


def rollout(strategy: str, **settings) -> Callable[[dict], None]:
    def mutate(cfg):
        cfg[SERVICES][0]["rollout"] = {"strategy": strategy, **settings}

    return mutate


def test_canary_pods_count_with_their_own_surge(tmp_path):
    before = hard(tmp_path / "a")
    after = hard(tmp_path / "b", rollout("canary", canary={"image": CANARY_IMAGE, "replicas": 3}))
    api = validated("prod").services[0]
    assert api.kind == "Deployment" and not api.sidecars and not api.init_containers
    cpu, memory = amounts(api.resources)
    # The canary Deployment's 3 fixed pods plus the one it surges by when its image changes; the stable
    # Deployment keeps its 20 + 1 and Jobs, so the delta is the canary's alone, each pod the app's size.
    canary_pods = 3 + 1
    assert after["pods"] - before["pods"] == canary_pods
    assert round(after["requests.cpu"] - before["requests.cpu"], 6) == round(canary_pods * cpu, 6)
    assert after["requests.memory"] - before["requests.memory"] == canary_pods * memory


def test_a_blue_green_idle_colour_counts_as_large_as_it_may_be(tmp_path):
    before = hard(tmp_path / "a")
    api = validated("prod").services[0]
    cpu, memory = amounts(api.resources)
    green = {"active": "blue", "greenImage": CANARY_IMAGE}

    # idleReplicas unset: the idle colour keeps the active one's autoscaler, so it may run 20 pods and surge
    # by one when its image changes, beside the active colour's 20 + 1.
    full = hard(tmp_path / "b", rollout("blueGreen", blueGreen=green))
    idle_pods = api.autoscaling.max_replicas + 1
    assert full["pods"] - before["pods"] == idle_pods
    assert round(full["requests.cpu"] - before["requests.cpu"], 6) == round(idle_pods * cpu, 6)
    assert full["requests.memory"] - before["requests.memory"] == idle_pods * memory

    # idleReplicas 2: two fixed pods plus the one they surge by.
    two = hard(tmp_path / "c", rollout("blueGreen", blueGreen={**green, "idleReplicas": 2}))
    assert two["pods"] - before["pods"] == 2 + 1
    assert round(two["requests.cpu"] - before["requests.cpu"], 6) == round((2 + 1) * cpu, 6)
    assert two["requests.memory"] - before["requests.memory"] == (2 + 1) * memory

    # idleReplicas 0: the idle colour is scaled to zero and never rolls; it adds nothing.
    zero = hard(tmp_path / "d", rollout("blueGreen", blueGreen={**green, "idleReplicas": 0}))
    assert zero == before


def test_a_deployment_migration_pod_hides_under_its_surge(tmp_path):
    # prod's agent-api migrates: the Job runs to completion before the rollout starts, so its pod and the
    # rollout's surge pod never run together, and the figure holds max(surge 1, migration 1) = 1 pod of the
    # app's size. Turning the migration off leaves the surge pod: nothing moves. (A Deployment always
    # surges by one, so no Deployment's migration pod can move the figure: that is shown on a
    # StatefulSet, above; this shows it is not counted twice.)
    assert validated("prod").services[0].migration.enabled
    with_migration = hard(tmp_path / "a")

    def off(cfg):
        cfg[SERVICES][0]["migration"] = {"enabled": False}

    without = hard(tmp_path / "b", off)
    assert without == with_migration


def postgres(**settings) -> Callable[[dict], None]:
    def mutate(cfg):
        pg = cfg["agent-platform:postgres"]
        for key, value in settings.items():
            pg[key] = {**pg.get(key, {}), **value} if isinstance(value, dict) else value

    return mutate


# --- pods CloudNativePG and its Barman Cloud plugin make, read from what the stack renders ----------------
# Each figure below is computed from the rendered objects, as the operator builds its pods from them
# (agent_platform/operators.py cites the source): a Cluster's instance is `postgres` and its
# `bootstrap-controller` init container at spec.resources plus the plugin's native sidecar at the
# ObjectStore's spec.instanceSidecarConfiguration.resources (the LimitRange's defaults when unset); a
# PgBouncer pod is `pgbouncer` as the Pooler's template gives it and an init container at the template's
# pod-level resources (unset: the LimitRange's defaults). So a builder that stops rendering the sidecar's
# resources, or a quota that forgets a pod, fails here.


def _requirements(obj: dict | None, limit_range: dict) -> Resources:
    """A container's resources as admission fills them: the LimitRange's defaults where it sets none."""
    obj = obj or {}
    requests = {**limit_range["defaultRequest"], **(obj.get("requests") or {})}
    limits = {**limit_range["default"], **(obj.get("limits") or {})}
    return Resources(requests=ResourceAmounts(**requests), limits=ResourceAmounts(**limits))


def operator_pods(objs: dict) -> dict[str, dict[str, float]]:
    """Requests and limits of each kind of pod the operators make, from the rendered objects."""
    [limits] = objs[("LimitRange", "limits")]["spec"]["limits"]
    cluster = objs[("Cluster", "postgres")]["spec"]
    store = objs.get(("ObjectStore", "postgres-backups"), {}).get("spec", {})
    sidecar = _requirements((store.get("instanceSidecarConfiguration") or {}).get("resources"), limits)
    postgres = _requirements(cluster["resources"], limits)
    pods = {"instance": pod_amounts([postgres], [postgres, (sidecar, True)])}
    pooler = objs.get(("Pooler", "postgres-pooler-rw"))
    if pooler:
        template = pooler["spec"]["template"]["spec"]
        [pgbouncer] = template["containers"]
        pods["pgbouncer"] = pod_amounts(
            [_requirements(pgbouncer.get("resources"), limits)], [_requirements(template.get("resources"), limits)]
        )
    drill = objs.get(("CronJob", "restore-drill"))
    if drill:
        spec = drill["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        pods["drill"] = pod_amounts(
            [_requirements(c.get("resources"), limits) for c in spec["containers"]],
            [_requirements(c.get("resources"), limits) for c in spec.get("initContainers") or []],
        )
    return pods


def rendered(tmp_path, mutate=lambda cfg: None) -> tuple[dict[str, float], dict]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    objs = objects(capture_with(tmp_path, "prod", mutate))
    return {k: quantity_value(str(v)) for k, v in objs[("ResourceQuota", "quota")]["spec"]["hard"].items()}, objs


def moved_by(before: dict[str, float], after: dict[str, float], pods: int, *amounts: dict[str, float]) -> None:
    assert after["pods"] - before["pods"] == pods
    for key in ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory"):
        assert round(after[key] - before[key], 3) == round(sum(a[key] for a in amounts), 3), key


def test_each_cloudnativepg_instance_counts_with_its_volume_and_the_plugins_sidecar(tmp_path):
    pg = validated("prod").postgres
    assert pg.mode == "cloudnativepg" and pg.instances == 3 and pg.backup.enabled
    before, objs = rendered(tmp_path / "a")
    after, _ = rendered(tmp_path / "b", postgres(instances=4))
    instance = operator_pods(objs)["instance"]
    # The plugin's sidecar is rendered with its own resources, never left to the LimitRange.
    assert objs[("ObjectStore", "postgres-backups")]["spec"]["instanceSidecarConfiguration"]["resources"]
    assert instance["requests.memory"] > quantity_value(pg.resources.requests.memory)
    moved_by(before, after, 1, instance)
    assert after["requests.storage"] - before["requests.storage"] == quantity_value(pg.persistence.size)


def test_the_restore_drill_counts_its_instance_and_its_own_pod(tmp_path):
    pg = validated("prod").postgres
    assert pg.backup.enabled and pg.restore_drill.enabled
    before, objs = rendered(tmp_path / "a")
    after, _ = rendered(tmp_path / "b", postgres(restoreDrill={"enabled": False}))
    pods = operator_pods(objs)
    # The drill restores into a throwaway one-instance Cluster sized like the real one (the plugin's
    # sidecar in it: it recovers through the plugin), while the drill's own pod waits on it.
    moved_by(after, before, 2, pods["instance"], pods["drill"])
    assert before["requests.storage"] - after["requests.storage"] == quantity_value(pg.persistence.size)


def test_each_pgbouncer_pod_and_the_rollouts_surge_count(tmp_path):
    pooler = validated("prod").postgres.pooler
    assert pooler.enabled and pooler.instances == 2
    # Smaller pools per pod keep more PgBouncer pods within max_connections; a pod requests the same.
    small = {"defaultPoolSize": 30}
    two, objs = rendered(tmp_path / "a", postgres(pooler=small))
    three, _ = rendered(tmp_path / "b", postgres(pooler={**small, "instances": 3}))
    five, _ = rendered(tmp_path / "c", postgres(pooler={**small, "instances": 5}))
    pgbouncer = operator_pods(objs)["pgbouncer"]
    # The init container takes the LimitRange's defaults (no pod-level resources): above pgbouncer's memory.
    assert pgbouncer["requests.memory"] > quantity_value(POOLER_RESOURCES.requests.memory)
    # 2 -> 3: one more pod, the surge stays ceil(25%) = 1; 3 -> 5: two more and the surge grows to 2.
    moved_by(two, three, 1, pgbouncer)
    moved_by(three, five, 3, pgbouncer, pgbouncer, pgbouncer)
    assert five["requests.storage"] == two["requests.storage"]


def test_an_in_cluster_redis_counts_once(tmp_path):
    redis = validated("prod").redis
    assert redis.mode == "inCluster"
    cpu, memory = amounts(redis.resources)
    before = hard(tmp_path / "a")

    def external(cfg):
        cfg["agent-platform:redis"] = {"mode": "external", "externalUrlKey": "redisUrl"}

    after = hard(tmp_path / "b", external)
    # A managed Redis runs outside the namespace: one pod, its requests and its claim fewer (a StatefulSet
    # of one, replaced in place: never a second pod beside it).
    assert before["pods"] - after["pods"] == 1
    assert round(before["requests.cpu"] - after["requests.cpu"], 6) == round(cpu, 6)
    assert before["requests.memory"] - after["requests.memory"] == memory
    assert before["requests.storage"] - after["requests.storage"] == quantity_value(redis.persistence.size)


# --------------------------------------------------------------------------- the shipped and fully-featured stacks fit


def rendered_hard(capture) -> dict[str, float]:
    spec = objects(capture)[("ResourceQuota", "quota")]["spec"]["hard"]
    return {k: quantity_value(str(v)) for k, v in spec.items()}


def fits(quota: dict[str, float], worst: dict[str, float]) -> None:
    assert set(worst) <= set(quota)
    short = {k: (quota[k], need) for k, need in worst.items() if quota[k] < need - 1e-9}
    assert short == {}, f"below the worst case (quota, worst case): {short}"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_shipped_stacks_quota_holds_their_worst_case(stack):
    # dev sets its quota by hand (Pulumi.dev.yaml namespace.quota), prod derives it: both must hold every
    # unit at its maximum with its surge, every Job, and the data stores.
    fits(rendered_hard(shipped(stack)), validated(stack).worst_case())


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_a_fully_featured_stacks_quota_holds_its_worst_case(tmp_path, variant):
    mutate = VARIANTS[variant]
    config = validated("prod", mutate)
    worst = config.worst_case()
    fits(rendered_hard(capture_with(tmp_path, "prod", mutate)), worst)
