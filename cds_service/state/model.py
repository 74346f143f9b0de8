"""The patient state the rules read: facts derived from the record, each with its evidence."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date
from typing import Generic, Literal, TypeVar

T = TypeVar("T")


class Unknown:
    """The value of a fact the record cannot tell. Falsy use is a bug, so bool() raises."""

    _instance: Unknown | None = None

    def __new__(cls) -> Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __str__(self) -> str:
        return "unknown"

    def __bool__(self) -> bool:
        raise TypeError("UNKNOWN has no truth value: test `is UNKNOWN` or use Fact.known")

    def __reduce__(self) -> str:
        return "UNKNOWN"


UNKNOWN = Unknown()

Precision = Literal["year", "month", "day"]


@dataclass(frozen=True, slots=True, order=True)
class FhirDate:
    """A FHIR date/dateTime reduced to a day range: `2024` spans the year, `2024-05` the month."""

    earliest: date
    latest: date
    precision: Precision
    text: str

    @classmethod
    def parse(cls, raw: object) -> FhirDate | None:
        """Parse `YYYY`, `YYYY-MM`, `YYYY-MM-DD` or a dateTime; None when absent or unreadable."""
        if isinstance(raw, date):
            return cls(raw, raw, "day", raw.isoformat())
        if not isinstance(raw, str) or len(raw) < 4:
            return None
        text = raw[:10]
        try:
            year = int(text[:4])
            if len(text) == 4:
                return cls(date(year, 1, 1), date(year, 12, 31), "year", text)
            month = int(text[5:7])
            if len(text) == 7:
                last = calendar.monthrange(year, month)[1]
                return cls(date(year, month, 1), date(year, month, last), "month", text)
            day = date(year, month, int(text[8:10]))
            return cls(day, day, "day", text)
        except (ValueError, IndexError):
            return None

    @property
    def partial(self) -> bool:
        return self.precision != "day"

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class Fact(Generic[T]):
    """A derived value with the references of the resources it came from."""

    value: T | Unknown
    evidence: tuple[str, ...] = ()
    # Caveats a clinician should see: partial dates, discordant results, guesses avoided.
    notes: tuple[str, ...] = ()
    # The representation the value was read from, in words, for `explain` (e.g. "Observation
    # LOINC 49683-6 HER2/CEP17 ratio 2.4 with 74860-8 copy number 5.1: ISH group 1").
    basis: str = ""

    @property
    def known(self) -> bool:
        return self.value is not UNKNOWN

    @classmethod
    def unknown(cls, *notes: str) -> Fact[T]:
        return cls(UNKNOWN, (), tuple(notes))


HER2Result = Literal["positive", "negative", "equivocal"]


@dataclass(frozen=True, slots=True)
class Her2Test:
    """One HER2 result: from an Observation (IHC, ISH) or a diagnosis code."""

    result: HER2Result
    when: FhirDate | None
    method: str  # e.g. "IHC 3+", "ISH amplified", "diagnosis 427685000"
    evidence: tuple[str, ...]
    # The representation it was read from, in words ("HER2 IHC 3+ (Observation, valueString)").
    basis: str = ""


@dataclass(frozen=True, slots=True)
class Her2Status:
    """Positive if any valid test or diagnosis says so; discordance is flagged, never hidden."""

    status: Fact[HER2Result]
    discordant: bool = False
    tests: tuple[Her2Test, ...] = ()


Site = Literal["intracranial", "extracranial", "unspecified"]


@dataclass(frozen=True, slots=True)
class ProgressionEvent:
    """Disease progression on a date, with where it happened and how we know."""

    when: FhirDate | None
    site: Site
    kind: str  # "disease-status", "radiology-report", "recurrence", "re-recorded-metastasis",
    # "new-srs-course", ...
    description: str
    evidence: tuple[str, ...]
    # The side the progression was seen on ("left", "right", "midline", "bilateral"), from the
    # report's words or the resource's site; None when not recorded (it may be any lesion).
    # A progression on the other side of a treated lesion is another lesion (lesions.py).
    laterality: str | None = None


@dataclass(frozen=True, slots=True)
class LocalTherapy:
    """A course of local CNS therapy: SRS, WBRT or resection."""

    kind: Literal["srs", "wbrt", "resection"]
    start: FhirDate | None
    end: FhirDate | None
    targets: tuple[str, ...] = ()  # body sites / lesions as display text
    # "system|code" and text of body sites, and their brain-region keys (state.lesions.site_keys),
    # for matching orders
    target_codes: tuple[str, ...] = ()
    fractions: int | None = None
    hippocampal_avoidance: bool | None = None  # WBRT only; None = not recorded
    status: str | None = None
    evidence: tuple[str, ...] = ()
    # The side of the targets ("left", "right", "bilateral", "midline"; None when unrecorded), for
    # lesion identity: compare with state.lesions.lateralities_differ.
    laterality: str | None = None
    # CodeX RT courseInvolvesReirradiation; None when not recorded.
    reirradiation: bool | None = None
    # Total dose delivered (cGy; Gy converted), largest per volume; None when not recorded.
    dose_cgy: float | None = None
    # How the course was recognised, in words ("CPT 77372", "mCODE course summary, 5 fractions").
    basis: str = ""


StopReason = Literal["progression", "toxicity", "completed", "other"]

# How regimens are named: tyrosine kinase inhibitors and antibodies first, then chemotherapy.
AGENT_ORDER = {
    name: rank
    for rank, name in enumerate(
        (
            "tucatinib",
            "lapatinib",
            "neratinib",
            "t-dxd",
            "t-dm1",
            "trastuzumab",
            "pertuzumab",
            "phesgo",
        )
    )
}


def agents_label(agents: frozenset[str] | set[str]) -> str:
    """Oncologists name HER2-directed agents before chemotherapy ("lapatinib + capecitabine")."""
    return " + ".join(sorted(agents, key=lambda a: (AGENT_ORDER.get(a, len(AGENT_ORDER)), a)))


@dataclass(frozen=True, slots=True)
class DrugCourse:
    """One continuous course of one agent (refills and renewals merged)."""

    agent: str  # canonical agent id, e.g. "lapatinib", "trastuzumab", "t-dxd"
    start: FhirDate | None
    end: FhirDate | None  # None while active or when not recorded
    active: bool
    stop_reason: StopReason | Unknown
    evidence: tuple[str, ...]
    # True when `end` is inferred rather than recorded; `end_basis` says how, in a clinician's
    # words ("last infusion + 21 days", "last dispense + 28 days' supply"), for the card and explain.
    end_estimated: bool = False
    end_basis: str = ""
    # The record's own words for why it stopped ("grade 3 diarrhoea", "interstitial lung disease").
    stop_detail: str = ""
    # How the course was recorded: "statement", "order", "dispense", "administration", ...
    representation: str = ""
    # The latest day a record shows the agent given (an infusion, a dispense, an order's start):
    # what an estimated end rests on.
    last_given: FhirDate | None = None


@dataclass(frozen=True, slots=True)
class Regimen:
    """Agents given together (a line of therapy), with how it ended."""

    agents: frozenset[str]
    start: FhirDate | None
    end: FhirDate | None
    active: bool
    stop_reason: StopReason | Unknown
    courses: tuple[DrugCourse, ...]
    # The progression that ended this regimen (during it, or within the window after it and
    # before the next regimen began); None when none is recorded.
    progression: ProgressionEvent | None = None
    # "on" when the progression fell within the regimen's recorded course; "on or after" when the
    # regimen's end is not recorded and no other regimen started between its start and the
    # progression. None when no progression is linked.
    progression_relation: Literal["on", "on or after"] | None = None

    @property
    def label(self) -> str:
        return agents_label(self.agents)

    @property
    def current_agents(self) -> frozenset[str]:
        """What is still given: chemotherapy completed within a line leaves its maintenance."""
        if not self.active:
            return self.agents
        running = frozenset(c.agent for c in self.courses if c.active)
        return running or self.agents

    @property
    def evidence(self) -> tuple[str, ...]:
        return tuple(ref for course in self.courses for ref in course.evidence)


@dataclass(frozen=True, slots=True)
class PerformanceStatus:
    scale: Literal["ECOG", "KPS"]
    value: int
    when: FhirDate | None


@dataclass(frozen=True, slots=True)
class DraftOrder:
    """An unsigned order from the request's draftOrders; never counted as history."""

    reference: str  # "MedicationRequest/abc"
    resource_type: str
    selected: bool  # in `selections` (order-select) or, for order-sign, always True
    agents: frozenset[str] = frozenset()  # recognised drug agents
    procedure: str | None = None  # "srs", "wbrt", "brain-mri", "resection"
    body_sites: tuple[str, ...] = ()  # "system|code", lower-cased text, brain-region keys
    display: str = ""
    resource: dict = field(default_factory=dict, compare=False, repr=False)
    # The side of the order's target body sites (see LocalTherapy.laterality).
    laterality: str | None = None


