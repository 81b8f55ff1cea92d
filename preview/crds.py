"""Validation of custom resources (KEDA, Gateway API, External Secrets, Prometheus Operator).

kubernetes-validate knows only the built-in kinds. For the CRD-backed objects the stack can
declare, the validators that kubernetes-models generates from each project's upstream CRD
OpenAPI schemas are run by Node (preview/crds/validate.mjs; the packages and their versions
are pinned in preview/crds/package.json and package-lock.json, installed by scripts/setup.sh).
A CRD object that cannot be validated is a finding, never a silent pass.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

HERE = Path(__file__).with_name("crds")
GROUPS = ("keda.sh", "gateway.networking.k8s.io", "external-secrets.io", "monitoring.coreos.com")


def handles(obj: dict[str, Any]) -> bool:
    return str(obj.get("apiVersion", "")).split("/")[0] in GROUPS


def _problem() -> str | None:
    if shutil.which("node") is None:
        return "cannot validate custom resources: node not found (scripts/setup.sh installs it)"
    if not (HERE / "node_modules" / "@kubernetes-models").is_dir():
        return "cannot validate custom resources: validators not installed (run scripts/setup.sh)"
    return None


@functools.lru_cache(maxsize=4096)
def _validate(payload: str) -> tuple[tuple[str, str], ...] | None:
    result = subprocess.run(["node", str(HERE / "validate.mjs")], input=f"[{payload}]", capture_output=True,
                            text=True, cwd=HERE, timeout=120)
    if result.returncode != 0:
        return (("", f"CRD validator failed: {(result.stderr.strip().splitlines() or ['?'])[-1]}"),)
    [errors] = json.loads(result.stdout)
    return None if errors is None else tuple((path, message) for path, message in errors)


def validate(obj: dict[str, Any]) -> list[tuple[str, str]]:
    """(JSON path, message) per problem; a kind no validator knows is one problem."""
    problem = _problem()
    if problem:
        return [("apiVersion", problem)]
    errors = _validate(json.dumps(obj, sort_keys=True))
    if errors is None:
        return [("apiVersion", f"no CRD schema for {obj.get('apiVersion')} {obj.get('kind')}")]
    return [(path.lstrip("/").replace("/", "."), message) for path, message in errors]
