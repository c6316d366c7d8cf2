"""Protected biometric templates (deleted when biometric_identification is revoked)."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select

from carekey.storage.protocols import TemplateRow
from carekey.storage.sql._util import utc
from carekey.storage.sql.tables import biometric_templates as t
from carekey.storage.sql.tables import people


def _row(r) -> TemplateRow:  # type: ignore[no-untyped-def]
    return TemplateRow(r.id, r.person_id, r.modality, r.position, r.key_version, bytes(r.template),
                       utc(r.created_at))  # type: ignore[arg-type]


class SqlBiometricRepository:
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(self, row: TemplateRow) -> None:
        self._c.execute(insert(t).values(id=row.id, person_id=row.person_id, modality=row.modality,
                                         position=row.position, key_version=row.key_version,
                                         template=row.template, created_at=row.created_at))

    def for_person(self, person_id: str) -> list[TemplateRow]:
        return [_row(r) for r in self._c.execute(select(t).where(t.c.person_id == person_id).order_by(t.c.id))]

    def by_modality(self, modality: str, program_id: str | None = None) -> list[TemplateRow]:
        """The templates of a modality; with ``program_id``, only those of that program's people (the search of a
        visit never scores another program's templates)."""
        q = select(t).where(t.c.modality == modality)
        if program_id is not None:
            q = q.join(people, people.c.id == t.c.person_id).where(people.c.program_id == program_id)
        return [_row(r) for r in self._c.execute(q.order_by(t.c.id))]

    def delete_for_person(self, person_id: str) -> int:
        return self._c.execute(delete(t).where(t.c.person_id == person_id)).rowcount

    def delete_position(self, person_id: str, modality: str, position: str) -> int:
        return self._c.execute(delete(t).where(t.c.person_id == person_id, t.c.modality == modality,
                                               t.c.position == position)).rowcount

    def delete_retired(self, key_version: int, person_id: str | None = None, modality: str | None = None) -> int:
        stmt = delete(t).where(t.c.key_version != key_version)
        if person_id is not None:
            stmt = stmt.where(t.c.person_id == person_id)
        if modality is not None:
            stmt = stmt.where(t.c.modality == modality)
        return self._c.execute(stmt).rowcount

    def retired_person_ids(self, key_version: int) -> list[str]:
        query = select(t.c.person_id).where(t.c.key_version != key_version).distinct().order_by(t.c.person_id)
        return [r[0] for r in self._c.execute(query)]

    def person_ids(self) -> list[str]:
        return [r[0] for r in self._c.execute(select(t.c.person_id).distinct().order_by(t.c.person_id))]
