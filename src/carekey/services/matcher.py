"""The port the biometric service talks to: one call per step of a use case, each carrying its log receipt.

``BiometricService`` never calls the biometric engine directly; it calls a ``MatcherPort``:

- ``EmbeddedMatcher`` (the default: ``make run``, most tests): the engine (``BiometricMatcher``, e.g.
  ``ProtectedMatcher``) in this process. The receipts are built and passed but not checked: the process that
  holds the log key would be checking itself.
- ``carekey.services.matcher_remote.RemoteMatcher``: ``carekey matcher serve``, another process that alone holds
  the biometric secret and refuses any step whose receipt is not a fresh, log-signed, unused grant of exactly
  that action, program and modality (``carekey.services.matcher_node``).

The steps, and the log entry each one spends (a receipt serves each step of its entry once):

- ``enroll`` (spends the ``enroll_biometric`` entry's "enroll" step): extract and protect the image; returns
  the enrollment form, and the probe form for the duplicate check;
- ``duplicate_search`` (the same entry's "duplicate_search" step): search the program's gallery with that probe,
  under the program's enrollment lock;
- ``identify`` (an ``identify_biometric`` entry): extract one probe per position and search the program's gallery;
- ``renew`` (a ``renew_biometric`` entry of the renewal job): extract, under the current key version, the
  enrollment forms of one person's kept images (decrypted by the registry, sent once, never stored by the
  matcher) after a key rotation. The entry's scope names every modality of the request (``renewal_scope``).

Deleting a template is not a matcher request: the registry deletes the row (a logged access of its own) and the
matcher's gallery drops it from the template change feed before its next search.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from carekey.audit.receipt import Receipt
from carekey.biometrics.feed import Progress, TemplateFeed

if TYPE_CHECKING:
    from carekey.services.biometrics import BiometricMatcher

Found = list[tuple[str, float]]  # (template id, score), best first
STEPS = {
    "enroll": "enroll_biometric",
    "duplicate_search": "enroll_biometric",
    "identify": "identify_biometric",
    "renew": "renew_biometric",
}


def renewal_scope(modalities: Iterable[str]) -> str:
    """The modality part of a renewal's receipt scope: every modality of the person's kept images, sorted."""
    return "+".join(sorted(set(modalities)))


@dataclass(frozen=True)
class Enrolled:
    template: bytes  # the protected enrollment form, stored by the registry
    probe: bytes | None  # the protected search form, for the duplicate check (when asked)
    key_version: int


class MatcherPort(Protocol):
    @property
    def key_version(self) -> int: ...

    def enroll(
        self, receipt: Receipt | None, program_id: str, modality: str, image: bytes, with_probe: bool
    ) -> Enrolled: ...

    def duplicate_search(self, receipt: Receipt | None, program_id: str, modality: str, probe: bytes) -> Found: ...

    def identify(
        self,
        receipt: Receipt | None,
        program_id: str,
        modality: str,
        images: Mapping[str, bytes],
        among: Collection[str] | None,
        top: int,
    ) -> dict[str, Found]: ...

    def renew(self, receipt: Receipt | None, program_id: str, images: Sequence[tuple[str, bytes]]) -> list[bytes]: ...

    def threshold(self, modality: str) -> float: ...

    def calibrated(self, modality: str, score: float) -> float: ...

    def follow(self, feed: TemplateFeed) -> None: ...

    def build(self, progress: Progress | None = None) -> int: ...


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
# probes extracted at once, across concurrent identifications too (extraction is CPU-bound: one a core, two at least
# for the two fingers / eyes of one identification)
EXTRACTORS = max(2, os.cpu_count() or 2)


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(EXTRACTORS, thread_name_prefix="probe-extraction")
        return _POOL


def identify_positions(
    engine: Any, program_id: str, modality: str, images: Mapping[str, bytes], among: Collection[str] | None, top: int
) -> dict[str, Found]:
    """One probe per position, extracted in parallel threads (the extractors spend their time in native code that
    releases the GIL: NBIS, OpenCV, numpy), then every position searched: at once through the engine's
    ``search_positions`` when it has one (its index scores the positions in parallel), else one by one. The
    first capture that fails (in the order of ``images``) raises, as a sequential extraction would."""
    items = list(images.items())
    if len(items) > 1:
        futures = [_pool().submit(engine.probe, modality, img) for _, img in items]
        probes = {pos: f.result() for (pos, _), f in zip(items, futures, strict=True)}
    else:
        probes = {pos: engine.probe(modality, img) for pos, img in items}
    named = {pos[:40]: probe for pos, probe in probes.items()}
    several = getattr(engine, "search_positions", None)
    if several is not None and len(named) == len(probes) > 1 and "" not in named:
        found = several(program_id, modality, named, among)
        return {pos: found[pos[:40]][:top] for pos in probes}
    return {
        pos: engine.search(program_id, modality, probe, pos[:40] or None, among)[:top] for pos, probe in probes.items()
    }


class EmbeddedMatcher:
    """The engine in this process (receipts ignored: see the module docstring)."""

    def __init__(self, engine: BiometricMatcher) -> None:
        self.engine = engine

    @property
    def key_version(self) -> int:
        return self.engine.key_version

    def enroll(
        self, receipt: Receipt | None, program_id: str, modality: str, image: bytes, with_probe: bool
    ) -> Enrolled:
        template = self.engine.extract(modality, image)
        probe = self.engine.probe(modality, image) if with_probe else None
        return Enrolled(template, probe, self.engine.key_version)

    def duplicate_search(self, receipt: Receipt | None, program_id: str, modality: str, probe: bytes) -> Found:
        return self.engine.search(program_id, modality, probe, None, None)

    def identify(
        self,
        receipt: Receipt | None,
        program_id: str,
        modality: str,
        images: Mapping[str, bytes],
        among: Collection[str] | None,
        top: int,
    ) -> dict[str, Found]:
        return identify_positions(self.engine, program_id, modality, images, among, top)

    def renew(self, receipt: Receipt | None, program_id: str, images: Sequence[tuple[str, bytes]]) -> list[bytes]:
        return [self.engine.extract(modality, image) for modality, image in images]

    def threshold(self, modality: str) -> float:
        return self.engine.threshold(modality)

    def calibrated(self, modality: str, score: float) -> float:
        shown = getattr(self.engine, "calibrated", None)
        return shown(modality, score) if shown else min(100.0, 100.0 * score)

    def follow(self, feed: TemplateFeed) -> None:
        self.engine.follow(feed)

    def build(self, progress: Progress | None = None) -> int:
        return self.engine.build(progress)


def as_port(matcher: object) -> MatcherPort:
    """A remote matcher is a port already; an engine is run embedded."""
    if getattr(matcher, "is_port", False):
        return matcher  # type: ignore[return-value]
    return EmbeddedMatcher(matcher)  # type: ignore[arg-type]
