"""JSON Schemas of the CDS Hooks contracts, compiled once; error messages that name the field."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema
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


def is_valid(name: str, instance: object) -> bool:
    """Whether `instance` is valid against `<name>.schema.json`: the same verdict as
    `validator(name)`, an order of magnitude sooner (the error walk is for invalid instances)."""
    return checker(name)(instance)


# Draft 2020-12 keywords that fastjsonschema (draft-07) reads the same way; a schema using any
# other keyword is checked by jsonschema itself rather than risk a different verdict.
_SAME_IN_DRAFT7 = frozenset(
    {
        "$schema", "$id", "$defs", "$ref", "$comment", "title", "description", "examples",
        "default", "type", "required", "properties", "items", "minItems", "minLength",
        "pattern", "minimum", "const", "enum", "allOf", "if", "then", "else",
    }
)  # fmt: skip


@cache
def checker(name: str) -> Callable[[object], bool]:
    """`<name>.schema.json` compiled to Python code by fastjsonschema, for the verdict only
    (messages come from jsonschema: first_error); jsonschema's own check when the schema uses a
    keyword draft-07 reads differently."""
    schema = validator(name).schema
    try:
        compiled = fastjsonschema.compile(_as_draft7(schema))
    except _Unsupported:
        return validator(name).is_valid

    def check(instance: object) -> bool:
        try:
            compiled(instance)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    return check


class _Unsupported(Exception):
    """The schema uses a keyword fastjsonschema would not read as Draft 2020-12 does."""


def _as_draft7(schema: Any) -> Any:
    """The schema in draft-07 spelling: `dependentRequired` is draft-07's array `dependencies`."""
    if not isinstance(schema, dict):
        return schema  # true / false
    converted: dict[str, Any] = {}
    for key, value in schema.items():
        if key not in _SAME_IN_DRAFT7 and key != "dependentRequired":
            raise _Unsupported(key)
        if key in ("properties", "$defs"):  # names -> subschemas
            converted[key] = {name: _as_draft7(sub) for name, sub in value.items()}
        elif key in ("items", "if", "then", "else"):
            converted[key] = _as_draft7(value)
        elif key == "allOf":
            converted[key] = [_as_draft7(sub) for sub in value]
        elif key == "$schema":
            converted[key] = "http://json-schema.org/draft-07/schema#"
        elif key == "dependentRequired":
            converted["dependencies"] = value
        else:  # values, not subschemas (type, required, pattern, const, ...)
            converted[key] = value
    return converted


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
