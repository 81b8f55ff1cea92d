"""From a component's args to what it builds with: validated settings and secret values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

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


def secret_value(
    secrets: pulumi.Input[Mapping[str, pulumi.Input[str]]], key: str, where: str, named_by: str
) -> pulumi.Output[str]:
    """A secret the settings name by key; kept secret even if the caller passed a plain value.

    Through the component provider a map holding a secret arrives as one secret Output
    (pulumi/provider/server.py _select_value wraps secret or dependent inputs), so the map
    may be an Output as well as a dict.
    """
    if isinstance(secrets, pulumi.Output):

        def pick(values: Mapping[str, str]) -> str:
            if key not in values:
                raise ConfigError([f"secret_values: no value for {key!r}, which {named_by} names"], where)
            return values[key]

        return pulumi.Output.secret(secrets.apply(pick))
    if key not in secrets:
        raise ConfigError([f"secret_values: no value for {key!r}, which {named_by} names"], where)
    return pulumi.Output.secret(secrets[key])
