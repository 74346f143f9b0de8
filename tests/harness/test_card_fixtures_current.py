"""Generated card material is current: fixtures/cards/ (its builder) and docs/cards.md (its generator)."""

from __future__ import annotations

import pytest

from tests.harness.build_card_fixtures import build
from tests.state.build_fixtures import render
from tools import make_cards_doc

BUILT = build()


@pytest.mark.parametrize("path", sorted(BUILT), ids=lambda p: p.name)
def test_card_fixture_file_is_current(path) -> None:
    assert path.read_text(encoding="utf-8") == render(BUILT[path]), (
        "run: python -m tests.harness.build_card_fixtures"
    )


def test_docs_cards_md_is_what_the_service_says_now() -> None:
    assert make_cards_doc.main(["--check"]) == 0, "run: python tools/make_cards_doc.py"
