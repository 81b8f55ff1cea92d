"""The stack file: this program's config, read from the engine and checked before any resource exists.

`load_stack_config` reads the project's namespace of `pulumi.Config`, rejects
unknown keys, validates everything at once against the package's model and
raises `ConfigError` with one `file: key: problem` line per finding. Secrets
stay in Pulumi config (`pulumi config set --secret`); `secret_values` hands
them to the components as secret Outputs, by key.
"""

from __future__ import annotations

import difflib
import json
import typing
from pathlib import Path
from typing import Any

import pulumi
from agent_platform.settings.base import _unwrap
from agent_platform.settings.errors import ConfigError, Problem
from agent_platform.settings.locate import shown_key, validated
from agent_platform.settings.stack import StackConfig

from program import stack_file
from program.stack_lines import located

PROJECT = "agent-platform"
TOP_LEVEL_KEYS = {field.alias or name for name, field in StackConfig.model_fields.items()}
# The settings the model takes as strings: the engine passes `environment: 123` and `environment:
# "123"` alike, so only the stack file can say which was written.


def _is_text(annotation: Any) -> bool:
    inner = _unwrap(annotation)
    choices = typing.get_args(inner) if typing.get_origin(inner) is typing.Literal else ()
    return inner is str or (bool(choices) and all(isinstance(c, str) for c in choices))


STRING_KEYS = frozenset(
    field.alias or name for name, field in StackConfig.model_fields.items() if _is_text(field.annotation)
)


def parse_stack_config(values: dict[str, Any], source: str = "") -> StackConfig:
    """Validate a mapping of top-level keys (without the project prefix)."""
    return validated(StackConfig, values, source, prefix=f"{PROJECT}:")


def read_project_config(raw: dict[str, Any]) -> dict[str, Any]:
    """Pick this project's keys from the engine's flat config map, decoding structured values (an
    object or a list, as the engine passes them in JSON) and `null`. A scalar stays the string the
    engine passes: `"123"` is the name 123, not a number."""
    values: dict[str, Any] = {}
    for full_key, value in raw.items():
        namespace, _, key = full_key.partition(":")
        if namespace != PROJECT:
            continue
        if isinstance(value, str):
            try:
                decoded = json.loads(value)
            except ValueError:
                decoded = value
            value = decoded if decoded is None or isinstance(decoded, (dict, list)) else value
        # Pulumi's older form <namespace>:config:<name> (config/key.go ParseKey) names <name>.
        values[key.removeprefix("config:")] = value
    return values


def check_secret_keys(config: StackConfig, present: set[str], marked_secret: set[str]) -> list[Problem]:
    """Problems with the secret keys the config names: missing, or stored in plaintext."""
    problems = []
    for key in config.secret_keys():
        full = f"{PROJECT}:{key}"
        if full not in present:
            problems.append(
                Problem(
                    f"{full}: is required (named by secretEnv or externalUrlKey); run `pulumi config set --secret "
                    f"{key}`",
                    (key,),
                )
            )
        elif full not in marked_secret:
            problems.append(
                Problem(
                    f"{full}: must be a secret; run `pulumi config set --secret {key}` instead of a plain value",
                    (key,),
                )
            )
    return problems


# Who runs the program may say where its config came from (a tool rendering from another
# file sets it); otherwise it is the stack file the Pulumi CLI reads. The one interface
# between a caller and this loader: an environment variable holding a display name.
CONFIG_SOURCE_ENV = "AGENT_PLATFORM_CONFIG_SOURCE"


def _secret_references(values: dict[str, Any]) -> set[str]:
    """Secret keys the raw values name, read leniently so they count even when the config is invalid."""
    keys: set[str] = set()
    services = values.get("services")
    for svc in services if isinstance(services, list) else []:
        if isinstance(svc, dict) and isinstance(svc.get("secretEnv"), dict):
            keys |= {v for v in svc["secretEnv"].values() if isinstance(v, str)}
    for store in ("postgres", "redis"):
        conf = values.get(store)
        if isinstance(conf, dict) and isinstance(conf.get("externalUrlKey"), str):
            keys.add(conf["externalUrlKey"])
    tracing = values.get("tracing")
    if isinstance(tracing, dict):
        keys |= {tracing[k] for k in ("headersKey", "apiKeyKey", "publicKeyKey") if isinstance(tracing.get(k), str)}
    return keys


def check_stack(raw: dict[str, Any], marked_secret: set[str], source: str = "", text: str | None = None) -> StackConfig:
    """The engine's flat config map validated: every problem at once (unknown top-level keys,
    invalid values at every level, settings stored as secrets, missing or plaintext secrets, and what
    only the stack file shows: `text`, or the file `source` names), or ConfigError."""
    written = _written_problems(source, text)
    if any(p.whole_file for p in written):
        # An unreadable file, or one with no config: every other finding would follow from it.
        raise ConfigError([next(p for p in written if p.whole_file)], source)
    values = read_project_config(raw)
    unknown = sorted(set(values) - TOP_LEVEL_KEYS - _secret_references(values))
    problems = [Problem(f"{PROJECT}:{shown_key(k)}: unknown key{_top_level_hint(k)}", (k,)) for k in unknown]
    # A typo'd key (`servics`) leaves the key it meant unset: what is then said of that key (`services:
    # is required`, sorted above the typo by its line) follows from the typo alone, and its did-you-mean
    # already names the key. Those problems are left out; fixing the typo shows what remains.
    meant = {close for k in unknown if (close := _closest_top_level(k)) is not None and close not in values}
    problems += written + _settings_stored_as_secrets(marked_secret)
    try:
        config = parse_stack_config({k: v for k, v in values.items() if k in TOP_LEVEL_KEYS}, source)
    except ConfigError as error:
        rest = [p for p in error.problems if not (getattr(p, "loc", ()) and p.loc[0] in meant)]
        raise ConfigError(problems + rest, source) from None
    problems += _secrets_named_like_settings(config)
    problems += [p for p in check_secret_keys(config, set(raw), marked_secret) if p.loc[0] not in TOP_LEVEL_KEYS]
    if problems:
        raise ConfigError(problems, source)
    return config


