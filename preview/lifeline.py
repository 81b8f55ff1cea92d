"""Child processes that end when the process that started them ends, however it ended.

The preview starts a phase worker and policy packs (and the worker a pack of its own). A parent that
is stopped by SIGINT or SIGTERM stops them itself, on its way out; one killed by SIGKILL (or by the
OOM killer, or a CI runner's timeout) runs no code at all. So each child started here holds a
lifeline: its stdin is a pipe whose write end only the parent holds and never writes to. When the
parent ends, however it ends, the kernel closes that end; the child's read returns EOF and it exits at
once, closing the lifelines of its own children in turn. The children stay in the parent's process
group, so a signal to the group (a terminal's Ctrl-C, `timeout`, a CI job's cancel) reaches them too.

    python preview/lifeline.py MODULE ARGS...   run MODULE as `python -m MODULE ARGS...` would, on a lifeline

(by path, not `-m`: a pack runs in its own directory, where this package is not importable, and must
not be able to import it.)
"""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
import threading
from pathlib import Path

# Set by Child for the child it starts: the file descriptor of its lifeline (always 0, its stdin).
ENV = "AGENT_PLATFORM_PREVIEW_LIFELINE"
EXIT_PARENT_GONE = 128 + 9  # as if killed with its parent
SCRIPT = Path(__file__).resolve()


class Child(subprocess.Popen):
    """A Popen whose child holds a lifeline to this process (stdin is taken by it).

    The write end is closed when the child has been waited for, or when `cut()` is called, which tells
    a child that holds on to its lifeline to exit.
    """

    def __init__(self, args, **kwargs) -> None:
        read, self.lifeline = os.pipe()  # both ends non-inheritable: only the child's stdin gets `read`
        env = {**(kwargs.pop("env", None) or os.environ), ENV: "0"}
        try:
            super().__init__(args, stdin=read, env=env, **kwargs)
        except BaseException:
            self.cut()
            raise
        finally:
            os.close(read)

    def cut(self) -> None:
        """Close this end of the lifeline (idempotent)."""
        if self.lifeline >= 0:
            os.close(self.lifeline)
            self.lifeline = -1

    def wait(self, timeout: float | None = None) -> int:
        code = super().wait(timeout)
        self.cut()
        return code

    def poll(self) -> int | None:
        code = super().poll()
        if code is not None:
            self.cut()
        return code


def hold() -> None:
    """In a child started by Child: exit the moment its parent is gone. Does nothing in a process
    started otherwise (by hand, or with stdin from a file or /dev/null)."""
    if os.environ.pop(ENV, None) is None:
        return

    def watch() -> None:
        try:
            while os.read(0, 4096):  # the parent never writes; EOF when it has ended
                pass
        except OSError:
            pass
        os._exit(EXIT_PARENT_GONE)

    threading.Thread(target=watch, name="lifeline", daemon=True).start()


def run_module(module: str, args: list[str]) -> None:
    """`python -m module args...` in this process, on a lifeline."""
    hold()
    sys.path[0] = os.getcwd()  # what `-m` puts first, instead of this file's directory
    sys.argv[:] = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    run_module(sys.argv[1], sys.argv[2:])
