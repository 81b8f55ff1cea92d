"""The stack file as written: what the engine's flat config map cannot show.

The engine hands the program `project:key -> string`; the file says more. Here it is read as YAML
events (a stream: no recursion, no alias expanded) and then as nodes, for the problems only the file
shows, each at its line (and column, for YAML syntax):

- the file as a whole (`FILE:1`): empty, no `config:`, not a mapping, nested too deep, expanding
  through aliases to too many values, more than one document;
- YAML syntax, in one line, without the parser's internals;
- each `config:` key as Pulumi reads it (`sdk/go/common/resource/config/key.go` ParseKey: exactly
  `<namespace>:<name>`, or the old `<namespace>:config:<name>`); a key without a namespace is refused
  there, so here;
- `secure:` as Pulumi reads it (`sdk/go/common/resource/config/value.go` isSecureValue: a mapping of
  the one key `secure` to a string); any other `secure:` is a plain object, not a secret;
- a setting the model takes as a string written as a YAML number or boolean (the engine passes
  both as the same string, so only the file tells `environment: 123` from `environment: "123"`).

`problems(text, project)` returns them; `scan(text)` alone is what any reader of a stack file can run
before constructing it (a 400,000-deep nesting crashes libyaml's composer).
"""

from __future__ import annotations

from typing import Any

import yaml
from agent_platform.settings.errors import Problem
from agent_platform.settings.locate import shown_key

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Bounds a stack file stays within, far above any real one (the preview reads them from here): size,
# nesting and the number of values once aliases are expanded (a "billion laughs" file is a few hundred
# bytes that expand to billions of values).
MAX_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_VALUES = 200_000
_STRING_TAG = "tag:yaml.org,2002:str"
_NOT_STRINGS = frozenset(f"tag:yaml.org,2002:{kind}" for kind in ("int", "float", "bool"))


class FileProblem(Problem):
    """A problem at a place in the file itself: `line` (1-based), `column` (1-based, or None), and
    `whole_file` when it concerns the file as a whole (then nothing else in it can be judged)."""

    line: int
    column: int | None
    whole_file: bool

    def __new__(cls, text: str, line: int = 1, column: int | None = None, whole_file: bool = False) -> FileProblem:
        problem = super().__new__(cls, text, ())
        problem.line, problem.column, problem.whole_file = line, column, whole_file
        return problem

    def at(self, source: str) -> str:
        """`source:LINE[:COL]: problem`."""
        column = f":{self.column}" if self.column else ""
        return f"{source}:{self.line}{column}: {self}"


# PyYAML's wording, said as what to change: (problem or its start, context or "", instead).
_REWORDED = (
    ("mapping values are not allowed", "", "a ': ' where a value was expected (quote a value that holds ': ')"),
    ("did not find expected key", "", "a line at an indentation where no key fits (check the indentation)"),
    ("expected <block end>", "", "a line at an indentation that ends nothing above it (check the indentation)"),
    ("could not find expected ':'", "", "a key without ':' after it"),
    ("found unexpected end of stream", "quoted scalar", "a quoted string that is never closed"),
    ("found unexpected end of stream", "", "the file ends inside a value"),
    ("found undefined alias", "", "an alias (*name) of no anchor (&name) above it"),
    ("found undefined tag handle", "", "a tag (!x): only plain data is allowed"),
    ("found incompatible YAML document", "", "a %YAML directive of a version no reader here knows: remove it"),
)


def _worded(problem: str, context: str, at: str = "") -> str:
    if at == "\t":
        return "a tab character: YAML indents with spaces only; replace the tab with spaces"
    for start, within, instead in _REWORDED:
        if problem.startswith(start) and within in context:
            return instead
    if problem.startswith("found character") and "cannot start any token" in problem:
        return f"{at!r} cannot start a value (quote the value)" if at else "a character that cannot start a value"
    return problem


def yaml_problem(error: yaml.YAMLError, text: str) -> FileProblem:
    """Any YAML error as one line at its line and column, in words, never PyYAML's internals."""
    if isinstance(error, yaml.reader.ReaderError):
        before = text[: error.position]
        line, column = before.count("\n") + 1, error.position - (before.rfind("\n") + 1) + 1
        char = error.character if isinstance(error.character, str) else chr(error.character)
        what = f"a control character (U+{ord(char):04X})" if not char.isprintable() else repr(char)
        return FileProblem(f"malformed YAML: {what} is not allowed in YAML; remove it", line, column)
    mark = getattr(error, "problem_mark", None)
    problem = str(getattr(error, "problem", None) or "not valid YAML").splitlines()[0]
    context = str(getattr(error, "context", None) or "")
    if mark is None:
        return FileProblem(f"malformed YAML: {_worded(problem, context)}", 1, None)
    if "quoted scalar" in context and getattr(error, "context_mark", None) is not None:
        mark = error.context_mark  # where the string opens, not where the file ends
    row = text.splitlines()[mark.line] if mark.line < len(text.splitlines()) else ""
    at = row[mark.column] if mark.column < len(row) else ""
    return FileProblem(f"malformed YAML: {_worded(problem, context, at)}", mark.line + 1, mark.column + 1)


