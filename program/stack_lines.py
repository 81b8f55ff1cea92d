"""Where the stack file holds each config key: the one line lookup for config problems and policy results.

The model reports where a problem is in the values (`Problem.loc`: keys and list indexes); the
stack file says on which line the user wrote that key. The file is composed (not constructed)
with PyYAML, whose nodes keep their marks, so the lines are those of the file as written.
Config problems read it as `FILE:LINE: key: problem`, in file order (`located`); the preview's SARIF
puts each policy result at the line of the service or block that produced its object.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

import yaml

from program.stack_file import FileProblem, scan

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _entry(node: yaml.Node | None, key: Any) -> tuple[yaml.Node, yaml.Node] | None:
    """The (key node, value node) of `key` in a mapping node, or the item at index `key` of a sequence."""
    if isinstance(node, yaml.MappingNode) and isinstance(key, str):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                return key_node, value_node
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
        return node.value[key], node.value[key]
    return None


class StackLines:
    """A stack file's `config:` composed once, asked for the 1-based lines of its keys.

    A location is a tuple of keys and list indexes, the top-level key first and without the project
    prefix (`("services", 0, "autoscaling")`); the file may write the top-level key with or without
    `<project>:`, and a nested key in snake_case where the location names its camelCase form. A file
    that does not parse, or has no `config:` mapping, holds no line.
    """

    def __init__(self, text: str | None, project: str) -> None:
        self.project = project
        self.root: yaml.Node | None = None
        self.config: tuple[yaml.Node, yaml.Node] | None = None
        # Unreadable, or too deep to compose (libyaml's composer recurses): no line (program/stack_file.py).
        if text is None or scan(text) is not None:
            return
        try:
            self.root = yaml.compose(text, Loader=_Loader)
        except yaml.YAMLError:
            return
        self.config = _entry(self.root, "config")

    def file_key(self, key: str) -> int | None:
        """The line of a key of the stack file itself, beside `config:` (`environment:`), or None."""
        hit = _entry(self.root, key)
        return hit[0].start_mark.line + 1 if hit else None

    def _walk(self, loc: tuple[Any, ...]) -> tuple[int, int, yaml.Node] | None:
        """(line, parts found, its value's node): the line of the deepest part of `loc` the file holds."""
        if self.config is None:
            return None
        line, node = self.config[0].start_mark.line + 1, self.config[1]
        for depth, part in enumerate(loc):
            # A key may be written in snake_case where the problem names its camelCase form.
            snake = re.sub(r"(?<!^)([A-Z])", r"_\1", part).lower() if isinstance(part, str) else part
            keys = [f"{self.project}:{part}", part] if depth == 0 else [part, snake]
            hit = next((e for k in keys if (e := _entry(node, k)) is not None), None)
            if hit is None:
                return line, depth, node
            line, node = hit[0].start_mark.line + 1, hit[1]
        return line, len(loc), node

    def deepest(self, loc: tuple[Any, ...]) -> tuple[int, int] | None:
        """(line, parts): the line of the deepest part of `loc` the file holds and how many parts of
        `loc` it holds (0: none, the line of `config:`), or None when the file has no `config:`."""
        found = self._walk(loc)
        return found[:2] if found else None

    def value(self, loc: tuple[Any, ...]) -> str | None:
        """The text of the scalar at `loc` as written, or None when the file holds no scalar there."""
        found = self._walk(loc)
        if found is None or found[1] != len(loc) or not isinstance(found[2], yaml.ScalarNode):
            return None
        return found[2].value

    def nearest(self, loc: tuple[Any, ...]) -> int | None:
        """The line of the deepest part of `loc` the file holds (the parent's line for a missing key),
        or None when the file has no `config:`."""
        found = self._walk(loc)
        return found[0] if found else None

    def line(self, loc: tuple[Any, ...]) -> int | None:
        """The line of `loc` itself, or None when the file does not hold all of it."""
        found = self._walk(loc)
        return found[0] if found and found[1] == len(loc) else None

    @functools.cached_property
    def service_items(self) -> dict[str, tuple[int, int]]:
        """Each service's name, by (its index in the `services` list, the line of its item), in file
        order; a name written twice keeps its first item."""
        hit = None
        if self.config is not None:
            hit = _entry(self.config[1], f"{self.project}:services") or _entry(self.config[1], "services")
        items: dict[str, tuple[int, int]] = {}
        for index, item in enumerate(hit[1].value if hit and isinstance(hit[1], yaml.SequenceNode) else []):
            name = _entry(item, "name")
            if name is not None and isinstance(name[1], yaml.ScalarNode):
                items.setdefault(name[1].value, (index, item.start_mark.line + 1))
        return items

    @functools.cached_property
    def services(self) -> dict[str, int]:
        """Each service's name, by the line of its item in the `services` list, in file order."""
        return {name: line for name, (_, line) in self.service_items.items()}


def line_finder(text: str, project: str):
    """A function from a problem's location (top-level key first) to the 1-based line that holds the
    deepest part of it the file has (the parent's line for a missing key), or None."""
    return StackLines(text, project).nearest


def located(problems: Iterable[str], source: str, text: str | None, project: str) -> list[str]:
    """Each problem as `source:LINE: problem` (or `source: problem` where no line says it; a problem
    of the file itself at its own `LINE[:COL]`), sorted by line; problems on one line keep their order."""
    find = StackLines(text, project).nearest
    lines = []
    for order, problem in enumerate(problems):
        if isinstance(problem, FileProblem):
            lines.append((problem.line, order, problem.at(source)))
            continue
        line = find(tuple(getattr(problem, "loc", ())))
        lines.append(
            (line if line is not None else 0, order, f"{source}:{line}: {problem}" if line else f"{source}: {problem}")
        )
    return [text for _, _, text in sorted(lines)]
