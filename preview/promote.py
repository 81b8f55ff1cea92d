"""Promote one service's release from one stack to another: its image by digest and what the app
contract says travels with the image, written into the target stack file with its comments and
layout kept, then the review diff.

    venv/bin/python -m preview.promote SERVICE --from dev --to prod [--digest sha256:...] [--dry-run]

A release is what belongs to the image, not to the environment (README "The app contract"): the
image, its command and args, its port, its probes, the migration and cleanup commands, the names it
reads its connections from (`connectionEnv`) and its drain budget variable. The environment keeps
its own replicas, resources, hosts, autoscaling, backups, secrets' values and the values of its env.
What the image needs that the target lacks comes along, marked for review: an env key (with the
source's value), a secretEnv name (its value must be set in the target: the command is printed).
A target running a canary or blue/green rollout gets the release as the canary's image or the idle
colour's, which its rollout then serves as it is configured to.

The edited stack file is checked as the preview checks one before anything is written: a problem
is reported at its line and the file is left as it was.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import io
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from preview.exit_codes import EXIT_BAD_INPUT, EXIT_OK

PROJECT = "agent-platform"
SERVICES = f"{PROJECT}:services"
# What travels with the image (camelCase, as stack files write them): (path, what it is).
RELEASE_KEYS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("command",), "the image's entrypoint override"),
    (("args",), "the image's arguments"),
    (("port",), "the port the app listens on"),
    (("probes",), "the app's health endpoints"),
    (("connectionEnv",), "the names the app reads its connection URLs from"),
    (("migration", "command"), "the image's migration command"),
    (("checkpointCleanup", "command"), "the image's cleanup command"),
    (("drain", "budgetEnv"), "the variable the app reads its drain budget from"),
)
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class PromoteError(Exception):
    """What stops a promotion: one line per problem, nothing written."""


def _yaml() -> YAML:
    # The layout of this project's stack files (a round trip of each shipped one is byte-identical:
    # tests/preview/test_promote.py).
    y = YAML()
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def load(text: str) -> CommentedMap:
    return _yaml().load(text)


def dump(data: CommentedMap) -> str:
    buf = io.StringIO()
    _yaml().dump(data, buf)
    return buf.getvalue()


def _get(node: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _set(node: CommentedMap, path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = CommentedMap()
        node = node[key]
    node[path[-1]] = copy.deepcopy(value)


def _delete(node: CommentedMap, path: tuple[str, ...]) -> None:
    parent = _get(node, path[:-1]) if len(path) > 1 else node
    if isinstance(parent, dict):
        parent.pop(path[-1], None)


def _services(data: CommentedMap, stack: str) -> CommentedSeq:
    config = data.get("config") if isinstance(data, dict) else None
    services = config.get(SERVICES) if isinstance(config, dict) else None
    if not isinstance(services, list):
        raise PromoteError(f"Pulumi.{stack}.yaml: config: has no {SERVICES} list")
    return services


def _service(services: CommentedSeq, name: str) -> CommentedMap | None:
    return next((s for s in services if isinstance(s, dict) and s.get("name") == name), None)


def _line(node: Any, key: Any) -> str:
    """`:LINE` of `key` in a node ruamel read from a file (its line marks), or nothing."""
    try:
        return f":{node.lc.key(key)[0] + 1}"
    except (AttributeError, KeyError, TypeError):
        return ""


def pinned(image: str, digest: str | None, source: str, name: str, where: str = "") -> str:
    """The source's image by digest: as written when it has one, else with --digest."""
    base, _, current = image.partition("@")
    if digest is not None:
        if not DIGEST.match(digest):
            raise PromoteError(f"--digest {digest!r}: must be sha256: and 64 lowercase hex digits")
        if current and current != digest:
            raise PromoteError(
                f"--digest {digest}: {source}'s {name} is pinned to {current}, another digest: drop --digest "
                "or pin that image in the source stack file first"
            )
        return f"{base}@{digest}"
    if not current:
        raise PromoteError(
            f"Pulumi.{source}.yaml{where}: services[{name}].image: {image} has no digest, and a promotion copies "
            f"an image by digest: give --digest (`crane digest {image}`, or `docker buildx imagetools inspect "
            f"{image}`), or pin it in the source stack file"
        )
    return image


@dataclass
class Promotion:
    """What a promotion did, for the person reviewing it."""

    changed: list[str] = field(default_factory=list)  # release keys set in the target
    added: list[str] = field(default_factory=list)  # env keys and secretEnv names the image needs
    todo: list[str] = field(default_factory=list)  # what a person must still do

    def lines(self) -> list[str]:
        out = [f"set {c}" for c in self.changed] + [f"added {a} (review it)" for a in self.added]
        return out + [f"to do: {t}" for t in self.todo]


