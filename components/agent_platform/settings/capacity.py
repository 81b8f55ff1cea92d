"""Capacity arithmetic: a pod's effective requests and limits, the namespace's worst case as quota admission
counts it, and the connections Postgres must take at worst."""

from __future__ import annotations

from agent_platform import operators
from agent_platform.settings.cluster import LimitRangeConfig
from agent_platform.settings.pod import Persistence, ResourceAmounts, Resources
from agent_platform.settings.service import AgentServiceConfig
from agent_platform.settings.stores import (
    BARMAN_SIDECAR_RESOURCES,
    DRILL_RESOURCES,
    POOLER_RESOURCES,
    PostgresConfig,
    RedisConfig,
)
from agent_platform.settings.values import quantity_value


def pod_amounts(
    containers: list[Resources], init_containers: list[Resources | tuple[Resources, bool]]
) -> dict[str, float]:
    """A pod's effective requests and limits as the scheduler and quota admission count them
    (k8s.io/component-helpers resource/helpers.go PodRequests / PodLimits), per resource: the
    containers' sum plus every restartable (native sidecar) init container, or, if more, the largest
    of each init container plus the sidecars started before it. An init container is `Resources`, or
    `(Resources, restartable)` for an operator's native sidecar (the platform's own are containers)."""
    ordered = [c if isinstance(c, tuple) else (c, False) for c in init_containers]
    amounts = {}
    for kind in ("requests", "limits"):
        for resource in ("cpu", "memory"):

            def value(r: Resources, kind: str = kind, resource: str = resource) -> float:
                return quantity_value(getattr(getattr(r, kind), resource))

            running = sum(value(c) for c in containers)
            sidecars = init_peak = 0.0
            for c, restartable in ordered:
                if restartable:
                    running += value(c)
                    sidecars += value(c)
                    init_peak = max(init_peak, sidecars)
                else:
                    init_peak = max(init_peak, value(c) + sidecars)
            amounts[f"{kind}.{resource}"] = max(running, init_peak)
    return amounts


