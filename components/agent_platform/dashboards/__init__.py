"""Grafana dashboards as code: the agent services' and the data stores' (build.py), with the metric
names each exporter publishes (metrics.py)."""

from agent_platform.dashboards.build import as_text, dashboards, docker_dashboards, provisioning, queries

__all__ = ["as_text", "dashboards", "docker_dashboards", "provisioning", "queries"]
