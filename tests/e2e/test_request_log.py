"""The request log names the route template, never a path: no person id, name, card or visit id in any line."""

from __future__ import annotations

import logging
import re

from fastapi.testclient import TestClient

from tests.e2e.test_web_followup import record_exam
from tests.e2e.test_web_portal import patient_sign_in

LINE = re.compile(r"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (/\S*|\{unmatched\}) \d{3} \d+\.\dms$")


def test_request_log_has_templates_and_never_personal_data(web, caplog):
    client, app, built = web
    caplog.set_level(logging.INFO, logger="carekey.requests")
    clin, vid = record_exam(client, systolic_bp="148", diastolic_bp="92", notes="note")
    clin.get(f"/visit/{vid}/slip?advice=1")
    client.get(f"/visit/{vid}/no-such-page-NK1001")
    me = TestClient(app)
    patient_sign_in(me)
    me.get("/me")
    client.get("/static/app.css")
    with built.database.uow() as uow:
        person_id = uow.visits.get(vid).person_id
    lines = [r.getMessage() for r in caplog.records if r.name == "carekey.requests"]
    assert len(lines) >= 10
    for line in lines:
        assert LINE.match(line), line
        for secret in (person_id, vid, vid[-6:], "NK1001", "Ama", "Mensah", "2468", "advice"):
            assert secret not in line, f"{secret!r} in request log line {line!r}"
    assert "GET /visit/{visit_id}/slip 200" in "\n".join(lines)
    assert "POST /visit/{visit_id}/exam 303" in "\n".join(lines)
    assert any(line.startswith("GET /static/{path} 200") for line in lines)
    assert any(line.startswith("GET /me 200") for line in lines)


def test_api_routes_are_logged_by_template(client, caplog):
    caplog.set_level(logging.INFO, logger="carekey.requests")
    client.get("/visits/V-1234567890/people/CK-AAAA-BBBB", headers={"X-Carekey-Purpose": "care_record"})
    client.get("/health")
    lines = [r.getMessage() for r in caplog.records if r.name == "carekey.requests"]
    assert lines[0].startswith("GET /visits/{visit_id}/people/{person_id} 401 ")
    assert lines[1].startswith("GET /health 200 ")
