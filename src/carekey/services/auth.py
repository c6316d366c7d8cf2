"""Staff authentication: argon2id password hashes, opaque expiring bearer tokens (stored hashed),
and a login rate limit per account and per client address."""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from carekey.errors import NotAuthenticated, RateLimited
from carekey.services.deps import Actor, Deps
from carekey.storage.protocols import SessionRow, UnitOfWork


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def live_session(uow: UnitOfWork, token: str, now: datetime, *, staff: bool, unknown: str, expired: str) -> SessionRow:
    """The unexpired session of a bearer token (staff or patient); an expired one is deleted, then refused."""
    session = uow.users.get_session(token_hash(token))
    if session is None or (session.user_id if staff else session.person_id) is None:
        raise NotAuthenticated(unknown)
    if session.expires_at <= now:
        uow.users.delete_session(session.token_hash)
        uow.commit()
        raise NotAuthenticated(expired)
    return session


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    actor: Actor


class LoginLimiter:
    """Sliding one-minute window of failed logins per key (in memory, per process: a restart resets it)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._fails: dict[str, deque[datetime]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _window(self, key: str, now: datetime) -> deque[datetime]:
        q = self._fails[key]
        while q and q[0] <= now - timedelta(minutes=1):
            q.popleft()
        return q

    def check(self, keys: list[str], now: datetime) -> None:
        with self._lock:
            if any(len(self._window(k, now)) >= self.per_minute for k in keys):
                raise RateLimited("too many failed logins; wait a minute and try again", retry_after=60)

    def fail(self, keys: list[str], now: datetime) -> None:
        with self._lock:
            for k in keys:
                self._window(k, now).append(now)


class AuthService:
    def __init__(self, deps: Deps) -> None:
        self.d = deps
        self.hasher = PasswordHasher(time_cost=deps.settings.argon2_time_cost,
                                  memory_cost=deps.settings.argon2_memory_kib)
        self._dummy_hash = self.hasher.hash("carekey-timing-equalizer")  # unknown users cost the same
        self.limiter = LoginLimiter(deps.settings.login_attempts_per_minute)

    def hash_password(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify_password(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def login(self, username: str, password: str, client: str = "local") -> IssuedToken:
        now = self.d.clock()
        keys = [f"user:{username.strip().lower()}", f"addr:{client}"]
        self.limiter.check(keys, now)
        with self.d.uow() as uow:
            found = uow.users.by_username(username.strip().lower())
            try:
                self.hasher.verify(found[1] if found else self._dummy_hash, password)
                ok = found is not None and found[0].active
            except (VerificationError, InvalidHashError):
                ok = False
            if not ok or found is None:
                self.limiter.fail(keys, now)
                raise NotAuthenticated("wrong username or password")
            user, stored = found
            if self.hasher.check_needs_rehash(stored):
                uow.users.set_password(user.id, self.hasher.hash(password))
            token = secrets.token_urlsafe(32)
            expires = now + timedelta(minutes=self.d.settings.token_minutes)
            uow.users.add_session(SessionRow(token_hash(token), user.id, None, now, expires))
            uow.users.purge_sessions(now)
            uow.commit()
        return IssuedToken(token, expires, Actor.of(user))

    def authenticate(self, token: str) -> Actor:
        now = self.d.clock()
        with self.d.uow() as uow:
            session = live_session(uow, token, now, staff=True, unknown="unknown token; log in again",
                                   expired="token expired; log in again")
            user = uow.users.get(session.user_id)
        if user is None or not user.active:
            raise NotAuthenticated("account disabled")
        return Actor.of(user)

    def logout(self, token: str) -> None:
        with self.d.uow() as uow:
            uow.users.delete_session(token_hash(token))
            uow.commit()
