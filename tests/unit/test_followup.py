"""Follow-up flags on each documented cut-off's boundary, the next check-up, and the displayed age."""

from datetime import date, datetime, timedelta

import pytest

from carekey.domain.exam import Exam
from carekey.domain.followup import Level, assess, blood_pressure, glucose, hemoglobin, next_checkup, review
from carekey.domain.person import Person, Sex, age_label, likely_age

NOW = datetime(2026, 11, 29, 10, 0)


def exam(**kw):
    return Exam.create(
        **(
            dict(
                id="EX-1", person_id="CK-0000-0000", visit_id="V-1", site_id="north", recorded_by="U-1", recorded_at=NOW
            )
            | kw
        )
    )


# WHO-ISH 1999: each category's lower edge, and one below it, on each of the two readings
@pytest.mark.parametrize(
    ("systolic", "diastolic", "category", "level"),
    [
        (119, 79, "optimal", Level.NORMAL),
        (120, 70, "normal", Level.NORMAL),
        (110, 80, "normal", Level.NORMAL),
        (129, 84, "normal", Level.NORMAL),
        (130, 70, "high-normal", Level.WATCH),
        (110, 85, "high-normal", Level.WATCH),
        (139, 89, "high-normal", Level.WATCH),
        (140, 80, "grade 1 hypertension", Level.REFER),
        (120, 90, "grade 1 hypertension", Level.REFER),
        (159, 99, "grade 1 hypertension", Level.REFER),
        (148, 92, "grade 1 hypertension", Level.REFER),  # the example
        (160, 80, "grade 2 hypertension", Level.REFER),
        (130, 100, "grade 2 hypertension", Level.REFER),
        (179, 109, "grade 2 hypertension", Level.REFER),
        (180, 90, "grade 3 hypertension", Level.URGENT),
        (150, 110, "grade 3 hypertension", Level.URGENT),
    ],
)
def test_blood_pressure_categories_on_their_boundaries(systolic, diastolic, category, level):
    flag = blood_pressure(systolic, diastolic, age=40)
    assert (flag.category, flag.level) == (category, level)
    assert "1999" in flag.source


def test_blood_pressure_the_higher_category_wins_and_children_get_no_adult_grade():
    assert blood_pressure(125, 101, 40).category == "grade 2 hypertension"
    assert blood_pressure(185, 70, 18).level is Level.URGENT
    assert blood_pressure(185, 70, 17) is None


@pytest.mark.parametrize(
    ("value", "category", "level"),
    [
        (6.0, "normal fasting glucose", Level.NORMAL),
        (6.1, "impaired fasting glucose", Level.WATCH),
        (6.9, "impaired fasting glucose", Level.WATCH),
        (7.0, "diabetes range (fasting)", Level.REFER),
        (7.1, "diabetes range (fasting)", Level.REFER),  # the example
    ],
)
def test_fasting_glucose_boundaries(value, category, level):
    flag = glucose(value, fasting=True)
    assert (flag.category, flag.level) == (category, level)
    assert "not marked" not in flag.plain


def test_non_fasting_glucose_uses_the_random_cut_off_and_unknown_says_it_was_read_as_fasting():
    assert glucose(11.0, fasting=False) is None
    assert glucose(11.1, fasting=False).level is Level.REFER
    unknown = glucose(7.0, fasting=None)
    assert unknown.level is Level.REFER and "not marked fasting" in unknown.plain


