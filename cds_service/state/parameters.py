"""Clinical thresholds of the derivation, in one place (candidates for knowledge parameters)."""

# SRS sessions (per-fraction billing, staged treatment) within this many days form one course.
SRS_COURSE_GAP_DAYS = 14
# A radiotherapy course on the brain with at most this many fractions is stereotactic.
SRS_MAX_FRACTIONS = 5
# A brain course of this many fractions (inclusive) is whole-brain radiotherapy (30 Gy / 10,
# 37.5 Gy / 15); between SRS_MAX_FRACTIONS and this range the course is neither claimed.
WBRT_FRACTIONS = (10, 15)
# A brain report's progression within this many days before an intracranial disease status saying
# worsened is the same finding (the status is usually recorded from the report): counted once.
SAME_FINDING_DAYS = 7
# A progression up to this many days after a regimen ended (and before the next began) ended it.
PROGRESSION_WINDOW_DAYS = 90
# Records of one agent merge into one course when the next starts within this many days of the
# previous one's end (refills, cycles, administrations)...
COURSE_MERGE_GAP_DAYS = 45
# ...or, when the previous record has no end, within this many days of its start (renewals).
RENEWAL_INTERVAL_DAYS = 100
# Courses starting within this many days of a regimen's start belong to that regimen.
REGIMEN_START_WINDOW_DAYS = 28
# An administration-only course is still running when its last dose is this recent.
ADMINISTRATION_ACTIVE_DAYS = 45
# Trastuzumab, T-DM1 and T-DXd are given every 21 days (real-world-fhir-representations.md 1.4):
# the cycle of an agent whose administrations do not show their own interval.
DEFAULT_CYCLE_DAYS = 21
# ASCO/CAP 2023 (Wolff et al., JCO 2023;41:3867, affirming 2018) dual-probe ISH thresholds: HER2/CEP17
# ratio >= 2.0, average HER2 copies per cell >= 4.0 and >= 6.0 (shared/reference/
# real-world-fhir-representations.md section 2.3).
HER2_ISH_RATIO = 2.0
HER2_ISH_COPIES_LOW = 4.0
HER2_ISH_COPIES_HIGH = 6.0
# An IHC result this many days or fewer from an ISH result is its "concurrent IHC" (the guideline
# means the same specimen; records rarely link the two, and reflex ISH follows IHC within weeks).
HER2_CONCURRENT_IHC_DAYS = 30
