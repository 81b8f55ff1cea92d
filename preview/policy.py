"""Run the policy pack offline exactly as the Pulumi engine does: as a separate analyzer process
spoken to over its gRPC protocol (GetAnalyzerInfo, Configure, Analyze per resource, AnalyzeStack).

Nothing is evaluated in-process: the pack that runs here is the pack `pulumi preview
--policy-pack policies` runs. Inputs are sent with secrets already redacted.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from preview.engine import Capture
from preview.render import resources_document

LEVELS = {"advisory": analyzer_pb2.ADVISORY, "mandatory": analyzer_pb2.MANDATORY, "disabled": analyzer_pb2.DISABLED,
          "remediate": analyzer_pb2.REMEDIATE}
LEVEL_NAMES = {v: k for k, v in LEVELS.items()}
SEVERITY_NAMES = {0: "unspecified", 1: "low", 2: "medium", 3: "high", 4: "critical"}


class PolicyRunError(Exception):
    pass


@dataclass
class Violation:
    policy: str
    level: str
    severity: str
    resource: str      # type and name, or "stack"
    urn: str
    message: str


@dataclass
class PolicyReport:
    pack: str
    version: str
    stack: str
    config_file: str
    policies: list[dict[str, Any]]
    violations: list[Violation] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def mandatory_failed(self) -> bool:
        return any(v.level == "mandatory" for v in self.violations)

    def table_lines(self) -> list[str]:
        mandatory = sum(v.level == "mandatory" for v in self.violations)
        lines = [f"policy pack {self.pack}@{self.version} ({len(self.policies)} policies, config {self.config_file}): "
                 f"{mandatory} mandatory, {len(self.violations) - mandatory} advisory violation(s) in {self.seconds:.2f}s"]
        for v in self.violations:
            lines.append(f"  {v.level:<9} {v.severity:<8} {v.policy:<32} {v.resource:<48} {v.message}")
        return lines


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


def configure_request(info: analyzer_pb2.AnalyzerInfo, config: dict[str, Any], source: str) -> analyzer_pb2.ConfigureAnalyzerRequest:
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
            raise PolicyRunError(f"{source}: {policy.name}.enforcementLevel: {level!r} is not one of {', '.join(LEVELS)}")
        pc = analyzer_pb2.PolicyConfig(enforcementLevel=LEVELS[level] if level else policy.enforcementLevel)
        pc.properties.update(properties)
        request.policyConfig[policy.name].CopyFrom(pc)
    return request


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(value)
    return s


def _label(r: dict[str, Any]) -> str:
    return f"{r['inputs'].get('kind') or r['type'].split(':')[-1]}/{r['name']}"


def _analyzer_resource(r: dict[str, Any], providers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    provider = providers.get(r["provider"])
    fields: dict[str, Any] = dict(
        type=r["type"], name=r["name"], urn=r["urn"], properties=_struct(r["inputs"]),
        options=analyzer_pb2.AnalyzerResourceOptions(protect=r["protect"], parent=r["parent"]),
    )
    if provider is not None:
        fields["provider"] = analyzer_pb2.AnalyzerProviderResource(
            type=provider["type"], name=provider["name"], urn=provider["urn"], properties=_struct(provider["inputs"]))
    return fields


def start_pack(pack_dir: Path, timeout: float = 30.0) -> tuple[subprocess.Popen, int]:
    """Start the pack as the engine does (`python __main__.py` in its directory) and read its port."""
    process = subprocess.Popen([sys.executable, "__main__.py"], cwd=pack_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    line = process.stdout.readline().decode().strip()
    if not line.isdigit():
        process.kill()
        err = process.stderr.read().decode().strip().splitlines() if process.stderr else []
        raise PolicyRunError(f"policies/__main__.py did not print a port: {(err or [line])[-1]}")
    return process, int(line)


def run_policy_pack(project_dir: Path, capture: Capture, out: Path, config_file: Path | None = None) -> PolicyReport:
    """Analyze the stack's resources document (what resources.json holds: inputs with secrets redacted)."""
    document = resources_document(capture)
    pack_dir = project_dir / "policies"
    config_path = config_file or pack_dir / "config" / f"{capture.stack}.json"
    config = load_policy_config(config_path)
    started = time.perf_counter()
    process, port = start_pack(pack_dir)
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=30)
        stub = analyzer_pb2_grpc.AnalyzerStub(channel)
        info = stub.GetAnalyzerInfo(empty_pb2.Empty())
        stub.Configure(configure_request(info, config, f"policies/config/{config_path.name}"))
        custom = [r for r in document["resources"] if r["custom"]]
        providers = {f"{r['name']}-provider-id": r for r in custom if r["type"].startswith("pulumi:providers:")}
        analyzed = [r for r in custom if not r["type"].startswith("pulumi:providers:")]
        by_urn = {r["urn"]: r for r in analyzed}
        diagnostics = []
        for r in analyzed:
            response = stub.Analyze(analyzer_pb2.AnalyzeRequest(**_analyzer_resource(r, providers)))
            # The engine attributes a resource policy's findings to the resource it asked about.
            diagnostics += [(d.urn or r["urn"], d) for d in response.diagnostics]
        stack_request = analyzer_pb2.AnalyzeStackRequest(resources=[
            analyzer_pb2.AnalyzerResource(parent=r["parent"], dependencies=r["dependencies"], **_analyzer_resource(r, providers))
            for r in analyzed])
        diagnostics += [(d.urn, d) for d in stub.AnalyzeStack(stack_request).diagnostics]
        channel.close()
    finally:
        process.kill()
        process.wait()
    seconds = time.perf_counter() - started

    policies = [{"name": p.name, "description": p.description, "severity": SEVERITY_NAMES.get(p.severity, "unspecified"),
                 "remediation": p.remediation_steps, "tags": list(p.tags),
                 "enforcementLevel": LEVEL_NAMES.get(p.enforcementLevel, "advisory")} for p in info.policies]
    violations = []
    for urn, d in diagnostics:
        resource = by_urn.get(urn)
        violations.append(Violation(
            policy=d.policyName, level=LEVEL_NAMES.get(d.enforcementLevel, "advisory"),
            severity=SEVERITY_NAMES.get(d.severity, "unspecified"),
            resource=_label(resource) if resource else "stack", urn=urn, message=d.message.strip().splitlines()[-1],
        ))
    violations.sort(key=lambda v: (v.level != "mandatory", v.policy, v.resource, v.message))
    report = PolicyReport(info.name, pack_version(pack_dir) or info.version, capture.stack, config_path.name, policies, violations, seconds)
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
    doc = {"pack": report.pack, "version": report.version, "stack": report.stack, "config": report.config_file,
           "policies": len(report.policies), "mandatoryFailed": report.mandatory_failed,
           "violations": [v.__dict__ for v in report.violations]}
    (out / "policy-report.json").write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    (out / "policy-report.sarif").write_text(json.dumps(sarif(report), indent=2, sort_keys=True) + "\n")


