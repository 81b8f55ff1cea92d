"""The built wheel, installed into a fresh virtual environment outside the tree."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT


@dataclass(frozen=True)
class Installed:
    wheel: Path
    python: Path  # the fresh environment's interpreter
    prefix: Path  # the fresh environment


@pytest.fixture(scope="session")
def installed(tmp_path_factory) -> Installed:
    base = tmp_path_factory.mktemp("package")
    # Build from a copy: a build writes build/ and *.egg-info next to pyproject.toml.
    src = base / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / "components" / name, src / name)
    shutil.copytree(
        ROOT / "components" / "agent_platform", src / "agent_platform", ignore=shutil.ignore_patterns("__pycache__")
    )
    dist = base / "dist"
    # No build isolation: the pinned setuptools of requirements/dev.txt is the backend, so the
    # build needs no network; `pip wheel .` with isolation fetches the same pin.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(src),
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "-q",
            "-w",
            str(dist),
        ],
        check=True,
    )
    # The wheel is named after the distribution (agent-platform-components), not after the
    # stranger's `agent-platform` on PyPI, whose wheels are agent_platform-*.whl.
    [wheel] = dist.glob("agent_platform_components-*.whl")

    prefix = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True)
    python = prefix / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--disable-pip-version-check",
            "-q",
            str(wheel),
        ],
        check=True,
    )
    # The dependencies are the ones this repository pins, already installed in its venv: the
    # fresh environment sees that site-packages (never the source tree) rather than download
    # them again; `pip check` below proves the wheel's requirements accept them.
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (site / "_agent_platform_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return Installed(wheel=wheel, python=python, prefix=prefix)


def clean_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
