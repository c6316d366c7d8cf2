"""Keyed blind indexes (HMAC-SHA256) for lookups without biometrics.

Equality on an index leaks only equality of the underlying values to someone holding the database
without the key file; the birth year index has few values, so it is only ever used together with
the name match done in memory, never published. Each index is domain-separated by its label.
"""

from __future__ import annotations

import hashlib
import hmac

from carekey.domain.person import normalize_card, normalize_name


class BlindIndexer:
    def __init__(self, index_key: bytes) -> None:
        self._key = index_key

    def _mac(self, label: str, value: str) -> str:
        return hmac.new(self._key, f"{label}\x00{value}".encode(), hashlib.sha256).hexdigest()

    def card(self, card_number: str) -> str:
        return self._mac("card", normalize_card(card_number))

    def name(self, full_name: str) -> str:
        return self._mac("name", normalize_name(full_name))

    def birth_year(self, year: int) -> str:
        return self._mac("birth_year", str(int(year)))

    def village(self, village: str) -> str:
        return self._mac("village", normalize_name(village))

    def limiter(self, key: str) -> str:
        """A sign-in limiter key (``user:...``, ``card:...``, an address): keyed, so the table names no card."""
        return self._mac("limiter", key)
