"""The capture monitor answers plain registrations itself, as the SDK's mock monitor would.

preview/engine.py CaptureMonitor._register_plain skips the SDK's deserialize-then-serialize round trip
for inputs with no secret, reference, unknown or null (most of them); for those that round trip is the
identity. Here every registration of every shipped stack, in both engine phases, is answered both ways
and the answers compared: same URN, same id, same output object.
"""

from __future__ import annotations

import pytest
from google.protobuf import json_format
from pulumi.runtime import mocks

from preview import engine
from preview.capture import capture_stack
from tests.conftest import ROOT


@pytest.mark.parametrize("stack", ["dev", "prod", "local", "e2e"])
@pytest.mark.parametrize("phase", ["preview", "up"])
def test_plain_registrations_get_the_answer_the_sdk_mock_gives(monkeypatch, stack, phase):
    compared, differences = [], []
    fast = engine.CaptureMonitor._register_plain

    def both(self, request, wire):
        ours = fast(self, request, wire)
        sdk = mocks.MockMonitor.RegisterResource(self, request)
        compared.append(request.name)
        if (ours.urn, ours.id, json_format.MessageToDict(ours.object)) != (
            sdk.urn,
            sdk.id,
            json_format.MessageToDict(sdk.object),
        ):
            differences.append(f"{request.type} {request.name}")
        return ours

    monkeypatch.setattr(engine.CaptureMonitor, "_register_plain", both)
    _, capture = capture_stack(ROOT, stack, phase=phase)
    assert len(compared) > len(capture.resources) / 2, "most registrations are plain"
    assert differences == []


def test_what_is_not_plain():
    assert engine.is_plain({"a": [1.0, "x", True, {"b": "c"}], "d": {}})
    for value in (
        {"a": None},
        {"a": [None]},
        {"a": engine.rpc.UNKNOWN},
        {"a": {engine.sdk_internals.SIG_KEY: engine.sdk_internals.SECRET_SIG, "value": "s"}},
    ):
        assert not engine.is_plain(value), value
