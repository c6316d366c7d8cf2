"""Limits that hold under attack (issue 14, "Limits and hostile input"), through HTTP: X-Forwarded-For is ignored
from untrusted peers; oversized bodies get 413 without being read; lookup fields are capped; decompression bombs
are a 4xx problem (logged, counted); epsilon is range-checked. The limiter itself: tests/faults/test_login_limiter.py
(both databases)."""

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
from carekey.errors import CaptureRejected, InvalidInput, RateLimited
from carekey.interfaces.api.app import create_app
from carekey.storage.sql.tables import access_log
from tests.conftest import PASSWORD
from tests.e2e.test_uvicorn import _free_port
from tests.e2e.test_web_forms import open_visit
from tests.e2e.web_support import ImageFakeMatcher, sign_in
from tests.integration.helpers import CARE

pytestmark = pytest.mark.faults
WRONG = "not-the-password"


def limiter_rows(app) -> int:
    from carekey.storage.sql.tables import login_limits

    with app.database.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(login_limits)).scalar_one())


# -- X-Forwarded-For --------------------------------------------------------------------------------------------


def _fail_with_fresh_xff(post, n):
    return [
        post(
            "/auth/token",
            json={"username": f"nobody-{i}", "password": WRONG},
            headers={"X-Forwarded-For": f"203.0.113.{i}"},
        ).status_code
        for i in range(n)
    ]


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
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(app.settings, built=app, web=False),
            host="127.0.0.1",
            port=port,
            **uvicorn_options() | {"log_level": "warning"},
        )
    )
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
                s.biometrics.identify(
                    world.registrar,
                    visit.id,
                    "biometric_identification",
                    "fingerprint",
                    bombs[name],
                    person_agreed=True,
                )
        with built.database.engine.connect() as conn:
            logged = conn.execute(
                sa.select(access_log.c.action).where(access_log.c.action == "identify_biometric")
            ).all()
        assert len(logged) == 2  # both attempts are in the transparency log...
        with pytest.raises(RateLimited):  # ...and count against the identification limit
            s.biometrics.identify(
                world.registrar, visit.id, "biometric_identification", "iris", b"x", person_agreed=True
            )
    finally:
        built.close()


def test_bomb_upload_through_the_web_is_a_4xx(web, bombs):
    client, _, _ = web
    token = sign_in(client)
    vid = open_visit(client, token)
    r = client.post(
        f"/visit/{vid}/identify",
        data={"csrf": token, "modality": "fingerprint", "agree": "yes"},
        files={"image": ("bomb.png", bombs["palette_15000"], "image/png")},
    )
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
