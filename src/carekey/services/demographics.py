"""Demographic edits after enrollment and their per-field merge across a node and the central registry (issue 19,
docs/sync.md, merge rules). An edit is an append-only row (the new value sealed under the person's key, the edit
it replaced, where it was made); the record's fields are recomputed from them by ``domain.sync.merge_fields``:
a change made on one side only wins; both sides changed the same field since their last common version: the
central value stays and the conflict goes to the review list (a ``conflict`` task shown at the person's next visit
on the node, ``carekey node conflicts``). Values never leave the person's record: a task names the field only."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from carekey.domain.ids import new_id
from carekey.domain.person import Person
from carekey.domain.sync import CENTRAL, EDITABLE_FIELDS, FieldEdit, merge_fields
from carekey.errors import InvalidInput, msg
from carekey.policy.decision import Action
from carekey.services.access import authorize
from carekey.services.deps import Actor, Deps
from carekey.services.records import data_key, load_row, open_person
from carekey.services.visits import load_visit
from carekey.storage.protocols import EditRow, TaskRow, UnitOfWork


def edit_aad(edit_id: str, person_id: str) -> str:
    return f"person_edits|{edit_id}|{person_id}|v1"


def edit_value(opened: object) -> Any:
    return opened.get("v") if isinstance(opened, dict) else None


def facts(e: EditRow) -> FieldEdit:
    return FieldEdit(
        e.id, e.field, tuple(p for p in (e.prev or "").split(",") if p), e.at.isoformat(), e.made_on == CENTRAL
    )


def this_side(uow: UnitOfWork) -> str:
    state = uow.sync.node_state()
    return state.node_id if state is not None else CENTRAL


def recompute(uow: UnitOfWork, deps: Deps, person_id: str) -> list[str]:
    """The record's fields from its edits (``merge_fields``); conflicts become review tasks (a deterministic id
    per conflict, so both sides make the same task once). Returns the conflicting fields."""
    row = load_row(uow, person_id)
    edits = uow.sync.edits_of(person_id)
    if not edits:
        return []
    key = data_key(deps.crypto, row)
    merged = merge_fields([facts(e) for e in edits])
    by_id = {e.id: e for e in edits}
    values: dict[str, Any] = open_person(deps.crypto, row).to_dict()
    for field, m in merged.items():
        sealed = by_id[m.winner]
        opened = deps.crypto.open_json(key, sealed.ciphertext, edit_aad(sealed.id, person_id))
        values[field] = edit_value(opened)
    person = Person.from_dict(values)
    ix = deps.index
    uow.people.rewrite(
        person_id,
        _seal_person(deps, key, person),
        ix.name(person.full_name),
        ix.birth_year(person.birth_year),
        ix.village(person.village),
    )
    conflicts = []
    held = {t.id for t in uow.sync.tasks_of(person_id)}
    for field, m in merged.items():
        if not m.conflict:
            continue
        conflicts.append(field)
        tid = "TK-" + hashlib.sha256(f"{person_id}|{field}|{'|'.join(sorted(m.conflict))}".encode()).hexdigest()[:24]
        if tid not in held:
            detail = {"field": field, "edits": sorted(m.conflict), "kept": m.winner}
            uow.sync.save_task(TaskRow(tid, person_id, None, "conflict", json.dumps(detail), deps.clock()))
    return conflicts


def _seal_person(deps: Deps, key: bytes, person: Person) -> bytes:
    from carekey.crypto.envelope import person_aad

    return deps.crypto.seal_json(key, person.to_dict(), person_aad(person.id))


def add_edit(uow: UnitOfWork, deps: Deps, key: bytes, row: EditRow, value: Any) -> None:
    """``row`` with ``value`` sealed under the person's key (``row.ciphertext`` is ignored)."""
    sealed = deps.crypto.seal_json(key, {"v": value}, edit_aad(row.id, row.person_id))
    uow.sync.add_edit(EditRow(**(row.__dict__ | {"ciphertext": sealed})))


class DemographicsService:
    def __init__(self, deps: Deps) -> None:
        self.d = deps

    def edit(self, actor: Actor, visit_id: str, purpose: str | None, person_id: str, changes: dict[str, Any]) -> Person:
        """Correct the person's demographic fields in a visit serving them (policy ``edit_person``, logged with the
        names of the fields changed, never their values). Each changed field is an edit that replaces the field's
        current one; the record is recomputed (and, on a node, the edit goes with the next push)."""
        unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
        if unknown:
            raise InvalidInput(msg("these fields cannot be edited: %(fields)s", fields=", ".join(unknown)))
        try:
            changes = {k: int(v) if k == "birth_year" else str(v).strip() for k, v in changes.items()}
        except ValueError:
            raise InvalidInput("the birth year must be a number", field="birth_year") from None
        now = self.d.clock()
        with self.d.uow() as uow:
            visit = load_visit(uow, visit_id)
            authorize(
                uow,
                now,
                actor,
                Action.EDIT_PERSON,
                purpose,
                visit=visit,
                person_id=person_id,
                detail="; fields: " + ", ".join(sorted(changes)),
            )
            row = load_row(uow, person_id)
            current = open_person(self.d.crypto, row)
            values = current.to_dict() | changes
            Person.create(  # validates the new values as at enrollment (InvalidInput names the field)
                id=person_id,
                given_name=str(values["given_name"]),
                family_name=str(values["family_name"]),
                sex=str(values["sex"]),
                birth_year=int(str(values["birth_year"])),
                card_number=current.card_number,
                today=now.date(),
                district=str(values["district"]),
                village=str(values["village"]),
            )
            edits = uow.sync.edits_of(person_id)
            merged = merge_fields([facts(e) for e in edits])
            key, side = data_key(self.d.crypto, row), this_side(uow)
            for field, value in sorted(changes.items()):
                if current.to_dict()[field] == value:
                    continue
                seen = (merged[field].conflict or (merged[field].winner,)) if field in merged else ()
                prev = ",".join(sorted(seen)) or None
                site = visit.site_id if visit else None
                edit = EditRow(new_id("ED"), person_id, field, b"", prev, now, site, actor.user_id, side)
                add_edit(uow, self.d, key, edit, value)
            recompute(uow, self.d, person_id)
            person = open_person(self.d.crypto, load_row(uow, person_id))
            uow.commit()
        return person
