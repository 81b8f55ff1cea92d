"""Run the policy pack offline exactly as the Pulumi engine does: as a separate analyzer process
spoken to over its gRPC protocol (GetAnalyzerInfo, Configure, Analyze per resource, AnalyzeStack).

Nothing is evaluated in-process: the pack that runs here is the pack `pulumi preview
--policy-pack policies` runs. Inputs are sent with secrets already redacted.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from preview.collector import collector_paused
from preview.engine import UNKNOWN, Capture
from preview.findings import locate_all
from preview.pack_process import PolicyRunError, launch_pack, pack_dir_for, pack_port, policy_config_path
from preview.policy_results import PhaseResult, PolicyReport, Violation
from preview.provider_outputs import INPUTS_KEY, outputs_for
from preview.render import resources_document
from preview.sarif import sarif

LEVELS = {
    "advisory": analyzer_pb2.ADVISORY,
    "mandatory": analyzer_pb2.MANDATORY,
    "disabled": analyzer_pb2.DISABLED,
    "remediate": analyzer_pb2.REMEDIATE,
}
LEVEL_NAMES = {v: k for k, v in LEVELS.items()}
SEVERITY_NAMES = {0: "unspecified", 1: "low", 2: "medium", 3: "high", 4: "critical"}


def load_policy_config(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except json.JSONDecodeError as error:
        raise PolicyRunError(f"{path.name}: malformed JSON (line {error.lineno}): {error.msg}") from None
    if not isinstance(data, dict):
        raise PolicyRunError(f"{path.name}: must be a JSON object of policy names")
    return data


def configure_request(
    info: analyzer_pb2.AnalyzerInfo, config: dict[str, Any], source: str
) -> analyzer_pb2.ConfigureAnalyzerRequest:
    """Per-policy level and properties, `all` expanded the way the CLI expands it."""
    names = {p.name for p in info.policies}
    unknown = sorted(set(config) - names - {"all"})
    if unknown:
        raise PolicyRunError(f"{source}: {unknown[0]}: no such policy in pack {info.name}")
    default = config.get("all")
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for policy in info.policies:
        entry = config.get(policy.name, default)
        level, properties = None, {}
        if isinstance(entry, str):
            level = entry
        elif isinstance(entry, dict):
            properties = {k: v for k, v in entry.items() if k != "enforcementLevel"}
            level = entry.get("enforcementLevel", default if isinstance(default, str) else None)
        if level is not None and level not in LEVELS:
            raise PolicyRunError(
                f"{source}: {policy.name}.enforcementLevel: {level!r} is not one of {', '.join(LEVELS)}"
            )
        pc = analyzer_pb2.PolicyConfig(enforcementLevel=LEVELS[level] if level else policy.enforcementLevel)
        pc.properties.update(properties)
        request.policyConfig[policy.name].CopyFrom(pc)
    return request


# Analyze requests sent and not yet answered, at most. With every request of a 300-service phase in flight
# (4,228), the pack's gRPC server cancelled some (grpcio 1.85: 440 of 5,000 concurrent requests answered
# CANCELLED, 0 of 2,000), and the preview failed as a bug; a window keeps the round trips overlapping.
IN_FLIGHT = 256

# In an engine document: the Struct of each resource whose inputs are as the program sent them.
WIRE_STRUCTS = "__wireStructs"


class SentStructs(dict):
    """urn -> (the inputs dict of the document, the Struct the program sent for it): a cache of the
    conversion, valid while the document's resource holds that very dict, unchanged (an engine
    document is read-only). A copy of a document is one to edit: it carries no cache."""

    def __copy__(self) -> SentStructs:
        return SentStructs()

    def __deepcopy__(self, memo: dict) -> SentStructs:
        return SentStructs()


def _wire(value: Any) -> Any:
    """A document value as the engine sends it: unknowns as rpc.UNKNOWN."""
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire(v) for v in value]
    return rpc.UNKNOWN if value == UNKNOWN else value


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(_wire(value))
    return s


def _inputs_struct(r: dict[str, Any], inputs: dict[str, struct_pb2.Struct], wire: SentStructs) -> struct_pb2.Struct:
    """r's inputs as a Struct, once per resource: the Struct the program sent when the document holds
    its inputs as sent (engine_document), else converted."""
    struct = inputs.get(r["urn"])
    if struct is None:
        sent = wire.get(r["urn"])
        struct = inputs[r["urn"]] = sent[1] if sent is not None and sent[0] is r["inputs"] else _struct(r["inputs"])
    return struct


def _outputs_struct(
    r: dict[str, Any], phase: str, inputs: dict[str, struct_pb2.Struct], wire: SentStructs
) -> struct_pb2.Struct:
    """outputs_for(r, phase) as a Struct. Outputs are the inputs with a few keys set or removed
    (preview/provider_outputs.py copies only the dicts it changes and shares every other value with the
    inputs; a Kubernetes object holds its inputs again under `__inputs`): so the inputs' Struct is copied
    (protobuf CopyFrom, native code) and only what differs is converted."""
    given = r["inputs"]
    base = _inputs_struct(r, inputs, wire)
    struct = struct_pb2.Struct()
    struct.CopyFrom(base)
    outputs = outputs_for(r, phase)
    if outputs.get(INPUTS_KEY) is given:
        struct.fields[INPUTS_KEY].struct_value.CopyFrom(base)
        outputs = {k: v for k, v in outputs.items() if k != INPUTS_KEY}
    _patch(struct, outputs, given)
    return struct


def _patch(struct: struct_pb2.Struct, new: dict[str, Any], old: dict[str, Any]) -> None:
    """Make `struct`, which holds `old`, hold `new`: a value `new` shares with `old` stays as it is."""
    for key in old.keys() - new.keys():
        del struct.fields[key]
    for key, value in new.items():
        before = old.get(key)
        if value is before and key in old:
            continue
        if isinstance(value, dict) and isinstance(before, dict):
            _patch(struct.fields[key].struct_value, value, before)
        else:
            struct.update({key: _wire(value)})


def _label(r: dict[str, Any]) -> str:
    return f"{r['inputs'].get('kind') or r['type'].split(':')[-1]}/{r['name']}"


def _analyzer_resource(
    r: dict[str, Any], providers: dict[str, dict[str, Any]], properties: struct_pb2.Struct
) -> dict[str, Any]:
    provider = providers.get(r["provider"])
    fields: dict[str, Any] = dict(
        type=r["type"],
        name=r["name"],
        urn=r["urn"],
        properties=properties,
        options=analyzer_pb2.AnalyzerResourceOptions(protect=r["protect"], parent=r["parent"]),
    )
    if provider is not None:
        fields["provider"] = analyzer_pb2.AnalyzerProviderResource(
            type=provider["type"], name=provider["name"], urn=provider["urn"], properties=provider["struct"]
        )
    return fields


def start_pack(pack_dir: Path, timeout: float = 30.0) -> tuple[subprocess.Popen, int]:
    """Start the pack as the CLI does and read its port."""
    process = launch_pack(pack_dir)
    return process, pack_port(process)


def _as_engine_sends(document: dict[str, Any], capture: Capture) -> dict[str, Any]:
    """The document with each resource's inputs as the engine hands them to a pack: secrets as
    secret values holding the plaintext (pulumi/pulumi pkg/resource/plugin/analyzer_plugin.go
    marshals with KeepSecrets; pulumi-policy unwraps them before a rule runs), so a rule sees
    here what it sees in a real `pulumi up`. Kubernetes Secrets keep their rendered form."""
    sent = {r.urn: r for r in capture.resources if r.wire_inputs and r.type != "kubernetes:core/v1:Secret"}
    resources = [{**r, "inputs": sent[r["urn"]].wire_inputs} if r["urn"] in sent else r for r in document["resources"]]
    structs = SentStructs({urn: (r.wire_inputs, r.wire_struct) for urn, r in sent.items() if r.wire_struct is not None})
    return {**document, "resources": resources, WIRE_STRUCTS: structs}


def request_digest(r: dict[str, Any], provider: dict[str, Any] | None, inputs: struct_pb2.Struct) -> str:
    """What an Analyze request is made of (the resource's document entry, its inputs as the Struct the
    request carries, and its provider's entry), as a digest: the same digest, the same request, in any
    process. A Struct's deterministic serialization orders its keys."""
    parts = [
        {k: v for k, v in r.items() if k != "inputs"},
        None if provider is None else {k: v for k, v in provider.items() if k != "struct"},
    ]
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, separators=(",", ":")).encode())
    digest.update(inputs.SerializeToString(deterministic=True))
    return digest.hexdigest()


