"""Identifiers: pseudonymous program ids for people, opaque random ids for everything else."""

from __future__ import annotations

import secrets

# Crockford base32 without I, L, O, U: easy to read aloud and to copy from a printed card.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _chunk(n: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


def new_person_id() -> str:
    """A pseudonymous program id such as ``CK-7F3K-92QD`` (40 random bits; carries no personal data)."""
    return f"CK-{_chunk(4)}-{_chunk(4)}"


def new_id(prefix: str) -> str:
    """An opaque row id such as ``EX-1a2b...`` (96 random bits)."""
    return f"{prefix}-{secrets.token_hex(12)}"


def is_person_id(value: str) -> bool:
    parts = value.split("-")
    return (
        len(parts) == 3
        and parts[0] == "CK"
        and all(len(p) == 4 for p in parts[1:])
        and all(c in _ALPHABET for c in parts[1] + parts[2])
    )
