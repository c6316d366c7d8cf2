"""Issue 21 leftovers: answers that read personal data carry the signed entry promises of their log entries
(``CareKey-Log-Promise``), and ``POST /audit/verify`` checks promises saved outside carekey (forged, missing, late)."""

from __future__ import annotations

from carekey.audit.promise import EntryPromise, decode_promises, promise_bytes
from carekey.interfaces.api.app import PROMISE_HEADER

CARE = {"X-Carekey-Purpose": "care_record"}
PERSON = {
    "given_name": "Esi",
    "family_name": "Owusu",
    "sex": "female",
    "birth_year": 1975,
    "card_number": "NK7001",
    "district": "Northern",
    "village": "Tamale",
}
CONSENT = {"granted": ["care_record"], "notice_version": "v1", "language": "en"}


def _enrolled(client, login):
    reg, clin = login("registrar"), login("clinician")
    vid = client.post("/visits", json={"site_id": "north"}, headers=reg).json()["id"]
    r = client.post(f"/visits/{vid}/people", json={"person": PERSON, "consent": CONSENT}, headers=reg | CARE)
    assert r.status_code == 201, r.text
    return vid, r.json()["id"], reg, clin


def test_personal_data_answers_carry_verifiable_promises_of_their_committed_entries(app, client, login):
    vid, pid, reg, clin = _enrolled(client, login)
    key = app.services.deps.signer.public_key
    r = client.post(
        f"/visits/{vid}/people/{pid}/exams", json={"systolic_bp": 120, "diastolic_bp": 80}, headers=clin | CARE
    )
    assert r.status_code == 201
    (recorded,) = decode_promises(r.headers[PROMISE_HEADER])
    read = client.get(f"/visits/{vid}/people/{pid}/exams", headers=clin | CARE)
    (reading,) = decode_promises(read.headers[PROMISE_HEADER])
    assert recorded.verify(key) and reading.verify(key) and reading.entry_id > recorded.entry_id
    with app.database.uow(read_only=True) as uow:  # each promise names its own stored entry
        stored = {e.entry_id: e for e in uow.access_log.for_person(pid)}
    assert stored[recorded.entry_id].event.action == "record_exam" and recorded.covers(
        stored[recorded.entry_id].leaf_input
    )
    assert stored[reading.entry_id].event.action == "read_exams" and reading.covers(stored[reading.entry_id].leaf_input)
    nxt = client.post("/visits", json={"site_id": "north"}, headers=reg).json()["id"]
    found = client.post(f"/visits/{nxt}/lookup", json={"card_number": "NK7001"}, headers=reg | CARE)
    assert len(decode_promises(found.headers[PROMISE_HEADER])) == 2  # the search and the candidate shown
    assert PROMISE_HEADER not in client.get("/health").headers  # nothing logged, no promise
    denied = client.get(f"/visits/{vid}/people/{pid}/exams", headers=reg | CARE)  # a registrar reads no exams
    assert denied.status_code == 403 and decode_promises(denied.headers[PROMISE_HEADER])[0].verify(key)
    doc = client.get("/openapi.json").json()["paths"]
    assert PROMISE_HEADER in doc["/visits/{visit_id}/people/{person_id}/exams"]["get"]["responses"]["200"]["headers"]
    assert "headers" not in doc["/health"]["get"]["responses"]["200"]


def test_audit_verify_checks_saved_promises(app, client, login):
    vid, pid, _reg, clin = _enrolled(client, login)
    read = client.get(f"/visits/{vid}/people/{pid}/exams", headers=clin | CARE)
    saved = decode_promises(read.headers[PROMISE_HEADER])[0]
    aud = login("auditor") | {"X-Carekey-Purpose": "audit"}
    report = client.post("/audit/verify", headers=aud, json={"promises": [saved.to_dict()]}).json()
    assert report["ok"] is True and report["promises_checked"] >= 1, report
    as_view = client.post("/audit/verify", headers=aud, json={"promises": [{"promise": saved.to_dict()}]}).json()
    assert as_view["ok"] is True

    signer = app.services.deps.signer
    forged = saved.to_dict() | {"entry_id": saved.entry_id + 1}  # the log's signature no longer matches
    report = client.post("/audit/verify", headers=aud, json={"promises": [forged]}).json()
    assert report["ok"] is False and {p["kind"] for p in report["problems"]} == {"bad_promise"}

    def signed(entry_id: int, leaf: bytes, at_ms: int) -> dict[str, object]:
        data = promise_bytes(entry_id, at_ms, saved.max_delay_ms, leaf)
        return EntryPromise(entry_id, leaf, at_ms, saved.max_delay_ms, signer.sign_bytes(data), signer.key_id).to_dict()

    missing = signed(10**9, saved.leaf_hash, saved.timestamp_ms)  # signed by the log, absent from it
    report = client.post("/audit/verify", headers=aud, json={"promises": [missing]}).json()
    assert {p["kind"] for p in report["problems"]} == {"promise_missing"}
    late = signed(saved.entry_id, saved.leaf_hash, 1_000)  # its deadline passed long before any head
    report = client.post("/audit/verify", headers=aud, json={"promises": [late]}).json()
    assert {p["kind"] for p in report["problems"]} == {"promise_late"}
    bad = client.post("/audit/verify", headers=aud, json={"promises": [{"entry_id": "x"}]})
    assert bad.status_code == 422 and "promise" in bad.json()["detail"]
