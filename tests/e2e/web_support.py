"""Support for web UI tests: an image-reading fake of the BiometricMatcher port, a seeded world, form helpers."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from carekey.biometrics.feed import FollowedGallery
from carekey.domain.consent import Grantor
from carekey.errors import CaptureRejected
from carekey.services.consents import ConsentInput
from carekey.services.people import PersonInput
from tests.conftest import PASSWORD, make_world

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "web"
CARE, BIO, STATS = "care_record", "biometric_identification", "aggregate_statistics"


class ExactIndex:
    """The fakes' 1:N index (``carekey.biometrics.feed.ShardIndex``): template id -> bytes; score 100 for the very
    same bytes, else 0. ``scored`` remembers every template id a search compared (what it could have shown)."""

    nbytes = 0

    def __init__(self, scored: list[str]) -> None:
        self._t: dict[str, bytes] = {}
        self.scored = scored

    def __len__(self) -> int:
        return len(self._t)

    def __contains__(self, key: object) -> bool:
        return key in self._t

    def add_many(self, keys, codes):  # type: ignore[no-untyped-def]
        self._t.update(zip(keys, codes, strict=True))

    def remove(self, key: str) -> None:
        del self._t[key]

    def search(self, probe, top, among):  # type: ignore[no-untyped-def]
        keys = list(self._t) if among is None else list(among)
        self.scored.extend(keys)
        return sorted(((k, 100.0 if self._t[k] == probe else 0.0) for k in keys), key=lambda x: -x[1])[:top]


class FeedFake:
    """The gallery half of a fake matcher: the real ``FollowedGallery`` (feed, programs, positions) over
    ``ExactIndex`` shards, so fakes exercise the same catch-up as the protected matcher."""

    key_version = 1

    @property
    def gallery(self) -> FollowedGallery:
        if "_gallery" not in self.__dict__:
            self.scored: list[str] = []
            self._gallery = FollowedGallery(self.key_version, lambda _m, data: data, lambda _m: ExactIndex(self.scored))
        return self._gallery

    def follow(self, feed):  # type: ignore[no-untyped-def]
        self.gallery.follow(feed)

    def build(self, progress=None):  # type: ignore[no-untyped-def]
        return self.gallery.build(progress)

    def search(self, program_id, modality, probe, position=None, among=None):  # type: ignore[no-untyped-def]
        return self.gallery.search(program_id, modality, probe, position, among)


class ImageFakeMatcher(FeedFake):
    """Stands in for the fingerprint/iris engines behind the port: decodes the image, rejects unreadable or
    blank ones (with a quality figure), and matches only the very same pixels (score 100, else 0)."""

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

    def threshold(self, modality: str) -> float:
        return 50.0


def seed(services):  # type: ignore[no-untyped-def]
    """The conftest world (program 'demo' in en/fr, sites north/south, one user per role) and two people."""
    world = make_world(services)
    for given, family, year, card, grants in (
        ("Ama", "Mensah", 1980, "NK1001", (CARE, BIO, STATS)),
        ("Kwame", "Boateng", 1975, "NK1002", (CARE,)),
    ):
        visit = services.visits.open(world.registrar, "north")
        person = PersonInput(
            given, family, "female" if given == "Ama" else "male", year, card, district="Northern", village="Gumani"
        )
        services.people.enroll(
            world.registrar,
            visit.id,
            CARE,
            person,
            ConsentInput.parse(list(grants), "v1", "en", Grantor()),
            pin="246813",
        )
        services.visits.close(world.registrar, visit.id)
    return world


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert match, "no CSRF field in the page"
    return match.group(1)


def sign_in(client, username="registrar"):  # type: ignore[no-untyped-def]
    token = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"csrf": token, "username": username, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return csrf_of(client.get("/").text)
