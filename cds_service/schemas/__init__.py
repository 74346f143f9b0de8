"""JSON Schemas of the CDS Hooks contracts, compiled once; error messages that name the field."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib import resources

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

_MAX_MESSAGE = 240
# For these keywords the bare message ("... does not match '^[A-Z...'") says little; the
# schema's description says what was expected.
_DESCRIBED = frozenset({"pattern", "const", "enum", "not", "maxLength", "maxContains"})


@cache
def validator(name: str) -> Draft202012Validator:
    """The compiled validator for `<name>.schema.json` in this package (e.g. "hook-request")."""
    text = resources.files(__name__).joinpath(f"{name}.schema.json").read_text(encoding="utf-8")
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def field_path(parts: Iterable[str | int], root: str = "body") -> str:
    """`context.selections[0]` from ("context", "selections", 0); `root` for the document."""
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or root


def _describe(error: ValidationError) -> str:
    instance = error.instance if isinstance(error.instance, dict) else {}
    if error.validator == "required":
        missing = next((p for p in error.validator_value if p not in instance), "?")
        return f"{field_path([*error.absolute_path, missing])}: is required"
    if error.validator == "dependentRequired":
        for present, needed in error.validator_value.items():
            absent = next((p for p in needed if p not in instance), None)
            if present in instance and absent is not None:
                where = field_path([*error.absolute_path, absent])
                return f"{where}: is required when {present} is present"
    description = error.schema.get("description") if isinstance(error.schema, dict) else None
    if description and error.validator in _DESCRIBED:
        message = f"{_short(error.instance)} is invalid: {description}"
    else:
        message = error.message
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 3] + "..."
    return f"{field_path(error.absolute_path)}: {message}"


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def first_error(validator: Draft202012Validator, instance: object) -> str | None:
    """None when valid, else one message naming the offending field path."""
    error = best_match(validator.iter_errors(instance))
    return None if error is None else _describe(error)
