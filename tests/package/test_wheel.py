"""The package as another team gets it: a wheel, installed into a fresh environment, used by a program."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

from tests.conftest import ROOT
from tests.package.conftest import clean_env

HERE = Path(__file__).parent
DIST_NAME = tomllib.loads((ROOT / "components" / "pyproject.toml").read_text())["project"]["name"]


def test_wheel_holds_the_package_only_and_declares_its_dependencies(installed):
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = wheel.namelist()
        [metadata] = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = Parser().parsestr(wheel.read(metadata).decode())
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"agent_platform"}, top  # not the program, the preview, the pack or the tests
    # Named so that no index can answer for it with a stranger's package (on PyPI, `agent-platform`
    # is an unrelated project's; tests/package/test_dependency_sources.py).
    assert meta["Name"] == DIST_NAME == "agent-platform-components"
    assert metadata.startswith("agent_platform_components-")
    assert "agent_platform/args/components.py" in names and "agent_platform/k8s/agent_service.py" in names
    requires = {re.split(r"[<>=!~;\s]", r, maxsplit=1)[0] for r in meta.get_all("Requires-Dist")}
    assert requires == {
        "pulumi",
        "pulumi-kubernetes",
        "pulumi-random",
        "pulumi-docker",
        "pydantic",
        "grafana-foundation-sdk",
    }
    import agent_platform

    assert meta["Version"] == agent_platform.__version__


def test_the_fresh_environment_holds_the_package_under_its_name_and_nothing_of_the_former_one(installed):
    """Installed from the wheel, the import package `agent_platform` belongs to agent-platform-components,
    the only distribution in the environment's own site-packages (the pinned dependencies are seen
    through a .pth, see conftest), and the version it reports is the wheel's."""
    probe = (
        "import importlib.metadata as m, json, sys, sysconfig, agent_platform; "
        "site = sysconfig.get_paths()['purelib']; "
        "own = sorted(d.metadata['Name'] for d in m.distributions(path=[site])); "
        "first = m.distribution(sys.argv[1]); "
        "print(json.dumps({'own': own, 'version': first.version, "
        "'init': str(first.locate_file('agent_platform/__init__.py')), "
        "'owners': m.packages_distributions().get('agent_platform', [])[:1], "
        "'imported': agent_platform.__version__}))"
    )
    out = subprocess.run(
        [str(installed.python), "-c", probe, DIST_NAME],
        cwd=installed.prefix,
        env=clean_env(),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    report = json.loads(out)
    assert report["own"] == [DIST_NAME], report
    assert Path(report["init"]).is_relative_to(installed.prefix) and Path(report["init"]).is_file()
    assert report["owners"] == [DIST_NAME]
    assert report["version"] == report["imported"]


def test_installed_requirements_are_satisfied(installed):
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(installed.python), "check", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_does_not_touch_the_source_tree(installed, tmp_path):
    probe = (
        "import sys, agent_platform, agent_platform.k8s.agent_service as m; "
        "print(agent_platform.__file__); print(m.__file__); "
        "print(any(p and __import__('os').path.realpath(p) == __import__('os').path.realpath(sys.argv[1]) for p in "
        "sys.path))"
    )
    out = subprocess.run(
        [str(installed.python), "-c", probe, str(ROOT)],
        cwd=tmp_path,
        env=clean_env(),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert all(Path(p).is_relative_to(installed.prefix) for p in out[:2]), out
    assert out[2] == "False"


def test_consumer_example_registers_its_workload_from_the_installed_package(installed, tmp_path):
    program = tmp_path / "consumer"
    shutil.copytree(ROOT / "examples" / "consumer", program)
    config = {
        "agent-consumer:context": "kind-dev",
        "agent-consumer:image": "ghcr.io/example/agent-api:1.4.2",
        "agent-consumer:host": "agents.dev.example.com",
        "agent-consumer:openaiApiKey": "sk-test-value",
    }
    result = subprocess.run(
        [
            str(installed.python),
            str(HERE / "run_consumer.py"),
            str(program),
            "agent-consumer",
            "dev",
            json.dumps(config),
            json.dumps(["agent-consumer:openaiApiKey"]),
        ],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(report["agent_platform"]).is_relative_to(installed.prefix)
    registered = report["registered"]
    by = {(r["type"], r["name"]): r for r in registered}
    api = by[("agent-platform:k8s:AgentService", "agent-api")]
    for kind in (
        "apps/v1:Deployment",
        "core/v1:Service",
        "core/v1:Secret",
        "core/v1:ConfigMap",
        "autoscaling/v2:HorizontalPodAutoscaler",
        "policy/v1:PodDisruptionBudget",
        "networking.k8s.io/v1:NetworkPolicy",
    ):
        child = by[(f"kubernetes:{kind}", "agent-api")]
        assert child["parent"] == api["urn"], kind
    for store in ("Postgres", "Redis"):
        component = by[(f"agent-platform:k8s:{store}", store.lower())]
        assert by[("kubernetes:apps/v1:StatefulSet", store.lower())]["parent"] == component["urn"]
    assert ("agent-platform:k8s:AgentNamespace", "namespace") in by
    assert ("kubernetes:core/v1:ResourceQuota", "agents-dev-quota") in by
