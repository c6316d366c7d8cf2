"""Programs and sites."""

from __future__ import annotations

import json
import weakref
from datetime import datetime

from sqlalchemy import Connection, Engine, bindparam, insert, select

from carekey.domain.program import Program, Site
from carekey.errors import msg
from carekey.storage.sql._util import conflict_on_duplicate
from carekey.storage.sql.tables import programs, sites

# hot statements built once (reused statement objects skip rebuilding and cache-key generation; load_profile.md)
_SITE = select(sites).where(sites.c.id == bindparam("site_id"))
# Committed sites, per engine (one database): a site is never changed or deleted once added (no code path does),
# and the policy reads the site of every access of a person (same program?). A site added in a transaction is
# not cached by that transaction (it may roll back).
_SITES: weakref.WeakKeyDictionary[Engine, dict[str, Site]] = weakref.WeakKeyDictionary()


class SqlProgramRepository:
    def __init__(self, conn: Connection) -> None:
        self._c = conn
        self._added: set[str] = set()

    def add_program(self, program: Program, at: datetime) -> None:
        with conflict_on_duplicate(lambda: msg("program %(program)s exists", program=repr(program.id))):
            self._c.execute(
                insert(programs).values(
                    id=program.id,
                    name=program.name,
                    notice_versions=json.dumps(list(program.notice_versions)),
                    languages=json.dumps(list(program.languages)),
                    created_at=at,
                )
            )

    @staticmethod
    def _program(r) -> Program:
        return Program(r.id, r.name, tuple(json.loads(r.notice_versions)), tuple(json.loads(r.languages)))

    def get_program(self, program_id: str) -> Program | None:
        r = self._c.execute(select(programs).where(programs.c.id == program_id)).first()
        return self._program(r) if r else None

    def list_programs(self) -> list[Program]:
        return [self._program(r) for r in self._c.execute(select(programs).order_by(programs.c.created_at))]

    def add_site(self, site: Site) -> None:
        self._added.add(site.id)
        with conflict_on_duplicate(lambda: msg("site %(site)s exists", site=repr(site.id))):
            self._c.execute(
                insert(sites).values(id=site.id, program_id=site.program_id, name=site.name, district=site.district)
            )

    def get_site(self, site_id: str) -> Site | None:
        cache = _SITES.setdefault(self._c.engine, {})
        if site_id in cache:
            return cache[site_id]
        r = self._c.execute(_SITE, {"site_id": site_id}).first()
        site = Site(r.id, r.program_id, r.name, r.district) if r else None
        if site is not None and site_id not in self._added:
            cache[site_id] = site
        return site

    def list_sites(self) -> list[Site]:
        rows = self._c.execute(select(sites).order_by(sites.c.id))
        return [Site(r.id, r.program_id, r.name, r.district) for r in rows]

    def lock(self, program_id: str) -> None:
        """Hold the program's row lock to the end of the transaction: the duplicate checks of enrollment (biometric
        and demographic) and the write they allow run one at a time per program, so two registrars enrolling the
        same person at the same moment cannot both pass. PostgreSQL: ``SELECT ... FOR UPDATE`` on the program row;
        SQLite has one writer already (``BEGIN IMMEDIATE``, ``engine.py``), where the clause is not rendered."""
        self._c.execute(select(programs.c.id).where(programs.c.id == program_id).with_for_update())
