"""`cds-service explain PATH --html OUT` writes the timeline page next to the text explanation."""

from __future__ import annotations

from pathlib import Path

import pytest

from cds_service.cli import main

SCENARIO_1 = (
    Path(__file__).resolve().parents[2] / "fixtures" / "scenarios" / "01-rechallenge-after-srs.json"
)


def test_explain_writes_the_timeline_of_scenario_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "timeline.html"
    code = main(["explain", str(SCENARIO_1), "--today", "2026-11-23", "--html", str(out)])
    assert code == 0
    assert "Patient state as of 2026-11-23" in capsys.readouterr().out  # the text is still printed
    page = out.read_text(encoding="utf-8")
    assert "<title>CNS history: 01-rechallenge-after-srs.json</title>" in page
    assert page.count('class="local srs"') == 2
    assert (
        "lapatinib + capecitabine: 2025-02-10 to 2026-08-25; ended by progression (2026-08-20)"
        in page
    )
    assert "today 2026-11-23" in page


def test_an_unwritable_html_path_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["explain", str(SCENARIO_1), "--html", str(tmp_path / "missing" / "t.html")])
    assert code == 2
    assert "cannot write" in capsys.readouterr().err
