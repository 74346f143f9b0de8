"""The elements of a resource that the derivation reads, type-checked at pydantic-core speed.

fhir.resources validates every element of a resource through Python validators (about 0.25 ms a
resource); the derivation reads a few elements of each. Every resource the derivation sees goes
through this view first: the elements it reads (READ_ELEMENTS), each typed as FHIR R4 defines it
(names, cardinality and required-ness are taken from the fhir.resources R4B models; element
structure from the lean types below; primitives from the FHIR regular expressions), checked in
Rust. A resource whose read elements are malformed is skipped and reported, as before. The views
of the resources an answer rests on are then validated by fhir.resources (fhir/record.confirm), so
every element a card rests on is valid R4 as fhir.resources judges it. Elements no rule reads
(narrative, identifiers, meta) are not judged: a glitch there must not hide a card.
"""

from __future__ import annotations

import typing
from functools import cache
from typing import Annotated, Any, NotRequired, Required, Union

from pydantic import (
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    TypeAdapter,
)
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from cds_service.fhir.models import MODEL_CLASSES

# Every top-level element any derivation step reads (state/*). A resource type that has no such
# element simply has none in its view; the test beside this module proves the derivation reads
# nothing else (same state from views as from whole resources, on every fixture and example).
READ_ELEMENTS = frozenset(
    {
        "id",
        "status",
        "intent",
        "clinicalStatus",
        "verificationStatus",
        "statusReason",
        "code",
        "procedureCode",
        "bodySite",
        "modality",
        "series",
        "medicationCodeableConcept",
        "medicationReference",
        "contained",
        "reasonCode",
        "reasonReference",
        "focus",
        "interpretation",
        "component",  # Observation only (ISH panel numbers, tumour size): see READ_ONLY_ON
        "category",  # DiagnosticReport only (radiology or pathology): see READ_ONLY_ON
        "conclusionCode",
        "presentedForm",
        "valueCodeableConcept",
        "valueQuantity",
        "valueString",
        "valueInteger",
        "valueRatio",  # HER2/CEP17 ratio (state/her2)
        "hasMember",  # ISH panel members (state/her2)
        "conclusion",
        "description",
        "note",
        "extension",
        "dosageInstruction",
        "onsetDateTime",
        "onsetPeriod",
        "abatementDateTime",
        "effectiveDateTime",
        "effectivePeriod",
        "effectiveInstant",
        "performedDateTime",
        "performedPeriod",
        "started",
        "occurrenceDateTime",
        "occurrencePeriod",
        "recordedDate",
        "issued",
        "authoredOn",
        # Medication exposure (state/medication, state/exposures): how an order, a dispense or a
        # Medication resource dates and names a course.
        "reportedBoolean",
        "doNotPerform",
        "dispenseRequest",
        "priorPrescription",
        "whenHandedOver",
        "daysSupply",
        "quantity",  # MedicationDispense only: with a daily dose, its days' supply (see below)
        "authorizingPrescription",  # the order whose dose a dispense without daysSupply reads
        "ingredient",
    }
)

# Elements read on some resource types only: elsewhere they are neither judged nor paid for (every
# Condition and Observation of a record has a category; only a report's says it is radiology or
# pathology). Checking every resource's category would cost a quarter of the view's time on an
# EHR-sized record.
READ_ONLY_ON = {
    "category": frozenset({"DiagnosticReport"}),
    "component": frozenset({"Observation"}),
    "quantity": frozenset({"MedicationDispense"}),
}

