"""The processes the CLI starts before its own work: the preview phase's worker and its policy pack."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from preview.phases import PhaseWorker


@dataclass
class Helpers:
    worker: PhaseWorker | None = None
    pack: subprocess.Popen | None = None  # None once the policy run has taken it over
    fork_worker: bool = False  # the CLI forks the worker once it has read the stack (preview/phases.py)

    def close(self) -> None:
        """Stop what still runs (the CLI failed, or was stopped, first); idempotent."""
        if self.worker is not None:
            self.worker.close()
            self.worker = None
        if self.pack is not None:
            self.pack.kill()
            self.pack.wait()
            self.pack = None
