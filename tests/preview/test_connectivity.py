"""The connectivity table on real renders: shipped stacks rely only on admitted paths and leave no Service
unreachable, a cut path fails the preview with the path named, each pod is scraped once, and a Gateway's
data plane is admitted from its own namespace.

Every render here is the real program's (tests/conftest.py capture_with), so the objects have the shapes
the platform produces; the expectations are read from the render, not written down.
"""

from __future__ import annotations

import copy
import re

import pytest
import yaml
from agent_platform.settings.errors import ConfigError

from policies.rules import RULES_BY_NAME
from policies.rules.base import Resource
from policies.rules.connectivity import Stack
from preview.__main__ import main
from preview.connectivity import connectivity
from preview.render import manifests
from program.stack_config import TOP_LEVEL_KEYS, parse_stack_config
from tests.conftest import capture_with, shipped, stack_file
from tests.fully_featured import VARIANTS

P = "agent-platform:"


def config_of(cfg: dict):
    return parse_stack_config({k[len(P) :]: v for k, v in cfg.items() if k[len(P) :] in TOP_LEVEL_KEYS})


def report_for(capture, cfg: dict):
    return connectivity(manifests(capture), config_of(cfg))


def blue_green(cfg: dict) -> None:
    cfg[P + "services"][0]["rollout"] = {
        "strategy": "blueGreen",
        "blueGreen": {"active": "blue", "greenImage": cfg[P + "services"][0]["image"], "idleReplicas": 1},
    }


fully_featured = VARIANTS["gateway-canary"]  # KEDA, sidecars, Gateway API, ExternalSecret, canary


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_stacks_rely_only_on_admitted_paths_and_no_service_is_unreachable(stack):
    report = report_for(shipped(stack), stack_file(stack)["config"])
    assert report.failures == []
    assert report.warnings == []
    vias = {c.path.via for c in report.checked}
    assert {"env DATABASE_URL", "env REDIS_URL", "Ingress agent-platform", "DNS", "egress"} <= vias


def test_prod_table_covers_every_data_plane_and_the_operator():
    report = report_for(shipped("prod"), stack_file("prod")["config"])
    vias = {c.path.via for c in report.checked}
    assert {"ServiceMonitor agent-platform", "PodMonitor postgres", "CloudNativePG status"} <= vias
    assert {"streaming replication", "PgBouncer upstream"} <= vias
    # Every workload the render holds resolves DNS.
    workloads = {f"{m.kind}/{m.name}" for m in manifests(shipped("prod")) if m.kind in ("Deployment", "StatefulSet")}
    assert workloads <= {c.path.source.name for c in report.checked if c.path.via == "DNS"}


@pytest.mark.parametrize("variant", [*VARIANTS.values(), blue_green], ids=[*VARIANTS, "blue-green-monitored"])
def test_fully_featured_variants_rely_only_on_admitted_paths_and_no_service_is_unreachable(tmp_path, variant):
    data = copy.deepcopy(stack_file("prod")["config"])
    variant(data)
    report = report_for(capture_with(tmp_path, "prod", variant), data)
    assert report.failures == []
    assert report.warnings == []


def test_the_keda_trigger_and_the_gateway_route_are_paths(tmp_path):
    data = copy.deepcopy(stack_file("prod")["config"])
    fully_featured(data)
    report = report_for(capture_with(tmp_path, "prod", fully_featured), data)
    by_via = {c.path.via: c for c in report.checked}
    keda = by_via["ScaledObject agent-runner (redis)"]
    assert keda.path.source.namespace == "keda" and keda.path.port == 6379 and keda.verdict.allowed
    route = next(c for c in report.checked if c.path.via.startswith("HTTPRoute"))
    # The fixture's Gateway lives in `gateways`: its data plane is admitted from there.
    assert route.path.source.namespace == "gateways" and route.verdict.ingress.policy == "agent-api"


