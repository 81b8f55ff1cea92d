"""A stop signal that is not lost: the CLI's SIGTERM and SIGINT are remembered as well as raised.

Python runs a signal handler in the main thread between two bytecodes, wherever it is: inside a
`__del__` (a gRPC channel's, a subprocess's) or a garbage-collector callback, the exception it
raises is printed as "Exception ignored" and dropped, and the run would go on to replace --out and
exit 0 as if never stopped (seen under load by tests/preview/test_process_cleanup.py). So the
handler also records the signal, and the point of no return (output.commit) and the end of the
run ask again.
"""

from __future__ import annotations

import signal

_received: list[int] = []


class Terminated(KeyboardInterrupt):
    """A SIGTERM, unwound as a Ctrl-C is (asyncio and the SDK let KeyboardInterrupt through): main()'s
    finally blocks stop the phase worker and the pack and discard the staging directory."""


def _stopped(signum: int) -> KeyboardInterrupt:
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def handle(signum: int, _frame) -> None:
    signal.signal(signum, signal.SIG_IGN)  # one unwinding: a second signal must not cut it short
    _received.append(signum)
    raise _stopped(signum)


def install() -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, handle)


def raise_if_stopped() -> None:
    """Raise the stop a signal asked for, if one came (and was dropped where it was first raised)."""
    if _received:
        raise _stopped(_received[0])
