"""The phase worker forked from the CLI (preview/lifeline.py Forked) behaves as a started one does.

Each check runs in a fresh interpreter of its own (a small script), never by forking the test process:
that one has used gRPC, which a forked child cannot (preview/phases.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from preview import lifeline
from tests.conftest import ROOT


def run_script(body: str) -> dict:
    script = "import json, os, sys, time\nsys.path.insert(0, '.')\nfrom preview import lifeline\n"
    done = subprocess.run(
        [sys.executable, "-c", script + textwrap.dedent(body)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_forked_child_returns_its_code_and_both_streams():
    result = run_script(
        """
        def target():
            print("out" * 50000)  # more than a pipe holds: both pipes are read together
            print("warning: w", file=sys.stderr)
            return 2
        child = lifeline.Forked(target)
        out, err = child.communicate()
        print(json.dumps({"code": child.returncode, "out": len(out), "err": err}))
        """
    )
    assert result == {"code": 2, "out": 150001, "err": "warning: w\n"}


def test_a_forked_child_that_raises_exits_1_with_its_traceback():
    result = run_script(
        """
        def target():
            raise ValueError("boom")
        child = lifeline.Forked(target)
        out, err = child.communicate()
        print(json.dumps({"code": child.returncode, "err": err.splitlines()[-1]}))
        """
    )
    assert result == {"code": 1, "err": "ValueError: boom"}


def test_a_forked_child_holds_no_lifeline_but_its_own():
    """A sibling started before the fork ends when this process cuts its lifeline, though the forked
    child (still running) was born with a copy of it; and the child ends when its own is cut."""
    result = run_script(
        """
        sibling = lifeline.Child(
            [sys.executable, "-c", "import sys; sys.path.insert(0, '.'); from preview import lifeline; "
             "lifeline.hold(); import time; time.sleep(60)"]
        )
        time.sleep(0.5)
        child = lifeline.Forked(lambda: time.sleep(60) or 0)
        sibling.cut()
        started = time.monotonic()
        sibling_code = sibling.wait(20)
        sibling_seconds = time.monotonic() - started
        alive = child.poll() is None
        child.cut()
        child_code = child.wait(20)
        print(json.dumps({"sibling": sibling_code, "fast": sibling_seconds < 15, "alive": alive,
                          "child": child_code}))
        """
    )
    assert result == {
        "sibling": lifeline.EXIT_PARENT_GONE,
        "fast": True,
        "alive": True,
        "child": lifeline.EXIT_PARENT_GONE,
    }
