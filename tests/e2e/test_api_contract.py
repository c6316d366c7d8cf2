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
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_every_answer_is_the_documented_one(case, staff_tokens):
    for headers in staff_tokens.values():
        case.call_and_validate(headers=headers)


# -- the parts of the contract that the generated run checks, pinned one by one ----------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("TRACE", "/auth/token", "DELETE, POST"),
        ("GET", "/auth/token", "DELETE, POST"),
        ("PUT", "/visits/V-1", "GET"),
        ("DELETE", "/fhir/metadata", "GET"),
        ("PATCH", "/visits/V-1/people", "POST"),
        ("POST", "/transparency/tree-head", "GET"),
    ],
)
def test_an_undeclared_method_is_405_with_allow(client, method, path, allow):
    r = client.request(method, path)
    assert r.status_code == 405 and r.headers["allow"] == allow
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == "urn:carekey:problem:method-not-allowed"


def test_web_pages_and_unknown_paths_keep_their_answers(client):
    assert client.get("/login").status_code == 200 and "text/html" in client.get("/login").headers["content-type"]
    assert client.get("/no/such/page").status_code == 404
    assert client.get("/health").json() == {"status": "ok"}


def test_problems_are_documented_as_problem_documents(client):
    spec = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in str(spec)
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            for status, answer in op["responses"].items():
                if status.startswith(("4", "5")):
                    assert answer["content"] == {
                        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                    }, (method, path, status)
            if "requestBody" in op:
                assert {"400", "413", "422"} <= set(op["responses"]), (method, path)
    assert spec["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status", "detail"]
    assert set(spec["paths"]["/fhir/metadata"]["get"]["responses"]["200"]["content"]) == {"application/fhir+json"}


def test_a_body_that_is_not_utf8_is_a_malformed_json_problem(client):
    r = client.post("/auth/token", content=b"\xff\xfe", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["type"] == "urn:carekey:problem:malformed-json"


def test_a_consistency_proof_the_log_cannot_hold_is_404(client):
    assert client.get("/transparency/consistency", params={"first": 0, "second": 2**40}).status_code == 404
    assert client.get("/transparency/consistency", params={"first": 1, "second": 0}).status_code == 404
