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
import threading
from collections.abc import Callable
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


def _start(payloads: list[str]) -> Callable[[], list[tuple[tuple[str, str], ...] | None]]:
    """One Node process for every object given (starting Node costs ~50 ms; a stack has hundreds),
    validating while the caller does other work; the returned function waits for its answers."""
    process = subprocess.Popen(
        ["node", str(HERE / "validate.mjs")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=HERE,
    )
    stdin = process.stdin
    assert stdin is not None
    process.stdin = None  # written by the thread below; communicate() only reads

    def write() -> None:
        try:
            stdin.write(f"[{','.join(payloads)}]")
            stdin.close()
        except BrokenPipeError:  # Node ended early: its stderr says why
            pass

    writer = threading.Thread(target=write, name="crd-validator-input", daemon=True)
    writer.start()

    def answers() -> list[tuple[tuple[str, str], ...] | None]:
        try:
            stdout, stderr = process.communicate(timeout=300)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            writer.join()
        if process.returncode != 0:
            failed = (("", f"CRD validator failed: {(stderr.strip().splitlines() or ['?'])[-1]}"),)
            return [failed] * len(payloads)
        return [
            None if errors is None else tuple((path, message) for path, message in errors)
            for errors in json.loads(stdout)
        ]

    return answers


def start(objs: list[dict[str, Any]]) -> Callable[[], list[list[tuple[str, str]]]]:
    """validate_all, started: the objects are validated while the caller goes on; the returned function
    gives, per object, (JSON path, message) per problem."""
    if not objs:
        return list
    problem = _problem()
    if problem:
        return lambda: [[("apiVersion", problem)] for _ in objs]
    pending = _start([json.dumps(obj, sort_keys=True) for obj in objs])

    def results() -> list[list[tuple[str, str]]]:
        found = []
        for obj, errors in zip(objs, pending(), strict=True):
            if errors is None:
                found.append([("apiVersion", f"no CRD schema for {obj.get('apiVersion')} {obj.get('kind')}")])
            else:
                found.append([(path.lstrip("/").replace("/", "."), message) for path, message in errors])
        return found

    return results


def validate_all(objs: list[dict[str, Any]]) -> list[list[tuple[str, str]]]:
    """Per object, (JSON path, message) per problem; a kind no validator knows is one problem."""
    return start(objs)()


def validate(obj: dict[str, Any]) -> list[tuple[str, str]]:
    return validate_all([obj])[0]
