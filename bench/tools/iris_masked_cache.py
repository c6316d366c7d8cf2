"""Iris accuracy from cached segmentations: extract once, re-encode and re-score many times.

    # 1. segment + mask every image once (2 processes), pickle circles, unwrapped/masked iris, rejection
    nice -n 19 python bench/tools/iris_masked_cache.py extract out.pkl <folder> [<folder> ...]
    # 2. encode the cached masked irises with the code on PYTHONPATH and score every pair
    nice -n 19 python bench/tools/iris_masked_cache.py score out.pkl --split tune|check|all

Scoring follows `carekey bench accuracy`: every pair of images, identity = the file stem before the last
"_", an image the pipeline rejects scores the worst value (0) in each of its pairs, similarity = 1 - HD_norm
over +-MAX_SHIFT code columns. Only the encoding and the matcher are re-run, so this answers "what does an
encoding / matching change do" exactly, in seconds, for images whose segmentation does not change.
Split (issue 12): MMU1 subjects 01-23 tune, 24-46 check; IITD subjects 001-050 tune, 051-100 check.
"""

from __future__ import annotations

import argparse
import itertools
import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from carekey.bench import metrics
from carekey.biometrics.iris import capture, encoding, matching, normalization, occlusion, quality, segmentation
from carekey.errors import CarekeyError


def _work(path: str) -> dict:
    try:
        seg = segmentation.segment(capture.decode(Path(path).read_bytes()))
        masked = occlusion.mask_noise(normalization.rubber_sheet(seg))
    except CarekeyError as exc:
        return {"p": path, "c": None, "m": None, "err": exc.message}
    try:
        quality.check(seg, masked)
        err = None
    except CarekeyError as exc:
        err = exc.message
    circles = (seg.pupil.x, seg.pupil.y, seg.pupil.r, seg.iris.x, seg.iris.y, seg.iris.r)
    return {"p": path, "c": circles, "m": masked, "err": err}


def split_of(stem: str) -> str:
    subject = stem.split("_")[0].rstrip("LR")
    return "tune" if int(subject) <= (23 if len(subject) == 2 else 50) else "check"


def score(res: list[dict], which: str = "all") -> dict:
    rows = [r for r in res if which == "all" or split_of(Path(r["p"]).stem) == which]
    ids = [Path(r["p"]).stem.rsplit("_", 1)[0] for r in rows]
    tpl = [encoding.encode(r["m"]) if r["err"] is None else None for r in rows]
    ok = [i for i, t in enumerate(tpl) if t is not None]
    codes = np.stack([tpl[i].code.view("<u8") for i in ok])
    masks = np.stack([tpl[i].mask.view("<u8") for i in ok])
    best = np.full((len(ok), len(ok)), np.inf)
    for s in matching.shift_range():
        sc = np.stack([matching.shifted(tpl[i], np.array([s]))[0][0] for i in ok])
        sm = np.stack([matching.shifted(tpl[i], np.array([s]))[1][0] for i in ok])
        for a in range(0, len(ok), 64):  # blocks keep the (a, b, words) arrays small
            common = masks[a : a + 64, None, :] & sm[None, :, :]
            diff = np.bitwise_count((codes[a : a + 64, None, :] ^ sc[None, :, :]) & common).sum(-1)
            n = np.bitwise_count(common).sum(-1)
            best[a : a + 64] = np.minimum(best[a : a + 64], matching.normalized_hd(diff, n))
    sim = np.zeros((len(rows), len(rows)))
    sim[np.ix_(ok, ok)] = np.clip(1.0 - best, 0.0, 1.0)
    gen, imp, worst = [], [], []
    for i, j in itertools.combinations(range(len(rows)), 2):
        (gen if ids[i] == ids[j] else imp).append(sim[i, j])
        if ids[i] == ids[j]:
            worst.append((sim[i, j], Path(rows[i]["p"]).stem, Path(rows[j]["p"]).stem))
    curve = metrics.error_curve(np.array(gen), np.array(imp))
    # the plain-hd baseline of `bench accuracy` on the same codes: HD over all bits as stored, no shift
    plain = np.zeros((len(rows), len(rows)))
    plain[np.ix_(ok, ok)] = 1.0 - np.bitwise_count(codes[:, None, :] ^ codes[None, :, :]).sum(-1) / (
        64 * codes.shape[1]
    )
    pg = [plain[i, j] for i, j in itertools.combinations(range(len(rows)), 2) if ids[i] == ids[j]]
    pi = [plain[i, j] for i, j in itertools.combinations(range(len(rows)), 2) if ids[i] != ids[j]]
    baseline = metrics.equal_error_rate(metrics.error_curve(np.array(pg), np.array(pi)))
    return {
        "baseline_plain_hd_eer": baseline,
        "images": len(rows),
        "fte": len(rows) - len(ok),
        "eer": metrics.equal_error_rate(curve),
        "fnmr_at_fmr_1pct": metrics.fnmr_at_fmr(curve, 0.01),
        "fnmr_at_fmr_0_1pct": metrics.fnmr_at_fmr(curve, 0.001),
        "best_impostor_hd_norm": 1.0 - max(imp),
        "worst_genuine": sorted(worst)[:10],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["extract", "score"])
    ap.add_argument("pickle")
    ap.add_argument("folders", nargs="*")
    ap.add_argument("--split", default="all", choices=["tune", "check", "all"])
    args = ap.parse_args()
    if args.command == "extract":
        files = [str(f) for d in args.folders for f in sorted(Path(d).glob("*.png"))]
        with ProcessPoolExecutor(2) as ex:
            res = list(ex.map(_work, files, chunksize=8))
        with open(args.pickle, "wb") as fh:
            pickle.dump(res, fh)
        print(len(res), "images,", sum(r["err"] is not None for r in res), "rejected")
        return
    with open(args.pickle, "rb") as fh:
        res = pickle.load(fh)
    r = score(res, args.split)
    print(
        f"{args.pickle} [{args.split}] images {r['images']} FTE {r['fte']} EER {100 * r['eer']:.2f} % "
        f"FNMR@FMR1% {100 * r['fnmr_at_fmr_1pct']:.2f} % FNMR@FMR0.1% {100 * r['fnmr_at_fmr_0_1pct']:.2f} % "
        f"lowest impostor HD_norm {r['best_impostor_hd_norm']:.3f}"
        f" plain-hd EER {100 * r['baseline_plain_hd_eer']:.2f} %"
    )
    print("worst genuine:", " ".join(f"{a}/{b}:{1 - s:.3f}" for s, a, b in r["worst_genuine"]))


if __name__ == "__main__":
    main()