def _analyze_phase(
    stub,
    document: dict[str, Any],
    phase: str,
    answered: dict[str, tuple[str, list]],
    reuse: Callable[[], dict[str, tuple[str, list]]] | None = None,
) -> list[tuple[str, Any]]:
    """One engine phase: Analyze per resource with its inputs, AnalyzeStack with every resource's outputs.

    `answered` holds, by URN, the digest of the request an earlier phase sent for a resource and the
    diagnostics the pack returned. A resource whose request is the same in this phase (most are: only
    what derives from a provider-computed value differs between a preview and an up) gets the same
    answer without asking again: Analyze is a function of its request (the pack's rules are pure
    checks). AnalyzeStack always runs; with `reuse` it goes first, and `reuse` is called while the pack
    works on it: it returns another pack's answers (the worker's, for the preview phase).
    """
    custom = [r for r in document["resources"] if r["custom"]]
    providers = {
        f"{r['name']}-provider-id": {**r, "struct": _struct(r["inputs"])}
        for r in custom
        if r["type"].startswith("pulumi:providers:")
    }
    analyzed = [r for r in custom if not r["type"].startswith("pulumi:providers:")]
    diagnostics = []
    inputs: dict[str, struct_pb2.Struct] = {}
    wire: SentStructs = document.get(WIRE_STRUCTS) or SentStructs()

    def stack_request() -> analyzer_pb2.AnalyzeStackRequest:
        return analyzer_pb2.AnalyzeStackRequest(
            resources=[
                analyzer_pb2.AnalyzerResource(
                    parent=r["parent"],
                    dependencies=r["dependencies"],
                    **_analyzer_resource(r, providers, _outputs_struct(r, phase, inputs, wire)),
                )
                for r in analyzed
            ]
        )

    stack_answer = None
    if reuse is not None:
        # AnalyzeStack first, while the other pack is still at work: `reuse` is called while this pack
        # answers it (its caller may do other work first); then only the few requests this phase
        # changed are sent (one large request in flight at a time).
        stack_call = stub.AnalyzeStack.future(stack_request())
        answered.update(reuse())
        stack_answer = stack_call.result()
    # The engine asks a pack about one resource at a time: its deployment executor handles registration
    # events in one loop, and the step generator's analyzeAll runs only the analyzers in parallel
    # (pulumi/pulumi pkg/resource/deploy/deployment_executor.go, step_generator.go). Here every request
    # is sent before its answer is read, up to IN_FLIGHT unanswered, so the pack works while the next
    # request is built and the round trips overlap; each answer depends only on its request, so they are
    # the same either way.
    pending: list[list[Any]] = []  # [resource, digest, its answer or the call in flight]
    in_flight: collections.deque[list[Any]] = collections.deque()

    def settle(entry: list[Any]) -> None:
        entry[2] = list(entry[2].result().diagnostics)
        answered[entry[0]["urn"]] = (entry[1], entry[2])

    for r in analyzed:
        properties = _inputs_struct(r, inputs, wire)
        digest = request_digest(r, providers.get(r["provider"]), properties)
        earlier = answered.get(r["urn"])
        if earlier is not None and earlier[0] == digest:
            pending.append([r, digest, earlier[1]])
        else:
            request = analyzer_pb2.AnalyzeRequest(**_analyzer_resource(r, providers, properties))
            entry = [r, digest, stub.Analyze.future(request)]
            pending.append(entry)
            in_flight.append(entry)
            if len(in_flight) >= IN_FLIGHT:
                settle(in_flight.popleft())
    if stack_answer is None:
        stack = stack_request()  # built while the pack works through the requests above
    for entry in in_flight:
        settle(entry)
    for r, _, answer in pending:
        # The engine attributes a resource policy's findings to the resource it asked about.
        diagnostics += [(d.urn or r["urn"], d) for d in answer]
    if stack_answer is None:
        stack_answer = stub.AnalyzeStack(stack)
    diagnostics += [(d.urn, d) for d in stack_answer.diagnostics]
    return diagnostics


