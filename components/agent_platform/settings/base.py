"""The base of every settings model: camelCase keys, unknown keys refused, defaults merged under a given value."""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from agent_platform.settings.errors import credential_shape


class Model(BaseModel):
    """camelCase keys as in a stack file; unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        validate_default=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _keep_defaults(cls, values: Any) -> Any:
        """A setting whose default is an object, given in part, keeps the rest of that default:
        `resources: {limits: {memory: 2Gi}}` keeps the default requests and limits.cpu."""
        if not isinstance(values, dict):
            return values
        merged = None
        for name, field in cls.model_fields.items():
            key = next((k for k in (field.alias, name) if k and k in values), None)
            if key is not None and isinstance(field.default, BaseModel) and isinstance(values[key], dict):
                given = _over_default(field.default, values[key])
                if given is not values[key]:
                    merged = merged if merged is not None else dict(values)
                    merged[key] = given
        return values if merged is None else merged

    @field_validator("*", mode="after")
    @classmethod
    def _no_credential(cls, value: Any) -> Any:
        """No setting holds a credential: everything a stack file says is written in plain into
        rendered files and reports (secrets come from `pulumi config set --secret`, named by
        secretEnv). The fields that say it more precisely (PlainText, LabelValue, a secret's config
        key) have refused theirs already, at the value's own key; this catches the rest: an image
        tag, a host, a name, a dict's key."""
        what = _credential_in(value)
        if what is not None:
            raise PydanticCustomError(
                "credential",
                "{message}",
                {
                    "message": f"holds {what}, not shown here, which would be written in plain into rendered "
                    "files and reports: remove it (keep secrets with `pulumi config set --secret <name>`, which "
                    "secretEnv names), then rotate it: it has been in this file"
                },
            )
        return value


def _credential_in(value: Any) -> str | None:
    """What credential a setting's value holds, in a string, a list's items or a dict's keys and
    values; nested settings models check their own fields."""
    if isinstance(value, str):
        return credential_shape(value)
    if isinstance(value, list | tuple):
        return next((w for w in map(_credential_in, value) if w), None)
    if isinstance(value, dict):
        return next((w for k, v in value.items() for w in (_credential_in(k), _credential_in(v)) if w), None)
    return None


def _over_default(default: BaseModel, given: dict[str, Any]) -> dict[str, Any]:
    """`given` over the default object `default`. Only a partial object (a required key missing,
    which alone would be refused) takes the default's other keys, so what was valid reads as
    before; a nested partial object is completed from the default's own. A different choice of a
    fixed-choice key (`mode: secret` over `mode: certManager`) is another variant: kept as written."""
    fields = type(default).model_fields

    def written(name: str) -> str | None:
        alias = fields[name].alias
        return next((k for k in (alias, name) if k and k in given), None)

    for name, field in fields.items():
        key = written(name)
        if key is not None and typing.get_origin(_unwrap(field.annotation)) is Literal:
            if given[key] != getattr(default, name):
                return given
    partial = any(field.is_required() and written(name) is None for name, field in fields.items())
    result = dict(given)
    for name in fields:
        key, value = written(name), getattr(default, name)
        if key is None:
            if partial and name in default.model_fields_set:
                result[fields[name].alias or name] = value
        elif isinstance(value, BaseModel) and isinstance(given[key], dict):
            result[key] = _over_default(value, given[key])
    return result if (partial or result != given) else given


def _unwrap(annotation: Any) -> Any:
    """Annotated[X, ...] and Optional[X] down to X."""
    while True:
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin is Annotated:
            annotation = args[0]
        elif origin in (typing.Union, types.UnionType):
            inner = [a for a in args if a is not type(None)]
            if len(inner) != 1:
                return None
            annotation = inner[0]
        else:
            return annotation
