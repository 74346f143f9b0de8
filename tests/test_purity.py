"""state/, rules/ and cards.py do no I/O and import nothing from fhir/ or web/; the package has no
import circle (files added later included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cds_service"
PURE = sorted(
    [*(PACKAGE / "state").rglob("*.py"), *(PACKAGE / "rules").rglob("*.py"), PACKAGE / "cards.py"]
)
# I/O libraries and the modules of ours that use them.
FORBIDDEN = (
    "flask",
    "werkzeug",
    "requests",
    "cds_service.web",
    # The whole fhir package: the core reads a record through state.resources.RecordData.
    "cds_service.fhir",
)


def imported_modules(source: str, package: str = "cds_service") -> set[str]:
    """Absolute names of everything imported; relative imports resolved against `package`."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = (
                package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            )
            module = ".".join([*base, *([node.module] if node.module else [])])
            modules.add(module)
            modules.update(f"{module}.{alias.name}" for alias in node.names)
    return modules


def package_of(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])


def forbidden_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == f or m.startswith(f"{f}.") for f in FORBIDDEN))


@pytest.mark.parametrize(
    "path", [p for p in PURE if p.exists()], ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_pure_core_module_does_no_io(path):
    source = path.read_text(encoding="utf-8")
    assert forbidden_in(imported_modules(source, package_of(path))) == []


@pytest.mark.parametrize(
    "source",
    [
        "import flask",
        "from flask import request",
        "import requests.adapters",
        "from cds_service.web import auth",
        "from cds_service import web",
        "from ..web import auth",
        "from .. import web",
    ],
)
def test_the_check_catches_every_import_form(source):
    assert forbidden_in(imported_modules(source, "cds_service.state")) != []


def test_the_pure_core_is_checked_at_all():
    assert (PACKAGE / "state" / "model.py") in PURE


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Our modules and the modules of ours each imports, anywhere in its body (an import inside a
    function is still a dependency). `from pkg import sub` depends on the submodule, not on pkg."""
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                edges.update(a.name for a in node.names if a.name in paths)
            elif isinstance(node, ast.ImportFrom):
                base = (
                    package.split(".")[: len(package.split(".")) - node.level + 1]
                    if node.level
                    else []
                )
                module = ".".join([*base, *([node.module] if node.module else [])])
                subs = {f"{module}.{a.name}" for a in node.names} & paths.keys()
                edges.update(subs or ({module} & paths.keys()))
        graph[name] = edges - {name}
    return graph


def cycle_in(graph: dict[str, set[str]]) -> list[str]:
    """One import circle as a path (first module repeated at the end), or [] when there is none."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_the_package_has_no_import_circle():
    assert cycle_in(import_graph()) == []


def test_the_circle_check_finds_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert cycle_in(graph) == ["a", "b", "c", "a"]