def encode_answers(answered: dict[str, tuple[str, list]]) -> dict[str, tuple[str, list[str]]]:
    return {
        urn: (digest, [base64.b64encode(d.SerializeToString()).decode() for d in diagnostics])
        for urn, (digest, diagnostics) in answered.items()
    }


def decode_answers(answers: dict[str, tuple[str, list[str]]]) -> dict[str, tuple[str, list]]:
    return {
        urn: (digest, [analyzer_pb2.AnalyzeDiagnostic.FromString(base64.b64decode(d)) for d in diagnostics])
        for urn, (digest, diagnostics) in answers.items()
    }


def engine_document(capture: Capture) -> dict[str, Any]:
    """A phase as the pack receives it: the resources document with the inputs the engine sends."""
    return _as_engine_sends(resources_document(capture), capture)


def analyze(
    project_dir: Path,
    stack: str,
    phases: list[tuple[str, dict[str, Any]]],
    config_file: Path | None = None,
    pack: subprocess.Popen | None = None,
    reuse: Callable[[], dict[str, tuple[str, list]]] | None = None,
) -> PhaseResult:
    """Start (or take) a pack, configure it as the CLI does, and analyze each (phase, engine document).

    `pack` is a pack already launched (launch_pack: it starts while the program runs); it is stopped
    here either way. A resource's Analyze answer is reused by a later phase that sends the same request
    (_analyze_phase): within this call, and from `reuse`, called once the first phase's AnalyzeStack is
    on its way, which returns another pack's answers (decode_answers).
    """
    pack_dir = pack_dir_for(project_dir)
    config_path = config_file or policy_config_path(project_dir, stack)
    started = time.perf_counter()
    process = pack
    channel = None
    try:
        config = load_policy_config(config_path)
        process = process or launch_pack(pack_dir)
        port = pack_port(process)
        found: dict[tuple[str, str, str, int], Violation] = {}
        labels: dict[str, str] = {}
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=30)
        stub = analyzer_pb2_grpc.AnalyzerStub(channel)
        info = stub.GetAnalyzerInfo(empty_pb2.Empty())
        stub.Configure(configure_request(info, config, f"policies/config/{config_path.name}"))
        answered: dict[str, tuple[str, list]] = {}
        for phase, document in phases:
            labels.update({r["urn"]: _label(r) for r in document["resources"]})
            with collector_paused():  # the requests are a burst of allocation, as a program run is
                diagnostics = _analyze_phase(stub, document, phase, answered, reuse)
            reuse = None  # once, in the first phase
            for urn, d in diagnostics:
                message = d.message.strip().splitlines()[-1]
                key = (d.policyName, urn, message, d.enforcementLevel)
                if key not in found:
                    found[key] = Violation(
                        policy=d.policyName,
                        level=LEVEL_NAMES.get(d.enforcementLevel, "advisory"),
                        severity=SEVERITY_NAMES.get(d.severity, "unspecified"),
                        resource=labels.get(urn, "stack"),
                        urn=urn,
                        message=message,
                    )
                found[key].phases.append(phase)
    finally:
        # Closed however the run ends: a channel left to the collector with calls in flight (a stop
        # signal mid-analysis) blocked the CLI's exit in its finalizer (grpc _channel.py
        # _ChannelCallState.__del__ waiting on a condition), with the pack already gone.
        if channel is not None:
            channel.close()
        if process is not None:
            process.kill()
            process.wait()
    policies = [
        {
            "name": p.name,
            "description": p.description,
            "severity": SEVERITY_NAMES.get(p.severity, "unspecified"),
            "remediation": p.remediation_steps,
            "tags": list(p.tags),
            "enforcementLevel": LEVEL_NAMES.get(p.enforcementLevel, "advisory"),
        }
        for p in info.policies
    ]
    return PhaseResult(
        info.name,
        info.version,
        policies,
        found,
        [phase for phase, _ in phases],
        time.perf_counter() - started,
        encode_answers(answered),
    )


