"""What moves in a sync, per person (docs/sync.md sections 2-3): a *snapshot* of the person's record, visits,
consent decisions and exams, opened from one side's ciphertexts and sealed again under the other side's keys on
arrival; and an *erasure* tombstone. Applying a snapshot is idempotent (every row keeps its id; rows already held
are skipped) and follows the merge rules:

- exams and visits are append-only (a visit's closing is the one update);
- consent decisions are append-only; the one in force per purpose is the latest by decision time, a withdrawal
  winning ties (``domain.consent.current_grants``); a decision from the other side is appended with the next local
  version number;
- demographics are not edited after enrollment in carekey today, so a held record keeps its fields (the per-field
  merge and review list of docs/sync.md come with demographic edits);
- a card number already enrolled under another person id is not merged: the snapshot is returned as a review item.

Portal PIN hashes travel from a node to the central registry only: never to a laptop, where an argon2 hash of a
6-digit PIN would fall to an offline guess.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from carekey.crypto.envelope import exam_aad, person_aad
from carekey.domain.consent import current_grants
from carekey.domain.person import Person
from carekey.domain.visit import Visit
from carekey.services.consents import end_processing
from carekey.services.demographics import add_edit, edit_aad, edit_value, recompute
from carekey.services.deps import Deps
from carekey.services.people import erase_person
from carekey.services.records import data_key, grantor_aad
from carekey.storage.protocols import ConsentRow, EditRow, ExamRow, PersonRow, TaskRow, UnitOfWork


def _ts(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _dt(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _obj(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError("a sealed payload is not a JSON object")
    return value


def snapshot(uow: UnitOfWork, deps: Deps, person_id: str, with_pin: bool) -> dict[str, Any] | None:
    """The person's record as it moves over the wire (None: no such person here)."""
    row = uow.people.get(person_id)
    if row is None:
        return None
    crypto = deps.crypto
    key = data_key(crypto, row)
    consents = [
        {
            "id": c.id,
            "purpose": c.purpose,
            "granted": c.granted,
            "notice_version": c.notice_version,
            "language": c.language,
            "grantor_kind": c.grantor_kind,
            "grantor": crypto.open_json(key, c.grantor_ciphertext, grantor_aad(c.id, person_id)),
            "at": _ts(c.at),
            "site_id": c.site_id,
            "user_id": c.user_id,
        }
        for c in uow.consents.history(person_id)
    ]
    exams = [
        {
            "id": e.id,
            "visit_id": e.visit_id,
            "site_id": e.site_id,
            "recorded_by": e.recorded_by,
            "recorded_at": _ts(e.recorded_at),
            "payload": crypto.open_json(key, e.ciphertext, exam_aad(e.id, person_id)),
        }
        for e in uow.exams.for_person(person_id)
    ]
    visits = [
        {
            "id": v.id,
            "site_id": v.site_id,
            "opened_by": v.opened_by,
            "opened_at": _ts(v.opened_at),
            "closed_by": v.closed_by,
            "closed_at": _ts(v.closed_at),
        }
        for v in uow.sync.visits_of(person_id)
    ]
    return {
        "kind": "person",
        "id": person_id,
        "program_id": row.program_id,
        "enrolled_site": row.enrolled_site,
        "enrolled_at": _ts(row.enrolled_at),
        "last_seen_at": _ts(row.last_seen_at),
        "person": crypto.open_json(key, row.ciphertext, person_aad(person_id)),
        "pin_hash": row.pin_hash if with_pin else None,
        "consents": consents,
        "exams": exams,
        "visits": visits,
        "edits": [
            {
                "id": e.id,
                "field": e.field,
                "value": edit_value(crypto.open_json(key, e.ciphertext, edit_aad(e.id, person_id))),
                "prev": e.prev,
                "at": _ts(e.at),
                "site_id": e.site_id,
                "user_id": e.user_id,
                "made_on": e.made_on,
            }
            for e in uow.sync.edits_of(person_id)
        ],
        "tasks": [
            {
                "id": t.id,
                "capture_id": t.capture_id,
                "kind": t.kind,
                "detail": t.detail,
                "created_at": _ts(t.created_at),
                "resolved_at": _ts(t.resolved_at),
                "resolution": t.resolution,
                "resolved_by": t.resolved_by,
            }
            for t in uow.sync.tasks_of(person_id)
        ],
    }


