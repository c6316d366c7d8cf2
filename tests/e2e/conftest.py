"""End-to-end fixtures: the API through TestClient on the embedded database."""

import pytest
from fastapi.testclient import TestClient

from carekey.interfaces.api.app import create_app
from tests.conftest import PASSWORD


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
