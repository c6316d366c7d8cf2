"""The login limiter on SQLite and PostgreSQL (issue 14, finding 4): one atomic check-and-count in the database
(20 parallel guesses -> at most the limit reach the PIN check), normalized keys (card numbers, usernames), shared
by every process, bounded in size and number, lockouts with an exponential back-off told to the person."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from carekey import bootstrap
from carekey.errors import NotAuthenticated, RateLimited
from carekey.services.hashing import HashGate
from carekey.storage.sql.tables import login_limits
from tests.conftest import PASSWORD, Clock
from tests.integration.helpers import CARE, consent, person_input

pytestmark = pytest.mark.faults
WRONG = "not-the-password"


def enroll_with_pin(app, world, card="NK100000", pin="402719"):
    s = app.services
    visit = s.visits.open(world.registrar, "north")
    s.people.enroll(
        world.registrar, visit.id, CARE, person_input(card_number=card), consent(), pin=pin, confirm_new=True
    )


def limiter_rows(app) -> int:
    with app.database.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(login_limits)).scalar_one())


def test_parallel_pin_guesses_count_at_most_the_limit(app, world):
    """20 guesses at once: at most login_attempts_per_minute reach the PIN check (SQLite and PostgreSQL)."""
    enroll_with_pin(app, world)
    # the server's hashing gate (HashGate: 429 before anything is counted when too many sign-ins are in progress,
    # tested in tests/integration/test_transactions.py) is opened wide, so that all 20 reach the limiter
    app.services.deps.hashing = HashGate(admitted=20, max_wait=float("inf"))
    outcomes: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(20)

    def guess(i: int) -> None:
        barrier.wait()
        try:
            app.services.patients.login("NK100000", f"{900000 + i}", client=f"10.0.0.{i}")
            result = "in"
        except NotAuthenticated:
            result = "checked"
        except RateLimited:
            result = "limited"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    limit = app.settings.login_attempts_per_minute
    assert len(outcomes) == 20 and outcomes.count("in") == 0
    assert outcomes.count("checked") <= limit and outcomes.count("limited") >= 20 - limit, outcomes
    with pytest.raises(RateLimited, match="locked; try again in"):  # the right PIN waits for the lockout too
        app.services.patients.login("NK100000", "402719", client="10.9.9.9")


def test_card_number_variants_share_one_limit(app, world):
    enroll_with_pin(app, world)
    p = app.services.patients
    for i in range(app.settings.login_attempts_per_minute):
        with pytest.raises(NotAuthenticated):
            p.login("NK100000", "111222", client=f"10.1.0.{i}")
    for variant in ("NK-100000", " nk100000 ", "NK 100 000"):
        with pytest.raises(RateLimited) as err:
            p.login(variant, "402719", client="10.2.0.1")
        assert err.value.detail["retry_after"] == 60


def test_lockout_backs_off_and_success_resets(app, world):
    enroll_with_pin(app, world)
    p, clock = app.services.patients, app.services.deps.clock
    assert isinstance(clock, Clock)
    clock.now = datetime(2026, 1, 1, tzinfo=UTC)
    waits = []
    for _ in range(3):
        for i in range(app.settings.login_attempts_per_minute):
            with pytest.raises(NotAuthenticated):
                p.login("NK100000", "111222", client=f"10.3.{len(waits)}.{i}")
        with pytest.raises(RateLimited) as err:
            p.login("NK100000", "111222", client="10.4.0.1")
        waits.append(err.value.detail["retry_after"])
        clock.now += timedelta(seconds=err.value.detail["retry_after"] + 1)
    assert waits == [60, 120, 240]
    assert p.login("NK100000", "402719", client="10.5.0.1").person_id  # lock over: the right PIN opens
    for i in range(app.settings.login_attempts_per_minute):  # ...and the back-off starts again from one minute
        with pytest.raises(NotAuthenticated):
            p.login("NK100000", "111222", client=f"10.6.0.{i}")
    with pytest.raises(RateLimited) as err:
        p.login("NK100000", "111222", client="10.7.0.1")
    assert err.value.detail["retry_after"] == 60


def test_username_variants_share_one_limit_and_other_processes_see_it(app, world):
    for i in range(app.settings.login_attempts_per_minute):
        with pytest.raises(NotAuthenticated):
            app.services.auth.login("registrar", WRONG, client=f"10.8.0.{i}")
    other = bootstrap.build(app.settings)  # a second process on the same database (another worker, the CLI)
    try:
        for variant in (" REGISTRAR ", "Registrar", "registrar\t"):
            with pytest.raises(RateLimited):
                other.services.auth.login(variant, PASSWORD, client="10.9.0.1")
    finally:
        other.close()


def test_limiter_keys_are_bounded(app, world):
    for i in range(5):
        with pytest.raises(NotAuthenticated):
            app.services.auth.login("x" * 10_000 + str(i), WRONG, client="10.10.0.1")
    with app.database.engine.connect() as conn:
        keys = [k for (k,) in conn.execute(sa.select(login_limits.c.key))]
    assert all(len(k) == 64 for k in keys) and len(keys) <= 6
    app.settings.login_limit_keys = 100
    for i in range(250):
        with pytest.raises((NotAuthenticated, RateLimited)):
            app.services.auth.login(f"nobody-{i}", WRONG, client=f"10.11.{i // 250}.{i % 250}")
    assert limiter_rows(app) <= 100 + 2 * app.services.auth.limiter.PRUNE_EVERY
