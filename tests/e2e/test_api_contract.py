"""The API answers exactly what its OpenAPI document says (issue 14, finding 10).

Schemathesis (https://schemathesis.readthedocs.io) generates requests from ``/openapi.json`` - schema-valid ones,
schema-invalid ones and methods a path does not declare - sends them to the ASGI app with a registrar's and a
clinician's token, and checks every answer against the document: no 5xx, every status code and body declared, a
schema-valid request never refused as malformed, an undeclared method answered 405 with ``Allow``. The run is
bounded (``MAX_EXAMPLES`` per operation, derandomized) so that it stays in the default ``make test``.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from carekey.interfaces.api.app import create_app
from tests.conftest import PASSWORD, make_world

MAX_EXAMPLES = 12


@pytest.fixture
def contract_app(app):
    make_world(app.services)
    return create_app(app.settings, built=app)


@pytest.fixture
def api_schema(contract_app, request):
    # schemathesis 4.32 renames the running test through ``node._nodeid``, which pytest 9.2 no longer sets
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid
    return schemathesis.openapi.from_asgi("/openapi.json", contract_app)


@pytest.fixture
def staff_tokens(contract_app):
    from fastapi.testclient import TestClient

    tokens = {}
    with TestClient(contract_app) as client:
        for user in ("registrar", "clinician"):
            r = client.post("/auth/token", json={"username": user, "password": PASSWORD})
            assert r.status_code == 200, r.text
            tokens[user] = {"Authorization": f"Bearer {r.json()['access_token']}"}
    return tokens


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_every_answer_is_the_documented_one(case, staff_tokens):
    for headers in staff_tokens.values():
        case.call_and_validate(headers=headers)
