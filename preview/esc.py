"""Pulumi ESC environments a stack file imports (`environment:`), resolved offline.

Only Pulumi Cloud resolves an environment; the preview reads what `esc env open NAME --format json`
prints, given as `--esc-values NAME=FILE`, and merges its `pulumiConfig` as the CLI does. Light on
imports: preview/__main__.py reads ESC_VALUES_ENV before it starts its helpers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class EscError(Exception):
    """A missing or malformed ESC values file, or an `environment:` the preview cannot resolve (one line)."""


# What --esc-values gives, {environment name: file}, as JSON: the CLI sets it and its phase worker,
# which reads the same stack file in another process, inherits it.
ESC_VALUES_ENV = "AGENT_PLATFORM_PREVIEW_ESC_VALUES"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON Merge Patch: `patch` over `target` (a null in the patch removes the key)."""
    if not isinstance(patch, dict) or (isinstance(patch, dict) and set(patch) == {"secure"}):
        return patch
    result = dict(target) if isinstance(target, dict) and set(target) != {"secure"} else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def esc_pulumi_config(imports: Any, at: str, project: str) -> dict[str, Any]:
    """The `pulumiConfig` of the ESC environments a stack file imports, merged in the order listed
    (later over earlier, as ESC composes them), each read from the JSON `esc env open NAME` prints
    (`--esc-values NAME=FILE`). Keys without a namespace take the project's, as Pulumi's do. `at` is
    where the stack file says `environment:` (`FILE:LINE`), for the messages."""
    if not imports:
        return {}
    names = imports if isinstance(imports, list) else [imports]
    if not all(isinstance(n, str) and n for n in names):
        raise EscError(f"{at}: environment: must be a list of ESC environment names (project/name)")
    given = json.loads(os.environ.get(ESC_VALUES_ENV) or "{}")
    missing = [n for n in names if n not in given]
    if missing:
        opens = " ".join(f"--esc-values {n}={n.replace('/', '-')}.json" for n in missing)
        raise EscError(
            f"{at}: environment: imports {', '.join(missing)}, which only Pulumi ESC resolves: run "
            + "; ".join(f"`esc env open {n} --format json > {n.replace('/', '-')}.json`" for n in missing)
            + f" and pass {opens} (never commit those files: they hold the secrets in plain)"
        )
    merged: dict[str, Any] = {}
    for name in names:
        path = Path(given[name])
        try:
            values = json.loads(path.read_text())
        except OSError as error:
            raise EscError(f"--esc-values {name}={path}: cannot be read ({error.strerror})") from None
        except ValueError as error:
            raise EscError(
                f"--esc-values {name}={path}:{error.lineno}: not JSON ({error.msg}); "  # type: ignore[attr-defined]
                "give what `esc env open NAME --format json` prints"
            ) from None
        config = values.get("pulumiConfig", {}) if isinstance(values, dict) else None
        if not isinstance(config, dict):
            raise EscError(
                f"--esc-values {name}={path}: must be a JSON object whose pulumiConfig is an object of config keys"
            )
        merged = merge_patch(merged, config)
    return {(k if ":" in k else f"{project}:{k}"): v for k, v in merged.items()}
