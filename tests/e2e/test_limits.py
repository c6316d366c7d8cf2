"""Limits that hold under attack (issue 14, "Limits and hostile input"): the login limiter is atomic, normalized,
shared across processes and ignores X-Forwarded-For from untrusted peers; oversized bodies get 413 without being
read; lookup fields are capped; decompression bombs are a 4xx problem (logged, counted); epsilon is range-checked."""

from __future__ import annotations

import struct
import threading
import zlib

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from fastapi.testclient import TestClient

from carekey import bootstrap
from carekey.errors import CaptureRejected, InvalidInput, NotAuthenticated, RateLimited
from carekey.interfaces.api.app import create_app
from carekey.storage.sql.tables import access_log
from tests.conftest import PASSWORD, Clock
from tests.e2e.test_uvicorn import _free_port
from tests.e2e.test_web_forms import open_visit
from tests.e2e.web_support import ImageFakeMatcher, sign_in
from tests.integration.helpers import CARE, consent, person_input

pytestmark = pytest.mark.faults
WRONG = "not-the-password"


def enroll_with_pin(app, world, card="NK100000", pin="402719"):
    s = app.services
    visit = s.visits.open(world.registrar, "north")
    s.people.enroll(world.registrar, visit.id, CARE, person_input(card_number=card), consent(), pin=pin)


def limiter_rows(app) -> int:
    from carekey.storage.sql.tables import login_limits

    with app.database.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(login_limits)).scalar_one())


# -- the limiter --------------------------------------------------------------------------------------------------

def test_parallel_pin_guesses_count_at_most_the_limit(app, world):
    """20 guesses at once: at most login_attempts_per_minute reach the PIN check (SQLite and PostgreSQL)."""
    enroll_with_pin(app, world)
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
    from datetime import UTC, datetime, timedelta

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
    from carekey.storage.sql.tables import login_limits

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


# -- X-Forwarded-For --------------------------------------------------------------------------------------------

def _fail_with_fresh_xff(post, n):
    return [post("/auth/token", json={"username": f"nobody-{i}", "password": WRONG},
                 headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code for i in range(n)]


def test_xff_from_an_untrusted_peer_does_not_reset_the_address_limit(app, world):
    limit = app.settings.login_attempts_per_minute
    with TestClient(create_app(app.settings, built=app, web=False)) as client:
        codes = _fail_with_fresh_xff(client.post, limit + 1)
    assert codes[:limit] == [401] * limit and codes[-1] == 429


def test_xff_honoured_from_a_configured_proxy(app, world):
    app.settings.trusted_proxies = ["testclient"]  # TestClient's peer name
    limit = app.settings.login_attempts_per_minute
    with TestClient(create_app(app.settings, built=app, web=False)) as client:
        codes = _fail_with_fresh_xff(client.post, limit + 1)
    assert codes == [401] * (limit + 1)  # each forwarded client has its own address limit


def test_real_server_ignores_xff_from_localhost(app, world):
    """`carekey serve` runs uvicorn without its default trust of 127.0.0.1's X-Forwarded-For."""
    from carekey.interfaces.api.limits import uvicorn_options

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(app.settings, built=app, web=False), host="127.0.0.1",
                                           port=port, **uvicorn_options() | {"log_level": "warning"}))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for _ in range(200):
                try:
                    client.get("/health")
                    break
                except httpx.TransportError:
                    threading.Event().wait(0.05)
            limit = app.settings.login_attempts_per_minute
            codes = _fail_with_fresh_xff(client.post, limit + 1)
    finally:
        server.should_exit = True
        thread.join(10)
    assert codes[-1] == 429, codes


# -- body size and field caps -----------------------------------------------------------------------------------

