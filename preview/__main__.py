"""python -m preview STACK: render, validate, diff and picture a stack offline.

Exit codes: 0 ok; 1 validation or mandatory policy failure; 2 bad input (unknown
stack, malformed stack file, invalid config, a program that raises, an unusable --out);
3 a bug in this tool (its traceback, then a line asking to report it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import traceback
from pathlib import Path

from preview import stopping
from preview.collector import freeze_after_bursts
from preview.esc import ESC_VALUES_ENV
from preview.exit_codes import EXIT_BAD_INPUT, EXIT_BUG, EXIT_INVALID
from preview.helpers import Helpers
from preview.masking import MASKER, MaskedStream
from preview.output import OutputError, check_target
from preview.pack_process import launch_pack, pack_dir_for
from preview.phases import PhaseWorker
from preview.stopping import Terminated

# Pulumi stack names: letters, digits, '-', '_' and '.' (pulumi sdk/go/common/tokens ValidateStackName).
STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
K8S_VERSION = re.compile(r"^1\.\d{1,3}$")
# Fork the phase worker (preview/phases.py) instead of starting an interpreter: set by run(), the entry
# point of a CLI process; main() called in a process that may have used gRPC starts one.
FORK_WORKER = False


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


def esc_values(value: str) -> tuple[str, Path]:
    name, sep, path = value.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"{value!r}: give ENV=FILE, e.g. myorg/agent-platform/prod=prod-esc.json")
    return name, Path(path)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = OneLineParser(prog="python -m preview", description=__doc__.splitlines()[0])
    parser.add_argument("stack", type=stack_name, help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument("--out", type=Path, help="output directory (default out/<stack>)")
    parser.add_argument("--config-file", type=Path, help="stack file to use instead of Pulumi.<stack>.yaml")
    parser.add_argument(
        "--esc-values",
        action="append",
        type=esc_values,
        default=[],
        metavar="ENV=FILE",
        help="an ESC environment the stack file imports, resolved: FILE is `esc env open ENV --format json` output",
    )
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    project_dir = args.project_dir.resolve()
    out = (args.out or project_dir / "out" / args.stack).resolve()
    try:
        check_target(out)
    except OutputError as error:
        for line in str(error).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.esc_values:  # for this process's reading of the stack file and its phase worker's
        os.environ[ESC_VALUES_ENV] = json.dumps({name: str(path.resolve()) for name, path in args.esc_values})
    helpers = Helpers()
    try:
        # The engine's two phases: a first `pulumi preview` (computed values unknown), then `up`. The
        # preview phase is captured and analyzed beside this process's work, by a worker with its own pack.
        if not args.no_policy and not args.render_only:
            helpers.pack = launch_pack(pack_dir_for(project_dir))
            if FORK_WORKER:  # cli.preview forks it once its imports are made (preview/phases.py)
                helpers.fork_worker = True
            else:
                helpers.worker = PhaseWorker(project_dir, args.stack, args.config_file)
        # Imported once the pack (and a started worker) are on their way (preview/cli.py: about a second).
        from preview import cli

        return cli.preview(args, project_dir, out, helpers)
    finally:
        helpers.close()


def _masked(code: int) -> int:
    """The run's exit code, failed when anything had to be masked on its way out (preview/masking.py)."""
    errors, warnings = MASKER.problems()
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    for line in errors:
        print(f"error: {line}", file=sys.stderr)
    return max(code, EXIT_INVALID) if errors else code


def run() -> int:
    """main(), with the only tracebacks left being bugs, and a line saying so."""
    global FORK_WORKER
    FORK_WORKER = True  # this process is the CLI's own: nothing in it has used gRPC yet
    freeze_after_bursts()  # this process ends with the preview
    stopping.install()
    sys.stdout = MaskedStream(sys.stdout, "stdout")
    sys.stderr = MaskedStream(sys.stderr, "stderr")
    try:
        code = main()
        stopping.raise_if_stopped()  # a signal dropped where it was raised still stops the run
        return _masked(code)
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
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(run())
