"""Text output for people: severities in colour on a terminal, plain text everywhere else.

rich decides: colour only when stdout is a TTY, none when NO_COLOR is set (no-color.org) or the
output is piped or captured (CI logs, `> file`), and FORCE_COLOR turns it on. Lines are printed as
they are (no markup parsing: messages contain brackets; no wrapping: they are long by design).
"""

from __future__ import annotations

import os
import sys

from rich.console import Console

STYLES = {"mandatory": "bold red", "advisory": "yellow", "invalid": "bold red", "warning": "yellow", "ok": "green"}


def console(file=None) -> Console:
    # rich drops only the colours for NO_COLOR and keeps bold; plain text is what NO_COLOR users want.
    plain = bool(os.environ.get("NO_COLOR"))
    return Console(
        file=file or sys.stdout, highlight=False, soft_wrap=True, emoji=False, force_terminal=False if plain else None
    )


def say(out: Console, line: str, kind: str | None = None) -> None:
    out.print(line, style=STYLES.get(kind or "", None), markup=False)


def policy_kind(line: str) -> str | None:
    """The severity a policy table line shows (`  mandatory ...`, `  advisory ...`)."""
    word = line.split(maxsplit=1)[0] if line.strip() else ""
    return word if word in ("mandatory", "advisory") else None
