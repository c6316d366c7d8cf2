"""Statistics through the HTTP API: managers walled in their program, epsilon validated and capped, reporting
periods, and the DHIS2 push against a local endpoint that answers like DHIS2 (failures mark nothing as sent)."""

import json
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from carekey.domain.program import Program, Site
from carekey.services.admin import DEMO_SEED, LOCAL_OPERATOR
from carekey.stats import periods
from tests.conftest import PASSWORD
from tests.e2e.dhis2_fake import FakeDhis2
from tests.e2e.test_rights_api import enroll
from tests.integration.helpers import revisit

STATS = {"X-Carekey-Purpose": "aggregate_statistics"}
ALL = ("care_record", "aggregate_statistics")


def last_log(app):
    with app.database.uow() as uow:
        return uow.access_log.latest()[0].event


@pytest.fixture
def other_program(app, world):
    admin = app.services.admin
    admin.create_program(LOCAL_OPERATOR, Program("other", "Other screening", ("v1",), ("en",)))
    admin.add_site(LOCAL_OPERATOR, Site("west", "other", "West clinic", "Western"))
    admin.add_user(LOCAL_OPERATOR, "manager-other", "program_manager", PASSWORD, ["west"])
    admin.approve_user(DEMO_SEED, "manager-other")
    admin.add_user(LOCAL_OPERATOR, "manager-none", "program_manager", PASSWORD, [])
    admin.approve_user(DEMO_SEED, "manager-none")
    admin.add_user(LOCAL_OPERATOR, "manager-both", "program_manager", PASSWORD, ["north", "west"])
    admin.approve_user(DEMO_SEED, "manager-both")


def test_managers_are_walled_in_their_program(app, world, client, login, other_program):
    for i in range(3):
        enroll(app, world, f"PW{i:03d}", granted=ALL, exam={"systolic_bp": 150, "diastolic_bp": 95})
    demo = login("manager") | STATS
    rel = client.post("/stats/releases", headers=demo, json={"statistic": "hypertension", "epsilon": 0.5})
    assert rel.status_code == 200 and rel.json()["program_id"] == "demo"
    r = client.post(
        "/stats/releases", headers=demo, json={"statistic": "count", "epsilon": 0.5, "program_id": "other"}
    )  # finding 11.7
    assert r.status_code == 403 and "not for this account's program" in r.json()["detail"]
    assert (last_log(app).outcome, last_log(app).role) == ("denied", "program_manager")
    assert client.get("/stats/budget", headers=demo, params={"program_id": "other"}).status_code == 403
    for who, words in (("manager-none", "has no site"), ("manager-both", "2 programs")):
        h = login(who) | STATS
        r = client.post("/stats/releases", headers=h, json={"statistic": "count", "epsilon": 0.5})
        assert r.status_code == 403 and words in r.json()["detail"], r.text
        assert last_log(app).outcome == "denied" and words in last_log(app).reason
        assert client.get("/stats/budget", headers=h).status_code == 403
    other = login("manager-other") | STATS
    assert client.get("/stats/releases", headers=other).json() == []  # demo's release is not listed
    rid = rel.json()["id"]
    for path in (f"/stats/releases/{rid}", f"/stats/releases/{rid}/csv", f"/stats/releases/{rid}/dhis2"):
        assert client.get(path, headers=other).status_code == 404
    assert client.get(f"/stats/releases/{rid}/csv", headers=demo).status_code == 200
    b = client.get("/stats/budget", headers=other).json()
    assert b["program_id"] == "other" and b["epsilon_spent"] == 0  # separate budgets


@pytest.mark.parametrize(
    "raw", ["5e-324", "-1", "0", "1e308", "1.5", "NaN", "Infinity", "-Infinity", "true", '"abc"', "null", "0.009"]
)
def test_bad_epsilon_is_a_clear_422_and_costs_nothing(app, world, client, login, raw):
    enroll(app, world, "PE001", granted=ALL, exam={"systolic_bp": 120, "diastolic_bp": 80})
    h = login("manager") | STATS | {"Content-Type": "application/json"}
    r = client.post("/stats/releases", headers=h, content=f'{{"statistic": "count", "epsilon": {raw}}}')
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json") and "epsilon" in r.json()["detail"]
    assert client.get("/stats/budget", headers=h).json()["epsilon_spent"] == 0


