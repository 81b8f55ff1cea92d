"""A preview stopped mid-run takes every process it started with it.

`python -m preview prod` is started with a marker in its environment, which its phase worker and both
policy packs inherit; once all four run (the worker has started its pack, so the program runs), the
CLI is stopped: SIGTERM, SIGINT, SIGKILL (no code of it runs: the children must see it is gone), or
SIGTERM to its whole process group (what `timeout` and a CI job's cancel send). Then no process
carrying the marker may be left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid

import pytest

from tests.conftest import ROOT
from tests.preview.processes import MARKER_ENV, marked, wait_until

CLI_WORKER_AND_TWO_PACKS = 4


@pytest.mark.parametrize(
    ("how", "sig"),
    [
        ("process", signal.SIGTERM),
        ("process", signal.SIGINT),
        ("process", signal.SIGKILL),
        ("group", signal.SIGTERM),
    ],
    ids=["SIGTERM", "SIGINT", "SIGKILL", "group-SIGTERM"],
)
def test_a_stopped_preview_leaves_no_process_behind(tmp_path, how, sig):
    marker = uuid.uuid4().hex
    cli = subprocess.Popen(
        [sys.executable, "-m", "preview", "prod", "--out", str(tmp_path / "out")],
        cwd=ROOT,
        env={**os.environ, MARKER_ENV: marker},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=how == "group",  # a group of its own to signal, as under `timeout`
    )
    try:
        assert wait_until(lambda: len(marked(marker)) >= CLI_WORKER_AND_TWO_PACKS or cli.poll() is not None)
        running = marked(marker)
        assert cli.poll() is None and len(running) >= CLI_WORKER_AND_TWO_PACKS, running
        if how == "group":
            os.killpg(cli.pid, sig)
        else:
            cli.send_signal(sig)
        _, stderr = cli.communicate(timeout=120)
        assert wait_until(lambda: not marked(marker)), f"left behind: {marked(marker)}"
    finally:
        for pid in marked(marker):  # never leave them to the next test
            os.kill(pid, signal.SIGKILL)
        if cli.poll() is None:
            cli.kill()
            cli.communicate()
    assert cli.returncode != 0
    if sig == signal.SIGTERM and how == "process":
        assert cli.returncode == 128 + signal.SIGTERM and "error: terminated; nothing was replaced" in stderr
    if sig == signal.SIGINT:
        assert "error: interrupted; nothing was replaced" in stderr
    if sig != signal.SIGKILL:
        assert not (tmp_path / "out").exists(), "nothing was written in place of --out"
        assert not list(tmp_path.glob(".out.staging-*")), "the staging directory was discarded"


def test_a_preview_interrupted_at_any_moment_exits(tmp_path):
    """SIGINT at moments spread over a whole run (imports, the program, validation, the policy run):
    each time the CLI exits, and leaves no process. A stop during the policy run once left the CLI
    hanging at exit in a gRPC channel's finalizer (preview/policy.py analyze): 5 of 20 runs so."""
    import time

    for n, delay in enumerate((0.4, 0.8, 1.2, 1.5, 1.7, 1.9, 2.1, 2.4)):
        marker = uuid.uuid4().hex
        out = tmp_path / f"out{n}"
        cli = subprocess.Popen(
            [sys.executable, "-m", "preview", "prod", "--out", str(out)],
            cwd=ROOT,
            env={**os.environ, MARKER_ENV: marker},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            time.sleep(delay)
            cli.send_signal(signal.SIGINT)
            _, stderr = cli.communicate(timeout=60)  # a hang fails here
            # Done before the signal (0); stopped by it (its line); or, on a slow machine, stopped while the
            # interpreter still started, before the CLI's handler was installed (Python exits by the signal).
            stopped = "error: interrupted; nothing was replaced" in stderr or cli.returncode == -signal.SIGINT
            assert cli.returncode == 0 or stopped, (delay, cli.returncode, stderr)
            assert cli.returncode == 0 or not out.exists(), "nothing was written in place of --out"
            assert wait_until(lambda m=marker: not marked(m)), f"left behind after {delay}s: {marked(marker)}"
        finally:
            for pid in marked(marker):
                os.kill(pid, signal.SIGKILL)
            if cli.poll() is None:
                cli.kill()
                cli.communicate()


def test_the_scan_sees_a_marked_process_and_not_a_zombie():
    marker = uuid.uuid4().hex
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], env={MARKER_ENV: marker})
    try:
        assert wait_until(lambda: child.pid in marked(marker))
        child.kill()
        assert wait_until(lambda: child.pid not in marked(marker))  # a zombie until reaped: not running
    finally:
        child.kill()
        child.wait()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the drop this test makes
def test_a_stop_signal_dropped_where_it_was_raised_still_stops_the_run(tmp_path, monkeypatch):
    """Python drops an exception raised in a __del__ (as a signal handler's is when the signal lands
    there): the run must still not replace --out, and must end as stopped (preview/stopping.py)."""
    from preview import output, stopping

    monkeypatch.setattr(stopping, "_received", [])
    previous = signal.getsignal(signal.SIGINT)

    class Finalized:
        def __del__(self):
            stopping.handle(signal.SIGINT, None)  # what the handler does when SIGINT lands in a __del__

    try:
        Finalized()  # collected at once: "Exception ignored in ... KeyboardInterrupt", and the run goes on
    finally:
        signal.signal(signal.SIGINT, previous)
    stage, out = output.stage_for(tmp_path / "out"), tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        output.commit(stage, out)
    assert not out.exists()
    with pytest.raises(KeyboardInterrupt):
        stopping.raise_if_stopped()
