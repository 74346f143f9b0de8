"""Write valuesets/agent-<drug>.json for each drug in knowledge/tucatinib-interactions.toml.

`python tools/make_interaction_valuesets.py` (add `--check` to fail when a file is out of date)."""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path
from typing import Any

KNOWLEDGE = Path(__file__).resolve().parent.parent / "cds_service" / "knowledge"
SOURCE = KNOWLEDGE / "tucatinib-interactions.toml"
BASE = "http://her2-brain-cds.example.org/fhir"


def valueset(drug: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    kind = data["classes"][drug["class"]]["name"]
    name = drug.get("display", drug["id"])
    verified = (
        f"RxNorm ingredient {drug['rxnorm']} VERIFIED in {data['verified_where']}."
        if drug.get("rxnorm")
        else "No code VERIFIED in the reference notes: recognised by name only."
    )
    extensions = [
        {"url": f"{BASE}/StructureDefinition/verification", "valueString": verified},
        {"url": f"{BASE}/StructureDefinition/source", "valueString": drug["source"]},
    ] + [
        {"url": f"{BASE}/StructureDefinition/text-pattern", "valueString": pattern}
        for pattern in drug["names"]
    ]
    include = (
        [{"system": data["rxnorm"], "concept": [{"code": drug["rxnorm"], "display": name}]}]
        if drug.get("rxnorm")
        else []
    )
    title = "".join(part.capitalize() for part in drug["id"].split("-"))
    return {
        "resourceType": "ValueSet",
        "id": f"agent-{drug['id']}",
        "url": f"{BASE}/ValueSet/agent-{drug['id']}",
        "version": "2026.12.06",
        "name": f"Agent{title}",
        "title": f"Agent: {name} ({kind}, tucatinib interaction)",
        "status": "active",
        "date": "2026-12-06",
        "experimental": False,
        "publisher": "HER2 brain-metastases CDS service",
        "purpose": f"Recognise {name} ({kind}) in medication resources and draft orders, "
        "by RxNorm ingredient code where verified and by name (products, brands).",
        "extension": extensions,
        "compose": {"include": include},
    }


def expected() -> dict[Path, str]:
    data = tomllib.loads(SOURCE.read_text(encoding="utf-8"))
    return {
        KNOWLEDGE / "valuesets" / f"agent-{d['id']}.json": json.dumps(valueset(d, data), indent=2)
        + "\n"
        for d in data["drugs"]
    }


def main(argv: list[str]) -> int:
    stale = [p for p, text in expected().items() if not p.exists() or p.read_text() != text]
    if "--check" in argv:
        for path in stale:
            print(f"out of date: {path.name}", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(expected()[path], encoding="utf-8")
        print(f"wrote {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
