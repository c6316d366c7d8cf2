"""``carekey bench search --engine ray --shards K``: the protected 1:N search (iris or fingerprint) sharded over
Ray actors next to the single-process index, same gallery, same queries, same run (issue 15).

The galleries are those of ``protected_search``: iris, MMU1 eyes (one enrolled template each, the other captures
are the queries) and synthetic codes under real masks; fingerprint, FVC2002 DB1_B / DB2_B fingers and chimera
templates from DB3_B / DB4_B; protected under a fresh secret. Each template goes to the shard its id hashes to
(``ray_shards.shard_of``, as the matcher does) and to one single-process index. Each actor holds the matcher's
own per-shard index (``shards.IrisShard`` / ``FingerprintShard`` with ``share`` 1/K: the one-process shortlist / K)
and answers, as the matcher's shards do, every row it scored in full, through the matcher's fan-out
(``ray_shards.task_arg``, ``packed``, ``merged``).

Reported: ``search_ms_median`` (fan-out to every shard and merge, in the driver), ``shard_ms_max_median`` (the
slowest shard's own search time per query), ``fanout_overhead_ms`` (their difference: Ray calls, serialization,
merge), ``single_ms_median``, ``top1_agreement_with_single`` (the same query's top-1 from the single index),
``top1_hit_rate`` / ``single_top1_hit_rate`` (the query's mate first, sharded / one process),
``rss_mb_per_shard`` (peak RSS of each actor), ``driver_rss_mb`` (peak RSS of this process: the gallery
generation and the single-process indexes), ``shortlist_per_shard``. With ``--single-gallery N``: one process on
the first N templates (``search_ms_over_single_small``: the issue's target of 4 shards over 2,000,000 against one
process over 1,000,000). With ``compare_fanout``: every query also goes through the fan-out the matcher used
before (the probe through the object store with ``ray.put``, lists of tuples, a Python sort), alternating which
goes first, so ``fanout_overhead_ms_before`` and ``fanout_overhead_ms`` come from the same run. Wall clock on a
shared host; never a test.
"""

from __future__ import annotations

import os
import resource
import secrets
import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from carekey.biometrics.protection import fingerprint as pfp
from carekey.biometrics.protection import iris as piris
from carekey.biometrics.protection import parameters as P
from carekey.biometrics.protection.fingerprint_index import ProtectedFingerprintIndex
from carekey.biometrics.protection.iris_index import ProtectedIrisIndex
from carekey.biometrics.protection.ray_shards import Packed, merged, packed, shard_of, task_arg
from carekey.biometrics.protection.shards import FingerprintShard, IrisShard, scaled, shard_shortlist

Progress = Callable[[Iterable[Any], str, int], Iterable[Any]]
Batch = tuple[list[str], np.ndarray]  # template ids, their protected codes (n, ...) uint8
TOP = 5
MODALITIES = ("iris", "fingerprint")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def new_shard(modality: str, secret: bytes, share: float, capacity: int) -> IrisShard | FingerprintShard:
    """The matcher's per-shard index (``share`` of the one-process shortlist), its memory reserved up front."""
    if modality == "iris":
        iris_shard = IrisShard(share)
        iris_shard.index = ProtectedIrisIndex(capacity=capacity)
        return iris_shard
    fp_shard = FingerprintShard(secret, share)
    fp_shard.index = ProtectedFingerprintIndex(secret, capacity=capacity)
    return fp_shard


