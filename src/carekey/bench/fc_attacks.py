"""Attacks on iris fuzzy commitments, for ``protection_fc``: linkage without keys, reconstruction with the
program key known. Outcomes of the Reed-Solomon decoder are read from block errata counts (``fc_kernels``:
it unlocks iff 2 wrong + erased blocks <= n - k), which equals running it and checking the HMAC."""

from __future__ import annotations

from typing import Any

import numpy as np

from carekey.bench import fc_kernels, unlinkability
from carekey.bench import fuzzy_commitment as fc
from carekey.bench.fc_prep import Prepared, bipolar, probes
from carekey.biometrics.iris import matching
from carekey.biometrics.iris.templates import IrisTemplate

RU_ROTATIONS = (-8, 0, 8)  # dictionary eyes enter the Rathgeb-Uhl histograms at these code shifts
RU_TARGETS = 90  # commitments attacked (spread over the dataset): the attack costs T x dictionary


def d_sys(mated: np.ndarray, non_mated: np.ndarray) -> float:
    """unlinkability.d_sys, aware of the point mass at score 0 (every failed decode) that a kernel density
    cannot represent: D<->sys = P_m(0) D(LR_0) + the continuous part with LR scaled by (1 - P_m(0)) /
    (1 - P_n(0)) (the ``omega`` multiplier of D<->(s)). NaN when a sample is too small for a density."""
    mated, non_mated = np.asarray(mated, float), np.asarray(non_mated, float)
    zm, zn = float(np.mean(mated == 0)), float(np.mean(non_mated == 0))
    try:
        if zm < 0.5 and zn < 0.5:
            return unlinkability.d_sys(mated, non_mated)
        lr0 = zm / max(zn, 1e-12)
        total = zm * (2 * lr0 / (1 + lr0) - 1 if lr0 > 1 else 0.0)
        rest_m, rest_n = mated[mated != 0], non_mated[non_mated != 0]
        if rest_m.size >= 2 and rest_n.size >= 2:
            total += (1 - zm) * unlinkability.d_sys(rest_m, rest_n, omega=(1 - zm) / (1 - zn))
        elif rest_m.size:  # a few mated unlocks where non-mated have none: count them fully linkable
            total += 1 - zm
        return float(min(total, 1.0))
    except (np.linalg.LinAlgError, ValueError):
        return float("nan")


def d_sys_floor(mated_count: int, non_mated: np.ndarray, draws: int = 5) -> float:
    """``d_sys`` of non-mated scores posing as mated ones (as unlinkability.d_sys_floor, with the point mass)."""
    rng, non_mated = np.random.default_rng(0), np.asarray(non_mated)
    if mated_count < 2 or non_mated.size < 2 * mated_count:
        return float("nan")
    orders = [rng.permutation(non_mated.size) for _ in range(draws)]
    return float(np.mean([d_sys(non_mated[o[:mated_count]], non_mated[o[mated_count:]]) for o in orders]))


def errata(
    probe_words: np.ndarray, helper: tuple[np.ndarray, np.ndarray], params: fc.FCParams, pairs: np.ndarray
) -> np.ndarray:
    words, truth = helper
    return fc_kernels.block_errata(
        probe_words, words, truth, np.ascontiguousarray(pairs), params.block, params.margin, params.n
    )


def unlocks(probe_words, helper, params: fc.FCParams, pairs: np.ndarray) -> np.ndarray:
    return errata(probe_words, helper, params, pairs) <= params.n - params.k


def linkage(prep: Prepared, com_a: list, com_b: list, pairs: np.ndarray, same: np.ndarray, track) -> dict[str, float]:
    """D<->sys of what an attacker holding two programs' helper data (no keys) can score per pair."""
    p = com_a[0].params

    def words(coms):
        h = np.stack([c.helper for c in coms])
        return bipolar(h, np.stack([c.mask for c in coms]) if p.enrol_mask else None)

    wa, wb = words(com_a), words(com_b)
    ha, hb = np.stack([c.helper for c in com_a]), np.stack([c.helper for c in com_b])
    scores = {
        "decodability (Kelkboom)": fc_kernels.decodability(wa, wb, pairs, p.block),
        "helper Hamming similarity": 1 - (ha[pairs[:, 0]] != hb[pairs[:, 1]]).mean(axis=1),
        "same-key decodability (control, no permutation change)": fc_kernels.decodability(wa, wa, pairs, p.block),
    }
    if p.enrol_mask:
        ua, ub = np.stack([c.mask for c in com_a]).sum(1), np.stack([c.mask for c in com_b]).sum(1)
        scores["usable-bit count"] = -np.abs(ua[pairs[:, 0]] - ub[pairs[:, 1]]).astype(float)
    return {name: d_sys(s[same], s[~same]) for name, s in track(scores.items(), "linkage", len(scores))}


