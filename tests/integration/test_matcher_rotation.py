"""Key rotation and renewal with the matcher as its own service (issue 15): the matcher rotates its own secret
(``carekey matcher rotate-key``), the registry adopts the new key version from the matcher's ``/health`` without
ever holding a secret, and the renewal job re-extracts kept images through the matcher, each request carrying the
log receipt of the person's ``renew_biometric`` entry (scoped to the program and the modalities renewed)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from carekey import bootstrap
from carekey.audit.receipt import scope_tag
from carekey.bootstrap import matcher as matcher_setup
from carekey.crypto.keys import load_key_file, load_matcher_key_file
from carekey.errors import Conflict, MatcherUnavailable
from tests.conftest import Clock, make_world
from tests.integration.helpers import ALL
from tests.integration.test_kept_images import IMAGES, enroll_with
from tests.integration.test_matcher_service import Served
from tests.integration.test_protected_biometrics import BIO, image


@pytest.fixture
def db_url(tmp_path):
    """SQLite: the rotation's steps are the same on PostgreSQL (renewal itself is tested on both)."""
    return f"sqlite:///{tmp_path / 'carekey.db'}"


def open_registry(settings):
    app = bootstrap.build(settings)
    app.services.deps.clock = Clock()
    return app


def no_secret_in(folder: Path, secret: bytes) -> None:
    forms = [secret, secret.hex().encode(), base64.b64encode(secret)]
    for path in (p for p in folder.rglob("*") if p.is_file()):
        assert not any(form in path.read_bytes() for form in forms), f"{path.name} holds the biometric secret"


def test_rotation_and_renewal_through_the_matcher_service(settings, tmp_path):
    bootstrap.initialize(settings)
    socket, matcher_dir = tmp_path / "matcher.sock", tmp_path / "matcher"
    matcher_setup.initialize_matcher(settings, matcher_dir, f"unix:{socket}")
    served = Served(matcher_dir, socket)
    app = open_registry(settings)
    s = app.services
    world = make_world(s)
    visit, ama = enroll_with(s, world.registrar, (*ALL, IMAGES))  # opted in to kept images
    s.biometrics.enroll(world.registrar, visit.id, BIO, ama, "iris", "left", image("01_L_1"))
    s.biometrics.enroll(world.registrar, visit.id, BIO, ama, "fingerprint", "right_index", image("db1_101_1"))
    visit2, kofi = enroll_with(s, world.registrar, ALL, card_number="NK2002", given_name="Kofi")
    s.biometrics.enroll(world.registrar, visit2.id, BIO, kofi, "iris", "left", image("40_L_2"))
    app.close()
    old_secret = load_matcher_key_file(matcher_dir / "matcher.keys").biometric_secret

    # the registry cannot rotate on its own: the matcher still serves version 1
    with pytest.raises(Conflict, match="matcher rotate-key"):
        bootstrap.rotate_biometric_key(settings)

    # the matcher's operator rotates its key and restarts it; the registry adopts the version it reports
    served.stop()
    assert matcher_setup.rotate_matcher_key(matcher_dir) == 2
    new_secret = load_matcher_key_file(matcher_dir / "matcher.keys").biometric_secret
    assert new_secret != old_secret
    socket.unlink(missing_ok=True)
    served = Served(matcher_dir, socket)
    try:
        assert served.health()["key_version"] == 2 and served.health()["templates"] == 0  # v1 rows: not searched
        assert bootstrap.rotate_biometric_key(settings) == 2
        keys = load_key_file(settings.resolved_key_file())
        assert (keys.biometric_version, keys.biometric_secret, keys.biometric_remote) == (2, None, True)
        no_secret_in(settings.data_dir, new_secret)

        app = open_registry(settings)
        try:
            report = app.services.renewal.run()
            assert (report.key_version, report.renewed, report.templates, report.failed) == (2, [ama], 2, {})
            with app.database.uow() as uow:
                assert sorted((t.modality, t.key_version) for t in uow.biometrics.for_person(ama)) == [
                    ("fingerprint", 2),
                    ("iris", 2),
                ]
                assert [t.key_version for t in uow.biometrics.for_person(kofi)] == [1]  # re-enrolls next capture
                [entry] = [e.event for e in uow.access_log.for_person(ama) if e.event.action == "renew_biometric"]
            assert entry.outcome == "granted" and entry.reason.endswith(scope_tag("demo", "fingerprint+iris"))
            health = served.health()
            assert health["receipts"]["accepted"].get("renew") == 1 and health["receipts"]["refused_total"] == 0

            # the renewed templates are found through the service, under the new key
            nxt = app.services.visits.open(world.registrar, "north")
            hits = app.services.biometrics.identify(
                world.registrar, nxt.id, BIO, "iris", image("01_L_2"), person_agreed=True
            )
            assert [c.person_id for c in hits] == [ama]
            assert served.health()["templates"] == 2  # the matcher's gallery caught up on the feed at that search
            # renewing again finds nothing to do and sends nothing
            again = app.services.renewal.run()
            assert (again.renewed, again.failed) == ([], {})
            assert served.health()["receipts"]["accepted"].get("renew") == 1
        finally:
            app.close()
    finally:
        served.stop()
    assert json.loads(settings.resolved_key_file().read_text()).get("biometric_secret") is None


def test_renewal_with_the_matcher_down_stops_with_nothing_stored(settings, tmp_path):
    bootstrap.initialize(settings)
    socket, matcher_dir = tmp_path / "matcher.sock", tmp_path / "matcher"
    matcher_setup.initialize_matcher(settings, matcher_dir, f"unix:{socket}")
    served = Served(matcher_dir, socket)
    app = open_registry(settings)
    world = make_world(app.services)
    visit, ama = enroll_with(app.services, world.registrar, (*ALL, IMAGES))
    app.services.biometrics.enroll(world.registrar, visit.id, BIO, ama, "iris", "left", image("01_L_1"))
    app.close()
    assert served.health()["receipts"]["accepted"] == {"enroll": 1, "duplicate_search": 1}
    served.stop()
    matcher_setup.rotate_matcher_key(matcher_dir)
    socket.unlink(missing_ok=True)  # the matcher is not restarted
    with pytest.raises(MatcherUnavailable):
        bootstrap.rotate_biometric_key(settings)  # the registry cannot learn the version: it keeps its own
    assert load_key_file(settings.resolved_key_file()).biometric_version == 1

    # a registry that adopted version 2 while the matcher is down: the renewal stops at once, nothing is stored
    keys = load_key_file(settings.resolved_key_file())
    from carekey.crypto.keys import adopt_remote_biometric_version

    adopt_remote_biometric_version(settings.resolved_key_file(), keys.biometric_version + 1)
    app = open_registry(settings)
    try:
        with pytest.raises(MatcherUnavailable, match="cannot be reached"):
            app.services.renewal.run()
        with app.database.uow() as uow:
            assert [t.key_version for t in uow.biometrics.for_person(ama)] == [1]
            assert {i.key_version for i in uow.images.for_person(ama)} == {1}
            # the attempt is in the person's log (the image was about to be sent)
            assert [e.event.action for e in uow.access_log.for_person(ama)].count("renew_biometric") == 1
    finally:
        app.close()
