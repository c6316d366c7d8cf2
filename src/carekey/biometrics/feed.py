"""The template change feed the matcher's in-memory gallery follows (the port the storage implements).

The gallery of a program is the set of its stored protected templates of the current key version. The matcher
loads it once (``snapshot``), then, before each search, applies the feed rows written since (``changes``): every
template added, retired, revoked, erased or renewed appends a row with a monotonically increasing ``seq``, in
commit order, in the same transaction as the change; so several server processes and a CLI job next to them all
see one another's changes. A change carries the template's state *now*: ``template`` None means it is no longer
stored (whatever the row said), so applying a change twice, or a change older than the snapshot, is harmless.

Biometrics knows nothing of persons: a change names a template id, a program and a position, never a person.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple, Protocol

import numpy as np

from carekey.errors import TemplateError

log = logging.getLogger(__name__)
Progress = Callable[[Iterable[Any], str, int], Iterable[Any]]  # (items, label, total) -> items, e.g. a progress bar


class TemplateChange(NamedTuple):  # a named tuple, not a dataclass: start-up makes one per stored template
    seq: int  # feed position (0 in a snapshot)
    template_id: str
    modality: str
    program_id: str | None = None  # None with ``template`` None
    position: str = ""
    key_version: int = 0
    template: bytes | None = None  # the stored protected bytes; None: not stored (any more)


class TemplateFeed(Protocol):
    def head(self) -> int:
        """The highest ``seq`` committed so far (0: none)."""
        ...

    def snapshot(self, key_version: int, after: str, limit: int) -> list[TemplateChange]:
        """Stored templates of ``key_version``, every modality and program, by template id above ``after``."""
        ...

    def count(self, key_version: int) -> int:
        """How many templates ``snapshot`` will return in all (for a progress bar)."""
        ...

    def changes(self, since: int, limit: int) -> list[TemplateChange]:
        """Feed rows with ``seq`` above ``since``, oldest first, each with the template's current state."""
        ...


class ShardIndex(Protocol):
    """One 1:N index of a (program, modality, position) shard, keyed by template id."""

    @property
    def nbytes(self) -> int: ...  # memory of the indexed rows

    def __len__(self) -> int: ...
    def __contains__(self, key: object) -> bool: ...
    def add_many(self, keys: Sequence[str], codes: Sequence[Any]) -> None: ...
    def remove(self, key: str) -> None: ...
    def search(self, probe: Any, top: int, among: Sequence[str] | None) -> list[tuple[str, float]]: ...


Shard = tuple[str, str, str]  # (program id, modality, position)
LoadMany = Callable[[str, list[bytes]], tuple[Any, Any]]  # (codes of the valid, their positions in the page)
PAGE = 2000  # feed rows per catch-up read, and the first snapshot page
PAGE_BYTES = 8 << 20  # later snapshot pages: about this many bytes of stored templates (iris: ~4,000 eyes; a
# fingerprint page stays at PAGE rows, 49 MB); 64 MiB pages cost more memory (RSS 663 against 402-424 MB at 100,000
# eyes) for no less CPU (bench/results/service/README.md)
PAGE_MAX = 50_000
TICK = 1000  # the start-up progress bar counts thousands of templates


