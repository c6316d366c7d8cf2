"""The one password hasher of carekey: argon2id (RFC 9106) for staff passwords, patient PINs and the proof of
presence, through argon2-cffi. Costs come from the settings (``argon2_time_cost``, ``argon2_memory_kib``); one
hasher per cost pair is shared by every service."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

TIMING_SECRET = "carekey-timing-equalizer"  # hashed once: an unknown account costs what a known one does


class Passwords:
    """argon2id hashes: ``hash``, ``verify`` (False on any mismatch or unreadable hash), ``needs_rehash``."""

    def __init__(self, time_cost: int, memory_kib: int) -> None:
        self._ph = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
        self.dummy_hash = self._ph.hash(TIMING_SECRET)

    def hash(self, secret: str) -> str:
        return self._ph.hash(secret)

    def verify(self, stored: str | None, secret: str) -> bool:
        """``secret`` matches ``stored``. With no stored hash a dummy one is checked, so that the answer costs
        the same time whether or not the account (or PIN) exists."""
        try:
            return self._ph.verify(stored or self.dummy_hash, secret) and bool(stored)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        """The hash was made with other costs than the current ones."""
        return self._ph.check_needs_rehash(stored)


@cache
def passwords(time_cost: int, memory_kib: int) -> Passwords:
    """The shared hasher for these costs."""
    return Passwords(time_cost, memory_kib)
