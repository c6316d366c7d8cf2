from datetime import datetime, timedelta

import pytest

from carekey.domain.consent import (
    ConsentRecord,
    Grantor,
    GrantorKind,
    check_grantor,
    current_grants,
    parse_consent_purpose,
)
from carekey.domain.program import Program, Role, Site, User, parse_role
from carekey.domain.purposes import Purpose
from carekey.errors import InvalidInput

SELF = Grantor()
COSIGNED = Grantor(GrantorKind.SELF, "Kofi Mensah", "father")
GUARDIAN = Grantor(GrantorKind.GUARDIAN, "Kofi Mensah", "father")


@pytest.mark.parametrize(
    ("age", "grantor", "ok"),
    [
        (30, SELF, True),
        (18, SELF, True),
        (30, GUARDIAN, False),
        (30, COSIGNED, False),
        (17, SELF, False),
        (17, COSIGNED, True),
        (12, COSIGNED, True),
        (12, GUARDIAN, False),
        (11, GUARDIAN, True),
        (11, COSIGNED, False),
        (0, SELF, False),
        (5, Grantor(GrantorKind.GUARDIAN, "X", ""), False),
    ],
)
def test_age_rules(age, grantor, ok):
    if ok:
        check_grantor(grantor, age)
    else:
        with pytest.raises(InvalidInput):
            check_grantor(grantor, age)


def rec(purpose, granted, minutes):
    return ConsentRecord(
        id=f"C{minutes}",
        person_id="CK-A",
        purpose=purpose,
        granted=granted,
        notice_version="v1",
        language="en",
        grantor=SELF,
        at=datetime(2026, 1, 1) + timedelta(minutes=minutes),
        site_id="north",
        user_id="U-1",
    )


def test_latest_decision_wins():
    hist = [
        rec(Purpose.CARE_RECORD, True, 0),
        rec(Purpose.BIOMETRIC_IDENTIFICATION, True, 1),
        rec(Purpose.BIOMETRIC_IDENTIFICATION, False, 2),
        rec(Purpose.AGGREGATE_STATISTICS, False, 3),
    ]
    assert current_grants(reversed(hist)) == {Purpose.CARE_RECORD}
    assert current_grants(hist + [rec(Purpose.BIOMETRIC_IDENTIFICATION, True, 4)]) == {
        Purpose.CARE_RECORD,
        Purpose.BIOMETRIC_IDENTIFICATION,
    }


def test_consent_purposes_closed():
    assert parse_consent_purpose("care_record") is Purpose.CARE_RECORD
    for bad in ("audit", "law_enforcement", ""):
        with pytest.raises(InvalidInput):
            parse_consent_purpose(bad)


def test_program_notice_checks():
    p = Program("demo", "Demo", ("v1", "v2"), ("en", "fr"))
    p.check_notice("v2", "fr")
    with pytest.raises(InvalidInput, match="notice version"):
        p.check_notice("v3", "en")
    with pytest.raises(InvalidInput, match="language"):
        p.check_notice("v1", "de")


def test_users_and_sites_validated():
    assert User("U-1", "ama", Role.REGISTRAR, frozenset({"north"})).works_at("north")
    with pytest.raises(InvalidInput):
        User("U-1", "ama", Role.CLINICIAN)
    with pytest.raises(InvalidInput):
        User("U-1", "A B", Role.ADMIN)
    with pytest.raises(InvalidInput):
        Site("North Site", "demo", "x")
    with pytest.raises(InvalidInput):
        parse_role("police")
    assert parse_role(" Auditor ") is Role.AUDITOR


def test_kept_images_only_with_biometric_consent():
    from carekey.domain.consent import check_dependencies, implied_revocations

    bio, images = Purpose.BIOMETRIC_IDENTIFICATION, Purpose.BIOMETRIC_IMAGE_RETENTION
    check_dependencies({Purpose.CARE_RECORD, bio, images})
    check_dependencies({bio})
    with pytest.raises(InvalidInput, match="together with biometric_identification"):
        check_dependencies({Purpose.CARE_RECORD, images})
    assert implied_revocations(bio, {bio, images}) == (images,)
    assert implied_revocations(bio, {bio}) == ()
    assert implied_revocations(images, {bio, images}) == ()
    assert parse_consent_purpose("biometric_image_retention") is images