def _edited(tmp_path, mutate):
    data = copy.deepcopy(stack_file("prod"))
    mutate(data["config"])
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_policy_edit_that_cuts_a_path_fails_the_preview_naming_the_path(tmp_path, capsys):
    def cut(cfg):
        cfg[P + "services"][0]["networkPolicy"] = {"enabled": False}  # the api's own policy gone: default deny

    code = main(["prod", "--config-file", str(_edited(tmp_path, cut)), "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("error: connectivity: ")]
    # Each at the stack-file key the edit made (the line of services[agent-api].networkPolicy), with the fix.
    edited = tmp_path / "Pulumi.prod.yaml"
    line = next(i for i, t in enumerate(edited.read_text().splitlines(), 1) if t.strip().startswith("networkPolicy:"))
    assert (
        f"error: connectivity: {edited}:{line}: agent-platform:services[agent-api].networkPolicy: "
        "Deployment/agent-api -> Pooler/postgres-pooler-rw:5432/TCP (env DATABASE_URL, to "
        "Service postgres-pooler-rw:5432) is admitted by no NetworkPolicy rule: it needs an egress rule in a "
        "NetworkPolicy selecting Deployment/agent-api (only allow-dns, default-deny, namespace-wide, select it); "
        "fix: give the path a rule"
    ) in [e.split(": the service's allowFrom")[0] for e in errors]
    assert any("ingress controller (ingress-nginx) -> Deployment/agent-api:8000/TCP" in e for e in errors)
    # The pack says the same, as a mandatory violation.
    assert any("mandatory" in line and "connectivity-paths-admitted" in line for line in out.splitlines())


def test_the_shipped_prod_preview_prints_the_table_and_passes(tmp_path, capsys):
    assert main(["prod", "--out", str(tmp_path / "out"), "--no-policy"]) == 0
    out = capsys.readouterr().out
    assert "each admitted by a NetworkPolicy rule" in out
    assert re.search(
        r"ingress controller \(ingress-nginx\) +Deployment/agent-api \(Service agent-api:80\) +8000/TCP +"
        r"Ingress agent-platform +egress not isolated; ingress agent-api\[0\]",
        out,
    )


def test_markdown_carries_the_table(tmp_path, capsys):
    assert main(["prod", "--out", str(tmp_path / "out"), "--no-policy", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "<details><summary>connectivity:" in out
    assert "| from | to | port | because of | admitted by |" in out


def test_blue_green_scrapes_each_pod_once(tmp_path):
    capture = capture_with(tmp_path, "prod", blue_green)
    kube = manifests(capture)
    stack = Stack([m.obj for m in kube])
    scrapes = [p for p in stack.paths() if p.via.startswith("ServiceMonitor")]
    per_pod: dict[str, int] = {}
    for p in scrapes:
        per_pod[p.destination.name] = per_pod.get(p.destination.name, 0) + 1
    colours = {f"Deployment/{m.name}" for m in kube if m.kind == "Deployment" and m.name.startswith("agent-api-")}
    assert colours == {"Deployment/agent-api-blue", "Deployment/agent-api-green"}
    assert {pod: n for pod, n in per_pod.items() if pod in colours} == dict.fromkeys(colours, 1)
    # The switch Service (agent-api, selecting the active colour) carries no metrics port.
    switch = next(m.obj for m in kube if m.kind == "Service" and m.name == "agent-api")
    assert [p["name"] for p in switch["spec"]["ports"]] == ["http"]


def test_a_switch_service_with_the_metrics_port_would_be_scraped_twice(tmp_path):
    # The shape before the fix: the switch Service carried the metrics port and the monitor's label.
    kube = manifests(capture_with(tmp_path, "prod", blue_green))
    objs = [copy.deepcopy(m.obj) for m in kube]
    switch = next(o for o in objs if o["kind"] == "Service" and o["metadata"]["name"] == "agent-api")
    blue = next(o for o in objs if o["kind"] == "Service" and o["metadata"]["name"] == "agent-api-blue")
    switch["spec"]["ports"] = copy.deepcopy(blue["spec"]["ports"])
    switch["metadata"]["labels"] = {**switch["metadata"]["labels"], "agent-platform.io/scraped": "true"}
    assert any("Deployment/agent-api-blue:9090 is scraped 2 times" in w for w in Stack(objs).warnings())


def test_a_service_nobody_may_reach_and_a_monitor_without_the_port_are_warned():
    objs = [copy.deepcopy(m.obj) for m in manifests(shipped("prod"))]
    runner = next(o for o in objs if o["kind"] == "Service" and o["metadata"]["name"] == "agent-runner-headless")
    # The headless Service as it was: the app port, which no rule admits anyone to.
    runner["spec"]["ports"] = [{"name": "http", "port": 8080, "protocol": "TCP", "targetPort": "http"}]
    runner["metadata"]["labels"] = {**runner["metadata"]["labels"], "agent-platform.io/scraped": "true"}
    warnings = Stack(objs).warnings()
    assert (
        "Service agent-runner-headless port http (8080): no NetworkPolicy admits anyone to its pods on it" in warnings
    )
    assert (
        "ServiceMonitor agent-platform selects Service agent-runner-headless, which has no port 'metrics'" in warnings
    )
    # The pack's rule says the same of the same objects (its inputs: each object under its Pulumi type).
    types = {(m.kind, m.name): m.resource.type for m in manifests(shipped("prod"))}
    resources = [Resource.of(o, types[(o["kind"], o["metadata"]["name"])]) for o in objs]
    rule = RULES_BY_NAME["service-port-reachable"]
    assert [m for m, _ in rule.run(resources)] == [
        "Service agent-runner-headless port http (8080): no NetworkPolicy admits anyone to its pods on it"
    ]
    shipped_resources = [Resource.of(m.obj, m.resource.type) for m in manifests(shipped("prod"))]
    assert rule.run(shipped_resources) == []


def test_gateway_data_plane_namespace_is_set_or_derived_or_required(tmp_path):
    def envoy(cfg):
        fully_featured(cfg)
        cfg[P + "gateway"]["dataPlaneNamespace"] = "envoy-gateway-system"

    objs = {(m.kind, m.name): m.obj for m in manifests(capture_with(tmp_path, "prod", envoy))}
    admitted = [
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for rule in objs[("NetworkPolicy", "agent-api")]["spec"]["ingress"]
        for peer in rule["from"]
        if "namespaceSelector" in peer and rule["ports"] == [{"port": 8000, "protocol": "TCP"}]
    ]
    assert admitted == ["envoy-gateway-system"]

    data = copy.deepcopy(stack_file("prod")["config"])
    fully_featured(data)
    del data[P + "gateway"]["namespace"]
    with pytest.raises(ConfigError) as error:
        config_of(data)
    assert "gateway.dataPlaneNamespace: is required when gateway.namespace is unset" in str(error.value)

    data = copy.deepcopy(stack_file("prod")["config"])
    fully_featured(data)
    data[P + "network"]["ingressControllerNamespace"] = "ingress-nginx"
    with pytest.raises(ConfigError) as error:
        config_of(data)
    assert "network.ingressControllerNamespace: applies to exposure ingress, got 'ingress-nginx'" in str(error.value)
