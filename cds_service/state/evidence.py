"""Every resource reference a derived result rests on: the `evidence` fields found anywhere in it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, is_dataclass


def references(value: object) -> frozenset[str]:
    """The references in every `evidence` field of `value`: a state, findings, or any part."""
    found: set[str] = set()
    pending = [value]
    while pending:
        current = pending.pop()
        if is_dataclass(current) and not isinstance(current, type):
            for f in fields(current):
                item = getattr(current, f.name)
                if f.name == "evidence" and isinstance(item, tuple):
                    found.update(ref for ref in item if isinstance(ref, str))
                elif f.compare:  # fields left out of comparison hold raw JSON, not results
                    pending.append(item)
        elif isinstance(current, (tuple, list, frozenset, set)):
            pending.extend(current)
        elif isinstance(current, Mapping):
            pending.extend(current.values())
    return frozenset(found)
