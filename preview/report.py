"""The preview's report on stdout, in three formats: JSON for tools, markdown for the pull-request
comment, text for a terminal. Each takes what the run found (an Outcome's fields) and decides nothing.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from preview.changes import plain
from preview.connectivity import Report as Connectivity
from preview.diff import StackDiff, format_json, format_markdown, format_text
from preview.policy_results import PolicyReport, Violation
from preview.promotion import report_lines
from preview.terminal import console, policy_kind, say
from preview.validate import Finding


@dataclass
class Outcome:
    """What a preview run found, for its report."""

    args: argparse.Namespace
    out: Path
    capture: Any  # preview.engine.Capture
    kube: list
    files: dict[str, str]
    wiring: Connectivity | None
    findings: list[Finding]
    versions: list[str]
    render_seconds: float
    validate_seconds: float
    report: PolicyReport | None
    policy_lines: list[str]
    diffs: list[tuple[str, StackDiff]]
    promotion_drift: dict[str, Any] | None
    warnings: list[str]
    cut_paths: list[str]

    def print(self) -> None:
        """The report in the format the command line asked for."""
        REPORTS[self.args.format](**vars(self))


def _md(text: str) -> str:
    """Text as markdown shows it, not as markup (messages quote names, globs and paths)."""
    return re.sub(r"([\\`*_\[\]<>|#~])", r"\\\1", text)


def finding_markdown(v: Violation) -> str:
    """One policy finding for the PR comment: where the stack file sets it, what is wrong, the fix."""
    mark = ":x:" if v.level == "mandatory" else ":warning:"
    return (
        f"- {mark} `{v.at}`: **{v.policy}** ({v.level}, {v.severity}, {'+'.join(v.phases)}) "
        f"`{v.resource}`: {_md(v.message)}<br>Fix: {v.fix}"
    )


def summary_table(capture) -> str:
    counts: Counter[tuple[str, str]] = Counter()
    for r in capture.declared():
        parent = capture.parent_of(r)
        counts[(f"{parent.type.split(':')[-1]}/{parent.name}" if parent else "stack", r.kind)] += 1
    width = max([len(c) for c, _ in counts] + [9])
    lines = [f"{'component':<{width}}  {'kind':<24}  count"]
    lines += [f"{c:<{width}}  {k:<24}  {n}" for (c, k), n in sorted(counts.items())]
    lines.append(f"{'total':<{width}}  {'':<24}  {sum(counts.values())}")
    return "\n".join(lines)


def refused_json(stack: str, errors: list[str]) -> None:
    """For tools, when the input was refused (exit 2): the stack and each problem, as stderr has them."""
    print(json.dumps({"stack": stack, "refused": True, "errors": errors}, indent=2, sort_keys=True))


def refused_markdown(stack: str, errors: list[str]) -> None:
    """The PR comment of a stack whose input was refused: each problem at its line, with its fix."""
    print(f"## agent-platform preview: `{stack}`\n")
    print(":x: Nothing was rendered: the input was refused (exit 2).\n\n```text")
    print("\n".join(f"error: {line}" for line in errors))
    print("```")


def as_json(
    *,
    args,
    out,
    capture,
    kube,
    wiring,
    findings,
    render_seconds,
    validate_seconds,
    report,
    diffs,
    promotion_drift,
    warnings,
    **_others,
) -> None:
    """For tools: everything the run found, as one JSON document."""
    print(
        json.dumps(
            {
                "stack": args.stack,
                "out": str(out),
                "objects": len(kube),
                "resources": len(capture.resources),
                "renderSeconds": round(render_seconds, 3),
                "validateSeconds": round(validate_seconds, 3),
                "validation": [f.__dict__ for f in findings],
                "warnings": warnings,
                "policy": None
                if report is None
                else {
                    "pack": report.pack,
                    "version": report.version,
                    "config": report.config_file,
                    "phases": report.phases,
                    "seconds": round(report.seconds, 3),
                    "mandatoryFailed": report.mandatory_failed,
                    "violations": [v.__dict__ for v in report.violations],
                },
                "diffs": [json.loads(format_json(d)) for _, d in diffs],
                "promotion": promotion_drift,
                "connectivity": None
                if wiring is None
                else [
                    dict(zip(("from", "to", "port", "because", "admittedBy"), c.row(), strict=True))
                    for c in wiring.checked
                ],
            },
            indent=2,
            sort_keys=True,
        )
    )


def as_markdown(
    *,
    args,
    kube,
    files,
    wiring,
    findings,
    versions,
    report,
    policy_lines,
    diffs,
    promotion_drift,
    warnings,
    cut_paths,
    **_others,
) -> None:
    """For the pull-request comment."""
    policy_failed = report is not None and report.mandatory_failed
    status = "passed" if not findings and not policy_failed else "failed"
    print(f"## agent-platform preview: `{args.stack}`\n")
    if promotion_drift is not None:
        print("```\n" + "\n".join(report_lines(promotion_drift)) + "\n```\n")
    if "docker-compose.yml" in files:
        services = len((yaml.safe_load(files["docker-compose.yml"]) or {}).get("services") or {})
        print(f"Docker host: {services} Compose services; `docker compose config` {status}.\n")
    else:
        print(f"{len(kube)} Kubernetes objects; schema validation ({', '.join(versions)}) {status}.\n")
    for w in warnings:
        print(f"- :warning: {w}")
    for f in findings:
        print(f"- :x: `{f.line()}`")
    for line in cut_paths:
        print(f"- :x: connectivity: {line}")
    if wiring is not None:
        print(f"<details><summary>{wiring.summary()}</summary>\n")
        print("\n".join(wiring.lines(markdown=True)))
        print("\n</details>\n")
    if report is not None:
        # Open when a mandatory violation fails the preview: each finding at its stack-file key.
        opened = " open" if report.mandatory_failed else ""
        print(f"<details{opened}><summary>Policy pack: " + policy_lines[0].split(": ", 1)[-1] + "</summary>\n")
        print("\n".join(finding_markdown(v) for v in report.violations) or "No violations.")
        print("\n</details>\n")
    for title, d in diffs:
        print(format_markdown(d, title, summary=args.summary))


def as_text(
    *,
    args,
    out,
    capture,
    kube,
    files,
    wiring,
    findings,
    versions,
    render_seconds,
    validate_seconds,
    policy_lines,
    diffs,
    promotion_drift,
    warnings,
    cut_paths,
    **_others,
) -> None:
    """For a terminal."""
    if promotion_drift is not None:
        print("\n".join(report_lines(promotion_drift)) + "\n")
    if args.summary:
        declared = capture.declared()
        parents = {p.urn for p in map(capture.parent_of, declared) if p is not None}
        print(f"{len(declared)} resources from {len(parents)} components")
    else:
        print(summary_table(capture))
    checked = [f"{len(kube)} manifests against k8s {', '.join(versions)}"] if kube else []
    if "docker-compose.yml" in files:
        checked.append("docker-compose.yml with docker-compose config")
    print(
        f"\nrendered {len(files)} files to {out} in {render_seconds:.2f}s; validated {' and '.join(checked)} in "
        f"{validate_seconds:.2f}s"
    )
    terminal = console()
    for w in warnings:
        say(terminal, f"warning: {w}", "warning")
    for f in findings:
        say(terminal, f"invalid: {f.line()}", "invalid")
    if wiring is not None:
        print(f"\n{wiring.summary()}")
        for line in [] if args.summary and not cut_paths else wiring.lines():
            print(f"  {line}")
    for line in policy_lines:
        say(terminal, line, policy_kind(line))
    for title, d in diffs:
        print(f"\n== {plain(title)}")
        print(format_text(d, summary=args.summary), end="")


REPORTS = {"json": as_json, "markdown": as_markdown, "text": as_text}
