"""The tucatinib interaction classes and their drugs, as knowledge data (tucatinib-interactions.toml)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PATH = Path(__file__).resolve().parent.parent / "knowledge" / "tucatinib-interactions.toml"


@dataclass(frozen=True)
class InteractionClass:
    id: str
    name: str
    indicator: str  # "warning" | "info"
    effect: str
    advice: str


@dataclass(frozen=True)
class InteractingDrug:
    id: str  # the agent id its value set recognises
    display: str
    cls: InteractionClass
    source: str
    rxnorm: str | None
    alternative: str = ""  # said on the card when this drug is found


@cache
def interacting_drugs() -> dict[str, InteractingDrug]:
    """Every drug of the label's classes, by agent id, in the file's order (most serious first)."""
    data = tomllib.loads(PATH.read_text(encoding="utf-8"))
    classes = {key: InteractionClass(key, **value) for key, value in data["classes"].items()}
    return {
        d["id"]: InteractingDrug(
            d["id"],
            d.get("display", d["id"]),
            classes[d["class"]],
            d["source"],
            d.get("rxnorm"),
            d.get("alternative", ""),
        )
        for d in data["drugs"]
    }
