"""Protection benchmark of the iris fuzzy commitment (``carekey bench protection --scheme fuzzy-commitment``).

The same report keys as ``protection.run`` (unprotected vs protected in one run), measured on helper data:

- protected score of a pair = the unprotected score when some probe rotation unlocks the commitment, else 0;
  the decode-failure rate of genuine pairs and the decode-success rate of impostor pairs;
- ``d_sys``: the key holder matching a probe under key A against helper data under key B, plus the
  linkage an attacker without keys can compute from two helper data (``fc_attacks.linkage``);
- reconstruction with the key known (``fc_attacks``): every other eye of the dataset as a dictionary
  (an unlock returns the exact enrolled code, so the unlock rate is the reconstruction rate), the
  population's mean code, and the Rathgeb-Uhl block-wise statistical attack; chance is 0.1 %;
- the parameter sweep (Hadamard block, erasure margin, enrolment mask stored or not) x RS k, from the
  block errata counts of ``fc_kernels`` (exact for a bounded-distance decoder), confirmed against the
  real decoder (``fuzzy_commitment.verify``) on a sample of pairs;
- 1:1 verify time (the real decoder) and a 1:N estimate (verify time x gallery).
"""

from __future__ import annotations

import dataclasses
import itertools
import secrets
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from carekey.bench import accuracy, fc_attacks, protection
from carekey.bench import fuzzy_commitment as fc
from carekey.bench.fc_prep import Prepared, commit_all, helpers, prepare, probes
from carekey.bench.protection_cases import IrisCase
from carekey.errors import CarekeyError

SWEEP = (
    [fc.FCParams(32, 1, True, 1 / 32), fc.FCParams(64, 1, True, 0.0), fc.FCParams(64, 1, True, 1 / 32)]
    + [fc.FCParams(128, 1, True, e) for e in (0.0, 1 / 64, 1 / 32, 1 / 16)]
    + [fc.FCParams(128, 1, False, 1 / 32)]
    + [fc.FCParams(128, 1, True, 1 / 32, mask_bits=m) for m in (1024, 1200)]
)
SWEEP_IMPOSTORS = 30_000  # impostor pairs (random sample) per sweep configuration; every genuine pair
IMPOSTOR_TARGET = 0.001
MIN_KEY_BITS = 10  # a guessed message unlocks with 2^-key_bits: at least chance (FMR 0.1 % ~ 2^-10)
VALIDATED_IMPOSTORS = 600


