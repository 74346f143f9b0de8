"""Drug courses from every medication representation: the rows of real-world-fhir-representations.md
1.3-1.5 (statement, order, dispense, administration), each read or left out as the catalogue says."""

from __future__ import annotations

import pytest

from cds_service.state.model import UNKNOWN
from tests.state.medications import (
    administration,
    bounds,
    course,
    courses,
    dispense,
    infusions,
    request,
    span,
    state,
    statement,
)

# --- MedicationStatement ----------------------------------------------------------------------


def test_statement_active_with_a_start_only_is_running() -> None:
    c = course(statement("s", "tucatinib", effectivePeriod={"start": "2026-06-01"}))
    assert (c.active, span(c), c.representation) == (True, ("2026-06-01", None), "statement")


def test_statement_completed_with_its_period_has_a_recorded_end() -> None:
    c = course(
        statement(
            "s",
            "capecitabine",
            "completed",
            effectivePeriod={"start": "2024-01-01", "end": "2024-06-30"},
        )
    )
    assert (c.active, span(c), c.end_estimated, c.stop_reason) == (
        False,
        ("2024-01-01", "2024-06-30"),
        False,
        "completed",
    )


def test_statement_stopped_keeps_the_records_own_words() -> None:
    c = course(
        statement(
            "s",
            "lapatinib",
            "stopped",
            effectiveDateTime="2024-01-01",
            statusReason=[{"text": "grade 3 diarrhoea"}],
        )
    )
    assert (c.stop_reason, c.stop_detail, c.active) == ("toxicity", "grade 3 diarrhoea", False)


def test_statement_reason_code_is_why_it_was_given_not_why_it_stopped() -> None:
    c = course(
        statement(
            "s",
            "lapatinib",
            "stopped",
            effectiveDateTime="2024-01-01",
            reasonCode=[{"text": "Metastatic breast cancer, progressive"}],
        )
    )
    assert (c.stop_reason, c.stop_detail) == (UNKNOWN, "")


def test_statement_stop_in_a_note_is_read() -> None:
    c = course(
        statement(
            "s",
            "lapatinib",
            "stopped",
            effectiveDateTime="2024-01-01",
            note=[{"text": "Stopped: hand-foot syndrome"}],
        )
    )
    assert (c.stop_reason, c.stop_detail) == ("toxicity", "Stopped: hand-foot syndrome")


def test_statement_effective_datetime_status_unknown_is_given_not_running() -> None:
    c = course(statement("s", "lapatinib", "unknown", effectiveDateTime="2024-01-01T10:00:00Z"))
    assert (c.active, span(c), c.stop_reason) == (False, ("2024-01-01", None), UNKNOWN)


def test_statement_on_hold_is_still_current_therapy() -> None:
    assert course(statement("s", "tucatinib", "on-hold", effectiveDateTime="2026-09-01")).active


@pytest.mark.parametrize("status", ["intended", "not-taken", "entered-in-error"])
def test_statement_not_taken_intended_or_in_error_is_no_course(status: str) -> None:
    assert courses(statement("s", "lapatinib", status, effectiveDateTime="2024-01-01")) == ()


def test_statement_date_asserted_is_not_when_it_was_taken() -> None:
    c = course(statement("s", "lapatinib", "completed", dateAsserted="2025-05-05"))
    assert c.start is None


# --- MedicationRequest: status, intent, statusReason ------------------------------------------


@pytest.mark.parametrize("status", ["entered-in-error", "cancelled", "draft"])
def test_order_entered_in_error_cancelled_or_draft_is_no_course(status: str) -> None:
    s = state(request("r", "lapatinib", status, authoredOn="2025-01-01"))
    assert s.courses == ()
    assert any(n.startswith("MedicationRequest/r: status") for n in s.notes)


@pytest.mark.parametrize("status", ["active", "on-hold"])
def test_order_active_or_on_hold_without_an_end_is_ongoing(status: str) -> None:
    c = course(request("r", "tucatinib", status, authoredOn="2026-05-01"))
    assert (c.active, c.end, c.representation) == (True, None, "order")


@pytest.mark.parametrize("status", ["unknown", "completed"])
def test_order_unknown_or_completed_without_an_end_is_given_end_unknown(status: str) -> None:
    c = course(request("r", "lapatinib", status, authoredOn="2025-01-01"))
    assert (c.active, c.end, c.stop_reason) == (False, None, UNKNOWN)


def test_order_stopped_with_status_reason_words() -> None:
    c = course(
        request(
            "r",
            "t-dxd",
            "stopped",
            authoredOn="2025-01-01",
            statusReason={"text": "interstitial lung disease"},
        )
    )
    assert (c.stop_reason, c.stop_detail) == ("toxicity", "interstitial lung disease")


