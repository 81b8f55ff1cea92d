"""The preview's work once __main__ has parsed the command line and started its helpers: the up phase
rendered, validated and analyzed, the diffs, and the report on stdout.

__main__ starts the phase worker and the pack before it imports this module: these imports take
about a second, which the other core spends starting them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

from preview import sdk_internals
from preview.capture import BadInput, capture_phase
from preview.changes import blocked_messages, plain
from preview.connectivity import connectivity
from preview.diff import BaseRenderError, diff_renders, format_json, format_markdown, format_text, render_at_revision
from preview.exit_codes import EXIT_BAD_INPUT, EXIT_INVALID, EXIT_OK
from preview.graph import compose_edges, graph_markdown, mermaid, traffic_edges, write_svg
from preview.helpers import Helpers
from preview.masking import MASKER
from preview.output import OutputError, commit, discard, stage_for
from preview.pack_process import PolicyRunError
from preview.phases import PhaseError
from preview.policy import run_policy_pack
from preview.render import grafana_files, manifests, render_files, write_files
from preview.terminal import console, policy_kind, say
from preview.validate import Finding, newest_version, validate_compose, validate_manifests
from program.stack_config import TOP_LEVEL_KEYS, parse_stack_config, read_project_config

DEFAULT_K8S_VERSIONS = ("1.29",)


def render(project_dir: Path, stack: str, config_file: Path | None):
    """The up phase (what is applied), rendered: manifests, compose file, resources.json."""
    inputs, capture = capture_phase(project_dir, stack, config_file)
    MASKER.know(capture.secret_values)
    kube = manifests(capture)
    values = read_project_config(inputs.config)
    config = parse_stack_config({k: v for k, v in values.items() if k in TOP_LEVEL_KEYS})
    return inputs, capture, kube, {**render_files(capture, kube), **grafana_files(config)}


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


def preview(args: argparse.Namespace, project_dir: Path, out: Path, helpers: Helpers) -> int:
    """The preview of `args.stack` into `out` (already checked), its report on stdout; the exit code.

    `helpers` holds the phase worker and the pack __main__ started (none with --no-policy); the pack is
    taken from it when the policy run takes it over, and __main__ stops whatever is left.
    """
    stage = None
    if unverified := sdk_internals.check():
        print(f"warning: {unverified}", file=sys.stderr)
    try:
        started = time.perf_counter()
        inputs, capture, kube, files = render(project_dir, args.stack, args.config_file)
        # The program ran on this config, so it parses; the paths are judged on the render.
        values = read_project_config(inputs.config)
        wiring = connectivity(kube, parse_stack_config({k: v for k, v in values.items() if k in TOP_LEVEL_KEYS}))
        edges = traffic_edges(kube)
        if "docker-compose.yml" in files:
            edges += compose_edges(yaml.safe_load(files["docker-compose.yml"]))
        files["graph.md"] = graph_markdown(f"{capture.project} / {args.stack}", mermaid(capture, edges))
        # Everything is written into a fresh staging dir, swapped in for `out` only at the end.
        stage = stage_for(out)
        write_files(stage, files)
        render_seconds = time.perf_counter() - started
        if args.render_only:
            commit(stage, out)
            return EXIT_OK
        write_svg(edges, stage / "graph.svg")

        started = time.perf_counter()
        versions = args.k8s_versions or [*DEFAULT_K8S_VERSIONS, newest_version()]
        try:
            findings: list[Finding] = validate_manifests([(m.file, m.obj) for m in kube], versions)
        except ValueError as error:
            raise BadInput(str(error)) from None
        if (stage / "docker-compose.yml").exists():
            env_file = stage / "compose.env.example"
            findings += validate_compose(stage / "docker-compose.yml", env_file if env_file.exists() else None)
        validate_seconds = time.perf_counter() - started

        policy_failed = False
        policy_lines: list[str] = []
        report = None
        if not args.no_policy:
            assert helpers.worker is not None and helpers.pack is not None
            pack, helpers.pack = helpers.pack, None  # the policy run stops it
            try:
                report = run_policy_pack(
                    project_dir,
                    capture,
                    stage,
                    preview_result=helpers.worker.result,
                    pack=pack,
                    stack_file=args.config_file.resolve() if args.config_file else None,
                )
            except (PolicyRunError, PhaseError) as error:
                raise BadInput(str(error)) from None
            policy_failed = report.mandatory_failed
            policy_lines = report.table_lines(timed=args.format != "markdown")

        diffs = []
        if args.against:
            _, _, _, other_files = render(project_dir, args.against, None)
            # Read as "what applying this render over OTHER would do": OTHER is the before side. Against
            # another stack it is a promotion (environment labels fold); against the same stack
            # (with --config-file) it is a real update of that stack.
            promotion = args.against != args.stack
            title = (
                f"promote `{args.stack}` onto `{args.against}`: what `{args.against}` would become"
                if promotion
                else f"update of `{args.stack}` with {args.config_file or 'its stack file'}"
            )
            diffs.append((title, diff_renders(other_files, files, args.against, args.stack, promotion=promotion)))
        if args.base:
            try:
                base_files = render_at_revision(project_dir, args.base, args.stack)
            except BaseRenderError as error:
                raise BadInput(str(error)) from None
            diffs.append(
                (
                    f"{args.stack}: {args.base} -> working tree",
                    diff_renders(base_files, files, args.base, "working-tree"),
                )
            )
        MASKER.mask_tree(stage)
        commit(stage, out)
        stage = None
    except (BadInput, OutputError) as error:
        # One `error:` line per problem: a stack file with five problems says five things.
        for line in str(error).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        if stage is not None:
            discard(stage)

    warnings = [f"secret {k} not in the environment: a placeholder was used" for k in inputs.placeholders]
    cut_paths = wiring.failures if wiring else []
    warnings += [f"connectivity: {w}" for w in (wiring.warnings if wiring else [])]
    if args.format == "json":
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
    elif args.format == "markdown":
        status = "passed" if not findings and not policy_failed else "failed"
        print(f"## agent-platform preview: `{args.stack}`\n")
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
        if policy_lines:
            print("<details><summary>Policy pack: " + policy_lines[0].split(": ", 1)[-1] + "</summary>\n\n```")
            print("\n".join(policy_lines[1:]) or "no violations")
            print("```\n\n</details>\n")
        for title, d in diffs:
            print(format_markdown(d, title, summary=args.summary))
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
            for line in wiring.lines():
                print(f"  {line}")
        for line in policy_lines:
            say(terminal, line, policy_kind(line))
        for title, d in diffs:
            print(f"\n== {plain(title)}")
            print(format_text(d, summary=args.summary), end="")
    # A promotion compares two stacks' states, not an update of either: protection blocks only updates.
    blocked = [m for _, d in diffs if not d.promotion for m in blocked_messages(d.changes)]
    for m in blocked:
        print(f"error: {m}", file=sys.stderr)
    for line in cut_paths:
        print(f"error: connectivity: {line}", file=sys.stderr)
    return EXIT_INVALID if findings or policy_failed or blocked or cut_paths else EXIT_OK
