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
import selectors
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path

# Set by Child for the child it starts: the file descriptor of its lifeline (always 0, its stdin).
ENV = "AGENT_PLATFORM_PREVIEW_LIFELINE"
EXIT_PARENT_GONE = 128 + 9  # as if killed with its parent
SCRIPT = Path(__file__).resolve()


# The lifelines this process holds (their write ends): a forked child closes them, so that only this
# process keeps its children alive.
_HELD: weakref.WeakSet = weakref.WeakSet()


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
        _HELD.add(self)

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


class Forked:
    """A child forked from this process running a function, with a Popen's interface as the preview
    uses it (poll, wait, terminate, kill, communicate, returncode) and a lifeline as Child's.

    Forked instead of started: it begins with every module this process has imported (a fresh
    interpreter spends about a second importing them again, on a core the program runs need). Only
    safe before this process has used gRPC: gRPC core's threads and sockets do not survive a fork
    (grpc/grpc doc/fork_support.md), so a caller forks only from a fresh CLI process.

    In the child: stdout and stderr are pipes to this process (plain streams, as a fresh interpreter's),
    the lifelines of this process's other children are closed, and `target()`'s return is the exit code.
    """

    def __init__(self, target: Callable[[], int]) -> None:
        life_read, self.lifeline = os.pipe()
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # nothing buffered here is written twice
        self.pid = os.fork()
        if self.pid == 0:  # the child: never returns
            _run_forked(target, life_read, (self.lifeline, out_read, err_read), out_write, err_write)
        self.returncode: int | None = None
        self.args = ["<forked>", getattr(target, "__name__", "target")]
        for fd in (life_read, out_write, err_write):
            os.close(fd)
        self._pipes: list[int] = [out_read, err_read]
        _HELD.add(self)

    def cut(self) -> None:
        """Close this end of the lifeline (idempotent)."""
        if self.lifeline >= 0:
            os.close(self.lifeline)
            self.lifeline = -1

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self._reaped(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if timeout is None:
            if self.returncode is None:
                self._reaped(os.waitpid(self.pid, 0)[1])
            return self.returncode  # type: ignore[return-value]
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.args, timeout)
            time.sleep(0.01)
        return self.returncode  # type: ignore[return-value]

    def _reaped(self, status: int) -> None:
        self.returncode = os.waitstatus_to_exitcode(status)
        self.cut()

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def communicate(self) -> tuple[str, str]:
        """Everything it writes on stdout and stderr until it ends (read together: neither pipe can
        fill up and stop it), then wait for it."""
        chunks: dict[int, list[bytes]] = {fd: [] for fd in self._pipes}
        with selectors.DefaultSelector() as selector:
            for fd in self._pipes:
                selector.register(fd, selectors.EVENT_READ)
            while selector.get_map():
                for key, _ in selector.select():
                    data = os.read(key.fd, 65536)
                    if data:
                        chunks[key.fd].append(data)
                    else:
                        selector.unregister(key.fd)
                        os.close(key.fd)
        self._pipes = []
        self.wait()
        return tuple(b"".join(parts).decode(errors="replace") for parts in chunks.values()) or ("", "")  # type: ignore[return-value]


def _run_forked(target: Callable[[], int], lifeline: int, close: tuple[int, ...], out: int, err: int) -> None:
    code = 1
    try:
        for fd in close:
            os.close(fd)
        for held in list(_HELD):
            if held.lifeline >= 0:
                os.close(held.lifeline)
                held.lifeline = -1
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.close(out)
        os.close(err)
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115 (the process's own)
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False, errors="backslashreplace")  # noqa: SIM115
        _watch(lifeline)
        code = target()
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001, S110 - exiting either way
                pass
        os._exit(code)


def _watch(fd: int) -> None:
    """Exit the moment the process at the other end of the pipe `fd` is gone (it never writes)."""

    def watch() -> None:
        try:
            while os.read(fd, 4096):
                pass
        except OSError:
            pass
        os._exit(EXIT_PARENT_GONE)

    threading.Thread(target=watch, name="lifeline", daemon=True).start()


def hold() -> None:
    """In a child started by Child: exit the moment its parent is gone. Does nothing in a process
    started otherwise (by hand, or with stdin from a file or /dev/null)."""
    if os.environ.pop(ENV, None) is None:
        return
    _watch(0)  # stdin: the parent never writes; EOF when it has ended


def run_module(module: str, args: list[str]) -> None:
    """`python -m module args...` in this process, on a lifeline."""
    hold()
    sys.path[0] = os.getcwd()  # what `-m` puts first, instead of this file's directory
    sys.argv[:] = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    run_module(sys.argv[1], sys.argv[2:])
