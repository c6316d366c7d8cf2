"""End-to-end fixtures: the API through TestClient on the embedded database."""

import pytest
from fastapi.testclient import TestClient

from carekey import bootstrap
from carekey.interfaces.api.app import create_app
from tests.conftest import PASSWORD, Clock
from tests.e2e.web_support import ImageFakeMatcher, seed


@pytest.fixture
def db_url(tmp_path):  # e2e runs on SQLite; the storage layer is covered on both backends by tests/integration
    return f"sqlite:///{tmp_path / 'carekey.db'}"


@pytest.fixture
def client(app, world):
    with TestClient(create_app(app.settings, built=app)) as c:
        yield c


@pytest.fixture
def login(client):
    def _login(username):
        r = client.post("/auth/token", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    return _login


@pytest.fixture
def web(settings):
    """The app with the web UI on TestClient, the image fake behind the biometric port, a seeded world."""
    bootstrap.initialize(settings)
    built = bootstrap.build(settings, matcher=ImageFakeMatcher())
    built.services.deps.clock = Clock()
    seed(built.services)
    app = create_app(settings, built=built)
    with TestClient(app) as client:
        yield client, app, built
    built.close()
