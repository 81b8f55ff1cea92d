"""The preview phase's worker process: the stack captured as a first `pulumi preview` sees it, and analyzed.

    python -m preview.phase_worker PROJECT_DIR STACK [CONFIG_FILE]

Started by preview/phases.py PhaseWorker, on a lifeline (preview/lifeline.py). It prints its findings
and its pack's answers as one JSON document on stdout; a bad input is one `error:` line on stderr and
exit 2. SIGTERM or SIGINT stop its pack, then it.
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
from preview.collector import freeze_after_bursts
from preview.exit_codes import EXIT_BAD_INPUT
from preview.pack_process import PolicyRunError, launch_pack, pack_dir_for
from preview.policy import analyze, engine_document
from preview.policy_results import PhaseResult
from preview.stackfile import StackConfigInput

# The worker's pack while it runs, for _stop.
_pack: subprocess.Popen | None = None


def _stop(signum: int, _frame) -> None:
    """SIGTERM (the CLI closing the worker) or SIGINT: the pack goes first, then the worker, at once."""
    if _pack is not None:
        _pack.kill()
        _pack.wait()
    os._exit(128 + signum)


def run(project_dir: Path, stack: str, config_file: Path | None, inputs: StackConfigInput | None = None) -> PhaseResult:
    """Capture the preview phase (with the stack `inputs` the CLI read, when forked) and analyze it with a
    pack started first (it imports meanwhile)."""
    global _pack
    pack = _pack = launch_pack(pack_dir_for(project_dir))
    try:
        _, capture = capture_phase(project_dir, stack, config_file, "preview", inputs)
    except BaseException:
        pack.kill()
        pack.wait()
        raise
    return analyze(project_dir, stack, [("preview", engine_document(capture))], None, pack)


def main(argv: list[str], inputs: StackConfigInput | None = None) -> int:
    project_dir, stack, *rest = argv
    try:
        result = run(Path(project_dir), stack, Path(rest[0]) if rest else None, inputs)
    except (BadInput, PolicyRunError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    doc = dataclasses.asdict(result)
    doc["found"] = [[list(key), dataclasses.asdict(v)] for key, v in result.found.items()]
    json.dump(doc, sys.stdout)
    return 0


def serve(argv: list[str], inputs: StackConfigInput | None = None) -> int:
    """The worker's process, started (`python -m preview.phase_worker`) or forked (preview/phases.py)."""
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    freeze_after_bursts()  # this process ends with its phase
    return main(argv, inputs)


if __name__ == "__main__":
    lifeline.hold()
    sys.exit(serve(sys.argv[1:]))
