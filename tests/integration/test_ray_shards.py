"""The matcher's gallery sharded over Ray actors (issue 15): the same candidates as one process on the fixture
images, every template in exactly one shard, and a killed actor rebuilt from the database with the same results.

Starts a local Ray instance itself (2 CPUs, a small object store); skips, with the reason, when Ray is not
installed or cannot start on the machine, and fails instead under CAREKEY_REQUIRE_RAY=1 (CI: ``ray`` is in the
dev extra, so these tests run there). SQLite only: what is sharded is the gallery, not the database (the shards
read the same template feed as the single process, tested on both databases elsewhere)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest

from carekey import bootstrap
from carekey.biometrics.protection.matcher import ProtectedMatcher
from carekey.crypto.keys import load_key_file
from carekey.domain.ids import new_id
from carekey.storage.protocols import TemplateRow
from carekey.storage.sql.feed import open_template_feed
from tests.integration.helpers import enroll

REQUIRED = os.environ.get("CAREKEY_REQUIRE_RAY") == "1"
try:
    import ray
except ImportError as exc:  # pragma: no cover - depends on the install
    if REQUIRED:
        raise RuntimeError("CAREKEY_REQUIRE_RAY=1 but Ray is not installed") from exc
    pytest.skip("Ray is not installed (pip install 'carekey[ray]')", allow_module_level=True)

BIO = "biometric_identification"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FINGERS = ("db1_101_1", "db1_102_1", "db1_103_1")
EYES = ("01_L_1", "40_L_2", "45_R_1")
SHARDS = 4
QUERIES = (("fingerprint", "db1_101_2"), ("iris", "01_L_2"))  # another capture of db1_101_1, of 01_L_1


def image(name: str) -> bytes:
    if name.startswith("db1"):
        return (FIXTURES / "fingerprint" / f"{name}.tif").read_bytes()
    return (FIXTURES / "iris" / f"{name}.png").read_bytes()


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'carekey.db'}"


@pytest.fixture(scope="module")
def ray_local():
    try:
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            ignore_reinit_error=True,
            log_to_driver=False,
            object_store_memory=100 * 2**20,
        )
    except Exception as exc:  # noqa: BLE001 - any start-up failure means "Ray cannot run here"
        if REQUIRED:
            pytest.fail(f"CAREKEY_REQUIRE_RAY=1 but Ray cannot start on this machine: {exc}")
        pytest.skip(f"Ray cannot start on this machine: {exc}")
    yield
    ray.shutdown()


@pytest.fixture
def gallery(app, world):
    """Three people of the demo program, a finger and an eye each (different fixture images), their templates
    extracted once by the program's matcher and stored as an enrollment stores them (the enrollment service and
    its duplicate checks are tested elsewhere; here only the gallery matters)."""
    s, matcher = app.services, app.services.biometrics.matcher
    people = []
    for i in range(len(FINGERS)):
        _, view = enroll(s, world.registrar, card_number=f"NK{4000 + i}", birth_year=1950 + i)
        people.append(view.person.id)
    with app.database.uow() as uow:
        for pid, finger, eye in zip(people, FINGERS, EYES, strict=True):
            for modality, position, name in (("fingerprint", "right_index", finger), ("iris", "left_eye", eye)):
                template = matcher.extract(modality, image(name))
                uow.biometrics.add(
                    TemplateRow(new_id("T"), pid, modality, position, matcher.key_version, template, datetime.now(UTC))
                )
        uow.commit()
    return app


def test_four_shards_answer_what_one_process_answers_and_survive_a_killed_actor(ray_local, gallery):
    from carekey.biometrics.protection.ray_shards import RayMatcher, shard_of

    keys = load_key_file(gallery.settings.resolved_key_file())
    url = gallery.settings.resolved_database_url()
    single = ProtectedMatcher(keys.biometric_secret, keys.biometric_version)
    single.follow(bootstrap.open_template_feed(url))
    sharded = RayMatcher(
        keys.biometric_secret, keys.biometric_version, 5, partial(open_template_feed, url), SHARDS, None
    )
    assert sharded.build() == single.build() == 6
    with gallery.database.uow() as uow:
        ids = [t.id for m in ("fingerprint", "iris") for t in uow.biometrics.by_modality(m)]
    assert len(ids) == 6
    # every template is in exactly the shard its id hashes to
    placed = [sum(shard_of(t, SHARDS) == i for t in ids) for i in range(SHARDS)]
    assert [s["templates"] for s in sharded.shard_stats()] == placed

    probes = {name: single.probe(modality, image(name)) for modality, name in QUERIES}

    def answers() -> list[list[tuple[str, float]]]:
        return [sharded.search("demo", modality, probes[name]) for modality, name in QUERIES]

    before = answers()
    for (modality, name), many in zip(QUERIES, before, strict=True):
        one = single.search("demo", modality, probes[name])
        assert one, f"{name}: the single process scored nothing"
        assert [ref for ref, _ in many] == [ref for ref, _ in sorted(one, key=lambda kv: (-kv[1], kv[0]))]
        assert [round(sc, 9) for _, sc in many] == sorted((round(sc, 9) for _, sc in one), reverse=True)
    # the genuine mates come first (db1_101_2 is the same finger as db1_101_1, 01_L_2 the same eye as 01_L_1)
    assert before[0][0][1] > single.threshold("fingerprint") and before[1][0][1] > single.threshold("iris")
    assert [len(found) for found in before] == [3, 3]  # under the exhaustive limit every template is scored

    # an actor killed while searches run (the one holding most templates) is restarted by Ray, the searches it
    # was given are retried, and it rebuilds its shard from the database: the same answers, every template back
    victim = max(range(SHARDS), key=lambda i: placed[i])
    pid = ray.get(sharded.actors[victim].pid.remote())
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(answers)
        ray.kill(sharded.actors[victim], no_restart=False)
        assert running.result(timeout=300) == before
    assert answers() == before
    assert ray.get(sharded.actors[victim].pid.remote()) != pid, "the actor was not restarted"
    assert [s["templates"] for s in sharded.shard_stats()] == placed
