"""Where each problem is: pydantic's errors turned into one line per problem, at the key as written."""

from __future__ import annotations

import copy
import difflib
import re
import typing
from typing import Any, TypeVar

from pydantic import (
    BaseModel,
    ValidationError,
)
from pydantic_core import PydanticCustomError
from pydantic_core.core_schema import ErrorType

from agent_platform.settings.base import _unwrap
from agent_platform.settings.errors import _RECORDING, SHOWN_MAX, ConfigError, Problem, credential_shape, shown


def _full_loc(loc: tuple[Any, ...], at: str | None) -> tuple[Any, ...]:
    """Where a finding is in the values: pydantic's location, then the sub-key `at` a model's own check
    points at (`rollout.strategy`, `services[1].port`)."""
    # "[key]" is pydantic's marker for a bad dict key: the key is the part before it.
    parts: list[Any] = [p for p in loc if p != "[key]"]
    for index, key in re.findall(r"\[(\d+)\]|([^.\[\]]+)", at or ""):
        parts.append(int(index) if index else key)
    return tuple(parts)


def _format_loc(prefix: str, parts: tuple[Any, ...], values: Any = None) -> str:
    """The key as the user wrote it; a list item that has a `name` is named by it (`services[agent-api]`)."""
    path = ""
    for position, part in enumerate(parts):
        item = values[part] if isinstance(values, (list, dict)) and _has(values, part) else None
        if isinstance(part, int) and parts[position + 1 : position + 2] != ("name",):
            name = item.get("name") if isinstance(item, dict) else None
            names = [v.get("name") for v in values if isinstance(v, dict)] if isinstance(values, list) else []
            # By name where the name says which one (not a duplicate); by position otherwise.
            named = isinstance(name, str) and name and names.count(name) == 1
            path += f"[{shown_key(name)}]" if named else f"[{part}]"
        elif isinstance(part, int):  # a problem with the name itself: by position
            path += f"[{part}]"
        else:
            path += ("." if path else "") + shown_key(part)
        values = item
    return prefix + path


def shown_key(key: Any) -> str:
    """A key as a message names it: as written, but cut like a value (`shown`), and never a credential."""
    text = str(key)
    if len(text) <= SHOWN_MAX // 2 and credential_shape(text) is None:
        return text
    return shown(text)


# pydantic's own error types: their messages leave out the value, which is added here. The
# platform's own (rule, bad) already say it.
_PYDANTIC_ERRORS = frozenset(typing.get_args(ErrorType))


