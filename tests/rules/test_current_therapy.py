"""The current therapy is named by what is still given: completed chemotherapy leaves its maintenance."""

from __future__ import annotations

from cds_service.rules.facts import FactContext, current_regimen
from cds_service.state.model import UNKNOWN, DrugCourse, Regimen
from tests.rules.builders import d, patient


def test_completed_docetaxel_is_not_named_as_current_therapy():
    courses = (
        DrugCourse(
            "docetaxel",
            d("2023-10-02"),
            d("2024-01-22"),
            False,
            "completed",
            ("MedicationStatement/doc",),
        ),
        DrugCourse("trastuzumab", d("2023-10-02"), None, True, UNKNOWN, ("MedicationStatement/t",)),
        DrugCourse("pertuzumab", d("2023-10-02"), None, True, UNKNOWN, ("MedicationStatement/p",)),
    )
    line = Regimen(
        frozenset({"docetaxel", "trastuzumab", "pertuzumab"}),
        d("2023-10-02"),
        None,
        True,
        UNKNOWN,
        courses,
    )
    stated = current_regimen(FactContext(patient(regimens=(line,)), "patient-view", {}))
    assert stated.value == "trastuzumab + pertuzumab"
    assert (
        stated.text
        == "Current therapy: trastuzumab + pertuzumab (since 2023-10-02); docetaxel completed 2024-01-22"
    )
    # The line is still one regimen: maintenance is not "another regimen in between".
    assert line.label == "trastuzumab + pertuzumab + docetaxel"
