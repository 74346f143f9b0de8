"""Check a CDS Hooks 2.0 feedback body against its JSON Schema and normalise each item."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any, cast

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from cds_service.errors import BadRequest

# RFC 3339 §5.6 date-time; jsonschema only checks "date-time" when an optional package is
# installed, so the check is ours and always on.
_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_MAX_ERRORS = 5
_MAX_MESSAGE = 200


@dataclass(frozen=True)
class FeedbackItem:
    """One feedback entry, normalised (timestamps in UTC, suggestion ids sorted)."""

    card_uuid: str
    outcome: str
    outcome_at: datetime
    accepted_suggestions: tuple[str, ...] = ()
    reason_system: str | None = None
    reason_code: str | None = None
    reason_display: str | None = None
    user_comment: str | None = None

    def dedup_key(self, service_id: str) -> str:
        """Identity of a feedback event: what makes a re-sent copy the same feedback."""
        identity = [
            service_id,
            self.card_uuid,
            self.outcome,
            self.outcome_at.isoformat(),
            list(self.accepted_suggestions),
            self.reason_system,
            self.reason_code,
        ]
        canonical = json.dumps(identity, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse_rfc3339(value: str) -> datetime | None:
    """The instant an RFC 3339 date-time names, in UTC; None when it is not one."""
    match = _RFC3339.match(value)
    if not match:
        return None
    day, clock, fraction, offset = match.groups()
    fraction = (fraction or "")[:7]  # datetime keeps microseconds; finer digits are dropped
    offset = "+00:00" if offset in ("Z", "z") else offset
    try:
        return datetime.fromisoformat(f"{day}T{clock}{fraction}{offset}").astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: 0001-01-01T00:00:00+14:00 is before year 1
        return None


_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("date-time")
def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or parse_rfc3339(value) is not None


@cache
def _validator() -> Draft202012Validator:
    text = resources.files("cds_service.schemas").joinpath("feedback.schema.json").read_text()
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=_FORMATS)


def parse_feedback(body: object) -> list[FeedbackItem]:
    """Validate a feedback body; raises BadRequest naming each offending field."""
    errors = sorted(_validator().iter_errors(body), key=_error_order)
    if errors:
        raise BadRequest("; ".join(_describe(error) for error in errors[:_MAX_ERRORS]))
    return [_item(entry) for entry in cast(Mapping[str, Any], body)["feedback"]]


def _item(entry: Mapping[str, Any]) -> FeedbackItem:
    reason = entry.get("overrideReason") or {}
    coding = reason.get("reason") or {}
    outcome_at = cast(datetime, parse_rfc3339(entry["outcomeTimestamp"]))  # format checked
    return FeedbackItem(
        card_uuid=entry["card"],
        outcome=entry["outcome"],
        outcome_at=outcome_at,
        accepted_suggestions=tuple(sorted(s["id"] for s in entry.get("acceptedSuggestions", ()))),
        reason_system=coding.get("system"),
        reason_code=coding.get("code"),
        reason_display=coding.get("display"),
        user_comment=reason.get("userComment"),
    )


def _error_order(error: ValidationError) -> tuple:
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in error.absolute_path)


def _path(parts: Iterable[object]) -> str:
    text = "body"
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.removeprefix("body.") if text != "body" else text


def _describe(error: ValidationError) -> str:
    return f"{_path(error.absolute_path)}: {_message(error)}"


def _message(error: ValidationError) -> str:
    if error.validator == "anyOf" and all(
        set(sub) == {"required"} for sub in error.validator_value
    ):
        names = ", ".join(repr(name) for sub in error.validator_value for name in sub["required"])
        return f"needs at least one of {names}"
    message = error.message
    if len(message) > _MAX_MESSAGE:
        message = message[:_MAX_MESSAGE] + "..."
    if "then" in error.schema_path:
        # The only conditional in the schema: CDS Hooks requires suggestions for an acceptance.
        message += " when outcome is 'accepted'"
    return message