def test_order_stopped_with_a_local_cancel_code_only_is_stopped_for_an_unknown_reason() -> None:
    reason = {"coding": [{"system": "https://fhir.cerner.com/x/codeSet/1309", "code": "2533"}]}
    c = course(request("r", "lapatinib", "stopped", authoredOn="2025-01-01", statusReason=reason))
    assert (c.active, c.stop_reason) == (False, UNKNOWN)


@pytest.mark.parametrize(
    "fields",
    [{"intent": "proposal"}, {"intent": "option"}, {"doNotPerform": True}],
    ids=["proposal", "option", "doNotPerform"],
)
def test_proposals_options_and_do_not_perform_are_no_course(fields: dict) -> None:
    assert courses(request("r", "lapatinib", authoredOn="2025-01-01", **fields)) == ()


@pytest.mark.parametrize(
    "fields", [{"intent": "plan"}, {"reportedBoolean": True}], ids=["plan", "reported"]
)
def test_patient_reported_orders_are_kept_and_marked(fields: dict) -> None:
    c = course(request("r", "tucatinib", authoredOn="2026-05-01", **fields))
    assert (c.active, c.representation) == (True, "patient-reported order")


# --- MedicationRequest: start and end by 1.5's precedence --------------------------------------


def test_bounds_start_before_authored_on_is_the_start() -> None:
    c = course(
        request("r", "tucatinib", authoredOn="2026-05-20", dosageInstruction=bounds("2026-01-15"))
    )
    assert span(c) == ("2026-01-15", None)


def test_bounds_period_end_is_a_recorded_end() -> None:
    c = course(
        request(
            "r",
            "lapatinib",
            "completed",
            authoredOn="2025-01-01",
            dosageInstruction=bounds("2025-01-02", "2025-04-30"),
        )
    )
    assert (span(c), c.end_estimated, c.end_basis) == (("2025-01-02", "2025-04-30"), False, "")


def test_athena_stop_date_extension_is_a_recorded_end() -> None:
    ext = [
        {
            "url": "https://fhir.athena.io/StructureDefinition/ah-stop-date",
            "valueDate": "2025-03-31",
        }
    ]
    c = course(request("r", "lapatinib", "completed", authoredOn="2025-01-01", extension=ext))
    assert (span(c), c.end_estimated) == (("2025-01-01", "2025-03-31"), False)


def test_athena_deactivated_date_extension_is_a_recorded_end() -> None:
    ext = [
        {
            "url": "https://fhir.athena.io/StructureDefinition/ah-deactivated-date",
            "valueDateTime": "2025-03-31T12:00:00Z",
        }
    ]
    assert span(
        course(request("r", "lapatinib", "stopped", authoredOn="2025-01-01", extension=ext))
    ) == (
        "2025-01-01",
        "2025-03-31",
    )


def test_bounds_duration_estimates_the_end() -> None:
    dosage = bounds(
        "2025-01-01",
        boundsDuration={
            "value": 12,
            "unit": "weeks",
            "system": "http://unitsofmeasure.org",
            "code": "wk",
        },
    )
    c = course(
        request("r", "capecitabine", "completed", authoredOn="2025-01-01", dosageInstruction=dosage)
    )
    assert (span(c), c.end_estimated) == (("2025-01-01", "2025-03-26"), True)
    assert c.end_basis == "estimated: start 2025-01-01 + 84 days ordered (boundsDuration)"


def test_count_and_frequency_estimate_the_end_epic_daily_med() -> None:
    dosage = bounds("2025-01-01", count=60, frequency=2, period=1, periodUnit="d")
    c = course(
        request("r", "lapatinib", "completed", authoredOn="2025-01-01", dosageInstruction=dosage)
    )
    assert (span(c), c.end_basis) == (
        ("2025-01-01", "2025-01-31"),
        "estimated: start 2025-01-01 + 60 doses ordered (30 days)",
    )


def test_until_in_the_dosage_text_gives_the_end() -> None:
    dosage = bounds("2020-03-01", text="Take 5 tablets by mouth daily. Until Wed 5/27/2020")
    c = course(
        request("r", "lapatinib", "completed", authoredOn="2020-03-01", dosageInstruction=dosage)
    )
    assert (span(c), c.end_basis) == (
        ("2020-03-01", "2020-05-27"),
        "ordered until 2020-05-27 (dosage text)",
    )


def test_validity_period_is_a_start_and_supply_times_fills_an_estimated_end() -> None:
    order = request(
        "r",
        "lapatinib",
        "completed",
        authoredOn="2025-02-20",
        dispenseRequest={
            "validityPeriod": {"start": "2025-02-10"},
            "numberOfRepeatsAllowed": 2,
            "expectedSupplyDuration": {"value": 28, "unit": "Day", "code": "d"},
        },
    )
    c = course(order)
    assert (span(c), c.end_estimated) == (("2025-02-10", "2025-05-05"), True)
    assert "28 days' supply x 3 fills" in c.end_basis


