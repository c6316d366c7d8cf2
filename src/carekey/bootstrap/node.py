"""Composition of a site node (``carekey node init`` / ``sync``, issue 19, docs/sync.md): its configuration and
sealed signing key, its registration with the central registry, its signed link and sync runner. The data folder
itself is a carekey data folder made by ``carekey.bootstrap``."""

from __future__ import annotations

import json
import os

from carekey.bootstrap import App, build, initialize
from carekey.config import Settings
from carekey.errors import Conflict, KeyCheckFailed

NODE_CONFIG = "node.json"  # node id, site, central URL, the central log key pinned at init (public values)
NODE_KEY = "node.key"  # the node's Ed25519 signing key, sealed under the passphrase (argon2id + AES-256-GCM)


def _node_transport(settings: Settings, url: str):
    from carekey.services.sync_link import HttpTransport

    return HttpTransport(url, settings.node_sync_timeout_seconds)


def initialize_node(settings: Settings, central_url: str, site_id: str, passphrase: str, transport=None) -> dict:
    """Make ``settings.data_dir`` a site node: a carekey data folder (``initialize``), the node's signing key
    sealed under ``passphrase``, and its registration with the central registry (the node's public keys, its
    site, the hash of a one-time code it shows). Returns the node id and the code for the approving admin."""
    from carekey.crypto.nodekeys import Argon2Params, NodeKey, one_time_code
    from carekey.domain.ids import new_id
    from carekey.services.sync_central import code_hash, registration_bytes
    from carekey.services.sync_link import HEADER_SIGNATURE, CentralLink
    from carekey.services.sync_node import NodeSync

    config_path = settings.data_dir / NODE_CONFIG
    if config_path.exists():
        raise Conflict(f"{settings.data_dir} is already a site node ({config_path})")
    initialize(settings, if_missing=True)
    key = NodeKey.generate()
    node_id = new_id("N")[:26]
    key_path = settings.data_dir / NODE_KEY
    key_path.unlink(missing_ok=True)  # a key of an init that never registered
    key.seal(key_path, passphrase, Argon2Params(settings.argon2_time_cost, settings.argon2_memory_kib))
    app = build(settings)
    try:
        assert app.services.deps.signer is not None
        code = one_time_code()
        body = {
            "node_id": node_id,
            "site_id": site_id,
            "public_key": key.public_key.hex(),
            "log_public_key": app.services.deps.signer.public_key.hex(),
            "code_hash": code_hash(code, node_id),
        }
        sig = key.sign(
            registration_bytes(node_id, site_id, body["public_key"], body["log_public_key"], body["code_hash"])
        )
        link = CentralLink(transport or _node_transport(settings, central_url), node_id, key, None)
        reply = link.transport.send(
            "POST",
            "/sync/register",
            json.dumps(body).encode(),
            {HEADER_SIGNATURE: sig.hex(), "Content-Type": "application/json"},
        )
        answer = link.check("/sync/register", reply)
        config = {
            "node_id": node_id,
            "site_id": site_id,
            "central_url": central_url,
            "central_log_key": str(answer["central_log_key"]),
        }
        config_path.write_text(json.dumps(config, indent=1) + "\n")
        NodeSync(app.services.deps, node_id).start(settings.node_lease_days)
    finally:
        app.close()
    return {"node_id": node_id, "site_id": site_id, "code": code, "status": "pending"}


def node_config(settings: Settings) -> dict:
    path = settings.data_dir / NODE_CONFIG
    if not path.exists():
        raise KeyCheckFailed(f"{settings.data_dir} is not a site node (no {NODE_CONFIG}); run carekey node init")
    return json.loads(path.read_text())


def node_link(settings: Settings, passphrase: str, transport=None):
    """The node's signed channel to its central registry (the key unsealed with ``passphrase``)."""
    from carekey.crypto.nodekeys import NodeKey
    from carekey.services.sync_link import CentralLink

    config = node_config(settings)
    key = NodeKey.unseal(settings.data_dir / NODE_KEY, passphrase)
    url = str(config["central_url"])
    return CentralLink(
        transport or _node_transport(settings, url),
        str(config["node_id"]),
        key,
        bytes.fromhex(config["central_log_key"]),
    )


def node_runner(app: App, passphrase: str | None = None):
    """The served node's sync runner (*Sync now*, the periodic attempt): None when the data folder is not a site
    node, or when no passphrase unlocks its key (given, or ``CAREKEY_NODE_PASSPHRASE``, which ``carekey serve``
    asks for at start-up on a node)."""
    from carekey.services.sync_node import SyncRunner

    if not (app.settings.data_dir / NODE_CONFIG).exists():
        return None
    secret = passphrase or os.environ.get("CAREKEY_NODE_PASSPHRASE")
    if not secret:
        return None
    return SyncRunner(app.services.deps, node_link(app.settings, secret), app.settings.node_lease_days)


def sync_node(app: App, link) -> object:
    """``carekey node sync`` on an opened node folder."""
    from carekey.services.sync_node import NodeSync

    return NodeSync(app.services.deps, link.node_id).sync(link, app.settings.node_lease_days)
