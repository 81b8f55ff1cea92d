"""The preview phase in its worker process, and answers reused between the engine's phases.

The CLI analyzes the dry run in a worker (preview/phases.py) with a pack of its own while it
handles the up phase; within one pack a resource whose request is the same in both phases is
asked once (preview/policy.py _analyze_phase). Both must report exactly what one pack asked
about every resource in every phase reports.
"""

from __future__ import annotations

import copy
import functools
import json
import uuid
from concurrent.futures import Future

import pytest
from pulumi.runtime.proto import analyzer_pb2

from preview.capture import capture_stack
from preview.phases import PhaseError, PhaseWorker
from preview.policy import _analyze_phase, decode_answers, encode_answers, engine_document, run_policy_pack
from tests.conftest import ROOT, shipped
from tests.preview.processes import MARKER_ENV, marked, wait_until


class UnaryCall:
    """A unary method as a gRPC stub has it: called directly, or `.future(request)` for a call in flight."""

    def __init__(self, method) -> None:
        self.method = method

    def __call__(self, request, **_):
        return self.method(request)

    def future(self, request, **_) -> Future:
        answer: Future = Future()
        answer.set_result(self.method(request))
        return answer


@functools.cache
def previewed(stack: str):
    return capture_stack(ROOT, stack, phase="preview")[1]


class CountingStub:
    """Answers like a pack: one diagnostic per resource, made from its request."""

    def __init__(self) -> None:
        self.analyzed: list[str] = []
        self.Analyze = UnaryCall(self.analyze)  # noqa: N815 - the gRPC method's name
        self.AnalyzeStack = UnaryCall(lambda request: analyzer_pb2.AnalyzeResponse())  # noqa: N815

    def analyze(self, request):
        self.analyzed.append(request.urn)
        kind = str(dict(request.properties).get("kind", ""))
        return analyzer_pb2.AnalyzeResponse(
            diagnostics=[
                analyzer_pb2.AnalyzeDiagnostic(
                    policyName="p", message=f"{request.name} {kind} {len(request.properties)}", urn=""
                )
            ]
        )


def test_a_request_unchanged_between_phases_is_asked_once_and_answered_in_both():
    document = engine_document(shipped("dev"))
    stub, answered = CountingStub(), {}
    first = _analyze_phase(stub, document, "preview", answered)
    asked = len(stub.analyzed)
    assert asked > 20
    second = _analyze_phase(stub, document, "up", answered)
    assert len(stub.analyzed) == asked, "nothing asked again"
    assert [(urn, d.message) for urn, d in second] == [(urn, d.message) for urn, d in first]


def test_another_packs_answers_are_reused_where_the_request_is_the_same():
    """The worker's answers, sent as JSON and decoded, answer the CLI's up phase: only the requests the
    phase changed (what derives from a value a provider computes) are asked of the CLI's pack."""
    worker_stub, worker_answers = CountingStub(), {}
    _analyze_phase(worker_stub, engine_document(previewed("prod")), "preview", worker_answers)
    sent = json.loads(json.dumps(encode_answers(worker_answers)))
    stub, asked_before_reuse = CountingStub(), []
    up = engine_document(shipped("prod"))

    def reuse():
        asked_before_reuse.extend(stub.analyzed)
        return decode_answers(sent)

    reused = _analyze_phase(stub, up, "up", {}, reuse)
    alone = _analyze_phase(CountingStub(), up, "up", {})
    assert asked_before_reuse == [], "AnalyzeStack first; Analyze only once the answers are in"
    assert 0 < len(stub.analyzed) < len(worker_stub.analyzed) / 2
    assert [(urn, d.message) for urn, d in reused] == [(urn, d.message) for urn, d in alone]


def test_a_request_that_changed_is_asked_again():
    document = engine_document(shipped("dev"))
    stub, answered = CountingStub(), {}
    _analyze_phase(stub, document, "preview", answered)
    changed = copy.deepcopy(document)
    target = next(r for r in changed["resources"] if r["custom"] and r["type"].endswith(":Deployment"))
    target["inputs"]["spec"]["replicas"] = 7
    stub.analyzed.clear()
    _analyze_phase(stub, changed, "up", answered)
    assert stub.analyzed == [target["urn"]]


def test_the_worker_reports_what_one_pack_over_both_phases_reports(tmp_path):
    preview = capture_stack(ROOT, "dev", phase="preview")[1]
    together = run_policy_pack(ROOT, shipped("dev"), tmp_path / "one", preview_capture=preview)
    apart = run_policy_pack(
        ROOT, shipped("dev"), tmp_path / "two", preview_result=PhaseWorker(ROOT, "dev", None).result
    )
    assert together.violations and [v.__dict__ for v in apart.violations] == [v.__dict__ for v in together.violations]
    assert apart.phases == together.phases == ["preview", "up"]
    assert (tmp_path / "one" / "policy-report.json").read_text() == (
        tmp_path / "two" / "policy-report.json"
    ).read_text()


def test_the_worker_refuses_bad_input_with_the_clis_line(tmp_path):
    bad = tmp_path / "Pulumi.dev.yaml"
    bad.write_text("config:\n  agent-platform:services: 3\n")
    worker = PhaseWorker(ROOT, "dev", bad)
    with pytest.raises(PhaseError) as error:
        worker.result()
    assert "Pulumi.dev.yaml" in str(error.value) and "\n" not in str(error.value)


def test_closing_a_running_worker_stops_it_and_its_pack(monkeypatch):
    marker = uuid.uuid4().hex
    monkeypatch.setenv(MARKER_ENV, marker)  # the worker and its pack inherit it
    worker = PhaseWorker(ROOT, "prod", None)
    process = worker.process
    assert wait_until(lambda: len(marked(marker)) >= 2), "the worker has started its pack"
    worker.close()
    worker.close()  # idempotent
    assert process.poll() is not None
    assert marked(marker) == {}, "the worker reaped its pack before it exited"
