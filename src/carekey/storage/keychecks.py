"""Fail closed on keys: a key-check value per key file, kept in the database and compared at every start.

Three key files live beside the database and never in it: the program key file (``carekey.keys``: key-encryption
and blind-index keys), the key store (``carekey.keystore``: per-person shred secrets) and the log key
(``carekey.log.key``: signs tree heads). Losing or swapping any of them used to go unnoticed: every record
"not found", a new log key silently signing heads. Now the database holds one check value per file
(``key_checks``), written by ``carekey init``, and the server and every command refuse to start — exit code 9,
a message naming the file and what to restore — when a file is missing, truncated, corrupt or replaced while the
database holds data under it, or when the database is missing while key files exist.

A database from before these checks (no ``key_checks`` rows) adopts the present files only after proving them
on its data: a sample of people must unwrap with these keys from this key store, and the latest signed head must
name this log key. The people sample is checked at every start too: a key store restored from an older
backup (same identity, fewer secrets) lacks the newest people's keys and is refused. The check values reveal
nothing: an HMAC of a label under each program key, a hash of the key store's random identity, the public key
id of the log key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from carekey.audit.sth import LogSigner
from carekey.crypto.envelope import PersonCrypto, SealedKey
from carekey.crypto.keys import ProgramKeys
from carekey.errors import CarekeyError, KeyCheckFailed
from carekey.storage.database import Database
from carekey.storage.keystore import FileSecretStore
from carekey.storage.sql.shreds import SqlKeyChecks
from carekey.storage.sql.tables import people, tree_heads

PROGRAM_KEYS, KEY_STORE, LOG_KEY = "program_keys", "key_store", "log_key"
SAMPLE = 8  # people whose data key must unwrap when a database without check values adopts the key files


@dataclass(frozen=True)
class KeyFiles:
    keys: Path
    store: Path
    log_key: Path

    def named(self, name: str) -> Path:
        return {PROGRAM_KEYS: self.keys, KEY_STORE: self.store, LOG_KEY: self.log_key}[name]


def check_values(keys: ProgramKeys, store: FileSecretStore, signer: LogSigner) -> dict[str, str]:
    return {PROGRAM_KEYS: keys.check_value(), KEY_STORE: store.check_value(), LOG_KEY: signer.key_id.hex()}


def record(db: Database, values: dict[str, str]) -> None:
    with db.uow() as uow:
        for name, value in values.items():
            uow.key_checks.put(name, value)
        uow.commit()


def stored(db: Database) -> tuple[dict[str, str], int, bool]:
    """(check values, number of people, whether signed heads exist)."""
    with db.engine.connect() as conn:
        values = SqlKeyChecks(conn).all()
        count = int(conn.execute(select(func.count()).select_from(people)).scalar_one())
        heads = conn.execute(select(tree_heads.c.id).limit(1)).first() is not None
    return values, count, heads


def refuse(files: KeyFiles, name: str, what: str, people_count: int) -> KeyCheckFailed:
    path = files.named(name)
    held = f"the database holds {people_count} people" if people_count else "the database holds data"
    fix = {
        PROGRAM_KEYS: f"restore {path} from the backup made with this database",
        KEY_STORE: f"restore {path} from the backup made with this database (a key store from another "
        "moment loses the people enrolled since)",
        LOG_KEY: f"restore {path} from your backup; to change the log key on purpose, put the old key back "
        "and run `carekey log rotate-key` (or pass the old key with --old-key)",
    }[name]
    return KeyCheckFailed(
        f"{path} {what}, and {held} under it. Nothing was changed. To fix: {fix}.", file=str(path), key=name
    )


def verify(db: Database, files: KeyFiles, keys: ProgramKeys, store: FileSecretStore, signer: LogSigner) -> None:
    """Compare every key file with its check value; adopt them (after proving them) when none is stored."""
    values, count, heads = stored(db)
    present = check_values(keys, store, signer)
    for name, value in present.items():
        if name in values and values[name] != value:
            raise refuse(
                files,
                name,
                "is not the key file this database was written with (its key-check value "
                "differs: replaced, corrupt or from another data folder)",
                count,
            )
    # every start: the newest people must open (a key store restored from an older backup has the right
    # identity but lacks their secrets; an isolated missing secret is an erasure, not a stale store)
    _prove_on_people(db, files, keys, store, count)
    missing = {n: v for n, v in present.items() if n not in values}
    if not missing:
        return
    if LOG_KEY in missing and heads:
        with db.uow() as uow:
            latest = uow.tree_heads.latest()
        if latest is not None and latest.key_id != signer.key_id:
            raise refuse(files, LOG_KEY, "did not sign this database's latest tree head", count)
    record(db, missing)


def _prove_on_people(db: Database, files: KeyFiles, keys: ProgramKeys, store: FileSecretStore, count: int) -> None:
    """A sample of the newest people must open with these keys: more than half of them, and not a single wrong
    tag (a wrong key-encryption key)."""
    if not count:
        return
    with db.engine.connect() as conn:
        rows = conn.execute(
            select(people.c.id, people.c.key_ref, people.c.wrapped_key)
            .order_by(people.c.enrolled_at.desc())
            .limit(SAMPLE)
        ).all()
    crypto, opened = PersonCrypto(keys, store), 0  # an isolated missing secret is an interrupted erasure
    for row in rows:
        try:
            crypto.data_key(row.id, SealedKey(row.key_ref, bytes(row.wrapped_key)))
            opened += 1
        except CarekeyError as exc:
            if exc.status == 500:  # a wrong key: authentication failed
                raise refuse(files, PROGRAM_KEYS, "does not open this database's records", count) from None
    if opened * 2 <= len(rows):
        raise refuse(
            files, KEY_STORE, "holds none of the keys of this database's newest people (an older copy?)", count
        )
