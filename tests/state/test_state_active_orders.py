"""state/active_orders: signed orders still open, each read as what it orders, with its date."""

from __future__ import annotations

from typing import Any

from cds_service.state.model import UNKNOWN, FhirDate
from tests.state.support import state_of

CPT = "http://www.ama-assn.org/go/cpt"


def service_request(rid: str, code: dict, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "id": rid,
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p"},
        "code": code,
        **extra,
    }


def bundle(*resources: dict) -> dict:
    patient = {"resourceType": "Patient", "id": "p"}
    return {"resourceType": "Bundle", "entry": [{"resource": r} for r in (patient, *resources)]}


def test_each_kind_is_read_with_its_date_and_status() -> None:
    state = state_of(
        bundle(
            service_request(
                "srs",
                {"coding": [{"system": CPT, "code": "77372"}]},
                authoredOn="2026-09-20T10:00:00Z",
            ),
            service_request(
                "wbrt", {"text": "WBRT 30 Gy"}, status="on-hold", occurrenceDateTime="2026-10-01"
            ),
            service_request(
                "nsg",
                {"text": "Referral to neurosurgery"},
                occurrencePeriod={"start": "2026-10-02"},
            ),
            service_request("mri", {"coding": [{"system": CPT, "code": "70553"}]}),
            # An SRS per-fraction code counts only on a brain body site.
            service_request(
                "sbrt-spine", {"coding": [{"system": CPT, "code": "77373"}]}, authoredOn="2026-10"
            ),
        )
    )
    orders = state.active_orders.value
    assert [(o.kind, o.status, o.when, o.evidence) for o in orders] == [  # type: ignore[union-attr]
        ("srs", "active", FhirDate.parse("2026-09-20"), ("ServiceRequest/srs",)),
        ("wbrt", "on-hold", FhirDate.parse("2026-10-01"), ("ServiceRequest/wbrt",)),
        ("neurosurgery-referral", "active", FhirDate.parse("2026-10-02"), ("ServiceRequest/nsg",)),
        ("brain-mri", "active", None, ("ServiceRequest/mri",)),
    ]
    assert "open: srs (active), wbrt (on-hold)" in state.active_orders.basis


def test_a_draft_order_of_the_hook_is_never_an_open_order() -> None:
    """The order being signed is in the hook's draftOrders: even echoed back by the EHR as
    active in the record, it answers nothing yet."""
    srs = service_request("srs", {"coding": [{"system": CPT, "code": "77372"}]})
    context = {
        "patientId": "p",
        "draftOrders": {
            "resourceType": "Bundle",
            "entry": [{"resource": {**srs, "status": "draft"}}],
        },
    }
    assert state_of(bundle(srs)).active_orders.value != ()
    assert state_of(bundle(srs), context).active_orders.value == ()


def test_no_service_requests_is_none_open_only_when_they_were_obtained() -> None:
    assert state_of(bundle()).active_orders.value == ()
    unknown = state_of(bundle(), unavailable=("ServiceRequest",)).active_orders
    assert unknown.value is UNKNOWN
    assert unknown.notes == ("ServiceRequests could not be obtained: open orders unknown",)


def test_other_orders_are_not_read() -> None:
    state = state_of(
        bundle(
            service_request("cardio", {"text": "Referral to cardiology"}),
            service_request("ct", {"text": "CT chest with contrast"}),
        )
    )
    assert state.active_orders.value == ()
