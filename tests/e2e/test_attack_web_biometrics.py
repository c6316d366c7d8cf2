"""Insider attacks on the web UI's capture and identification screens: another site's registrar and the admin
posting to a visit they did not open (with their own valid session and CSRF token) are refused, nothing stored,
and the person's name is not in the answer."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.e2e.test_web_forms import confirm_card, open_visit
from tests.e2e.web_support import FIXTURES, sign_in

FINGER = (FIXTURES / "finger_a.png").read_bytes()


def templates(built):
    with built.database.engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM biometric_templates")).scalar_one()


@pytest.mark.parametrize("intruder", ["registrar-south", "clinician-south", "admin", "manager", "auditor"])
def test_another_sites_staff_and_the_admin_cannot_capture_or_identify_in_a_visit(web, intruder):
    client, _, built = web
    token = sign_in(client)
    vid = open_visit(client, token)
    confirm_card(client, token, vid, "NK1001")  # Ama (biometric consent), this visit serves her
    before = templates(built)
    token = sign_in(client, intruder)
    r = client.post(
        f"/visit/{vid}/capture",
        data={"csrf": token, "modality": "fingerprint", "position": "right_index"},
        files={"image": ("a.png", FINGER, "image/png")},
    )
    assert r.status_code in (403, 404), r.text
    assert "Ama" not in r.text and "Mensah" not in r.text
    r = client.post(
        f"/visit/{vid}/identify",
        data={"csrf": token, "modality": "fingerprint", "person_agreed": "yes"},
        files={"image": ("a.png", FINGER, "image/png")},
    )
    assert r.status_code in (403, 404), r.text
    assert "Ama" not in r.text and "Mensah" not in r.text
    assert templates(built) == before
