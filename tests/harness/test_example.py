"""The README's example integration test, kept here so that it keeps working."""

from __future__ import annotations

from cds_service.testing import cards_by_rule, hook_request, post_hook, service_for
from tests.harness.bundles import lapatinib_draft, scenario_bundle


def test_lapatinib_rechallenge_is_stopped_at_order_select(client) -> None:
    bundle = scenario_bundle()  # any FHIR Bundle about one patient
    request = hook_request(bundle, "order-select", draft_orders=[lapatinib_draft()])
    assert set(request["prefetch"]) == set(service_for("order-select").prefetch)

    result = post_hook(client, request)  # a Flask test client, or "http://127.0.0.1:8080"

    assert result.status == 200
    [card] = cards_by_rule(result)["LAPATINIB-RECHALLENGE"]
    assert card["indicator"] == "critical"
    removes = {
        a["resourceId"] for s in card["suggestions"] for a in s["actions"] if a["type"] == "delete"
    }
    assert removes == {"MedicationRequest/draft-lapatinib"}
