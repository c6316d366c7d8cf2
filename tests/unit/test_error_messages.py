"""Messages of errors for people (issue 18): English text everywhere (log, API, CLI), the template and values kept
for the web UI, which shows them in the reader's language (``interfaces/web/i18n.say``)."""

from __future__ import annotations

import json

import pytest

from carekey.domain.exam import Exam
from carekey.domain.visit import Visit
from carekey.errors import Conflict, ConsentMissing, Message, OutOfRange, msg
from carekey.interfaces.web import i18n


@pytest.fixture
def french():
    i18n.activate("fr")
    yield
    i18n.activate("en")


def _exam_error(**values: object) -> OutOfRange:
    with pytest.raises(OutOfRange) as caught:
        Exam.create(id="EX-1", **values)  # type: ignore[arg-type]
    return caught.value


def test_a_message_is_its_english_text_and_keeps_its_template():
    m = msg("no visit %(visit)s at your sites", visit="V-1")
    assert m == "no visit V-1 at your sites" and isinstance(m, str) and isinstance(m, Message)
    assert m.template == "no visit %(visit)s at your sites" and dict(m.values) == {"visit": "V-1"}
    assert json.dumps({"detail": m}) == '{"detail": "no visit V-1 at your sites"}'
    assert msg("a constant, 100% plain") == "a constant, 100% plain"  # no values: never %-formatted


def test_an_exam_value_out_of_range_in_english_and_in_french(french):
    err = _exam_error(glucose_mmol_l=45.5)
    assert err.message == "Glucose [Moles/volume] in Blood 45.5 mmol/L is outside the plausible range 1.0-40.0 mmol/L"
    assert i18n.say(err) == "Glucose sanguin [moles/volume] 45,5 mmol/L est hors de la plage plausible 1-40 mmol/L"
    i18n.activate("en")
    assert i18n.say(err) == "Glucose [Moles/volume] in Blood 45.5 mmol/L is outside the plausible range 1-40 mmol/L"


def test_constant_messages_and_a_missing_consent_in_french(french):
    with pytest.raises(Conflict) as caught:
        Visit("V-1", "north", "U-1", None, person_id="P-1").bind("P-2")  # type: ignore[arg-type]
    assert caught.value.message == "this visit already serves another person; open a new visit"
    assert i18n.say(caught.value) == "cette visite sert déjà une autre personne ; ouvrez une nouvelle visite"
    missing = ConsentMissing(
        "the person has not granted (or has revoked) consent for biometric_identification",
        purpose="biometric_identification",
    )
    assert i18n.say(missing) == (
        "la personne n'a pas donné (ou a retiré) son consentement pour "
        + i18n.gettext(i18n.PURPOSE["biometric_identification"])
    )
    assert i18n.say("a message nobody translated") == "a message nobody translated"
