"""What a person reads after `pulumi up`, as pure functions of the settings: each service's URLs and
release state, and where the database and its backups are. Never a secret: no password, no URL with
credentials (a test renders every output of every shipped stack and finds none)."""

from __future__ import annotations

from typing import Any

from agent_platform.k8s.cloudnativepg.names import cluster_name
from agent_platform.settings.service import AgentServiceConfig
from agent_platform.settings.stack import StackConfig


def release(s: AgentServiceConfig) -> dict[str, Any]:
    """A service's release: its strategy and image, the canary's image and weight, or the colours and
    which one is active."""
    r = s.rollout
    state: dict[str, Any] = {"strategy": r.strategy, "image": s.image}
    if r.strategy == "canary" and r.canary is not None:
        state["canary"] = {"image": r.canary.image, "weight": r.canary.weight}
    elif r.strategy == "blueGreen" and r.blue_green is not None:
        bg = r.blue_green
        state["colours"] = {"active": bg.active, "blue": bg.blue_image or s.image, "green": bg.green_image or s.image}
    return state


def service_urls(config: StackConfig, base_url: str) -> dict[str, list[str]]:
    """Each routed service's public URLs: the edge's base URL and each of its path prefixes."""
    return {s.name: [base_url.rstrip("/") + p for p in s.ingress.paths] for s in config.services if s.ingress.enabled}


def database(config: StackConfig, host: str) -> dict[str, Any]:
    """Where the agents' database is and where its backups go (a host and names only, never a credential)."""
    pg = config.postgres
    out: dict[str, Any] = {"mode": pg.mode, "host": host, "database": pg.database, "user": pg.user}
    if pg.mode == "cloudnativepg":
        from_name = cluster_name(pg)
        out["cluster"] = from_name
        if pg.restore.enabled:
            out["restore"] = {
                "serving": from_name,
                "targetTime": pg.restore.target_time,
                "originalRetired": pg.restore.retire_original,
            }
    backup = pg.backup
    if backup.enabled:
        out["backup"] = {
            "schedule": backup.schedule,
            "retentionDays": backup.retention_days,
            "destination": backup.object_store.destination_path if backup.object_store else "a volume of the host",
        }
    return out
