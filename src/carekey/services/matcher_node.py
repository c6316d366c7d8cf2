"""The matcher service's use cases (``carekey matcher serve``): admit a step only on a valid log receipt, then run
it on the engine this process alone holds the biometric secret of.

Admission (``admit``), in order, every refusal counted per reason (``/health`` reports the counts):
1. a receipt is present and well formed (``missing``, ``malformed``);
2. ``carekey.audit.receipt.verify_receipt``: signed by the registry's log key (configured in the matcher's folder,
   never read from the registry's database: ``unknown_key``, ``bad_signature``), the opened event is the promised
   leaf (``leaf_mismatch``), at most ``max_age_ms`` old (``stale``), a *granted* decision (``not_granted``) of the
   step's action (``wrong_action``) for the request's program and modality (``wrong_scope``);
3. not spent before for this step (``reused``): the ledger (``carekey.storage.receipts``) records it.
Only then does the engine see the image or the probe. Persons stay out of it: the node passes template ids,
program ids and scores.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from carekey.audit.receipt import Expectation, Receipt, ReceiptError, verify_receipt
from carekey.errors import Forbidden
from carekey.services.biometrics import BiometricMatcher
from carekey.services.matcher import STEPS, Enrolled, Found, identify_positions, renewal_scope
from carekey.storage.receipts import ReceiptLedger


class ReceiptRefused(Forbidden):
    """The matcher refused a request: its log receipt is missing, invalid, stale, out of scope or spent."""

    title = "Log receipt refused"


class MatcherNode:
    def __init__(
        self,
        engine: BiometricMatcher,
        trusted: Mapping[bytes, bytes],
        ledger: ReceiptLedger,
        max_age_ms: int,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        self.engine = engine
        self.trusted = dict(trusted)
        self.ledger = ledger
        self.max_age_ms = max_age_ms
        self._clock = clock_ms or (lambda: int(time.time() * 1000))
        self._lock = threading.Lock()
        self.refusals: Counter[str] = Counter()
        self.accepted: Counter[str] = Counter()
        self._verify_ms: deque[float] = deque(maxlen=1000)

    def admit(self, raw: object, step: str, program_id: str, modality: str) -> Receipt:
        """The receipt of this step, verified and spent; ``ReceiptRefused`` (counted) otherwise."""
        t0 = time.perf_counter()
        try:
            if raw is None:
                raise ReceiptError("missing", "the request carries no log receipt")
            receipt = Receipt.from_dict(raw)
            now = self._clock()
            verify_receipt(receipt, self.trusted, Expectation(STEPS[step], program_id, modality), self.max_age_ms, now)
            if not self.ledger.consume(receipt.entry_key, step, now, receipt.promise.to_dict()):
                raise ReceiptError("reused", f"this log receipt was already used for {step}")
        except ReceiptError as err:
            with self._lock:
                self.refusals[err.reason] += 1
            raise ReceiptRefused(f"log receipt refused ({err.reason}): {err.message}", reason=err.reason) from None
        with self._lock:
            self.accepted[step] += 1
            self._verify_ms.append((time.perf_counter() - t0) * 1000)
        return receipt

    def enroll(self, receipt: object, program_id: str, modality: str, image: bytes, with_probe: bool) -> Enrolled:
        self.admit(receipt, "enroll", program_id, modality)
        template = self.engine.extract(modality, image)
        probe = self.engine.probe(modality, image) if with_probe else None
        return Enrolled(template, probe, self.engine.key_version)

    def duplicate_search(self, receipt: object, program_id: str, modality: str, probe: bytes) -> Found:
        self.admit(receipt, "duplicate_search", program_id, modality)
        return self.engine.search(program_id, modality, probe, None, None)

    def identify(
        self,
        receipt: object,
        program_id: str,
        modality: str,
        images: Mapping[str, bytes],
        among: Collection[str] | None,
        top: int,
    ) -> dict[str, Found]:
        self.admit(receipt, "identify", program_id, modality)
        return identify_positions(self.engine, program_id, modality, images, among, top)

    def renew(self, receipt: object, program_id: str, images: Sequence[tuple[str, bytes]]) -> list[bytes]:
        """Enrollment forms, under this matcher's key version, of one person's kept images (a renewal)."""
        self.admit(receipt, "renew", program_id, renewal_scope(m for m, _ in images))
        return [self.engine.extract(modality, image) for modality, image in images]

    def health(self) -> dict[str, Any]:
        """Counts only (no template, no person): for ``GET /health``."""
        gallery = getattr(self.engine, "gallery", None)
        shard_stats = getattr(self.engine, "shard_stats", None)  # a gallery sharded over Ray actors
        per_shard = [int(s["templates"]) for s in shard_stats()] if shard_stats is not None else None
        with self._lock:
            verify = list(self._verify_ms)
            refusals, accepted = dict(self.refusals), dict(self.accepted)
        return {
            "status": "ok",
            "key_version": self.engine.key_version,
            "templates": len(gallery) if gallery is not None else None,
            "gallery_built": bool(getattr(gallery, "built", False)),
            "shards": getattr(self.engine, "shards", 1),
            "shard_templates": per_shard,  # templates loaded per shard (Ray), None in one process
            "receipts": {
                "accepted": accepted,
                "refused": refusals,
                "refused_total": sum(refusals.values()),
                "verify_ms_median": round(statistics.median(verify), 3) if verify else None,
                "spent": self.ledger.count(),
            },
        }
