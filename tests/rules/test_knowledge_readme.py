"""knowledge/README.md lists every fact and rule as the code has them, so it cannot go stale.

Print the generated sections with `.venv/bin/python -m tests.rules.test_knowledge_readme`.
"""

from __future__ import annotations

import re
from pathlib import Path

from cds_service.rules.facts import REGISTRY
from cds_service.rules.loader import KNOWLEDGE_DIR, load_knowledge

README = KNOWLEDGE_DIR / "README.md"


def facts_table() -> str:
    rows = ["| Fact | Means | Rule parameters | Per order |", "|---|---|---|---|"]
    for name in sorted(REGISTRY):
        fact = REGISTRY[name]
        params = ", ".join(f"`{p}`" for p in fact.params)
        per_order = "yes" if fact.needs_order else ""
        rows.append(f"| `{name}` | {fact.description} | {params} | {per_order} |")
    return "\n".join(rows)


def rules_table() -> str:
    rows = ["| Rule | Hooks | Indicators | Suppresses | Source |", "|---|---|---|---|---|"]
    for rule in load_knowledge().rules:
        indicators = ", ".join(sorted({v.indicator for v in rule.variants}))
        hooks = ", ".join(sorted(rule.hooks))
        suppresses = ", ".join(rule.suppresses)
        source = rule.citation.label
        rows.append(f"| `{rule.id}` | {hooks} | {indicators} | {suppresses} | {source} |")
    return "\n".join(rows)


def section(text: str, name: str) -> str:
    match = re.search(rf"<!-- {name}:start -->\n(.*?)\n<!-- {name}:end -->", text, re.S)
    assert match, f"README.md has no {name} section"
    return match.group(1)


def test_readme_lists_every_fact_as_registered():
    assert section(README.read_text(encoding="utf-8"), "facts") == facts_table(), (
        "facts changed: regenerate with `python -m tests.rules.test_knowledge_readme`"
    )


def test_readme_lists_every_rule_as_loaded():
    assert section(README.read_text(encoding="utf-8"), "rules") == rules_table(), (
        "rules changed: regenerate with `python -m tests.rules.test_knowledge_readme`"
    )


def test_every_rule_file_is_one_recommendation_of_clinical_rules():
    files = sorted(p.stem for p in Path(KNOWLEDGE_DIR / "rules").glob("*.toml"))
    assert files == sorted(r.id.lower() for r in load_knowledge().rules)


if __name__ == "__main__":
    print("<!-- rules:start -->\n" + rules_table() + "\n<!-- rules:end -->\n")
    print("<!-- facts:start -->\n" + facts_table() + "\n<!-- facts:end -->")