def run(
    folder: Path,
    progress: protection.Progress | None = None,
    seed_keys: tuple[bytes, bytes] | None = None,
    operating: fc.FCParams | None = None,
) -> tuple[dict[str, Any], dict[str, tuple[np.ndarray, np.ndarray]]]:
    track = progress or (lambda it, _label, _n: it)
    key_a, key_b = seed_keys or (secrets.token_bytes(32), secrets.token_bytes(32))
    case, samples = IrisCase(), accuracy.load_dataset(folder)
    templates = []
    for s in track(samples, "extract iris", len(samples)):
        try:
            templates.append(case.extract(s.path))
        except CarekeyError:
            templates.append(None)
    fte = templates.count(None)
    keep = [i for i, t in enumerate(templates) if t is not None]
    samples, templates = [samples[i] for i in keep], [templates[i] for i in keep]
    prep = prepare(templates, [s.identity for s in samples])
    pairs = np.array(list(itertools.combinations(range(len(templates)), 2)), np.int64)
    same = prep.identity[pairs[:, 0]] == prep.identity[pairs[:, 1]]
    unprot = np.array([case.unprotected(templates[i], templates[j]) for i, j in track(pairs, "compare", len(pairs))])
    u = protection._rates(unprot[same], unprot[~same])
    sweep = _sweep(prep, pairs, same, key_a, track)
    op = operating or _choose(sweep)
    # the operating point, on real commitments (RS codewords of random messages) under both keys
    (com_a, truth_a), (com_b, truth_b) = commit_all(templates, key_a, op, 10), commit_all(templates, key_b, op, 11)
    probes_a = probes(prep, key_a)
    unlocked = fc_attacks.unlocks(probes_a, helpers(prep, com_a, truth_a), op, pairs)
    across = fc_attacks.unlocks(probes_a, helpers(prep, com_b, truth_b), op, pairs)
    prot, cross = unprot * unlocked, unprot * across
    p = protection._rates(prot[same], prot[~same])
    validation = _validate(templates, com_a, key_a, pairs, same, unlocked)
    linkage = fc_attacks.linkage(prep, com_a, com_b, pairs, same, track)
    recon = fc_attacks.reconstruction(prep, helpers(prep, com_a, truth_a), key_a, probes_a, op, track)
    verify_ms, search_u = _timing(case, templates, com_a, key_a)
    guess_us = _guess_us(key_a, op)
    d_sys = fc_attacks.d_sys(cross[same], cross[~same])
    report = {
        "modality": "iris",
        "scheme": "fuzzy-commitment",
        "dataset": str(folder),
        "images": len(samples) + fte,
        "identities": len(set(prep.identity.tolist())),
        "failure_to_enroll": fte,
        "genuine_pairs": int(same.sum()),
        "impostor_pairs": int((~same).sum()),
        "eer_unprotected": u["eer"],
        "eer_protected": p["eer"],
        "eer_ratio": p["eer"] / u["eer"] if u["eer"] else None,
        "fnmr_at_fmr_1pct_unprotected": u["fnmr_at_fmr_1pct"],
        "fnmr_at_fmr_1pct_protected": p["fnmr_at_fmr_1pct"],
        "fnmr_at_fmr_0_1pct_unprotected": u["fnmr_at_fmr_0_1pct"],
        "fnmr_at_fmr_0_1pct_protected": p["fnmr_at_fmr_0_1pct"],
        "threshold_at_fmr_0_1pct_unprotected": u["threshold_at_fmr_0_1pct"],
        "threshold_at_fmr_0_1pct_protected": p["threshold_at_fmr_0_1pct"],
        "operating_point": _describe(op) | {"chosen_on_this_data": operating is None},
        "genuine_decode_failure": float(1 - unlocked[same].mean()),
        "impostor_decode_success": float(unlocked[~same].mean()),
        "decoder_validation": validation,
        "d_sys": d_sys,
        "d_sys_estimator_floor": fc_attacks.d_sys_floor(int(same.sum()), cross[~same]),
        "cross_key_eer": protection._rates(cross[same], cross[~same])["eer"],
        "cross_key_unlocks": {"mated": float(across[same].mean()), "non_mated": float(across[~same].mean())},
        "helper_data_linkage": linkage,
        "reconstruction_success_at_fmr_0_1pct": recon["success"],
        "reconstruction": recon,
        "search_gallery": len(templates),
        "search_ms_unprotected": search_u,
        "search_ms_protected": verify_ms["impostor"] * len(templates),
        "search_ms_protected_is_estimate": True,
        "search_ratio": verify_ms["impostor"] * len(templates) / search_u if search_u else None,
        "message_guess_us": guess_us,
        "message_guess_us_hmac_only": _guess_us(key_a, dataclasses.replace(op, slow_check=False)),
        "exhaustive_search_cpu_s": guess_us * 2.0**op.key_bits / 1e6,
        "verify_ms": verify_ms,
        "decodes_per_second": 1000.0 * op_rotations() / verify_ms["impostor"],
        "sweep": sweep,
        "score_distributions": {
            "unprotected": {"genuine": protection._hist(unprot[same]), "impostor": protection._hist(unprot[~same])},
            "protected_same_key": {"genuine": protection._hist(prot[same]), "impostor": protection._hist(prot[~same])},
            "protected_across_keys": {
                "mated": protection._hist(cross[same]),
                "non_mated": protection._hist(cross[~same]),
            },
        },
    }
    systems = {
        "unprotected": (unprot[same], unprot[~same]),
        "fuzzy commitment": (prot[same], prot[~same]),
        "across keys (mated vs non-mated)": (cross[same], cross[~same]),
    }
    return report, systems


def op_rotations() -> int:
    return 2 * fc.IP.MAX_SHIFT + 1