# FHIR R4 primitive types (http://hl7.org/fhir/R4/datatypes.html), anchored.
_YEAR = r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
_MONTH = r"-(0[1-9]|1[0-2])"
_DAY = r"-(0[1-9]|[1-2][0-9]|3[0-1])"
_TIME = r"T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
FhirDate = Annotated[str, Field(strict=True, pattern=rf"^{_YEAR}({_MONTH}({_DAY})?)?$")]
FhirDateTime = Annotated[
    str, Field(strict=True, pattern=rf"^{_YEAR}({_MONTH}({_DAY}({_TIME})?)?)?$")
]
FhirInstant = Annotated[str, Field(strict=True, pattern=rf"^{_YEAR}{_MONTH}{_DAY}{_TIME}$")]
FhirString = Annotated[str, Field(strict=True, pattern=r"^[ \r\n\t\S]+$")]
FhirMarkdown = StrictStr  # may be empty, unlike string
FhirCode = Annotated[str, Field(strict=True, pattern=r"^[^\s]+(\s[^\s]+)*$")]
FhirId = Annotated[str, Field(strict=True, pattern=r"^[A-Za-z0-9\-\.]{1,64}$")]
FhirUri = Annotated[str, Field(strict=True, pattern=r"^\S*$")]
FhirUnsignedInt = Annotated[int, Field(strict=True, ge=0)]
FhirPositiveInt = Annotated[int, Field(strict=True, ge=1)]
FhirDecimal = StrictInt | StrictFloat
FhirBase64 = Annotated[str, Field(strict=True, pattern=r"^[A-Za-z0-9+/=\s]*$")]

_STRICT = ConfigDict(strict=True)


# Lean element types: the parts of each element the derivation reads. Their names, cardinality
# and types are checked against the fhir.resources models by tests/test_view.py.
class Coding(TypedDict, total=False):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    system: FhirUri
    version: FhirString
    code: FhirCode
    display: FhirString


class CodeableConcept(TypedDict, total=False):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    extension: list[Extension]  # mCODE laterality qualifier on a bodySite
    coding: list[Coding]
    text: FhirString


class Reference(TypedDict, total=False):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    reference: FhirString
    type: FhirUri
    display: FhirString


class Period(TypedDict, total=False):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    start: FhirDateTime
    end: FhirDateTime


class Quantity(TypedDict, total=False):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    value: FhirDecimal
    comparator: FhirCode
    unit: FhirString
    system: FhirUri
    code: FhirCode


class Ratio(TypedDict, total=False):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    numerator: Quantity
    denominator: Quantity


class ObservationComponent(TypedDict, total=False):
    """A component (an ISH panel's ratio or copy number): its code and the values read."""

    __pydantic_config__ = _STRICT  # type: ignore[misc]
    code: Required[CodeableConcept]
    valueQuantity: Quantity
    valueCodeableConcept: CodeableConcept
    valueString: FhirString
    valueInteger: StrictInt
    valueRatio: Ratio
    interpretation: list[CodeableConcept]


class Annotation(TypedDict, total=False):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    text: Required[FhirMarkdown]


class Extension(TypedDict, total=False):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    url: Required[FhirUri]
    extension: list[Extension]
    valueReference: Reference
    valueUnsignedInt: FhirUnsignedInt
    # Cerner pharmacy-verification-status, laterality, progression qualifier
    valueCodeableConcept: CodeableConcept
    valueDate: FhirDate  # athena ah-stop-date
    valueDateTime: FhirDateTime
    valueQuantity: Quantity  # radiotherapy dose delivered
    valueBoolean: StrictBool  # radiotherapy re-irradiation


class Duration(TypedDict, total=False):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    value: FhirDecimal
    comparator: FhirCode
    unit: FhirString
    system: FhirUri
    code: FhirCode


class Attachment(TypedDict, total=False):
    """A report's presentedForm: its text is read when it is plain text."""

    __pydantic_config__ = _STRICT  # type: ignore[misc]
    contentType: FhirCode
    data: FhirBase64  # decoded (or found unreadable) by the derivation


class TimingRepeat(TypedDict, total=False):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    boundsPeriod: Period
    boundsDuration: Duration
    count: FhirPositiveInt
    frequency: FhirPositiveInt
    period: FhirDecimal
    periodUnit: FhirCode


class Timing(TypedDict, total=False):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    repeat: TimingRepeat


class DosageDoseAndRate(TypedDict, total=False):
    """One dose of a dosage (Epic sends three, typed calculated, admin-amount and ordered)."""

    __pydantic_config__ = _STRICT  # type: ignore[misc]
    type: CodeableConcept
    doseQuantity: Quantity


