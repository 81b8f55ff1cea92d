"""The rendered alert rules fire on the failure they name and stay quiet on a healthy system.

Run by promtool (`promtool test rules`, Prometheus' own rule evaluator; tools/setup.sh --test puts
Debian's build in venv/bin) on prod's PrometheusRule groups as rendered. The input series have the
names and labels their exporters produce, each source cited where its series are written:
- the reference app's metrics (examples/agent-app/app.py): agent_http_requests_total{service,status},
  agent_http_request_duration_seconds_bucket{service,le}, agent_db_pool_size, agent_db_connections_in_use;
- cAdvisor and kube-state-metrics: container_memory_working_set_bytes{pod,container},
  kube_pod_container_resource_limits{pod,container,resource}, kube_pod_container_status_restarts_total,
  kube_job_status_failed{job_name};
- CloudNativePG v1.30.0 config/manager/default-monitoring.yaml (pg_stat_archiver, pg_replication, with
  the `cnpg_` prefix), the Barman Cloud plugin v0.14.0 internal/cnpgi/instance/metrics.go
  (barman_cloud_cloudnative_pg_io_last_available_backup_timestamp), kubelet volume stats
  (kubelet_volume_stats_used_bytes / _capacity_bytes{persistentvolumeclaim}); a PodMonitor adds
  `namespace` and `pod`.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import objects, shipped

PROMTOOL = Path(sys.executable).parent / "promtool"
NS = "agents-prod"


def rules_by_alert() -> dict[str, dict]:
    found = {}
    for (kind, _), obj in objects(shipped("prod")).items():
        if kind == "PrometheusRule":
            for group in obj["spec"]["groups"]:
                for r in group["rules"]:
                    found[r["alert"]] = r
    return found


def series(metric: str, values: str, **labels: str) -> dict:
    shown = ",".join(f'{k}="{v}"' for k, v in {"namespace": NS, **labels}.items())
    return {"series": f"{metric}{{{shown}}}", "values": values}


def annotated(rule: dict, labels: dict[str, str]) -> dict[str, str]:
    """The annotations as Prometheus expands them for these labels (the rules use only $labels.X)."""
    return {
        k: re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), ""), v)
        for k, v in rule.get("annotations", {}).items()
    }


# alert -> (interval, eval_time, failing series, the labels of the series its expression returns, healthy series)
CASES = {
    "AgentHighErrorRate": (
        "1m",
        "20m",
        [
            series("agent_http_requests_total", "0+90x30", service="agent-api", status="200"),
            series("agent_http_requests_total", "0+10x30", service="agent-api", status="500"),
        ],
        {"service": "agent-api"},
        [
            series("agent_http_requests_total", "0+99x30", service="agent-api", status="200"),
            series("agent_http_requests_total", "0+1x30", service="agent-api", status="500"),
        ],
    ),
    "AgentHighLatencyP95": (
        "1m",
        "25m",
        [
            series("agent_http_request_duration_seconds_bucket", "0+0x30", service="agent-api", le="1"),
            series("agent_http_request_duration_seconds_bucket", "0+10x30", service="agent-api", le="60"),
            series("agent_http_request_duration_seconds_bucket", "0+10x30", service="agent-api", le="+Inf"),
        ],
        {"service": "agent-api"},
        [
            series("agent_http_request_duration_seconds_bucket", "0+10x30", service="agent-api", le="1"),
            series("agent_http_request_duration_seconds_bucket", "0+10x30", service="agent-api", le="60"),
            series("agent_http_request_duration_seconds_bucket", "0+10x30", service="agent-api", le="+Inf"),
        ],
    ),
    "AgentMemoryNearLimit": (
        "1m",
        "20m",
        [
            series("container_memory_working_set_bytes", "980x30", pod="agent-api-0", container="agent-api"),
            series(
                "kube_pod_container_resource_limits",
                "1000x30",
                pod="agent-api-0",
                container="agent-api",
                resource="memory",
            ),
        ],
        {"pod": "agent-api-0", "container": "agent-api"},
        [
            series("container_memory_working_set_bytes", "500x30", pod="agent-api-0", container="agent-api"),
            series(
                "kube_pod_container_resource_limits",
                "1000x30",
                pod="agent-api-0",
                container="agent-api",
                resource="memory",
            ),
        ],
    ),
    "AgentDbPoolExhausted": (
        "1m",
        "15m",
        [
            series("agent_db_pool_size", "10x30", pod="agent-api-0"),
            series("agent_db_connections_in_use", "10x30", pod="agent-api-0"),
        ],
        {"pod": "agent-api-0"},
        [
            series("agent_db_pool_size", "10x30", pod="agent-api-0"),
            series("agent_db_connections_in_use", "4x30", pod="agent-api-0"),
        ],
    ),
    "AgentCrashLooping": (
        "1m",
        "20m",
        [series("kube_pod_container_status_restarts_total", "0+1x30", pod="agent-api-0", container="agent-api")],
        {"namespace": NS, "pod": "agent-api-0", "container": "agent-api"},
        [series("kube_pod_container_status_restarts_total", "1x30", pod="agent-api-0", container="agent-api")],
    ),
    "PostgresWalArchiveFailing": (
        "1m",
        "20m",
        [
            series("cnpg_pg_stat_archiver_failed_count", "0+1x30", pod="postgres-1"),
            series("cnpg_pg_stat_archiver_last_failed_time", "1000+60x30", pod="postgres-1"),
            series("cnpg_pg_stat_archiver_last_archived_time", "900x30", pod="postgres-1"),
        ],
        {"namespace": NS, "pod": "postgres-1"},
        [
            series("cnpg_pg_stat_archiver_failed_count", "3x30", pod="postgres-1"),
            series("cnpg_pg_stat_archiver_last_failed_time", "900x30", pod="postgres-1"),
            series("cnpg_pg_stat_archiver_last_archived_time", "1000+60x30", pod="postgres-1"),
        ],
    ),
    # promtool's clock starts at 0: a timestamp that keeps up with time() is a fresh backup, one stuck
    # at 0 is the plugin's value for a cluster never backed up.
    "PostgresBackupTooOld": (
        "1m",
        "27h",
        [series("barman_cloud_cloudnative_pg_io_last_available_backup_timestamp", "0x1700", pod="postgres-1")],
        {},
        [series("barman_cloud_cloudnative_pg_io_last_available_backup_timestamp", "0+60x1700", pod="postgres-1")],
    ),
    "PostgresReplicationLag": (
        "1m",
        "15m",
        [series("cnpg_pg_replication_lag", "600x30", pod="postgres-2")],
        {"pod": "postgres-2"},
        [series("cnpg_pg_replication_lag", "2x30", pod="postgres-2")],
    ),
    "PostgresVolumeFilling": (
        "1m",
        "20m",
        [
            series("kubelet_volume_stats_used_bytes", "90x30", persistentvolumeclaim="postgres-1"),
            series("kubelet_volume_stats_capacity_bytes", "100x30", persistentvolumeclaim="postgres-1"),
        ],
        {"namespace": NS, "persistentvolumeclaim": "postgres-1"},
        [
            series("kubelet_volume_stats_used_bytes", "40x30", persistentvolumeclaim="postgres-1"),
            series("kubelet_volume_stats_capacity_bytes", "100x30", persistentvolumeclaim="postgres-1"),
        ],
    ),
    "PostgresRestoreDrillFailed": (
        "1m",
        "5m",
        [series("kube_job_status_failed", "1x10", job_name="restore-drill-29400000")],
        {"namespace": NS, "job_name": "restore-drill-29400000"},
        [series("kube_job_status_failed", "0x10", job_name="restore-drill-29400000")],
    ),
}


def promtool(tmp_path: Path, rule: dict, case: tuple) -> subprocess.CompletedProcess:
    interval, at, failing, raised, healthy = case
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": [{"name": "rendered", "rules": [rule]}]}))
    expected = {**raised, **rule.get("labels", {})}
    test = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": interval,
                "input_series": failing,
                "alert_rule_test": [
                    {
                        "eval_time": at,
                        "alertname": rule["alert"],
                        "exp_alerts": [{"exp_labels": expected, "exp_annotations": annotated(rule, expected)}],
                    }
                ],
            },
            {
                "interval": interval,
                "input_series": healthy,
                "alert_rule_test": [{"eval_time": at, "alertname": rule["alert"], "exp_alerts": []}],
            },
        ],
    }
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(test))
    return subprocess.run(
        [str(PROMTOOL), "test", "rules", "test.yaml"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )


def test_every_rendered_alert_has_a_case():
    assert set(rules_by_alert()) == set(CASES)


@pytest.mark.parametrize("alert", sorted(CASES))
def test_the_alert_fires_on_its_failure_and_not_on_a_healthy_system(tmp_path, alert):
    result = promtool(tmp_path, rules_by_alert()[alert], CASES[alert])
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_fails_an_alert_that_reads_a_metric_nobody_exports(tmp_path):
    """The check can fail: the deprecated core metric, which plugin backups do not feed, never fires."""
    rule = copy.deepcopy(rules_by_alert()["PostgresBackupTooOld"])
    rule["expr"] = rule["expr"].replace(
        "barman_cloud_cloudnative_pg_io_last_available_backup_timestamp",
        "cnpg_collector_last_available_backup_timestamp",
    )
    result = promtool(tmp_path, rule, CASES["PostgresBackupTooOld"])
    assert result.returncode != 0 and "PostgresBackupTooOld" in result.stdout + result.stderr


@pytest.mark.parametrize("alert", sorted(CASES))
def test_promtool_fails_when_the_healthy_and_failing_series_trade_places(tmp_path, alert):
    """Each case can fail both ways: the failure's series must raise the alert, the healthy ones must not."""
    interval, at, failing, raised, healthy = CASES[alert]
    result = promtool(tmp_path, rules_by_alert()[alert], (interval, at, healthy, raised, failing))
    assert result.returncode != 0