def _annotation_at(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> Any:
    """The type the values hold at `loc` (a path of keys and list indexes), unwrapped; None if unknown."""
    annotation: Any = model
    for part in loc:
        annotation = _unwrap(annotation)
        if typing.get_origin(annotation) is list and isinstance(part, int):
            annotation = typing.get_args(annotation)[0]
        elif typing.get_origin(annotation) is dict:
            annotation = typing.get_args(annotation)[1]
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(part, str):
            field = _field(annotation, part)
            if field is None:
                return None
            annotation = field.annotation
        else:
            return None
    return _unwrap(annotation)


def _field(model: type[BaseModel], key: str) -> Any:
    return next((f for n, f in model.model_fields.items() if key in (n, f.alias)), None)


def _model_at(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model whose keys are valid at `loc`, if one is."""
    annotation = _annotation_at(model, loc)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _hint(err: dict[str, Any], model: type[BaseModel] | None) -> str:
    """What to write instead, where the finding says: did you mean, quote it, the allowed values."""
    loc = tuple(err["loc"])
    if err["type"] == "extra_forbidden" and isinstance(loc[-1], str):
        known = _model_at(model, loc[:-1])
        if known is not None:
            # camelCase in a stack file, snake_case in a component's args: offer the form the user wrote.
            keys = (
                [n for n in known.model_fields]
                if "_" in loc[-1]
                else [f.alias or n for n, f in known.model_fields.items()]
            )
            close = difflib.get_close_matches(loc[-1], keys, n=1, cutoff=0.75)
            if close:
                return f" (did you mean {close[0]}?)"
    if err["type"] == "string_type" and isinstance(err.get("input"), (int, float, bool)):
        value = err["input"]
        written = str(value).lower() if isinstance(value, bool) else str(value)
        return f' (quote it: "{written}")'
    if err["type"] == "literal_error" and isinstance(err.get("input"), str):
        expected = re.findall(r"'([^']*)'", (err.get("ctx") or {}).get("expected", ""))
        close = difflib.get_close_matches(err["input"], expected, n=1, cutoff=0.6)
        if close:
            return f" (did you mean {close[0]}?)"
    return ""


def _has(values: list | dict, part: Any) -> bool:
    if isinstance(values, list):
        return isinstance(part, int) and 0 <= part < len(values)
    return part in values


def _line(err: dict[str, Any], prefix: str, model: type[BaseModel] | None, values: Any) -> Problem:
    ctx = err.get("ctx") or {}
    parts = _full_loc(tuple(err["loc"]), ctx.get("at"))
    message = err["msg"]
    if err["type"] == "extra_forbidden":
        message = "unknown key"
    elif err["type"] == "missing":
        message = "is required"
    elif err["type"] in _PYDANTIC_ERRORS and not isinstance(err.get("input"), (dict, list)):
        message += f", got {shown(err.get('input'))}"
    return Problem(f"{_format_loc(prefix, parts, values)}: {message}{_hint(err, model)}", parts)


def problems(
    error: ValidationError, prefix: str = "", model: type[BaseModel] | None = None, values: Any = None
) -> list[Problem]:
    """One `key: problem` line per finding, keys in the camelCase of stack files and schemas, the bad
    value shown and a hint where one fits."""
    return [_line(err, prefix, model, values) for err in error.errors(include_url=False)]


def _cut_point(model: type[BaseModel], err: dict[str, Any]) -> tuple[Any, ...] | None:
    """Where to cut the values so that the models above a finding still run their own checks: the
    nearest key that may be left out (its default applies), a dict entry, or the unknown key itself.
    List items are never cut (that would renumber their siblings): the list is, if it may be left out."""
    parts = [p for p in err["loc"] if p != "[key]"]
    if err["type"] == "extra_forbidden":
        return tuple(parts)
    if err["type"] == "missing":
        parts = parts[:-1]  # the key is not there: its model is what cannot be built
    while parts:
        last = parts[-1]
        if isinstance(last, str):
            container = _annotation_at(model, tuple(parts[:-1]))
            if typing.get_origin(container) is dict:
                return tuple(parts)
            if isinstance(container, type) and issubclass(container, BaseModel):
                field = _field(container, last)
                if field is not None and not field.is_required():
                    return tuple(parts)
        parts = parts[:-1]
    return None


def _cut(values: Any, path: tuple[Any, ...], model: type[BaseModel]) -> bool:
    """`values` without the key at `path` (in place); False if it is not there."""
    *head, last = path
    for part in head:
        if not (isinstance(values, (dict, list)) and _has(values, part)):
            return False
        values = values[part]
    if not isinstance(values, dict):
        return False
    container = _annotation_at(model, tuple(head))
    field = _field(container, last) if isinstance(container, type) and issubclass(container, BaseModel) else None
    # The key as written: camelCase or the snake_case name.
    keys = [last] if field is None else [k for k in values if k in (last, field.alias, _name_of(container, field))]
    for key in keys:
        values.pop(key, None)
    return bool(keys)


def _name_of(model: Any, field: Any) -> str:
    return next(n for n, f in model.model_fields.items() if f is field)


def _under(loc: tuple[Any, ...], path: tuple[Any, ...]) -> bool:
    return loc[: len(path)] == path


def _locations(value: Any, loc: tuple[Any, ...], out: dict[int, tuple[Any, ...]]) -> None:
    """Where each model instance of a validated tree sits (keys as aliases, as pydantic reports them)."""
    if isinstance(value, BaseModel):
        out.setdefault(id(value), loc)
        for name, field in type(value).model_fields.items():
            _locations(getattr(value, name), (*loc, field.alias or name), out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _locations(item, (*loc, i), out)
    elif isinstance(value, dict):
        for key, item in value.items():
            _locations(item, (*loc, key), out)


def _as_errors(error: Exception, loc: tuple[Any, ...]) -> list[dict[str, Any]]:
    if isinstance(error, ValidationError):
        return [{**e, "loc": (*loc, *e["loc"])} for e in error.errors(include_url=False)]
    assert isinstance(error, PydanticCustomError)
    return [{"type": error.type, "loc": loc, "msg": error.message(), "input": None, "ctx": error.context or {}}]


def _all_errors(model: type[BaseModel], values: Any, rounds: int = 6) -> list[dict[str, Any]]:
    """Every finding at every level in one pass.

    Pydantic runs a model's own checks only once its fields are valid, and a model whose check
    fails fails its parent, so one bad key hides every cross-field problem above it. Here the values
    are validated again with each bad key cut out (its default applies) while the checks record
    instead of raising; once the whole tree builds, each recorded violation is located by the
    instance it concerns. What concerns a key that was cut is left out: it would judge the default,
    not what was written."""
    try:
        model.model_validate(values)
        return []
    except ValidationError as error:
        strict = error.errors(include_url=False)
    if not isinstance(values, dict):
        return strict

    def key(e: dict[str, Any]) -> tuple[Any, ...]:
        return (_full_loc(tuple(e["loc"]), (e.get("ctx") or {}).get("at")), e["msg"])

    found, seen = list(strict), {key(e) for e in strict}
    current, cut = copy.deepcopy(values), []
    errors = [e for e in strict if e["type"] != "rule"]
    recorded: list[tuple[BaseModel, Exception]] = []
    token = _RECORDING.set(recorded)
    try:
        root = None
        for attempt in range(rounds):
            if attempt:  # the first attempt cuts nothing: a failed check alone also hides the ones above it
                points = {p for e in errors if (p := _cut_point(model, e)) is not None and p not in cut}
                points = {p for p in points if _cut(current, p, model)}
                if not points:
                    break
                cut += sorted(points, key=str)
            recorded.clear()
            try:
                root = model.model_validate(current)
                break
            except ValidationError as error:
                errors = error.errors(include_url=False)  # field errors only: the checks record
                found += [e for e in errors if key(e) not in seen and not any(_under(key(e)[0], p) for p in cut)]
                seen |= {key(e) for e in errors}
    finally:
        _RECORDING.reset(token)
    if root is None:
        return found
    where: dict[int, tuple[Any, ...]] = {}
    _locations(root, (), where)
    names = {str(p[-1]) for p in cut if isinstance(p[-1], str)}
    for instance, error in recorded:
        if id(instance) not in where:
            continue  # a model built and discarded on the way (not part of the tree)
        for e in _as_errors(error, where[id(instance)]):
            loc, message = key(e)
            if key(e) in seen or any(_under(loc, p) for p in cut):
                continue
            if any(re.search(rf"\b{re.escape(n)}\b", f"{message} {_format_loc('', loc)}") for n in names):
                continue
            seen.add(key(e))
            found.append(e)
    return found


M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], values: Any, source: str = "", prefix: str = "") -> M:
    """`values` checked against `model`, or ConfigError with every problem at every level at once
    (no traceback noise)."""
    if isinstance(values, model):
        return values
    try:
        return model.model_validate(values)
    except ValidationError:
        errors = _all_errors(model, values)
    raise ConfigError([_line(e, prefix, model, values) for e in errors], source) from None
