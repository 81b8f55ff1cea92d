"""Fully-featured prod variants: every feature the platform renders, on at once, in each form it renders it.

`everything_on` (tests/components/test_cluster_fit.py: sidecars and init containers, pull secrets, workload
identity, KEDA, scheduling, registry mirror) plus prod's migration Job, cleanup CronJob and Prometheus
Operator objects, in three exposures: Gateway API with an ExternalSecret and a weighted canary; ingress-nginx
with a canary Ingress; ingress with a blue-green release whose idle colour is scaled to zero. `everything_on`
fits the plain StatefulSet Postgres; the `-cloudnativepg` variants keep prod's CloudNativePG (Cluster, Pooler,
backups, restore drill) under the same options, on both exposures, with KEDA reading a postgresql trigger
through the pooler.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from tests.components.test_cluster_fit import everything_on, gateway_and_external_secrets

CANARY_IMAGE = "registry.example.com/agents/agent-api:1.5.0@sha256:" + "c" * 64


def gateway_canary(cfg: dict) -> None:
    everything_on(cfg)
    gateway_and_external_secrets(cfg)


def ingress_canary(cfg: dict) -> None:
    everything_on(cfg)
    cfg["agent-platform:services"][0]["rollout"] = {
        "strategy": "canary",
        "canary": {"image": CANARY_IMAGE, "weight": 10},
    }


def ingress_blue_green(cfg: dict) -> None:
    everything_on(cfg)
    cfg["agent-platform:services"][0]["rollout"] = {
        "strategy": "blueGreen",
        "blueGreen": {"active": "blue", "greenImage": CANARY_IMAGE, "idleReplicas": 0},
    }


def cloudnativepg(mutate: Callable[[dict], None]) -> Callable[[dict], None]:
    """`mutate`, with prod's CloudNativePG Postgres kept as the stack file has it."""

    def variant(cfg: dict) -> None:
        postgres = copy.deepcopy(cfg["agent-platform:postgres"])
        mutate(cfg)
        cfg["agent-platform:postgres"] = postgres
        # KEDA reads a postgresql trigger through the clients' host (the pooler), beside the runner's redis one.
        api = cfg["agent-platform:services"][0]
        api["autoscaling"].update(engine="keda", keda={"trigger": "postgres", "targetValue": 20})

    return variant


VARIANTS = {
    "gateway-canary": gateway_canary,
    "ingress-canary": ingress_canary,
    "ingress-blue-green": ingress_blue_green,
    "gateway-canary-cloudnativepg": cloudnativepg(gateway_canary),
    "ingress-blue-green-cloudnativepg": cloudnativepg(ingress_blue_green),
}
