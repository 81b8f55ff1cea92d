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
