"""The one masking rule of every output: no secret value and no credential-shaped text is written.

The settings refuse a credential in the stack file at its line, and the engine's capture writes
secrets as `[secret]`; this is the last gate before a byte leaves the preview, for anything that
came another way (a value a provider computed, a future code path). It covers the text and
markdown on stdout, stderr, and every file under --out (manifests, resources.json, compose files,
env examples, JSON and SARIF reports, diffs) and the pull-request comment: each is passed through
`mask` as it is written. A masked value is reported by where it was and what it looks like, never
shown, and the run fails, so a person removes it at its source and rotates it.
"""

from __future__ import annotations

import io
from collections.abc import Collection
from pathlib import Path
from typing import TextIO

SECRET = "[secret]"
RANDOM_TOKEN = "a long random token (an API key or password)"  # settings/errors.py's name for the guess
# Secret values shorter than this are not searched for: "yes" or a port would mask unrelated text,
# and a secret that short is refused or generated longer by the settings.
MIN_SECRET = 8


class Masker:
    """Masks the secret values it is told of and every credential-shaped token; keeps what it hid."""

    def __init__(self) -> None:
        self.secrets: set[str] = set()
        self.found: list[tuple[str, str]] = []  # (where, what it looked like)

    def know(self, values) -> None:
        self.secrets.update(v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET)

    def mask(self, text: str, where: str) -> str:
        for value in sorted(self.secrets, key=len, reverse=True):
            if value in text:
                text = text.replace(value, SECRET)
                self.found.append((where, "a secret value"))
        # Imported on first use: preview/__main__.py wraps its streams before it starts the phase worker
        # and the pack, and importing agent_platform takes most of a second.
        from agent_platform.settings.errors import credential_spans

        spans = credential_spans(text)
        if not spans:
            return text
        parts, last = [], 0
        for start, end, what in spans:
            parts += [text[last:start], f"[{what}: not shown]"]
            self.found.append((where, what))
            last = end
        return "".join(parts) + text[last:]

    def mask_files(self, files: dict[str, str]) -> dict[str, str]:
        """Each file's text (by its path under the output), masked, before it is written."""
        return {where: self.mask(text, where) for where, text in files.items()}

    def mask_tree(self, root: Path, masked: Collection[str] = ()) -> None:
        """Every text file under `root`, masked in place (the staging directory, before it is swapped in),
        but those given as `masked` (paths under `root`: mask_files has masked them as they were written)."""
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            if str(path.relative_to(root)) in masked:
                continue
            try:
                text = path.read_text()
            except (UnicodeDecodeError, OSError):
                continue
            masked = self.mask(text, str(path.relative_to(root)))
            if masked != text:
                path.write_text(masked)

    def problems(self) -> tuple[list[str], list[str]]:
        """(errors, warnings): one line per place a value was masked, with the fix. A secret value or a
        known credential shape fails the run; a long random token is a guess (a shape, not a key's
        format): it is masked all the same, and said as a warning, so a path or a name that looks random
        never fails a pipeline."""
        seen: set[tuple[str, str]] = set()
        errors, warnings = [], []
        for where, what in self.found:
            if (where, what) in seen:
                continue
            seen.add((where, what))
            line = (
                f"{where}: held {what}, not written (masked): find where it comes from (a stack-file value, "
                "an image, a label), keep it with `pulumi config set --secret <name>`, and rotate it"
            )
            (warnings if what == RANDOM_TOKEN else errors).append(line)
        return errors, warnings


MASKER = Masker()


class MaskedStream(io.TextIOBase):
    """A text stream (stdout, stderr) whose every write goes through the masker first."""

    def __init__(self, stream: TextIO, where: str, masker: Masker = MASKER) -> None:
        self.stream, self.where, self.masker = stream, where, masker

    def write(self, text: str) -> int:
        self.stream.write(self.masker.mask(text, self.where))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def fileno(self) -> int:
        return self.stream.fileno()

    def isatty(self) -> bool:
        return self.stream.isatty()
