"""Validation of custom resources (KEDA, Gateway API, External Secrets, Prometheus Operator).

kubernetes-validate knows only the built-in kinds. For the CRD-backed objects the stack can
declare, the validators that kubernetes-models generates from each project's upstream CRD
OpenAPI schemas are run by Node (preview/crds/validate.mjs; the packages and their versions
are pinned in preview/crds/package.json and package-lock.json, installed by tools/setup.sh).
A CRD object that cannot be validated is a finding, never a silent pass.
"""

from __future__ import annotations

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
        return "cannot validate custom resources: node not found (tools/setup.sh installs it)"
    if not (HERE / "node_modules" / "@kubernetes-models").is_dir():
        return "cannot validate custom resources: validators not installed (run tools/setup.sh)"
    return None


def _run(payloads: list[str]) -> list[tuple[tuple[str, str], ...] | None]:
    """One Node process for every object given (starting Node costs ~50 ms; a stack has hundreds)."""
    result = subprocess.run(
        ["node", str(HERE / "validate.mjs")],
        input=f"[{','.join(payloads)}]",
        capture_output=True,
        text=True,
        cwd=HERE,
        timeout=300,
    )
    if result.returncode != 0:
        failed = (("", f"CRD validator failed: {(result.stderr.strip().splitlines() or ['?'])[-1]}"),)
        return [failed] * len(payloads)
    return [
        None if errors is None else tuple((path, message) for path, message in errors)
        for errors in json.loads(result.stdout)
    ]


def validate_all(objs: list[dict[str, Any]]) -> list[list[tuple[str, str]]]:
    """Per object, (JSON path, message) per problem; a kind no validator knows is one problem."""
    if not objs:
        return []
    problem = _problem()
    if problem:
        return [[("apiVersion", problem)] for _ in objs]
    results = []
    for obj, errors in zip(objs, _run([json.dumps(obj, sort_keys=True) for obj in objs]), strict=True):
        if errors is None:
            results.append([("apiVersion", f"no CRD schema for {obj.get('apiVersion')} {obj.get('kind')}")])
        else:
            results.append([(path.lstrip("/").replace("/", "."), message) for path, message in errors])
    return results


def validate(obj: dict[str, Any]) -> list[tuple[str, str]]:
    return validate_all([obj])[0]
