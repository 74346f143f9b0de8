"""Drive the service from a test harness: hook requests built from FHIR Bundles, posted, cards read.

    from cds_service.testing import hook_request, post_hook
    request = hook_request(bundle, "order-select", draft_orders=[lapatinib], selections=["MedicationRequest/x"])
    result = post_hook(client, request)          # a Flask test client or a base URL
    assert [c["indicator"] for c in result.cards] == ["critical"]
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from cds_service.services import SERVICES, ServiceDefinition

AS_OF_EXTENSION = "org.her2cns.asOfDate"
SERVICE_FOR_HOOK = {s.hook: s for s in SERVICES}


def load_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def bundle_resources(bundle: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry", []) if isinstance(e, Mapping) and "resource" in e]


def _patient_of(resource: Mapping[str, Any]) -> str | None:
    for key in ("subject", "patient"):
        ref = resource.get(key)
        if isinstance(ref, Mapping) and isinstance(ref.get("reference"), str):
            return ref["reference"].rsplit("/", 1)[-1]
    return None


def _has_code(resource: Mapping[str, Any], tokens: Sequence[str]) -> bool:
    codings = (resource.get("code") or {}).get("coding") or []
    for token in tokens:
        system, _, code = token.rpartition("|")
        if any(c.get("code") == code and (not system or c.get("system") == system) for c in codings):
            return True
    return False


def run_query(query: str, resources: Iterable[Mapping[str, Any]]) -> Any:
    """Answer a prefetch query (read or search with `patient` and `code`) from in-memory resources."""
    path, _, params = query.partition("?")
    resources = list(resources)
    if "/" in path:  # instance read, e.g. Patient/123
        resource_type, resource_id = path.split("/", 1)
        return next((r for r in resources if r.get("resourceType") == resource_type and r.get("id") == resource_id), None)
    matches = [r for r in resources if r.get("resourceType") == path]
    for name, value in parse_qsl(params):
        if name == "patient":
            matches = [r for r in matches if _patient_of(r) == value.rsplit("/", 1)[-1]]
        elif name == "code":
            matches = [r for r in matches if _has_code(r, value.split(","))]
        else:
            raise ValueError(f"search parameter {name!r} not supported here")
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(matches),
        "entry": [{"fullUrl": f"{r['resourceType']}/{r.get('id')}", "resource": r} for r in matches],
    }


def prefetch_for(service: ServiceDefinition, resources: Sequence[Mapping[str, Any]], context: Mapping[str, Any]) -> dict[str, Any]:
    """Fill every prefetch template of `service` as an EHR honouring them all would."""
    prefetch = {}
    for key, template in service.prefetch.items():
        query = template
        for name, value in context.items():
            if isinstance(value, str):
                query = query.replace("{{context.%s}}" % name, value)
        prefetch[key] = run_query(query, resources)
    return prefetch


def hook_request(
    bundle: Mapping[str, Any],
    hook: str,
    *,
    patient_id: str | None = None,
    draft_orders: Sequence[Mapping[str, Any]] = (),
    selections: Sequence[str] | None = None,
    user_id: str = "Practitioner/example",
    hook_instance: str | None = None,
    as_of: str | None = None,
    with_prefetch: bool = True,
) -> dict[str, Any]:
    """A CDS Hooks request for `hook` about the patient in `bundle`; prefetch from our templates."""
    resources = bundle_resources(bundle)
    if patient_id is None:
        patient_id = next((r["id"] for r in resources if r.get("resourceType") == "Patient"), None)
        if patient_id is None:
            raise ValueError("no Patient in the bundle: pass patient_id")
    context: dict[str, Any] = {"userId": user_id, "patientId": patient_id}
    if hook in ("order-select", "order-sign"):
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": dict(order)} for order in draft_orders],
        }
        if hook == "order-select":
            context["selections"] = list(
                selections if selections is not None else [f"{o['resourceType']}/{o['id']}" for o in draft_orders]
            )
    request: dict[str, Any] = {
        "hookInstance": hook_instance or str(uuid.uuid4()),
        "hook": hook,
        "context": context,
    }
    if with_prefetch:
        request["prefetch"] = prefetch_for(SERVICE_FOR_HOOK[hook], resources, context)
    if as_of:
        request["extension"] = {AS_OF_EXTENSION: as_of}
    return request


@dataclass(frozen=True)
class HookResult:
    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def cards(self) -> list[dict[str, Any]]:
        return list(self.body.get("cards", [])) if isinstance(self.body, Mapping) else []


def post_hook(target: Any, request: Mapping[str, Any], *, service_id: str | None = None, headers: Mapping[str, str] | None = None, timeout: float = 10.0) -> HookResult:
    """POST to a Flask test client or to a base URL (`http://127.0.0.1:8080`)."""
    service_id = service_id or SERVICE_FOR_HOOK[request["hook"]].id
    path = f"/cds-services/{service_id}"
    if isinstance(target, str):
        import requests  # only needed against a running service

        response = requests.post(target.rstrip("/") + path, json=request, headers=dict(headers or {}), timeout=timeout)
        body = response.json() if response.content else None
        return HookResult(response.status_code, body, dict(response.headers))
    response = target.post(path, json=request, headers=dict(headers or {}))
    return HookResult(response.status_code, response.get_json(silent=True), dict(response.headers))
