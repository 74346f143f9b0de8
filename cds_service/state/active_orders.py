"""Signed orders still open in the record: local CNS therapy, a neurosurgery referral, a brain MRI.

Representations read (ServiceRequest, the prefetch key `serviceRequests`, searched with
`status=active,on-hold`; the status is checked again here, as an EHR may ignore the filter):
- `status` active or on-hold only: a draft is not signed (and the hook's own draft orders are set
  aside before this runs, state/resources.collect), completed / revoked / entered-in-error /
  unknown orders are not open;
- `intent` an order (order, original-order, reflex-order, filler-order, instance-order): a
  proposal, plan or option is not one;
- `code` in the value sets srs (with srs-per-fraction on a brain body site), wbrt,
  brain-resection, brain-mri (CPT, LOINC, SNOMED, their text patterns; state/orders reads draft
  orders the same way), or neurosurgery-referral (text only: no code for it is verified);
- `authoredOn`, else `occurrenceDateTime` / `occurrencePeriod.start`: when it was ordered.
An Appointment or a scheduled ImagingStudy is not read: the prefetch does not ask for them, and an
order for the MRI is what an EHR files before either exists.
"""

from __future__ import annotations

from cds_service.state import dates
from cds_service.state.model import ActiveOrder, Fact
from cds_service.state.orders import procedure_kind
from cds_service.state.resources import Resources, reference
from cds_service.state.terminology import matches, text_of

OPEN_STATUSES = ("active", "on-hold")
ORDER_INTENTS = frozenset(
    {"order", "original-order", "reflex-order", "filler-order", "instance-order"}
)
# Every kind an order can be read as (card-policy.toml `answered_by` names these).
ORDER_KINDS = frozenset({"srs", "wbrt", "resection", "brain-mri", "neurosurgery-referral"})


def _kind(order: dict) -> str | None:
    kind = procedure_kind(order)
    if kind is None and matches(order.get("code"), "neurosurgery-referral"):
        return "neurosurgery-referral"
    return kind


def _read(order: dict) -> ActiveOrder | None:
    if order.get("status") not in OPEN_STATUSES or order.get("intent") not in ORDER_INTENTS:
        return None
    kind = _kind(order)
    if kind is None:
        return None
    return ActiveOrder(
        kind=kind,
        when=dates.first(order, "authoredOn", "occurrenceDateTime", "occurrencePeriod.start"),
        status=order["status"],
        display=text_of(order.get("code")).split(" | ")[0],
        evidence=(reference(order),),
    )


def active_orders(res: Resources) -> Fact[tuple[ActiveOrder, ...]]:
    """Open orders that may answer a brain event; unknown when ServiceRequests were not read."""
    if "ServiceRequest" in res.unavailable:
        return Fact.unknown("ServiceRequests could not be obtained: open orders unknown")
    if "ServiceRequest" in res.unreadable:
        return Fact.unknown("a ServiceRequest could not be read: it may be an open order")
    found = tuple(o for o in map(_read, res.of("ServiceRequest")) if o is not None)
    basis = "ServiceRequests obtained and readable" + (
        "; open: " + ", ".join(f"{o.kind} ({o.status})" for o in found) if found else ""
    )
    return Fact(found, tuple(ref for o in found for ref in o.evidence), (), basis)