def test_the_cap_is_configurable_and_the_budget_is_per_period(app, world, client, login):
    enroll(app, world, "PP001", granted=ALL, exam={"systolic_bp": 120, "diastolic_bp": 80})
    app.settings.stats_max_release_epsilon = 2.0
    app.settings.privacy_budget_epsilon = 2.0
    h = login("manager") | STATS
    today = app.services.deps.clock().date()
    month, quarter, _ = periods.containing(today)
    assert (
        client.post(
            "/stats/releases", headers=h, json={"statistic": "count", "epsilon": 2.0, "period": quarter.iso}
        ).status_code
        == 200
    )
    r = client.post("/stats/releases", headers=h, json={"statistic": "count", "epsilon": 0.1, "period": quarter.id})
    assert r.status_code == 403 and r.json()["type"] == "urn:carekey:problem:budget-exhausted"  # exhausted...
    r = client.post("/stats/releases", headers=h, json={"statistic": "count", "epsilon": 0.5, "period": month.id})
    assert r.status_code == 200 and r.json()["period"] == month.id  # ...the month has its own budget
    nxt = periods.parse(f"{today.year + 1}Q1")
    r = client.post("/stats/releases", headers=h, json={"statistic": "count", "epsilon": 0.5, "period": nxt.id})
    assert r.status_code == 422 and "not started" in r.json()["detail"]
    for bad in ("2026Q5", "last month", "20261"):
        assert (
            client.post(
                "/stats/releases", headers=h, json={"statistic": "count", "epsilon": 0.5, "period": bad}
            ).status_code
            == 422
        )
    b = client.get("/stats/budget", headers=h, params={"period": quarter.id}).json()
    assert b["epsilon_remaining"] == 0 and len(b["releases"]) == 1
    left = {p["period"]: p["epsilon_remaining"] for p in b["open_periods"]}
    assert left[quarter.id] == 0 and left[month.id] == pytest.approx(1.5) and left[str(today.year)] == 2.0


def test_a_period_counts_each_person_once_by_their_latest_exam_in_it(app, world):
    s, clock = app.services, app.services.deps.clock
    clock.now = datetime(2026, 8, 10, tzinfo=UTC)
    visit, pid = enroll(app, world, "PL001", granted=ALL, exam={"systolic_bp": 120, "diastolic_bp": 80})
    for day, bp in ((datetime(2026, 11, 5, tzinfo=UTC), (150, 95)), (datetime(2026, 11, 25, tzinfo=UTC), (160, 99))):
        clock.now = day  # a visit a day: yesterday's visit serves nobody
        visit = revisit(s, world.registrar, card="PL001").id
        s.people.read(world.registrar, visit, "care_record", pid)
        s.exams.record(world.clinician, visit, "care_record", pid, {"systolic_bp": bp[0], "diastolic_bp": bp[1]})
    enroll(app, world, "PL002", granted=("care_record",), exam={"systolic_bp": 120, "diastolic_bp": 80})  # no consent
    with app.database.uow() as uow:
        rows = {p: s.statistics._rows(uow, "demo", periods.parse(p)) for p in ("2026Q3", "2026Q4", "202611", "2026")}
    assert [x.systolic for x in rows["2026Q3"]] == [120]
    assert [x.systolic for x in rows["2026Q4"]] == [160] and [x.systolic for x in rows["202611"]] == [160]
    assert [x.systolic for x in rows["2026"]] == [160]  # one row per person: their latest exam in the period
    assert rows["2026Q3"][0].age == 45  # age at that exam (born 1980, birthday unknown: the lower age)


def release_and_map(app, world, client, h):
    out = client.post(
        "/stats/releases", headers=h, json={"statistic": "hypertension", "epsilon": 1.0, "period": "2026Q4"}
    ).json()
    template = app.services.statistics.mapping_template(world.manager, "aggregate_statistics")
    template["orgUnits"]["total"] = "OuProgram01"
    template["dataElements"]["hypertension"] |= {"yes": "DeHtnYes001", "no": "DeHtnNo0001"}
    app.settings.resolved_dhis2_mapping_file().write_text(json.dumps(template))
    return out


