"""Rewrite fixtures/golden/ from what the service answers now: `python -m tests.harness.update_goldens`.

Each golden keeps its "request" and "why"; the cards are replaced by what the service says for the
hooks/ request (rule, indicator, codes, deletes, override reasons, summary, suggestion labels and
detail). Run it after a reviewed change, then read the diff (and docs/cards.md) as an oncologist
would before committing: a golden is a reviewed answer, not a snapshot. `--check` lists the
goldens that differ and writes nothing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cds_service.testing import answer_requests, compare_golden, golden_of
from tests.conftest import TODAY

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "fixtures" / "golden"


def main(argv: list[str]) -> int:
    differing = []
    for path, _, cards in answer_requests(sorted((ROOT / "hooks").glob("*.json")), TODAY):
        target = GOLDEN / path.name
        old = json.loads(target.read_text(encoding="utf-8")) if target.exists() else {}
        if (
            old
            and not compare_golden(cards, old)
            and all("summary" in c for c in old.get("cards", []))
        ):
            continue
        differing.append(path.name)
        if "--check" in argv:
            continue
        document = {
            "request": f"hooks/{path.name}",
            "why": old.get("why", "NEW: say why an oncologist expects these cards."),
            **golden_of(cards),
        }
        target.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", "utf-8")
    for name in differing:
        print(f"{'differs' if '--check' in argv else 'rewrote'}: {name}")
    return 1 if differing and "--check" in argv else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
