"""Support for web UI tests: an image-reading fake of the BiometricMatcher port, a seeded world, form helpers."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from carekey.domain.consent import Grantor
from carekey.errors import CaptureRejected
from carekey.services.consents import ConsentInput
from carekey.services.people import PersonInput
from tests.conftest import PASSWORD, make_world

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "web"
CARE, BIO, STATS = "care_record", "biometric_identification", "aggregate_statistics"


class ImageFakeMatcher:
    """Stands in for the fingerprint/iris engines behind the port: decodes the image, rejects unreadable or
    blank ones (with a quality figure), and matches only the very same pixels (score 100, else 0)."""

    key_version = 1

    def extract(self, modality: str, image: bytes) -> bytes:
        try:
            with Image.open(io.BytesIO(image)) as im:
                pixels = np.asarray(im.convert("L"), dtype=np.uint8)
        except (UnidentifiedImageError, OSError):
            raise CaptureRejected("the file is not a readable image") from None
        quality = round(float(pixels.std()) / 64.0, 2)
        if quality < 0.1:
            raise CaptureRejected(f"the {modality} image is blank: no ridges or texture found", quality=quality)
        return hashlib.sha256(pixels.tobytes()).digest()

    def probe(self, modality: str, image: bytes) -> bytes:
        return self.extract(modality, image)

    def search(self, modality, probe, gallery):  # type: ignore[no-untyped-def]
        return sorted(((ref, 100.0 if t == probe else 0.0) for ref, t in gallery), key=lambda x: -x[1])

    def threshold(self, modality: str) -> float:
        return 50.0


def seed(services):  # type: ignore[no-untyped-def]
    """The conftest world (program 'demo' in en/fr, sites north/south, one user per role) and two people."""
    world = make_world(services)
    for given, family, year, card, grants in (("Ama", "Mensah", 1980, "NK1001", (CARE, BIO, STATS)),
                                              ("Kwame", "Boateng", 1975, "NK1002", (CARE,))):
        visit = services.visits.open(world.registrar, "north")
        person = PersonInput(given, family, "female" if given == "Ama" else "male", year, card,
                             district="Northern", village="Gumani")
        services.people.enroll(world.registrar, visit.id, CARE, person,
                               ConsentInput.parse(list(grants), "v1", "en", Grantor()), pin="246813")
        services.visits.close(world.registrar, visit.id)
    return world


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert match, "no CSRF field in the page"
    return match.group(1)


def sign_in(client, username="registrar"):  # type: ignore[no-untyped-def]
    token = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"csrf": token, "username": username, "password": PASSWORD},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    return csrf_of(client.get("/").text)
