"""The template change feed read by the matcher's gallery (``carekey.biometrics.feed.TemplateFeed``).

Each read is its own short, deferred (read-only) transaction on a pooled connection: it takes no write lock on
SQLite and never blocks a writer. Rows are written by ``SqlBiometricRepository`` and ``SqlPersonRepository``
(erasure) in the transaction of the change itself.
"""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from carekey.biometrics.feed import TemplateChange
from carekey.storage.sql.engine import READ_ONLY, make_engine
from carekey.storage.sql.tables import biometric_templates as t
from carekey.storage.sql.tables import people
from carekey.storage.sql.tables import template_feed as f


class SqlTemplateFeed:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _read(self, query):
        with self._engine.connect() as conn:
            conn.execution_options(**{READ_ONLY: True})
            with conn.begin():
                return conn.execute(query).all()  # one fetchall (start-up reads every stored template)

    def head(self) -> int:
        return int(self._read(select(func.coalesce(func.max(f.c.seq), 0)))[0][0])

    def count(self, key_version: int) -> int:
        return int(self._read(select(func.count()).select_from(t).where(t.c.key_version == key_version))[0][0])

    def snapshot(self, key_version: int, after: str, limit: int) -> list[TemplateChange]:
        query = (
            select(t.c.id, t.c.modality, people.c.program_id, t.c.position, t.c.key_version, t.c.template)
            .join(people, people.c.id == t.c.person_id)
            .where(t.c.key_version == key_version, t.c.id > after)
            .order_by(t.c.id)
            .limit(limit)
        )
        return [
            TemplateChange(0, ref, modality, program, position, version, bytes(template))
            for ref, modality, program, position, version, template in self._read(query)
        ]

    def changes(self, since: int, limit: int) -> list[TemplateChange]:
        query = (
            select(
                f.c.seq, f.c.template_id, f.c.modality, people.c.program_id, t.c.position, t.c.key_version, t.c.template
            )
            .select_from(f.outerjoin(t, t.c.id == f.c.template_id).outerjoin(people, people.c.id == t.c.person_id))
            .where(f.c.seq > since)
            .order_by(f.c.seq)
            .limit(limit)
        )
        return [
            TemplateChange(
                r.seq,
                r.template_id,
                r.modality,
                r.program_id,
                r.position or "",
                r.key_version or 0,
                None if r.template is None else bytes(r.template),
            )
            for r in self._read(query)
        ]


def open_template_feed(url: str) -> SqlTemplateFeed:
    """The feed of the database at ``url`` on an engine of its own: what a Ray shard of the matcher opens in its
    actor process (``bootstrap.build_matcher`` sends this function and the URL, not an engine; importing this
    module, not ``carekey.bootstrap``, keeps an actor's start-up short)."""
    return SqlTemplateFeed(make_engine(url))
