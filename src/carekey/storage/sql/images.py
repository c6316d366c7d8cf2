"""Enrollment images kept at the person's request, as ciphertext under the person's image key (sealed and opened
in the services). Deleted with the person, with either biometric consent, and by the retention job."""

from __future__ import annotations

from sqlalchemy import Connection, delete, func, insert, select, update

from carekey.storage.protocols import ImageRow
from carekey.storage.sql._util import utc
from carekey.storage.sql.tables import biometric_images as t


def _row(r) -> ImageRow:
    return ImageRow(
        r.id,
        r.person_id,
        r.template_id,
        r.modality,
        r.position,
        r.key_version,
        bytes(r.ciphertext),
        utc(r.created_at),
        r.key_ref,
    )


class SqlImageRepository:
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(self, row: ImageRow) -> None:
        self._c.execute(
            insert(t).values(
                id=row.id,
                person_id=row.person_id,
                template_id=row.template_id,
                modality=row.modality,
                position=row.position,
                key_version=row.key_version,
                ciphertext=row.ciphertext,
                created_at=row.created_at,
                key_ref=row.key_ref,
            )
        )

    def key_refs(self, person_id: str) -> list[str]:
        """The person's image key reference(s) (one per person; more only transiently)."""
        q = select(t.c.key_ref).where(t.c.person_id == person_id, t.c.key_ref.is_not(None)).distinct()
        return sorted(r[0] for r in self._c.execute(q))

    def for_person(self, person_id: str) -> list[ImageRow]:
        return [_row(r) for r in self._c.execute(select(t).where(t.c.person_id == person_id).order_by(t.c.id))]

    def count_for_person(self, person_id: str) -> int:
        return int(self._c.execute(select(func.count()).select_from(t).where(t.c.person_id == person_id)).scalar_one())

    def delete_for_person(self, person_id: str) -> int:
        return self._c.execute(delete(t).where(t.c.person_id == person_id)).rowcount

    def delete_position(self, person_id: str, modality: str, position: str) -> int:
        return self._c.execute(
            delete(t).where(t.c.person_id == person_id, t.c.modality == modality, t.c.position == position)
        ).rowcount

    def relink(self, image_id: str, template_id: str | None, key_version: int, was_version: int) -> int:
        stmt = update(t).where(t.c.id == image_id, t.c.key_version == was_version)
        return self._c.execute(stmt.values(template_id=template_id, key_version=key_version)).rowcount

    def person_ids(self) -> list[str]:
        return [r[0] for r in self._c.execute(select(t.c.person_id).distinct().order_by(t.c.person_id))]

    def stale_person_ids(self, key_version: int) -> list[str]:
        query = select(t.c.person_id).where(t.c.key_version != key_version).distinct().order_by(t.c.person_id)
        return [r[0] for r in self._c.execute(query)]
