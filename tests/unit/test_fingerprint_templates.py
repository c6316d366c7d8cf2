"""Persistent fingerprint templates: round trips and refusal of anything corrupt (property tests)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carekey.biometrics.fingerprint.minutiae import Minutiae
from carekey.biometrics.fingerprint.templates import FingerprintTemplate
from carekey.errors import TemplateError


@st.composite
def templates(draw) -> FingerprintTemplate:
    n = draw(st.integers(0, 40))
    coords = st.lists(st.integers(0, 399), min_size=n, max_size=n)
    m = Minutiae.from_arrays(
        draw(coords),
        draw(coords),
        draw(st.lists(st.integers(0, 255), min_size=n, max_size=n)),
        draw(st.lists(st.integers(1, 2), min_size=n, max_size=n)),
        draw(st.lists(st.integers(1, 100), min_size=n, max_size=n)),
        400,
        400,
    )
    return FingerprintTemplate.from_minutiae(m, nfiq2=draw(st.integers(0, 100)))


@settings(max_examples=40, deadline=None)
@given(templates())
def test_persistent_form_round_trips_to_an_identical_matching_template(template):
    loaded = FingerprintTemplate.from_bytes(template.to_bytes())
    assert loaded.minutiae == template.minutiae
    assert loaded.nfiq2 == template.nfiq2
    assert np.array_equal(loaded.bits, template.bits) and np.array_equal(loaded.masks, template.masks)
    assert np.array_equal(loaded.xyt, template.xyt)


@settings(max_examples=40, deadline=None)
@given(templates(), st.data())
def test_any_single_byte_change_is_refused(template, data):
    blob = bytearray(template.to_bytes())
    pos = data.draw(st.integers(0, len(blob) - 1))
    blob[pos] ^= data.draw(st.integers(1, 255))
    with pytest.raises(TemplateError):
        FingerprintTemplate.from_bytes(bytes(blob))


def test_non_bytes_are_refused():
    with pytest.raises(TemplateError):
        FingerprintTemplate.from_bytes("CKFP")  # type: ignore[arg-type]
