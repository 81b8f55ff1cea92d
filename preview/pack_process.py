"""The policy pack as a process: started as the Pulumi CLI starts a Python pack, on a lifeline.

Light on purpose (the standard library and preview/lifeline.py): the CLI starts its pack and its
phase worker before it imports the rest of the preview, so they start on the other core meanwhile.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from preview import lifeline


class PolicyRunError(Exception):
    pass


# The pack this preview ships with: it runs on a project that has none of its own (a consumer's program).
BUNDLED_PACK = Path(__file__).resolve().parents[1] / "policies"


def pack_dir_for(project_dir: Path) -> Path:
    """The project's own pack (`policies/PulumiPolicy.yaml`, as `pulumi preview --policy-pack policies`
    would run), else the bundled one."""
    own = project_dir / "policies"
    return own if (own / "PulumiPolicy.yaml").is_file() else BUNDLED_PACK


def policy_config_path(project_dir: Path, stack: str) -> Path:
    """The stack's policy config: `policies/config/<stack>.json` in the project, which a project on the
    bundled pack may hold too; absent, every policy runs at its own level (the secure default)."""
    return project_dir / "policies" / "config" / f"{stack}.json"


def launch_pack(pack_dir: Path) -> subprocess.Popen:
    """`python -u -m pulumi.policy <engine address> <pack dir>` with the pack dir as working
    directory, as the CLI starts a Python pack (pulumi sdk/python/lib/pulumi/policy/__main__.py
    runs the pack dir with runpy; the pack does not dial the engine address, it only serves the
    analyzer). It prints its port when ready: read it with pack_port. The module runs on a lifeline
    (preview/lifeline.py runs it as `-m` does): it ends with the process that started it."""
    return lifeline.Child(
        [sys.executable, "-u", str(lifeline.SCRIPT), "pulumi.policy", "127.0.0.1:0", str(pack_dir)],
        cwd=pack_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def pack_port(process: subprocess.Popen) -> int:
    assert process.stdout is not None
    line = process.stdout.readline().decode().strip()
    if not line.isdigit():
        process.kill()
        err = process.stderr.read().decode().strip().splitlines() if process.stderr else []
        raise PolicyRunError(f"policies/: the pack did not print a port: {(err or [line])[-1]}")
    return int(line)
