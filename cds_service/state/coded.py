"""Each resource's `code` looked up in the value sets once per derivation, for every fact to share."""

from __future__ import annotations

from dataclasses import dataclass

from cds_service.state.resources import Resources
from cds_service.state.terminology import code_sets, text_of, valueset


@dataclass(frozen=True, slots=True)
class Coded:
    """A resource, the value sets its `code` is in, and the code's text (for text matching)."""

    resource: dict
    sets: frozenset[str]
    text: str

    def has_code(self, vs_id: str) -> bool:
        return vs_id in self.sets

    def matches(self, vs_id: str, text: bool = True) -> bool:
        """terminology.matches() on the resource's `code`, from the lookups already made."""
        return vs_id in self.sets or (text and valueset(vs_id).has_text(self.text))


def coded_resource(resource: dict) -> Coded:
    """One resource (or a component: anything with a `code`) looked up in the value sets."""
    concept = resource.get("code")
    return Coded(resource, code_sets(concept), text_of(concept))


def coded(res: Resources, *types: str) -> tuple[Coded, ...]:
    """The resources of `types` (in that order, as `res.of` gives them), each looked up once."""
    return res.per_type("coded", types, lambda rtype: tuple(map(coded_resource, res.of(rtype))))
