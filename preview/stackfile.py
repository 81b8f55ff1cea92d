"""Read a stack's configuration the way the Pulumi CLI hands it to the program.

The CLI passes a flat map `project:key -> string`, structured values as JSON, plus
the list of secret keys. Project-level defaults from Pulumi.yaml apply where the
stack file is silent. `secure:` values cannot be decrypted offline: each comes
from the environment variable `PULUMI_CONFIG_<KEY>` (Pulumi's own naming, e.g.
`PULUMI_CONFIG_AGENT_PLATFORM_OPENAIAPIKEY`) or else becomes a marked placeholder.
Secret keys the program needs but the stack file does not yet hold (they are set
per machine with `pulumi config set --secret`, never committed) are handled alike.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pulumi.runtime.config import get_config_env_key

from preview.esc import EscError, esc_pulumi_config, merge_patch
from program.stack_file import MAX_BYTES, scan, yaml_problem
from program.stack_lines import StackLines


class StackFileError(Exception):
    """A missing or malformed project or stack file (one line, names the file and key)."""


def display(path: Path) -> str:
    """A file as the user would type it: relative to the working directory when it is under it."""
    absolute = Path(os.path.abspath(path))
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


@dataclass
class StackConfigInput:
    project: str
    stack: str
    source: str  # the stack file, for messages (relative to the working directory)
    config: dict[str, str]  # what the engine would pass: project:key -> string
    secret_keys: list[str]  # keys the engine marks secret
    placeholders: list[str]  # secret keys filled with placeholders, not real values
    text: str | None = None  # the stack file as written, for the lines of config problems
    from_environment: list[str] = field(default_factory=list)  # keys only an ESC environment set
    declared_secrets: list[str] = field(default_factory=list)  # Pulumi.yaml's `secret: true` keys
    settings: Any = None  # the validated StackConfig (preview/capture.py), once checked; None for another project


def placeholder(key: str) -> str:
    return f"preview-placeholder-{key.partition(':')[2] or key}"


# libyaml's parser when the wheel has it: a 100-service stack file parses several times faster.
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Plain data only, as Pulumi's own YAML reading yields: strings, numbers, booleans,
    null, lists and mappings; no duplicate keys (Pulumi's parser rejects them)."""


def _refuse(tag: str, what: str, instead: str):
    def construct(loader, node):
        # A scalar is shown as written; a collection's node value is PyYAML's internals, never shown.
        shown = f" ({node.value!r})" if isinstance(node, yaml.ScalarNode) else ""
        raise yaml.constructor.ConstructorError(
            None, None, f"{what}{shown} is not plain data: {instead}", node.start_mark
        )

    _StrictLoader.add_constructor(tag, construct)


for _tag, _what, _instead in (
    ("timestamp", "a YAML date/timestamp", "quote it as a string"),
    ("binary", "a !!binary value", "quote it as a string"),
    ("set", "a !!set", "write a list (- item) instead"),
    ("omap", "a !!omap", "write a mapping (key: value) instead"),
    ("pairs", "a !!pairs", "write a mapping (key: value) instead"),
):
    _refuse(f"tag:yaml.org,2002:{_tag}", _what, _instead)


