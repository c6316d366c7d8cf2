"""A screening exam: vitals, blood type and two point-of-care labs, in fixed units with LOINC codes.

Units are fixed (no conversions at the edge): blood pressure mm[Hg], pulse /min, height cm,
weight kg, BMI kg/m2 (derived, never entered), capillary glucose mmol/L, hemoglobin g/dL.
Plausible ranges reject typing errors (a blood pressure of 900) with OutOfRange; they are wide on
purpose — they are not clinical thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from carekey.errors import N_, InvalidInput, OutOfRange, msg

MAX_NOTES = 2000


@dataclass(frozen=True)
class MeasurementSpec:
    name: str
    loinc: str
    display: str
    unit: str  # UCUM
    low: float
    high: float


SPECS: dict[str, MeasurementSpec] = {
    s.name: s
    for s in (
        MeasurementSpec("systolic_bp", "8480-6", N_("Systolic blood pressure"), "mm[Hg]", 50, 260),
        MeasurementSpec("diastolic_bp", "8462-4", N_("Diastolic blood pressure"), "mm[Hg]", 30, 160),
        MeasurementSpec("pulse", "8867-4", N_("Heart rate"), "/min", 25, 250),
        MeasurementSpec("height_cm", "8302-2", N_("Body height"), "cm", 40, 250),
        MeasurementSpec("weight_kg", "29463-7", N_("Body weight"), "kg", 2, 350),
        MeasurementSpec("bmi", "39156-5", N_("Body mass index (derived)"), "kg/m2", 5, 150),
        MeasurementSpec("glucose_mmol_l", "15074-8", N_("Glucose [Moles/volume] in Blood"), "mmol/L", 1.0, 40.0),
        MeasurementSpec("hemoglobin_g_dl", "718-7", N_("Hemoglobin [Mass/volume] in Blood"), "g/dL", 2.0, 25.0),
    )
}
BLOOD_TYPE_LOINC = "882-1"  # ABO and Rh group [Type] in Blood


class BloodType(StrEnum):
    A_POS = "A+"
    A_NEG = "A-"
    B_POS = "B+"
    B_NEG = "B-"
    AB_POS = "AB+"
    AB_NEG = "AB-"
    O_POS = "O+"
    O_NEG = "O-"


def parse_blood_type(raw: str) -> BloodType:
    norm = raw.strip().upper().replace(" ", "").replace("POS", "+").replace("NEG", "-")
    try:
        return BloodType(norm)
    except ValueError:
        raise InvalidInput(
            msg(
                "unknown blood type %(value)s; expected one of %(choices)s",
                value=repr(raw),
                choices=", ".join(b.value for b in BloodType),
            ),
            field="blood_type",
        ) from None


def _check(name: str, value: object) -> float | None:
    if value is None:
        return None
    spec = SPECS[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise InvalidInput(msg("%(what)s must be a number in %(unit)s", what=spec.display, unit=spec.unit), field=name)
    if not spec.low <= value <= spec.high:
        raise OutOfRange(
            msg(
                "%(what)s %(value)s %(unit)s is outside the plausible range %(low)s-%(high)s %(unit)s",
                what=spec.display,
                value=value,
                unit=spec.unit,
                low=spec.low,
                high=spec.high,
            ),
            field=name,
            low=spec.low,
            high=spec.high,
            unit=spec.unit,
        )
    return float(value)


@dataclass(frozen=True)
class Exam:
    id: str
    person_id: str | None  # None for an exam shown/printed without care_record consent (never stored)
    visit_id: str
    site_id: str
    recorded_by: str
    recorded_at: datetime
    systolic_bp: float | None = None
    diastolic_bp: float | None = None
    pulse: float | None = None
    height_cm: float | None = None
    weight_kg: float | None = None
    glucose_mmol_l: float | None = None
    glucose_fasting: bool | None = None  # True: no calories for 8 h (WHO cut-offs differ); None: not said
    hemoglobin_g_dl: float | None = None
    blood_type: BloodType | None = None
    notes: str = ""
    bmi: float | None = field(default=None)

    @classmethod
    def create(cls, **kw: object) -> Exam:
        """Validate ranges and cross-field rules, derive BMI; raises InvalidInput/OutOfRange."""
        checked = {name: _check(name, kw.get(name)) for name in SPECS if name != "bmi"}
        kw.update(checked)
        sys_bp, dia_bp = checked["systolic_bp"], checked["diastolic_bp"]
        if (sys_bp is None) != (dia_bp is None):
            raise InvalidInput(
                "blood pressure needs both systolic and diastolic values",
                field="diastolic_bp" if dia_bp is None else "systolic_bp",
            )
        if sys_bp is not None and dia_bp is not None and dia_bp >= sys_bp:
            raise InvalidInput("diastolic blood pressure must be lower than systolic", field="diastolic_bp")
        bt = kw.get("blood_type")
        kw["blood_type"] = parse_blood_type(bt) if isinstance(bt, str) else bt
        fasting = kw.get("glucose_fasting")
        if fasting is not None and not isinstance(fasting, bool):
            raise InvalidInput("glucose_fasting must be true, false or absent", field="glucose_fasting")
        if fasting is not None and kw.get("glucose_mmol_l") is None:
            kw["glucose_fasting"] = None  # says nothing without a glucose value
        notes = str(kw.get("notes") or "")
        if len(notes) > MAX_NOTES:
            raise InvalidInput(msg("notes are limited to %(n)s characters", n=MAX_NOTES), field="notes")
        kw["notes"] = notes
        h, w = checked["height_cm"], checked["weight_kg"]
        kw["bmi"] = _check("bmi", round(w / (h / 100) ** 2, 1)) if h and w else None
        fields: dict[str, Any] = kw  # every measured value checked above; ids and times come from the service
        exam = cls(**fields)
        if not exam.observations():
            raise InvalidInput("an exam needs at least one measurement or the blood type")
        return exam

    def observations(self) -> list[dict[str, object]]:
        """Measurements as (LOINC code, display, value, unit) rows; absent measurements omitted."""
        rows: list[dict[str, object]] = [
            {"name": s.name, "loinc": s.loinc, "display": s.display, "value": getattr(self, s.name), "unit": s.unit}
            for s in SPECS.values()
            if getattr(self, s.name) is not None
        ]
        if self.blood_type is not None:
            rows.append(
                {
                    "name": "blood_type",
                    "loinc": BLOOD_TYPE_LOINC,
                    "display": "ABO and Rh group",
                    "value": self.blood_type.value,
                    "unit": None,
                }
            )
        return rows

    def payload(self) -> dict[str, object]:
        """The encrypted part of a stored exam (measurements and notes)."""
        data: dict[str, object] = {name: getattr(self, name) for name in SPECS}
        data["blood_type"] = self.blood_type.value if self.blood_type else None
        data["notes"] = self.notes
        if self.glucose_fasting is not None:
            data["glucose_fasting"] = self.glucose_fasting
        return data
