"""The record as plain JSON resources, with the ones that must never count already set aside."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from cds_service.fhir.record import PatientRecord
from cds_service.state.terminology import codings

# Statuses that mean "this did not happen" or "this record is wrong", per resource type.
_VOID_STATUS = {"entered-in-error", "cancelled", "not-done", "refuted", "not-taken", "draft"}
_VOID_VERIFICATION = {"entered-in-error", "refuted"}


def reference(resource: dict) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id', '?')}"


def is_void(resource: dict) -> bool:
    """Entered in error, refuted, cancelled, not done or not taken: never evidence of anything."""
    if resource.get("status") in _VOID_STATUS:
        return True
    verification = {code for _, code, _ in codings(resource.get("verificationStatus"))}
    return bool(verification & _VOID_VERIFICATION)


T = TypeVar("T")


@dataclass(frozen=True)
class Resources:
    """Resources by type as JSON dicts; void ones and draft orders are left out."""

    by_type: dict[str, tuple[dict, ...]]
    unavailable: frozenset[str] = frozenset()
    set_aside: tuple[str, ...] = field(default=())  # references left out, with why
    # Results of derivation steps that several facts share, computed once per record.
    _memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def once(self, key: str, compute: Callable[[], T]) -> T:
        """`compute()` the first time `key` is asked for, the stored result after that."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]  # type: ignore[no-any-return]

    def per_type(
        self, key: str, types: tuple[str, ...], compute: Callable[[str], tuple[T, ...]]
    ) -> tuple[T, ...]:
        """`compute(type)` for each of `types`, each once per record, joined in `types` order."""
        return tuple(item for t in types for item in self.once(f"{key}:{t}", partial(compute, t)))

    def of(self, *types: str) -> tuple[dict, ...]:
        return tuple(r for t in types for r in self.by_type.get(t, ()))

    def available(self, *types: str) -> bool:
        """True when at least one of `types` could be obtained (so absence means none recorded)."""
        return any(t not in self.unavailable for t in types)

    def get(self, ref: str) -> dict | None:
        rtype, _, rid = ref.partition("/")
        return next((r for r in self.by_type.get(rtype, ()) if r.get("id") == rid), None)


def collect(record: PatientRecord, draft_refs: Iterable[str] = ()) -> Resources:
    """Split the record by type, leaving out void resources and anything that is a draft order."""
    drafts = set(draft_refs)
    by_type: dict[str, list[dict]] = {}
    set_aside: list[str] = []
    for resource in record.documents:
        ref = reference(resource)
        if ref in drafts:
            set_aside.append(f"{ref}: a draft order in this request, not history")
        elif is_void(resource):
            set_aside.append(
                f"{ref}: status {resource.get('status') or 'refuted/entered-in-error'}, not used"
            )
        else:
            by_type.setdefault(resource["resourceType"], []).append(resource)
    return Resources(
        {k: tuple(v) for k, v in by_type.items()}, frozenset(record.unavailable), tuple(set_aside)
    )
