"""Findings and their recording: what a setting's check raises, and every problem of one run collected;
how a finding shows a value (shortened, and never a credential: `shown`, `credential_shape`)."""

from __future__ import annotations

import collections
import contextvars
import functools
import math
import re
from collections.abc import Callable
from typing import Any

from pydantic import (
    BaseModel,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError


class Problem(str):
    """One finding's line, and where it is in the values that were validated (`loc`: keys and list
    indexes), so a caller that knows where those values came from can point at the line."""

    loc: tuple[Any, ...]

    def __new__(cls, text: str, loc: tuple[Any, ...] = ()) -> Problem:
        problem = super().__new__(cls, text)
        problem.loc = tuple(loc)
        return problem


class ConfigError(Exception):
    """Invalid stack configuration: one `file: key: problem` line per finding."""

    def __init__(self, problems: list[str], source: str = "") -> None:
        self.problems = problems
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__("\n".join(prefix + p for p in problems))


# While set, a model's own checks record their violations here instead of raising them, so the
# models above still run theirs (`_all_errors`); each is located afterwards by the instance it
# concerns. Unset (the normal case), a violation raises as pydantic expects.
_RECORDING: contextvars.ContextVar[list[tuple[BaseModel, Exception]] | None] = contextvars.ContextVar(
    "agent_platform_recording", default=None
)


def check(method: Callable[[Any], Any]) -> Any:
    """A model's own (cross-field) check: `model_validator(mode="after")` that, while recording,
    records its violation and lets the model be built."""

    @functools.wraps(method)
    def run(self: Any) -> Any:
        try:
            return method(self)
        except (PydanticCustomError, ValidationError) as error:
            recorded = _RECORDING.get()
            if recorded is None:
                raise
            recorded.append((self, error))
            return self

    return model_validator(mode="after")(run)


def rule(at: str, message: str) -> PydanticCustomError:
    """A cross-field violation reported at the sub-key `at` of the model that raised it."""
    return PydanticCustomError("rule", "{message}", {"at": at, "message": message})


class Findings:
    """A model check's violations, all reported together: pydantic stops a validator at the first
    exception, so a validator that raised `rule` would hide every later problem of its model."""

    def __init__(self) -> None:
        self.errors: list[PydanticCustomError] = []

    def __call__(self, at: str, message: str) -> None:
        self.errors.append(rule(at, message))

    def raise_any(self, title: str) -> None:
        if self.errors:
            raise ValidationError.from_exception_data(
                title, [InitErrorDetails(type=e, loc=(), input=None) for e in self.errors]
            )


def bad(kind: str, message: str, value: Any) -> PydanticCustomError:
    """A bad scalar: the message ends with the offending value itself, as `shown`.

    pydantic-core substitutes only `{name}` placeholders, never `{name!r}`, so the
    value is formatted here rather than left to the template.
    """
    return PydanticCustomError(kind, "{message}", {"message": f"{message}, got {shown(value)}"})


# --- Credentials: what no message, and no plain setting, may hold -----------------------------------

# Shapes of credentials, searched anywhere in a value: (what it is, pattern, where the shape is
# documented). The one table every check and every message of the package reads. Every repetition
# is bounded, and a pattern needs only as much of a credential as proves its shape, so a search
# costs O(len(value)) even on a megabyte value (an unbounded `scheme://` part took 1.6 s on 40 kB of
# `a-a-a-...`, growing with the square).
CREDENTIAL_SHAPES: tuple[tuple[str, str, str], ...] = (
    ("an Anthropic API key (sk-ant-...)", r"sk-ant-[A-Za-z0-9_-]{20}", "Anthropic API keys: sk-ant-api03-..."),
    ("an OpenAI project key (sk-proj-...)", r"sk-proj-[A-Za-z0-9_-]{20}", "OpenAI API keys: sk-proj-..."),
    ("an API secret key (sk-...)", r"sk-[A-Za-z0-9]{20}", "OpenAI user keys and others: sk- and 48 alphanumerics"),
    (
        "a GitHub token (ghp_...)",
        r"gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22}",
        "GitHub token formats: ghp_, gho_, ghu_, ghs_, ghr_, github_pat_ (github.blog 2021-04-05)",
    ),
    ("a Slack token (xox...)", r"xox[abeoprs]-[A-Za-z0-9-]{10}", "Slack token types: xoxb-, xoxp-, xoxa-, xoxe-"),
    (
        "an AWS access key ID (AKIA...)",
        r"(AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])",
        "AWS IAM identifiers: AKIA (access key), ASIA (temporary), 20 characters",
    ),
    (
        "a private key (-----BEGIN ... PRIVATE KEY-----)",
        r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----",
        "RFC 7468 sections 10-11 (PKCS #8), PKCS #1 and OpenSSH key files",
    ),
    (
        "a JSON Web Token (eyJ...)",
        r"eyJ[A-Za-z0-9_-]{8,512}\.eyJ[A-Za-z0-9_-]{8,4096}\.",
        'RFC 7519: base64url of a JSON header and claims, each starting {" (eyJ)',
    ),
    (
        "a URL with a password (user:password@ in the URL)",
        # A password that is a variable reference (`${POSTGRES_PASSWORD}`, `$PASSWORD`) is a template
        # the reader fills in, as Compose does, not a password.
        r"[A-Za-z][A-Za-z0-9+.-]{0,31}://[^/\s:@]{0,256}:(?!\$)[^/\s@]{1,256}@",
        "RFC 3986 section 3.2.1: user:password in a URI's userinfo",
    ),
)
_CREDENTIALS = [(what, re.compile(rf"(?<![A-Za-z0-9])(?:{pattern})")) for what, pattern, _ in CREDENTIAL_SHAPES]
# Each shape without its leading lookbehind (and the URL's from its `://`): a search that starts with a
# literal, which the regex engine finds by a fast scan. A whole rendered file (5 MB of resources.json at
# 100 services) is searched this way first, 3 ms a shape where the full patterns took 85-120 ms each;
# the full pattern runs only where the quick one found something.
_QUICK = [
    re.compile("://" + pattern.split("://", 1)[1] if "://" in pattern else pattern)
    for _what, pattern, _source in CREDENTIAL_SHAPES
]
# A long random token of no known shape (an API key, a password): at least 32 characters of the base64
# alphabets, upper and lower case and digits, at least 4 bits of entropy per character (detect-secrets
# and truffleHog measure the same) and a change of character class at two of five characters at
# least. Measured: random base64 of 32+ characters has 4.1-4.9 bits and ~65% changes; CamelCase names
# (4.0-4.4 bits) change at about 20%; hex digests have no upper case.
_TOKEN = re.compile(r"[A-Za-z0-9+/=_-]{32,}")


RANDOM_TOKEN = "a long random token (an API key or password)"  # a guess from the shape, not a key format


def _random_token(token: str) -> bool:
    token = token[:4096]  # longer than any credential: its start tells
    if not (re.search(r"[a-z]", token) and re.search(r"[A-Z]", token) and re.search(r"[0-9]", token)):
        return False
    counts = collections.Counter(token)
    entropy = -sum(n / len(token) * math.log2(n / len(token)) for n in counts.values())
    kinds = ["a" if c.islower() else "A" if c.isupper() else "0" if c.isdigit() else "+" for c in token]
    changes = sum(a != b for a, b in zip(kinds, kinds[1:], strict=False))
    # Case changing inside a run of letters (a lower-case letter before an upper-case one): a random
    # token has about one for every six characters; a path or a name of words has almost none, its
    # capitals starting words after a separator (`/models/Llama-3-70B-Instruct/v2/weights`,
    # `/tmp/pytest-of-root/pytest-215/test_x0/Pulumi.dev.yaml`, both taken for tokens without it).
    humps = sum(a == "a" and b == "A" for a, b in zip(kinds, kinds[1:], strict=False))
    return entropy >= 4.0 and changes >= 0.4 * (len(token) - 1) and humps >= 2


def credential_shape(value: Any) -> str | None:
    """What credential `value` looks like ("an OpenAI project key (sk-proj-...)"), or None."""
    if not isinstance(value, str):
        return None
    for what, pattern in _CREDENTIALS:
        if pattern.search(value):
            return what
    if any(_random_token(token) for token in _TOKEN.findall(value)):
        return RANDOM_TOKEN
    return None


def credential_spans(text: str) -> list[tuple[int, int, str]]:
    """Where credentials stand in a text (a rendered file, a report, a line of output): (start, end,
    what it looks like), in order, not overlapping. The same shapes as `credential_shape`, found
    anywhere: a whole known-shape token (its pattern's match, extended over the token's characters)
    or a long random token."""
    spans: list[tuple[int, int, int, str]] = []  # (start, 0 for a known shape or 1, end, what)
    for (what, pattern), quick in zip(_CREDENTIALS, _QUICK, strict=True):
        if quick.search(text) is None:
            continue
        for match in pattern.finditer(text):
            end = match.end()
            while end < len(text) and (text[end].isalnum() or text[end] in "_-"):
                end += 1
            spans.append((match.start(), 0, end, what))
    for match in _TOKEN.finditer(text):
        if _random_token(match.group()):
            spans.append((match.start(), 1, match.end(), RANDOM_TOKEN))
    merged: list[tuple[int, int, str]] = []  # a known shape names a span it starts before or with
    for start, _rank, end, what in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]), merged[-1][2])
        else:
            merged.append((start, end, what))
    return merged


# A value in a message: at most this many characters, then its length.
SHOWN_MAX = 120


def shown(value: Any) -> str:
    """`value` as a message shows it: its repr, cut at SHOWN_MAX characters with its length, and
    never a credential (what it looks like instead)."""
    what = credential_shape(value)
    if what is not None:
        return f"<{what}: not shown>"
    text = repr(value)
    if len(text) <= SHOWN_MAX:
        return text
    size = f"{len(value):,} characters" if isinstance(value, str) else f"{len(text):,} characters written out"
    return f"{text[: SHOWN_MAX - 1]}... ({size})"
