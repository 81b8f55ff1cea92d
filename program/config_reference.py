"""Generate docs/configuration.md, the stack-file reference, from the typed model.

The model is the single source of truth: the editor schema (docs/stack-file.schema.json,
preview/schema.py) is generated from it too, with the same defaults. `python -m
program.config_reference` prints the reference; `--write` writes docs/configuration.md.
"""

from __future__ import annotations

import json
import sys
import types
import typing
from pathlib import Path

from agent_platform.settings.stack import StackConfig
from pydantic import BaseModel
from pydantic_core import PydanticUndefined, to_jsonable_python

from program.stack_config import PROJECT

START, END = "<!-- config-reference:start -->", "<!-- config-reference:end -->"


def _model_of(annotation) -> type[BaseModel] | None:
    """The model inside Optional[...] / list[...] / Annotated[...], if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found:
            return found
    return None


def _type_name(annotation) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " or ".join(f"`{a}`" for a in args)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args if a is not type(None))
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"map of {_type_name(args[0])} to {_type_name(args[1])}"
    return getattr(annotation, "__name__", str(annotation))


_NO_DEFAULT = object()


def _default(value) -> str:
    if value is _NO_DEFAULT:
        return "required"
    if isinstance(value, BaseModel):
        return "see below"
    return f"`{json.dumps(to_jsonable_python(value, by_alias=True))}`"


def rows(model: type[BaseModel], prefix: str, instance: BaseModel | None = None) -> list[tuple[str, str, str, str]]:
    """One row per key. `instance`: the enclosing field's default object, whose values are the
    real defaults of its keys (e.g. postgres.pdb defaults to Pdb(enabled=False), not Pdb())."""
    out = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        nested = _model_of(field.annotation)
        is_list = typing.get_origin(field.annotation) is list
        if instance is not None:
            value = getattr(instance, name)
        else:
            value = _NO_DEFAULT if field.default is PydanticUndefined else field.default
        out.append(
            (
                key,
                "list of objects" if is_list and nested else ("object" if nested else _type_name(field.annotation)),
                _default(value),
                (field.description or "").replace("|", "\\|"),
            )
        )
        if nested:
            inner = value if isinstance(value, BaseModel) else None
            out += rows(nested, f"{key}[].") if is_list else rows(nested, f"{key}.", inner)
    return out


def reference() -> str:
    lines = ["| key | type | default | description |", "| --- | --- | --- | --- |"]
    for key, typ, default, description in rows(StackConfig, f"{PROJECT}:"):
        lines.append(f"| `{key}` | {typ} | {default} | {description} |")
    return "\n".join(lines) + "\n"


DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
HEADER = """# Stack file reference

Every key of `Pulumi.<stack>.yaml` (under `config:`), with its type and its real default. Generated
from the typed model (`components/agent_platform/settings/`) by `venv/bin/python tools/generate.py`;
a test keeps it in sync. Editors check and complete stack files with the JSON Schema generated from the
same model, `docs/stack-file.schema.json`, which each shipped stack file names on its first line.
Secrets are never keys here: they are set with `pulumi config set --secret`.

"""


def document() -> str:
    return f"{HEADER}{START}\n{reference()}{END}\n"


if __name__ == "__main__":
    if "--write" in sys.argv:
        DOC.write_text(document())
    else:
        sys.stdout.write(reference())
