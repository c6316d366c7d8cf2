"""The rows a statistics release reads, and the public bands they are counted in.

The caller (a service) decrypts the exams of people who granted ``aggregate_statistics`` and hands
one ``ScreeningRecord`` per person; this package knows nothing of storage or of persons. Every band
below is fixed in advance: categories of a differentially private histogram must never come from the
data itself (a category seen only in the data would reveal that someone has it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from carekey.errors import InvalidInput

SEXES = ("female", "male", "other")
AGE_BANDS = (
    (0, 17, "0-17"),
    (18, 29, "18-29"),
    (30, 44, "30-44"),
    (45, 59, "45-59"),
    (60, 74, "60-74"),
    (75, 200, "75+"),
)
UNKNOWN = "unknown"
OTHER_DISTRICT = "other"

#: WHO adult BMI classification (kg/m^2): <18.5, 18.5-24.9, 25-29.9, >=30.
BMI_BANDS = ("underweight", "normal", "overweight", "obese")
#: WHO fasting plasma glucose (mmol/L): normal < 6.1, impaired fasting glucose 6.1-6.9, diabetes >= 7.0.
GLUCOSE_BANDS = ("normal", "impaired_fasting", "diabetes")
BLOOD_TYPES = ("O+", "O-", "A+", "A-", "B+", "B-", "AB+", "AB-")
#: Hypertension at screening: systolic >= 140 mmHg or diastolic >= 90 mmHg (WHO / ISH threshold).
HYPERTENSION = ("yes", "no")


@dataclass(frozen=True)
class ScreeningRecord:
    """One person's latest screening, decrypted by the caller. Missing measurements are ``None``."""

    district: str
    sex: str
    age: int
    systolic: int | None = None
    diastolic: int | None = None
    weight_kg: float | None = None
    height_cm: float | None = None
    blood_type: str | None = None
    fasting_glucose_mmol: float | None = None
    unit: str | None = None  # opaque, unique per person: lets the release check one row per person


def age_band(age: int) -> str:
    for low, high, label in AGE_BANDS:
        if low <= age <= high:
            return label
    raise InvalidInput(f"age {age} is outside 0-200", field="age")


def sex_label(sex: str) -> str:
    value = sex.strip().lower()
    return {"f": "female", "m": "male"}.get(value, value) if value in (*SEXES, "f", "m") else "other"


def bmi_band(weight_kg: float | None, height_cm: float | None) -> str:
    if weight_kg is None or height_cm is None:
        return UNKNOWN
    if not (math.isfinite(weight_kg) and math.isfinite(height_cm)) or weight_kg <= 0 or height_cm <= 0:
        raise InvalidInput("weight and height must be positive numbers", field="bmi")
    bmi = weight_kg / (height_cm / 100.0) ** 2
    if bmi < 18.5:
        return "underweight"
    if bmi < 25.0:
        return "normal"
    return "overweight" if bmi < 30.0 else "obese"


def glucose_band(mmol: float | None) -> str:
    if mmol is None:
        return UNKNOWN
    if not math.isfinite(mmol) or mmol <= 0:
        raise InvalidInput("fasting glucose must be a positive number (mmol/L)", field="fasting_glucose_mmol")
    if mmol < 6.1:
        return "normal"
    return "impaired_fasting" if mmol < 7.0 else "diabetes"


def hypertension(systolic: int | None, diastolic: int | None) -> str:
    if systolic is None and diastolic is None:
        return UNKNOWN
    if (systolic or 0) >= 140 or (diastolic or 0) >= 90:
        return "yes"
    return "no" if systolic is not None and diastolic is not None else UNKNOWN


def blood_type(value: str | None) -> str:
    if value is None:
        return UNKNOWN
    norm = value.strip().upper().replace("POS", "+").replace("NEG", "-").replace(" ", "")
    return norm if norm in BLOOD_TYPES else UNKNOWN
