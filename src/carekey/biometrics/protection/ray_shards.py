"""The matcher's gallery sharded over Ray actors (issue 15, ``carekey matcher serve --ray auto --shards K``).

Each template belongs to one shard, ``shard_of(template id)`` (an unkeyed BLAKE2b hash of the id, modulo K), so
every shard holds about 1/K of every program's gallery. A shard is a Ray actor holding a ``ProtectedMatcher``
whose gallery follows the database's template feed as seen by that shard (``ShardFeed``: rows of other shards read
as "not stored here", so the feed position still advances). A search fans out to every shard, each scores its
part with the same kernels, and the partial lists are merged by score. Each shard's pre-filter keeps 1/K of the
one-process shortlist plus a margin of four binomial standard deviations (``shards.scaled``: iris 1,135 rows of
stage 1 at K = 4 against 4,096 in one process), so K shards together score in full a little more than one process,
not K times as much, and each keeps every row of its part of the one-process shortlist. A gallery under the
exhaustive limit (4 shortlists: 16,384 iris rows in one process, 4 x 1,135 per shard at K = 4) is scored in full
either way and the merged list is the one a single process gives (``tests/integration/test_ray_shards.py``);
above it, the K partial shortlists replace the one global shortlist, and ``carekey bench search --engine ray``
measures the top-1 agreement with one process.
Enrollments and deletions need no routing: each shard picks its own rows from the feed. An actor that dies is
restarted by Ray (``max_restarts=-1``) and rebuilds its shard from the database on its next search
(``max_task_retries=-1`` retries the search that was running).

The fan-out is one task per shard and one ``ray.get`` on their list. A probe under Ray's inline limit (iris 68 KB,
fingerprint 24 KB; ``INLINE_BYTES``) travels inside each task, straight to the actor, instead of through the
object store (``ray.put`` and a fetch per actor cost more than the copies, measured in
``bench/results/matcher/README.md``). Each shard answers two arrays (``packed``: the template ids as fixed-width
bytes, the scores as float64: two buffers to pickle instead of ~1,000 tuples) and the driver merges them with one
``lexsort`` (``merged``).

Extraction and protection of probes stay in the matcher process. The actors receive the biometric secret (their
indexes and template validation need it): the Ray cluster is inside the matcher's trust boundary (its own
machines, not the registry's). ``ray`` is an optional dependency (the ``ray`` extra), imported only here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Sequence
from typing import Any

import numpy as np

from carekey.biometrics.feed import Progress, TemplateChange, TemplateFeed
from carekey.biometrics.protection.matcher import ProtectedMatcher
from carekey.errors import InvalidInput

INLINE_BYTES = 100 * 1024  # Ray's max_direct_call_object_size: smaller task arguments are sent inside the task
Packed = tuple[np.ndarray, np.ndarray]  # a shard's answer: template ids (bytes, ASCII), their scores (float64)


def packed(found: Sequence[tuple[str, float]]) -> Packed:
    """A shard's (template id, score) pairs as two arrays (ids ASCII: ``domain.ids``)."""
    ids = np.array([k.encode("ascii") for k, _ in found], dtype=bytes) if found else np.empty(0, "S1")
    return ids, np.fromiter((s for _, s in found), np.float64, len(found))


def merged(parts: Sequence[Packed]) -> list[tuple[str, float]]:
    """The shards' answers as one list, best score first, ties by template id (the order of one process)."""
    if not parts:
        return []
    ids = np.concatenate([p[0] for p in parts])
    scores = np.concatenate([p[1] for p in parts])
    order = np.lexsort((ids, -scores))
    return list(zip(ids[order].astype(str).tolist(), scores[order].tolist(), strict=True))


def task_arg(ray: Any, value: Any) -> Any:
    """``value`` itself when Ray sends it inside each task, else one object-store copy shared by the tasks."""
    size = value.nbytes if isinstance(value, np.ndarray) else len(value)
    return value if size < INLINE_BYTES else ray.put(value)


def shard_of(template_id: str, shards: int) -> int:
    return int.from_bytes(hashlib.blake2b(template_id.encode(), digest_size=8).digest(), "big") % shards


