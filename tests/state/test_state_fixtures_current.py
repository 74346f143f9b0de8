"""The fixture files are exactly what build_fixtures.py writes (edit the builder, then rerun it)."""

from __future__ import annotations

import pytest

from tests.state.build_fixtures import build, render

BUILT = build()


@pytest.mark.parametrize("path", sorted(BUILT), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixture_file_is_current(path) -> None:
    assert path.read_text(encoding="utf-8") == render(BUILT[path]), (
        "run: python tests/state/build_fixtures.py"
    )