def run_policy_pack(
    project_dir: Path,
    capture: Capture,
    out: Path,
    config_file: Path | None = None,
    preview_capture: Capture | None = None,
    preview_result: Callable[[], PhaseResult] | None = None,
    pack: subprocess.Popen | None = None,
    stack_file: Path | None = None,
    source: str | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> PolicyReport:
    """Analyze the stack as the engine does in each phase it is given, and write the reports.

    `capture` is the up phase (what is applied: resources.json); `preview_capture`, when given,
    the dry run of a first `pulumi preview` (provider-computed values unknown), analyzed by the
    same pack first; or `preview_result`, which returns that phase as another pack process
    analyzed it (the CLI runs it in a worker beside this one, and asks for it once it has rendered its
    own), with that pack's answers, reused here for every request the up phase sends unchanged;
    `meanwhile` is called first, while this pack answers the up phase's AnalyzeStack (the CLI validates
    its manifests then). A violation found in either phase fails the run, so one that only `up` would report is
    caught before anything is applied.

    Each violation is located at the key of `stack_file` (default: the stack's own) that controls its
    object (preview/findings.py), the file named `source` (as the user names it) in the report.
    """
    earlier_phase: PhaseResult | None = None

    def earlier_answers() -> dict[str, tuple[str, list]]:
        nonlocal earlier_phase
        assert preview_result is not None
        if meanwhile is not None:
            meanwhile()  # the caller's own work, while this pack answers the first AnalyzeStack
        earlier_phase = preview_result()
        return decode_answers(earlier_phase.answers)

    if meanwhile is not None and preview_result is None:
        meanwhile()  # no other pack's answers to wait for: first, then
    phases = [("preview", engine_document(preview_capture))] if preview_capture is not None else []
    phases.append(("up", engine_document(capture)))
    result = analyze(
        project_dir, capture.stack, phases, config_file, pack, earlier_answers if preview_result is not None else None
    )
    found, seconds = result.found, result.seconds
    if earlier_phase is not None:
        for key, earlier in earlier_phase.found.items():
            if key in found:
                found[key].phases[:0] = earlier.phases
            else:
                found[key] = earlier
        seconds = max(seconds, earlier_phase.seconds)  # side by side, the up phase's last part after it
    pack_dir = pack_dir_for(project_dir)
    config_path = config_file or policy_config_path(project_dir, capture.stack)
    violations = sorted(found.values(), key=lambda v: (v.level != "mandatory", v.policy, v.resource, v.message))
    report_phases = (earlier_phase.phases if earlier_phase is not None else []) + result.phases
    stack_file = stack_file or project_dir / f"Pulumi.{capture.stack}.yaml"
    text = stack_file.read_text() if stack_file.is_file() else None
    locate_all(violations, text, capture.project, capture, {p["name"]: p["remediation"] for p in result.policies})
    for v in violations:
        v.file = source or stack_file.name
    report = PolicyReport(
        result.pack,
        pack_version(pack_dir) or result.version,
        capture.stack,
        capture.project,
        config_path.name if config_path.exists() else "none (each policy at its own level)",
        result.policies,
        violations,
        seconds,
        report_phases,
        stack_file,
        project_dir,
    )
    write_reports(report, out)
    return report


def pack_version(pack_dir: Path) -> str | None:
    """The version the CLI would report: PulumiPolicy.yaml's, not the SDK's placeholder."""
    import yaml

    try:
        return str((yaml.safe_load((pack_dir / "PulumiPolicy.yaml").read_text()) or {}).get("version") or "") or None
    except (OSError, yaml.YAMLError):
        return None


def write_reports(report: PolicyReport, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    doc = {
        "pack": report.pack,
        "version": report.version,
        "stack": report.stack,
        "config": report.config_file,
        "phases": report.phases,
        "policies": len(report.policies),
        "mandatoryFailed": report.mandatory_failed,
        "violations": [v.__dict__ for v in report.violations],
    }
    (out / "policy-report.json").write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    (out / "policy-report.sarif").write_text(json.dumps(sarif(report), indent=2, sort_keys=True) + "\n")
