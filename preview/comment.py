"""The pull-request comment: each stack's markdown preview, cut to fit GitHub's comment limit.

    python -m preview.comment OUT_FILE STACK=MARKDOWN_FILE [STACK=MARKDOWN_FILE ...]

GitHub refuses a comment over 65536 characters. Each stack gets a fair share of the room (what a
short one leaves is shared by the others), and a stack's preview that does not fit is cut at a
line outside any code fence, its open <details> closed, with a line pointing to the full preview
(the `offline-preview` artifact keeps every out/<stack>.md whole), so the comment never breaks
its markdown half-way through a diff.
"""

from __future__ import annotations

import sys
from pathlib import Path

from preview.masking import Masker

MARKER = "<!-- agent-platform-preview -->"
LIMIT = 65_000  # under GitHub's 65,536, leaving room for the marker and joins


def cut(text: str, budget: int, note: str) -> str:
    """`text` whole if it fits in `budget`, else its longest prefix that ends outside a code fence,
    with the <details> open there closed and `note` after."""
    if len(text) <= budget:
        return text
    kept: list[str] = []
    best = ""
    size, fenced, depth = 0, False, 0
    for line in text.splitlines(keepends=True):
        if not fenced:
            closing = "</details>\n" * depth
            candidate_size = size + len(closing) + len(note) + 1
            if candidate_size <= budget:
                best = "".join(kept) + closing + "\n" + note
        size += len(line)
        if size > budget:
            break
        kept.append(line)
        stripped = line.strip()
        if stripped.startswith("```"):
            fenced = not fenced
        elif not fenced:
            depth += stripped.count("<details") - stripped.count("</details>")
            depth = max(depth, 0)
    return best or note


def compose(parts: list[tuple[str, str]], limit: int = LIMIT) -> str:
    room = limit - len(MARKER) - 1
    shares: dict[str, int] = {}
    remaining, left = room, len(parts)
    for stack, text in sorted(parts, key=lambda p: len(p[1])):
        shares[stack] = min(len(text), remaining // left)
        remaining -= shares[stack]
        left -= 1
    body = [MARKER]
    for stack, text in parts:
        note = (
            f"_The `{stack}` preview is cut here to fit a comment: the whole of it is `out/{stack}.md` "
            "in this run's `offline-preview` artifact._\n"
        )
        body.append(cut(text, shares[stack], note))
    return "\n".join(body)


def main(argv: list[str]) -> int:
    if len(argv) < 2 or any("=" not in a for a in argv[1:]):
        print("usage: python -m preview.comment OUT_FILE STACK=MARKDOWN_FILE ...", file=sys.stderr)
        return 2
    parts = []
    for arg in argv[1:]:
        stack, _, path = arg.partition("=")
        try:
            parts.append((stack, Path(path).read_text()))
        except OSError as error:
            print(f"error: {arg}: {error.strerror}", file=sys.stderr)
            return 2
    masker = Masker()  # the previews' markdown is masked already; the comment is posted publicly: once more
    Path(argv[0]).write_text(masker.mask(compose(parts), argv[0]))
    errors, warnings = masker.problems()
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    for line in errors:
        print(f"error: {line}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