def snapshot_sites(snap: dict[str, Any]) -> set[str]:
    """Every site a snapshot's rows name (enrollment, visits, exams, consents)."""
    sites = {str(snap["enrolled_site"])}
    sites |= {str(v["site_id"]) for v in snap.get("visits", [])}
    sites |= {str(e["site_id"]) for e in snap.get("exams", [])}
    return sites | {str(c["site_id"]) for c in snap.get("consents", []) if c.get("site_id")}


def apply_snapshot(uow: UnitOfWork, deps: Deps, snap: dict[str, Any]) -> str:
    """Merge a snapshot into this side's store; returns "created", "merged" or "review" (a card conflict: nothing
    of it was written). Caller: one unit of work, ``uow.sync.set_origin`` already named where it comes from."""
    crypto, ix = deps.crypto, deps.index
    pid = str(snap["id"])
    person = Person.from_dict(_obj(snap["person"]))
    row = uow.people.get(pid)
    created = row is None
    sealed = None
    if row is None:
        other = uow.people.by_card(str(snap["program_id"]), ix.card(person.card_number))
        if other is not None and other.id != pid:
            return "review"
        key, sealed = crypto.new_data_key(pid)
        row = PersonRow(
            id=pid,
            program_id=str(snap["program_id"]),
            card_bidx=ix.card(person.card_number),
            name_bidx=ix.name(person.full_name),
            birth_year_bidx=ix.birth_year(person.birth_year),
            village_bidx=ix.village(person.village),
            key_ref=sealed.key_ref,
            wrapped_key=sealed.wrapped,
            ciphertext=crypto.seal_json(key, person.to_dict(), person_aad(pid)),
            enrolled_site=str(snap["enrolled_site"]),
            enrolled_at=_dt(snap["enrolled_at"]) or deps.clock(),
            last_seen_at=_dt(snap["last_seen_at"]) or deps.clock(),
            pin_hash=snap.get("pin_hash"),
        )
    try:
        if created:
            uow.people.add(row)
        else:
            key = data_key(crypto, row)
            if snap.get("pin_hash") and snap["pin_hash"] != row.pin_hash:
                uow.people.set_pin_hash(pid, str(snap["pin_hash"]))
        _merge_visits(uow, pid, snap.get("visits", []))
        _merge_consents(uow, deps, key, pid, snap.get("consents", []))
        held = {e.id for e in uow.exams.for_person(pid)}
        for e in snap.get("exams", []):
            if e["id"] in held:
                continue
            uow.exams.add(
                ExamRow(
                    id=str(e["id"]),
                    person_id=pid,
                    visit_id=str(e["visit_id"]),
                    site_id=str(e["site_id"]),
                    recorded_by=str(e["recorded_by"]),
                    recorded_at=_dt(e["recorded_at"]) or deps.clock(),
                    ciphertext=crypto.seal_json(key, e["payload"], exam_aad(str(e["id"]), pid)),
                )
            )
        _merge_edits(uow, deps, key, pid, snap.get("edits", []))
        _merge_tasks(uow, deps, pid, snap.get("tasks", []))
    except BaseException:
        if sealed is not None:
            crypto.shred(sealed.key_ref)  # nothing was stored; leave no orphan secret
        raise
    return "created" if created else "merged"


