"""What a policy run found: each violation, one pack process's result, and the report the preview writes.

Plain data, shared by the run (preview/policy.py), the worker that analyzes the preview phase
(preview/phases.py) and the SARIF writer (preview/sarif.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Violation:
    policy: str
    level: str
    severity: str
    resource: str  # type and name, or "stack"
    urn: str
    message: str
    phases: list[str] = field(default_factory=list)  # the engine phases that report it: preview, up
    # Where the stack file controls its object (preview/findings.py): the file as the user names it,
    # the key's line (1: the file) and the key as config errors name it; and the rule's fix.
    file: str | None = None
    line: int | None = None
    key: str | None = None
    fix: str | None = None

    @property
    def at(self) -> str:
        """`FILE:LINE: KEY` (`FILE:1` when no key controls the object)."""
        where = f"{self.file or 'stack file'}:{self.line or 1}"
        return f"{where}: {self.key}" if self.key else where


@dataclass
class PolicyReport:
    pack: str
    version: str
    stack: str
    project: str  # the Pulumi project: the prefix of the stack file's config keys
    config_file: str
    policies: list[dict[str, Any]]
    violations: list[Violation] = field(default_factory=list)
    seconds: float = 0.0
    phases: list[str] = field(default_factory=lambda: ["up"])
    stack_file: Path | None = None  # the stack file that produced the objects (SARIF locations)
    project_dir: Path | None = None  # SARIF URIs are relative to it (the repository root)

    @property
    def mandatory_failed(self) -> bool:
        return any(v.level == "mandatory" for v in self.violations)

    def table_lines(self, timed: bool = True) -> list[str]:
        """The summary line and one line per violation; `timed=False` leaves out the run's duration
        (the markdown PR comment: an unchanged PR must produce the same comment)."""
        mandatory = sum(v.level == "mandatory" for v in self.violations)
        lines = [
            f"policy pack {self.pack}@{self.version} ({len(self.policies)} policies, config {self.config_file}, "
            f"engine phases {' and '.join(self.phases)}): "
            f"{mandatory} mandatory, {len(self.violations) - mandatory} advisory violation(s)"
            + (f" in {self.seconds:.2f}s" if timed else "")
        ]
        for v in self.violations:
            lines.append(
                f"  {v.level:<9} {v.severity:<8} {'+'.join(v.phases):<10} {v.policy:<32} {v.resource:<48} {v.message}"
            )
            if v.file is not None:
                lines.append(f"      at {v.at}; fix: {v.fix}")
        return lines


@dataclass
class PhaseResult:
    """What one pack process found over the phases it was given (picklable: a worker returns it)."""

    pack: str  # from the pack's AnalyzerInfo
    version: str
    policies: list[dict[str, Any]]
    found: dict[tuple[str, str, str, int], Violation]
    phases: list[str]
    seconds: float
    # Its pack's Analyze answers, by URN: the request's digest and each diagnostic (base64 of the
    # protobuf message), for another pack process to reuse where its request is the same.
    answers: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
