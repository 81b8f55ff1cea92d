"""Every private name of the Pulumi Python SDK the offline engine uses, in one place.

Running a program in-process the way the language host does (pulumi sdk/python/lib/pulumi/runtime:
stack.py run_pulumi_func, sync_await.py, rpc_manager.py, settings.py) needs a few helpers the SDK
does not export, and reading what it serializes needs rpc.py's signature keys. They were read
against, and are tested with, the releases in VERIFIED_SDK_VERSIONS; `check()` says plainly when
another release is installed, instead of letting the preview break in some odd place.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
from collections.abc import Iterator
from typing import Any

from pulumi.runtime import resource as _resource
from pulumi.runtime import rpc, settings
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

VERIFIED_SDK_VERSIONS = frozenset({"3.272.0"})

# rpc.py: how serialized values mark a secret, a resource reference and an output value.
SIG_KEY: str = rpc._special_sig_key
SECRET_SIG: str = rpc._special_secret_sig
RESOURCE_SIG: str = rpc._special_resource_sig
OUTPUT_VALUE_SIG: str = rpc._special_output_value_sig

ensure_event_loop = _ensure_event_loop
sync_await = _sync_await


def clear_recorded_failures() -> None:
    """Forget an earlier run's unhandled exception (rpc_manager.py): the engine runs a program once
    per process, here each run must start clean."""
    settings._get_rpc_manager().clear()


def pending_outputs() -> list[Any]:
    """Take the outputs the SDK would await at the end of a run (settings.SETTINGS.outputs)."""
    with settings.SETTINGS.lock:
        left = list(settings.SETTINGS.outputs)
        settings.SETTINGS.outputs.clear()
    return left


def _no_stack_trace() -> source_pb2.StackTrace:
    return source_pb2.StackTrace()


@contextlib.contextmanager
def stack_traces_skipped() -> Iterator[None]:
    """Registrations without the Python stack that made them.

    For every resource the SDK records the stack of its constructor call (runtime/resource.py
    _get_stack_trace: traceback.extract_stack, which reads every frame's source line) so the engine
    can show where a resource was declared. Nothing offline reads it (the captured registration keeps
    no source position), and it was about a tenth of a program run.
    """
    original = _resource._get_stack_trace
    _resource._get_stack_trace = _no_stack_trace
    try:
        yield
    finally:
        _resource._get_stack_trace = original


def check() -> str | None:
    """A line saying the installed SDK is not one these helpers were verified with, or None."""
    version = importlib.metadata.version("pulumi")
    if version in VERIFIED_SDK_VERSIONS:
        return None
    return (
        f"pulumi {version} is installed; the offline engine's SDK helpers (preview/sdk_internals.py) were "
        f"verified with {', '.join(sorted(VERIFIED_SDK_VERSIONS))}: run the tests before trusting a preview"
    )
