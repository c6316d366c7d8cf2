"""The public refusal count names the refused category however the purpose was spelled (issue 11, finding 9)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carekey.domain.purposes import REFUSED, SYNONYMS, parse_purpose, refusal_label
from carekey.errors import RefusedPurpose

FULL_WIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}


@st.composite
def disguised(draw, word):
    """``word`` in random case, full-width letters, and '-', ' ', '.' or nothing between its parts."""
    sep = draw(st.sampled_from(["_", "-", " ", ".", "", "  "]))
    text = sep.join(word.split("_"))
    text = "".join(c.upper() if draw(st.booleans()) else c for c in text)
    if draw(st.booleans()):
        text = "".join(FULL_WIDTH.get(c, c) for c in text)
    return draw(st.sampled_from(["", " ", "\t"])) + text + draw(st.sampled_from(["", " ", "!"]))


@given(st.sampled_from(sorted(REFUSED)).flatmap(lambda w: st.tuples(st.just(w), disguised(w))))
def test_a_refused_purpose_is_counted_by_name_however_it_is_spelled(case):
    word, spelled = case
    assert refusal_label(spelled) == word
    with pytest.raises(RefusedPurpose) as err:
        parse_purpose(spelled)
    assert err.value.detail["purpose"] == word


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        ("police", "law_enforcement"),
        ("Police request", "law_enforcement"),
        ("lawenforcement", "law_enforcement"),
        ("immigration", "immigration"),
        ("border control", "immigration"),
        ("intelligence", "security"),
        ("investigation", "law_enforcement"),
        ("POLICÍA", "law_enforcement"),
        ("family tracing", "kinship"),
        ("marketing", "other"),
        ("", "other"),
    ],
)
def test_synonyms_and_unknowns(raw, label):
    assert refusal_label(raw) == label


def test_every_synonym_maps_to_a_refused_category():
    assert set(SYNONYMS.values()) <= REFUSED


LATIN_TO_LOOKALIKE = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "i": "і"}  # Cyrillic


@given(st.sampled_from(sorted(REFUSED)), st.data())
def test_look_alike_letters_of_another_script_do_not_hide_a_refused_purpose(word, data):
    """The red team's ``lаw_enforcement`` with a Cyrillic "а": any letters swapped for their look-alikes."""
    swap = data.draw(st.sets(st.sampled_from(sorted(LATIN_TO_LOOKALIKE))))
    spelled = "".join(LATIN_TO_LOOKALIKE[c] if c in swap else c for c in word)
    assert refusal_label(spelled) == word


@pytest.mark.parametrize(
    ("spelled", "label"),
    [
        ("renseignement", "security"),
        ("gendarmería", "law_enforcement"),
        ("carabinieri", "law_enforcement"),
        ("Strafverfolgung", "law_enforcement"),
        ("polis", "law_enforcement"),
        ("politie", "law_enforcement"),
        ("milicja", "law_enforcement"),
        ("полиция", "law_enforcement"),
        ("警察", "law_enforcement"),
        ("警察要求", "law_enforcement"),
        ("الشرطة", "law_enforcement"),
        ("interpol", "law_enforcement"),
        ("FBI", "law_enforcement"),
        ("espionage", "security"),
        ("spy", "security"),
        ("care_record, law_enforcement", "law_enforcement"),  # two purpose headers passed on together
        ("ice cream", "other"),
    ],
)
def test_other_languages_and_agencies_are_counted_by_category(spelled, label):
    assert refusal_label(spelled) == label