def _written_problems(source: str, text: str | None) -> list[stack_file.FileProblem]:
    """What the stack file as written shows (program/stack_file.py): `text`, else the file `source`
    names when it is one (the preview and the program both name the file they read)."""
    if text is None:
        path = Path(source) if source else None
        if path is None or not path.is_file() or path.stat().st_size > stack_file.MAX_BYTES:
            return []
        text = path.read_text(encoding="utf-8", errors="replace")
    return stack_file.problems(text, PROJECT, STRING_KEYS)


def _settings_stored_as_secrets(marked_secret: set[str]) -> list[Problem]:
    """A setting is never a secret: stored with --secret (`secure:`) it reaches the program only as a
    secret the model cannot read (the preview: a placeholder, rendered into labels)."""
    settings = sorted(k.partition(":")[2] for k in marked_secret if k.partition(":")[0] == PROJECT)
    return [
        Problem(
            f"{PROJECT}:{name}: is a setting, not a secret: write its value in plain (`pulumi config set {name} "
            "<value>`); secrets are the keys that secretEnv and externalUrlKey name",
            (name,),
        )
        for name in settings
        if name in TOP_LEVEL_KEYS
    ]


def _secrets_named_like_settings(config: StackConfig) -> list[Problem]:
    """A secret named like a setting would be read as that setting, and the secret check would then
    ask for the setting to be made secret: the key that names it is what is wrong."""
    problems = []
    for i, service in enumerate(config.services):
        for variable, key in service.secret_env.items():
            if key in TOP_LEVEL_KEYS:
                problems.append(
                    Problem(
                        f"{PROJECT}:services[{service.name}].secretEnv.{variable}: {key!r} is a setting of this "
                        "stack, not a secret key: name the secret something else (e.g. "
                        f"{variable.lower().replace('_', '-')!r})",
                        ("services", i, "secretEnv", variable),
                    )
                )
    for store in ("postgres", "redis"):
        key = getattr(config, store).external_url_key
        if key in TOP_LEVEL_KEYS:
            problems.append(
                Problem(
                    f"{PROJECT}:{store}.externalUrlKey: {key!r} is a setting of this stack, not a secret key: name "
                    f"the secret something else (e.g. {store + 'Url'!r})",
                    (store, "externalUrlKey"),
                )
            )
    for key in ("headers_key", "api_key_key", "public_key_key"):
        name = getattr(config.tracing, key)
        if name in TOP_LEVEL_KEYS:
            alias = StackConfig.model_fields["tracing"].annotation.model_fields[key].alias
            problems.append(
                Problem(
                    f"{PROJECT}:tracing.{alias}: {name!r} is a setting of this stack, not a secret key: name the "
                    "secret something else",
                    ("tracing", alias),
                )
            )
    return problems


def _closest_top_level(key: str) -> str | None:
    close = difflib.get_close_matches(key, sorted(TOP_LEVEL_KEYS), n=1, cutoff=0.75)
    return close[0] if close else None


def _top_level_hint(key: str) -> str:
    close = _closest_top_level(key)
    if close:
        return f" (did you mean {close}?)"
    return " (not a setting, nor a secret named by secretEnv, externalUrlKey or tracing)"


def load_stack_config() -> StackConfig:
    """Read and validate the current stack's configuration (inside a Pulumi program).

    Every problem is reported at once, each on the stack file's line where the Pulumi CLI's
    working directory (the project) holds the file.
    """
    import os

    import pulumi
    from pulumi.runtime import config as runtime_config

    # The SDK has no public way to enumerate keys; the language host hands the whole map
    # to the runtime (and to PULUMI_CONFIG), and unknown-key detection needs all of it.
    raw = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    env_secret_keys = set(runtime_config.get_config_secret_keys_env())
    source = os.environ.get(CONFIG_SOURCE_ENV) or f"Pulumi.{pulumi.get_stack()}.yaml"
    path = Path(source)
    text = None
    if path.is_file() and path.stat().st_size <= stack_file.MAX_BYTES:
        text = path.read_text(encoding="utf-8", errors="replace")
    marked = {k for k in raw if runtime_config.is_config_secret(k) or k in env_secret_keys}
    try:
        return check_stack(raw, marked, source, text)
    except ConfigError as error:
        raise ConfigError(located(error.problems, source, text, PROJECT)) from None


def secret_values(config: StackConfig) -> dict[str, pulumi.Output[str]]:
    """Every secret the config names (secretEnv, externalUrlKey), as secret Outputs, by key."""
    cfg = pulumi.Config()
    return {key: cfg.require_secret(key) for key in config.secret_keys()}
