"""Clinical follow-up flags from documented screening cut-offs, and the next check-up date. Pure: no I/O.

Every cut-off below is from a published guideline (cited at the table); the flags are screening results to
act on, never a diagnosis. A flag has a ``level``:

- ``normal``: nothing to do before the next yearly check-up;
- ``watch``: above the normal range but below the disease range (high-normal blood pressure, impaired
  fasting glucose, mild anaemia): check again sooner;
- ``refer``: in the disease range: refer to a clinic for confirmation and care;
- ``urgent``: a value that needs care the same day (grade 3 hypertension, severe anaemia).

Blood pressure
    1999 World Health Organization - International Society of Hypertension Guidelines for the Management
    of Hypertension, Guidelines Subcommittee, J Hypertens 1999;17:151-183, Table 1 (confirmed by the
    2003 WHO/ISH statement, J Hypertens 2003;21:1983-1992). Categories are for adults (18 and over); when
    systolic and diastolic fall in different categories the higher one applies.

    ======================  ===========  ============
    category                systolic     diastolic
    ======================  ===========  ============
    optimal                 < 120        and < 80
    normal                  < 130        and < 85
    high-normal             130-139      or 85-89
    grade 1 (mild)          140-159      or 90-99
    grade 2 (moderate)      160-179      or 100-109
    grade 3 (severe)        >= 180       or >= 110
    ======================  ===========  ============

Glucose
    WHO/IDF 2006, Definition and diagnosis of diabetes mellitus and intermediate hyperglycaemia (ISBN
    9241594934), Table 1 (venous plasma; point-of-care meters report plasma-equivalent values). Fasting
    (no calories for at least 8 hours): < 6.1 mmol/L normal, 6.1-6.9 impaired fasting glucose, >= 7.0 the
    diabetes range. A sample not taken fasting is read against the random-glucose cut-off of the same
    report (>= 11.1 mmol/L); below it a non-fasting value says nothing. When the form did not say whether
    the person fasted, the fasting cut-offs are used and the flag says so.

Haemoglobin (anaemia)
    WHO 2011, Haemoglobin concentrations for the diagnosis of anaemia and assessment of severity,
    WHO/NMH/NHD/MNM/11.1, Table 1 (g/L there; g/dL here). Pregnancy is not recorded, so the non-pregnant
    rows apply; a person whose sex is not recorded as female or male is read against the men's (higher)
    cut-off so that no anaemia is missed, and the flag says so. Under 5 years the 6-59 month row applies.

    ===========================  ==========  ========  ========  ========
    population                   no anaemia  mild      moderate  severe
    ===========================  ==========  ========  ========  ========
    children 6-59 months         >= 11.0     10.0-10.9 7.0-9.9   < 7.0
    children 5-11 years          >= 11.5     11.0-11.4 8.0-10.9  < 8.0
    children 12-14 years         >= 12.0     11.0-11.9 8.0-10.9  < 8.0
    non-pregnant women (>= 15)   >= 12.0     11.0-11.9 8.0-10.9  < 8.0
    men (>= 15)                  >= 13.0     11.0-12.9 8.0-10.9  < 8.0
    ===========================  ==========  ========  ========  ========
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import IntEnum

from carekey.domain.exam import Exam
from carekey.domain.person import Person, Sex, age_on


def N_(text: str) -> str:  # noqa: N802 - gettext convention: marks a sentence for translation (web catalogs)
    return text


WHO_ISH_1999 = "WHO-ISH 1999 hypertension guidelines, J Hypertens 1999;17:151-183"
WHO_2006_GLUCOSE = "WHO/IDF 2006, Definition and diagnosis of diabetes mellitus and intermediate hyperglycaemia"
WHO_2011_ANAEMIA = "WHO 2011, Haemoglobin concentrations for the diagnosis of anaemia (WHO/NMH/NHD/MNM/11.1)"
ADULT_AGE = 18


class Level(IntEnum):
    NORMAL = 0
    WATCH = 1
    REFER = 2
    URGENT = 3

    @property
    def word(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Flag:
    """One measurement read against its cut-offs: ``category`` is the guideline's name for it, ``plain`` the
    sentence shown to the clinician and to the person, ``source`` the guideline."""

    measure: str  # blood_pressure, glucose, hemoglobin
    level: Level
    category: str
    plain: str
    source: str


# -- blood pressure: (category, systolic from, diastolic from, level), highest first --------------------
_BP = (
    (N_("grade 3 hypertension"), 180, 110, Level.URGENT),
    (N_("grade 2 hypertension"), 160, 100, Level.REFER),
    (N_("grade 1 hypertension"), 140, 90, Level.REFER),
    (N_("high-normal"), 130, 85, Level.WATCH),
    (N_("normal"), 120, 80, Level.NORMAL),
    (N_("optimal"), 0, 0, Level.NORMAL),
)
_BP_PLAIN = {
    "grade 3 hypertension": N_("Blood pressure is very high (grade 3 hypertension): see a doctor today."),
    "grade 2 hypertension": N_(
        "Blood pressure is high (grade 2 hypertension): see a clinic soon to confirm and treat it."
    ),
    "grade 1 hypertension": N_(
        "Blood pressure is high (grade 1 hypertension): see a clinic to measure it again and decide on care."
    ),
    "high-normal": N_("Blood pressure is at the top of the normal range: check it again sooner than usual."),
    "normal": N_("Blood pressure is normal."),
    "optimal": N_("Blood pressure is normal."),
}


def blood_pressure(systolic: float, diastolic: float, age: int) -> Flag | None:
    """WHO-ISH 1999 category of an adult's blood pressure (the higher of the two readings' categories);
    None under 18 (children are read against height percentiles, which this table is not)."""
    if age < ADULT_AGE:
        return None
    for category, sys_from, dia_from, level in _BP:
        if systolic >= sys_from or diastolic >= dia_from:
            return Flag("blood_pressure", level, category, _BP_PLAIN[category], WHO_ISH_1999)
    raise AssertionError("unreachable: the last row starts at 0")  # pragma: no cover


# -- glucose -------------------------------------------------------------------------------------------
FASTING_ASSUMED = N_(" (read as a fasting value: the sample was not marked fasting or not)")
FASTING_IFG = 6.1
FASTING_DIABETES = 7.0
RANDOM_DIABETES = 11.1


def glucose(value: float, fasting: bool | None) -> Flag | None:
    """WHO/IDF 2006 reading of a glucose value; ``fasting`` None means the form did not say (fasting
    cut-offs used, the sentence says so). A non-fasting value under 11.1 mmol/L gives no flag."""
    assumed = FASTING_ASSUMED if fasting is None else ""
    if fasting is False:
        if value >= RANDOM_DIABETES:
            return Flag(
                "glucose",
                Level.REFER,
                N_("diabetes range (random)"),
                N_("Blood sugar is very high: see a clinic to test it again and decide on care."),
                WHO_2006_GLUCOSE,
            )
        return None
    if value >= FASTING_DIABETES:
        return Flag(
            "glucose",
            Level.REFER,
            N_("diabetes range (fasting)"),
            N_("Blood sugar is in the diabetes range: see a clinic to test it again and decide on care.") + assumed,
            WHO_2006_GLUCOSE,
        )
    if value >= FASTING_IFG:
        return Flag(
            "glucose",
            Level.WATCH,
            N_("impaired fasting glucose"),
            N_("Blood sugar is a little high: check it again sooner than usual.") + assumed,
            WHO_2006_GLUCOSE,
        )
    return Flag(
        "glucose", Level.NORMAL, N_("normal fasting glucose"), N_("Blood sugar is normal.") + assumed, WHO_2006_GLUCOSE
    )


# -- haemoglobin: (no anaemia from, mild from, moderate from) in g/dL; below moderate is severe ------------
SEX_ASSUMED = N_(" (sex not recorded as female or male: the men's cut-off was used)")
_HB_UNDER_5 = (11.0, 10.0, 7.0)
_HB_5_11 = (11.5, 11.0, 8.0)
_HB_12_14 = (12.0, 11.0, 8.0)
_HB_WOMEN = (12.0, 11.0, 8.0)
_HB_MEN = (13.0, 11.0, 8.0)
_HB_PLAIN = {
    "no anemia": N_("Hemoglobin is normal."),
    "mild anemia": N_("Hemoglobin is a little low (mild anemia): eat iron-rich food and check it again sooner."),
    "moderate anemia": N_("Hemoglobin is low (moderate anemia): see a clinic to find the cause and treat it."),
    "severe anemia": N_("Hemoglobin is very low (severe anemia): see a doctor today."),
}


def _hb_row(sex: Sex, age: int) -> tuple[tuple[float, float, float], str]:
    if age < 5:
        return _HB_UNDER_5, ""
    if age < 12:
        return _HB_5_11, ""
    if age < 15:
        return _HB_12_14, ""
    if sex is Sex.FEMALE:
        return _HB_WOMEN, ""
    if sex is Sex.MALE:
        return _HB_MEN, ""
    return _HB_MEN, SEX_ASSUMED


def hemoglobin(value: float, sex: Sex, age: int) -> Flag:
    """WHO 2011 anemia severity for the person's sex and age (non-pregnant rows)."""
    (none_from, mild_from, moderate_from), note = _hb_row(sex, age)
    if value >= none_from:
        category, level = N_("no anemia"), Level.NORMAL
    elif value >= mild_from:
        category, level = N_("mild anemia"), Level.WATCH
    elif value >= moderate_from:
        category, level = N_("moderate anemia"), Level.REFER
    else:
        category, level = N_("severe anemia"), Level.URGENT
    return Flag("hemoglobin", level, category, _HB_PLAIN[category] + note, WHO_2011_ANAEMIA)


