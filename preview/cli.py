"""The preview's work once __main__ has parsed the command line and started its helpers: the up phase
rendered, validated and analyzed, the diffs, and the report on stdout.

__main__ starts the phase worker and the pack before it imports this module: these imports take
about a second, which the other core spends starting them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import yaml

from preview import sdk_internals
from preview.capture import BadInput, capture_phase, checked_inputs, preload
from preview.changes import blocked_messages
from preview.connectivity import connectivity
from preview.diff import BaseRenderError, diff_renders, render_at_revision
from preview.exit_codes import EXIT_BAD_INPUT, EXIT_INVALID, EXIT_OK
from preview.findings import locate_cut_paths
from preview.graph import compose_edges, graph_markdown, mermaid, traffic_edges, write_svg
from preview.helpers import Helpers
from preview.masking import MASKER
from preview.output import OutputError, commit, discard, stage_for
from preview.pack_process import PolicyRunError
from preview.phases import PhaseError, PhaseWorker
from preview.policy import run_policy_pack
from preview.promotion import drift
from preview.render import grafana_files, manifests, prometheus_files, render_files, write_files
from preview.report import Outcome, refused_json, refused_markdown
from preview.stackfile import StackConfigInput, display
from preview.validate import Finding, newest_version, validate_compose, validate_manifests

DEFAULT_K8S_VERSIONS = ("1.29",)


def render(project_dir: Path, stack: str, config_file: Path | None, inputs: StackConfigInput | None = None):
    """The up phase (what is applied), rendered: manifests, compose file, resources.json."""
    inputs, capture = capture_phase(project_dir, stack, config_file, inputs=inputs)
    MASKER.know(capture.secret_values)
    kube = manifests(capture)
    settings = inputs.settings  # None for another team's program: no dashboards of ours
    monitoring = {**grafana_files(settings), **prometheus_files(settings)} if settings is not None else {}
    return inputs, capture, kube, {**render_files(capture, kube), **monitoring}


def validate(kube, stage: Path, versions: list[str]) -> list[Finding]:
    """Every manifest against each Kubernetes version's schemas (and CRDs), the compose file by Compose."""
    try:
        findings: list[Finding] = validate_manifests([(m.file, m.obj) for m in kube], versions)
    except ValueError as error:
        raise BadInput(str(error)) from None
    if (stage / "docker-compose.yml").exists():
        env_file = stage / "compose.env.example"
        findings += validate_compose(stage / "docker-compose.yml", env_file if env_file.exists() else None)
    return findings


def policy(args: argparse.Namespace, project_dir: Path, capture, stage: Path, helpers: Helpers, source: str, meanwhile):
    """The pack over both engine phases: the worker's preview phase and this process's up phase;
    `meanwhile()` runs while the pack answers the up phase's AnalyzeStack."""
    assert helpers.worker is not None and helpers.pack is not None
    pack, helpers.pack = helpers.pack, None  # the policy run stops it
    try:
        return run_policy_pack(
            project_dir,
            capture,
            stage,
            preview_result=helpers.worker.result,
            pack=pack,
            stack_file=args.config_file.resolve() if args.config_file else None,
            source=source,
            meanwhile=meanwhile,
        )
    except (PolicyRunError, PhaseError) as error:
        raise BadInput(str(error)) from None


def compared(args: argparse.Namespace, project_dir: Path, files: dict[str, str], settings):
    """The diffs --against and --base ask for, and the promotion report of --against another stack."""
    diffs = []
    promotion_drift = None
    if args.against:
        other_inputs, _, _, other_files = render(project_dir, args.against, None)
        other_settings = other_inputs.settings
        if args.against != args.stack and settings is not None and other_settings is not None:
            promotion_drift = drift(args.stack, settings, args.against, other_settings)
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
            (f"{args.stack}: {args.base} -> working tree", diff_renders(base_files, files, args.base, "working-tree"))
        )
    return diffs, promotion_drift


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
        inputs = checked_inputs(project_dir, args.stack, args.config_file)
        if helpers.fork_worker:  # the preview phase's worker, forked with the stack read and its modules
            preload(inputs)
            helpers.worker = PhaseWorker(project_dir, args.stack, args.config_file, inputs)
        inputs, capture, kube, files = render(project_dir, args.stack, args.config_file, inputs)
        # The program ran on this config, so it parses; the paths are judged on the render.
        settings = inputs.settings
        wiring = connectivity(kube, settings)
        edges = traffic_edges(kube)
        if "docker-compose.yml" in files:
            edges += compose_edges(yaml.safe_load(files["docker-compose.yml"]))
        files["graph.md"] = graph_markdown(f"{capture.project} / {args.stack}", mermaid(capture, edges))
        # Everything is written into a fresh staging dir, swapped in for `out` only at the end; the render
        # masked as it is written (while the phase worker is still at work), the rest before the swap.
        stage = stage_for(out)
        secrets_known = frozenset(MASKER.secrets)
        write_files(stage, MASKER.mask_files(files))
        render_seconds = time.perf_counter() - started
        if args.render_only:
            commit(stage, out)
            return EXIT_OK
        write_svg(edges, stage / "graph.svg")

        versions = args.k8s_versions or [*DEFAULT_K8S_VERSIONS, newest_version()]
        validated: list[tuple[list[Finding], float]] = []

        def validate_now() -> None:
            started = time.perf_counter()
            validated.append((validate(kube, stage, versions), time.perf_counter() - started))

        report = None
        if args.no_policy:
            validate_now()
        else:  # validated while the pack answers the up phase's AnalyzeStack
            report = policy(args, project_dir, capture, stage, helpers, inputs.source, validate_now)
        ((findings, validate_seconds),) = validated
        policy_failed = report is not None and report.mandatory_failed
        policy_lines = report.table_lines(timed=args.format != "markdown") if report is not None else []

        diffs, promotion_drift = compared(args, project_dir, files, settings)
        # A secret learnt since (another stack's, --against) is searched for in every file again.
        MASKER.mask_tree(stage, masked=files if MASKER.secrets == secrets_known else ())
        commit(stage, out)
        stage = None
    except (BadInput, OutputError) as error:
        # One `error:` line per problem: a stack file with five problems says five things.
        for line in str(error).splitlines():
            print(f"error: {line}", file=sys.stderr)
        if args.format == "markdown":
            refused_markdown(args.stack, str(error).splitlines())
        elif args.format == "json":
            refused_json(args.stack, str(error).splitlines())
        return EXIT_BAD_INPUT
    finally:
        if stage is not None:
            discard(stage)

    warnings = [f"secret {k} not in the environment: a placeholder was used" for k in inputs.placeholders]
    cut_paths = wiring.failures if wiring else []
    if cut_paths:  # at the stack-file key of the service whose policy the path needs, with the fix
        source = display(args.config_file) if args.config_file else f"Pulumi.{args.stack}.yaml"
        cut_paths = locate_cut_paths(cut_paths, inputs.text, source, inputs.project, capture)
    warnings += [f"connectivity: {w}" for w in (wiring.warnings if wiring else [])]
    Outcome(
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
        report,
        policy_lines,
        diffs,
        promotion_drift,
        warnings,
        cut_paths,
    ).print()
    # A promotion compares two stacks' states, not an update of either: protection blocks only updates.
    blocked = [m for _, d in diffs if not d.promotion for m in blocked_messages(d.changes)]
    for m in blocked:
        print(f"error: {m}", file=sys.stderr)
    for line in cut_paths:
        print(f"error: connectivity: {line}", file=sys.stderr)
    return EXIT_INVALID if findings or policy_failed or blocked or cut_paths else EXIT_OK
