"""From a component's args to what it builds with: validated settings and secret values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import pulumi
from pydantic import BaseModel

from agent_platform.settings.errors import ConfigError
from agent_platform.settings.locate import validated

M = TypeVar("M", bound=BaseModel)


class Validated(dict):
    """A component's args whose settings are already a validated model: the wiring keys as a dict,
    the settings as `settings`. One component hands another what it validated (the platform its
    services, the program its stack file) without a dump and a second validation."""

    def __init__(self, settings: BaseModel, **wiring: Any) -> None:
        super().__init__(wiring)
        self.settings = settings


def settings_of(model: type[M], args: Mapping[str, Any], args_type: type, where: str) -> M:
    """The settings in a component's args, validated once, with the secure defaults filled in.

    `Validated` args carry their model, which is used as it is. A plain dict (the package's and
    the provider's boundary) is validated here: only the args type's own wiring keys (namespace,
    secrets, ...) are set aside; any other unknown key, a typo included, is an error.
    """
    if isinstance(args, Validated):
        if not isinstance(args.settings, model):
            raise TypeError(f"{where}: Validated args hold {type(args.settings).__name__}, not {model.__name__}")
        return args.settings
    wiring = set(args_type.__annotations__) - set(model.model_fields)
    return validated(model, {k: v for k, v in args.items() if k not in wiring}, where)


def stack_settings(model: type[M], args: Mapping[str, Any], platform: str, args_type: type, where: str) -> M:
    """A platform component's StackConfig: validated once, for this platform."""
    if isinstance(args, Validated):
        config = settings_of(model, args, args_type, where)
        if config.platform != platform:
            raise ConfigError([f"platform: {config.platform!r} settings handed to the {platform} platform"], where)
        return config
    return settings_of(model, {**args, "platform": platform}, args_type, where)


def setting(model: type[M], args: Mapping[str, Any], key: str, where: str) -> M:
    """One settings block handed in as wiring: the model itself, or a dict validated here."""
    value = args.get(key)
    if isinstance(value, model):
        return value
    return validated(model, value or {}, where, f"{key}.")


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
