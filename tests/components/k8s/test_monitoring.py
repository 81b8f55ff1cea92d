"""Observability prod turns on: the metrics port, its NetworkPolicy, the ServiceMonitor, the alerts."""

from __future__ import annotations

import dataclasses

from tests.conftest import capture_with, objects, shipped

ALERTS = {
    "AgentHighErrorRate",
    "AgentHighLatencyP95",
    "AgentMemoryNearLimit",
    "AgentDbPoolExhausted",
    "AgentCrashLooping",
}


def test_metrics_port_and_service_monitor():
    objs = objects(shipped("prod"))
    container = objs[("Deployment", "agent-api")]["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "metrics", "containerPort": 9090, "protocol": "TCP"} in container["ports"]
    assert objs[("ConfigMap", "agent-api")]["data"]["METRICS_PORT"] == "9090"
    assert {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"} in objs[
        ("Service", "agent-api")
    ]["spec"]["ports"]
    monitor = objs[("ServiceMonitor", "agent-platform")]["spec"]
    assert monitor["endpoints"][0]["port"] == "metrics" and monitor["namespaceSelector"] == {
        "matchNames": ["agents-prod"]
    }
    assert ("ServiceMonitor", "agent-platform") not in objects(shipped("dev"))


def test_the_five_alerts_with_the_configured_thresholds(tmp_path):
    objs = objects(shipped("prod"))
    rules = objs[("PrometheusRule", "agent-platform")]["spec"]["groups"][0]["rules"]
    assert {r["alert"] for r in rules} == ALERTS
    error_rate = next(r for r in rules if r["alert"] == "AgentHighErrorRate")
    assert error_rate["expr"].endswith("> 5.0") and 'namespace="agents-prod"' in error_rate["expr"]
    tuned = objects(
        capture_with(
            tmp_path,
            "prod",
            lambda cfg: cfg["agent-platform:monitoring"].update(
                alerts={"errorRatePercent": 2, "dbPoolExhaustedMinutes": 10}
            ),
        )
    )
    rules = {r["alert"]: r for r in tuned[("PrometheusRule", "agent-platform")]["spec"]["groups"][0]["rules"]}
    assert rules["AgentHighErrorRate"]["expr"].endswith("> 2.0") and rules["AgentDbPoolExhausted"]["for"] == "10m"


def test_without_the_operator_the_pods_carry_scrape_annotations(tmp_path):
    objs = objects(
        capture_with(
            tmp_path,
            "prod",
            lambda cfg: cfg["agent-platform:monitoring"].update(serviceMonitor=False, prometheusRule=False),
        )
    )
    assert not any(kind in ("ServiceMonitor", "PrometheusRule") for kind, _ in objs)
    annotations = objs[("Deployment", "agent-api")]["spec"]["template"]["metadata"]["annotations"]
    assert (annotations["prometheus.io/scrape"], annotations["prometheus.io/port"]) == ("true", "9090")
    assert all(p["name"] != "metrics" for p in objs[("Service", "agent-api")]["spec"]["ports"])


def test_prod_without_alert_rules_fails_the_pack(tmp_path):
    from preview.policy import run_policy_pack
    from tests.conftest import ROOT

    capture = capture_with(tmp_path, "prod", lambda cfg: cfg.update({"agent-platform:monitoring": {"enabled": False}}))
    report = run_policy_pack(ROOT, capture, tmp_path / "out")
    violations = sorted(v.message for v in report.violations if v.policy == "alert-rules-present")
    assert [m.split(" (")[0] for m in violations] == [
        "0 app alert rule(s) in the stack, want >= 5",
        "0 postgres alert rule(s) in the stack, want >= 3",
    ]


def test_postgres_alerts_do_not_stand_in_for_the_apps(tmp_path):
    from preview.policy import run_policy_pack
    from tests.conftest import ROOT

    # The app's PrometheusRule gone from the render; the database's six alerts stay: the app is unwatched.
    full = shipped("prod")
    capture = dataclasses.replace(
        full, resources=[r for r in full.resources if not r.urn.endswith("PrometheusRule::agent-platform")]
    )
    assert ("PrometheusRule", "postgres-durability") in objects(capture)
    assert ("PrometheusRule", "agent-platform") not in objects(capture)
    report = run_policy_pack(ROOT, capture, tmp_path / "out")
    [violation] = [v for v in report.violations if v.policy == "alert-rules-present"]
    assert violation.level == "mandatory"
    assert violation.message.startswith("0 app alert rule(s) in the stack, want >= 5")
