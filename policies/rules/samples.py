"""Well-formed sample objects the rules' examples start from (each failing example changes one thing)."""

from __future__ import annotations

DIGEST = "sha256:" + "ab" * 32
LABELS = {
    "app.kubernetes.io/name": "api",
    "app.kubernetes.io/part-of": "agent-platform",
    "app.kubernetes.io/instance": "api-prod",
    "app.kubernetes.io/component": "agent-api",
    "app.kubernetes.io/managed-by": "pulumi",
}
SELECTOR = {"app.kubernetes.io/name": "api", "app.kubernetes.io/part-of": "agent-platform"}


def _container() -> dict:
    return {
        "name": "app",
        "image": f"registry.example.com/api:1.0.0@{DIGEST}",
        "imagePullPolicy": "Always",
        "ports": [{"name": "http", "containerPort": 8000}],
        "env": [
            {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "db", "key": "DATABASE_URL"}}},
            {"name": "LOG_LEVEL", "value": "info"},
        ],
        "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10},
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 5},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "runAsGroup": 10001,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }


def deployment(**spec_overrides) -> dict:
    spec = {
        "selector": {"matchLabels": dict(SELECTOR)},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        "template": {
            "metadata": {"labels": dict(LABELS)},
            "spec": {
                "automountServiceAccountToken": False,
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": 10001,
                    "runAsGroup": 10001,
                    "fsGroup": 10001,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "topologySpreadConstraints": [
                    {
                        "maxSkew": 1,
                        "topologyKey": "topology.kubernetes.io/zone",
                        "whenUnsatisfiable": "ScheduleAnyway",
                        "labelSelector": {"matchLabels": dict(SELECTOR)},
                    }
                ],
                "containers": [_container()],
            },
        },
    }
    spec.update(spec_overrides)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "agents", "labels": dict(LABELS)},
        "spec": spec,
    }


def statefulset() -> dict:
    obj = deployment()
    obj["kind"] = "StatefulSet"
    spec = obj["spec"]
    spec.pop("strategy")
    spec["serviceName"] = "api-headless"
    spec["replicas"] = 1
    spec["persistentVolumeClaimRetentionPolicy"] = {"whenDeleted": "Retain", "whenScaled": "Retain"}
    spec["volumeClaimTemplates"] = [
        {
            "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}},
        }
    ]
    return obj


def hpa(min_replicas: int = 3, target: str = "api", kind: str = "Deployment") -> dict:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": target, "namespace": "agents", "labels": dict(LABELS)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": target},
            "minReplicas": min_replicas,
            "maxReplicas": 10,
        },
    }


def pdb(**spec) -> dict:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "api", "namespace": "agents", "labels": dict(LABELS)},
        "spec": {"selector": {"matchLabels": dict(SELECTOR)}, **(spec or {"maxUnavailable": 1})},
    }


def network_policy(name: str = "api", selector: dict | None = None, types=("Ingress", "Egress")) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": "agents", "labels": dict(LABELS)},
        "spec": {"podSelector": {"matchLabels": selector} if selector else {}, "policyTypes": list(types)},
    }


def namespace(name: str = "agents") -> dict:
    psa = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {**LABELS, **psa}}}


def quota(namespace_name: str = "agents") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "quota", "namespace": namespace_name},
        "spec": {"hard": {"pods": "10"}},
    }


def docker_container(**overrides) -> dict:
    props = {
        "name": "api-1",
        "image": "registry.example.com/api:1.0.0",
        "user": "10001:10001",
        "readOnly": True,
        "capabilities": {"drops": ["ALL"]},
        "securityOpts": ["no-new-privileges:true"],
        "ports": [{"internal": 8000, "external": 8000, "ip": "127.0.0.1"}],
        "healthcheck": {"tests": ["CMD", "wget", "-qO-", "http://127.0.0.1:8000/healthz"]},
        "restart": "unless-stopped",
        "memory": 1024,
        "cpus": "1.0",
    }
    props.update(overrides)
    return props
