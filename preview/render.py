"""Turn a capture into files: Kubernetes manifests and resources.json, byte-identical run to run."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from agent_platform import dashboards
from agent_platform.docker import monitoring as docker_monitoring
from agent_platform.settings.stack import StackConfig

from preview.compose import compose_document, env_example
from preview.engine import REDACTED, Capture, CapturedResource
from preview.yaml_dumper import FastSafeDumper

# Apply order: the namespace first, then config and secrets, then workloads, then the rest.
KIND_ORDER = [
    "Namespace",
    "ResourceQuota",
    "LimitRange",
    "ServiceAccount",
    "ConfigMap",
    "Secret",
    "PersistentVolumeClaim",
    "StatefulSet",
    "Deployment",
    "Service",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "NetworkPolicy",
    "Ingress",
]


@dataclass
class Manifest:
    file: str  # path relative to the output dir
    obj: dict[str, Any]
    resource: CapturedResource

    @property
    def kind(self) -> str:
        return self.obj["kind"]

    @property
    def name(self) -> str:
        return self.obj["metadata"]["name"]

    @property
    def namespace(self) -> str:
        return self.obj["metadata"].get("namespace", "")


def is_kubernetes_object(r: CapturedResource) -> bool:
    return r.custom and r.type.startswith("kubernetes:") and "kind" in r.inputs


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def _redact_secret(obj: dict[str, Any], raw: dict[str, Any]) -> None:
    """Keep a Secret's keys, never its values: kubectl-applicable, nothing leaked."""
    for field in ("stringData", "data"):
        if field in raw and isinstance(raw[field], dict):
            obj[field] = {k: REDACTED for k in raw[field]}


def kubernetes_object(r: CapturedResource) -> dict[str, Any]:
    obj = json.loads(json.dumps(r.inputs))  # deep copy of plain data
    if obj.get("kind") == "Secret":
        _redact_secret(obj, r.raw_inputs)
    metadata = obj.setdefault("metadata", {})
    metadata.setdefault("name", r.name)
    if obj["kind"] != "Namespace":
        # The provider applies namespaced objects to `default` when unset; say so explicitly.
        metadata.setdefault("namespace", "default")
    ordered: dict[str, Any] = {
        "apiVersion": obj.pop("apiVersion"),
        "kind": obj.pop("kind"),
        "metadata": _sorted(obj.pop("metadata")),
    }
    ordered.update(_sorted(obj))
    return ordered


def _order_key(m: tuple[dict[str, Any], CapturedResource]) -> tuple:
    obj = m[0]
    kind = obj["kind"]
    rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
    return rank, kind, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def manifests(capture: Capture) -> list[Manifest]:
    objects = sorted(((kubernetes_object(r), r) for r in capture.resources if is_kubernetes_object(r)), key=_order_key)
    result = []
    for index, (obj, r) in enumerate(objects, start=1):
        file = f"kubernetes/{index:03d}-{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
        result.append(Manifest(file, obj, r))
    return result


# libyaml's emitter (PyYAML's C binding) writes the same text as the pure-Python one about ten times
# faster; it was most of the render time at 100 services. PyYAML wheels ship it; the fallback keeps a
# source build working.
YAML_DUMPER = FastSafeDumper  # CSafeDumper, the same bytes (preview/yaml_dumper.py)
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def dump_yaml(obj: Any, dumper: type = YAML_DUMPER) -> str:
    return yaml.dump(obj, Dumper=dumper, sort_keys=False, default_flow_style=False, width=120)


def resources_document(capture: Capture) -> dict[str, Any]:
    """Every registered resource (secrets redacted): the input of policy runs and diffs."""
    items = []
    for r in sorted(capture.resources, key=lambda r: r.urn):
        inputs = r.inputs
        if r.type == "kubernetes:core/v1:Secret":
            inputs = kubernetes_object(r)
        items.append(
            {
                "urn": r.urn,
                "type": r.type,
                "name": r.name,
                "custom": r.custom,
                "parent": r.parent,
                "dependencies": r.dependencies,
                "provider": r.provider,
                "protect": r.protect,
                "retainOnDelete": r.retain_on_delete,
                "inputs": inputs,
                "secretPaths": r.secret_paths,
                **({"ignoreChanges": r.ignore_changes} if r.ignore_changes else {}),
            }
        )
    return {"project": capture.project, "stack": capture.stack, "outputs": capture.outputs, "resources": items}


def write_files(out: Path, files: dict[str, str]) -> None:
    """Write the files into `out` (a fresh staging dir: preview/output.py swaps it in)."""
    for rel, text in files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def render_files(capture: Capture, kube: list[Manifest] | None = None) -> dict[str, str]:
    """Every generated file by relative path; pass `kube` when the manifests are already built."""
    files = {m.file: dump_yaml(m.obj) for m in (manifests(capture) if kube is None else kube)}
    compose = compose_document(capture)
    if compose is not None:
        doc, secrets = compose
        # One document: the pure-Python emitter keeps its long quoted strings (the proxy's nginx config)
        # folded where they always were, so the file does not change under users' feet.
        files["docker-compose.yml"] = dump_yaml(doc, yaml.SafeDumper)
        files["compose.env.example"] = env_example(secrets)
    files["resources.json"] = json.dumps(resources_document(capture), indent=2, sort_keys=True) + "\n"
    return files


def prometheus_files(config: StackConfig) -> dict[str, str]:
    """A Docker stack's Prometheus files (monitoring.enabled): the config, the alert rules and the
    postgres_exporter queries the containers are started with, under prometheus/ beside the compose
    file, to read and to check with promtool."""
    if config.platform != "docker" or not config.monitoring.enabled:
        return {}
    return docker_monitoring.files(config)


def grafana_files(config: StackConfig) -> dict[str, str]:
    """A Docker stack's Grafana provisioning (monitoring.dashboards): the dashboards' JSON under
    grafana/dashboards/ and the provider that loads them, beside the compose file. Kubernetes
    stacks carry the dashboards as ConfigMaps instead (k8s/monitoring.py)."""
    m = config.monitoring
    if config.platform != "docker" or not (m.enabled and m.dashboards.enabled):
        return {}
    # The Docker variant: panels of the exporters a Docker host runs (dashboards.docker_dashboards).
    models = dashboards.docker_dashboards(
        config.environment,
        postgres=config.postgres.mode == "inCluster",
        redis=config.redis.mode == "inCluster",
        holds_queues=config.redis.holds_queues or bool(config.redis_queue_services()),
        backups=config.postgres.backup.enabled,
    )
    files = {f"grafana/dashboards/{name}": dashboards.as_text(model) for name, model in models.items()}
    files["grafana/provisioning/dashboards/agent-platform.yaml"] = dashboards.provisioning(m.dashboards.folder)
    return files
