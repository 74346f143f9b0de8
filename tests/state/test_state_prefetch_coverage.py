"""What the state reads, the prefetch asks for: every Observation code and report category a concept
module declares is requested by each service's prefetch template and by the query the service
fetches with when the EHR left the key out (the same template, its tokens filled)."""

from __future__ import annotations

import importlib
import pkgutil
from urllib.parse import parse_qs, urlsplit

import pytest

import cds_service.state as state_package
from cds_service.fhir.prefetch import substitute
from cds_service.services import SERVICES
from cds_service.state.terminology import valueset

# Resource type and search parameter each declaration is requested by.
DECLARATIONS = {
    "OBSERVATION_VALUESETS": ("Observation", "code"),
    "REPORT_CATEGORY_VALUESETS": ("DiagnosticReport", "category"),
}


def _declared(name: str) -> dict[str, str]:
    """Value set id -> the concept module declaring it, over every module of cds_service.state."""
    found: dict[str, str] = {}
    for info in pkgutil.iter_modules(state_package.__path__):
        module = importlib.import_module(f"cds_service.state.{info.name}")
        for vs_id in getattr(module, name, ()):
            found[vs_id] = info.name
    return found


def _requested(resource_type: str, parameter: str, fill: bool) -> dict[str, set[str]]:
    """Service id -> the `system|code` tokens its `resource_type` query asks for."""
    requested: dict[str, set[str]] = {}
    for service in SERVICES:
        tokens: set[str] = set()
        for key, template in service.prefetch.items():
            if service.resource_type(key) != resource_type:
                continue
            query = substitute(template, {"patientId": "example"}) if fill else template
            assert query is not None
            for value in parse_qs(urlsplit(query).query).get(parameter, []):
                tokens.update(value.split(","))
        requested[service.id] = tokens
    return requested


def test_the_brain_concepts_declare_what_they_read() -> None:
    """The mechanism is not vacuous: the brain, lesion and imaging modules declare their codes."""
    assert {"disease-status", "tumor-size"} <= set(_declared("OBSERVATION_VALUESETS"))
    assert "radiology-report" in _declared("REPORT_CATEGORY_VALUESETS")


@pytest.mark.parametrize("fill", [False, True], ids=["prefetch-template", "fetch-query"])
@pytest.mark.parametrize("declaration", sorted(DECLARATIONS))
def test_every_declared_code_is_requested(declaration: str, fill: bool) -> None:
    resource_type, parameter = DECLARATIONS[declaration]
    requested = _requested(resource_type, parameter, fill)
    for vs_id, module in _declared(declaration).items():
        vs = valueset(vs_id)
        # A search can only name codes: an is-a filter cannot be requested code by code.
        assert not vs.prefixes, f"{vs_id} ({module}) has is-a filters: list its codes"
        for system, code in sorted(vs.codes):
            for service_id, tokens in requested.items():
                assert f"{system}|{code}" in tokens, (
                    f"{module} reads {resource_type} {system}|{code} ({vs_id}) but"
                    f" {service_id} does not request it"
                )


def test_a_code_missing_from_the_prefetch_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check fails when a declared code is not requested (here: a module reading 24587-8)."""
    from cds_service.state import imaging

    monkeypatch.setattr(imaging, "OBSERVATION_VALUESETS", ("brain-mri",), raising=False)
    with pytest.raises(AssertionError, match="24587-8"):
        test_every_declared_code_is_requested("OBSERVATION_VALUESETS", False)


@pytest.mark.parametrize("fill", [False, True], ids=["prefetch-template", "fetch-query"])
def test_every_open_order_status_is_requested(fill: bool) -> None:
    """state/active_orders reads ServiceRequests active or on-hold: every service asks for both,
    and for nothing else (a draft is unsigned; the hook's own drafts come in its context)."""
    from cds_service.state.active_orders import OPEN_STATUSES

    requested = _requested("ServiceRequest", "status", fill)
    for service_id, statuses in requested.items():
        assert statuses == set(OPEN_STATUSES), f"{service_id} asks for ServiceRequest {statuses}"