def assess(exam: Exam, sex: Sex, age: int) -> list[Flag]:
    """Every flag the exam's measurements give, for a person of this sex and (whole-year) age."""
    flags: list[Flag | None] = []
    if exam.systolic_bp is not None and exam.diastolic_bp is not None:
        flags.append(blood_pressure(exam.systolic_bp, exam.diastolic_bp, age))
    if exam.glucose_mmol_l is not None:
        flags.append(glucose(exam.glucose_mmol_l, exam.glucose_fasting))
    if exam.hemoglobin_g_dl is not None:
        flags.append(hemoglobin(exam.hemoglobin_g_dl, sex, age))
    return [f for f in flags if f is not None]


def worst(flags: list[Flag]) -> Level:
    return max((f.level for f in flags), default=Level.NORMAL)


# -- next check-up: the program's own choice, not from the guidelines above ---------------------------
NEXT_CHECKUP_DAYS = {Level.NORMAL: 365, Level.WATCH: 90, Level.REFER: 30, Level.URGENT: 0}


def next_checkup(exam_day: date, flags: list[Flag]) -> date:
    """A yearly check-up when every flag is normal; 3 months after a ``watch``, 1 month after a ``refer``,
    the same day after an ``urgent`` flag (program policy, one table: ``NEXT_CHECKUP_DAYS``)."""
    return exam_day + timedelta(days=NEXT_CHECKUP_DAYS[worst(flags)])


@dataclass(frozen=True)
class Review:
    """An exam with its flags and the next check-up date it leads to."""

    exam: Exam
    flags: list[Flag]
    next_checkup: date

    @property
    def level(self) -> Level:
        return worst(self.flags)

    @property
    def to_act_on(self) -> list[Flag]:
        return [f for f in self.flags if f.level > Level.NORMAL]


def review(exam: Exam, person: Person | None) -> Review:
    """Flags for the person's sex and age on the exam day (``age_on``'s lower bound with a birth year only).
    Without a person (an exam shown but not stored) the values are read as an adult's of unrecorded sex."""
    day = exam.recorded_at.date()
    if person is None:
        sex, age = Sex.UNKNOWN, ADULT_AGE
    else:
        sex, age = person.sex, age_on(person.birth_year, person.birth_date, day)
    flags = assess(exam, sex, age)
    return Review(exam, flags, next_checkup(day, flags))