class Dosage(TypedDict, total=False):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    text: FhirString  # Epic: "... Until Wed 5/27/2020"
    timing: Timing
    doseAndRate: list[DosageDoseAndRate]  # a dispense's daily dose (state/exposures)


class MedicationRequestDispenseRequest(TypedDict, total=False):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    validityPeriod: Period
    numberOfRepeatsAllowed: FhirUnsignedInt
    expectedSupplyDuration: Duration


class MedicationIngredient(TypedDict, total=False):
    """An ingredient of a Medication: Cerner mixtures carry the drug's codes only here."""

    __pydantic_config__ = _STRICT  # type: ignore[misc]
    itemCodeableConcept: CodeableConcept
    itemReference: Reference


class ImagingStudySeries(TypedDict, total=False):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    uid: Required[FhirId]  # not read, but required: confirm() validates the view
    modality: Required[Coding]
    bodySite: Coding


class ContainedResource(TypedDict, total=False):
    """A contained resource (a Medication, for medicationReference "#id"): what is read of it."""

    __pydantic_config__ = _STRICT  # type: ignore[misc]
    resourceType: Required[StrictStr]
    id: FhirId
    code: CodeableConcept
    ingredient: list[MedicationIngredient]


# fhir.resources element type name -> lean type.
LEAN_TYPES: dict[str, Any] = {
    "Coding": Coding,
    "CodeableConcept": CodeableConcept,
    "Reference": Reference,
    "Period": Period,
    "Quantity": Quantity,
    "Ratio": Ratio,
    "ObservationComponent": ObservationComponent,
    "Annotation": Annotation,
    "Extension": Extension,
    "Attachment": Attachment,
    "Dosage": Dosage,
    "DosageDoseAndRate": DosageDoseAndRate,
    "Duration": Duration,
    "MedicationRequestDispenseRequest": MedicationRequestDispenseRequest,
    "MedicationIngredient": MedicationIngredient,
    "Timing": Timing,
    "TimingRepeat": TimingRepeat,
    "ImagingStudySeries": ImagingStudySeries,
    "Resource": ContainedResource,
    # primitives (the fhir_core annotation's marker class)
    "Code": FhirCode,
    "Id": FhirId,
    "String": FhirString,
    "Markdown": FhirMarkdown,
    "Uri": FhirUri,
    "Date": FhirDate,
    "DateTime": FhirDateTime,
    "Instant": FhirInstant,
    "Integer": StrictInt,
    "UnsignedInt": FhirUnsignedInt,
    "PositiveInt": FhirPositiveInt,
    "Decimal": FhirDecimal,
    "Boolean": StrictBool,
    "Base64Binary": FhirBase64,
}


def fhir_type_name(annotation: Any) -> tuple[str, bool]:
    """(FHIR type name, is a list) of a fhir.resources field annotation."""
    is_list = False
    pending = [annotation]
    while pending:
        current = pending.pop()
        if hasattr(current, "get_model_klass"):
            return current.get_model_klass().__name__, is_list
        if current is bool:  # fhir.resources types boolean elements as plain bool
            return "Boolean", is_list
        if typing.get_origin(current) is list:
            is_list = True
        if typing.get_origin(current) is Annotated:
            # The FHIR type is the last marker (base64Binary: EncodedBytes, then Base64Binary).
            marker = typing.get_args(current)[-1]
            return type(marker).__name__, is_list
        if current is bool:  # fhir.resources types FHIR boolean as plain bool
            return "Boolean", is_list
        pending.extend(typing.get_args(current))
    raise TypeError(f"no FHIR type in {annotation!r}")


def _field_type(resource_type: str, name: str, info: Any) -> Any:
    type_name, is_list = fhir_type_name(info.annotation)
    if type_name not in LEAN_TYPES:
        raise TypeError(f"{resource_type}.{name} is a {type_name}: add a lean type for it")
    lean: Any = LEAN_TYPES[type_name]
    if is_list:
        lean = list[lean]  # type: ignore[valid-type]  # built at run time from the FHIR model
    return Required[lean] if _required(info) else NotRequired[lean]


def _required(info: Any) -> bool:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    return bool(info.is_required() or extra.get("element_required"))