def test_course_of_therapy_type_dates_nothing() -> None:
    plain = course(request("r", "lapatinib", "completed", authoredOn="2025-01-01"))
    typed = course(
        request(
            "r",
            "lapatinib",
            "completed",
            authoredOn="2025-01-01",
            courseOfTherapyType={"coding": [{"code": "continuous"}], "text": "Maintenance"},
        )
    )
    assert typed == plain


def test_meta_last_updated_is_not_an_end() -> None:
    c = course(
        request(
            "r",
            "lapatinib",
            "stopped",
            authoredOn="2025-01-01",
            meta={"lastUpdated": "2025-06-01T00:00:00Z"},
        )
    )
    assert c.end is None


def test_prior_prescription_chain_is_one_course_whatever_the_gap() -> None:
    first = request("r1", "lapatinib", "completed", authoredOn="2024-01-01")
    renewal = request(
        "r2",
        "lapatinib",
        "completed",
        authoredOn="2024-09-01",
        priorPrescription={"reference": "MedicationRequest/r1"},
    )
    c = course(first, renewal)
    assert (c.start.text, c.evidence) == (
        "2024-01-01",
        ("MedicationRequest/r1", "MedicationRequest/r2"),
    )


def test_negative_control_unlinked_orders_far_apart_are_two_courses() -> None:
    found = courses(
        request("r1", "lapatinib", "completed", authoredOn="2024-01-01"),
        request("r2", "lapatinib", "completed", authoredOn="2024-09-01"),
    )
    assert [c.start.text for c in found] == ["2024-01-01", "2024-09-01"]


def test_malformed_order_makes_therapy_history_unknown() -> None:
    s = state(
        request("r", "lapatinib", "completed", authoredOn="10/02/2025")
    )  # not a FHIR dateTime
    assert s.courses == ()
    assert s.therapy_history_known.known is False
    assert "therapy history unknown" in s.therapy_history_known.notes[0]


def test_medication_dispenses_unavailable_leave_the_history_known_with_a_note() -> None:
    s = state(
        request("r", "lapatinib", authoredOn="2026-05-01"), unavailable=("MedicationDispense",)
    )
    assert s.therapy_history_known.value is True
    assert s.therapy_history_known.notes == ("MedicationDispense could not be obtained",)
    assert s.therapy_history_known.basis == (
        "obtained and readable: MedicationStatement, MedicationRequest, MedicationAdministration"
    )


# --- MedicationDispense -----------------------------------------------------------------------


def test_dispense_handed_over_with_days_supply() -> None:
    c = course(
        dispense(
            "d",
            "capecitabine",
            whenHandedOver="2025-03-01T15:00:00Z",
            daysSupply={"value": 21, "unit": "day", "code": "d"},
        )
    )
    assert (span(c), c.end_basis, c.representation) == (
        ("2025-03-01", "2025-03-22"),
        "estimated: dispensed 2025-03-01 + 21 days' supply",
        "dispense",
    )


def test_dispense_without_days_supply_has_an_unknown_end() -> None:
    c = course(dispense("d", "capecitabine", whenHandedOver="2025-03-01"))
    assert (span(c), c.active) == (("2025-03-01", None), False)


def _tablets_dispensed(**dosage: object) -> dict:
    """Epic-style: 140 lapatinib tablets, with the dispense's own dosage (typed doseAndRate)."""
    return dispense(
        "d",
        "lapatinib",
        whenHandedOver="2025-03-01",
        quantity={"value": 140, "unit": "TAB", "code": "{tbl}"},
        dosageInstruction=[dosage],
    )


EPIC_DOSES = [
    {"type": {"text": "ordered"}, "doseQuantity": {"value": 1250, "unit": "mg", "code": "mg"}},
    {"type": {"text": "admin-amount"}, "doseQuantity": {"value": 5, "unit": "tablet"}},
]


def test_dispense_without_days_supply_lasts_its_quantity_over_its_own_daily_dose() -> None:
    repeat = {"frequency": 1, "period": 1, "periodUnit": "d"}
    c = course(_tablets_dispensed(timing={"repeat": repeat}, doseAndRate=EPIC_DOSES))
    assert (span(c), c.end_basis) == (
        ("2025-03-01", "2025-03-29"),
        "estimated: dispensed 2025-03-01 + 28 days (140 tablet / 5 tablet a day, dispense dosage)",
    )


