"""How AgentPlatform wires its children, as pure functions of the stack's settings: the images a
registry rewrites, who scales on which store, the peers each service may call and be called by, the
network a routed service admits, and the Ingress routes. No resource is made here."""

from __future__ import annotations

from typing import Any

from agent_platform.settings.cluster import NetworkConfig
from agent_platform.settings.service import AgentServiceConfig
from agent_platform.settings.stack import StackConfig
from agent_platform.settings.values import with_registry


def with_image(settings: Any, registry: str | None) -> Any:
    """The settings with their image from the registry (it applies to every image the stack runs)."""
    return settings.model_copy(update={"image": with_registry(settings.image, registry)})


def released(s: AgentServiceConfig, registry: str | None) -> AgentServiceConfig:
    """A service with every image its release runs (canary and colours included) from the registry."""
    r = s.rollout
    if r.canary:
        r = r.model_copy(
            update={"canary": r.canary.model_copy(update={"image": with_registry(r.canary.image, registry)})}
        )
    if r.blue_green:
        colours = {
            key: with_registry(getattr(r.blue_green, key) or s.image, registry) for key in ("blue_image", "green_image")
        }
        r = r.model_copy(update={"blue_green": r.blue_green.model_copy(update=colours)})
    return with_image(s, registry).model_copy(update={"rollout": r})


def scaler(config: StackConfig, store: str) -> dict[str, str]:
    """`scaler_namespace` for a store a KEDA trigger reads: its operator is admitted to the store."""
    keda = {
        s.autoscaling.keda.operator_namespace
        for s in config.services
        if s.autoscaling.enabled and s.autoscaling.engine == "keda" and s.autoscaling.keda.trigger == store
    }
    return {"scaler_namespace": sorted(keda)[0]} if keda else {}


def edge_network(config: StackConfig) -> NetworkConfig:
    """The network settings a routed service admits its data plane by: the Ingress controller's
    namespace, or with gatewayApi the Gateway's data plane's (config.gateway_data_plane_namespace)."""
    network = config.network
    if config.exposure == "gatewayApi" and config.gateway is not None:
        network = network.model_copy(update={"ingress_controller_namespace": config.gateway_data_plane_namespace()})
    return network


def pods_of(config: StackConfig) -> dict[str, list[str]]:
    """The names each service's pods carry: its own, or its canary's or both colours' too."""
    return {t.name: t.pod_names() for t in config.services}


def service_wiring(
    config: StackConfig, s: AgentServiceConfig, pods: dict[str, list[str]]
) -> tuple[AgentServiceConfig, dict[str, Any]]:
    """A service's settings as AgentService takes them (images from the registry, peers by the names
    their pods carry, `pods` = pods_of(config), computed once for the stack) and its wiring keys."""
    routed = config.ingress.enabled and s.ingress.enabled
    settings = released(s, config.registry).model_copy(
        update={"allow_from": [name for caller in s.allow_from for name in pods[caller]]}
    )
    wiring = {
        "network": edge_network(config),
        "availability": config.availability,
        "exposed": routed,
        # Its app port is reached by a caller or through the edge, else by no one.
        "serve": bool(s.allow_from) or routed,
        "monitoring": config.monitoring,
        "tracing": config.tracing,
        "callees": [
            {"name": name, "port": t.port} for t in config.services if s.name in t.allow_from for name in pods[t.name]
        ],
    }
    return settings, wiring


def routes(config: StackConfig) -> list[dict[str, Any]]:
    """The Ingress (or HTTPRoute) routes: each routed service's paths, with its canary's weight."""
    return [
        {
            "service": s.name,
            "paths": list(s.ingress.paths),
            **(
                {"canary_service": canary.name, "canary_weight": s.rollout.canary.weight}
                if (canary := s.canary_unit()) and s.rollout.canary
                else {}
            ),
        }
        for s in config.services
        if s.ingress.enabled
    ]