# WHO 2011 anaemia: (sex, age, value, expected category)
@pytest.mark.parametrize(
    ("sex", "age", "value", "category"),
    [
        (Sex.FEMALE, 30, 12.0, "no anemia"),
        (Sex.FEMALE, 30, 11.9, "mild anemia"),
        (Sex.FEMALE, 30, 11.0, "mild anemia"),
        (Sex.FEMALE, 30, 10.9, "moderate anemia"),
        (Sex.FEMALE, 30, 8.0, "moderate anemia"),
        (Sex.FEMALE, 30, 7.9, "severe anemia"),
        (Sex.MALE, 30, 13.0, "no anemia"),
        (Sex.MALE, 30, 12.9, "mild anemia"),
        (Sex.MALE, 30, 11.0, "mild anemia"),
        (Sex.MALE, 30, 10.9, "moderate anemia"),
        (Sex.MALE, 30, 7.9, "severe anemia"),
        (Sex.MALE, 15, 12.5, "mild anemia"),
        (Sex.MALE, 14, 12.5, "no anemia"),  # men's row from 15
        (Sex.FEMALE, 12, 11.9, "mild anemia"),
        (Sex.FEMALE, 11, 11.5, "no anemia"),
        (Sex.FEMALE, 11, 11.4, "mild anemia"),
        (Sex.MALE, 5, 10.9, "moderate anemia"),
        (Sex.MALE, 4, 10.9, "mild anemia"),
        (Sex.MALE, 4, 7.0, "moderate anemia"),
        (Sex.MALE, 4, 6.9, "severe anemia"),
    ],
)
def test_anemia_cut_offs_by_sex_and_age(sex, age, value, category):
    assert hemoglobin(value, sex, age).category == category


def test_anemia_with_unrecorded_sex_uses_the_mens_cut_off_and_says_so():
    flag = hemoglobin(12.5, Sex.UNKNOWN, 30)
    assert flag.category == "mild anemia" and "men's cut-off" in flag.plain
    assert hemoglobin(7.9, Sex.FEMALE, 30).level is Level.URGENT


def test_assess_reads_every_measured_value_and_the_next_checkup_follows_the_worst():
    flags = assess(
        exam(systolic_bp=148, diastolic_bp=92, glucose_mmol_l=5.0, glucose_fasting=True, hemoglobin_g_dl=12.5),
        Sex.FEMALE,
        42,
    )
    assert {f.measure: f.level for f in flags} == {
        "blood_pressure": Level.REFER,
        "glucose": Level.NORMAL,
        "hemoglobin": Level.NORMAL,
    }
    day = date(2026, 11, 29)
    assert next_checkup(day, flags) == day + timedelta(days=30)
    assert next_checkup(day, []) == day + timedelta(days=365)
    assert next_checkup(day, [hemoglobin(11.5, Sex.FEMALE, 30)]) == day + timedelta(days=90)
    assert next_checkup(day, [hemoglobin(6.0, Sex.FEMALE, 30)]) == day


def test_review_uses_the_persons_sex_and_age_on_the_exam_day():
    teen = Person.create(
        id="CK-0000-0001",
        given_name="Esi",
        family_name="K",
        sex="female",
        birth_year=2010,
        card_number="NK0001",
        today=NOW.date(),
    )
    r = review(exam(systolic_bp=150, diastolic_bp=95, hemoglobin_g_dl=11.9), teen)
    assert [f.measure for f in r.flags] == ["hemoglobin"]  # 15 (birth year only: lower bound): no adult BP grade
    assert r.flags[0].category == "mild anemia" and r.level is Level.WATCH


def test_fasting_is_kept_in_the_payload_only_with_a_glucose_value():
    assert exam(glucose_mmol_l=6.0, glucose_fasting=True).payload()["glucose_fasting"] is True
    assert exam(pulse=70, glucose_fasting=True).glucose_fasting is None
    assert "glucose_fasting" not in exam(pulse=70).payload()


def test_age_from_a_birth_year_alone_is_the_likely_one_and_says_about():
    assert age_label(1984, None, date(2026, 11, 29)) == "about 42"  # the issue: it showed 41
    assert age_label(1984, None, date(2026, 3, 1)) == "about 41"
    assert likely_age(1984, date(2026, 7, 2)) == 42 and likely_age(1984, date(2026, 7, 1)) == 41  # mid-year
    assert age_label(1984, date(1984, 12, 1), date(2026, 11, 29)) == "41"
    assert age_label(2026, None, date(2026, 1, 5)) == "about 0"
