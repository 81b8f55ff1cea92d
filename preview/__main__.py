"""python -m preview STACK: render, validate, diff and picture a stack offline.

Exit codes: 0 ok; 1 validation or mandatory policy failure; 2 bad input (unknown
stack, malformed stack file, invalid config, a program that raises, an unusable --out);
3 a bug in this tool (its traceback, then a line asking to report it).
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

import yaml

from preview import sdk_internals
from preview.capture import BadInput, capture_phase
from preview.changes import blocked_messages, plain
from preview.connectivity import connectivity
from preview.diff import BaseRenderError, diff_renders, format_json, format_markdown, format_text, render_at_revision
from preview.engine import freeze_after_bursts
from preview.graph import compose_edges, graph_markdown, mermaid, traffic_edges, write_svg
from preview.output import OutputError, check_target, commit, discard, stage_for
from preview.phases import PhaseError, PhaseWorker
from preview.policy import PolicyRunError, launch_pack, run_policy_pack
from preview.render import manifests, render_files, write_files
from preview.terminal import console, policy_kind, say
from preview.validate import Finding, newest_version, validate_compose, validate_manifests
from program.stack_config import TOP_LEVEL_KEYS, parse_stack_config, read_project_config

EXIT_OK, EXIT_INVALID, EXIT_BAD_INPUT = 0, 1, 2
DEFAULT_K8S_VERSIONS = ("1.29",)


# Pulumi stack names: letters, digits, '-', '_' and '.' (pulumi sdk/go/common/tokens ValidateStackName).
STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
K8S_VERSION = re.compile(r"^1\.\d{1,3}$")


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one `error:` line and exit 2, like every other bad input."""

    def error(self, message: str):  # noqa: D102
        print(f"error: {message} (see python -m preview --help)", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def stack_name(value: str) -> str:
    if not STACK_NAME.match(value) or value in (".", ".."):
        raise argparse.ArgumentTypeError(f"stack name {value!r}: use letters, digits, '-', '_' and '.' only")
    return value


def k8s_versions(value: str) -> list[str]:
    versions = [v.strip() for v in value.split(",")]
    for v in versions:
        if not K8S_VERSION.match(v):
            raise argparse.ArgumentTypeError(f"{v!r} is not a Kubernetes minor version such as 1.29")
    return versions


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = OneLineParser(prog="python -m preview", description=__doc__.splitlines()[0])
    parser.add_argument("stack", type=stack_name, help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument("--out", type=Path, help="output directory (default out/<stack>)")
    parser.add_argument("--config-file", type=Path, help="stack file to use instead of Pulumi.<stack>.yaml")
    parser.add_argument("--against", metavar="OTHER_STACK", help="diff against another stack (promotion: dev -> prod)")
    parser.add_argument("--base", metavar="GIT_REV", help="diff against this stack rendered at a git revision")
    parser.add_argument(
        "--format", choices=("text", "markdown", "json"), default="text", help="report format on stdout"
    )
    # One value per flag (repeat it, or use commas): a list-taking flag would swallow the stack name.
    parser.add_argument(
        "--k8s-version",
        action="extend",
        type=k8s_versions,
        dest="k8s_versions",
        metavar="V[,V...]",
        help="Kubernetes version(s) to validate against (repeatable; default 1.29 and the newest shipped)",
    )
    parser.add_argument("--no-policy", action="store_true", help="skip the policy pack run")
    parser.add_argument(
        "--summary", action="store_true", help="diffs: what would change and which objects, without each object's patch"
    )
    parser.add_argument("--project-dir", type=Path, default=Path.cwd(), help=argparse.SUPPRESS)
    parser.add_argument("--render-only", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def render(project_dir: Path, stack: str, config_file: Path | None):
    """The up phase (what is applied), rendered: manifests, compose file, resources.json."""
    inputs, capture = capture_phase(project_dir, stack, config_file)
    kube = manifests(capture)
    return inputs, capture, kube, render_files(capture, kube)


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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    project_dir = args.project_dir.resolve()
    out = (args.out or project_dir / "out" / args.stack).resolve()
    stage = worker = pack = None
    if unverified := sdk_internals.check():
        print(f"warning: {unverified}", file=sys.stderr)
    try:
        check_target(out)
        if not args.no_policy and not args.render_only:
            # The engine's two phases: a first `pulumi preview` (computed values unknown), then `up`. The
            # preview phase is captured and analyzed beside this process's work, by its own pack.
            worker = PhaseWorker(project_dir, args.stack, args.config_file)
            pack = launch_pack(project_dir / "policies")
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
            try:
                report, pack = (
                    run_policy_pack(
                        project_dir,
                        capture,
                        stage,
                        preview_result=worker.result,
                        pack=pack,
                        stack_file=args.config_file.resolve() if args.config_file else None,
                    ),
                    None,
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
        if worker is not None:
            worker.close()
        if pack is not None:  # not handed to the policy run: the run failed before it
            pack.kill()
            pack.wait()

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


class Terminated(KeyboardInterrupt):
    """A SIGTERM, unwound as a Ctrl-C is (asyncio and the SDK let KeyboardInterrupt through): main()'s
    finally blocks stop the phase worker and the pack and discard the staging directory."""


def _terminate(_signum: int, _frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one unwinding: a second SIGTERM must not cut it short
    raise Terminated


def run() -> int:
    """main(), with the only tracebacks left being bugs, and a line saying so."""
    freeze_after_bursts()  # this process ends with the preview
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return main()
    except Terminated:
        print("error: terminated; nothing was replaced", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("error: interrupted; nothing was replaced", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception:  # noqa: BLE001 - every expected failure is handled in main()
        traceback.print_exc()
        print(
            "this is a bug in agent-platform's preview: please report it with the command you ran "
            f"(python -m preview {' '.join(sys.argv[1:])})",
            file=sys.stderr,
        )
        return 3


if __name__ == "__main__":
    sys.exit(run())
