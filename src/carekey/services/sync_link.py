"""The node's signed channel to the central registry (docs/sync.md section 1): every request signed with the
node's Ed25519 key over (method, path, SHA-256 of the body, timestamp, nonce); every answer checked against the
central log key pinned at ``carekey node init``. Over HTTPS in the field; the tests use loopback HTTP."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from carekey.crypto import nodekeys
from carekey.crypto.nodekeys import NodeKey
from carekey.domain.sync import response_string, signing_string
from carekey.errors import Conflict, Forbidden, IntegrityError, InvalidInput, NotAuthenticated, UpstreamFailed

HEADER_NODE = "X-Carekey-Node"
HEADER_TIME = "X-Carekey-Timestamp"
HEADER_NONCE = "X-Carekey-Nonce"
HEADER_SIGNATURE = "X-Carekey-Signature"

_ERRORS: dict[int, type[Exception]] = {400: InvalidInput, 401: NotAuthenticated, 403: Forbidden, 409: Conflict}


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    signature: str | None


class Transport(Protocol):
    def send(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Reply: ...


class HttpTransport:
    """httpx to ``base_url``; a connection failure raises ``UpstreamFailed`` (the sync is retried later)."""

    def __init__(self, base_url: str, timeout_s: float = 30.0, client: httpx.Client | None = None) -> None:
        self._client = client or httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s)

    def send(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Reply:
        try:
            r = self._client.request(method, path, content=body or None, headers=headers)
        except httpx.HTTPError as exc:
            raise UpstreamFailed(
                f"the central registry cannot be reached ({type(exc).__name__}); sync again later"
            ) from None
        return Reply(r.status_code, r.content, r.headers.get(HEADER_SIGNATURE))

    def close(self) -> None:
        self._client.close()


class CentralLink:
    def __init__(self, transport: Transport, node_id: str, key: NodeKey, central_log_key: bytes | None) -> None:
        self.transport = transport
        self.node_id = node_id
        self.key = key
        self.central_log_key = central_log_key

    def call(self, method: str, path: str, body: bytes = b"", now_ms: int | None = None) -> dict[str, Any]:
        """One signed request; the answer's signature checked; an error answer raised as the matching error."""
        ts = now_ms if now_ms is not None else int(time.time() * 1000)
        nonce = nodekeys.new_nonce()
        headers = {
            HEADER_NODE: self.node_id,
            HEADER_TIME: str(ts),
            HEADER_NONCE: nonce,
            HEADER_SIGNATURE: self.key.sign(signing_string(method, path.split("?")[0], body, ts, nonce)).hex(),
            "Content-Type": "application/json",
        }
        reply = self.transport.send(method, path, body, headers)
        return self.check(path, reply)

    def check(self, path: str, reply: Reply) -> dict[str, Any]:
        if reply.status >= 400:
            try:
                detail = str(json.loads(reply.body).get("detail", ""))
            except (ValueError, AttributeError):
                detail = reply.body[:200].decode(errors="replace")
            raise _ERRORS.get(reply.status, UpstreamFailed)(f"central registry: {detail or reply.status}")
        if self.central_log_key is not None:
            sig = bytes.fromhex(reply.signature or "")
            if not nodekeys.verify(self.central_log_key, sig, response_string(path.split("?")[0], reply.body)):
                raise IntegrityError("the central registry's answer is not signed by its pinned log key")
        data = json.loads(reply.body)
        if not isinstance(data, dict):
            raise UpstreamFailed("the central registry answered an unexpected document")
        return data
