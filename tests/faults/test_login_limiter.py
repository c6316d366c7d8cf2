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


def test_slow_guessing_locks_too(app, world):
    """Nine wrong PINs a minute never trip the per-minute limit, but the account locks after
    login_failures_before_lock failures since the last success, whatever the pace (red-team F10)."""
    enroll_with_pin(app, world)
    p, clock = app.services.patients, app.services.deps.clock
    clock.now = datetime(2026, 1, 1, tzinfo=UTC)
    cap = app.settings.login_failures_before_lock
    for i in range(cap):
        if i and i % 9 == 0:
            clock.now += timedelta(minutes=1)
        with pytest.raises(NotAuthenticated):
            p.login("NK100000", "111222", client=f"10.12.0.{i}")
    clock.now += timedelta(minutes=1)
    with pytest.raises(RateLimited):
        p.login("NK100000", "402719", client="10.12.1.1")  # locked: even the right PIN waits
    clock.now += timedelta(minutes=2)
    assert p.login("NK100000", "402719", client="10.12.1.2").person_id


def test_a_shared_card_is_not_cleared_by_one_holders_pin(app, world):
    """The same card in two programs: a PIN known in one must not wipe the strikes of a guesser (red-team F10)."""
    s = app.services
    enroll_with_pin(app, world)
    from carekey.domain.program import Program, Site
    from carekey.services.admin import DEMO_SEED, LOCAL_OPERATOR
    from carekey.services.deps import Actor

    s.admin.create_program(LOCAL_OPERATOR, Program("other", "Other", ("v1",), ("en",)))
    s.admin.add_site(LOCAL_OPERATOR, Site("east", "other", "East", "Eastern"))
    s.admin.add_user(LOCAL_OPERATOR, "reg-east", "registrar", PASSWORD, ["east"])
    east = Actor.of(s.admin.approve_user(DEMO_SEED, "reg-east"))
    visit = s.visits.open(east, "east")
    s.people.enroll(
        east, visit.id, CARE, person_input(card_number="NK100000"), consent(), pin="864213", confirm_new=True
    )
    clock = s.deps.clock
    clock.now = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(NotAuthenticated):  # a wrong PIN for a card of two programs: no hint that it is shared
        s.patients.login("NK100000", "111222", client="10.13.0.1")
    for i in range(app.settings.login_attempts_per_minute - 2):
        with pytest.raises(NotAuthenticated):
            s.patients.login("NK100000", "111222", client=f"10.13.1.{i}")
    assert s.patients.login("NK100000", "864213", client="10.13.2.1").person_id  # the copy's known PIN
    with pytest.raises(NotAuthenticated):  # it gave back its own attempt only...
        s.patients.login("NK100000", "111223", client="10.13.3.1")
    with pytest.raises(RateLimited):  # ...not the guesser's minute
        s.patients.login("NK100000", "111224", client="10.13.3.2")


def test_limiter_rows_name_no_card(app, world):
    """The limiter's keys are keyed MACs: an unsalted hash of 'card:NK100000' would be reversed offline."""
    import hashlib

    enroll_with_pin(app, world)
    with pytest.raises(NotAuthenticated):
        app.services.patients.login("NK100000", "111222", client="10.14.0.1")
    with app.database.engine.connect() as conn:
        keys = {k for (k,) in conn.execute(sa.select(login_limits.c.key))}
    assert hashlib.sha256(b"card:NK100000").hexdigest() not in keys and len(keys) >= 2
