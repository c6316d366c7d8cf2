"""People: blind indexes, wrapped key reference and ciphertext only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from carekey.errors import msg
from carekey.storage.protocols import PersonRow
from carekey.storage.sql._util import conflict_on_duplicate, utc
from carekey.storage.sql.biometrics import record_removal
from carekey.storage.sql.sync import note_change, note_erasure
from carekey.storage.sql.tables import biometric_templates, people

_FIELDS = [c.name for c in people.columns]
# hot statements built once: a statement object reused is neither rebuilt nor re-keyed for SQLAlchemy's
# compiled cache on every request (about 0.2 ms each on the reference machine; bench/results/load_profile.md)
_GET = select(people).where(people.c.id == bindparam("person_id"))
_BY_CARD = select(people).where(people.c.program_id == bindparam("program_id"), people.c.card_bidx == bindparam("bidx"))
TOUCH_GRANULARITY = timedelta(hours=1)  # how stale ``last_seen_at`` may be (retention periods are years)
_TOUCH = update(people).where(people.c.id == bindparam("person_id")).values(last_seen_at=bindparam("at"))


def _row(r) -> PersonRow:
    d = {f: getattr(r, f) for f in _FIELDS}
    d["wrapped_key"], d["ciphertext"] = bytes(d["wrapped_key"]), bytes(d["ciphertext"])
    d["enrolled_at"], d["last_seen_at"] = utc(d["enrolled_at"]), utc(d["last_seen_at"])
    return PersonRow(**d)


DUPLICATE_CARD = msg("a person with this card number is already enrolled; look them up by card")


class SqlPersonRepository:
    def __init__(self, conn: Connection) -> None:
        self._c = conn
        # rows read in this unit of work (one transaction): policy and the use case both read the person; any
        # write through this repository forgets them
        self._read: dict[str, PersonRow | None] = {}

    def forget(self) -> None:
        """Drop the rows read so far (the unit of work's transaction ended: a new one reads afresh)."""
        self._read.clear()

    def add(self, row: PersonRow) -> None:
        self._read.clear()
        with conflict_on_duplicate(lambda: DUPLICATE_CARD):
            self._c.execute(insert(people).values(**{f: getattr(row, f) for f in _FIELDS}))
        note_change(self._c, row.id)

    def get(self, person_id: str) -> PersonRow | None:
        if person_id not in self._read:
            r = self._c.execute(_GET, {"person_id": person_id}).first()
            self._read[person_id] = _row(r) if r else None
        return self._read[person_id]

    def by_card(self, program_id: str, card_bidx: str) -> PersonRow | None:
        r = self._c.execute(_BY_CARD, {"program_id": program_id, "bidx": card_bidx}).first()
        return _row(r) if r else None

    def candidates(
        self, program_id: str, birth_year_bidxs: Sequence[str], village_bidx: str | None, limit: int
    ) -> list[PersonRow]:
        q = select(people).where(people.c.program_id == program_id, people.c.birth_year_bidx.in_(birth_year_bidxs))
        if village_bidx is not None:
            q = q.where(people.c.village_bidx == village_bidx)
        return [_row(r) for r in self._c.execute(q.order_by(people.c.id).limit(limit))]

    def by_name(self, program_id: str, name_bidx: str, limit: int) -> list[PersonRow]:
        q = select(people).where(people.c.program_id == program_id, people.c.name_bidx == name_bidx)
        return [_row(r) for r in self._c.execute(q.order_by(people.c.id).limit(limit))]

    def touch(self, person_id: str, at: datetime) -> None:
        """``last_seen_at`` moved to ``at``; skipped when the row read in this transaction was seen less than
        ``TOUCH_GRANULARITY`` before ``at`` (retention counts years: an UPDATE on every logged request, inside the
        one SQLite writer's lock, bought nothing; bench/results/load.md)."""
        seen = self._read.get(person_id)
        if seen is not None and at - TOUCH_GRANULARITY <= seen.last_seen_at <= at:
            return
        self._read.clear()
        self._c.execute(_TOUCH, {"person_id": person_id, "at": at})

    def rewrite(
        self, person_id: str, ciphertext: bytes, name_bidx: str, birth_year_bidx: str, village_bidx: str
    ) -> None:
        """The record after a demographic edit (``people.edit``, the per-field merge of a sync)."""
        self._read.clear()
        self._c.execute(
            update(people)
            .where(people.c.id == person_id)
            .values(
                ciphertext=ciphertext, name_bidx=name_bidx, birth_year_bidx=birth_year_bidx, village_bidx=village_bidx
            )
        )

    def set_pin_hash(self, person_id: str, pin_hash: str | None) -> None:
        self._read.clear()
        self._c.execute(update(people).where(people.c.id == person_id).values(pin_hash=pin_hash))

    def in_program(self, program_id: str) -> list[PersonRow]:
        return [
            _row(r)
            for r in self._c.execute(select(people).where(people.c.program_id == program_id).order_by(people.c.id))
        ]

    def not_seen_since(self, before: datetime) -> list[str]:
        q = select(people.c.id).where(people.c.last_seen_at < before).order_by(people.c.id)
        return [r[0] for r in self._c.execute(q)]

    def delete(self, person_id: str) -> None:
        self._read.clear()
        record_removal(self._c, biometric_templates.c.person_id == person_id)  # the cascade, in the feed
        self._c.execute(delete(people).where(people.c.id == person_id))
        note_erasure(self._c, person_id)

    def count(self) -> int:
        return int(self._c.execute(select(func.count()).select_from(people)).scalar_one())