def _merge_visits(uow: UnitOfWork, pid: str, visits: list[dict[str, Any]]) -> None:
    for v in visits:
        held = uow.visits.get(str(v["id"]))
        closed_at = _dt(v.get("closed_at"))
        if held is None:
            uow.visits.add(
                Visit(
                    str(v["id"]),
                    str(v["site_id"]),
                    str(v["opened_by"]),
                    _dt(v["opened_at"]) or datetime.min,
                    pid,
                    v.get("closed_by"),
                    closed_at,
                )
            )
        elif held.closed_at is None and closed_at is not None:
            uow.visits.save(
                Visit(held.id, held.site_id, held.opened_by, held.opened_at, pid, v.get("closed_by"), closed_at)
            )


def _merge_edits(uow: UnitOfWork, deps: Deps, key: bytes, pid: str, edits: list[dict[str, Any]]) -> None:
    """Demographic edits: append-only (union by id), then the record's fields recomputed per field
    (``services.demographics.recompute``: one side's change wins, a conflict keeps central's value for review)."""
    held = {e.id for e in uow.sync.edits_of(pid)}
    new = [e for e in edits if str(e["id"]) not in held]
    for e in new:
        row = EditRow(
            str(e["id"]),
            pid,
            str(e["field"]),
            b"",
            e.get("prev"),
            _dt(e["at"]) or deps.clock(),
            e.get("site_id"),
            e.get("user_id"),
            str(e["made_on"]),
        )
        add_edit(uow, deps, key, row, e["value"])
    if new:
        recompute(uow, deps, pid)


def _merge_tasks(uow: UnitOfWork, deps: Deps, pid: str, tasks: list[dict[str, Any]]) -> None:
    """Tasks for the next visit: new ones are added; a resolution made on either side wins over an open task (the
    first resolution stays: a task is resolved once)."""
    held = {t.id: t for t in uow.sync.tasks_of(pid)}
    for t in tasks:
        mine = held.get(str(t["id"]))
        if mine is not None and (mine.resolved_at is not None or t.get("resolved_at") is None):
            continue
        uow.sync.save_task(
            TaskRow(
                str(t["id"]),
                pid,
                t.get("capture_id"),
                str(t["kind"])[:20],
                str(t["detail"]),
                _dt(t["created_at"]) or deps.clock(),
                _dt(t.get("resolved_at")),
                t.get("resolution"),
                t.get("resolved_by"),
            )
        )


def _merge_consents(uow: UnitOfWork, deps: Deps, key: bytes, pid: str, decisions: list[dict[str, Any]]) -> None:
    """Append the other side's decisions; a withdrawal that comes into force here ends what it ends here too
    (``end_processing``: templates, kept images, sealed captures), as if it had been decided here."""
    history = uow.consents.history(pid)
    held, before = {c.id for c in history}, current_grants(history)
    for c in sorted(decisions, key=lambda d: (str(d["at"]), str(d["id"]))):
        if c["id"] in held:
            continue
        cid = str(c["id"])
        uow.consents.add(
            ConsentRow(
                id=cid,
                person_id=pid,
                version=uow.consents.next_version(pid),
                purpose=str(c["purpose"]),
                granted=bool(c["granted"]),
                notice_version=str(c["notice_version"]),
                language=str(c["language"]),
                grantor_kind=str(c["grantor_kind"]),
                grantor_ciphertext=deps.crypto.seal_json(key, c["grantor"], grantor_aad(cid, pid)),
                at=_dt(c["at"]) or deps.clock(),
                site_id=c.get("site_id"),
                user_id=c.get("user_id"),
            )
        )
    ended = before - current_grants(uow.consents.history(pid))
    if ended:
        end_processing(uow, pid, ended)


def apply_erasure(uow: UnitOfWork, deps: Deps, person_id: str) -> bool:
    """An erasure made on the other side: the same two-phase crypto-shredding as a local one. False: not held."""
    if uow.people.get(person_id) is None:
        return False
    erase_person(uow, deps, person_id)
    return True