def _describe(p: fc.FCParams) -> dict[str, Any]:
    return {
        "hadamard_block_bits": p.block,
        "symbol_bits": p.symbol_bits,
        "rs_n": p.n,
        "rs_k": p.k,
        "key_bits": p.key_bits,
        "enrolment_mask_stored": p.enrol_mask,
        "erasure_margin": p.margin,
        "mask_bits": p.mask_bits,
        "argon2id_check": p.slow_check,
    }


def _sweep(prep: Prepared, pairs: np.ndarray, same: np.ndarray, key: bytes, track) -> list[dict[str, Any]]:
    """Every k of every configuration: genuine decode failure and impostor decode success (unordered pairs)."""
    rows, probes_k = [], probes(prep, key)
    imp = np.flatnonzero(~same)
    sample = np.concatenate(
        [np.flatnonzero(same), np.random.default_rng(2).choice(imp, min(SWEEP_IMPOSTORS, imp.size), replace=False)]
    )
    pairs, same = pairs[sample], same[sample]
    for params in track(SWEEP, "parameter sweep", len(SWEEP)):
        truth = np.random.default_rng(params.block).integers(0, 2 * params.block, (len(prep.codes), params.n))
        errata = fc_attacks.errata(probes_k, helpers(prep, None, truth, key, params), params, pairs)
        for k in range(1, params.n):
            ok = errata <= params.n - k
            row = _describe(dataclasses.replace(params, k=k))
            rows.append(
                row
                | {
                    "genuine_failure": float(1 - ok[same].mean()),
                    "impostor_success": float(ok[~same].mean()),
                    "impostor_pairs": int((~same).sum()),
                }
            )
    return rows


def _choose(sweep: list[dict[str, Any]]) -> fc.FCParams:
    """Lowest genuine failure among the settings whose impostor unlocks stay <= 0.1 % and whose message is no
    easier to guess than chance (ties: longer key). Chosen on the data it is reported on: optimistic."""
    fine = [
        r
        for r in sweep
        if r["impostor_success"] <= IMPOSTOR_TARGET
        and r["key_bits"] >= MIN_KEY_BITS
        and (r["mask_bits"] or not r["enrolment_mask_stored"])
    ]  # a stored mask's size links: equalized
    if fine:
        best = min(fine, key=lambda r: (r["genuine_failure"], -r["key_bits"]))
    else:  # nothing meets the target: the fewest impostor unlocks (reported as such)
        best = min(sweep, key=lambda r: (r["impostor_success"], r["genuine_failure"]))
    return fc.FCParams(
        best["hadamard_block_bits"],
        best["rs_k"],
        best["enrolment_mask_stored"],
        best["erasure_margin"],
        mask_bits=best["mask_bits"],
    )


def _validate(templates, coms, key, pairs, same, unlocked) -> dict[str, Any]:
    """The real decoder on all genuine pairs, every impostor unlock and a random sample of other impostors."""
    rng = np.random.default_rng(1)
    imp = np.flatnonzero(~same)
    chosen = np.concatenate(
        [np.flatnonzero(same), imp[unlocked[imp]], rng.choice(imp, min(VALIDATED_IMPOSTORS, imp.size), replace=False)]
    )
    agree = sum((fc.verify(templates[pairs[q, 0]], key, coms[pairs[q, 1]]) > 0) == bool(unlocked[q]) for q in chosen)
    return {"pairs_checked": int(chosen.size), "agreeing": int(agree)}


def _timing(case: IrisCase, templates, coms, key) -> tuple[dict[str, float], float]:
    def ms(fn, items):
        out = []
        for it in items:
            t0 = time.perf_counter()
            fn(it)
            out.append((time.perf_counter() - t0) * 1000)
        return statistics.median(out)

    n = min(20, len(templates))
    genuine = ms(lambda i: fc.verify(templates[i], key, coms[i]), range(n))
    impostor = ms(lambda i: fc.verify(templates[i], key, coms[-1 - i]), range(n))
    search_u, _ = case.search_ms(templates, key)
    return {"genuine": genuine, "impostor": impostor}, search_u