@cache
def _choice_groups(resource_type: str) -> tuple[tuple[str, bool, frozenset[str]], ...]:
    """(group, required, element names) of each choice type [x] holding an element we read.

    Checked on the whole resource: "onsetDateTime" beside "onsetAge" is as invalid as two read
    elements, and the view must not pick one of two contradicting values."""
    model = MODEL_CLASSES[resource_type]
    groups: dict[str, tuple[bool, list[str]]] = {}
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        group = extra.get("one_of_many")
        if isinstance(group, str):
            required, names = groups.setdefault(
                group, (bool(extra.get("one_of_many_required")), [])
            )
            names.append(info.alias or name)
    return tuple(
        (group, required, frozenset(names))
        for group, (required, names) in groups.items()
        if READ_ELEMENTS.intersection(names)
    )


# A TypedDict whose fields are known only at run time (type checkers want literal fields).
_make_typed_dict: Any = TypedDict


@cache
def _view_type(resource_type: str) -> Any:
    """The TypedDict of a resource type's view."""
    model = MODEL_CLASSES[resource_type]
    fields: dict[str, Any] = {"resourceType": Required[StrictStr]}
    for name, info in model.model_fields.items():
        alias = info.alias or name
        # Required elements too: a resource without them is invalid, whatever we read of it.
        read = alias in READ_ELEMENTS and resource_type in READ_ONLY_ON.get(alias, {resource_type})
        if read or _required(info):
            fields[alias] = _field_type(resource_type, alias, info)
    view = _make_typed_dict(f"{resource_type}View", fields, total=False)
    view.__pydantic_config__ = _STRICT
    return view


# Where a resource's own code is (looked at first: it is most often coded).
_OWN_CODES = ("code", "medicationCodeableConcept", "procedureCode")


@cache
def concept_elements(resource_type: str) -> tuple[str, ...]:
    """The elements of a resource type's view that are CodeableConcepts (one or a list), a
    resource's own code first (where a code most often is): a code in one stays in the view."""
    fields = _view_type(resource_type).__annotations__
    names = [
        name
        for name, annotation in fields.items()
        if CodeableConcept in (arg := typing.get_args(annotation)[0], *typing.get_args(arg))
    ]
    return tuple(sorted(names, key=lambda name: (name not in _OWN_CODES, name)))


@cache
def view_adapter(resource_type: str) -> TypeAdapter[dict[str, Any]]:
    """The compiled validator of a resource type's view (built once per type)."""
    return TypeAdapter(_view_type(resource_type))


def _resource_type(resource: Any) -> str | None:
    return resource.get("resourceType") if isinstance(resource, dict) else None


@cache
def _many_adapter() -> TypeAdapter[list[dict[str, Any]]]:
    """One validator for a list of resources of any type we read (one call into pydantic-core)."""
    tagged = tuple(Annotated[_view_type(t), Tag(t)] for t in MODEL_CLASSES)
    return TypeAdapter(list[Annotated[Union[tagged], Discriminator(_resource_type)]])  # type: ignore[valid-type]  # noqa: UP007


class ChoiceError(ValueError):
    """Two values for one choice element, or none for a required one."""


def _prepared(resource: dict[str, Any]) -> dict[str, Any]:
    """`resource` without null elements, once its choice elements [x] are checked."""
    if None in resource.values():
        # null is not FHIR JSON, but fhir.resources reads a null element as absent: so does the view.
        resource = {k: v for k, v in resource.items() if v is not None}
    for group, required, names in _choice_groups(resource["resourceType"]):
        present = len(names & resource.keys())
        if present > 1:
            raise ChoiceError(f"{group}[x]: {present} values")
        if required and not present:
            raise ChoiceError(f"{group}[x]: missing")
    return resource


def view_of(resource: dict[str, Any]) -> dict[str, Any]:
    """The read elements of `resource`, checked; raises pydantic's ValidationError or ChoiceError."""
    return view_adapter(resource["resourceType"]).validate_python(_prepared(resource))


def views_of(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """view_of each resource (all of types we read) in one pass; raises if any is malformed."""
    return _many_adapter().validate_python([_prepared(r) for r in resources])
