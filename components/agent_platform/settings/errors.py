"""Findings and their recording: what a setting's check raises, and every problem of one run collected."""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from typing import Any

from pydantic import (
    BaseModel,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError


class Problem(str):
    """One finding's line, and where it is in the values that were validated (`loc`: keys and list
    indexes), so a caller that knows where those values came from can point at the line."""

    loc: tuple[Any, ...]

    def __new__(cls, text: str, loc: tuple[Any, ...] = ()) -> Problem:
        problem = super().__new__(cls, text)
        problem.loc = tuple(loc)
        return problem


class ConfigError(Exception):
    """Invalid stack configuration: one `file: key: problem` line per finding."""

    def __init__(self, problems: list[str], source: str = "") -> None:
        self.problems = problems
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__("\n".join(prefix + p for p in problems))


# While set, a model's own checks record their violations here instead of raising them, so the
# models above still run theirs (`_all_errors`); each is located afterwards by the instance it
# concerns. Unset (the normal case), a violation raises as pydantic expects.
_RECORDING: contextvars.ContextVar[list[tuple[BaseModel, Exception]] | None] = contextvars.ContextVar(
    "agent_platform_recording", default=None
)


def check(method: Callable[[Any], Any]) -> Any:
    """A model's own (cross-field) check: `model_validator(mode="after")` that, while recording,
    records its violation and lets the model be built."""

    @functools.wraps(method)
    def run(self: Any) -> Any:
        try:
            return method(self)
        except (PydanticCustomError, ValidationError) as error:
            recorded = _RECORDING.get()
            if recorded is None:
                raise
            recorded.append((self, error))
            return self

    return model_validator(mode="after")(run)


def rule(at: str, message: str) -> PydanticCustomError:
    """A cross-field violation reported at the sub-key `at` of the model that raised it."""
    return PydanticCustomError("rule", "{message}", {"at": at, "message": message})


class Findings:
    """A model check's violations, all reported together: pydantic stops a validator at the first
    exception, so a validator that raised `rule` would hide every later problem of its model."""

    def __init__(self) -> None:
        self.errors: list[PydanticCustomError] = []

    def __call__(self, at: str, message: str) -> None:
        self.errors.append(rule(at, message))

    def raise_any(self, title: str) -> None:
        if self.errors:
            raise ValidationError.from_exception_data(
                title, [InitErrorDetails(type=e, loc=(), input=None) for e in self.errors]
            )


def bad(kind: str, message: str, value: Any) -> PydanticCustomError:
    """A bad scalar: the message ends with the offending value itself.

    pydantic-core substitutes only `{name}` placeholders, never `{name!r}`, so the
    value is formatted here rather than left to the template.
    """
    return PydanticCustomError(kind, "{message}", {"message": f"{message}, got {value!r}"})
