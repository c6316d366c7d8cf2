"""The printable slip: what it carries, what it does not, and a QR code that decodes to the card number alone."""

from __future__ import annotations

import base64
import io
import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.e2e.test_web_followup import record_exam
from tests.e2e.test_web_forms import confirm_card, open_visit
from tests.e2e.web_support import sign_in

zxingcpp = pytest.importorskip("zxingcpp")


def qr_text(html: str) -> str:
    """Decode the slip's QR image (a PNG data URI) with zxing-cpp, an independent decoder."""
    uri = re.search(r'id="slip-qr" src="data:image/png;base64,([^"]+)"', html).group(1)
    image = Image.open(io.BytesIO(base64.b64decode(uri))).convert("L")
    found = zxingcpp.read_barcodes(image)
    assert len(found) == 1, "exactly one code on the slip"
    assert found[0].format == zxingcpp.BarcodeFormat.QRCode  # a full QR symbol, not Micro QR
    return found[0].text


def test_clinician_slip_has_code_card_next_checkup_and_a_qr_of_the_card_only(web):
    client, _, built = web
    built.services.deps.clock.now = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    clin, vid = record_exam(client, systolic_bp="148", diastolic_bp="92", notes="private note")
    html = clin.get(f"/visit/{vid}/slip").text
    assert f'id="slip-visit"><span class="code">{vid[-6:].upper()}</span>' in html
    assert 'id="slip-card">NK1001<' in html
    assert 'id="slip-next">29 December 2026<' in html
    assert qr_text(html) == "NK1001"
    assert "slip-referral" not in html and "hypertension" not in html.split('id="slip"')[1]  # nothing medical
    assert "private note" not in html and "Ama" not in html.split('id="slip"')[1]  # no notes, no name
    agreed = clin.get(f"/visit/{vid}/slip?advice=1").text
    referral = agreed.split('id="slip-referral"')[1]
    assert "Blood pressure is high (grade 1 hypertension)" in referral


def test_registrar_slip_has_no_exam_data_and_the_print_stylesheet_hides_the_rest(web):
    client, _, _ = web
    token = sign_in(client)
    vid = open_visit(client, token)
    confirm_card(client, token, vid, "NK1002")
    html = client.get(f"/visit/{vid}/slip?advice=1").text
    assert 'id="slip-card">NK1002<' in html and "slip-next" not in html and "slip-referral" not in html
    assert qr_text(html) == "NK1002"
    assert "<script" not in html.split('id="slip"')[1]
    css = client.get("/static/app.css").text
    assert "@media print" in css and ".no-print" in css.split("@media print")[1]


def test_no_slip_before_a_person_is_confirmed_and_not_for_other_roles(web):
    client, app, _ = web
    token = sign_in(client)
    vid = open_visit(client, token)
    r = client.get(f"/visit/{vid}/slip")
    assert r.status_code == 422 and "confirm or enroll the person first" in r.text
    manager = TestClient(app)
    sign_in(manager, "manager")
    assert manager.get(f"/visit/{vid}/slip").status_code == 403