@pytest.mark.parametrize(
    "dosage",
    [
        {"timing": {"repeat": {"frequency": 1}}, "doseAndRate": EPIC_DOSES},  # no period
        {"timing": {"repeat": {"period": 1, "periodUnit": "d"}}, "doseAndRate": EPIC_DOSES[:1]},
        {"timing": {"repeat": {"period": 1, "periodUnit": "d"}}},  # no dose
    ],
    ids=["timing without period", "dose in mg only", "no dose"],
)
def test_dispense_whose_daily_dose_cannot_be_read_in_its_unit_has_an_unknown_end(
    dosage: dict,
) -> None:
    c = course(_tablets_dispensed(**dosage))
    assert (span(c), c.end_basis, c.active) == (("2025-03-01", None), "", False)


def test_declined_dispense_is_no_course() -> None:
    assert courses(dispense("d", "capecitabine", "declined", whenHandedOver="2025-03-01")) == ()


def test_dispenses_date_an_order_first_dispense_start_last_dispense_end() -> None:
    order = request(
        "r",
        "lapatinib",
        "completed",
        authoredOn="2025-01-20",
        dispenseRequest={
            "numberOfRepeatsAllowed": 5,
            "expectedSupplyDuration": {"value": 30, "code": "d"},
        },
    )
    supply = {"value": 30, "code": "d"}
    fills = [
        dispense("d1", "lapatinib", whenHandedOver="2025-02-01", daysSupply=supply),
        dispense("d2", "lapatinib", whenHandedOver="2025-03-03", daysSupply=supply),
    ]
    c = course(order, *fills)
    assert span(c) == ("2025-02-01", "2025-04-02")
    assert c.end_basis == "estimated: dispensed 2025-03-03 + 30 days' supply"
    assert c.representation == "order, dispense"


# --- MedicationAdministration -----------------------------------------------------------------


def test_infusions_every_21_days_are_one_course_ending_a_cycle_after_the_last() -> None:
    c = course(*infusions("a", "t-dxd", "2026-01-19", "2026-02-09", "2026-03-02"))
    assert (span(c), c.active, c.end_estimated) == (("2026-01-19", "2026-03-23"), False, True)
    assert c.end_basis == "estimated: last infusion 2026-03-02 + 21 days"
    assert c.representation == "administration"


def test_weekly_infusions_take_their_own_cycle() -> None:
    c = course(
        *infusions("a", "paclitaxel", "2026-01-05", "2026-01-12", "2026-01-19", "2026-02-02")
    )
    assert c.end_basis == "estimated: last infusion 2026-02-02 + 7 days"


def test_a_single_infusion_takes_the_usual_21_day_cycle() -> None:
    c = course(administration("a", "t-dm1", "2025-05-05T09:30:00Z"))
    assert span(c) == ("2025-05-05", "2025-05-26")


def test_infusions_far_apart_are_two_courses() -> None:
    found = courses(
        *infusions(
            "a", "t-dm1", "2025-01-06", "2025-01-27", "2025-02-17", "2025-09-01", "2025-09-22"
        )
    )
    assert [span(c) for c in found] == [("2025-01-06", "2025-03-10"), ("2025-09-01", "2025-10-13")]


def test_recent_infusions_are_a_running_course() -> None:
    c = course(*infusions("a", "t-dxd", "2026-10-12", "2026-11-02"))
    assert (c.active, c.end) == (True, None)


def test_infusion_effective_period_start_is_its_day() -> None:
    c = course(
        administration(
            "a",
            "t-dm1",
            "",
            effectivePeriod={"start": "2025-05-05T09:00:00Z", "end": "2025-05-05T10:30:00Z"},
        )
        | {"effectiveDateTime": None}
    )
    assert c.start.text == "2025-05-05"


def test_not_done_infusion_is_no_course() -> None:
    assert (
        courses(
            administration(
                "a", "t-dxd", "2026-01-05", "not-done", statusReason=[{"text": "neutropenia"}]
            )
        )
        == ()
    )


def test_stopped_infusion_keeps_why() -> None:
    c = course(
        administration(
            "a",
            "trastuzumab",
            "2025-05-05",
            "stopped",
            statusReason=[{"text": "infusion reaction"}],
        )
    )
    assert (c.stop_reason, c.stop_detail) == ("toxicity", "infusion reaction")


def test_a_note_on_a_given_infusion_is_no_stop() -> None:
    doses = infusions("a", "t-dxd", "2026-01-19", "2026-02-09", "2026-03-02")
    doses[1]["note"] = [{"text": "Dose reduced to 4.4 mg/kg for grade 2 diarrhoea"}]
    c = course(*doses)
    assert (span(c), c.stop_reason, c.stop_detail) == (("2026-01-19", "2026-03-23"), UNKNOWN, "")
