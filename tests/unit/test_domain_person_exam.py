from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carekey.domain.exam import SPECS, BloodType, Exam, parse_blood_type
from carekey.domain.ids import is_person_id, new_person_id
from carekey.domain.person import Person, age_on, normalize_card, normalize_name
from carekey.domain.visit import Visit
from carekey.errors import Conflict, InvalidInput, OutOfRange

TODAY = date(2026, 11, 28)
NOW = datetime(2026, 11, 28, 10, 0)


def person(**kw):
    base = dict(
        id=new_person_id(),
        given_name="Ama",
        family_name="Mensah",
        sex="female",
        birth_year=1980,
        card_number="ab-1234",
        today=TODAY,
    )
    return Person.create(**(base | kw))


def exam(**kw):
    return Exam.create(
        **(
            dict(
                id="EX-1", person_id="CK-0000-0000", visit_id="V-1", site_id="north", recorded_by="U-1", recorded_at=NOW
            )
            | kw
        )
    )


def test_person_ids_are_pseudonymous_and_well_formed():
    ids = {new_person_id() for _ in range(200)}
    assert len(ids) == 200 and all(is_person_id(i) for i in ids)
    assert not is_person_id("CK-ILOU-0000")


def test_person_normalizes_and_roundtrips():
    p = person(given_name=" José ", family_name="O'Neil")
    assert p.card_number == "AB1234" and p.normalized_name == "jose oneil"
    assert Person.from_dict(p.to_dict()) == p


@pytest.mark.parametrize("year", [TODAY.year + 1, 1899])
def test_birth_year_out_of_bounds_rejected(year):
    with pytest.raises(InvalidInput, match="birth year"):
        person(birth_year=year)


def test_birth_date_must_match_and_not_be_future():
    with pytest.raises(InvalidInput):
        person(birth_year=2026, birth_date=date(2026, 12, 1))
    with pytest.raises(InvalidInput):
        person(birth_date=date(1981, 1, 1))


@pytest.mark.parametrize("bad", [dict(sex="x"), dict(card_number="a!"), dict(given_name="", family_name=" ")])
def test_bad_person_fields(bad):
    with pytest.raises(InvalidInput):
        person(**bad)


def test_age_uses_date_or_lower_bound():
    assert age_on(2008, date(2008, 11, 29), TODAY) == 17
    assert age_on(2008, date(2008, 11, 28), TODAY) == 18
    assert age_on(2008, None, TODAY) == 17


@given(st.text(max_size=30))
def test_normalize_name_is_idempotent(raw):
    assert normalize_name(normalize_name(raw)) == normalize_name(raw)


def test_card_normalization():
    assert normalize_card(" 12 34-ab ") == "1234AB"


@pytest.mark.parametrize("bad", ["N1!0002", "AB", "N" * 25])
def test_a_rejected_card_number_is_not_repeated_in_the_error(bad):
    with pytest.raises(InvalidInput) as err:
        normalize_card(bad)
    assert "4-20 letters or digits" in err.value.message and bad not in str(err.value.detail) + err.value.message


def test_exam_derives_bmi_and_lists_loinc():
    e = exam(systolic_bp=120, diastolic_bp=80, height_cm=170, weight_kg=70, blood_type="o pos")
    assert e.bmi == 24.2 and e.blood_type is BloodType.O_POS
    codes = {o["loinc"] for o in e.observations()}
    assert codes == {"8480-6", "8462-4", "8302-2", "29463-7", "39156-5", "882-1"}


def test_bp_900_is_out_of_range():
    with pytest.raises(OutOfRange, match="Systolic"):
        exam(systolic_bp=900, diastolic_bp=80)


@pytest.mark.parametrize("name", [n for n in SPECS if n != "bmi"])
def test_each_measurement_range_enforced(name):
    spec = SPECS[name]
    kw = {name: spec.high + 1}
    if name in ("systolic_bp", "diastolic_bp"):
        kw = {"systolic_bp": 120, "diastolic_bp": 80} | kw
    with pytest.raises(OutOfRange):
        exam(**kw)


@pytest.mark.parametrize(
    "kw",
    [
        dict(blood_type="C+"),
        dict(systolic_bp=120),
        dict(systolic_bp=80, diastolic_bp=90),
        dict(),
        dict(pulse="fast"),
        dict(pulse=True),
        dict(pulse=70, notes="x" * 2001),
    ],
)
def test_exam_invalid(kw):
    with pytest.raises(InvalidInput):
        exam(**kw)


def test_blood_types_parse():
    assert [parse_blood_type(b.value) for b in BloodType] == list(BloodType)


def test_visit_lifecycle():
    v = Visit(id="V-1", site_id="north", opened_by="U-1", opened_at=NOW)
    bound = v.bind("CK-A")
    assert bound.bind("CK-A") == bound
    with pytest.raises(Conflict):
        bound.bind("CK-B")
    closed = bound.close("U-1", NOW)
    assert not closed.is_open
    with pytest.raises(Conflict, match="closed"):
        closed.bind("CK-A")
