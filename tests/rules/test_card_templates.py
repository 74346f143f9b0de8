"""Card text: templates compiled once render exactly what Jinja renders; hard wraps are joined."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2 import UndefinedError

from cds_service import cards
from cds_service.rules.evaluator import evaluate
from cds_service.rules.loader import TEMPLATES
from tests.rules.rendering import KNOWLEDGE
from tests.rules.test_shared_facts import HOOKS, _request_state


@pytest.mark.parametrize("path", HOOKS, ids=lambda p: p.stem)
def test_every_card_text_is_what_jinja_renders(path: Path) -> None:
    state, hook = _request_state(path)
    for finding in evaluate(KNOWLEDGE, state, hook).findings:
        values = cards._template_values(finding, state)
        variant = finding.variant
        templates = [variant.summary, variant.detail, *variant.evidence]
        templates += [s.label for s in variant.suggestions]
        for source in templates:
            expected = cards.reflow(TEMPLATES.from_string(source).render(**values))
            assert cards._render(source, values) == expected
            assert cards._render(source, values) == expected  # and again, compiled


def test_a_broken_template_raises_the_error_that_makes_render_drop_the_card() -> None:
    with pytest.raises(UndefinedError):
        cards._render("{{ facts.not_a_fact.text }}", {"facts": {}})


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("", ""),
        ("  one line  \n", "one line"),
        (
            "Wrapped\nsentence\n\n- item one\n- item two",
            "Wrapped sentence\n\n- item one\n- item two",
        ),
        (
            "**What we saw**\n\n- a\n  continued\n\n# Head\ntext",
            "**What we saw**\n\n- a continued\n\n# Head text",
        ),
        ("a\n\n\n\nb", "a\n\nb"),
    ],
)
def test_reflow_joins_hard_wrapped_lines_only(markdown: str, expected: str) -> None:
    assert cards.reflow(markdown) == expected
