"""Fully-featured prod variants: every feature the platform renders, on at once, in each form it renders it.

`everything_on` (tests/components/test_cluster_fit.py: sidecars and init containers, pull secrets, workload
identity, KEDA, scheduling, registry mirror) plus prod's migration Job, cleanup CronJob and Prometheus
Operator objects, in three exposures: Gateway API with an ExternalSecret and a weighted canary; ingress-nginx
with a canary Ingress; ingress with a blue-green release whose idle colour is scaled to zero.
"""

from __future__ import annotations

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


VARIANTS = {
    "gateway-canary": gateway_canary,
    "ingress-canary": ingress_canary,
    "ingress-blue-green": ingress_blue_green,
}
