"""``RemoteMatcher``: the ``MatcherPort`` of a matcher service (``carekey matcher serve``) over HTTP.

The registry process holds no biometric secret in this set-up: it sends the image (or the protected probe of a
duplicate check) with the step's log receipt, over loopback TCP, a Unix socket (``unix:/path``) or HTTPS, every
request signed with the shared channel credential (``carekey.crypto.channel``, why HMAC there). It gets back
protected templates and (template id, score) pairs. A matcher that cannot be reached, fails, or refuses
raises ``MatcherUnavailable`` (503): the service has written nothing of the step yet, and lookups by name or card
never call the matcher. A renewal after a key rotation sends one person's kept images (decrypted here) with the
receipt of its ``renew_biometric`` entry and gets their new templates back. Deletions need no request (the
matcher follows the database's template feed).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import httpx

from carekey.audit.receipt import Receipt
from carekey.biometrics.feed import Progress, TemplateFeed
from carekey.crypto import channel
from carekey.errors import CaptureRejected, InvalidInput, MatcherUnavailable, TemplateError
from carekey.services.matcher import Enrolled, Found

log = logging.getLogger(__name__)
ERRORS: dict[str, type[InvalidInput | TemplateError]] = {
    "capture-rejected": CaptureRejected,
    "invalid-input": InvalidInput,
    "template": TemplateError,
}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _found(rows: object) -> Found:
    if not isinstance(rows, list):
        raise MatcherUnavailable("the matcher answered an unexpected document")
    return [(str(ref), float(score)) for ref, score in rows]


class RemoteMatcher:
    is_port = True  # used as the service's MatcherPort as is (``services.matcher.as_port``)

    def __init__(self, url: str, credential: bytes, key_version: int, timeout_s: float = 30.0) -> None:
        self.url = url
        self.key_version = key_version
        self._secret = credential
        if url.startswith("unix:"):
            transport = httpx.HTTPTransport(uds=url.removeprefix("unix:"))
            self._client = httpx.Client(transport=transport, base_url="http://matcher", timeout=timeout_s)
        else:
            self._client = httpx.Client(base_url=url.rstrip("/"), timeout=httpx.Timeout(timeout_s, connect=3.0))

    def close(self) -> None:
        self._client.close()

    def _post(self, path: str, doc: dict[str, Any]) -> Any:
        body = json.dumps(doc).encode()
        headers = {"Authorization": channel.sign(self._secret, "POST", path, body), "Content-Type": "application/json"}
        try:
            r = self._client.post(path, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise MatcherUnavailable(
                f"the biometric matcher at {self.url} cannot be reached ({type(exc).__name__}); nothing was stored, "
                "retry later (lookup by name or card still works)"
            ) from None
        if r.status_code == 200:
            return r.json()
        try:
            problem = r.json()
        except ValueError:
            problem = {}
        kind = str(problem.get("type", "")).rsplit(":", 1)[-1]
        detail = str(problem.get("detail", r.text[:200]))
        if r.status_code == 422 and kind in ERRORS:
            raise ERRORS[kind](detail, **({"field": problem["field"]} if "field" in problem else {}))
        raise MatcherUnavailable(f"the biometric matcher refused the request ({r.status_code}: {detail})")

    def enroll(
        self, receipt: Receipt | None, program_id: str, modality: str, image: bytes, with_probe: bool
    ) -> Enrolled:
        doc = self._post(
            "/v1/enroll",
            {
                "receipt": receipt.to_dict() if receipt else None,
                "program_id": program_id,
                "modality": modality,
                "image": _b64(image),
                "with_probe": with_probe,
            },
        )
        version = int(doc["key_version"])
        if version != self.key_version:
            raise MatcherUnavailable(
                f"the matcher protects under biometric key version {version}, this registry expects "
                f"{self.key_version}: nothing was stored"
            )
        probe = doc.get("probe")
        return Enrolled(base64.b64decode(doc["template"]), base64.b64decode(probe) if probe else None, version)

    def duplicate_search(self, receipt: Receipt | None, program_id: str, modality: str, probe: bytes) -> Found:
        doc = self._post(
            "/v1/duplicate-search",
            {
                "receipt": receipt.to_dict() if receipt else None,
                "program_id": program_id,
                "modality": modality,
                "probe": _b64(probe),
            },
        )
        return _found(doc["found"])

    def identify(
        self,
        receipt: Receipt | None,
        program_id: str,
        modality: str,
        images: Mapping[str, bytes],
        among: Collection[str] | None,
        top: int,
    ) -> dict[str, Found]:
        doc = self._post(
            "/v1/identify",
            {
                "receipt": receipt.to_dict() if receipt else None,
                "program_id": program_id,
                "modality": modality,
                "images": {pos: _b64(img) for pos, img in images.items()},
                "among": list(among) if among is not None else None,
                "top": top,
            },
        )
        return {str(pos): _found(rows) for pos, rows in doc["found"].items()}

    def renew(self, receipt: Receipt | None, program_id: str, images: Sequence[tuple[str, bytes]]) -> list[bytes]:
        doc = self._post(
            "/v1/renew",
            {
                "receipt": receipt.to_dict() if receipt else None,
                "program_id": program_id,
                "images": [{"modality": m, "image": _b64(img)} for m, img in images],
            },
        )
        version = int(doc["key_version"])
        if version != self.key_version:
            raise MatcherUnavailable(
                f"the matcher protects under biometric key version {version}, this registry expects "
                f"{self.key_version}: nothing was stored (run `carekey keys rotate-biometric` on the registry "
                "after rotating the matcher's key)"
            )
        templates = doc.get("templates")
        if not isinstance(templates, list) or len(templates) != len(images):
            raise MatcherUnavailable("the matcher answered an unexpected document")
        return [base64.b64decode(t) for t in templates]

    def threshold(self, modality: str) -> float:
        from carekey.biometrics.protection import parameters as P  # constants only, no secret

        return P.FP_THRESHOLD if modality == "fingerprint" else P.IRIS_THRESHOLD

    def calibrated(self, modality: str, score: float) -> float:
        from carekey.biometrics.protection import calibration

        return calibration.calibrated(modality, score)

    def follow(self, feed: TemplateFeed) -> None:
        """Nothing to do: the matcher service follows the database's template feed itself."""

    def health(self) -> dict[str, Any]:
        try:
            r = self._client.get("/health")
            r.raise_for_status()
            return dict(r.json())
        except (httpx.HTTPError, ValueError) as exc:
            raise MatcherUnavailable(f"the biometric matcher at {self.url} does not answer ({exc})") from None

    def build(self, progress: Progress | None = None) -> int:
        """Start-up: the registry starts even with the matcher down (name and card lookups work); it logs why."""
        try:
            found = self.health()
        except MatcherUnavailable as err:
            log.warning("%s; biometric capture and identification answer 503 until it is up", err.message)
            return 0
        if found.get("key_version") != self.key_version:
            log.error(
                "the matcher protects under biometric key version %s, this registry expects %s",
                found.get("key_version"),
                self.key_version,
            )
        return int(found.get("templates") or 0)

    # the engine's own methods are not offered across the boundary: every step goes through a receipted request
    def extract(self, modality: str, image: bytes) -> bytes:
        raise MatcherUnavailable("extraction goes through enroll / renew requests with a log receipt")

    probe = extract

    def search(self, *args: object, **kwargs: object) -> Found:
        raise MatcherUnavailable("searches go through identify / duplicate checks with a log receipt")
