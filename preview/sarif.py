"""The policy report as SARIF 2.1.0 for GitHub code scanning.

Each result is located at the line of the stack-file key that controls its object (preview/findings.py:
`services[agent-api].image`, else the service's list item, the `postgres` or `redis` block, ...), not at
line 1, so code scanning shows it where a reviewer would change it; its message names the key, its
properties the fix. `partialFingerprints` identify a result by rule, resource and message, never by
line or key, so an edit above it does not turn it into a new alert;
`security-severity` on each rule (GitHub's 0-10 scale) sets the alert's severity.
tests/preview/test_sarif.py validates the output against the OASIS schema.
"""

from __future__ import annotations

import hashlib
from typing import Any

from preview.policy_results import PolicyReport, Violation

# GitHub code scanning: >= 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "unspecified": "5.0"}


def fingerprint(violation: Violation) -> str:
    return hashlib.sha256(f"{violation.policy}\0{violation.urn}\0{violation.message}".encode()).hexdigest()[:32]


def sarif(report: PolicyReport) -> dict[str, Any]:
    stack_file = report.stack_file
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
            "message": {"text": f"{v.resource}: {v.message}" + (f" (stack-file key {v.key})" if v.key else "")},
            "partialFingerprints": {f"{report.project}/v1": fingerprint(v)},
            "properties": {"phases": v.phases, **({"key": v.key} if v.key else {}), "fix": v.fix or ""},
            "locations": [
                {
                    "physicalLocation": {"artifactLocation": {"uri": uri}, "region": {"startLine": v.line or 1}},
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
