"""The Grafana dashboards (agent_platform/dashboards): every query names only metrics an exporter
publishes (dashboards/metrics.py, each list with its source), and every alert has its panel. No
program run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from agent_platform.dashboards import build, dashboards, docker_dashboards, queries
from agent_platform.dashboards.metrics import ALL_KNOWN, KNOWN, metric_names

VARIANTS = {
    "kubernetes, CloudNativePG": lambda: dashboards("prod", "agents-prod", "postgres"),
    "kubernetes, in-cluster Postgres": lambda: dashboards("dev", "agents-dev", None),
    "docker": lambda: docker_dashboards("e2e", postgres=True, redis=True, holds_queues=True),
}


def unknown(models: dict) -> list[str]:
    """`file: panel: name` for each metric a query names that no exporter publishes."""
    return [
        f"{file}: {title}: {name}"
        for file, model in models.items()
        for title, expr in queries(model)
        for name in sorted(metric_names(expr) - ALL_KNOWN)
    ]


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_query_names_only_published_metrics(variant):
    models = VARIANTS[variant]()
    assert all(queries(m) for m in models.values())
    assert unknown(models) == []


def test_a_misspelt_metric_is_named_with_its_panel():
    panels = [build.Panel("Requests", "How many.", (("sum(rate(agent_http_request_total[5m]))", "x"),))]
    model = build._dashboard("t", "t", [], panels)
    assert unknown({"agents.json": model}) == ["agents.json: Requests: agent_http_request_total"]


@pytest.mark.parametrize(
    "expr,names",
    [
        ('sum by (service, le) (rate(a_total{namespace="x",status=~"5.."}[5m]))', {"a_total"}),
        ('time() - max(b_timestamp{pod=~"p-[0-9]+"})', {"b_timestamp"}),
        ("100 * c_used / on (pod) group_left d_max > 0.5", {"c_used", "d_max"}),
        ('histogram_quantile(0.95, sum without (instance) (rate(e_bucket{le!="+Inf"}[1h])))', {"e_bucket"}),
    ],
)
def test_metric_names_of_promql(expr, names):
    assert metric_names(expr) == names


def test_the_exporters_lists_do_not_overlap_and_each_has_a_source():
    seen: dict[str, str] = {}
    for exporter, names in KNOWN.items():
        for name in names:
            assert name not in seen, f"{name} in both {seen[name]} and {exporter}"
            seen[name] = exporter
    source = (build.__file__.rsplit("/", 1)[0]) + "/metrics.py"
    text = open(source).read()
    assert all(f'"{exporter}"' in text for exporter in KNOWN)


def test_every_panel_answers_a_question_and_names_its_alert():
    agent = build.agent_panels('namespace="n"')
    stores = build.store_panels('namespace="n"', "postgres")
    assert all(p.answers.endswith((".", "?")) for p in agent + stores)
    # The alert rules of k8s/monitoring.py and k8s/cloudnativepg/monitoring.py, each with a panel.
    assert {p.alert for p in agent if p.alert} == {
        "AgentHighErrorRate",
        "AgentHighLatencyP95",
        "AgentMemoryNearLimit",
        "AgentDbPoolExhausted",
        "AgentCrashLooping",
    }
    assert {p.alert for p in stores if p.alert} == {
        "PostgresWalArchiveFailing",
        "PostgresBackupTooOld",
        "PostgresReplicationLag",
        "PostgresVolumeFilling",
        "PostgresRestoreDrillFailed",
    }
    model = dashboards("prod", "agents-prod", "postgres")["agent-services.json"]
    [error_rate] = [p for p in model["panels"] if p["title"] == "Error rate (5xx)"]
    assert error_rate["description"].endswith("Alert: AgentHighErrorRate.")


def test_docker_has_no_namespace_matcher_and_no_postgres_operator_panels():
    models = docker_dashboards("e2e", postgres=True, redis=True, holds_queues=False)
    exprs = [e for m in models.values() for _, e in queries(m)]
    assert not [e for e in exprs if "namespace=" in e]
    assert not [e for e in exprs if "cnpg_" in e]
    # Nor kube-state-metrics, the kubelet or cAdvisor: a Docker host has none of them.
    assert not [e for e in exprs if any(p in e for p in ("kube_", "kubelet_", "container_"))]
    assert models["agent-services.json"]["uid"] == "agent-platform-agents-e2e"


def test_provisioning_loads_the_files_read_only():
    text = build.provisioning("Agent platform")
    assert 'folder: "Agent platform"' in text and "type: file" in text and "allowUiUpdates: false" in text
    assert f"path: {build.DASHBOARDS_PATH}" in text


PROMTOOL = Path(sys.executable).parent / "promtool"


@pytest.mark.skipif(not PROMTOOL.exists(), reason="promtool: tools/setup.sh --test installs it")
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_query_parses_as_promql(tmp_path, variant):
    """Prometheus' own parser (promtool check rules) reads each query as a recording rule's expression."""
    exprs = [e for m in VARIANTS[variant]().values() for _, e in queries(m)]
    rules = {
        "groups": [{"name": "dashboards", "rules": [{"record": f"q:{i}", "expr": e} for i, e in enumerate(exprs)]}]
    }
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run([str(PROMTOOL), "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout
