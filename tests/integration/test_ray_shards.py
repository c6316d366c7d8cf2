"""The matcher's gallery sharded over Ray actors (issue 15): the same candidates as one process on the fixture
images, every template in exactly one shard, and a killed actor rebuilt from the database with the same results.

Uses the session's local Ray instance (``ray_local`` in ``tests/conftest.py``: 2 CPUs, a small object store; skips
with the reason when Ray is not installed or cannot start, fails instead under CAREKEY_REQUIRE_RAY=1). One gallery
and one set of actors serve the module (starting actors is most of the time); the actors start while this process
extracts the gallery. SQLite only: what is sharded is the gallery, not the database (the shards read the same
template feed as the single process, tested on both databases elsewhere)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from carekey import bootstrap
from carekey.biometrics.protection.matcher import ProtectedMatcher
from carekey.bootstrap import matcher as matcher_setup
from carekey.config import Settings
from carekey.crypto.keys import load_key_file
from carekey.domain.ids import new_id
from carekey.storage.protocols import TemplateRow
from carekey.storage.sql.feed import open_template_feed
from tests.conftest import Clock, make_world
from tests.integration.helpers import enroll

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FINGERS = ("db1_101_1", "db1_102_1", "db1_103_1")
EYES = ("01_L_1", "40_L_2", "45_R_1")
SHARDS = 4
QUERIES = (("fingerprint", "db1_101_2"), ("iris", "01_L_2"))  # another capture of db1_101_1, of 01_L_1


def image(name: str) -> bytes:
    if name.startswith("db1"):
        return (FIXTURES / "fingerprint" / f"{name}.tif").read_bytes()
    return (FIXTURES / "iris" / f"{name}.png").read_bytes()


@dataclass
class Sharded:
    app: Any
    single: ProtectedMatcher
    sharded: Any  # ray_shards.RayMatcher
    ids: list[str]  # the stored template ids
    probes: dict[str, bytes]

    def answers(self) -> list[list[tuple[str, float]]]:
        return [self.sharded.search("demo", modality, self.probes[name]) for modality, name in QUERIES]

    def single_answers(self) -> list[list[tuple[str, float]]]:
        found = [self.single.search("demo", modality, self.probes[name]) for modality, name in QUERIES]
        return [sorted(one, key=lambda kv: (-kv[1], kv[0])) for one in found]


@pytest.fixture(scope="module")
def gallery(ray_local, tmp_path_factory):
    """Three people of the demo program, a finger and an eye each (different fixture images), their templates
    extracted once by the program's matcher and stored as an enrollment stores them (the enrollment service and
    its duplicate checks are tested elsewhere; here only the gallery matters); a single-process matcher and
    SHARDS actors following the same database."""
    from carekey.biometrics.protection.ray_shards import RayMatcher

    tmp = tmp_path_factory.mktemp("ray_shards")
    settings = Settings(
        data_dir=tmp / "data",
        database_url=f"sqlite:///{tmp / 'carekey.db'}",
        argon2_time_cost=1,
        argon2_memory_kib=64,
    )
    bootstrap.initialize(settings)
    app = bootstrap.build(settings)
    app.services.deps.clock = Clock()
    keys = load_key_file(settings.resolved_key_file())
    url = settings.resolved_database_url()
    # the actors start (processes, imports) while this process extracts and stores the gallery; they read it on
    # build()
    sharded = RayMatcher(
        keys.biometric_secret, keys.biometric_version, 5, partial(open_template_feed, url), SHARDS, None
    )
    world = make_world(app.services)
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
    with app.database.uow() as uow:
        ids = [t.id for m in ("fingerprint", "iris") for t in uow.biometrics.by_modality(m)]
    single = ProtectedMatcher(keys.biometric_secret, keys.biometric_version)
    single.follow(matcher_setup.open_template_feed(url))
    probes = {name: single.probe(modality, image(name)) for modality, name in QUERIES}
    yield Sharded(app, single, sharded, ids, probes)
    for actor in sharded.actors:  # the session's Ray instance outlives the module
        ray_local.kill(actor, no_restart=True)
    app.close()


def test_four_shards_answer_what_one_process_answers(gallery):
    from carekey.biometrics.protection.ray_shards import shard_of

    g = gallery
    assert g.sharded.build() == g.single.build() == len(g.ids) == 6
    # every template is in exactly the shard its id hashes to
    placed = [sum(shard_of(t, SHARDS) == i for t in g.ids) for i in range(SHARDS)]
    assert [s["templates"] for s in g.sharded.shard_stats()] == placed

    many, one = g.answers(), g.single_answers()
    assert all(one), "the single process scored nothing"
    assert [[ref for ref, _ in found] for found in many] == [[ref for ref, _ in found] for found in one]
    assert [[round(sc, 9) for _, sc in found] for found in many] == [[round(sc, 9) for _, sc in found] for found in one]
    # the genuine mates come first (db1_101_2 is the same finger as db1_101_1, 01_L_2 the same eye as 01_L_1)
    assert many[0][0][1] > g.single.threshold("fingerprint") and many[1][0][1] > g.single.threshold("iris")
    assert [len(found) for found in many] == [3, 3]  # under the exhaustive limit every template is scored


def test_a_killed_actor_is_rebuilt_and_answers_the_same(gallery, ray_local):
    from carekey.biometrics.protection.ray_shards import shard_of

    g = gallery
    g.sharded.build()
    placed = [sum(shard_of(t, SHARDS) == i for t in g.ids) for i in range(SHARDS)]
    before = g.answers()
    assert [[ref for ref, _ in found] for found in before] == [
        [ref for ref, _ in found] for found in g.single_answers()
    ]
    # an actor killed while searches run (the one holding most templates) is restarted by Ray, the searches it
    # was given are retried, and it rebuilds its shard from the database: the same answers, every template back
    victim = max(range(SHARDS), key=lambda i: placed[i])
    assert placed[victim] > 0
    pid = ray_local.get(g.sharded.actors[victim].pid.remote())
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(g.answers)
        ray_local.kill(g.sharded.actors[victim], no_restart=False)
        assert running.result(timeout=300) == before
    assert g.answers() == before
    assert ray_local.get(g.sharded.actors[victim].pid.remote()) != pid, "the actor was not restarted"
    assert [s["templates"] for s in g.sharded.shard_stats()] == placed