@pytest.mark.parametrize("mode", ["conflict", "error", "unauthorized", "slow", "warning"])
def test_a_failed_push_marks_nothing_as_sent(app, world, client, login, mode):
    app.services.deps.clock.now = datetime(2026, 11, 20, tzinfo=UTC)
    for i in range(12):
        enroll(app, world, f"PF{i:03d}", granted=ALL, exam={"systolic_bp": 150 if i % 3 else 110, "diastolic_bp": 80})
    h = login("manager") | STATS
    out = release_and_map(app, world, client, h)
    app.settings.dhis2_timeout_seconds = 0.5
    with FakeDhis2(mode, delay=2.0) as dhis2:
        app.settings.dhis2_url = dhis2.url
        r = client.post("/stats/push", headers=h, json={"period": "2026Q4"})
        assert r.status_code == 502, r.text
        assert "nothing is marked as sent" in r.json()["detail"]
        assert len(dhis2.requests) == 1
        assert last_log(app).outcome == "denied" and "DHIS2 push for 2026Q4 failed" in last_log(app).reason
    listed = client.get("/stats/releases", headers=h, params={"period": "2026Q4"}).json()
    assert [x["sent_at"] for x in listed] == [None] and listed[0]["id"] == out["id"]
    with FakeDhis2("ok") as dhis2:  # the next push sends everything again, and succeeds
        app.settings.dhis2_url = dhis2.url
        assert client.post("/stats/push", headers=h, json={"period": "2026Q4"}).status_code == 200


def test_push_sends_only_released_figures_and_shows_the_import_summary(app, world, client, login, monkeypatch):
    app.services.deps.clock.now = datetime(2026, 11, 20, tzinfo=UTC)
    for i in range(12):
        enroll(app, world, f"PK{i:03d}", granted=ALL, exam={"systolic_bp": 150 if i % 3 else 110, "diastolic_bp": 80})
    h = login("manager") | STATS
    r = client.post("/stats/push", headers=h, json={"period": "2026Q4"})
    assert r.status_code == 409  # no DHIS2 configured: a state of the server
    out = release_and_map(app, world, client, h)
    app.settings.dhis2_token = SecretStr("d2pat_secret_token")
    with FakeDhis2("ok") as dhis2:
        app.settings.dhis2_url = dhis2.url + "/"
        r = client.post("/stats/push", headers=h, json={"period": "2026Q4"})
        assert r.status_code == 200, r.text
        got = r.json()
        assert got["import_summary"]["status"] == "SUCCESS" and got["releases"] == [out["id"]]
        sent = dhis2.requests[0]
        assert (
            sent["path"].startswith("/api/dataValueSets")
            and sent["headers"]["Authorization"] == "ApiToken d2pat_secret_token"
        )
        total = next(f for f in out["figures"] if f["level"] == "total")
        values = {v["dataElement"]: v["value"] for v in sent["body"]["dataValues"]}
        assert values == {"DeHtnYes001": str(total["counts"]["yes"]), "DeHtnNo0001": str(total["counts"]["no"])}
        assert all(
            set(v) == {"dataElement", "period", "orgUnit", "categoryOptionCombo", "attributeOptionCombo", "value"}
            for v in sent["body"]["dataValues"]
        )
        r = client.post("/stats/push", headers=h, json={"period": "2026Q4"})
        assert r.status_code == 409 and "already sent" in r.json()["detail"]  # nothing twice
    listed = client.get("/stats/releases", headers=h).json()
    assert listed[0]["sent_at"] is not None
    body = client.get(f"/stats/releases/{out['id']}/dhis2", headers=h).json()
    assert body["dataValues"] == sent["body"]["dataValues"]


def test_push_decides_who_asks_before_telling_the_server_state(client, login):
    """A registrar learns nothing of the DHIS2 set-up (403, not 'no DHIS2 configured'); for the manager a missing
    DHIS2 is a state of the server (409), not an error in a schema-valid request (422)."""
    body, stats = {"period": "2026Q4"}, {"X-Carekey-Purpose": "aggregate_statistics"}
    r = client.post("/stats/push", json=body, headers=login("registrar") | stats)
    assert r.status_code == 403
    r = client.post("/stats/push", json=body, headers=login("manager") | stats)
    assert r.status_code == 409 and "DHIS2" in r.json()["detail"]
