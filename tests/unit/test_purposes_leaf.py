import pytest
from hypothesis import given
from hypothesis import strategies as st

from carekey.audit import leaf
from carekey.domain.purposes import REFUSED, Purpose, parse_purpose, refusal_label
from carekey.errors import RefusedPurpose


@pytest.mark.parametrize("raw", sorted(REFUSED) + ["Law-Enforcement", "police ", "marketing", ""])
def test_refused_purposes_raise(raw):
    with pytest.raises(RefusedPurpose) as info:
        parse_purpose(raw)
    assert info.value.detail["purpose"] == refusal_label(raw)


def test_allowed_purposes_parse():
    for p in Purpose:
        assert parse_purpose(p.value.upper()) is p


@given(st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=5),
       st.binary(min_size=32, max_size=32))
def test_commitment_binds_event_and_salt(event, salt):
    data = leaf.leaf_input(event, salt)
    assert data.startswith(leaf.LEAF_PREFIX) and len(data) == len(leaf.LEAF_PREFIX) + 32
    other_salt = bytes(b ^ 1 for b in salt)
    assert leaf.leaf_input(event, other_salt) != data
    assert leaf.leaf_input({**event, "__x": 1}, salt) != data
