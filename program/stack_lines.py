"""Config problems pointed at the stack file's lines: `FILE:LINE: key: problem`, in file order.

The model reports where a problem is in the values (`Problem.loc`: keys and list indexes); the
stack file says on which line the user wrote that key. The file is composed (not constructed)
with PyYAML, whose nodes keep their marks, so the lines are those of the file as written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import yaml

from program.stack_file import FileProblem, scan

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _entry(node: yaml.Node, key: Any) -> tuple[yaml.Node, yaml.Node] | None:
    """The (key node, value node) of `key` in a mapping node, or the item at index `key` of a sequence."""
    if isinstance(node, yaml.MappingNode) and isinstance(key, str):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                return key_node, value_node
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
        return node.value[key], node.value[key]
    return None


def line_finder(text: str, project: str):
    """A function from a problem's location (top-level key first) to the 1-based line that holds the
    deepest part of it the file has (the parent's line for a missing key), or None."""
    if scan(text) is not None:  # unreadable, or too deep to compose (libyaml's composer recurses)
        return lambda loc: None
    root = yaml.compose(text, Loader=_Loader)
    config = _entry(root, "config") if root is not None else None

    def find(loc: tuple[Any, ...]) -> int | None:
        if config is None:
            return None
        line, node = config[0].start_mark.line + 1, config[1]
        for depth, part in enumerate(loc):
            # A key may be written in snake_case where the problem names its camelCase form.
            snake = re.sub(r"(?<!^)([A-Z])", r"_\1", part).lower() if isinstance(part, str) else part
            keys = [f"{project}:{part}", part] if depth == 0 else [part, snake]
            hit = next((e for k in keys if (e := _entry(node, k)) is not None), None)
            if hit is None:
                break
            line, node = hit[0].start_mark.line + 1, hit[1]
        return line

    return find


def located(problems: Iterable[str], source: str, text: str | None, project: str) -> list[str]:
    """Each problem as `source:LINE: problem` (or `source: problem` where no line says it; a problem
    of the file itself at its own `LINE[:COL]`), sorted by line; problems on one line keep their order."""
    find = line_finder(text, project) if text is not None else (lambda loc: None)
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
