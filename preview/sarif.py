"""The policy report as SARIF 2.1.0 for GitHub code scanning.

Each result is located at the line of the stack file whose key produced the object (the
service's list item, the `postgres` or `redis` block, ...), not at line 1, so code scanning
shows it where a reviewer would change it. `partialFingerprints` identify a result by rule,
resource and message, never by line, so an edit above it does not turn it into a new alert;
`security-severity` on each rule (GitHub's 0-10 scale) sets the alert's severity.
tests/preview/test_sarif.py validates the output against the OASIS schema.
"""

from __future__ import annotations

import hashlib
from typing import Any

from preview.policy_results import PolicyReport, Violation
from program.stack_lines import StackLines

# GitHub code scanning: >= 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "unspecified": "5.0"}
# Config keys whose block declares the objects named after them (the stores, the entry points).
BLOCKS = ("postgres", "redis", "ingress", "gateway", "monitoring", "namespace", "network", "secrets")


def line_of(violation: Violation, lines: StackLines) -> int:
    """The line of the key that produced the violation's object; 1 (the file) when none did."""
    name = violation.resource.split("/", 1)[-1]
    services = lines.services
    for service in sorted(services, key=len, reverse=True):  # the longest match: agent-api-canary belongs to agent-api
        if name == service or name.startswith(f"{service}-"):
            return services[service]
    for block in BLOCKS:
        if name == block or name.startswith(f"{block}-"):
            line = lines.line((block,))
            if line is not None:
                return line
    return 1


def fingerprint(violation: Violation) -> str:
    return hashlib.sha256(f"{violation.policy}\0{violation.urn}\0{violation.message}".encode()).hexdigest()[:32]


def sarif(report: PolicyReport) -> dict[str, Any]:
    stack_file = report.stack_file
    text = stack_file.read_text() if stack_file is not None and stack_file.is_file() else None
    lines = StackLines(text, report.project)
    uri = f"Pulumi.{report.stack}.yaml"
    if stack_file is not None:
        try:
            uri = stack_file.resolve().relative_to((report.project_dir or stack_file.parent).resolve()).as_posix()
        except ValueError:
            uri = stack_file.name  # a stack file outside the repository: its name
    rules = [
        {
            "id": p["name"],
            "name": p["name"],
            "shortDescription": {"text": p["description"]},
            "fullDescription": {"text": p["description"]},
            "help": {"text": p["remediation"] or p["description"]},
            "defaultConfiguration": {"level": "error" if p["enforcementLevel"] == "mandatory" else "warning"},
            "properties": {
                "tags": ["security", *p["tags"]],
                "severity": p["severity"],
                "security-severity": SECURITY_SEVERITY.get(p["severity"], "5.0"),
            },
        }
        for p in report.policies
    ]
    index = {p["name"]: i for i, p in enumerate(report.policies)}
    results = [
        {
            "ruleId": v.policy,
            "ruleIndex": index.get(v.policy, 0),
            "level": "error" if v.level == "mandatory" else "warning",
            "message": {"text": f"{v.resource}: {v.message}"},
            "partialFingerprints": {f"{report.project}/v1": fingerprint(v)},
            "properties": {"phases": v.phases},
            "locations": [
                {
                    "physicalLocation": {"artifactLocation": {"uri": uri}, "region": {"startLine": line_of(v, lines)}},
                    "logicalLocations": [{"fullyQualifiedName": v.urn or "stack", "kind": "resource"}],
                }
            ],
        }
        for v in report.violations
    ]
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": f"pulumi-policy-{report.pack}", "version": report.version, "rules": rules}},
                "results": results,
            }
        ],
    }
