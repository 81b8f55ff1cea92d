"""Colour for people on a terminal, never in pipes or with NO_COLOR (preview/terminal.py)."""

from __future__ import annotations

import io

from preview.terminal import console, policy_kind, say

LINE = "  mandatory high     preview+up run-as-non-root   Deployment/x   container [app] runs as root"


def rendered(monkeypatch, env: dict[str, str], tty: bool) -> str:
    for key in ("NO_COLOR", "FORCE_COLOR", "TERM"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    class Stream(io.StringIO):
        def isatty(self) -> bool:
            return tty

    stream = Stream()
    say(console(stream), LINE, policy_kind(LINE))
    return stream.getvalue()


def test_a_terminal_gets_the_severity_in_colour(monkeypatch):
    out = rendered(monkeypatch, {"TERM": "xterm-256color"}, tty=True)
    assert "\x1b[" in out and "[app]" in out  # coloured, and brackets are text, not markup


def test_no_color_and_pipes_get_plain_text(monkeypatch):
    assert rendered(monkeypatch, {"TERM": "xterm-256color", "NO_COLOR": "1"}, tty=True) == LINE + "\n"
    assert rendered(monkeypatch, {"TERM": "xterm-256color"}, tty=False) == LINE + "\n"


def test_long_lines_are_not_wrapped(monkeypatch):
    long = LINE + " x" * 200
    monkeypatch.delenv("NO_COLOR", raising=False)
    stream = io.StringIO()
    say(console(stream), long)
    assert stream.getvalue() == long + "\n"


def test_policy_kind_reads_the_level_column():
    assert policy_kind(LINE) == "mandatory"
    assert policy_kind("  advisory  medium ...") == "advisory"
    assert policy_kind("policy pack agent-platform@1.0.0 (...)") is None and policy_kind("") is None