def scan(text: str) -> FileProblem | None:
    """YAML syntax, nesting and expanded size, from the event stream: what makes a stack file
    unreadable as a whole, or None. Each collection, scalar and aliased value counts as often as a
    reader would expand it, without expanding anything."""
    depth, values, documents = 0, 0, 0
    anchored: list[tuple[str | None, int]] = []  # open collections: (anchor, values before it)
    sizes: dict[str, int] = {}
    try:
        for event in yaml.parse(text, Loader=_Loader):
            where = (event.start_mark.line + 1, event.start_mark.column + 1)
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    return FileProblem("holds more than one YAML document (---): a stack file is one", *where)
            elif isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    return FileProblem(
                        f"nested more than {MAX_DEPTH} levels deep (at line {where[0]}, column {where[1]})",
                        whole_file=True,
                    )
                anchored.append((event.anchor, values))
                values += 1
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
                anchor, before = anchored.pop()
                if anchor is not None:
                    sizes[anchor] = values - before
            elif isinstance(event, yaml.ScalarEvent):
                if event.anchor is not None:
                    sizes[event.anchor] = 1
                values += 1
            elif isinstance(event, yaml.AliasEvent):
                if event.anchor not in sizes:
                    return FileProblem(f"malformed YAML: {_worded('found undefined alias', '')}", *where)
                values += sizes[event.anchor]
            if values > MAX_VALUES:
                return FileProblem(
                    f"expands to more than {MAX_VALUES:,} values through its aliases (*name), from line {where[0]} "
                    "on; a stack file this large is not supported",
                    whole_file=True,
                )
    except yaml.YAMLError as error:
        return yaml_problem(error, text)
    return None


def _entry(node: yaml.Node, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                return key_node, value_node
    return None


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    return {
        "tag:yaml.org,2002:int": "a number",
        "tag:yaml.org,2002:float": "a number",
        "tag:yaml.org,2002:bool": "a boolean",
        "tag:yaml.org,2002:null": "empty (null)",
    }.get(node.tag, "a string")


def _key_problem(key: str, project: str) -> str | None:
    """What is wrong with a `config:` key, by Pulumi's ParseKey, or None."""
    parts = key.split(":")
    if len(parts) == 2 or (len(parts) == 3 and parts[1] == "config" and all(parts)):
        return None
    if len(parts) == 1:
        return (
            f"a config key needs its namespace: write {project}:{key} (Pulumi reads config keys as "
            "<namespace>:<name> and refuses this one)"
        )
    return "is not a config key Pulumi reads: write <namespace>:<name> (one ':')"


def _value_problem(name: str, value: yaml.Node, strings: frozenset[str]) -> str | None:
    """What is wrong with a `config:` value as written, or None."""
    if isinstance(value, yaml.MappingNode) and len(value.value) == 1 and value.value[0][0].value == "secure":
        if not (isinstance(value.value[0][1], yaml.ScalarNode) and value.value[0][1].tag == _STRING_TAG):
            return (
                f"secure: must be the encrypted string `pulumi config set --secret {name}` writes, not "
                f"{_kind(value.value[0][1])} (Pulumi reads any other secure: as a plain value, not a secret)"
            )
    if name in strings and isinstance(value, yaml.ScalarNode) and value.tag in _NOT_STRINGS:
        return f'must be a string, not {_kind(value)}: quote it ("{value.value}")'
    return None


def problems(text: str, project: str, strings: frozenset[str] = frozenset()) -> list[FileProblem]:
    """Every problem only the file shows (see the module's docstring); `strings`: the settings the
    model takes as strings."""
    unreadable = scan(text)
    if unreadable is not None:
        return [unreadable]
    root = yaml.compose(text, Loader=_Loader)
    config = _entry(root, "config") if root is not None else None
    if root is None or (isinstance(root, yaml.ScalarNode) and root.value == ""):
        return [FileProblem("is empty: a stack file holds its settings under config:", whole_file=True)]
    if not isinstance(root, yaml.MappingNode):
        return [FileProblem(f"must be a YAML mapping with a config: key, not {_kind(root)}", whole_file=True)]
    if config is None:
        return [FileProblem("has no config: section: a stack file holds its settings under config:", whole_file=True)]
    key_node, body = config
    line = key_node.start_mark.line + 1
    if isinstance(body, yaml.ScalarNode) and body.tag == "tag:yaml.org,2002:null":
        return [FileProblem("config: is empty: a stack file holds its settings under config:", line, whole_file=True)]
    if not isinstance(body, yaml.MappingNode):
        return [FileProblem(f"config: must be a mapping of keys to values, not {_kind(body)}", line, whole_file=True)]
    found = []
    for key_node, value in body.value:
        key: Any = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        line = key_node.start_mark.line + 1
        if not isinstance(key, str) or key_node.tag != _STRING_TAG:
            found.append(FileProblem(f"config: key {shown_key(key)} must be a string", line))
            continue
        wrong = _key_problem(key, project)
        if wrong is not None:
            found.append(FileProblem(f"{shown_key(key)}: {wrong}", line))
            continue
        namespace, _, name = key.partition(":")
        name = name.removeprefix("config:")
        wrong = _value_problem(name, value, strings if namespace == project else frozenset())
        if wrong is not None:
            found.append(FileProblem(f"{namespace}:{name}: {wrong}", line))
    return found