def _construct_mapping(loader, node, deep=False):
    loader.flatten_mapping(node)
    seen: dict[Any, Any] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {seen[key] + 1})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_StrictLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def _load_yaml(path: Path) -> tuple[dict[str, Any], str]:
    """The file's data and its text; every problem as one `FILE[:LINE]: problem` line."""
    shown = display(path)
    if path.is_dir():
        raise StackFileError(f"{shown}: is a directory, not a stack file")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise StackFileError(f"{shown}: file not found") from None
    except OSError as error:
        raise StackFileError(f"{shown}: cannot be read ({error.strerror})") from None
    if len(raw) > MAX_BYTES:
        raise StackFileError(f"{shown}: {len(raw):,} bytes, over the {MAX_BYTES:,}-byte limit for a stack file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise StackFileError(f"{shown}:{line}: not UTF-8 (byte {raw[error.start]:#04x})") from None
    # What makes the file unreadable as a whole (nesting, expanded size, YAML syntax), found from the
    # event stream before anything is built: the program reads it the same way (program/stack_file.py).
    problem = scan(text)
    if problem is not None:
        raise StackFileError(problem.at(shown))
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        what = str(getattr(error, "problem", None) or error)
        if isinstance(error, yaml.constructor.ConstructorError) and ("plain data" in what or "duplicate" in what):
            raise StackFileError(f"{shown}:{mark.line + 1}: {what}" if mark else f"{shown}: {what}") from None
        raise StackFileError(yaml_problem(error, text).at(shown)) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else "a single value"
        raise StackFileError(f"{shown}:1: must be a YAML mapping with a config: key, not {kind}")
    return data, text


def _encode(value: Any) -> str:
    """Strings pass as they are; everything else as JSON, as the CLI does for structured config."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def read_stack_config(project_dir: Path, stack: str, config_file: Path | None = None) -> StackConfigInput:
    project_file, _ = _load_yaml(project_dir / "Pulumi.yaml")
    project = project_file.get("name")
    if not isinstance(project, str) or not project:
        raise StackFileError("Pulumi.yaml: name: is required")
    path = config_file or project_dir / f"Pulumi.{stack}.yaml"
    shown = display(path)
    if config_file is None and not path.exists():
        known = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))
        raise StackFileError(f"{shown}: no such stack file (stacks here: {', '.join(known) or 'none'})")
    stack_file, text = _load_yaml(path)
    try:
        imports = stack_file.get("environment")
        # The file is composed for its lines only when it imports environments.
        at = f"{shown}:{StackLines(text, project).file_key('environment') or 1}" if imports else shown
        esc_config = esc_pulumi_config(imports, at, project)
    except EscError as error:
        raise StackFileError(str(error)) from None
    raw = stack_file.get("config") or {}
    if not isinstance(raw, dict):
        raise StackFileError(f"{shown}: config: must be a mapping of keys to values")

    config: dict[str, str] = {}
    secret_keys: list[str] = []
    placeholders: list[str] = []
    declared_secrets: list[str] = []
    for key, spec in (project_file.get("config") or {}).items():
        full = key if ":" in key else f"{project}:{key}"
        if isinstance(spec, dict) and "default" in spec:
            config[full] = _encode(spec["default"])
        elif isinstance(spec, dict) and "value" in spec:
            config[full] = _encode(spec["value"])
        elif not isinstance(spec, dict):
            config[full] = _encode(spec)
        elif spec.get("secret") is True:
            declared_secrets.append(full)  # `secret: true` and no value: set per machine, never committed

    inputs = StackConfigInput(project, stack, shown, config, secret_keys, placeholders, text)
    inputs.declared_secrets = declared_secrets
    stack_values: dict[str, Any] = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            raise StackFileError(f"{shown}: config: key {key!r} must be a string")
        stack_values[key if ":" in key else f"{project}:{key}"] = value
    # The environments' pulumiConfig under the stack file's config, as the CLI merges them (pulumi
    # sdk/go/common/workspace/config.go mergeConfig: a key only the environment has is set; a key
    # both have is the stack's value JSON-merge-patched over the environment's, the stack winning).
    for full, value in esc_config.items():
        if full in stack_values:
            stack_values[full] = merge_patch(value, stack_values[full])
        else:
            stack_values[full] = value
            inputs.from_environment.append(full)
    for full, value in stack_values.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            _set_secret(inputs, full)
        else:
            config[full] = _encode(value)
    return inputs


def _set_secret(inputs: StackConfigInput, full: str) -> None:
    """A secret key's value: from PULUMI_CONFIG_<KEY> when set, else a marked placeholder."""
    inputs.secret_keys.append(full)
    env = get_config_env_key(full)
    if env in os.environ:
        inputs.config[full] = os.environ[env]
    else:
        inputs.config[full] = placeholder(full)
        inputs.placeholders.append(full)
    inputs.secret_keys.sort()
    inputs.placeholders.sort()


def add_required_secrets(inputs: StackConfigInput, keys: tuple[str, ...]) -> StackConfigInput:
    """Secret keys the program will ask for that the stack file does not hold (set per machine, never committed)."""
    for key in keys:
        full = f"{inputs.project}:{key}"
        if full not in inputs.config:
            _set_secret(inputs, full)
        elif full in inputs.from_environment and full not in inputs.secret_keys:
            # `esc env open --format json` prints values without saying which are secret; one the
            # program reads as a secret is one (ESC holds it as `fn::secret`), and stays so here.
            inputs.secret_keys.append(full)
            inputs.secret_keys.sort()
    return inputs