def promote_release(
    source: CommentedMap, target: CommentedMap, name: str, src: str, dst: str, digest: str | None
) -> Promotion:
    """Copy service `name`'s release from the `source` stack file's data into the `target`'s, in place."""
    from_svc = _service(_services(source, src), name)
    if from_svc is None:
        known = ", ".join(str(s.get("name")) for s in _services(source, src) if isinstance(s, dict))
        where = _line(source["config"], SERVICES)
        raise PromoteError(f"Pulumi.{src}.yaml{where}: services: no service named {name!r} (services: {known})")
    image = pinned(str(from_svc.get("image", "")), digest, src, name, _line(from_svc, "image"))
    done = Promotion()
    services = _services(target, dst)
    to_svc = _service(services, name)
    if to_svc is None:
        # New to the target: its release, and the environment's settings left to the platform's
        # secure, highly available defaults (replicas, resources, autoscaling, PDB): review them.
        to_svc = CommentedMap(name=name)
        services.append(to_svc)
        services.yaml_set_comment_before_after_key(
            len(services) - 1,
            before=f"promoted from {src}: the platform's defaults for {dst}'s replicas, resources, autoscaling",
            indent=4,
        )
        if isinstance(from_svc.get("ingress"), dict):  # its routes: where the app answers, as in the source
            to_svc["ingress"] = copy.deepcopy(from_svc["ingress"])
        done.changed.append(f"services[{name}]: new in {dst}")
        done.todo.append(f"review services[{name}]'s replicas, resources and ingress for {dst}")
    _promote_image(to_svc, image, name, done)
    for path, what in RELEASE_KEYS:
        want, have = _get(from_svc, path), _get(to_svc, path)
        key = f"services[{name}]." + ".".join(path)
        if want is None and have is not None:
            _delete(to_svc, path)
            done.changed.append(f"{key}: removed, as {src} has none ({what})")
        elif want is not None and want != have:
            _set(to_svc, path, want)
            done.changed.append(f"{key} ({what})")
    for block, kind in (("env", "env"), ("secretEnv", "secretEnv")):
        wanted = from_svc.get(block) or {}
        have = to_svc.get(block)
        missing = [k for k in wanted if not (isinstance(have, dict) and k in have)]
        if not missing:
            continue
        if not isinstance(have, dict):
            to_svc[block] = have = CommentedMap()
        for key in missing:
            have[key] = copy.deepcopy(wanted[key])
            have.yaml_add_eol_comment(f"promoted from {src}: review", key)
            done.added.append(f"services[{name}].{block}.{key}")
            if kind == "secretEnv":
                done.todo.append(
                    f"set the secret {wanted[key]} on {dst}: `pulumi config set --secret {wanted[key]} --stack {dst}`"
                )
    return done


def _promote_image(svc: CommentedMap, image: str, name: str, done: Promotion) -> None:
    rollout = svc.get("rollout") if isinstance(svc.get("rollout"), dict) else {}
    strategy = rollout.get("strategy")
    if strategy == "canary" and isinstance(rollout.get("canary"), dict):
        if rollout["canary"].get("image") != image:
            rollout["canary"]["image"] = image
            weight = rollout["canary"].get("weight", "its configured")
            done.changed.append(f"services[{name}].rollout.canary.image (the canary, at weight {weight})")
            done.todo.append(f"when the canary holds, make services[{name}].image the same image and end the canary")
        return
    if strategy == "blueGreen" and isinstance(rollout.get("blueGreen"), dict):
        bg = rollout["blueGreen"]
        idle = "green" if bg.get("active", "blue") == "blue" else "blue"
        if bg.get(f"{idle}Image") != image:
            bg[f"{idle}Image"] = image
            done.changed.append(f"services[{name}].rollout.blueGreen.{idle}Image (the idle colour)")
            done.todo.append(f"switch services[{name}].rollout.blueGreen.active to {idle} to serve it")
        return
    if svc.get("image") != image:
        svc["image"] = image
        done.changed.append(f"services[{name}].image")


def review_diff(before: str, after: str, path: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True), path, path))


def _check(project_dir: Path, stack: str, text: str, shown: str) -> None:
    """The edited file checked as the preview checks a stack file; its problems at its own lines."""
    # The settings and the program's checks: imported only when there is something to check.
    from preview.capture import stack_inputs
    from preview.engine import ProgramError
    from preview.stackfile import StackFileError, display

    # Outside the project: a stopped check leaves nothing in the user's tree.
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="promote-check-", delete=False) as tmp:
        tmp.write(text)
    try:
        stack_inputs(project_dir, stack, Path(tmp.name))
    except (StackFileError, ProgramError) as error:
        raise PromoteError(str(error).replace(display(Path(tmp.name)), shown)) from None
    finally:
        os.unlink(tmp.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m preview.promote", description=__doc__.splitlines()[0])
    parser.add_argument("service", help="the service to promote (its name in both stack files)")
    parser.add_argument("--from", dest="source", required=True, metavar="STACK", help="the stack it runs in now")
    parser.add_argument("--to", dest="target", required=True, metavar="STACK", help="the stack to promote it to")
    parser.add_argument("--digest", help="the source image's digest, when its stack file names it by tag only")
    parser.add_argument("--dry-run", action="store_true", help="print the review diff, write nothing")
    parser.add_argument("--project-dir", type=Path, default=Path.cwd(), help=argparse.SUPPRESS)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    project_dir = args.project_dir.resolve()
    try:
        if args.source == args.target:
            raise PromoteError(f"--from and --to are both {args.source}: promote between two stacks")
        paths = {s: project_dir / f"Pulumi.{s}.yaml" for s in (args.source, args.target)}
        for path in paths.values():
            if not path.is_file():
                raise PromoteError(f"{path.name}: no such stack file")
        before = paths[args.target].read_text()
        target = load(before)
        done = promote_release(
            load(paths[args.source].read_text()), target, args.service, args.source, args.target, args.digest
        )
        after = dump(target)
        shown = paths[args.target].name
        if after != before:
            _check(project_dir, args.target, after, shown)
    except PromoteError as error:
        for line in str(error).splitlines():
            print(f"error: {line.removeprefix('error: ')}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if after == before:
        print(f"{args.service}: {args.target} already runs {args.source}'s release; nothing to change")
        return EXIT_OK
    print(review_diff(before, after, shown), end="")
    for line in done.lines():
        print(f"# {line}")
    if not args.dry_run:
        tmp = paths[args.target].with_name(f".{shown}.promote-{os.getpid()}")
        try:
            tmp.write_text(after)
            os.replace(tmp, paths[args.target])  # whole or not at all
        finally:
            tmp.unlink(missing_ok=True)
        print(f"# wrote {shown}: review the diff above, then `venv/bin/python -m preview {args.target}`")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
