"""The dry-run phase (a first `pulumi preview`) run in a worker process beside the up phase.

A whole preview runs the program twice (the engine's two phases) and analyzes each with the
policy pack; every one of those steps is bound to one core (the Pulumi SDK's per-resource work,
the pack's per-policy loop). So the preview phase is captured and analyzed by a worker process
with a pack of its own, while the CLI captures, renders, validates and analyzes the up phase.

The worker (preview/phase_worker.py) is forked from the CLI once the CLI has made its imports, when
the CLI runs as its own process (`python -m preview`): it then starts with them, where a fresh
interpreter spent about a second of a core importing them again (the same core the two program runs
share). A process that has already used gRPC cannot safely use it in a forked child, so a CLI run
in-process after other gRPC work (the tests do) starts a fresh interpreter instead. The worker prints
its findings as one JSON document, with its pack's answers, which the CLI's pack reuses for every
request that is the same in the up phase; a bad input is one line on stderr and exit 2, which the
CLI reports as its own. It and its pack stay in the CLI's process group
and hold lifelines (preview/lifeline.py): whatever stops the CLI stops them.

This module is the CLI's side, light on purpose: a CLI that starts a fresh worker starts it before
its own imports.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from preview import lifeline
from preview.exit_codes import EXIT_BAD_INPUT
from preview.policy_results import PhaseResult, Violation

if TYPE_CHECKING:
    from preview.stackfile import StackConfigInput


def _serve(argv: list[str], inputs: StackConfigInput) -> int:
    from preview import phase_worker  # in the forked child only

    return phase_worker.serve(argv, inputs)


STOP_SECONDS = 10.0  # how long close() lets the worker stop its pack before it kills the worker


class PhaseError(Exception):
    """The worker refused its input (the same bad input the CLI itself would report)."""


class PhaseWorker:
    """The preview phase of a stack, analyzed in a worker process started at construction."""

    def __init__(
        self, project_dir: Path, stack: str, config_file: Path | None, inputs: StackConfigInput | None = None
    ) -> None:
        """Forked with the stack `inputs` the CLI has read (and checked), or started, reading them again."""
        argv = [str(project_dir), stack]
        if config_file is not None:
            argv.append(str(config_file.resolve()))
        self.process: subprocess.Popen | lifeline.Forked | None
        if inputs is not None:
            self.process = lifeline.Forked(functools.partial(_serve, argv, inputs))
            return
        self.process = lifeline.Child(
            [sys.executable, "-m", "preview.phase_worker", *argv],
            cwd=Path(__file__).resolve().parent.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def result(self) -> PhaseResult:
        """Its findings; PhaseError with the worker's one line when it refused the input."""
        assert self.process is not None, "result() is read once"
        stdout, stderr = self.process.communicate()
        code, self.process = self.process.returncode, None
        if code == EXIT_BAD_INPUT:
            raise PhaseError((stderr.strip().splitlines() or ["the preview phase failed"])[-1].removeprefix("error: "))
        if code != 0:
            raise RuntimeError(f"the preview-phase worker failed (exit {code}): {stderr.strip()[-2000:]}")
        doc = json.loads(stdout)
        found = {tuple(key): Violation(**violation) for key, violation in doc.pop("found")}
        return PhaseResult(found=found, **doc)

    def close(self) -> None:
        """Stop the worker if it still runs (the CLI failed first), its pack first; idempotent."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()  # the worker kills and reaps its pack, then exits (_stop)
                try:
                    self.process.wait(STOP_SECONDS)
                except subprocess.TimeoutExpired:
                    self.process.kill()  # its pack then goes by its lifeline
            self.process.communicate()
            self.process = None