def sarif(report: PolicyReport) -> dict[str, Any]:
    """SARIF 2.1.0 for GitHub code scanning: each violation located at the stack file that declared it."""
    rules = [{
        "id": p["name"], "name": p["name"],
        "shortDescription": {"text": p["description"]}, "fullDescription": {"text": p["description"]},
        "help": {"text": p["remediation"] or p["description"]},
        "defaultConfiguration": {"level": "error" if p["enforcementLevel"] == "mandatory" else "warning"},
        "properties": {"tags": p["tags"], "severity": p["severity"]},
    } for p in report.policies]
    index = {p["name"]: i for i, p in enumerate(report.policies)}
    results = [{
        "ruleId": v.policy, "ruleIndex": index.get(v.policy, 0),
        "level": "error" if v.level == "mandatory" else "warning",
        "message": {"text": f"{v.resource}: {v.message}"},
        "locations": [{
            "physicalLocation": {"artifactLocation": {"uri": f"Pulumi.{report.stack}.yaml"}, "region": {"startLine": 1}},
            "logicalLocations": [{"fullyQualifiedName": v.urn or "stack", "kind": "resource"}],
        }],
    } for v in report.violations]
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": f"pulumi-policy-{report.pack}", "version": report.version, "rules": rules}},
                  "results": results}],
    }
