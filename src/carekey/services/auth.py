"""Staff authentication: argon2id password hashes, opaque expiring bearer tokens (stored hashed),
and a login rate limit per account and per client address.

Transactions sized to their work: argon2 (about 200 ms of CPU by design) never runs inside a transaction. A login
is (1) one short write transaction counting the attempt (``LoginLimiter.acquire``), (2) one read-only transaction
fetching the hash, (3) the hash check outside any transaction, within ``HashGate``'s bounded concurrency, and
(4) on success one short write transaction storing the session and giving the attempt back. The bearer-token check
is one read-only transaction (on SQLite: no write lock).
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import secrets
import threading
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from carekey.errors import NotAuthenticated, RateLimited, msg
from carekey.services.deps import Actor, Deps
from carekey.storage.protocols import SessionRow, UnitOfWork

MAX_USERNAME = 64  # longer names are never accounts (the API refuses them with 422 before this)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def live_session(deps: Deps, token: str, now: datetime, *, staff: bool, unknown: str, expired: str) -> SessionRow:
    """The unexpired session of a bearer token (staff or patient), read in a read-only unit of work (no write lock
    on SQLite: every request makes this check); an expired one is deleted (a short write), then refused."""
    with deps.uow(read_only=True) as uow:
        session = uow.users.get_session(token_hash(token))
    return checked_session(deps, session, now, staff=staff, unknown=unknown, expired=expired)


def checked_session(
    deps: Deps, session: SessionRow | None, now: datetime, *, staff: bool, unknown: str, expired: str
) -> SessionRow:
    """``session`` when it is live; an expired one is deleted (a short write), then refused."""
    if session is None or (session.user_id if staff else session.person_id) is None:
        raise NotAuthenticated(unknown)
    if session.expires_at <= now:
        with deps.uow() as uow:
            uow.users.delete_session(session.token_hash)
            uow.commit()
        raise NotAuthenticated(expired)
    return session


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    actor: Actor


def username_key(username: str) -> str:
    """The limiter's (and the account table's) form of a username: NFKC, trimmed, inner whitespace collapsed,
    lower case; so ``" Registrar "`` and ``"registrar"`` share one limit."""
    return " ".join(unicodedata.normalize("NFKC", username).split()).lower()


def address_key(client: str) -> str:
    """A client address as a limiter key: IPv4 as is, IPv6 by its /64 network (one host owns a whole /64)."""
    try:
        ip = ipaddress.ip_address(client.strip())
    except ValueError:
        return client.strip()[:64]
    if ip.version == 6 and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip.ipv4_mapped or ip) if ip.version == 6 else str(ip)


def _locked(seconds: int) -> str:
    if seconds < 120:
        return msg("too many failed attempts: sign-in is locked; try again in %(n)s seconds", n=seconds)
    return msg("too many failed attempts: sign-in is locked; try again in %(n)s minutes", n=(seconds + 59) // 60)


class LoginLimiter:
    """Failed-login limits per account (or card) and per client address, in the database: every process (API
    workers, the CLI) shares them, and a restart does not reset them.

    Each attempt is *counted before* the password is checked, in its own committed transaction, so parallel
    guesses cannot all pass one check before any is recorded: of k parallel attempts on a key at most
    ``per_minute`` are let through to the password check. A success gives its attempt back (and clears the
    account's lockouts). The attempt after ``per_minute`` in a minute locks the account for 1 minute, the next
    lockout for 2, then 4... up to ``Settings.login_lockout_max_minutes`` (exponential back-off); an address is
    locked for the rest of its minute only (many people may share one); the refusal says how long to wait (and
    ``Retry-After``). Staff and patient logins count addresses separately. Keys are a keyed HMAC of the normalized key,
    and idle or least recently used rows are pruned (``Settings.login_limit_keys``), so hostile input can neither
    grow a key nor the table without bound.
    """

    WINDOW = timedelta(minutes=1)
    IDLE = timedelta(days=1)
    PRUNE_EVERY = 20

    def __init__(self, deps: Deps) -> None:
        self.d = deps
        self._calls = 0
        self._lock = threading.Lock()

    def _backoff(self, strikes: int) -> timedelta:
        cap = self.d.settings.login_lockout_max_minutes * 60
        return timedelta(seconds=min(60 * 2 ** min(strikes - 1, 30), cap))

    def _key(self, key: str) -> str:
        return self.d.index.limiter(key)  # keyed: a limiter row names no card or username (bounded size too)

    def acquire(self, account: str, address: str, now: datetime) -> None:
        """Count one attempt on the account (or card) and on the address, or raise RateLimited (nothing counted)
        when either is locked or spent. Only the account's lockouts back off; an address (a clinic behind one NAT
        address serves many people) is locked for the rest of its minute only. An account also locks after
        ``login_failures_before_lock`` attempts without a success, however slowly they come: a guesser who stays
        under the per-minute limit gets that many guesses per back-off period, not a fresh ten every minute."""
        limit = self.d.settings.login_attempts_per_minute
        cumulative = self.d.settings.login_failures_before_lock
        with self._lock:
            self._calls += 1
            prune = self._calls % self.PRUNE_EVERY == 1
        escalating = {self._key(account): True, self._key(address): False}
        with self.d.uow() as uow:
            rows = [uow.login_limits.lock(k, now) for k in sorted(escalating)]  # fixed lock order: no deadlock
            until: datetime | None = None
            for r in rows:
                r.last_seen = now
                if r.locked_until is not None and r.locked_until > now:
                    until = max(until or r.locked_until, r.locked_until)
                    continue
                if r.window_start <= now - self.WINDOW:
                    r.window_start, r.attempts = now, 0
                if escalating[r.key] and (r.attempts >= limit or r.failures >= cumulative):
                    r.strikes += 1
                    r.failures = 0
                    r.locked_until = now + self._backoff(r.strikes)
                    until = max(until or r.locked_until, r.locked_until)
                elif r.attempts >= limit:
                    r.locked_until = r.window_start + self.WINDOW
                    until = max(until or r.locked_until, r.locked_until)
            if until is None:
                for r in rows:
                    r.attempts += 1
                    r.failures += 1  # given back by a success
            for r in rows:
                uow.login_limits.save(r)
            if prune:
                uow.login_limits.prune(now, self.IDLE, self.d.settings.login_limit_keys)
            uow.commit()
        if until is not None:
            wait = max(1, math.ceil((until - now).total_seconds()))
            raise RateLimited(_locked(wait), retry_after=wait)

    def succeeded(self, account: str, address: str, now: datetime, clear: bool = True) -> None:
        """After a correct password or PIN: the account starts clean; the address gets this attempt back."""
        with self.d.uow() as uow:
            self.succeeded_in(uow, account, address, now, clear)
            uow.commit()

    def succeeded_in(self, uow: UnitOfWork, account: str, address: str, now: datetime, clear: bool = True) -> None:
        """``succeeded`` within the caller's writing unit of work (the one that stores the new session). With
        ``clear=False`` (a card number, which several programs may share: a known PIN in one program must not wipe
        the strikes of a guesser against another) the account only gets this attempt back, like an address."""
        for key, full in sorted([(self._key(account), clear), (self._key(address), False)]):
            r = uow.login_limits.lock(key, now)
            r.attempts = 0 if full else max(0, r.attempts - 1)
            r.failures = 0 if full else max(0, r.failures - 1)
            if full:
                r.strikes, r.locked_until = 0, None
            uow.login_limits.save(r)


class AuthService:
    def __init__(self, deps: Deps) -> None:
        self.d = deps
        self.hasher = deps.passwords
        self.limiter = LoginLimiter(deps)

    def hash_password(self, password: str) -> str:
        with self.d.hashing.hashing():
            return self.hasher.hash(password)

    def verify_password(self, stored: str | None, password: str) -> bool:
        """Check a password against its hash (None: a dummy one, same cost), within the hashing gate (call it
        outside any transaction)."""
        with self.d.hashing.hashing():
            return self.hasher.verify(stored, password)

    def login(self, username: str, password: str, client: str = "local") -> IssuedToken:
        with self.d.hashing.admit():
            return self._login(username, password, client)

    def _login(self, username: str, password: str, client: str) -> IssuedToken:
        now = self.d.clock()
        name = username_key(username)
        account, addr = f"user:{name}", f"staff-addr:{address_key(client)}"
        self.limiter.acquire(account, addr, now)  # one short write: check-and-count, atomic
        found = None
        if len(name) <= MAX_USERNAME:
            with self.d.uow(read_only=True) as uow:
                found = uow.users.by_username(name)
        # outside any transaction: unknown users cost the same hash as known ones
        ok = self.verify_password(found[1] if found else None, password)
        if not ok or found is None or not found[0].active:
            raise NotAuthenticated("wrong username or password")
        user, stored = found
        rehashed = None
        if self.hasher.needs_rehash(stored):
            with self.d.hashing.hashing():
                rehashed = self.hasher.hash(password)
        token = secrets.token_urlsafe(32)
        expires = now + timedelta(minutes=self.d.settings.token_minutes)
        with self.d.uow() as uow:  # one short write: the session, the rehash, the attempt given back
            if rehashed is not None:
                uow.users.set_password(user.id, rehashed)
            uow.users.add_session(SessionRow(token_hash(token), user.id, None, now, expires))
            uow.users.purge_sessions(now)
            self.limiter.succeeded_in(uow, account, addr, now)
            uow.commit()
        return IssuedToken(token, expires, Actor.of(user))

    def authenticate(self, token: str) -> Actor:
        now = self.d.clock()
        with self.d.uow(read_only=True) as uow:  # one statement, no write lock (SQLite)
            found, user = uow.users.session_user(token_hash(token))
        checked_session(
            self.d, found, now, staff=True, unknown="unknown token; log in again", expired="token expired; log in again"
        )
        if user is None or not user.active:
            raise NotAuthenticated("account disabled")
        return Actor.of(user)

    def logout(self, token: str) -> None:
        with self.d.uow() as uow:
            uow.users.delete_session(token_hash(token))
            uow.commit()