def test_huge_username_is_413_without_reading_it(app, world):
    with TestClient(create_app(app.settings, built=app, web=False)) as client:
        before = limiter_rows(app)
        body = b'{"username": "' + b"a" * (40 * 1024 * 1024) + b'", "password": "x"}'
        r = client.post("/auth/token", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["limit"] == app.settings.max_json_bytes
        assert limiter_rows(app) == before  # no limiter key was made of it

        def chunks():  # no Content-Length: counted while it streams
            for _ in range(64):
                yield b"a" * 65536

        r = client.post("/auth/token", content=chunks(), headers={"Content-Type": "application/json"})
        assert r.status_code == 413 and r.json()["status"] == 413
        r = client.post("/auth/token", json={"username": "a" * 65, "password": "x"})
        assert r.status_code == 422


def test_lookup_fields_capped(app, world, login=None):
    with TestClient(create_app(app.settings, built=app, web=False)) as client:
        token = client.post("/auth/token", json={"username": "registrar", "password": PASSWORD}).json()
        auth = {"Authorization": f"Bearer {token['access_token']}", "X-Carekey-Purpose": CARE}
        vid = client.post("/visits", json={"site_id": "north"}, headers=auth).json()["id"]
        r = client.post(f"/visits/{vid}/lookup", json={"name": "A" * 20_000_000, "birth_year": 1980}, headers=auth)
        assert r.status_code == 413
        r = client.post(f"/visits/{vid}/lookup", json={"name": "Ama " * 60, "birth_year": 1980}, headers=auth)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
        r = client.post(f"/visits/{vid}/lookup", json={"card_number": "N" * 65}, headers=auth)
        assert r.status_code == 422
    with pytest.raises(InvalidInput):
        app.services.lookup.by_name(world.registrar, vid, CARE, "Ama " * 60, 1980)


# -- images -------------------------------------------------------------------------------------------------------

def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(side: int, bit_depth: int = 8, palette: bool = True) -> bytes:
    """A valid PNG of side x side pixels, all zero, compressed row by row (a few hundred KB; never held whole)."""
    color = 3 if palette else 0
    row = b"\x00" + bytes(side * bit_depth // 8)
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, bit_depth, color, 0, 0, 0)
    plte = _chunk(b"PLTE", bytes([0, 0, 0, 255, 255, 255])) if palette else b""
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + plte + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def bombs():
    from PIL import Image

    out = {"palette_15000": bomb_png(15000), "gray16_13000": bomb_png(13000, 16, palette=False)}
    import io

    guard, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        for data in out.values():  # real PNGs: Pillow reads their headers
            with Image.open(io.BytesIO(data)) as img:
                assert img.size[0] >= 13000
    finally:
        Image.MAX_IMAGE_PIXELS = guard
    return out


@pytest.mark.parametrize("name", ["palette_15000", "gray16_13000"])
def test_capture_decoders_refuse_bombs_from_the_header(bombs, name):
    from carekey.biometrics.fingerprint.capture import decode as decode_finger
    from carekey.biometrics.iris.capture import decode as decode_eye

    assert len(bombs[name]) < 1_000_000
    for decode in (decode_finger, decode_eye):
        with pytest.raises(CaptureRejected) as err:
            decode(bombs[name])
        assert err.value.detail["reason"] == "too_many_pixels"


def test_bomb_identifications_are_refused_logged_and_counted(settings, bombs):
    from tests.conftest import make_world

    bootstrap.initialize(settings)
    built = bootstrap.build(settings, matcher=ImageFakeMatcher())
    try:
        world = make_world(built.services)
        s = built.services
        built.settings.identifications_per_hour = 2
        visit = s.visits.open(world.registrar, "north")
        for name in ("palette_15000", "gray16_13000"):
            with pytest.raises(CaptureRejected, match="pixels"):
                s.biometrics.identify(world.registrar, visit.id, "biometric_identification", "fingerprint",
                                      bombs[name], person_agreed=True)
        with built.database.engine.connect() as conn:
            logged = conn.execute(sa.select(access_log.c.action).where(access_log.c.action == "identify_biometric")
                                  ).all()
        assert len(logged) == 2  # both attempts are in the transparency log...
        with pytest.raises(RateLimited):  # ...and count against the identification limit
            s.biometrics.identify(world.registrar, visit.id, "biometric_identification", "iris", b"x",
                                  person_agreed=True)
    finally:
        built.close()


def test_bomb_upload_through_the_web_is_a_4xx(web, bombs):
    client, _, _ = web
    token = sign_in(client)
    vid = open_visit(client, token)
    r = client.post(f"/visit/{vid}/identify", data={"csrf": token, "modality": "fingerprint", "agree": "yes"},
                    files={"image": ("bomb.png", bombs["palette_15000"], "image/png")})
    assert 400 <= r.status_code < 500 and "pixels" in r.text, r.status_code


# -- numbers -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("epsilon", [5e-324, 0.001, 10.5, 1e308, "NaN"])
def test_epsilon_out_of_range_is_422(app, world, epsilon):
    with TestClient(create_app(app.settings, built=app, web=False)) as client:
        token = client.post("/auth/token", json={"username": "manager", "password": PASSWORD}).json()
        auth = {"Authorization": f"Bearer {token['access_token']}", "X-Carekey-Purpose": "aggregate_statistics"}
        body = b'{"statistic": "count", "epsilon": ' + (str(epsilon).encode() if epsilon != "NaN" else b"NaN") + b"}"
        r = client.post("/stats/releases", content=body, headers=auth | {"Content-Type": "application/json"})
        assert r.status_code in (400, 422) and r.headers["content-type"] == "application/problem+json", r.text
    with pytest.raises(InvalidInput, match="epsilon"):
        app.services.statistics.release(world.manager, "aggregate_statistics", "count", 5e-324)