def reconstruction(
    prep: Prepared,
    helper: tuple[np.ndarray, np.ndarray],
    key: bytes,
    probe_words: np.ndarray,
    params: fc.FCParams,
    track,
) -> dict[str, Any]:
    """Key known. Dictionary: every eye of another identity tried as a probe on every commitment (ordered
    pairs). Mean code: the majority bit of all other identities' codes. Rathgeb & Uhl, "Statistical attack
    against iris-biometric fuzzy commitment schemes", CVPR Workshops 2011: per block, the histogram of the
    symbols the dictionary decodes to; the most voted symbol per block, the least voted blocks erased."""
    t = len(prep.codes)
    ii, jj = np.meshgrid(np.arange(t), np.arange(t), indexing="ij")
    other = prep.identity[ii] != prep.identity[jj]
    pairs = np.stack([ii[other], jj[other]], axis=1)
    hits = unlocks(probe_words, helper, params, pairs)
    unlocked_templates = np.zeros(t, bool)
    unlocked_templates[pairs[hits, 1]] = True
    mean_hits = _mean_code(prep, helper, key, params)
    targets = np.unique(np.linspace(0, t - 1, min(RU_TARGETS, t)).astype(int))
    ru_hits = np.array(
        [_rathgeb_uhl(prep, helper, probe_words, params, j) for j in track(targets, "Rathgeb-Uhl attack", len(targets))]
    )
    rate = float(hits.mean())
    return {
        "chance": 0.001,
        "attempts": int(hits.size),
        "success": rate,
        "success_vs_source_template": rate,
        "success_vs_other_samples": rate,  # an unlock yields the exact enrolled code, scored as a genuine probe
        "templates_unlocked_by_dictionary": float(unlocked_templates.mean()),
        "mean_code": float(mean_hits.mean()),
        "rathgeb_uhl": float(ru_hits.mean()),
        "rathgeb_uhl_targets": int(targets.size),
        "attacked_templates": t,
    }


def _mean_code(prep: Prepared, helper, key: bytes, params: fc.FCParams) -> np.ndarray:
    """Per identity left out, the majority code of all others (every bit usable), tried at every rotation."""
    labels = np.unique(prep.identity)
    usable = prep.masks.sum(0)
    ones = (prep.codes & prep.masks).astype(np.int64)
    total_ones, total_use = ones.sum(0), prep.masks.astype(np.int64).sum(0)
    means = []
    for g in labels:
        mine = prep.identity == g
        share = (total_ones - ones[mine].sum(0)) / np.maximum(total_use - prep.masks[mine].sum(0), 1)
        means.append(IrisTemplate.from_bits(share > 0.5, np.ones_like(usable, bool)))
    shifts = matching.shift_range()
    rot = [matching.shifted(m, shifts) for m in means]
    unpack = lambda a: np.unpackbits(a.view(np.uint8), axis=-1, bitorder="little")  # noqa: E731
    mean_prep = Prepared(
        prep.codes[: len(means)],
        prep.masks[: len(means)],
        np.stack([unpack(c) for c, _ in rot]),
        np.stack([unpack(m) for _, m in rot]),
        labels,
    )
    index = {g: k for k, g in enumerate(labels)}
    pairs = np.array([[index[g], j] for j, g in enumerate(prep.identity)], np.int64)
    return unlocks(probes(mean_prep, key), helper, params, pairs)


def _rathgeb_uhl(prep: Prepared, helper, probe_words: np.ndarray, params: fc.FCParams, j: int) -> bool:
    words, truth = helper
    centre = probe_words.shape[1] // 2
    others = prep.identity != prep.identity[j]
    cands = probe_words[others][:, [centre + r for r in RU_ROTATIONS]].reshape(-1, probe_words.shape[2])
    votes = fc_kernels.block_spectra_votes(np.ascontiguousarray(cands), words[j], params.block, params.n)
    guess, confidence = votes.argmax(axis=1), votes.max(axis=1)
    wrong = (guess != truth[j])[np.argsort(-confidence, kind="stable")]  # most confident blocks first
    budget = params.n - params.k
    # the attacker (key known: he checks the HMAC) erases the s least confident blocks, for every s
    return any(2 * int(wrong[: params.n - s].sum()) + s <= budget for s in range(budget + 1))