class FollowedGallery:
    """The matcher's gallery: per program, modality and position a 1:N index of the current key version's
    templates, loaded once from the feed's ``snapshot`` and caught up on its ``changes`` before every search.

    ``load(modality, bytes)`` validates a stored template into the codes its index holds (raising
    ``TemplateError``: the template is skipped, logged once and counted in ``rejected``, so one bad row cannot make
    every search fail); ``load_many(modality, [bytes])``, if given, does the same for a page at once (codes of the
    valid ones and their positions; the others go through ``load`` for their reason); ``new_index(modality)`` makes
    an empty index. Thread-safe (one lock: a search and its
    catch-up see one state)."""

    def __init__(
        self,
        key_version: int,
        load: Callable[[str, bytes], Any],
        new_index: Callable[[str], ShardIndex],
        load_many: LoadMany | None = None,
    ) -> None:
        self.key_version = key_version
        self._load, self._new_index, self._load_many = load, new_index, load_many
        self._feed: TemplateFeed | None = None
        self._seq = -1  # -1: not built yet
        self._shards: dict[Shard, ShardIndex] = {}
        self._where: dict[str, Shard] = {}  # template id -> its shard
        self._lock = threading.RLock()
        self.rejected: dict[str, str] = {}  # template id -> why it was skipped (ids only, no personal data)
        self.startup_s: float | None = None

    def follow(self, feed: TemplateFeed) -> None:
        """Follow ``feed`` (the database's); the gallery is (re)built on the next search or ``build``."""
        with self._lock:
            self._feed, self._seq = feed, -1
            self._shards, self._where = {}, {}

    @property
    def built(self) -> bool:
        return self._seq >= 0

    def build(self, progress: Progress | None = None) -> int:
        """Load every stored template of the current key version (once; then catch up). Returns the count."""
        with self._lock:
            feed = self._require_feed()
            if self._seq >= 0:
                return self.catch_up()
            t0 = time.perf_counter()
            head = feed.head()  # read first: changes committed during the snapshot are replayed (idempotent)
            total = feed.count(self.key_version)
            pages = _ticks(_pages(feed, self.key_version))
            for page in progress(pages, "loading the biometric gallery", -(-total // TICK)) if progress else pages:
                if page:
                    self._apply(page)
            self._seq = head
            self.catch_up()
            self.startup_s = time.perf_counter() - t0
            log.info(
                "biometric gallery loaded: %d templates (key version %d) in %.1f s",
                len(self._where),
                self.key_version,
                self.startup_s,
            )
            return len(self._where)

    def catch_up(self) -> int:
        """Apply the feed rows committed since the last call; returns how many were read."""
        with self._lock:
            feed = self._require_feed()
            if self._seq < 0:
                self.build()
                return 0
            read = 0
            while True:
                rows = feed.changes(self._seq, PAGE)
                if not rows:
                    return read
                self._apply(rows)
                self._seq, read = rows[-1].seq, read + len(rows)

    def search(
        self,
        program_id: str,
        modality: str,
        probe: Any,
        position: str | None = None,
        among: Collection[str] | None = None,
        top: int | None = None,
    ) -> list[tuple[str, float]]:
        """(template id, score) of the program's templates the index scored, best first: of ``position`` only if
        given, of the ids ``among`` only if given. Another program's templates are never scored."""
        with self._lock:
            self.catch_up()
            shards = [
                s
                for s in self._shards
                if s[0] == program_id and s[1] == modality and (position is None or s[2] == position)
            ]
            found: list[tuple[str, float]] = []
            for shard in shards:
                index = self._shards[shard]
                keys = None if among is None else [k for k in among if self._where.get(k) == shard]
                if keys is not None and not keys or not len(index):
                    continue
                found.extend(index.search(probe, top or len(index), keys))
            return sorted(found, key=lambda kv: -kv[1])[:top] if top else sorted(found, key=lambda kv: -kv[1])

    def search_positions(
        self,
        program_id: str,
        modality: str,
        probes: Mapping[str, Any],
        among: Collection[str] | None = None,
    ) -> dict[str, list[tuple[str, float]]]:
        """``search`` of each position with its own probe (the two fingers or eyes of one identification), the
        positions' indexes scored in parallel threads (their kernels release the GIL) against one state of the
        gallery: the lock is held, and nothing changes, until every position is scored."""
        with self._lock:
            self.catch_up()
            found: dict[str, list[tuple[str, float]]] = {pos: [] for pos in probes}
            jobs = []
            for pos, probe in probes.items():
                shard = (program_id, modality, pos)
                index = self._shards.get(shard)
                keys = None if among is None else [k for k in among if self._where.get(k) == shard]
                if index is not None and len(index) and (keys is None or keys):
                    jobs.append((pos, index, probe, keys))
            if len(jobs) > 1:
                pool = _search_pool()
                futures = [
                    (pos, pool.submit(index.search, probe, len(index), keys)) for pos, index, probe, keys in jobs
                ]
                found.update((pos, f.result()) for pos, f in futures)
            else:
                found.update((pos, index.search(probe, len(index), keys)) for pos, index, probe, keys in jobs)
            return found

    def __len__(self) -> int:
        return len(self._where)

    def count(self, program_id: str | None = None, modality: str | None = None) -> int:
        return sum(
            len(i)
            for s, i in self._shards.items()
            if (program_id is None or s[0] == program_id) and (modality is None or s[1] == modality)
        )

    def nbytes(self, modality: str | None = None) -> int:
        return sum(i.nbytes for s, i in self._shards.items() if modality is None or s[1] == modality)

    def _require_feed(self) -> TemplateFeed:
        if self._feed is None:
            raise RuntimeError("the matcher follows no template feed (bootstrap wires the database's)")
        return self._feed

    def _apply(self, changes: Sequence[TemplateChange]) -> None:
        """Bring the index in line with the current state of each changed template (idempotent)."""
        latest = {c.template_id: c for c in changes}  # a later row of the same template says the same (or newer)
        stored: dict[str, list[TemplateChange]] = {}  # per modality
        for ref, c in latest.items():
            if ref in self._where:
                self._shards[self._where.pop(ref)].remove(ref)
            if c.template is None or c.program_id is None or c.key_version != self.key_version:
                continue
            stored.setdefault(c.modality, []).append(c)
        for modality, batch in stored.items():
            for shard, keys, codes in self._loaded(modality, batch):
                if shard not in self._shards:
                    self._shards[shard] = self._new_index(shard[1])
                self._shards[shard].add_many(keys, codes)
                self._where.update(dict.fromkeys(keys, shard))

    def _loaded(self, modality: str, batch: list[TemplateChange]) -> Iterator[tuple[Shard, list[str], Any]]:
        """(shard, template ids, their codes) of the valid templates of ``batch``, grouped by shard (the codes of a
        page validated at once are one array per shard); the others are logged once and kept in ``rejected``."""
        rest: list[TemplateChange] = batch
        if self._load_many is not None:
            codes, valid = self._load_many(modality, [c.template or b"" for c in batch])
            groups: dict[Shard, list[int]] = {}
            for j, i in enumerate(valid.tolist()):
                c = batch[i]
                groups.setdefault((c.program_id or "", modality, c.position), []).append(j)
            for shard, js in groups.items():
                part = codes if len(js) == len(codes) else codes[np.asarray(js, np.int64)]
                yield shard, [batch[i].template_id for i in valid[js].tolist()], part
            if len(valid) == len(batch):
                return
            done = set(valid.tolist())
            rest = [c for i, c in enumerate(batch) if i not in done]
        singles: dict[Shard, tuple[list[str], list[Any]]] = {}
        for c in rest:
            try:
                loaded = self._load(modality, c.template or b"")
            except TemplateError as err:
                if c.template_id not in self.rejected:
                    log.warning("stored %s template %s skipped: %s", modality, c.template_id, err.message)
                self.rejected[c.template_id] = err.message
                continue
            keys, values = singles.setdefault((c.program_id or "", modality, c.position), ([], []))
            keys.append(c.template_id)
            values.append(loaded)
        for shard, (keys, values) in singles.items():
            yield shard, keys, values


_SEARCHERS: ThreadPoolExecutor | None = None
_SEARCHERS_LOCK = threading.Lock()


def _search_pool() -> ThreadPoolExecutor:
    global _SEARCHERS
    with _SEARCHERS_LOCK:
        if _SEARCHERS is None:
            _SEARCHERS = ThreadPoolExecutor(2, thread_name_prefix="gallery-search")  # two positions, two cores
        return _SEARCHERS


def _pages(feed: TemplateFeed, key_version: int) -> Iterator[list[TemplateChange]]:
    """The snapshot page by page, each holding about PAGE_BYTES of templates whatever the modality mix (a first page
    of PAGE rows measures their size). Reading the next page in a thread while this one is indexed was tried and
    dropped: no gain measured on 100,000 eyes (the two threads mostly wait for each other's GIL;
    ``bench/results/service/README.md``)."""
    page = feed.snapshot(key_version, "", PAGE)
    while page:
        size = sum(len(c.template or b"") for c in page) / len(page)
        limit = max(PAGE, min(PAGE_MAX, int(PAGE_BYTES // max(size, 1.0))))
        after = page[-1].template_id
        yield page
        page = feed.snapshot(key_version, after, limit)


def _ticks(pages: Iterator[list[TemplateChange]]) -> Iterator[list[TemplateChange]]:
    """Each page (one step) followed by empty steps up to one step per TICK templates read so far."""
    seen = steps = 0
    for page in pages:
        yield page
        seen, steps = seen + len(page), steps + 1
        while steps < seen // TICK:
            yield []
            steps += 1
