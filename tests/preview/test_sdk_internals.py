"""The SDK's private helpers live in preview/sdk_internals.py, verified against the pinned SDK."""

from __future__ import annotations

import ast

from preview import sdk_internals
from tests.conftest import ROOT


def test_the_pinned_sdk_is_the_verified_one():
    assert sdk_internals.check() is None


def test_another_sdk_release_is_reported_in_one_line(monkeypatch):
    monkeypatch.setattr(sdk_internals.importlib.metadata, "version", lambda name: "3.999.0")
    line = sdk_internals.check()
    assert line and "pulumi 3.999.0 is installed" in line and "3.272.0" in line and "\n" not in line


def test_no_other_preview_module_reaches_into_sdk_privates():
    offenders = []
    for path in (ROOT / "preview").glob("*.py"):
        if path.name == "sdk_internals.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                if isinstance(node.value, ast.Name) and node.value.id in {"rpc", "settings", "sync_await", "mocks"}:
                    offenders.append(f"{path.name}: {node.value.id}.{node.attr}")
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pulumi"):
                offenders += [f"{path.name}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
    assert not offenders


def test_stack_traces_are_skipped_only_within_the_block():
    from pulumi.runtime import resource
    from pulumi.runtime.proto import source_pb2

    original = resource._get_stack_trace
    with sdk_internals.stack_traces_skipped():
        assert resource._get_stack_trace() == source_pb2.StackTrace()
    assert resource._get_stack_trace is original
