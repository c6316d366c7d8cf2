"""One end-to-end identification through ``create_app(settings)`` with the real default matcher (no fake): a
fingerprint enrolled from a fixture image is found by the web identify form from another impression of the same
finger, through the gallery the matcher loaded at start-up and its change feed."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from carekey import bootstrap
from carekey.interfaces.api.app import create_app
from tests.e2e.web_support import BIO, seed, sign_in

FINGERS = Path(__file__).resolve().parents[1] / "fixtures" / "fingerprint"


def test_the_web_identify_form_finds_a_finger_with_the_real_matcher(settings):
    bootstrap.initialize(settings)
    app = create_app(settings)
    built = app.state.carekey
    assert type(built.services.biometrics.matcher).__name__ == "ProtectedMatcher"
    world = seed(built.services)
    s = built.services
    visit = s.visits.open(world.registrar, "north")
    [ama] = s.lookup.by_card(world.registrar, visit.id, "care_record", "NK1001")
    with TestClient(app) as client:  # start-up loads the (empty) gallery; the enrollment reaches it by the feed
        assert built.services.biometrics.matcher.gallery.built
        s.biometrics.enroll(
            world.registrar,
            visit.id,
            BIO,
            ama.person_id,
            "fingerprint",
            "right_index",
            (FINGERS / "db1_101_1.tif").read_bytes(),
        )
        token = sign_in(client)
        r = client.post("/visit", data={"csrf": token, "site_id": "north"})
        vid = str(r.url).rsplit("/", 1)[1]
        probe = ("probe.tif", (FINGERS / "db1_101_2.tif").read_bytes(), "image/tiff")
        r = client.post(
            f"/visit/{vid}/identify",
            data={"csrf": token, "modality": "fingerprint", "agree": "yes"},
            files={"image": probe},
        )
        assert r.status_code == 200, r.text
        assert 'class="card candidate"' in r.text and "Ama" in r.text
        other = ("other.tif", (FINGERS / "db1_102_1.tif").read_bytes(), "image/tiff")
        r = client.post(
            f"/visit/{vid}/identify",
            data={"csrf": token, "modality": "fingerprint", "agree": "yes"},
            files={"image": other},
        )
        assert r.status_code == 200 and 'class="card candidate"' not in r.text
