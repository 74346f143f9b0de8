"""The compiled hook-request check gives jsonschema's verdict; 400 messages are jsonschema's own."""

from __future__ import annotations

import copy
import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest
from hook_requests import EXTERNAL, external, hook_request

from cds_service.errors import BadRequest
from cds_service.schemas import checker, first_error, is_valid, validator
from cds_service.services import SERVICES
from cds_service.web.validation import validate_hook_request

HOOKS = ("patient-view", "order-select", "order-sign")
SPEC_REQUESTS = sorted(p.relative_to(EXTERNAL).as_posix() for p in EXTERNAL.rglob("*request*.json"))
# Values a broken EHR sends in place of any field: each JSON type, edge numbers, odd strings.
ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    1.0,
    3600.5,
    float("nan"),
    "",
    " ",
    "x",
    "Patient/pat-1",
    "pat-1",
    "Practitioner/prac-1",
    "MedicationRequest/draft-1",
    "Bearer",
    "bearer",
    "patient-view",
    "order-select",
    "order-sign",
    "https://ehr.example.org/fhir",
    "ftp://x",
    "a\nb",
    "pat-1\n",  # `$` matches before a final newline: search, not fullmatch
    "Practitioner/prac-1\n",
    "é" * 3,
    "x" * 129,
    [],
    ["MedicationRequest/draft-1"],
    [1],
    {},
    {"resourceType": "Bundle"},
    {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "X", "id": "1"}}]},
    {"resourceType": "Bundle", "entry": [{}]},
    {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "lower"}}]},
]
AUTHORIZATION = {
    "access_token": "some-opaque-fhir-access-token",
    "token_type": "Bearer",
    "expires_in": 300,
    "scope": "user/Patient.read user/Observation.read",
    "subject": "cds-service4",
    "patient": "pat-1",
}


def _paths(value: Any, path: tuple = ()) -> list[tuple]:
    """Every place in a JSON document, the document itself first."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


def _mutated(request: dict, rng: random.Random) -> Any:
    """`request` with one to three places replaced, removed or given an extra member."""
    result: Any = copy.deepcopy(request)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(_paths(result))
        if not path:
            return rng.choice(ODD_VALUES)
        parent = result
        for part in path[:-1]:
            parent = parent[part]
        action = rng.random()
        if action < 0.2 and isinstance(parent, dict):
            del parent[path[-1]]
        elif action < 0.3 and isinstance(parent[path[-1]], dict):
            parent[path[-1]][rng.choice(["id", "hook", "extra", "patient"])] = rng.choice(
                ODD_VALUES
            )
        else:
            parent[path[-1]] = copy.deepcopy(rng.choice(ODD_VALUES))
    return result


def _valid_requests() -> list[dict]:
    requests = [hook_request(hook) for hook in HOOKS]
    requests += [
        hook_request(
            hook, fhirServer="https://ehr.example.org/fhir", fhirAuthorization=AUTHORIZATION
        )
        for hook in HOOKS
    ]
    return requests + [external(name) for name in SPEC_REQUESTS]


def test_the_hook_request_schema_is_compiled_not_handed_back_to_jsonschema():
    assert checker("hook-request") != validator("hook-request").is_valid


def _replaced(request: dict, path: tuple, value: Any) -> Any:
    if not path:
        return value
    result = copy.deepcopy(request)
    parent = result
    for part in path[:-1]:
        parent = parent[part]
    if value is _DELETE:
        if isinstance(parent, list):
            return None
        del parent[path[-1]]
    else:
        parent[path[-1]] = copy.deepcopy(value)
    return result


_DELETE = object()


def _same_verdict_or_stricter(request: object) -> bool:
    """The quick check never accepts what jsonschema rejects. It may reject what jsonschema
    accepts only where Python's `$` lets a trailing newline through (JSON Schema's ECMA-262 `$`
    does not); validate_hook_request then goes by jsonschema's verdict."""
    fast, slow = is_valid("hook-request", request), validator("hook-request").is_valid(request)
    return fast == slow or (slow and not fast and "\\n" in json.dumps(request))


@pytest.mark.parametrize("hook", HOOKS)
def test_the_compiled_check_agrees_with_jsonschema_on_every_one_field_change(hook):
    """Each place of a valid request (with fhirAuthorization) removed or given each odd value."""
    request = hook_request(
        hook, fhirServer="https://ehr.example.org/fhir", fhirAuthorization=AUTHORIZATION
    )
    verdicts = set()
    for path in _paths(request):
        for value in [_DELETE, *ODD_VALUES]:
            changed = _replaced(request, path, value)
            assert _same_verdict_or_stricter(changed), (path, value)
            verdicts.add(is_valid("hook-request", changed))
    assert verdicts == {True, False}


@pytest.mark.parametrize("seed", range(4))
def test_the_compiled_check_agrees_with_jsonschema_on_broken_requests(seed):
    rng = random.Random(seed)
    valid_seen = invalid_seen = 0
    for _ in range(600):
        request = _mutated(rng.choice(_valid_requests()), rng)
        assert _same_verdict_or_stricter(request), request
        expected = is_valid("hook-request", request)
        valid_seen += expected
        invalid_seen += not expected
    assert valid_seen > 50 and invalid_seen > 50  # both verdicts were exercised


@pytest.mark.parametrize("name", SPEC_REQUESTS)
def test_the_compiled_check_agrees_on_the_spec_examples(name):
    request = external(name)
    assert _same_verdict_or_stricter(request)


def test_a_valid_request_passes_and_a_broken_one_gets_jsonschemas_message():
    rng = random.Random(8)
    for _ in range(300):
        hook = rng.choice(HOOKS)
        service = next(s for s in SERVICES if s.hook == hook)
        request = _mutated(hook_request(hook), rng)
        expected = first_error(validator("hook-request"), request)
        hook_field = request.get("hook") if isinstance(request, dict) else None
        if expected is None or (isinstance(hook_field, str) and hook_field != hook):
            continue  # valid, or refused earlier for the wrong hook: not the schema's message
        with pytest.raises(BadRequest) as refused:
            validate_hook_request(service, request)
        assert refused.value.message == expected


def test_the_bench_requests_are_valid():
    bench = Path(__file__).resolve().parents[2] / "bench"
    sys.path.insert(0, str(bench))
    try:
        import generate  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(bench))
    for size in (30, 200):
        request = generate.generate(size)
        assert is_valid("hook-request", request)
        assert validator("hook-request").is_valid(request)


def test_a_keyword_draft_07_reads_differently_is_left_to_jsonschema():
    from cds_service.schemas import _as_draft7, _Unsupported

    with pytest.raises(_Unsupported):
        _as_draft7({"properties": {"a": {"prefixItems": [{"type": "string"}]}}})
    assert _as_draft7({"dependentRequired": {"a": ["b"]}}) == {"dependencies": {"a": ["b"]}}