class BenchShard:
    """One actor: one shard's index; searches report their own time and answer every row scored in full."""

    def __init__(self, modality: str, secret: bytes, share: float, capacity: int) -> None:
        self.shard = new_shard(modality, secret, share, capacity)

    def add(self, keys: list[str], codes: np.ndarray) -> int:
        if keys:
            self.shard.add_many(keys, codes)
        return len(self.shard)

    def search(self, probe: np.ndarray) -> tuple[Packed, float, float, float]:
        """As ``ray_shards.GalleryShard.search``: arrays of every row scored in full; its own ms, and the wall
        clock (``time.time``, one host) at its start and end for the fan-out profile."""
        start, t0 = time.time(), time.perf_counter()
        found = packed(self.shard.search(probe, max(1, len(self.shard))))
        return found, (time.perf_counter() - t0) * 1000, start, time.time()

    def search_before(self, probe: np.ndarray) -> tuple[list[tuple[str, float]], float, float, float]:
        """The shards' answer before: a list of (template id, score) tuples."""
        start, t0 = time.time(), time.perf_counter()
        found = self.shard.search(probe, max(1, len(self.shard)))
        return found, (time.perf_counter() - t0) * 1000, start, time.time()

    def rss_mb(self) -> float:
        return _peak_rss_mb()


def _iris_gallery(gallery: int, queries: int, secret: bytes, progress: Progress) -> tuple[Iterator[Batch], list]:
    from carekey.bench.iris import _real_templates, _synthetic_rows
    from carekey.bench.protected_search import _protect_rows

    rng = np.random.default_rng(5)
    eyes = _real_templates(progress)
    enrolled = {eye: ts[0] for eye, ts in eyes.items() if len(ts) >= 2}
    pairs = [(eye, t) for eye, ts in eyes.items() if eye in enrolled for t in ts[1:]]
    probes = [
        (f"mmu1:{eye}", piris.protect_probe(t, secret))
        for eye, t in (pairs[i] for i in rng.permutation(len(pairs))[:queries])
    ]

    def batches() -> Iterator[Batch]:
        keys = [f"mmu1:{eye}" for eye in enrolled][:gallery]
        yield keys, np.stack([piris.protect(enrolled[k.split(":", 1)[1]], secret) for k in keys])
        masks = np.stack([t.mask for ts in eyes.values() for t in ts])
        synthetic, size = gallery - len(keys), 8192
        los = range(0, synthetic, size)
        for lo in progress(los, "synthetic gallery (random codes, protected, sharded)", len(los)):
            n = min(size, synthetic - lo)
            yield [f"syn:{lo + i}" for i in range(n)], _protect_rows(_synthetic_rows(n, masks, rng), secret)

    return batches(), probes


def _fingerprint_gallery(gallery: int, queries: int, secret: bytes, progress: Progress) -> tuple[Iterator[Batch], list]:
    from carekey.bench import synthetic_fingers as syn
    from carekey.bench.fingerprint_data import shared_fingerprints
    from carekey.biometrics.fingerprint import matcher

    matcher.warm_up()
    real = syn.load_real(shared_fingerprints() / "fvc2002", progress)
    enrolled, pairs, sources = syn.split(real, queries)
    probes = [(key, pfp.protect(t, secret)) for key, t in pairs]

    def batches() -> Iterator[Batch]:
        keys = list(enrolled)[:gallery]
        yield keys, np.stack([pfp.protect(enrolled[k], secret) for k in keys])
        rng = np.random.default_rng(7)
        synthetic, size = gallery - len(keys), 512
        los = range(0, synthetic, size)
        for lo in progress(los, "synthetic gallery (chimera, protected, sharded)", len(los)):
            n = min(size, synthetic - lo)
            yield (
                [f"synthetic-{lo + i}" for i in range(n)],
                np.stack([pfp.protect(syn.chimera(sources, rng), secret) for _ in range(n)]),
            )

    return batches(), probes


