"""The matcher's part of one two-finger identification at a given gallery size, before and after the probes were
extracted in parallel threads and the positions scored in parallel (``services.matcher.identify_positions``), same
process, same index, alternating: N synthetic protected fingers per position (random codes, indexed directly: the
index's time depends on its size, not on the codes), real FVC2002 DB1_B probes. "before" also restores nbis-py's
byte-per-statement buffer write (``fingerprint.minutiae``).

    nice -n 19 .venv/bin/python bench/tools/identify_parallel.py 100000 10 [DATA_DIR]

Prints wall and CPU milliseconds per query (medians): on the shared machine under ``nice -n 19`` the wall time is
mostly waiting for a core.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

from carekey.biometrics.fingerprint import minutiae as M
from carekey.biometrics.protection import parameters as P
from carekey.biometrics.protection.fingerprint_index import ROW_BYTES, band_bits
from carekey.biometrics.protection.gallery import grown
from carekey.biometrics.protection.matcher import ProtectedMatcher
from carekey.biometrics.protection.shards import FingerprintShard
from carekey.services.matcher import identify_positions

POSITIONS = ("left_index", "right_index")


class _Quiet:
    """A feed with nothing new: the gallery is filled directly."""

    def head(self) -> int:
        return 0

    def count(self, key_version: int) -> int:
        return 0

    def snapshot(self, key_version: int, after: str, limit: int) -> list:
        return []

    def changes(self, since: int, limit: int) -> list:
        return []


def _before(matcher: ProtectedMatcher, images: dict[str, bytes]) -> None:
    probes = {pos: matcher.probe("fingerprint", img) for pos, img in images.items()}
    for pos, probe in probes.items():
        matcher.search("bench", "fingerprint", probe, pos)


def main() -> None:
    n, queries = int(sys.argv[1]), int(sys.argv[2])
    data = Path(sys.argv[3] if len(sys.argv) > 3 else "../shared/data/fingerprint/fvc2002/DB1_B")
    matcher = ProtectedMatcher(bytes(range(32)), 1)
    matcher.follow(_Quiet())
    matcher.build()
    rng = np.random.default_rng(5)
    for pos in POSITIONS:
        shard = FingerprintShard(bytes(range(32)))
        index = shard.index
        for lo in range(0, n, 10000):  # random packed codes (any byte is two valid values), indexed in place
            k = min(10000, n - lo)
            index._new_keys([f"{pos}{i}" for i in range(lo, lo + k)])
            index._packed = grown(index._packed, lo + k)
            index._bits = grown(index._bits, lo + k)
            index._packed[lo : lo + k] = np.frombuffer(rng.bytes(k * P.FP_ROWS * ROW_BYTES), np.uint8).reshape(
                k, P.FP_ROWS, ROW_BYTES
            )
            index._bits[lo : lo + k] = band_bits(index._packed[lo : lo + k])
        matcher.gallery._shards[("bench", "fingerprint", pos)] = shard
    files = sorted(data.glob("*.tif"))  # two impressions of different fingers: a left and a right index
    pairs = [
        dict(zip(POSITIONS, (files[8 * i].read_bytes(), files[(8 * i + 9) % len(files)].read_bytes()), strict=True))
        for i in range(queries)
    ]
    _before(matcher, pairs[0])  # warm: kernels, extractors
    identify_positions(matcher, "bench", "fingerprint", pairs[0], None, 5)
    times: dict[str, list[tuple[float, float]]] = {"before": [], "after": []}
    for images in pairs:
        for mode in ("before", "after"):
            M._BUILDER.write = M._BYTEWISE_WRITE if mode == "before" else M._write_in_one_copy
            t0, c0 = time.perf_counter(), time.process_time()
            if mode == "before":
                _before(matcher, images)
            else:
                identify_positions(matcher, "bench", "fingerprint", images, None, 5)
            times[mode].append(((time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000))
    M._BUILDER.write = M._write_in_one_copy
    shortlist = matcher.gallery._shards[("bench", "fingerprint", POSITIONS[0])].index.shortlist_size(n)
    print(f"{n:,} fingers per position, shortlist {shortlist:,} per position, {queries} two-finger queries")
    for mode, values in times.items():
        wall, cpu = statistics.median(v[0] for v in values), statistics.median(v[1] for v in values)
        print(f"{mode:7} wall ms median {wall:8.0f}   cpu ms median {cpu:8.0f}")


if __name__ == "__main__":
    main()
