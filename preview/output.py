"""Where a render goes: a fresh staging directory, swapped in only when the run succeeds.

The tool never deletes a file it did not write. An output directory it wrote carries a
marker listing its files; `--out` may be a missing directory, an empty one, or a previous
render that holds nothing but what that render wrote. Anything else is refused before any
work is done, so a mistyped `--out $HOME` or `--out .` costs nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from preview.stopping import raise_if_stopped

MARKER = ".agent-platform-preview"


class OutputError(Exception):
    """An --out that cannot take a render (one line, names the flag and the path)."""


def _previous_files(out: Path) -> set[str] | None:
    try:
        listed = json.loads((out / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return set(listed) if isinstance(listed, list) and all(isinstance(f, str) for f in listed) else None


def _files_under(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*") if p.is_file() or p.is_symlink()}


def check_target(out: Path) -> None:
    """Refuse an --out the render must not replace; creates nothing."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out}: is a file, not a directory")
    if out.is_dir() and any(out.iterdir()):
        previous = _previous_files(out)
        if previous is None:
            raise OutputError(
                f"--out {out}: not empty and not a previous render (no {MARKER}); choose an empty or new directory"
            )
        foreign = sorted(_files_under(out) - previous - {MARKER})
        if foreign:
            raise OutputError(
                f"--out {out}: holds {foreign[0]!r}, which the previous render did not write; "
                "move it away or choose another directory"
            )
    parent = out.parent if not out.exists() else out
    while not parent.exists():
        parent = parent.parent
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"--out {out}: {parent} is not writable")


def stage_for(out: Path) -> Path:
    """A fresh empty directory beside `out` (same filesystem, so the swap is a rename)."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=out.parent))
    except OSError as error:
        raise OutputError(f"--out {out}: cannot write there ({error.strerror})") from None


def commit(stage: Path, out: Path) -> None:
    """Mark the staged render and put it in place of the previous one (unless a stop signal came)."""
    raise_if_stopped()
    (stage / MARKER).write_text(json.dumps(sorted(_files_under(stage)), indent=1) + "\n")
    stage.chmod(0o755)  # mkdtemp makes it private; a render is meant to be read
    old = None
    if out.exists():
        check_target(out)  # unchanged since the run began: still only our own files
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.previous-", dir=out.parent))
        os.rename(out, old / "render")
    os.rename(stage, out)
    if old is not None:
        shutil.rmtree(old)


def discard(stage: Path) -> None:
    shutil.rmtree(stage, ignore_errors=True)
