"""Property tests (hypothesis) for the domain and crypto invariants."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.unit.test_domain_person_exam import NOW

from carekey.crypto.envelope import PersonCrypto
from carekey.crypto.keys import MemorySecretStore, ProgramKeys
from carekey.domain.consent import ADULT_AGE, MINOR_SELF_AGE, Grantor, GrantorKind, check_grantor
from carekey.domain.exam import SPECS, Exam
from carekey.errors import InvalidInput, OutOfRange

MEASURED = [s for s in SPECS.values() if s.name not in ("bmi", "systolic_bp", "diastolic_bp")]


@given(st.sampled_from(MEASURED), st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6))
def test_range_check_accepts_exactly_the_plausible_range(spec, value):
    kw = dict(id="E", person_id="CK-A", visit_id="V", site_id="s", recorded_by="U", recorded_at=NOW)
    if spec.low <= value <= spec.high:
        assert getattr(Exam.create(**kw, **{spec.name: value}), spec.name) == value
    else:
        with pytest.raises(OutOfRange):
            Exam.create(**kw, **{spec.name: value})


@given(st.integers(0, 120), st.sampled_from(list(GrantorKind)), st.booleans())
def test_exactly_one_grantor_shape_is_valid_per_age(age, kind, guardian):
    grantor = Grantor(kind, "G. Name" if guardian else "", "mother" if guardian else "")
    expected = (kind, guardian) == (
        (GrantorKind.SELF, False)
        if age >= ADULT_AGE
        else (GrantorKind.SELF, True)
        if age >= MINOR_SELF_AGE
        else (GrantorKind.GUARDIAN, True)
    )
    try:
        check_grantor(grantor, age)
        assert expected
    except InvalidInput:
        assert not expected


CRYPTO = PersonCrypto(ProgramKeys.generate(), MemorySecretStore())


@given(
    st.dictionaries(st.text(max_size=10), st.text(max_size=30) | st.integers(), max_size=6),
    st.text(min_size=1, max_size=20),
)
def test_seal_open_roundtrip(obj, aad):
    key, _ = CRYPTO.new_data_key("CK-A")
    assert CRYPTO.open_json(key, CRYPTO.seal_json(key, obj, aad), aad) == obj
