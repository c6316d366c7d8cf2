"""What every use case needs, wired once by ``carekey.bootstrap``; and the acting staff member."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from carekey.audit.sth import LogSigner
from carekey.biometrics.feed import TemplateFeed
from carekey.config import Settings
from carekey.crypto.blind import BlindIndexer
from carekey.crypto.envelope import PersonCrypto
from carekey.crypto.passwords import Passwords, passwords
from carekey.domain.program import Role, User
from carekey.services.hashing import HashGate
from carekey.storage.heads import HeadsFile
from carekey.storage.protocols import UnitOfWork


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Actor:
    """The authenticated staff member on whose behalf a use case runs."""

    user_id: str
    username: str
    role: Role
    site_ids: frozenset[str]
    approved: bool = True  # from the account (``of``); only code-made actors (console operator, tests) default

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(user.id, user.username, user.role, user.site_ids, user.approved)


class UowFactory(Protocol):
    """``uow()`` a writing unit of work; ``uow(read_only=True)`` one for paths that write nothing (on SQLite it
    takes no write lock: the bearer-token check, tree-head reads...). Reads of personal data write their log
    entry, so they are never read-only."""

    def __call__(self, read_only: bool = False) -> UnitOfWork: ...


@dataclass
class Deps:
    uow: UowFactory
    crypto: PersonCrypto
    index: BlindIndexer
    settings: Settings
    signer: LogSigner | None = None  # signs tree heads; None only in tests that never publish one
    clock: Callable[[], datetime] = utcnow
    biometric_key_version: int | None = None  # current template-protection key version (None: not wired)
    heads: HeadsFile | None = None  # every signed tree head also goes here, outside the database (None: tests)
    template_feed: TemplateFeed | None = None  # the database's template change feed the matcher's gallery follows

    @property
    def passwords(self) -> Passwords:
        """The one argon2id hasher (``carekey.crypto.passwords``) for the configured costs."""
        return passwords(self.settings.argon2_time_cost, self.settings.argon2_memory_kib)

    hashing: HashGate = field(default_factory=HashGate)  # bounded argon2 concurrency (auth, patients)
