"""The processes a test started, found by a marker in their environment (children inherit it)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

MARKER_ENV = "AGENT_PLATFORM_PREVIEW_TEST_MARKER"
# A bound on how long processes may take to go, not a timing assertion: a process still there after
# it is left behind for good (the preview ends its children within milliseconds of its own end).
GONE_WITHIN_SECONDS = 60.0


def marked(marker: str) -> dict[int, str]:
    """pid -> command line of every live (not zombie) process whose environment carries the marker."""
    found = {}
    needle = f"{MARKER_ENV}={marker}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if state != "Z" and needle in environ.split(b"\0"):
            found[int(entry)] = cmdline.strip()
    return found


def wait_until(condition: Callable[[], bool], seconds: float = GONE_WITHIN_SECONDS) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
