"""The matcher's in-memory 1:N indexes, kept in step with the galleries the services pass in.

The services hand every search the stored (template id, protected bytes) pairs of the program. Loading
and validating each of them again per search (CRC, key id, range check) costs more than the search, so
the matcher keeps one index per modality: a template is loaded once, when its id first appears. An id
already indexed is trusted only if the stored bytes still end with the same CRC-32 (templates are never
updated in place; a changed one is reloaded). Each search is restricted to the ids it was given, so a
deleted template is never returned; an id absent from the last EVICT_AFTER searches of its modality
(revoked consent, retired key, another position's gallery) is dropped from memory. A stored template that
does not load (corrupt, an older format, another secret) is skipped and counted in ``rejected``: one bad row
must not make every search of the modality fail; the person is found again once re-enrolled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

import numpy as np

from carekey.biometrics.protection.fingerprint_index import ProtectedFingerprintIndex
from carekey.biometrics.protection.gallery import Candidate
from carekey.biometrics.protection.iris_index import ProtectedIrisIndex
from carekey.errors import TemplateError

log = logging.getLogger(__name__)

EVICT_AFTER = 8  # searches of a modality an unseen id survives (a gallery per probed position)
Index = ProtectedIrisIndex | ProtectedFingerprintIndex


class GalleryCache:
    """One index per modality; ``load(modality, data)`` returns validated codes (raises TemplateError)."""

    def __init__(self, secret: bytes, load: Callable[[str, bytes], np.ndarray]) -> None:
        self._secret = secret
        self._load = load
        self._lock = threading.Lock()  # searches may come from a thread pool (API workers)
        self._indexes: dict[str, Index] = {}
        self._crc: dict[str, dict[str, bytes]] = {}
        self._seen: dict[str, dict[str, int]] = {}
        self._searches: dict[str, int] = {}
        self.rejected: dict[str, str] = {}  # template id -> why it was skipped (ids only, no personal data)

    def search(self, modality: str, probe: np.ndarray, gallery: Sequence[tuple[str, bytes]]) -> list[Candidate]:
        """Every candidate the index scored in full, best first, among the gallery's ids only."""
        with self._lock:
            index = self._sync(modality, gallery)
            usable = [ref for ref, _ in gallery if ref in index]
            if not usable:
                return []
            among = None if len(index) == len(usable) else index.slots(usable)
            found = index.search(probe, top=len(gallery), among=among)
            self._evict(modality)
            return found

    def __len__(self) -> int:
        return sum(len(i) for i in self._indexes.values())

    def _sync(self, modality: str, gallery: Sequence[tuple[str, bytes]]) -> Index:
        if modality not in self._indexes:
            self._indexes[modality] = (ProtectedIrisIndex() if modality == "iris"
                                       else ProtectedFingerprintIndex(self._secret))
            self._crc[modality], self._seen[modality], self._searches[modality] = {}, {}, 0
        index, crc, seen = self._indexes[modality], self._crc[modality], self._seen[modality]
        if len({ref for ref, _ in gallery}) != len(gallery):
            raise ValueError("gallery references must be unique")
        count = self._searches[modality] = self._searches[modality] + 1
        fresh = []
        for ref, data in gallery:
            seen[ref] = count
            if crc.get(ref) != data[-4:]:
                fresh.append((ref, data))
        loaded = []
        for ref, data in fresh:
            try:
                loaded.append((ref, data[-4:], self._load(modality, data)))
            except TemplateError as err:
                if ref in index:
                    index.remove(ref)
                crc.pop(ref, None)
                if ref not in self.rejected:
                    log.warning("stored %s template %s skipped: %s", modality, ref, err.message)
                self.rejected[ref] = err.message
        for ref, tail, _ in loaded:
            if ref in index:
                index.remove(ref)
            crc[ref] = tail
        if loaded and isinstance(index, ProtectedIrisIndex):
            index.add([ref for ref, _, _ in loaded], np.concatenate([codes for _, _, codes in loaded]))
        elif loaded:
            index.add_many([ref for ref, _, _ in loaded], [codes for _, _, codes in loaded])
        return index

    def _evict(self, modality: str) -> None:
        count, seen = self._searches[modality], self._seen[modality]
        if count % EVICT_AFTER:
            return
        for ref in [r for r, last in seen.items() if count - last >= EVICT_AFTER]:
            del seen[ref]
            if ref in self._crc[modality]:
                del self._crc[modality][ref]
                self._indexes[modality].remove(ref)