def _guess_us(key: bytes, params: fc.FCParams) -> float:
    """Key known, the message can be guessed: one guess costs one check value (no decoding needed)."""
    guesses, salt = (20 if params.slow_check else 20_000), bytes(fc.SALT_BYTES)
    messages = np.random.default_rng(3).integers(0, 2**params.symbol_bits, (guesses, params.k), dtype=np.uint8)
    t0 = time.perf_counter()
    for m in messages:
        fc.check_value(key, m.tobytes(), salt, params.slow_check)
    return (time.perf_counter() - t0) / guesses * 1e6


def table(report: dict[str, Any]) -> str:
    op, rec, link = report["operating_point"], report["reconstruction"], report["helper_data_linkage"]
    lines = [
        protection.table(report).replace("pre-image attack", "reconstruction (dictionary unlock)"),
        f"operating point: Hadamard {op['hadamard_block_bits']} bits, RS({op['rs_n']}, {op['rs_k']}) = "
        f"{op['key_bits']}-bit key, enrolment mask {_mask(op)} (mask column: - none stored, all as captured, "
        f"N equalized to N usable bits), "
        f"erasure margin {op['erasure_margin']}",
        f"genuine decode failure {report['genuine_decode_failure'] * 100:.2f} %, impostor decode success "
        f"{report['impostor_decode_success'] * 100:.3f} %; real decoder agrees on "
        f"{report['decoder_validation']['agreeing']}/{report['decoder_validation']['pairs_checked']} pairs",
        "helper-data linkage without keys, D<->sys: " + ", ".join(f"{k} {v:.3f}" for k, v in link.items()),
        f"key known: dictionary {rec['success'] * 100:.3f} % per attempt, templates unlocked by some other eye "
        f"{rec['templates_unlocked_by_dictionary'] * 100:.1f} %; mean code {rec['mean_code'] * 100:.2f} %; "
        f"Rathgeb-Uhl {rec['rathgeb_uhl'] * 100:.2f} % of {rec['rathgeb_uhl_targets']} (chance 0.1 %)",
        f"guessing the {op['key_bits']}-bit message: {report['exhaustive_search_cpu_s']:.3g} CPU-s per template "
        f"({report['message_guess_us']:.2f} us per guess)",
        f"1:1 verify {report['verify_ms']['genuine']:.1f} ms genuine / {report['verify_ms']['impostor']:.1f} ms "
        f"impostor ({report['decodes_per_second']:.0f} decodes/s); 1:N ratio {report['search_ratio']:.0f}x",
        "trade-off (per configuration: where impostor unlocks reach <= 0.1 %, and keys of ~32 / 64 / 128 bits):",
        f"{'block':>6}{'mask':>6}{'margin':>8}{'k':>4}{'key bits':>10}{'genuine fail':>14}{'impostor ok':>13}",
    ]
    for r in _frontier(report["sweep"]):
        lines.append(
            f"{r['hadamard_block_bits']:>6}{_mask(r):>6}{r['erasure_margin']:>8.4f}"
            f"{r['rs_k']:>4}{r['key_bits']:>10}{r['genuine_failure'] * 100:>13.2f}%"
            f"{r['impostor_success'] * 100:>12.3f}%"
        )
    return "\n".join(lines)


def _mask(row: dict[str, Any]) -> str:
    return str(row["mask_bits"]) if row["mask_bits"] else ("all" if row["enrolment_mask_stored"] else "-")


def _frontier(sweep: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per configuration: the k just before and at <= 0.1 % impostor unlocks, and the keys nearest 32 / 64 / 128
    bits (when the code has them)."""
    out = []
    for _, group in itertools.groupby(
        sweep, key=lambda r: (r["hadamard_block_bits"], r["enrolment_mask_stored"], r["erasure_margin"], r["mask_bits"])
    ):
        rows = list(group)
        ok = [i for i, r in enumerate(rows) if r["impostor_success"] <= IMPOSTOR_TARGET]
        picks = {ok[0], max(ok[0] - 1, 0)} if ok else set()
        for bits in (32, 64, 128):
            near = min(range(len(rows)), key=lambda i: abs(rows[i]["key_bits"] - bits))
            if abs(rows[near]["key_bits"] - bits) <= rows[near]["symbol_bits"]:
                picks.add(near)
        out += [rows[i] for i in sorted(picks)]
    return out
