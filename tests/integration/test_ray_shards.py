"""The matcher's gallery sharded over Ray actors (issue 15): the same candidates as one process on the fixture
images, every template in exactly one shard, and a killed actor rebuilt from the database with the same results.
Starts a local Ray instance (2 CPUs); skips, with the reason, when Ray is not installed or cannot start."""

from __future__ import annotations

from pathlib import Path

import pytest

from carekey import bootstrap
from carekey.biometrics.protection.matcher import ProtectedMatcher
from carekey.crypto.keys import load_key_file
from tests.integration.helpers import enroll

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'carekey[ray]')")

BIO = "biometric_identification"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FINGERS = ("db1_101_1", "db1_102_1", "db1_103_1")
EYES = ("01_L_1", "40_L_2", "45_R_1")


def image(name: str) -> bytes:
    if name.startswith("db1"):
        return (FIXTURES / "fingerprint" / f"{name}.tif").read_bytes()
    return (FIXTURES / "iris" / f"{name}.png").read_bytes()


@pytest.fixture(scope="module")
def ray_local():
    try:
        ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False)
    except Exception as exc:  # noqa: BLE001 - any start-up failure means "Ray cannot run here"
        pytest.skip(f"Ray cannot start on this machine: {exc}")
    yield
    ray.shutdown()


@pytest.fixture
def gallery(app, world):
    """Six people enrolled (a finger and an eye each, from different fixture images) through the services."""
    s = app.services
    for i, (finger, eye) in enumerate(zip(FINGERS, EYES, strict=True)):
        visit, view = enroll(s, world.registrar, card_number=f"NK{4000 + i}", birth_year=1950 + i)
        s.biometrics.enroll(world.registrar, visit.id, BIO, view.person.id, "fingerprint", "right_index", image(finger))
        s.biometrics.enroll(world.registrar, visit.id, BIO, view.person.id, "iris", "left_eye", image(eye))
    return app


def test_sharded_search_returns_what_one_process_returns(ray_local, gallery):
    from carekey.biometrics.protection.ray_shards import RayMatcher, shard_of

    keys = load_key_file(gallery.settings.resolved_key_file())
    url = gallery.settings.resolved_database_url()
    single = ProtectedMatcher(keys.biometric_secret, keys.biometric_version)
    single.follow(bootstrap.open_template_feed(url))
    sharded = RayMatcher(
        keys.biometric_secret, keys.biometric_version, 5, lambda: bootstrap.open_template_feed(url), 3, None
    )
    assert sharded.build() == single.build() == 6
    with gallery.database.uow() as uow:
        ids = [t.id for m in ("fingerprint", "iris") for t in uow.biometrics.by_modality(m)]
    assert len(ids) == 6
    # every template is in exactly the shard its id hashes to
    assert [s["templates"] for s in sharded.shard_stats()] == [sum(shard_of(t, 3) == i for t in ids) for i in range(3)]

    queries = [("fingerprint", "db1_101_2"), ("fingerprint", "db1_103_1"), ("iris", "01_L_2"), ("iris", "45_R_1")]
    for modality, name in queries:
        probe = single.probe(modality, image(name))
        one = single.search("demo", modality, probe)
        many = sharded.search("demo", modality, probe)
        assert [ref for ref, _ in many] == [ref for ref, _ in sorted(one, key=lambda kv: (-kv[1], kv[0]))]
        assert [round(sc, 9) for _, sc in many] == sorted((round(sc, 9) for _, sc in one), reverse=True)
        assert one, f"{name}: the single process scored nothing"

    # an actor killed mid-run is restarted by Ray and rebuilds its shard from the database: same answers
    probe = single.probe("fingerprint", image("db1_101_2"))
    before = sharded.search("demo", "fingerprint", probe)
    ray.kill(sharded.actors[0], no_restart=False)
    assert sharded.search("demo", "fingerprint", probe) == before
    assert sum(s["templates"] for s in sharded.shard_stats()) == 6
