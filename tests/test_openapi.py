"""openapi.yaml describes exactly the routes the app serves, with schemas that exist."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SPEC = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


def served_routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():  # Flask's /static included: there must be none
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        routes.update((path, m.lower()) for m in rule.methods if m.lower() in HTTP_METHODS)
    return routes


def documented_routes() -> set[tuple[str, str]]:
    return {(path, m) for path, item in SPEC["paths"].items() for m in item if m in HTTP_METHODS}


def test_openapi_paths_and_methods_match_the_app(app):
    assert documented_routes() == served_routes(app)


def test_openapi_documents_the_service_ids_the_app_serves(client):
    ids = {s["id"] for s in client.get("/cds-services").get_json()["services"]}

    assert set(SPEC["components"]["parameters"]["serviceId"]["schema"]["enum"]) == ids


def test_every_file_the_openapi_refers_to_exists():
    refs = re.findall(r"\$ref: (\./\S+)", (ROOT / "openapi.yaml").read_text(encoding="utf-8"))

    assert refs
    assert [ref for ref in refs if not (ROOT / ref).is_file()] == []
