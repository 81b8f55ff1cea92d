"""Everything generated from the settings model, written or checked in one run.

    venv/bin/python tools/generate.py            # rewrite what is stale
    venv/bin/python tools/generate.py --check    # exit 1, naming each stale file, when one is

The model (components/agent_platform/settings/) is the one source: the components' typed args
(components/agent_platform/args/), the stack-file JSON Schema (docs/stack-file.schema.json) and
the configuration reference (docs/configuration.md).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent_platform import codegen  # noqa: E402

from preview import schema  # noqa: E402
from program import config_reference  # noqa: E402

GENERATED: list[tuple[Path, Callable[[], str]]] = [
    *codegen.generated(),
    (schema.SCHEMA_PATH, schema.render),
    (config_reference.DOC, config_reference.document),
]


def stale() -> list[tuple[Path, str]]:
    """The generated files whose content is not what the model generates, with that content."""
    out = []
    for path, render in GENERATED:
        text = render()
        if not path.exists() or path.read_text() != text:
            out.append((path, text))
    return out


def main(argv: list[str]) -> int:
    if argv not in ([], ["--check"]):
        print(f"tools/generate.py: unknown argument {argv[0]!r} (use no argument, or --check)", file=sys.stderr)
        return 2
    found = stale()
    for path, text in found:
        where = path.relative_to(ROOT)
        if argv:
            print(f"{where}: out of date; run `venv/bin/python tools/generate.py`", file=sys.stderr)
        else:
            path.write_text(text)
            print(f"wrote {where}")
    return 1 if argv and found else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
