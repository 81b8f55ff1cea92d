"""Object-level diff of two renders (another stack, or the same stack at a git revision)."""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from preview import changes as classifier
from preview.render import YAML_DUMPER, YAML_LOADER


class BaseRenderError(Exception):
    pass


@dataclass
class StackDiff:
    before: str
    after: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    patches: dict[str, str] = field(default_factory=dict)  # object -> unified diff
    changes: list[classifier.Change] = field(default_factory=list)  # per resource, from resources.json
    promotion: bool = False  # two different stacks, not an update of one
    folded: int = 0  # promotion diff: objects differing only in environment labels / namespace

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def objects_of(files: dict[str, str]) -> dict[str, str]:
    """`Kind/name` -> its YAML, from rendered files (kubernetes/*.yaml and docker-compose.yml)."""
    objects: dict[str, str] = {}
    for rel, text in sorted(files.items()):
        if rel.startswith("kubernetes/") and rel.endswith(".yaml"):
            for doc in yaml.load_all(text, Loader=YAML_LOADER):
                if doc:
                    key = f"{doc['kind']}/{doc['metadata']['name']}"
                    objects[key] = yaml.dump(doc, Dumper=YAML_DUMPER, sort_keys=False, width=120)
        elif rel == "docker-compose.yml":
            doc = yaml.load(text, Loader=YAML_LOADER) or {}
            for section in ("services", "networks", "volumes", "secrets"):
                for name, body in sorted((doc.get(section) or {}).items()):
                    objects[f"compose.{section}/{name}"] = yaml.dump(
                        body, Dumper=YAML_DUMPER, sort_keys=True, width=120
                    )
    return objects


def diff_renders(
    before: dict[str, str], after: dict[str, str], before_label: str, after_label: str, promotion: bool = False
) -> StackDiff:
    a, b = objects_of(before), objects_of(after)
    if promotion:
        # Each stack's own Namespace is named for its environment: the same object on both sides.
        spaces_a, spaces_b = ([k for k in side if k.startswith("Namespace/")] for side in (a, b))
        if len(spaces_a) == len(spaces_b) == 1 and spaces_a != spaces_b:
            a[spaces_b[0]] = a.pop(spaces_a[0])
    result = StackDiff(before_label, after_label, promotion=promotion)
    if "resources.json" in after:
        found = classifier.classify_documents(before.get("resources.json"), after["resources.json"], promotion)
        result.changes, result.folded = classifier.folded(found)
    for key in sorted(set(a) | set(b)):
        if key not in a:
            result.added.append(key)
        elif key not in b:
            result.removed.append(key)
        elif a[key] != b[key]:
            result.changed.append(key)
        else:
            continue
        lines = difflib.unified_diff(
            a.get(key, "").splitlines(keepends=True),
            b.get(key, "").splitlines(keepends=True),
            fromfile=f"{before_label}/{key}",
            tofile=f"{after_label}/{key}",
        )
        result.patches[key] = "".join(lines)
    return result


def read_render(out: Path) -> dict[str, str]:
    files = {}
    for path in sorted(out.rglob("*")):
        if path.is_file() and (
            path.suffix == ".yaml"
            and path.parent.name == "kubernetes"
            or path.name in ("docker-compose.yml", "resources.json")
        ):
            files[str(path.relative_to(out))] = path.read_text()
    return files


