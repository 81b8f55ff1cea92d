"""From a component's args to what it builds with: validated settings and secret values."""

from __future__ import annotations

from typing import Any, Mapping, TypeVar

import pulumi

from agent_platform.config import ConfigError, validated

M = TypeVar("M")


def settings_of(model: type[M], args: Mapping[str, Any], args_type: type, where: str) -> M:
    """The settings in a component's args, validated, with the secure defaults filled in.

    Only the args type's own wiring keys (namespace, secrets, ...) are set aside; any other
    unknown key, a typo included, is an error rather than silently ignored.
    """
    wiring = set(args_type.__annotations__) - set(model.model_fields)
    return validated(model, {k: v for k, v in args.items() if k not in wiring}, where)


def secret_value(secrets: Mapping[str, pulumi.Input[str]], key: str, where: str, named_by: str) -> pulumi.Output[str]:
    """A secret the settings name by key; kept secret even if the caller passed a plain value."""
    if key not in secrets:
        raise ConfigError([f"secrets: no value for {key!r}, which {named_by} names"], where)
    return pulumi.Output.secret(secrets[key])
