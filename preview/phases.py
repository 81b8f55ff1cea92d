"""The dry-run phase (a first `pulumi preview`) run in a worker process beside the up phase.

A whole preview runs the program twice (the engine's two phases) and analyzes each with the
policy pack; every one of those steps is bound to one core (the Pulumi SDK's per-resource work,
the pack's per-policy loop). So the preview phase is captured and analyzed by a worker process
with a pack of its own, while the CLI captures, renders, validates and analyzes the up phase.

The worker is a fresh interpreter (`python -m preview.phases`), not a fork: a process that has
already used gRPC cannot safely use it again in a forked child (the tests run the CLI in-process
after other gRPC work), and a fresh interpreter costs about a second of imports, spent while the
CLI runs the program. It prints its findings as one JSON document; a bad input is one line on
stderr and exit 2, which the CLI reports as its own. It and its pack stay in the CLI's process group
and hold lifelines (preview/lifeline.py): whatever stops the CLI stops them.

    python -m preview.phases PROJECT_DIR STACK [CONFIG_FILE]
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from preview import lifeline
from preview.capture import BadInput, capture_phase
from preview.engine import freeze_after_bursts
from preview.policy import PolicyRunError, analyze, engine_document, launch_pack
from preview.policy_results import PhaseResult, Violation

EXIT_BAD_INPUT = 2
STOP_SECONDS = 10.0  # how long close() lets the worker stop its pack before it kills the worker


class PhaseError(Exception):
    """The worker refused its input (the same bad input the CLI itself would report)."""


class PhaseWorker:
    """The preview phase of a stack, analyzed in a worker process started at construction."""

    def __init__(self, project_dir: Path, stack: str, config_file: Path | None) -> None:
        cmd = [sys.executable, "-m", "preview.phases", str(project_dir), stack]
        if config_file is not None:
            cmd.append(str(config_file.resolve()))
        self.process: subprocess.Popen | None = lifeline.Child(
            cmd,
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


# The worker's pack while it runs, for _stop.
_pack: subprocess.Popen | None = None


def _stop(signum: int, _frame) -> None:
    """SIGTERM (the CLI closing the worker) or SIGINT: the pack goes first, then the worker, at once."""
    if _pack is not None:
        _pack.kill()
        _pack.wait()
    os._exit(128 + signum)


def run(project_dir: Path, stack: str, config_file: Path | None) -> PhaseResult:
    """Capture the preview phase and analyze it with a pack started first (it imports meanwhile)."""
    global _pack
    pack = _pack = launch_pack(project_dir / "policies")
    try:
        _, capture = capture_phase(project_dir, stack, config_file, "preview")
    except BaseException:
        pack.kill()
        pack.wait()
        raise
    return analyze(project_dir, stack, [("preview", engine_document(capture))], None, pack)


def main(argv: list[str]) -> int:
    project_dir, stack, *rest = argv
    try:
        result = run(Path(project_dir), stack, Path(rest[0]) if rest else None)
    except (BadInput, PolicyRunError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    doc = dataclasses.asdict(result)
    doc["found"] = [[list(key), dataclasses.asdict(v)] for key, v in result.found.items()]
    json.dump(doc, sys.stdout)
    return 0


if __name__ == "__main__":
    lifeline.hold()
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    freeze_after_bursts()  # this process ends with its phase
    sys.exit(main(sys.argv[1:]))
