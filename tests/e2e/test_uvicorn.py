"""The API served by a real uvicorn on a free port, driven by httpx over TCP."""

import socket
import threading
import time

import httpx
import uvicorn

from carekey.interfaces.api.app import create_app
from tests.conftest import PASSWORD


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_real_server_login_and_refusal_count(app, world):
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(app.settings, built=app), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{base}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        token = httpx.post(f"{base}/auth/token", json={"username": "registrar", "password": PASSWORD}).json()
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        vid = httpx.post(f"{base}/visits", json={"site_id": "north"}, headers=auth).json()["id"]
        r = httpx.post(
            f"{base}/visits/{vid}/lookup",
            json={"card_number": "NK1"},
            headers=auth | {"X-Carekey-Purpose": "watchlist"},
        )
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
        assert httpx.get(f"{base}/transparency/refusals").json()[0]["purpose"] == "watchlist"
    finally:
        server.should_exit = True
        thread.join(10)