def render_at_revision(repo: Path, rev: str, stack: str) -> dict[str, str]:
    """Render `stack` from the program as it was at `rev`, in a temporary git worktree."""
    probe = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], cwd=repo, capture_output=True, text=True
    )
    if probe.returncode != 0:
        raise BaseRenderError(f"--base {rev}: not a commit in this repository")
    with tempfile.TemporaryDirectory(prefix="agent-platform-base-") as tmp:
        worktree = Path(tmp) / "tree"
        out = Path(tmp) / "out"
        added = subprocess.run(
            ["git", "worktree", "add", "--detach", str(worktree), rev], cwd=repo, capture_output=True, text=True
        )
        if added.returncode != 0:
            raise BaseRenderError(f"--base {rev}: git worktree add failed: {added.stderr.strip().splitlines()[-1:]}")
        try:
            if not (worktree / f"Pulumi.{stack}.yaml").exists():
                return {}  # the stack did not exist yet: everything is added
            # The revision's own program, components (components/ since the package moved there,
            # the top level before) and preview (this one's preview if it had none).
            this_preview = Path(__file__).resolve().parents[1]
            paths = [str(worktree), str(worktree / "components"), str(this_preview)]
            env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
            run = subprocess.run(
                [sys.executable, "-m", "preview", stack, "--out", str(out), "--render-only"],
                cwd=worktree,
                env=env,
                capture_output=True,
                text=True,
            )
            if run.returncode != 0:
                tail = (run.stderr or run.stdout).strip().splitlines()
                raise BaseRenderError(
                    f"--base {rev}: rendering {stack} at that revision failed: {tail[-1] if tail else run.returncode}"
                )
            return read_render(out)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=repo, capture_output=True)


def format_text(d: StackDiff, summary: bool = False) -> str:
    """The diff for a terminal; `summary`: the counts and the changes that need a reviewer's weighing."""
    # A promotion reads in the direction it goes: `dev --against prod` promotes dev onto prod, and the
    # counts are what prod would gain, change and lose.
    where = f"promoting {d.after} onto {d.before}" if d.promotion else f"{d.before} -> {d.after}"
    if d.empty and not d.changes:
        return f"No changes: {where}\n"
    lines = [
        f"Changes, {where}: {len(d.added)} added, {len(d.changed)} changed, {len(d.removed)} removed"
        + (f" in {d.before}" if d.promotion else "")
    ]
    if summary:  # one screen: the counts and what a reviewer must weigh; no object lists, no patches
        return "\n".join(lines + classifier.summary_lines(d.changes, d.folded)) + "\n"
    if d.changes or d.folded:
        lines += ["What pulumi up would do:"] + classifier.text_lines(d.changes, d.folded) + ["", "Rendered objects:"]
    for sign, keys in (("+", d.added), ("~", d.changed), ("-", d.removed)):
        lines += [f"  {sign} {k}" for k in keys]
    lines.append("")
    lines += [d.patches[k] for k in d.added + d.changed + d.removed]
    return "\n".join(lines) + "\n"


def format_markdown(d: StackDiff, title: str, summary: bool = False) -> str:
    out = [f"### {title}", ""]
    if d.empty and not d.changes:
        out.append(f"No changes between `{d.before}` and `{d.after}`.")
        return "\n".join(out) + "\n"
    if d.changes or d.folded:
        out += [classifier.markdown_table(d.changes, d.folded), "<details><summary>Rendered objects</summary>", ""]
    out += ["| change | object |", "| --- | --- |"]
    for word, keys in (("added", d.added), ("changed", d.changed), ("removed", d.removed)):
        out += [f"| {word} | `{k}` |" for k in keys]
    out += ["", f"**{len(d.added)} added, {len(d.changed)} changed, {len(d.removed)} removed**", ""]
    for key in [] if summary else d.added + d.changed + d.removed:
        out += [
            f"<details><summary><code>{key}</code></summary>",
            "",
            "```diff",
            d.patches[key].rstrip("\n"),
            "```",
            "",
            "</details>",
        ]
    if d.changes or d.folded:
        out += ["", "</details>"]
    return "\n".join(out) + "\n"


def format_json(d: StackDiff) -> str:
    return (
        json.dumps(
            {
                "before": d.before,
                "after": d.after,
                "added": d.added,
                "changed": d.changed,
                "removed": d.removed,
                "patches": d.patches,
                **classifier.as_json(d.changes, d.folded),
            },
            indent=2,
            sort_keys=True,
        )
        + "\n"
    )
