"""Composition of the matcher service (``carekey matcher init`` / ``serve`` / ``rotate-key``, issue 15): its
folder (key file, the registry's log keys, the channel credential, configuration, receipt ledger) and the engine it
serves, in one process or over Ray shards. The registry's side is ``carekey.bootstrap``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from carekey.audit.sth import key_id
from carekey.biometrics.feed import TemplateFeed
from carekey.bootstrap import open_checked, restrict_new_files
from carekey.config import Settings
from carekey.crypto.channel import create_credential, load_credential
from carekey.crypto.keys import (
    MatcherKeys,
    create_matcher_key_file,
    load_matcher_key_file,
    replace_key_file,
    rotate_matcher_key_file,
)
from carekey.errors import Conflict, KeyCheckFailed
from carekey.services.biometrics import BiometricMatcher
from carekey.services.matcher_node import MatcherNode
from carekey.storage.database import Database
from carekey.storage.receipts import ReceiptLedger
from carekey.storage.sql import feed as sql_feed

MATCHER_KEYS = "matcher.keys"  # the biometric secret and its version (0600); only the matcher reads it
MATCHER_LOG_KEYS = "registry-log.pub"  # the registry's log public key(s), hex, one a line: receipts must verify
MATCHER_CREDENTIAL = "matcher.credential"  # the channel's shared secret (0600), also in the registry's folder
MATCHER_CONFIG = "matcher.json"  # database URL (the template feed), receipt freshness, NFIQ 2 floor
MATCHER_LEDGER = "receipts.db"  # spent receipts and their promises


@dataclass
class MatcherApp:
    node: MatcherNode
    database: Database
    credential: bytes
    config: dict[str, object]

    def close(self) -> None:
        self.node.ledger.close()
        self.database.dispose()


def initialize_matcher(settings: Settings, matcher_dir: Path, url: str, max_receipt_age_seconds: int = 60) -> dict:
    """Move the registry's biometric secret into a new matcher folder: the matcher key file (0600), the registry's
    log public key, a shared channel credential (one copy in each folder) and the matcher's configuration; then
    rewrite the registry's key file without the secret (last: a crash before leaves the registry as it was)."""
    restrict_new_files()
    keys, _store, db, signer = open_checked(settings)
    db.dispose()
    if keys.biometric_remote or keys.biometric_secret is None:
        raise Conflict(f"the biometric secret of {settings.resolved_key_file()} was already moved to a matcher")
    if (matcher_dir / MATCHER_KEYS).exists():
        raise Conflict(f"{matcher_dir} already holds a matcher key file")
    matcher_dir.mkdir(parents=True, exist_ok=True)
    matcher_dir.chmod(0o700)
    create_matcher_key_file(matcher_dir / MATCHER_KEYS, MatcherKeys(keys.biometric_secret, keys.biometric_version))
    (matcher_dir / MATCHER_LOG_KEYS).write_text(signer.public_key.hex() + "\n")
    config = {
        "database_url": settings.resolved_database_url(),
        "max_receipt_age_seconds": max_receipt_age_seconds,
        "fingerprint_min_nfiq2": settings.fingerprint_min_nfiq2,
    }
    (matcher_dir / MATCHER_CONFIG).write_text(json.dumps(config, indent=1))
    create_credential(matcher_dir / MATCHER_CREDENTIAL, settings.resolved_matcher_credential_file())
    (settings.data_dir / "matcher.url").write_text(url + "\n")
    replace_key_file(settings.resolved_key_file(), keys.without_biometric_secret())
    return {"matcher_dir": str(matcher_dir), "url": url, "biometric_key_version": keys.biometric_version}


def open_template_feed(database_url: str) -> TemplateFeed:
    """The database's template feed (a Ray shard opens its own: ``storage.sql.feed.open_template_feed`` is sent)."""
    return sql_feed.open_template_feed(database_url)


def build_matcher(
    matcher_dir: Path,
    database_url: str | None = None,
    max_receipt_age_seconds: int | None = None,
    ray_address: str | None = None,
    shards: int = 1,
):
    """Open a matcher folder: its key file, the registry's log key(s), the database's template feed, the ledger.
    With ``ray_address`` (``auto``, ``local`` or a cluster address) the gallery is split over ``shards`` Ray actors
    (``biometrics.protection.ray_shards``)."""
    from carekey.biometrics.protection.matcher import ProtectedMatcher  # heavy (numba, OpenCV): load lazily

    restrict_new_files()
    keys = load_matcher_key_file(matcher_dir / MATCHER_KEYS)
    config_path = matcher_dir / MATCHER_CONFIG
    if not config_path.exists():
        raise KeyCheckFailed(f"{matcher_dir} is not a matcher folder (no {MATCHER_CONFIG}); run carekey matcher init")
    config = json.loads(config_path.read_text())
    public_keys = [bytes.fromhex(line) for line in (matcher_dir / MATCHER_LOG_KEYS).read_text().split()]
    if not public_keys:
        raise KeyCheckFailed(f"{matcher_dir / MATCHER_LOG_KEYS} names no log public key: receipts could not verify")
    credential = load_credential(matcher_dir / MATCHER_CREDENTIAL)
    url = database_url or str(config["database_url"])
    nfiq = int(config["fingerprint_min_nfiq2"])
    db = Database(url)
    engine: BiometricMatcher
    if ray_address is not None:
        from carekey.biometrics.protection.ray_shards import RayMatcher  # the `ray` extra

        engine = RayMatcher(
            keys.biometric_secret,
            keys.biometric_version,
            nfiq,
            partial(sql_feed.open_template_feed, url),
            shards,
            ray_address,
        )
    else:
        engine = ProtectedMatcher(keys.biometric_secret, keys.biometric_version, nfiq)
        engine.follow(db.template_feed())
    age = max_receipt_age_seconds if max_receipt_age_seconds is not None else int(config["max_receipt_age_seconds"])
    ledger = ReceiptLedger(matcher_dir / MATCHER_LEDGER)
    node = MatcherNode(engine, {key_id(k): k for k in public_keys}, ledger, age * 1000)
    return MatcherApp(node, db, credential, config)


def rotate_matcher_key(matcher_dir: Path) -> int:
    """``carekey matcher rotate-key``: a fresh biometric secret under the next version in the matcher's key file
    (run it as the matcher's OS user); the matcher serves it after a restart, and the registry follows with
    ``carekey keys rotate-biometric`` (``rotate_biometric_key``)."""
    restrict_new_files()
    return rotate_matcher_key_file(matcher_dir / MATCHER_KEYS).biometric_version
