"""``carekey bench search --engine ray --shards K``: the protected iris 1:N search sharded over Ray actors next to
the single-process index, same gallery, same queries, same run (issue 15).

The gallery is that of ``protected_search.iris``: MMU1 eyes (one enrolled template each, the other captures are
the queries) and synthetic codes under real masks, protected under a fresh secret. Each template goes to the
shard its id hashes to (``ray_shards.shard_of``, as the matcher does) and to one single-process index. Reported:
``search_ms_median`` (fan-out to every shard, merge, in the driver), ``shard_ms_max_median`` (the slowest shard's
own search time per query), ``fanout_overhead_ms`` (their difference: Ray calls, serialization, merge),
``single_ms_median``, ``top1_agreement_with_single`` (the same query's top-1 from the single index),
``rss_mb_per_shard`` (peak RSS of each actor), ``shortlist_per_shard`` (each shard's stage-1 shortlist: the
one-process IRIS_INDEX_SHORTLIST / K, so K shards score as many rows in full as one process) and, with
``--single-gallery N``, one process on the first N templates (``search_ms_over_single_small``: the issue's target
of 4 shards over 2,000,000 against one process over 1,000,000). Wall clock on a shared host; never a test.
"""

from __future__ import annotations

import os
import secrets
import statistics
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from carekey.biometrics.protection import iris as piris
from carekey.biometrics.protection import parameters as P
from carekey.biometrics.protection.iris_index import ProtectedIrisIndex
from carekey.biometrics.protection.ray_shards import shard_of
from carekey.biometrics.protection.shards import scaled

Progress = Callable[[Iterable[Any], str, int], Iterable[Any]]
TOP = 5


class IrisBenchShard:
    """One actor: a protected iris index of its shard, whose stage 1 keeps ``shortlist`` rows (the one-process
    shortlist / K, as ``shards.IrisShard`` on K shards); searches report their own time."""

    def __init__(self, capacity: int, shortlist: int) -> None:
        self.index = ProtectedIrisIndex(capacity=capacity)
        self.shortlist = shortlist

    def add(self, keys: list[str], codes: np.ndarray) -> int:
        self.index.add(keys, codes)
        return len(self.index)

    def search(self, probe: np.ndarray, top: int) -> tuple[list[tuple[str, float]], float]:
        t0 = time.perf_counter()
        found = self.index.search(probe, top=top, shortlist=self.shortlist)
        return [(str(c.key), float(c.score)) for c in found], (time.perf_counter() - t0) * 1000

    def rss_mb(self) -> float:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def iris(
    gallery: int,
    queries: int,
    shards: int,
    progress: Progress,
    address: str | None = None,
    single_gallery: int | None = None,
) -> dict[str, Any]:
    """``single_gallery``: also time one process on the first N templates (the issue's target compares 4 shards of
    2,000,000 with one process of 1,000,000 in the same run: ``search_ms_over_single_small``)."""
    import ray

    from carekey.bench.iris import _real_templates, _synthetic_rows
    from carekey.bench.protected_search import _protect_rows

    if not ray.is_initialized():
        ray.init(address=address, num_cpus=None if address else max(2, os.cpu_count() or 2), include_dashboard=False)
    actor: Any = ray.remote(IrisBenchShard)  # its handles' methods get .remote() at run time
    secret, rng = secrets.token_bytes(P.SECRET_BYTES), np.random.default_rng(5)
    eyes = _real_templates(progress)
    enrolled = {eye: ts[0] for eye, ts in eyes.items() if len(ts) >= 2}
    probes = [(eye, t) for eye, ts in eyes.items() if eye in enrolled for t in ts[1:]]
    probes = [probes[i] for i in rng.permutation(len(probes))[:queries]]
    capacity = gallery // shards + gallery // 10 + 1024
    shortlist = scaled(P.IRIS_INDEX_SHORTLIST, 1 / shards)
    workers: list[Any] = [actor.remote(capacity, shortlist) for _ in range(shards)]
    single = ProtectedIrisIndex(capacity=gallery + 1024)
    small = ProtectedIrisIndex(capacity=single_gallery + 1024) if single_gallery else None

    def place(keys: list[str], codes: np.ndarray) -> None:
        single.add(keys, codes)
        if small is not None and single_gallery is not None and len(small) < single_gallery:
            n = min(len(keys), single_gallery - len(small))
            small.add(keys[:n], codes[:n])
        where = np.array([shard_of(k, shards) for k in keys])
        ray.get(
            [
                w.add.remote([k for k, s in zip(keys, where, strict=True) if s == i], codes[where == i])
                for i, w in enumerate(workers)
            ]
        )

    keys = [f"mmu1:{eye}" for eye in enrolled][:gallery]
    place(keys, np.stack([piris.protect(enrolled[k.split(":", 1)[1]], secret) for k in keys]))
    masks = np.stack([t.mask for ts in eyes.values() for t in ts])
    synthetic, batch = gallery - len(keys), 8192
    batches = range(0, synthetic, batch)
    for lo in progress(batches, "synthetic gallery (random codes, protected, sharded)", len(batches)):
        n = min(batch, synthetic - lo)
        place([f"syn:{lo + i}" for i in range(n)], _protect_rows(_synthetic_rows(n, masks, rng), secret))
    fan, shard_max, one, one_small, agree, hits = [], [], [], [], 0, 0
    warm = piris.protect_probe(probes[0][1], secret)
    single.search(warm, top=1)
    ray.get([w.search.remote(warm, 1) for w in workers])
    for eye, probe in progress(probes, "search", len(probes)):
        p = piris.protect_probe(probe, secret)
        t0 = time.perf_counter()
        ref = ray.put(p)
        parts = ray.get([w.search.remote(ref, TOP) for w in workers])
        merged = sorted((hit for found, _ in parts for hit in found), key=lambda kv: (-kv[1], kv[0]))[:TOP]
        fan.append((time.perf_counter() - t0) * 1000)
        shard_max.append(max(ms for _, ms in parts))
        t0 = time.perf_counter()
        best = single.search(p, top=TOP)
        one.append((time.perf_counter() - t0) * 1000)
        if small is not None:
            t0 = time.perf_counter()
            small.search(p, top=TOP)
            one_small.append((time.perf_counter() - t0) * 1000)
        agree += bool(best) and bool(merged) and merged[0][0] == str(best[0].key)
        hits += bool(merged) and merged[0][0] == f"mmu1:{eye}"
    rss = ray.get([w.rss_mb.remote() for w in workers])
    search_ms, shard_ms = statistics.median(fan), statistics.median(shard_max)
    extra: dict[str, Any] = {}
    if small is not None:
        small_ms = statistics.median(one_small)
        extra = {
            "single_gallery_small": len(small),
            "single_small_ms_median": round(small_ms, 3),
            "search_ms_over_single_small": round(search_ms / small_ms, 3),
        }
    return {
        "modality": "iris",
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
        "rss_mb_per_shard": [round(r, 1) for r in rss],
        "shortlist_per_shard": shortlist,
        "shortlist_single": P.IRIS_INDEX_SHORTLIST,
        "index_mb_single": round(single.nbytes / 2**20, 1),
        "cpus": os.cpu_count(),
        **extra,
    }
