"""state/, rules/ and cards.py import neither Flask nor requests (files added later included)."""

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
    "cds_service.fhir.fetch",
    "cds_service.fhir.client",
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
