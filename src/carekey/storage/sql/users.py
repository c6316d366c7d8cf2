"""Staff users, their sites, and bearer-token sessions (stored as SHA-256 hashes only)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from carekey.domain.program import Role, User
from carekey.storage.protocols import SessionRow
from carekey.storage.sql._util import conflict_on_duplicate, utc
from carekey.storage.sql.tables import sessions, user_sites, users

# the bearer-token check of every request, in one statement: the session, its staff account and the account's sites
# (one row per site; built once, see load_profile.md)
_SESSION_USER = (
    select(
        sessions.c.token_hash,
        sessions.c.user_id,
        sessions.c.person_id,
        sessions.c.created_at,
        sessions.c.expires_at,
        users.c.id.label("u_id"),
        users.c.username,
        users.c.role,
        users.c.display_name,
        users.c.active,
        users.c.changed_by,
        users.c.approved_by,
        user_sites.c.site_id,
    )
    .select_from(
        sessions.outerjoin(users, users.c.id == sessions.c.user_id).outerjoin(
            user_sites, user_sites.c.user_id == users.c.id
        )
    )
    .where(sessions.c.token_hash == bindparam("token_hash"))
)


class SqlUserRepository:
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(self, user: User, password_hash: str, at: datetime) -> None:
        with conflict_on_duplicate(lambda: f"username {user.username!r} is taken"):
            self._c.execute(
                insert(users).values(
                    id=user.id,
                    username=user.username,
                    role=user.role.value,
                    display_name=user.display_name,
                    password_hash=password_hash,
                    active=user.active,
                    created_at=at,
                    changed_by=user.changed_by,
                    approved_by=user.approved_by,
                )
            )
        for site_id in sorted(user.site_ids):
            self._c.execute(insert(user_sites).values(user_id=user.id, site_id=site_id))

    def _user(self, r) -> User:
        site_ids = self._c.execute(select(user_sites.c.site_id).where(user_sites.c.user_id == r.id)).scalars()
        return User(
            r.id,
            r.username,
            Role(r.role),
            frozenset(site_ids),
            r.display_name,
            bool(r.active),
            r.changed_by,
            r.approved_by,
        )

    def get(self, user_id: str) -> User | None:
        r = self._c.execute(select(users).where(users.c.id == user_id)).first()
        return self._user(r) if r else None

    def by_username(self, username: str) -> tuple[User, str] | None:
        r = self._c.execute(select(users).where(users.c.username == username)).first()
        return (self._user(r), r.password_hash) if r else None

    def set_password(self, user_id: str, password_hash: str) -> None:
        self._c.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))

    def get_language(self, user_id: str) -> str | None:
        return self._c.execute(select(users.c.language).where(users.c.id == user_id)).scalar_one_or_none()

    def set_language(self, user_id: str, language: str) -> None:
        self._c.execute(update(users).where(users.c.id == user_id).values(language=language))

    def save(self, user: User) -> None:
        """Role, sites, activity and approval as in ``user`` (username and password unchanged)."""
        self._c.execute(
            update(users)
            .where(users.c.id == user.id)
            .values(
                role=user.role.value,
                display_name=user.display_name,
                active=user.active,
                changed_by=user.changed_by,
                approved_by=user.approved_by,
            )
        )
        self._c.execute(delete(user_sites).where(user_sites.c.user_id == user.id))
        for site_id in sorted(user.site_ids):
            self._c.execute(insert(user_sites).values(user_id=user.id, site_id=site_id))

    def end_sessions(self, user_id: str | None = None, person_id: str | None = None) -> int:
        """Delete every session of a staff user or of a patient (sign them out everywhere)."""
        col, value = (sessions.c.user_id, user_id) if user_id is not None else (sessions.c.person_id, person_id)
        if value is None:
            return 0
        return int(self._c.execute(delete(sessions).where(col == value)).rowcount or 0)

    def list(self) -> list[User]:
        return [self._user(r) for r in self._c.execute(select(users).order_by(users.c.username))]

    def count(self) -> int:
        return int(self._c.execute(select(func.count()).select_from(users)).scalar_one())

    def add_session(self, row: SessionRow) -> None:
        self._c.execute(
            insert(sessions).values(
                token_hash=row.token_hash,
                user_id=row.user_id,
                person_id=row.person_id,
                created_at=row.created_at,
                expires_at=row.expires_at,
            )
        )

    def get_session(self, token_hash: str) -> SessionRow | None:
        r = self._c.execute(select(sessions).where(sessions.c.token_hash == token_hash)).first()
        if r is None:
            return None
        return SessionRow(r.token_hash, r.user_id, r.person_id, utc(r.created_at), utc(r.expires_at))

    def session_user(self, token_hash: str) -> tuple[SessionRow | None, User | None]:
        """The session of this token hash and, for a staff session, its account (None when gone), in one read."""
        rows = self._c.execute(_SESSION_USER, {"token_hash": token_hash}).all()
        if not rows:
            return None, None
        r = rows[0]
        session = SessionRow(r.token_hash, r.user_id, r.person_id, utc(r.created_at), utc(r.expires_at))
        if r.u_id is None:
            return session, None
        user = User(
            r.u_id,
            r.username,
            Role(r.role),
            frozenset(x.site_id for x in rows if x.site_id is not None),
            r.display_name,
            bool(r.active),
            r.changed_by,
            r.approved_by,
        )
        return session, user

    def delete_session(self, token_hash: str) -> None:
        self._c.execute(delete(sessions).where(sessions.c.token_hash == token_hash))

    def purge_sessions(self, now: datetime) -> int:
        return self._c.execute(delete(sessions).where(sessions.c.expires_at < now)).rowcount
