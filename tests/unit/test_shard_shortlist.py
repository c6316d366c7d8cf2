"""Per-shard shortlists (issue 15): on K shards each protected index keeps 1/K of the one-process shortlist, so K
shards together score in full as many rows as one process; merged, they rank a planted mate first as one process
does. No Ray: the shard indexes of ``protection.shards`` are what each Ray actor holds."""

from __future__ import annotations

import secrets

import numpy as np
import pytest

from carekey.biometrics.protection import parameters as P
from carekey.biometrics.protection.matcher import ProtectedMatcher
from carekey.biometrics.protection.ray_shards import shard_of
from carekey.biometrics.protection.shards import IrisShard, scaled, shard_shortlist

SHORTLIST = 16  # a small one-process shortlist, so a gallery of a few hundred rows is above the exhaustive limit


def test_a_shard_keeps_its_share_of_the_shortlist_and_a_margin():
    assert scaled(4096, 1.0) == 4096
    assert scaled(4096, 1 / 4) == 1135  # 1,024 + 4 standard deviations of a binomial (4,096, 1/4)
    assert scaled(200, 1 / 4) == 75
    assert scaled(200, 1 / 1000) == 2
    assert scaled(3, 1 / 2) == 3  # never more than the one-process shortlist
    assert IrisShard(1 / 4).shortlist == 1135
    assert shard_shortlist(1250, 1 / 4) == 75  # 5,000 fingers on 4 shards: one process would keep 200
    assert shard_shortlist(25_000, 1 / 4) == 578  # 100,000 on 4: one process keeps 2,000
    assert shard_shortlist(40, 1 / 4) == 40  # a small shard scores every finger
    with pytest.raises(ValueError, match="share"):
        ProtectedMatcher(secrets.token_bytes(P.SECRET_BYTES), 1, share=0)


@pytest.mark.parametrize("shortlist", [200, 2000, 4096])
@pytest.mark.parametrize("shards", [2, 4, 8])
def test_no_shard_holds_more_of_the_one_process_shortlist_than_it_keeps(shortlist, shards):
    """Whichever rows the one-process shortlist holds, each shard (templates spread by ``shard_of``) holds no more
    of them than it keeps: here 50 shortlists of random template ids."""
    rng = np.random.default_rng(shortlist * shards)
    most = 0
    for _ in range(50):
        ids = [f"T{v}" for v in rng.integers(0, 10**12, shortlist)]
        held = np.bincount([shard_of(k, shards) for k in ids], minlength=shards)
        assert held.max() <= scaled(shortlist, 1 / shards)
        most = max(most, int(held.max()))
    assert most > shortlist / shards  # the margin is needed: some shard held more than 1/K of a shortlist


def noisy(code: np.ndarray, flips: int, rng: np.random.Generator) -> np.ndarray:
    out = code.copy()
    where = rng.choice(code.size, flips, replace=False)
    out[where] = (out[where] + rng.integers(1, P.IRIS_Q, flips)) % P.IRIS_Q
    return out


@pytest.mark.parametrize("shards", [2, 4])
def test_k_shards_score_one_shortlist_together_and_find_the_mates_one_process_finds(monkeypatch, shards):
    monkeypatch.setattr(P, "IRIS_INDEX_SHORTLIST", SHORTLIST)
    rng = np.random.default_rng(7)
    n = 600  # above 4 shortlists in one process, and in each shard
    codes = rng.integers(0, P.IRIS_Q, (n, P.IRIS_HASHES), dtype=np.uint8)
    keys = [f"T{i:04d}" for i in range(n)]
    single, parts = IrisShard(), [IrisShard(1 / shards) for _ in range(shards)]
    single.add_many(keys, list(codes))
    for i, part in enumerate(parts):
        mine = [j for j, k in enumerate(keys) if shard_of(k, shards) == i]
        part.add_many([keys[j] for j in mine], [codes[j] for j in mine])
    assert sum(len(p) for p in parts) == n and all(len(p) > 4 * scaled(SHORTLIST, 1 / shards) for p in parts)

    for mate in rng.choice(n, 8, replace=False):
        probe = noisy(codes[mate], P.IRIS_HASHES // 3, rng)[None, :]  # a genuine: a third of the hashes differ
        one = single.search(probe, top=n)
        found = [part.search(probe, top=n) for part in parts]
        merged = sorted((hit for f in found for hit in f), key=lambda kv: (-kv[1], kv[0]))
        assert len(one) == SHORTLIST  # one process scores its shortlist in full ...
        assert [len(f) for f in found] == [scaled(SHORTLIST, 1 / shards)] * shards  # ... each shard its share
        assert merged[0] == one[0] == (keys[mate], pytest.approx(one[0][1]))
        assert one[0][1] > P.IRIS_THRESHOLD
