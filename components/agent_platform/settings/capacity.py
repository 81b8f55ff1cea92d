"""Capacity arithmetic: a pod's effective requests and limits, quantities as the quota writes them."""

from __future__ import annotations

from agent_platform.settings.pod import Resources
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
