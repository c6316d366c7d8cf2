"""The template change feed read by the matcher's gallery (``carekey.biometrics.feed.TemplateFeed``).

Each read is its own short, deferred (read-only) transaction on a pooled connection: it takes no write lock on
SQLite and never blocks a writer. Rows are written by ``SqlBiometricRepository`` and ``SqlPersonRepository``
(erasure) in the transaction of the change itself.

The snapshot (the gallery's start-up reads every stored template, gigabytes at national scale) goes straight to
the DBAPI cursor: its rows are the driver's tuples made into ``TemplateChange`` by one C-level call each, with no
SQLAlchemy row objects, and on SQLite the page is read through a memory map (``PRAGMA mmap_size``: a template's
overflow pages are copied once, from the map, instead of read() into SQLite's page cache first; halved the fetch
time of 10,000 stored fingers, ``bench/results/service/README.md``).
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Engine, func, literal, select

from carekey.biometrics.feed import TemplateChange
from carekey.storage.sql.engine import READ_ONLY, make_engine
from carekey.storage.sql.tables import biometric_templates as t
from carekey.storage.sql.tables import people
from carekey.storage.sql.tables import template_feed as f

SNAPSHOT_MMAP_BYTES = 1 << 40  # SQLite maps at most the file (and its own compile-time cap), never this much


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
            select(
                literal(0).label("seq"),  # the columns in TemplateChange's order: a driver tuple is one
                t.c.id,
                t.c.modality,
                people.c.program_id,
                t.c.position,
                t.c.key_version,
                t.c.template,
            )
            .join(people, people.c.id == t.c.person_id)
            .where(t.c.key_version == key_version, t.c.id > after)
            .order_by(t.c.id)
            .limit(limit)
        )
        rows = self._read_raw(query)
        if rows and not isinstance(rows[0][6], bytes):  # a driver handing out memoryview / bytearray
            rows = [(*r[:6], bytes(r[6])) for r in rows]
        return list(map(TemplateChange._make, rows))

    def _read_raw(self, query) -> list[Any]:
        """The driver's own rows of ``query`` (a read-only transaction, like ``_read``)."""
        compiled = query.compile(dialect=self._engine.dialect)
        params: Any = compiled.params
        if self._engine.dialect.positional:
            params = tuple(params[name] for name in compiled.positiontup or ())
        sqlite = self._engine.dialect.name == "sqlite"
        with self._engine.connect() as conn:
            conn.execution_options(**{READ_ONLY: True})
            with conn.begin():
                cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
                try:
                    if sqlite:
                        cursor.execute(f"PRAGMA mmap_size={SNAPSHOT_MMAP_BYTES}")
                    try:
                        cursor.execute(str(compiled), params)
                        return cast(list[Any], cursor.fetchall())
                    finally:
                        if sqlite:
                            cursor.execute("PRAGMA mmap_size=0")  # the pooled connection goes back as it was
                finally:
                    cursor.close()

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
    actor process (``carekey.bootstrap.matcher.build_matcher`` sends this function and the URL, not an engine;
    importing this module, not ``carekey.bootstrap``, keeps an actor's start-up short)."""
    return SqlTemplateFeed(make_engine(url))
