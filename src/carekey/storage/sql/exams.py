"""Exams (ciphertext under the person's data key)."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, insert, select

from carekey.storage.protocols import ExamRow
from carekey.storage.sql._util import utc
from carekey.storage.sql.sync import note_change
from carekey.storage.sql.tables import exams

# hot statements built once (reused statement objects skip rebuilding and cache-key generation; load_profile.md)
_ADD = insert(exams)
_FOR_PERSON = select(exams).where(exams.c.person_id == bindparam("person_id")).order_by(exams.c.recorded_at, exams.c.id)


class SqlExamRepository:
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(self, row: ExamRow) -> None:
        self._c.execute(
            _ADD,
            {
                "id": row.id,
                "person_id": row.person_id,
                "visit_id": row.visit_id,
                "site_id": row.site_id,
                "recorded_by": row.recorded_by,
                "recorded_at": row.recorded_at,
                "ciphertext": row.ciphertext,
            },
        )
        note_change(self._c, row.person_id)

    def for_person(self, person_id: str) -> list[ExamRow]:
        return [
            ExamRow(
                r.id,
                r.person_id,
                r.visit_id,
                r.site_id,
                r.recorded_by,
                utc(r.recorded_at),
                bytes(r.ciphertext),
            )
            for r in self._c.execute(_FOR_PERSON, {"person_id": person_id})
        ]
