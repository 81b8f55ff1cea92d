"""Dashboards turned on in copies of the shipped stacks: ConfigMaps the Grafana sidecar picks up on
Kubernetes, provisioning files beside the compose file on Docker; nothing while monitoring is off."""

from __future__ import annotations

import copy
import json

import pytest
from agent_platform.dashboards import queries
from agent_platform.dashboards.metrics import ALL_KNOWN, metric_names

from preview.engine import ProgramError
from preview.render import grafana_files
from program.stack_config import parse_stack_config
from tests.conftest import capture_with, objects, stack_file

MONITORING = "agent-platform:monitoring"
NAMES = ("agent-platform-dashboard-agent-services", "agent-platform-dashboard-data-stores")


def dashboards_on(given: dict | None = None):
    def mutate(cfg):
        cfg.setdefault(MONITORING, {"enabled": True})["dashboards"] = {"enabled": True, **(given or {})}

    return mutate


def test_prod_dashboards_are_configmaps_for_the_sidecar(tmp_path):
    got = objects(capture_with(tmp_path, "prod", dashboards_on()))
    for name in NAMES:
        cm = got[("ConfigMap", name)]
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert cm["metadata"]["annotations"]["grafana_folder"] == "Agent platform"
        assert cm["metadata"]["namespace"] == "agents-prod"
        [(file, text)] = cm["data"].items()
        model = json.loads(text)
        assert file.endswith(".json") and model["uid"].endswith("-prod")
        assert all(metric_names(expr) <= ALL_KNOWN for _, expr in queries(model))
        assert all('namespace="agents-prod"' in expr for _, expr in queries(model))


def test_the_label_and_folder_annotation_are_the_sidecars(tmp_path):
    given = {"label": "dashboards.example.com/load", "labelValue": "yes", "folder": "Agents", "folderAnnotation": "f"}
    cm = objects(capture_with(tmp_path, "prod", dashboards_on(given)))[("ConfigMap", NAMES[0])]
    assert cm["metadata"]["labels"]["dashboards.example.com/load"] == "yes"
    assert "grafana_dashboard" not in cm["metadata"]["labels"]
    assert cm["metadata"]["annotations"]["f"] == "Agents"


def test_without_monitoring_nothing_is_rendered_and_asking_is_a_located_error(tmp_path):
    def off(cfg):
        cfg[MONITORING] = {"enabled": False, "dashboards": {"enabled": True}}

    with pytest.raises(ProgramError) as info:
        capture_with(tmp_path, "prod", off)
    assert "agent-platform:monitoring.dashboards.enabled: needs monitoring.enabled" in str(info.value)
    got = objects(capture_with(tmp_path, "dev", lambda cfg: None))
    assert not [k for k in got if k[0] == "ConfigMap" and "dashboard" in k[1]]


def test_the_alert_rules_read_only_known_metrics(tmp_path):
    """The alert rules and the dashboards draw on the same lists: a metric an alert reads is known."""
    got = objects(capture_with(tmp_path, "prod", lambda cfg: None))
    rules = [
        r for (kind, _), o in got.items() if kind == "PrometheusRule" for g in o["spec"]["groups"] for r in g["rules"]
    ]
    assert len(rules) == 10
    assert {n for r in rules for n in metric_names(r["expr"])} - ALL_KNOWN == set()


def test_docker_provisioning_files_beside_the_compose_file():
    cfg = {k.split(":", 1)[1]: v for k, v in copy.deepcopy(stack_file("e2e")["config"]).items()}
    cfg["monitoring"] = {"enabled": False}
    assert grafana_files(parse_stack_config(cfg)) == {}
    cfg["monitoring"] = {"enabled": True, "dashboards": {"enabled": True, "folder": "Agents (e2e)"}}
    files = grafana_files(parse_stack_config(cfg))
    assert sorted(files) == [
        "grafana/dashboards/agent-services.json",
        "grafana/dashboards/data-stores.json",
        "grafana/provisioning/dashboards/agent-platform.yaml",
    ]
    assert 'folder: "Agents (e2e)"' in files["grafana/provisioning/dashboards/agent-platform.yaml"]
    model = json.loads(files["grafana/dashboards/data-stores.json"])
    # The Docker variant: postgres_exporter's and pgBackRest's panels, redis_exporter's (docker_dashboards).
    assert {t for t, _ in queries(model)} == {
        "Postgres up",
        "WAL archiving",
        "Seconds since the last archived WAL",
        "Age of the last base backup",
        "Connections against max_connections",
        "Redis up",
        "Redis memory against maxmemory",
        "Redis evictions",
    }
