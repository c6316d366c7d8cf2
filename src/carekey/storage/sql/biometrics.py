"""Protected biometric templates (deleted when biometric_identification is revoked).

Every insert and delete also appends a row to ``template_feed`` in the same transaction (``record``): the change
feed the matcher's in-memory gallery follows (``carekey.storage.sql.feed``). Writers of the feed are serialized
to their commit (``lock_feed``), so feed rows become visible in ``seq`` order.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, delete, insert, literal, select
from sqlalchemy.sql import ColumnElement

from carekey.storage.protocols import TemplateRow
from carekey.storage.sql._util import utc
from carekey.storage.sql.engine import lock_feed
from carekey.storage.sql.tables import biometric_templates as t
from carekey.storage.sql.tables import people, template_feed


def record_removal(conn: Connection, where: ColumnElement[bool]) -> None:
    """Feed rows for the templates about to be deleted by ``where`` (call before the delete)."""
    lock_feed(conn)
    conn.execute(
        insert(template_feed).from_select(
            ["template_id", "modality", "op"],
            select(t.c.id, t.c.modality, literal("remove")).where(where).order_by(t.c.id),
        )
    )


def _row(r) -> TemplateRow:
    return TemplateRow(r.id, r.person_id, r.modality, r.position, r.key_version, bytes(r.template), utc(r.created_at))


class SqlBiometricRepository:
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(self, row: TemplateRow) -> None:
        self._c.execute(
            insert(t).values(
                id=row.id,
                person_id=row.person_id,
                modality=row.modality,
                position=row.position,
                key_version=row.key_version,
                template=row.template,
                created_at=row.created_at,
            )
        )
        lock_feed(self._c)
        self._c.execute(insert(template_feed).values(template_id=row.id, modality=row.modality, op="add"))

    def for_person(self, person_id: str) -> list[TemplateRow]:
        return [_row(r) for r in self._c.execute(select(t).where(t.c.person_id == person_id).order_by(t.c.id))]

    def by_modality(self, modality: str, program_id: str | None = None) -> list[TemplateRow]:
        """The templates of a modality; with ``program_id``, only those of that program's people (the search of a
        visit never scores another program's templates)."""
        q = select(t).where(t.c.modality == modality)
        if program_id is not None:
            q = q.join(people, people.c.id == t.c.person_id).where(people.c.program_id == program_id)
        return [_row(r) for r in self._c.execute(q.order_by(t.c.id))]

    def owners(self, template_ids: Sequence[str]) -> dict[str, str]:
        """template id -> person id of those still stored (a search result is mapped to people here)."""
        ids, out = sorted(set(template_ids)), {}
        for lo in range(0, len(ids), 500):
            query = select(t.c.id, t.c.person_id).where(t.c.id.in_(ids[lo : lo + 500]))
            out.update({r.id: r.person_id for r in self._c.execute(query)})
        return out

    def delete_for_person(self, person_id: str) -> int:
        record_removal(self._c, t.c.person_id == person_id)
        return self._c.execute(delete(t).where(t.c.person_id == person_id)).rowcount

    def delete_position(self, person_id: str, modality: str, position: str) -> int:
        return self._c.execute(
            delete(t).where(t.c.person_id == person_id, t.c.modality == modality, t.c.position == position)
        ).rowcount

    def delete_retired(self, key_version: int, person_id: str | None = None, modality: str | None = None) -> int:
        stmt = delete(t).where(t.c.key_version != key_version)
        if person_id is not None:
            stmt = stmt.where(t.c.person_id == person_id)
        if modality is not None:
            stmt = stmt.where(t.c.modality == modality)
        assert stmt.whereclause is not None
        record_removal(self._c, stmt.whereclause)
        return self._c.execute(stmt).rowcount

    def retired_person_ids(self, key_version: int) -> list[str]:
        query = select(t.c.person_id).where(t.c.key_version != key_version).distinct().order_by(t.c.person_id)
        return [r[0] for r in self._c.execute(query)]

    def person_ids(self) -> list[str]:
        return [r[0] for r in self._c.execute(select(t.c.person_id).distinct().order_by(t.c.person_id))]
