"""Draft orders from the hook context: what is being ordered, never counted as history."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cds_service.state.exposures import MEDICATION_TYPES
from cds_service.state.lesions import laterality_of_sites, site_keys
from cds_service.state.medication import named
from cds_service.state.model import DraftOrder
from cds_service.state.resources import reference
from cds_service.state.terminology import coded_keys, has_code, matches, text_of

_PROCEDURES = (
    ("brain-resection", "resection"),
    ("srs", "srs"),
    ("wbrt", "wbrt"),
    ("brain-mri", "brain-mri"),
)


def _resources(context: Mapping[str, Any]) -> list[dict]:
    bundle = context.get("draftOrders") or {}
    if isinstance(bundle, dict) and bundle.get("resourceType") == "Bundle":
        return [
            e["resource"]
            for e in bundle.get("entry", [])
            if isinstance(e, dict) and isinstance(e.get("resource"), dict)
        ]
    return []


def procedure_kind(order: dict) -> str | None:
    """'srs', 'wbrt', 'resection' or 'brain-mri' for an order coded (or worded) as one."""
    code = order.get("code")
    sites = order.get("bodySite", [])
    on_brain = any(matches(s, "brain-body-site") for s in sites)
    for vs_id, kind in _PROCEDURES:
        if matches(code, vs_id):
            return kind
    if on_brain and has_code(code, "srs-per-fraction"):
        return "srs"
    return None


def draft_orders(context: Mapping[str, Any] | None) -> tuple[DraftOrder, ...]:
    """DraftOrders from `draftOrders`; with `selections` (order-select) only those are selected,
    without it (order-sign) all are."""
    if not context:
        return ()
    selections = context.get("selections")
    found = []
    for order in _resources(context):
        ref = reference(order)
        # Draft orders name their drug inline or by a contained Medication (the bundle holds
        # nothing else to refer to): the same reading as the record's medication resources.
        drug = named(order) if order.get("resourceType") in MEDICATION_TYPES else None
        agents = drug.agents if drug else frozenset()
        shown = (drug.display if drug else "") or text_of(order.get("code")).split(" | ")[0]
        found.append(
            DraftOrder(
                reference=ref,
                resource_type=order.get("resourceType", ""),
                selected=True if selections is None else ref in set(selections),
                agents=agents,
                procedure=procedure_kind(order)
                if order.get("resourceType") in {"ServiceRequest", "Procedure"}
                else None,
                body_sites=coded_keys(order.get("bodySite", []))
                + site_keys(order.get("bodySite", [])),
                display=shown,
                resource=order,
                laterality=laterality_of_sites(order.get("bodySite", [])),
            )
        )
    return tuple(found)


def draft_references(context: Mapping[str, Any] | None) -> tuple[str, ...]:
    return tuple(reference(r) for r in _resources(context or {}))