def _cpu_quantity(cores: float) -> str:
    millis = int(round(cores * 1000))
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def _bytes_quantity(value: float) -> str:
    mib = int(-(-value // 2**20))
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"


def limit_range_defaults(limit_range: LimitRangeConfig | None) -> Resources:
    """What the namespace's LimitRange gives a container that sets nothing."""
    lr = limit_range or LimitRangeConfig()
    return Resources(
        requests=ResourceAmounts(cpu=lr.default_request_cpu, memory=lr.default_request_memory),
        limits=ResourceAmounts(cpu=lr.default_cpu, memory=lr.default_memory),
    )


class _Total:
    """Worst-case amounts, added pod group by pod group. Keys are ResourceQuota `spec.hard` names; cpu in
    cores, the rest in bytes or counts."""

    def __init__(self) -> None:
        self.amounts = dict.fromkeys(
            ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory", "requests.storage", "pods"), 0.0
        )

    def add(self, pods: int, amounts: dict[str, float], persistence: Persistence | None = None) -> None:
        self.amounts["pods"] += pods
        for key, value in amounts.items():
            self.amounts[key] += pods * value
        if persistence is not None and persistence.enabled:
            self.amounts["requests.storage"] += pods * quantity_value(persistence.size)


def worst_case(
    services: list[AgentServiceConfig],
    postgres: PostgresConfig,
    redis: RedisConfig,
    limit_range: LimitRangeConfig | None,
) -> dict[str, float]:
    """What the namespace holds at worst, by the arithmetic of Kubernetes' quota admission: each pod
    counts its effective requests and limits (pod_amounts), times every unit's maximum pods
    (autoscaler maximum, canary and colours), plus, per service, the larger of a Deployment's
    rollout surge pod and its migration Job's pod (the migration runs before the rollout), plus
    the cleanup CronJob's pod (concurrencyPolicy Forbid: one at a time), the in-cluster data
    stores (one pod each, replaced in place) and the pods CloudNativePG makes. Storage of claims a
    StatefulSet kept on scale-down (whenScaled: Retain) is counted at the maximum already; a resize
    grows it, which an explicit quota must allow."""
    total = _Total()
    for svc in services:
        _service_pods(total, svc)
    for store in (postgres, redis):
        if store.mode == "inCluster":
            total.add(1, pod_amounts([store.resources], []), store.persistence)
    if postgres.mode == "cloudnativepg":
        _cloudnativepg_pods(total, postgres, limit_range_defaults(limit_range))
    return total.amounts


def _service_pods(total: _Total, svc: AgentServiceConfig) -> None:
    r = svc.rollout
    app_pod = pod_amounts(
        [svc.resources, *(x.resources for x in svc.sidecars)], [x.resources for x in svc.init_containers]
    )
    # A Job's pod runs the app's image with its resources, one container, no extra containers.
    job_pod = pod_amounts([svc.resources], [])
    overlap = max(svc.surge_pods(), 1 if svc.migration.enabled else 0)
    total.add(svc.max_pods() + overlap, app_pod, svc.persistence)
    if r.strategy == "canary" and r.canary is not None:
        total.add(r.canary.replicas + 1, app_pod, svc.persistence)
    elif r.strategy == "blueGreen" and r.blue_green is not None:
        idle = r.blue_green.idle_replicas
        total.add(
            svc.max_pods() + svc.surge_pods() if idle is None else idle + (1 if idle else 0),
            app_pod,
            svc.persistence,
        )
    if svc.checkpoint_cleanup.enabled:
        total.add(1, job_pod)


def _cloudnativepg_pods(total: _Total, pg: PostgresConfig, unset: Resources) -> None:
    """The pods CloudNativePG and its Barman Cloud plugin make, as they make them (operators.py)."""
    whose = {
        "cluster": pg.resources,
        "sidecar": BARMAN_SIDECAR_RESOURCES,
        "pooler": POOLER_RESOURCES,
        "pod-level": unset,
    }

    def operator_pod(made: tuple[list[operators.Container], list[operators.Container]]) -> dict[str, float]:
        containers, init = made
        return pod_amounts(
            [whose[w] for _, w, _ in containers], [(whose[w], restartable) for _, w, restartable in init]
        )

    # Every instance with its volume (a switchover replaces none), the plugin's sidecar in each; while
    # restoring, the restored cluster's too, and once the original is hibernated its volumes alone.
    instance = operator_pod(operators.cnpg_instance_pod(plugin=pg.backup.enabled))
    clusters = 2 if pg.restore.enabled else 1
    running = clusters - (1 if pg.restore.retire_original else 0)
    total.add(pg.instances * running, instance, pg.persistence)
    if running < clusters and pg.persistence.enabled:
        total.amounts["requests.storage"] += pg.instances * quantity_value(pg.persistence.size)
    if pg.backup.enabled and pg.restore_drill.enabled:
        # The drill's one-instance Cluster (recovering through the plugin: its sidecar too) and the
        # drill's own pod, which runs while that Cluster does.
        total.add(1, operator_pod(operators.cnpg_instance_pod(plugin=True)), pg.persistence)
        total.add(1, pod_amounts([DRILL_RESOURCES], [DRILL_RESOURCES]))
    if pg.pooler.enabled:
        # PgBouncer's pods and a rollout's surge, each with its bootstrap init container, per running cluster.
        n = pg.pooler.instances
        total.add(running * (n + operators.cnpg_pooler_surge(n)), operator_pod(operators.cnpg_pooler_pod()))


def as_quota(worst: dict[str, float]) -> dict[str, str]:
    """Worst-case amounts as ResourceQuota spec.hard quantities."""
    return {
        "requests.cpu": _cpu_quantity(worst["requests.cpu"]),
        "requests.memory": _bytes_quantity(worst["requests.memory"]),
        "limits.cpu": _cpu_quantity(worst["limits.cpu"]),
        "limits.memory": _bytes_quantity(worst["limits.memory"]),
        "requests.storage": _bytes_quantity(worst["requests.storage"]),
        "pods": str(int(worst["pods"])),
    }


def connection_demand(services: list[AgentServiceConfig]) -> list[tuple[str, int]]:
    """What connects to Postgres at worst, (what, connections): every unit of every service at
    its autoscaling maximum plus its rollout surge, canary and idle colours included, and the
    migration and cleanup Jobs, each pod opening `databasePoolSize` connections."""
    demand = []
    for i, s in enumerate(services):
        if not s.uses_postgres:
            continue
        r, pool = s.rollout, s.database_pool_size
        pods = s.max_pods() + s.surge_pods()
        if r.strategy == "canary" and r.canary is not None:
            pods += r.canary.replicas + 1
        elif r.strategy == "blueGreen" and r.blue_green is not None:
            idle = r.blue_green.idle_replicas
            pods += s.max_pods() + s.surge_pods() if idle is None else idle + (1 if idle else 0)
        demand.append((f"services[{i}] {s.name}: {pods} pods x {pool}", pods * pool))
        if s.migration.enabled:
            demand.append((f"services[{i}] migration: 1 x {pool}", pool))
        if s.checkpoint_cleanup.enabled:
            demand.append((f"services[{i}] cleanup: 1 x {pool}", pool))
    return demand
