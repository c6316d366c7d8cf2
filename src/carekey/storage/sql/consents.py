"""Consent history rows (never updated; the latest version per purpose is the current state)."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, func, insert, select

from carekey.storage.protocols import ConsentRow
from carekey.storage.sql._util import utc
from carekey.storage.sql.sync import note_change
from carekey.storage.sql.tables import consents

_FIELDS = [c.name for c in consents.columns]
# hot statements built once (reused statement objects skip rebuilding and cache-key generation; load_profile.md)
_HISTORY = select(consents).where(consents.c.person_id == bindparam("person_id")).order_by(consents.c.version)


class SqlConsentRepository:
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(self, row: ConsentRow) -> None:
        self._c.execute(insert(consents).values(**{f: getattr(row, f) for f in _FIELDS}))
        note_change(self._c, row.person_id)

    def history(self, person_id: str) -> list[ConsentRow]:
        out = []
        for r in self._c.execute(_HISTORY, {"person_id": person_id}):
            d = {f: getattr(r, f) for f in _FIELDS}
            d["at"], d["grantor_ciphertext"], d["granted"] = (
                utc(d["at"]),
                bytes(d["grantor_ciphertext"]),
                bool(d["granted"]),
            )
            out.append(ConsentRow(**d))
        return out

    def next_version(self, person_id: str) -> int:
        q = select(func.coalesce(func.max(consents.c.version), 0)).where(consents.c.person_id == person_id)
        return int(self._c.execute(q).scalar_one()) + 1

    def latest_decisions(self, purpose: str) -> dict[str, bool]:
        """person id -> is the latest decision for ``purpose`` a grant."""
        q = (
            select(consents.c.person_id, consents.c.granted)
            .where(consents.c.purpose == purpose)
            .order_by(consents.c.person_id, consents.c.version)
        )
        return {r[0]: bool(r[1]) for r in self._c.execute(q)}
