"""The preview and the program's stack-file modules import one way: no circle, not even one hidden from
Python by a TYPE_CHECKING import or an import inside a function. Every import statement of every module
counts, wherever it sits."""

from __future__ import annotations

import ast

from tests.conftest import ROOT

PACKAGES = ("preview", "program")


def modules() -> dict[str, ast.Module]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).glob("*.py")):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            found[name] = ast.parse(path.read_text())
    return found


def imports(tree: ast.Module, known: set[str]) -> set[str]:
    """The modules of `known` a module imports anywhere in its body (`from preview import x` names x)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module} & known
            found |= {f"{node.module}.{a.name}" for a in node.names} & known
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every module that can reach itself, with one path back."""
    found = []
    for start in sorted(graph):
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in sorted(graph[node]):
                if nxt == start:
                    found.append([*path, start])
                    stack = []
                    break
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
    return found


def graph() -> dict[str, set[str]]:
    trees = modules()
    known = set(trees)
    return {name: imports(tree, known) - {name} for name, tree in trees.items()}


def test_no_import_circle_in_the_preview_or_the_program_loading():
    assert cycles(graph()) == []


def test_the_check_sees_a_circle_hidden_in_a_function():
    g = graph()
    g["preview.sarif"] = g["preview.sarif"] | {"preview.policy"}  # as sarif.py once imported it for its types
    assert ["preview.sarif", "preview.policy", "preview.sarif"] in cycles(g)


def test_no_former_module_name_is_left():
    """preview/program.py (now preview/capture.py), agent_platform/config.py (now settings/) and
    agent_platform/inputs.py (now component_args.py) are gone, and nothing imports them."""
    gone = [ROOT / "preview" / "program.py", ROOT / "components" / "agent_platform" / "config.py"]
    gone.append(ROOT / "components" / "agent_platform" / "inputs.py")
    assert not [p for p in gone if p.exists()]
    names = ("preview.program", "from preview import program", "agent_platform.config", "agent_platform.inputs")
    users = [
        str(path.relative_to(ROOT))
        for folder in ("preview", "program", "tools", "tests", "components", "examples")
        for path in (ROOT / folder).rglob("*.py")
        if path.name != "test_import_graph.py" and any(n in path.read_text() for n in names)
    ]
    assert users == []
