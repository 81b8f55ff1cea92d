"""Monitoring on the Docker host (Pulumi.e2e.yaml, monitoring.enabled): Prometheus and the exporters as
the program declares them, their generated files, and the dashboards' Docker variant. No Docker: the
e2e (tools/e2e_checks.py monitoring_checks) runs them for real."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from agent_platform.dashboards import build, docker_dashboards, queries
from agent_platform.dashboards.metrics import ALL_KNOWN, metric_names
from agent_platform.docker import monitoring
from agent_platform.settings.stack import StackConfig

from preview.engine import ProgramError
from preview.render import prometheus_files, render_files
from tests.conftest import capture_with, shipped, stack_file, unlined

CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
PROMTOOL = Path(sys.executable).parent / "promtool"
MONITORING = ("prometheus", "postgres-exporter", "redis-exporter")


@pytest.fixture(scope="module")
def e2e():
    return shipped("e2e")


@pytest.fixture(scope="module")
def settings() -> StackConfig:
    config = stack_file("e2e")["config"]
    return StackConfig.model_validate({k.removeprefix("agent-platform:"): v for k, v in config.items()})


def containers(capture):
    return {r.name: r for r in capture.by_type(CONTAINER)}


def env_of(container) -> dict[str, str]:
    return dict(str(e).split("=", 1) for e in container.raw_inputs["envs"])


def test_prometheus_and_an_exporter_per_store_are_hardened(e2e):
    made = containers(e2e)
    for name in MONITORING:
        i = made[name].inputs
        assert i["readOnly"] is True and i["capabilities"] == {"drops": ["ALL"]}, name
        assert i["securityOpts"] == ["no-new-privileges:true"] and i["user"] == "65534:65534", name
        assert i["memory"] > 0 and float(i["cpus"]) > 0 and i["healthcheck"]["tests"][:2] == ["CMD", "wget"], name
        assert all("uid=65534,gid=65534" in options for options in i["tmpfs"].values()), name
    assert made["prometheus"].inputs["ports"] == [{"internal": 9090, "external": 19090, "ip": "127.0.0.1"}]
    assert not made["postgres-exporter"].inputs.get("ports") and not made["redis-exporter"].inputs.get("ports")


def test_the_exporters_stay_on_the_internal_network_and_prometheus_publishes_on_its_own(e2e):
    networks = {r.name: r.inputs for r in e2e.by_type(NETWORK)}
    assert networks["backend"]["internal"] is True and not networks["monitoring"].get("internal")
    made = containers(e2e)
    attached = {n: [a["name"] for a in made[n].inputs["networksAdvanced"]] for n in MONITORING}
    assert attached == {
        "prometheus": ["agent-platform-e2e-backend", "agent-platform-e2e-monitoring"],
        "postgres-exporter": ["agent-platform-e2e-backend"],
        "redis-exporter": ["agent-platform-e2e-backend"],
    }


def test_the_exporters_passwords_are_secrets_that_compose_reads_from_the_env_file(e2e):
    files = render_files(e2e)
    compose = yaml.safe_load(files["docker-compose.yml"])["services"]
    assert compose["postgres-exporter"]["environment"]["DATA_SOURCE_NAME"].startswith("${DATA_SOURCE_NAME:?")
    assert compose["redis-exporter"]["environment"]["REDIS_PASSWORD"].startswith("${REDIS_PASSWORD:?")
    # The DSN is derived from the Postgres password the user sets once.
    assert "DATA_SOURCE_NAME=${DATABASE_URL}?sslmode=disable&connect_timeout=2" in files["compose.env.example"]
    for value in e2e.secret_values:
        if len(value) >= 8:
            assert value not in files["docker-compose.yml"]


def test_the_app_serves_its_metrics_port_and_prometheus_scrapes_every_replica(e2e, settings):
    assert env_of(containers(e2e)["agent-api-1"])["METRICS_PORT"] == "9090"
    config = yaml.safe_load(monitoring.prometheus_config(settings))
    jobs = {j["job_name"]: j["static_configs"] for j in config["scrape_configs"]}
    assert jobs["agent-api"] == [
        {"targets": ["agent-api-1:9090"], "labels": {"service": "agent-api", "pod": "agent-api-1"}},
        {"targets": ["agent-api-2:9090"], "labels": {"service": "agent-api", "pod": "agent-api-2"}},
    ]
    assert jobs["postgres"] == [{"targets": ["postgres-exporter:9187"]}]
    assert jobs["redis"] == [{"targets": ["redis-exporter:9121"]}]
    # Pulumi.e2e.yaml's shortened intervals; the scrape timeout never above the interval.
    assert config["global"]["scrape_interval"] == "5s" and config["global"]["scrape_timeout"] == "5s"
    assert config["global"]["evaluation_interval"] == "5s" and config["rule_files"] == [monitoring.RULES_PATH]


def test_without_monitoring_the_docker_stack_has_no_prometheus(tmp_path):
    def mutate(cfg):
        cfg["agent-platform:monitoring"] = {"enabled": False}

    capture = capture_with(tmp_path, "e2e", mutate)
    names = set(containers(capture))
    assert not names & set(MONITORING)
    assert "METRICS_PORT" not in env_of(containers(capture)["agent-api-1"])


def test_monitoring_without_an_image_names_the_key_to_set(tmp_path):
    def mutate(cfg):
        del cfg["agent-platform:docker"]["monitoring"]["redisExporterImage"]

    with pytest.raises(ProgramError) as info:
        capture_with(tmp_path, "e2e", mutate)
    message = unlined(str(info.value))
    assert "agent-platform:docker.monitoring.redisExporterImage: monitoring.enabled runs redis_exporter" in message
    assert "prometheusImage" not in message  # only what is missing


def test_every_alert_has_its_docker_panel_and_every_panel_alert_a_rule(settings):
    rules = {r.alert for r in monitoring.alert_rules(settings)}
    models = docker_dashboards("e2e", postgres=True, redis=True, holds_queues=False)
    alerts = {
        p["description"].rsplit("Alert: ", 1)[1].rstrip(".")
        for m in models.values()
        for p in m["panels"]
        if "Alert: " in p["description"]
    }
    # The latency alert points at the p95 panel, as on Kubernetes.
    assert (
        rules
        == alerts
        == {
            "AgentHighErrorRate",
            "AgentHighLatencyP95",
            "AgentDbPoolExhausted",
            "AgentReplicaDown",
            "PostgresDown",
            "PostgresWalArchiveFailing",
            "PostgresBackupTooOld",
            "RedisDown",
        }
    )


def test_every_docker_query_and_rule_names_only_what_the_docker_host_publishes(settings):
    # No kube-state-metrics, cAdvisor, kubelet or CloudNativePG on a Docker host.
    docker_published = ALL_KNOWN - build_only_on_kubernetes()
    models = docker_dashboards("e2e", postgres=True, redis=True, holds_queues=True)
    exprs = [e for m in models.values() for _, e in queries(m)] + [r.expr for r in monitoring.alert_rules(settings)]
    unknown = {name for e in exprs for name in metric_names(e)} - docker_published
    assert unknown == set()


def build_only_on_kubernetes() -> frozenset[str]:
    from agent_platform.dashboards import metrics

    return metrics.CADVISOR | metrics.KUBE_STATE_METRICS | metrics.KUBELET | metrics.CNPG | metrics.BARMAN_CLOUD


def test_queue_panels_only_where_redis_holds_run_queues():
    titles = {
        queues: [p["title"] for p in docker_dashboards("e2e", True, True, queues)["agent-services.json"]["panels"]]
        for queues in (False, True)
    }
    assert "Run queue depth" not in titles[False] and "Workers busy" not in titles[False]
    assert {"Run queue depth", "Workers busy"} <= set(titles[True])


def test_the_kubernetes_render_keeps_its_panels():
    # The Docker variant is separate: the Kubernetes dashboards still read cAdvisor and kube-state-metrics.
    titles = [p.title for p in build.agent_panels('namespace="n"')]
    assert "CPU against the limit" in titles and "Restarts (15 minutes)" in titles


def test_alert_for_seconds_overrides_every_for_and_only_when_set(settings):
    shortened = yaml.safe_load(monitoring.rules_file(settings))["groups"][0]["rules"]
    assert {r["for"] for r in shortened} == {"0s"}
    real = settings.model_copy(
        update={"docker": settings.docker.model_copy(update={"monitoring": settings.docker.monitoring.model_copy(
            update={"alert_for_seconds": None})})}
    )  # fmt: skip
    fors = {r["alert"]: r["for"] for r in yaml.safe_load(monitoring.rules_file(real))["groups"][0]["rules"]}
    assert fors["AgentHighErrorRate"] == "5m" and fors["PostgresBackupTooOld"] == "15m"
    assert fors["AgentReplicaDown"] == "2m"


def test_backup_age_reads_pgbackrest_backup_info_from_the_repository(settings):
    queries_file = yaml.safe_load(monitoring.postgres_exporter_queries(settings))
    query = queries_file["pgbackrest"]["query"]
    assert "pg_read_file('/var/lib/pgbackrest/backup/agent/backup.info', 0, 16777216, true)" in query
    assert queries_file["pgbackrest"]["metrics"][0]["last_backup_stop_time_seconds"]["usage"] == "GAUGE"
    [rule] = [r for r in monitoring.alert_rules(settings) if r.alert == "PostgresBackupTooOld"]
    assert rule.expr == "time() - max(pgbackrest_last_backup_stop_time_seconds) > 93600"  # maxAgeHours 26


def test_the_rendered_files_beside_the_compose_file(settings):
    files = prometheus_files(settings)
    assert set(files) == {
        "prometheus/prometheus.yml",
        "prometheus/rules.yml",
        "prometheus/postgres-exporter-queries.yaml",
    }


@pytest.mark.skipif(not PROMTOOL.exists(), reason="promtool: tools/setup.sh --test installs it")
def test_promtool_accepts_the_config_and_the_rules(tmp_path, settings):
    """Prometheus' own checks of the generated files (promtool check config / rules)."""
    rules = tmp_path / "rules.yml"
    rules.write_text(monitoring.rules_file(settings))
    config = yaml.safe_load(monitoring.prometheus_config(settings))
    config["rule_files"] = [str(rules)]  # the container's path, here the temp file
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    for args in (["check", "rules", str(rules)], ["check", "config", str(path)]):
        result = subprocess.run([str(PROMTOOL), *args], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "SUCCESS: 8 rules found"
        in subprocess.run([str(PROMTOOL), "check", "rules", str(rules)], capture_output=True, text=True).stdout
    )


def test_without_backups_no_archive_or_backup_alert_panel_or_query(settings):
    off = settings.model_copy(
        update={"postgres": settings.postgres.model_copy(update={"backup": settings.postgres.backup.model_copy(
            update={"enabled": False})})}
    )  # fmt: skip
    alerts = {r.alert for r in monitoring.alert_rules(off)}
    assert "PostgresDown" in alerts and not alerts & {"PostgresWalArchiveFailing", "PostgresBackupTooOld"}
    assert yaml.safe_load(monitoring.postgres_exporter_queries(off)) == {}
    titles = [
        p["title"] for p in docker_dashboards("e2e", True, True, False, backups=False)["data-stores.json"]["panels"]
    ]
    assert titles[:2] == ["Postgres up", "Connections against max_connections"] and "WAL archiving" not in titles