class ShardFeed:
    """One shard's view of the template feed: another shard's rows arrive without their template."""

    def __init__(self, feed: TemplateFeed, shard: int, shards: int) -> None:
        self._feed, self.shard, self.shards = feed, shard, shards

    def _mine(self, c: TemplateChange) -> TemplateChange:
        if shard_of(c.template_id, self.shards) == self.shard:
            return c
        return TemplateChange(c.seq, c.template_id, c.modality)

    def head(self) -> int:
        return self._feed.head()

    def count(self, key_version: int) -> int:
        return self._feed.count(key_version)

    def snapshot(self, key_version: int, after: str, limit: int) -> list[TemplateChange]:
        return [self._mine(c) for c in self._feed.snapshot(key_version, after, limit)]

    def changes(self, since: int, limit: int) -> list[TemplateChange]:
        return [self._mine(c) for c in self._feed.changes(since, limit)]


class GalleryShard:
    """The body of one Ray actor: the shard's gallery, loaded from and kept current with the feed."""

    def __init__(
        self,
        secret: bytes,
        key_version: int,
        min_nfiq2: int,
        feed_factory: Callable[[], TemplateFeed],
        shard: int,
        shards: int,
    ) -> None:
        self.engine = ProtectedMatcher(secret, key_version, min_nfiq2, share=1 / shards)
        self.engine.follow(ShardFeed(feed_factory(), shard, shards))

    def build(self) -> int:
        return self.engine.build()

    def search(
        self, program_id: str, modality: str, probe: bytes, position: str | None, among: list[str] | None
    ) -> Packed:
        return packed(self.engine.search(program_id, modality, probe, position, among))

    def stats(self) -> dict[str, Any]:
        import resource

        return {
            "templates": len(self.engine.gallery),
            "built": self.engine.gallery.built,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }

    def pid(self) -> int:
        import os

        return os.getpid()


class ShardedGalleryView:
    """What ``/health`` reads of a sharded gallery: counts gathered from the actors."""

    def __init__(self, matcher: RayMatcher) -> None:
        self._m = matcher

    def __len__(self) -> int:
        return sum(int(s["templates"]) for s in self._m.shard_stats())

    @property
    def built(self) -> bool:
        return all(bool(s["built"]) for s in self._m.shard_stats())


class RayMatcher:
    """A ``BiometricMatcher`` whose gallery is partitioned over ``shards`` Ray actors."""

    def __init__(
        self,
        secret: bytes,
        key_version: int,
        min_nfiq2: int,
        feed_factory: Callable[[], TemplateFeed],
        shards: int,
        address: str | None = "auto",
    ) -> None:
        try:
            import ray
        except ImportError:
            raise InvalidInput("--ray needs the ray extra: pip install 'carekey[ray]'") from None
        if shards < 1:
            raise ValueError("at least one shard")
        if not ray.is_initialized():
            if address in (None, "local"):  # a Ray instance of this process, without the dashboard
                ray.init(include_dashboard=False, ignore_reinit_error=True)
            else:  # a cluster's address, or "auto": the cluster `ray start` runs on this node
                ray.init(address=address, ignore_reinit_error=True)
        actor: Any = ray.remote(max_restarts=-1, max_task_retries=-1)(GalleryShard)  # handles: typed at run time
        self._ray = ray
        self.shards = shards
        self.actors: list[Any] = [
            actor.remote(secret, key_version, min_nfiq2, feed_factory, i, shards) for i in range(shards)
        ]
        self._local = ProtectedMatcher(secret, key_version, min_nfiq2)  # extraction: in this process
        self.key_version = key_version
        self.gallery = ShardedGalleryView(self)

    def extract(self, modality: str, image: bytes) -> bytes:
        return self._local.extract(modality, image)

    def probe(self, modality: str, image: bytes) -> bytes:
        return self._local.probe(modality, image)

    def threshold(self, modality: str) -> float:
        return self._local.threshold(modality)

    def calibrated(self, modality: str, score: float) -> float:
        return self._local.calibrated(modality, score)

    def follow(self, feed: TemplateFeed) -> None:
        """Nothing to do: each shard follows the database's feed itself (``feed_factory``)."""

    def build(self, progress: Progress | None = None) -> int:
        return sum(self._ray.get([a.build.remote() for a in self.actors]))

    def search(
        self,
        program_id: str,
        modality: str,
        probe: bytes,
        position: str | None = None,
        among: Collection[str] | None = None,
    ) -> list[tuple[str, float]]:
        """Fan out to every shard, merge by score (ties by template id, as deterministic as one process)."""
        keys = list(among) if among is not None else None
        arg = task_arg(self._ray, probe)
        return merged(self._ray.get([a.search.remote(program_id, modality, arg, position, keys) for a in self.actors]))

    def shard_stats(self) -> list[dict[str, Any]]:
        return list(self._ray.get([a.stats.remote() for a in self.actors]))
