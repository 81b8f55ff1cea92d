"""The pack's requests are built from the Struct the program sent, never from a stale one.

preview/policy.py copies each resource's inputs from the Struct the SDK put in its
RegisterResourceRequest (preview/engine.py keeps it) instead of converting the document's dict back,
and builds a resource's outputs by patching a copy of it (preview/provider_outputs.py shares every
unchanged value with the inputs). Either shortcut must give exactly the Struct the conversion gives;
and a document edited after it was made must be converted again.
"""

from __future__ import annotations

import copy
import functools

import pytest
from pulumi.runtime.proto import analyzer_pb2

from preview import policy
from preview.capture import capture_stack
from preview.policy import WIRE_STRUCTS, SentStructs, _inputs_struct, _outputs_struct, _struct, engine_document
from preview.provider_outputs import outputs_for
from tests.conftest import ROOT

STACKS = sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml"))  # every shipped stack


@functools.cache
def document(stack: str, phase: str):
    return engine_document(capture_stack(ROOT, stack, phase=phase)[1])


def analyzed(doc):
    return [r for r in doc["resources"] if r["custom"] and not r["type"].startswith("pulumi:providers:")]


@pytest.mark.parametrize("phase", ["preview", "up"])
@pytest.mark.parametrize("stack", STACKS)
def test_requests_carry_what_the_conversion_makes(stack, phase):
    doc = document(stack, phase)
    sent, inputs = doc[WIRE_STRUCTS], {}
    # Most resources take the Struct the program sent (Secrets keep their rendered form: converted).
    assert len(sent) > len(analyzed(doc)) // 2
    for r in analyzed(doc):
        assert _inputs_struct(r, inputs, sent) == _struct(r["inputs"]), r["urn"]
        assert _outputs_struct(r, phase, inputs, sent) == _struct(outputs_for(r, phase)), r["urn"]


def test_an_edited_document_is_converted_again():
    edited = copy.deepcopy(document("dev", "up"))
    assert edited[WIRE_STRUCTS] == SentStructs()  # a copy carries no cache
    target = next(r for r in analyzed(edited) if r["type"].endswith(":Deployment"))
    target["inputs"]["spec"]["replicas"] = 7
    assert _inputs_struct(target, {}, edited[WIRE_STRUCTS])["spec"]["replicas"] == 7
    # A resource given other inputs than the ones sent is converted from what it holds now.
    original = document("dev", "up")
    same = next(r for r in analyzed(original) if r["urn"] == target["urn"])
    replaced = {**same, "inputs": target["inputs"]}
    assert _inputs_struct(replaced, {}, original[WIRE_STRUCTS])["spec"]["replicas"] == 7
    assert _inputs_struct(same, {}, original[WIRE_STRUCTS])["spec"]["replicas"] != 7


class LazyCall:
    """An Analyze call in flight until its answer is read, as a gRPC future is."""

    def __init__(self, stub: WindowStub) -> None:
        self.stub = stub
        stub.outstanding += 1
        stub.most = max(stub.most, stub.outstanding)

    def result(self):
        self.stub.outstanding -= 1
        return analyzer_pb2.AnalyzeResponse()


class WindowStub:
    """Analyze.future and AnalyzeStack as a gRPC stub has them, counting the calls not yet answered."""

    def __init__(self) -> None:
        self.outstanding = self.most = self.sent = 0


def test_requests_in_flight_stay_within_the_window(monkeypatch):
    """The pack's server cancelled requests past a few thousand in flight (preview/policy.py IN_FLIGHT):
    however many resources a phase has, no more than the window is ever unanswered."""
    doc = document("prod", "preview")
    monkeypatch.setattr(policy, "IN_FLIGHT", 5)
    stub = WindowStub()

    def future(request, **_):
        stub.sent += 1
        return LazyCall(stub)

    stub.Analyze = type("Analyze", (), {"future": staticmethod(future)})  # noqa: N815 - the gRPC method
    stub.AnalyzeStack = lambda request, **_: analyzer_pb2.AnalyzeResponse()  # noqa: N815
    policy._analyze_phase(stub, doc, "preview", {})
    assert stub.sent == len(analyzed(doc)) > 5 * 4
    assert stub.most == 5 and stub.outstanding == 0
