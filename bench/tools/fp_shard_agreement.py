"""Top-1 agreement of K in-process fingerprint shards (each with its margin, ``shards.scaled``) with one process,
on the gallery and queries of ``carekey bench search --modality fingerprint --engine ray`` but without Ray: the
shards are the matcher's own shard class, the ones the Ray actors hold (bench/results/scale.md).

    PYTHONPATH=src .venv/bin/python bench/tools/fp_shard_agreement.py 5000 20
"""

from __future__ import annotations

import json
import secrets
import sys

import numpy as np

from carekey.bench.ray_search import _fingerprint_gallery, new_shard
from carekey.biometrics.protection import parameters as P
from carekey.biometrics.protection.ray_shards import shard_of
from carekey.biometrics.protection.shards import FingerprintShard


def main(gallery: int, queries: int, shards: int = 4) -> dict[str, object]:
    secret = secrets.token_bytes(P.SECRET_BYTES)
    batches, probes = _fingerprint_gallery(gallery, queries, secret, lambda it, _label, _n: it)
    parts = [new_shard("fingerprint", secret, 1 / shards, gallery // shards + 2048) for _ in range(shards)]
    single = new_shard("fingerprint", secret, 1.0, gallery + 1024)
    for keys, codes in batches:
        single.add_many(keys, codes)
        where = np.array([shard_of(k, shards) for k in keys])
        for i, part in enumerate(parts):
            mine = [k for k, s in zip(keys, where, strict=True) if s == i]
            if mine:
                part.add_many(mine, codes[where == i])
    agree = hits = single_hits = 0
    for key, probe in probes:
        one = single.search(probe, 5)
        found = sorted((h for p in parts for h in p.search(probe, max(1, len(p)))), key=lambda kv: (-kv[1], kv[0]))
        agree += found[0][0] == one[0][0]
        hits += found[0][0] == key
        single_hits += one[0][0] == key
    first = parts[0]
    assert isinstance(first, FingerprintShard)
    return {
        "gallery": gallery,
        "shards": shards,
        "queries": len(probes),
        "top1_agreement_with_single": agree / len(probes),
        "top1_hit_rate": hits / len(probes),
        "single_top1_hit_rate": single_hits / len(probes),
        "scored_per_shard": len(first.search(probes[0][1], 10**6)),
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), int(sys.argv[2])), indent=1))
