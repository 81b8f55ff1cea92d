"""Python's cyclic garbage collector around the preview's bursts of allocation.

A program run under the SDK's mocks and a pack's requests allocate hundreds of thousands of objects
in a few seconds, most of them in reference cycles. Left on, the collector runs its full collections
over the growing heap again and again; so it is paused for a burst and resumed after it.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

_freeze_after_bursts = False


def freeze_after_bursts() -> None:
    """For a process that ends once its preview is done (the CLI, its phase worker): what a burst
    leaves behind is frozen (gc.freeze), not collected.

    The collection after a program run went over everything the run allocated (about 5*10^5 objects
    at 100 services) to free memory the process never used again: about a second per run, and as much
    again at exit (the interpreter collects once more when it ends; frozen objects it does not visit).
    Peak memory is the same (the freed memory stayed with the process).

    Between bursts (render, validation, the reports) the collector runs after 50,000 allocations
    instead of 700: with the defaults it ran 706 times in a 100-service preview, 0.32-0.37 s of the
    CLI's path; 5 times and 0.07 s so.
    """
    global _freeze_after_bursts
    _freeze_after_bursts = True
    gc.set_threshold(50_000, 20, 100)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a burst of allocation, back on after it.

    A program run leaves reference cycles behind every registration (futures, tasks, Outputs: about
    4*10^5 for 100 services), and the collector ran its full collections over the growing heap again
    and again: about a third of the run (12.1 s -> 7.6 s at 100 services, peak RSS +14 MiB). With it
    off, the cycles go in the first collection after the burst, or stay frozen (freeze_after_bursts).
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if _freeze_after_bursts:
            gc.freeze()
        if collecting:
            gc.enable()
