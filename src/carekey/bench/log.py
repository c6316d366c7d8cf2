"""Transparency-log benchmark: append rate, proof generation and verification times at a given size.

Report only (never a timed test). Uses the in-memory node store, so the figures measure the Merkle
algorithms in Python; a database node store adds its round trips (O(log n) node reads per proof).
"""

from __future__ import annotations

import os
import platform
import random
import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from carekey.audit.leaf import LEAF_PREFIX
from carekey.audit.merkle import InMemoryNodeStore, MerkleLog, verify_consistency, verify_inclusion
from carekey.audit.sth import LogSigner
from carekey.audit.verify import verify_log

T = TypeVar("T")
Progress = Callable[[Iterable[T], str, int], Iterator[T]]
CHUNK = 10_000


def _no_progress(items: Iterable[T], label: str, total: int) -> Iterator[T]:
    yield from items


def _median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def run(
    entries: int = 1_000_000, probes: int = 1000, seed: int = 1, audit: bool = True, progress: Progress = _no_progress
) -> dict:
    rng = random.Random(seed)
    log = MerkleLog(InMemoryNodeStore())
    kept: list[bytes] = []
    append_seconds = 0.0
    for start in progress(range(0, entries, CHUNK), "appending", (entries + CHUNK - 1) // CHUNK):
        batch = [LEAF_PREFIX + os.urandom(32) for _ in range(min(CHUNK, entries - start))]
        t0 = time.perf_counter()
        for data in batch:
            log.append(data)
        append_seconds += time.perf_counter() - t0
        if audit:
            kept += batch

    t0 = time.perf_counter()
    root = log.root()
    root_us = (time.perf_counter() - t0) * 1e6
    signer = LogSigner.generate()
    t0 = time.perf_counter()
    sth = signer.sign(log.size, root)
    sign_us = (time.perf_counter() - t0) * 1e6
    t0 = time.perf_counter()
    if not sth.verify(signer.public_key):
        raise RuntimeError("signed tree head does not verify")
    sth_verify_us = (time.perf_counter() - t0) * 1e6

    gen, ver = [], []
    for index in progress([rng.randrange(entries) for _ in range(probes)], "inclusion proofs", probes):
        t0 = time.perf_counter()
        proof = log.inclusion_proof(index)
        t1 = time.perf_counter()
        ok = verify_inclusion(log.leaf_hash_at(index), index, entries, proof, root)
        t2 = time.perf_counter()
        if not ok:
            raise RuntimeError(f"inclusion proof for {index} failed")
        gen.append(t1 - t0)
        ver.append(t2 - t1)
    cgen, cver, sizes = [], [], []
    for old in progress([rng.randrange(1, entries) for _ in range(probes)], "consistency proofs", probes):
        old_root = log.root(old)
        t0 = time.perf_counter()
        proof = log.consistency_proof(old)
        t1 = time.perf_counter()
        ok = verify_consistency(old, entries, old_root, root, proof)
        t2 = time.perf_counter()
        if not ok:
            raise RuntimeError(f"consistency proof {old} -> {entries} failed")
        cgen.append(t1 - t0)
        cver.append(t2 - t1)
        sizes.append(len(proof))
    audit_s = None
    if audit:  # the auditor's full check: rebuild the tree from every entry, compare with store and head
        t0 = time.perf_counter()
        report = verify_log(list(enumerate(kept)), [sth], signer.public_key, log.store)
        audit_s = time.perf_counter() - t0
        if not report.ok:
            raise RuntimeError(f"audit of an untouched log failed: {report.problems[:3]}")
    return {
        "entries": entries,
        "node_store": "in-memory (bytearray per level); a database store adds O(log n) reads per proof",
        "appends_per_s": entries / append_seconds,
        "append_mean_us": append_seconds / entries * 1e6,
        "root_us": root_us,
        "sth_sign_us": sign_us,
        "sth_verify_us": sth_verify_us,
        "inclusion_proof_gen_median_us": _median_us(gen),
        "inclusion_proof_verify_median_us": _median_us(ver),
        "inclusion_proof_hashes": len(log.inclusion_proof(0)),
        "consistency_proof_gen_median_us": _median_us(cgen),
        "consistency_proof_verify_median_us": _median_us(cver),
        "consistency_proof_hashes_median": statistics.median(sizes),
        "probes": probes,
        "full_audit_s": audit_s,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def table(report: dict) -> str:
    width = max(len(k) for k in report)
    lines = []
    for key, value in report.items():
        shown = f"{value:,.1f}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else value
        lines.append(f"{key.ljust(width)}  {shown}")
    return "\n".join(lines)
