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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pulumi.runtime.config import get_config_env_key


class StackFileError(Exception):
    """A missing or malformed project or stack file (one line, names the file and key)."""


@dataclass
class StackConfigInput:
    project: str
    stack: str
    source: str  # the stack file, for messages
    config: dict[str, str]  # what the engine would pass: project:key -> string
    secret_keys: list[str]  # keys the engine marks secret
    placeholders: list[str]  # secret keys filled with placeholders, not real values


def placeholder(key: str) -> str:
    return f"preview-placeholder-{key.partition(':')[2] or key}"


# libyaml's parser when the wheel has it: a 100-service stack file parses several times faster.
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Bounds a stack file must stay within (far above any real one): size, nesting and the
# number of values once aliases are expanded (a "billion laughs" file is a few hundred
# bytes that expand to billions of values when the config is encoded for the program).
MAX_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_VALUES = 200_000


class _StrictLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Plain data only, as Pulumi's own YAML reading yields: strings, numbers, booleans,
    null, lists and mappings; no duplicate keys (Pulumi's parser rejects them)."""


def _refuse(tag: str, what: str):
    def construct(loader, node):
        raise yaml.constructor.ConstructorError(
            None, None, f"{what} ({node.value!r}) is not plain data: quote it as a string", node.start_mark
        )

    _StrictLoader.add_constructor(tag, construct)


for _tag, _what in (
    ("timestamp", "a YAML date/timestamp"),
    ("binary", "a !!binary value"),
    ("set", "a !!set"),
    ("omap", "a !!omap"),
    ("pairs", "a !!pairs"),
):
    _refuse(f"tag:yaml.org,2002:{_tag}", _what)


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


def _check_shape(path: Path, data: Any) -> None:
    """Depth and expanded size, walked iteratively (aliases share objects, so count visits)."""
    count, stack = 0, [(data, 0)]
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise StackFileError(
                f"{path.name}: expands to more than {MAX_VALUES:,} values (aliases?); "
                "a stack file this large is not supported"
            )
        if depth > MAX_DEPTH:
            raise StackFileError(f"{path.name}: nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


def _load_yaml(path: Path) -> dict[str, Any]:
    if path.is_dir():
        raise StackFileError(f"{path}: is a directory, not a stack file")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise StackFileError(f"{path.name}: file not found") from None
    except OSError as error:
        raise StackFileError(f"{path}: cannot be read ({error.strerror})") from None
    if len(raw) > MAX_BYTES:
        raise StackFileError(f"{path.name}: {len(raw):,} bytes, over the {MAX_BYTES:,}-byte limit for a stack file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise StackFileError(f"{path.name}: not UTF-8 (byte {raw[error.start]:#04x} on line {line})") from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise StackFileError(f"{path.name}: malformed YAML{where}: {getattr(error, 'problem', error)}") from None
    except RecursionError:
        raise StackFileError(f"{path.name}: nested more than {MAX_DEPTH} levels deep") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise StackFileError(f"{path.name}: must be a YAML mapping")
    _check_shape(path, data)
    return data


def _encode(value: Any) -> str:
    """Strings pass as they are; everything else as JSON, as the CLI does for structured config."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def read_stack_config(project_dir: Path, stack: str, config_file: Path | None = None) -> StackConfigInput:
    project_file = _load_yaml(project_dir / "Pulumi.yaml")
    project = project_file.get("name")
    if not isinstance(project, str) or not project:
        raise StackFileError("Pulumi.yaml: name: is required")
    path = config_file or project_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        known = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))
        raise StackFileError(f"{path.name}: no such stack file (stacks here: {', '.join(known) or 'none'})")
    stack_file = _load_yaml(path)
    if stack_file.get("environment"):
        # Pulumi merges config from the ESC environments a stack file imports; only Pulumi Cloud
        # resolves them, so a render without them would silently lack that config.
        names = stack_file["environment"]
        names = ", ".join(map(str, names)) if isinstance(names, list) else str(names)
        raise StackFileError(
            f"{path.name}: environment: imports Pulumi ESC environments ({names}), which only Pulumi Cloud "
            "resolves; the offline preview cannot see the config they provide. Preview a copy of the stack "
            "file with those values under config: (--config-file), or run `pulumi preview`"
        )
    raw = stack_file.get("config") or {}
    if not isinstance(raw, dict):
        raise StackFileError(f"{path.name}: config: must be a mapping of keys to values")

    config: dict[str, str] = {}
    secret_keys: list[str] = []
    placeholders: list[str] = []
    for key, spec in (project_file.get("config") or {}).items():
        full = key if ":" in key else f"{project}:{key}"
        if isinstance(spec, dict) and "default" in spec:
            config[full] = _encode(spec["default"])
        elif isinstance(spec, dict) and "value" in spec:
            config[full] = _encode(spec["value"])
        elif not isinstance(spec, dict):
            config[full] = _encode(spec)

    inputs = StackConfigInput(project, stack, path.name, config, secret_keys, placeholders)
    for key, value in raw.items():
        if not isinstance(key, str):
            raise StackFileError(f"{path.name}: config: key {key!r} must be a string")
        full = key if ":" in key else f"{project}:{key}"
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
    return inputs
