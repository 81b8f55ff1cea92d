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
    source: str                     # the stack file, for messages
    config: dict[str, str]          # what the engine would pass: project:key -> string
    secret_keys: list[str]          # keys the engine marks secret
    placeholders: list[str]         # secret keys filled with placeholders, not real values


def placeholder(key: str) -> str:
    return f"preview-placeholder-{key.partition(':')[2] or key}"


# libyaml's parser when the wheel has it: a 100-service stack file parses several times faster.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(), Loader=_Loader)
    except FileNotFoundError:
        raise StackFileError(f"{path.name}: file not found") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise StackFileError(f"{path.name}: malformed YAML{where}: {getattr(error, 'problem', error)}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise StackFileError(f"{path.name}: must be a YAML mapping")
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
        known = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))
        raise StackFileError(f"{path.name}: no such stack file (stacks here: {', '.join(known) or 'none'})")
    stack_file = _load_yaml(path)
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