@dataclass(frozen=True, slots=True)
class ActiveOrder:
    """A signed order still open in the record (state/active_orders): what is already planned."""

    kind: str  # "srs", "wbrt", "resection", "brain-mri", "neurosurgery-referral"
    when: FhirDate | None  # authoredOn, else the occurrence (start); None when undated
    status: str  # "active" | "on-hold"
    display: str  # the order's own words
    evidence: tuple[str, ...]

    def __str__(self) -> str:
        """As `explain` lists it: "srs ordered 2026-09-20 (active) [ServiceRequest/x]"."""
        when = self.when or "undated"
        return f"{self.kind} ordered {when} ({self.status}) [{', '.join(self.evidence)}]"


@dataclass(frozen=True, slots=True)
class PatientState:
    """Everything the rules know about the patient, as of `today`."""

    today: date
    breast_cancer: Fact[bool]
    her2: Her2Status
    brain_metastases: Fact[bool]
    brain_metastases_onset: Fact[FhirDate]
    leptomeningeal_disease: Fact[bool]
    # True when recorded (text or size >= threshold); UNKNOWN when the record says nothing.
    mass_effect: Fact[bool]
    largest_brain_lesion_cm: Fact[float]
    brain_lesion_count: Fact[int]
    progression_events: tuple[ProgressionEvent, ...]
    extracranial_status: Fact[str]  # "progressing" | "stable" | "responding"
    local_therapies: tuple[LocalTherapy, ...]
    courses: tuple[DrugCourse, ...]
    regimens: tuple[Regimen, ...]
    last_brain_mri: Fact[FhirDate]
    performance_status: Fact[PerformanceStatus]
    hospice: Fact[bool]
    draft_orders: tuple[DraftOrder, ...] = ()
    # Record-level caveats: skipped resources, partial dates, anything a clinician should know.
    notes: tuple[str, ...] = ()
    # Added by the derivation (issue 3). "active" | "resolved" for the brain metastases.
    brain_metastases_status: Fact[str] = field(default=Fact(UNKNOWN))
    # False (with a note) when medication data could not be obtained: then `courses` and
    # `regimens` being empty means "unknown", not "never treated".
    therapy_history_known: Fact[bool] = field(default=Fact(UNKNOWN))
    # Same for Procedures: `local_therapies` empty means "unknown" unless this is True.
    local_therapy_known: Fact[bool] = field(default=Fact(UNKNOWN))
    # Severe mass effect recorded in words or codes: "hydrocephalus", "midline shift",
    # "herniation" (empty tuple when the readable record names none; UNKNOWN when unreadable).
    severe_mass_effect: Fact[tuple[str, ...]] = field(default=Fact(UNKNOWN))
    # New brain lesions on the latest report, treated stable lesions not counted.
    new_brain_lesion_count: Fact[int] = field(default=Fact(UNKNOWN))
    # False (with a note) when disease status Observations or brain reports could not be obtained
    # or read: then `progression_events` lacking one means "unknown", not "no progression".
    progression_known: Fact[bool] = field(default=Fact(UNKNOWN))
    # Signed orders still open (ServiceRequest active or on-hold) for local CNS therapy, a
    # neurosurgery referral or a brain MRI; UNKNOWN when ServiceRequests could not be obtained or
    # read (then an empty tuple would wrongly say "nothing ordered").
    active_orders: Fact[tuple[ActiveOrder, ...]] = field(default=Fact(UNKNOWN))

    def agents_active_on(self, when: date) -> frozenset[str]:
        """The agents whose course covers `when`: "progression on X" names only these."""
        return frozenset(
            c.agent
            for c in self.courses
            if c.start is not None
            and c.start.earliest <= when
            and (c.active or (c.end is not None and when <= c.end.latest))
        )

    @property
    def srs_courses(self) -> tuple[LocalTherapy, ...]:
        return tuple(t for t in self.local_therapies if t.kind == "srs")

    @property
    def wbrt_courses(self) -> tuple[LocalTherapy, ...]:
        return tuple(t for t in self.local_therapies if t.kind == "wbrt")

    @property
    def resections(self) -> tuple[LocalTherapy, ...]:
        return tuple(t for t in self.local_therapies if t.kind == "resection")

    @property
    def intracranial_progressions(self) -> tuple[ProgressionEvent, ...]:
        return tuple(e for e in self.progression_events if e.site == "intracranial")
