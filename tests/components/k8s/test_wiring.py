"""AgentPlatform's wiring as pure functions of the stack's settings (k8s/wiring.py): no program run."""

from __future__ import annotations

import copy

from agent_platform.k8s import wiring

from program.stack_config import parse_stack_config
from tests.conftest import stack_file
from tests.fully_featured import VARIANTS


def settings(stack: str, mutate=lambda cfg: None):
    cfg = copy.deepcopy(stack_file(stack)["config"])
    mutate(cfg)
    return parse_stack_config({k.split(":", 1)[1]: v for k, v in cfg.items()})


def test_the_registry_rewrites_every_image_a_release_runs():
    def shorthand(cfg):
        # Docker Hub shorthand (no registry host): what `registry` puts a mirror in front of.
        api = cfg["agent-platform:services"][0]
        api["image"] = "agents/agent-api:1.4.2"
        api["rollout"] = {
            "strategy": "blueGreen",
            "blueGreen": {"active": "blue", "greenImage": "agents/agent-api:1.5.0"},
        }

    api = settings("prod", shorthand).services[0]
    released = wiring.released(api, "mirror.example.com")
    assert released.image == "mirror.example.com/agents/agent-api:1.4.2"
    assert released.rollout.blue_green.green_image == "mirror.example.com/agents/agent-api:1.5.0"
    assert released.rollout.blue_green.blue_image == "mirror.example.com/agents/agent-api:1.4.2"  # blue: the image
    assert wiring.released(api, None).image == api.image


def test_keda_is_named_for_the_store_its_trigger_reads():
    config = settings("prod", VARIANTS["gateway-canary-cloudnativepg"])
    assert wiring.scaler(config, "postgres") == {"scaler_namespace": "keda"}
    assert wiring.scaler(config, "redis") == {"scaler_namespace": "keda"}
    assert wiring.scaler(settings("prod"), "postgres") == {}


def test_peers_are_named_as_their_pods_are():
    config = settings("prod", VARIANTS["ingress-blue-green"])
    callers = {s.name: wiring.service_wiring(config, s, wiring.pods_of(config)) for s in config.services}
    api_settings, api = callers["agent-api"]
    runner_settings, runner = callers["agent-runner"]
    # The runner calls the API: the API's both colours are its callees, and the API admits the runner.
    if "agent-runner" in config.services[0].allow_from:
        assert {c["name"] for c in runner["callees"]} >= {"agent-api-blue", "agent-api-green"}
    assert api["exposed"] and api["serve"]
    assert api_settings.allow_from == [p for c in config.services[0].allow_from for p in _pods(config, c)]


def _pods(config, name):
    return next(s for s in config.services if s.name == name).pod_names()


def test_a_gateway_moves_the_admitted_edge_to_its_data_plane():
    plain, gateway = settings("prod"), settings("prod", VARIANTS["gateway-canary"])
    assert wiring.edge_network(plain).ingress_controller_namespace == plain.network.ingress_controller_namespace
    assert wiring.edge_network(gateway).ingress_controller_namespace == gateway.gateway_data_plane_namespace()


def test_routes_carry_the_canarys_weight():
    config = settings("prod", VARIANTS["ingress-canary"])
    [route] = [r for r in wiring.routes(config) if r["service"] == "agent-api"]
    assert route["canary_service"] == "agent-api-canary" and route["canary_weight"] == 10
    assert all("canary_service" not in r for r in wiring.routes(settings("prod")))


def test_every_service_is_handed_the_stacks_tracing():
    tracing = {"enabled": True, "endpoint": "https://otlp.example.com"}
    config = settings("prod", lambda cfg: cfg.__setitem__("agent-platform:tracing", tracing))
    pods = wiring.pods_of(config)
    assert all(wiring.service_wiring(config, s, pods)[1]["tracing"] == config.tracing for s in config.services)
    assert config.tracing.enabled
