"""The import graph runs one way: the components know nothing of stack files, the preview or the pack."""

from __future__ import annotations

import ast

from tests.conftest import ROOT

# What the package may import: the standard library, its own modules and its declared dependencies.
FORBIDDEN = ("program", "preview", "policies", "tests", "tools", "benchmarks", "provider", "__main__")


def imported_modules(source: str) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


def test_the_package_imports_nothing_of_the_program_the_preview_or_the_pack():
    offenders = {
        f"{path.relative_to(ROOT)}: {module}"
        for path in (ROOT / "components" / "agent_platform").rglob("*.py")
        for module in imported_modules(path.read_text())
        if module.split(".")[0] in FORBIDDEN
    }
    assert not offenders


def test_the_check_sees_an_import_of_the_preview():
    assert "preview.engine" in imported_modules("def f():\n    from preview.engine import capture\n")
    assert "program.stack_config" in imported_modules("import program.stack_config as c\n")


def module_name(path) -> str:
    parts = list(path.relative_to(ROOT / "components").with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_imports() -> dict[str, set[str]]:
    """Each module of the package and the package modules it imports: at the top, under TYPE_CHECKING,
    or inside a function alike (a circle hidden from Python is still a circle to a reader)."""
    modules = {module_name(p): p for p in (ROOT / "components" / "agent_platform").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            found |= {t for t in targets if t in modules and t != name}
        graph[name] = found
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_package_has_no_import_circle():
    # A package's __init__ re-exporting its own modules is not a circle of meaning: leave those edges out.
    graph = {
        name: {t for t in targets if not (name.startswith(t + ".") and t in graph_packages())}
        for name, targets in package_imports().items()
    }
    assert circles(graph) == []


def graph_packages() -> set[str]:
    return {module_name(p) for p in (ROOT / "components" / "agent_platform").rglob("__init__.py")}


def test_the_circle_check_sees_a_hidden_circle():
    assert circles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert circles({"a": {"b"}, "b": set()}) == []


SETTINGS_ORDER = "errors values base pod workload service tracing stores cluster docker capacity stack locate".split()


def test_the_settings_modules_import_only_those_before_them():
    graph = package_imports()
    prefix = "agent_platform.settings."
    assert {m.removeprefix(prefix) for m in graph if m.startswith(prefix)} == set(SETTINGS_ORDER)
    for i, module in enumerate(SETTINGS_ORDER):
        later = {prefix + m for m in SETTINGS_ORDER[i:]}
        assert not graph[prefix + module] & later, module