def run(
    modality: str,
    gallery: int,
    queries: int,
    shards: int,
    progress: Progress,
    address: str | None = None,
    single_gallery: int | None = None,
    compare_fanout: bool = False,
) -> dict[str, Any]:
    """``single_gallery``: also time one process on the first N templates (the issue's target compares 4 shards of
    2,000,000 with one process of 1,000,000 in the same run: ``search_ms_over_single_small``)."""
    import ray

    if modality not in MODALITIES:
        raise ValueError(f"modality: one of {', '.join(MODALITIES)}")
    if not ray.is_initialized():
        ray.init(address=address, num_cpus=None if address else max(2, os.cpu_count() or 2), include_dashboard=False)
    actor: Any = ray.remote(BenchShard)  # its handles' methods get .remote() at run time
    secret = secrets.token_bytes(P.SECRET_BYTES)
    make = _iris_gallery if modality == "iris" else _fingerprint_gallery
    batches, probes = make(gallery, queries, secret, progress)
    capacity = gallery // shards + gallery // 10 + 1024
    workers: list[Any] = [actor.remote(modality, secret, 1 / shards, capacity) for _ in range(shards)]
    single = new_shard(modality, secret, 1.0, gallery + 1024)
    small = new_shard(modality, secret, 1.0, single_gallery + 1024) if single_gallery else None

    for keys, codes in batches:
        single.add_many(keys, codes)
        if small is not None and single_gallery is not None and len(small) < single_gallery:
            n = min(len(keys), single_gallery - len(small))
            small.add_many(keys[:n], codes[:n])
        where = np.array([shard_of(k, shards) for k in keys])
        ray.get(
            [
                w.add.remote([k for k, s in zip(keys, where, strict=True) if s == i], codes[where == i])
                for i, w in enumerate(workers)
            ]
        )

    profile: dict[str, dict[str, list[float]]] = {"after": {}, "before": {}}

    def phases(which: str, t0: float, sent: float, parts: list, got: float, done: float) -> None:
        """Where the fan-out's ms go (wall clock of one host): the driver's submission (arguments, one task per
        shard), until the last shard starts its search, after the last shard ends until the driver holds every
        answer, the merge."""
        for name, ms in (
            ("submit", sent - t0),
            ("until_last_shard_starts", max(part[2] for part in parts) - t0),
            ("after_last_shard_ends", got - max(part[3] for part in parts)),
            ("merge", done - got),
        ):
            profile[which].setdefault(name, []).append(ms * 1000)

    def fan_out(p: np.ndarray) -> tuple[list[tuple[str, float]], float]:
        """The matcher's fan-out (``RayMatcher.search``): the slowest shard's own ms beside the merged list."""
        t0 = time.time()
        arg = task_arg(ray, p)
        refs = [w.search.remote(arg) for w in workers]
        sent = time.time()
        parts = ray.get(refs)
        got = time.time()
        hits = merged([part[0] for part in parts])
        phases("after", t0, sent, parts, got, time.time())
        return hits, max(part[1] for part in parts)

    def fan_out_before(p: np.ndarray) -> tuple[list[tuple[str, float]], float]:
        """The fan-out before: the probe through the object store, tuples, a Python sort."""
        t0 = time.time()
        ref = ray.put(p)
        refs = [w.search_before.remote(ref) for w in workers]
        sent = time.time()
        parts = ray.get(refs)
        got = time.time()
        hits = sorted((hit for part in parts for hit in part[0]), key=lambda kv: (-kv[1], kv[0]))
        phases("before", t0, sent, parts, got, time.time())
        return hits, max(part[1] for part in parts)

    def timed(fn: Callable[[np.ndarray], tuple[list[tuple[str, float]], float]], p: np.ndarray) -> tuple:
        t0 = time.perf_counter()
        hits, slowest = fn(p)
        return hits, (time.perf_counter() - t0) * 1000, slowest

    single.search(probes[0][1], TOP)  # warm-up (kernels)
    fan_out(probes[0][1])
    if compare_fanout:
        fan_out_before(probes[0][1])
    for kept in profile.values():  # not the warm-up
        kept.clear()
    fan: list[float] = []
    shard_max: list[float] = []
    before: list[float] = []
    before_max: list[float] = []
    one: list[float] = []
    one_small: list[float] = []
    agree = same_before = hits = single_hits = 0
    for q, (key, p) in enumerate(progress(probes, "search", len(probes))):
        # with compare_fanout, both protocols answer every query, alternately first
        order = [fan_out, fan_out_before][:: 1 if q % 2 else -1] if compare_fanout else [fan_out]
        answers = {}
        for fn in order:
            found, ms, slowest = timed(fn, p)
            answers[fn] = found
            (fan if fn is fan_out else before).append(ms)
            (shard_max if fn is fan_out else before_max).append(slowest)
        found = answers[fan_out]
        same_before += compare_fanout and answers[fan_out_before] == found
        t0 = time.perf_counter()
        best = single.search(p, TOP)
        one.append((time.perf_counter() - t0) * 1000)
        if small is not None:
            t0 = time.perf_counter()
            small.search(p, TOP)
            one_small.append((time.perf_counter() - t0) * 1000)
        agree += bool(best) and bool(found) and found[0][0] == best[0][0]
        hits += bool(found) and found[0][0] == key
        single_hits += bool(best) and best[0][0] == key
    rss = ray.get([w.rss_mb.remote() for w in workers])
    search_ms, shard_ms = statistics.median(fan), statistics.median(shard_max)
    extra: dict[str, Any] = {}
    if compare_fanout:
        extra |= {
            "search_ms_median_before": round(statistics.median(before), 3),
            "shard_ms_max_median_before": round(statistics.median(before_max), 3),
            "fanout_overhead_ms_before": round(
                statistics.median([f - s for f, s in zip(before, before_max, strict=True)]), 3
            ),
            "fanout_same_answers_as_before": round(same_before / max(1, len(probes)), 4),
            "fanout_profile_ms_before": {k: round(statistics.median(v), 3) for k, v in profile["before"].items()},
        }
    if small is not None:
        small_ms = statistics.median(one_small)
        extra |= {
            "single_gallery_small": len(small),
            "single_small_ms_median": round(small_ms, 3),
            "search_ms_over_single_small": round(search_ms / small_ms, 3),
        }
    return {
        "modality": modality,
        "engine": "ray",
        "shards": shards,
        "gallery": len(single),
        "queries": len(probes),
        "search_ms_median": round(search_ms, 3),
        "shard_ms_max_median": round(shard_ms, 3),
        "fanout_overhead_ms": round(statistics.median([f - s for f, s in zip(fan, shard_max, strict=True)]), 3),
        "single_ms_median": round(statistics.median(one), 3),
        "top1_agreement_with_single": round(agree / max(1, len(probes)), 4),
        "top1_hit_rate": round(hits / max(1, len(probes)), 4),
        "single_top1_hit_rate": round(single_hits / max(1, len(probes)), 4),
        "fanout_profile_ms": {k: round(statistics.median(v), 3) for k, v in profile["after"].items()},
        "rss_mb_per_shard": [round(r, 1) for r in rss],
        "driver_rss_mb": round(_peak_rss_mb(), 1),
        "shortlist_per_shard": single_shortlist(modality, shards, gallery),
        "shortlist_single": single_shortlist(modality, 1, gallery),
        "index_mb_single": round(single.nbytes / 2**20, 1),
        "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        **extra,
    }


def single_shortlist(modality: str, shards: int, gallery: int) -> int:
    """Rows one shard (of ``shards``, each ~gallery / shards rows) scores in full."""
    if modality == "iris":
        return scaled(P.IRIS_INDEX_SHORTLIST, 1 / shards)
    return shard_shortlist(gallery // shards, 1 / shards)


def iris(
    gallery: int,
    queries: int,
    shards: int,
    progress: Progress,
    address: str | None = None,
    single_gallery: int | None = None,
    compare_fanout: bool = False,
) -> dict[str, Any]:
    return run("iris", gallery, queries, shards, progress, address, single_gallery, compare_fanout)
