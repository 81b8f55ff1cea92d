"""The Cluster's spec: the production one, a restored one, or the drill's throwaway one (pure)."""

from __future__ import annotations

from typing import Any

import pulumi_kubernetes as k8s

from agent_platform.k8s.cloudnativepg.names import BARMAN_CLOUD_PLUGIN, CLUSTER_LABEL, POD_ROLE_LABEL, name_of_store
from agent_platform.settings.stores import PostgresConfig

core = k8s.core.v1
meta = k8s.meta.v1
net = k8s.networking.v1
rbac = k8s.rbac.v1
batch = k8s.batch.v1


def _affinity(c: PostgresConfig) -> dict[str, Any]:
    s = c.scheduling
    affinity: dict[str, Any] = {
        # One instance per node, required: losing a node loses one instance, never two.
        "enablePodAntiAffinity": True,
        "topologyKey": "kubernetes.io/hostname",
        "podAntiAffinityType": "required",
    }
    if s.node_selector:
        affinity["nodeSelector"] = dict(s.node_selector)
    if s.tolerations:
        affinity["tolerations"] = [t.model_dump(by_alias=True, exclude_none=True) for t in s.tolerations]
    if s.affinity.get("nodeAffinity"):
        affinity["nodeAffinity"] = s.affinity["nodeAffinity"]
    return affinity


def cluster_spec(
    c: PostgresConfig,
    name: str,
    app_secret: str,
    labels: dict[str, str],
    pull_secrets: list[str],
    *,
    instances: int | None = None,
    recover_from: str | None = None,
    target_time: str | None = None,
    archive: bool = True,
) -> dict[str, Any]:
    """The Cluster's spec: the production one, a restored one, or the drill's throwaway one."""
    n = c.instances if instances is None else instances
    spec: dict[str, Any] = {
        "instances": n,
        "imageName": c.image,
        "imagePullPolicy": "IfNotPresent",
        "primaryUpdateStrategy": "unsupervised",
        "primaryUpdateMethod": "switchover",
        "enableSuperuserAccess": False,
        "postgresql": {"parameters": {"max_connections": str(c.max_connections)}},
        "storage": {
            "size": c.persistence.size,
            **({"storageClass": c.persistence.storage_class} if c.persistence.storage_class else {}),
        },
        "resources": {
            "requests": c.resources.requests.model_dump(),
            "limits": c.resources.limits.model_dump(),
        },
        "affinity": _affinity(c),
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway" if n < 3 else "DoNotSchedule",
                "labelSelector": {"matchLabels": {CLUSTER_LABEL: name, POD_ROLE_LABEL: "instance"}},
            }
        ],
        "inheritedMetadata": {"labels": labels},
        "monitoring": {"enablePodMonitor": False},  # deprecated in 1.30: a PodMonitor of our own
    }
    standbys = min(c.synchronous_standbys, n - 1)
    if standbys:
        # Quorum commit: a commit returns once `number` of the standbys have it (ANY n (...)).
        spec["postgresql"]["synchronous"] = {"method": "any", "number": standbys, "dataDurability": "required"}
    if c.scheduling.priority_class_name:
        spec["priorityClassName"] = c.scheduling.priority_class_name
    if pull_secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in pull_secrets]
    if archive and c.backup.enabled:
        spec["plugins"] = [
            {
                "name": BARMAN_CLOUD_PLUGIN,
                "isWALArchiver": True,
                "parameters": {"barmanObjectName": name_of_store(c), "serverName": name},
            }
        ]
    if recover_from:
        recovery: dict[str, Any] = {
            "source": recover_from,
            "database": c.database,
            "owner": c.user,
            "secret": {"name": app_secret},
        }
        if target_time:
            recovery["recoveryTarget"] = {"targetTime": target_time}
        spec["bootstrap"] = {"recovery": recovery}
        spec["externalClusters"] = [
            {
                "name": recover_from,
                "plugin": {
                    "name": BARMAN_CLOUD_PLUGIN,
                    "parameters": {"barmanObjectName": name_of_store(c), "serverName": recover_from},
                },
            }
        ]
    else:
        spec["bootstrap"] = {"initdb": {"database": c.database, "owner": c.user, "secret": {"name": app_secret}}}
    return spec
