"""Render the four clinical scenarios' timelines and screenshot them into docs/screenshots/.

.venv/bin/python -m tests.timeline.screenshots      # needs /usr/bin/chromium and playwright
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from cds_service.fhir.record import parse_record
from cds_service.state import derive
from cds_service.testing import bundle_resources
from cds_service.timeline import brain_mris, render_html
from tests.browser.chromium import chromium, unavailable

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "fixtures" / "scenarios"
OUT = REPO / "docs" / "screenshots"
TODAY = date(2026, 11, 23)  # the fixtures' "today"


def scenario_page(path: Path, today: date = TODAY) -> str:
    bundle: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    record = parse_record(("bundle", r) for r in bundle_resources(bundle))
    state = derive(record, today)
    tags = bundle.get("meta", {}).get("tag", [])
    scenario = tags[0]["display"].split(":", 1)[0] if tags else path.stem
    title = f"{scenario}: CNS history"
    return render_html(state, title=title, mris=brain_mris(record))


def screenshot(browser: Any, html: str, out: Path) -> None:
    page = browser.new_page(viewport={"width": 1180, "height": 300})
    page.set_content(html)
    page.screenshot(path=str(out), full_page=True)
    page.close()


def main() -> int:
    reason = unavailable()
    if reason:
        print(f"screenshots: {reason}", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        for path in sorted(SCENARIOS.glob("*.json")):
            out = OUT / f"timeline-{path.stem}.png"
            screenshot(browser, scenario_page(path), out)
            print(out.relative_to(REPO))
    return 0


if __name__ == "__main__":
    sys.exit(main())
