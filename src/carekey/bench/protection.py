"""Protection benchmark: performance preservation, unlinkability, irreversibility and 1:N speed.

One run over a dataset folder (``<identity>_<sample>.<ext>``, as ``bench accuracy``):

- every genuine / impostor pair scored unprotected and protected (same key), side by side;
- the same pairs across two program keys (key A for the first template, key B for the second):
  mated and non-mated score distributions and D<->sys (``unlinkability``);
- the pre-image attack of ``inversion`` with the key known, on up to ATTACKED templates: the
  reconstruction is matched with the unprotected matcher against every unprotected template of the
  same identity, at the unprotected threshold for FMR 0.1 % of this run; chance is 0.1 %;
- 1:N search time over the dataset's templates, unprotected index vs protected gallery.
Failures to enroll score the worst value in every pair, as in ``bench accuracy``.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from carekey.bench import accuracy, metrics, unlinkability
from carekey.bench.protection_cases import CASES
from carekey.errors import CarekeyError

Progress = Callable[[Iterable[Any], str, int], Iterable[Any]]
ATTACKED = 24


def _rates(genuine: np.ndarray, impostor: np.ndarray) -> dict[str, float]:
    curve = metrics.error_curve(genuine, impostor)
    return {
        "eer": metrics.equal_error_rate(curve),
        "fnmr_at_fmr_1pct": metrics.fnmr_at_fmr(curve, 0.01),
        "fnmr_at_fmr_0_1pct": metrics.fnmr_at_fmr(curve, 0.001),
        "threshold_at_fmr_0_1pct": metrics.threshold_at_fmr(curve, 0.001),
    }


def _hist(scores: np.ndarray) -> dict[str, list]:
    counts, edges = np.histogram(scores, bins=20, range=(0.0, 1.0))
    return {"edges": [round(float(e), 3) for e in edges], "counts": [int(c) for c in counts]}


def run(
    modality: str,
    folder: Path,
    progress: Progress | None = None,
    seed_keys: tuple[bytes, bytes] | None = None,
    attacked: int = ATTACKED,
) -> tuple[dict[str, Any], dict[str, tuple[np.ndarray, np.ndarray]]]:
    case = CASES[modality]()
    track = progress or (lambda it, _label, _n: it)
    key_a, key_b = seed_keys or (secrets.token_bytes(32), secrets.token_bytes(32))
    samples = accuracy.load_dataset(folder)
    templates: list[Any] = []
    for s in track(samples, f"extract {modality}", len(samples)):
        try:
            templates.append(case.extract(s.path))
        except CarekeyError:
            templates.append(None)
    ok = [t is not None for t in templates]
    enr_a = [case.enrolled(t, key_a) if t is not None else None for t in templates]
    enr_b = [case.enrolled(t, key_b) if t is not None else None for t in templates]
    probe_a = [case.probe(t, key_a) if t is not None else None for t in templates]
    pairs = list(itertools.combinations(range(len(samples)), 2))
    same = np.array([samples[i].identity == samples[j].identity for i, j in pairs])
    unprot, prot, cross = (np.zeros(len(pairs)) for _ in range(3))
    for k, (i, j) in enumerate(track(pairs, "compare", len(pairs))):
        if ok[i] and ok[j]:
            unprot[k] = case.unprotected(templates[i], templates[j])
            prot[k] = case.protected(probe_a[i], enr_a[j])
            cross[k] = case.protected(probe_a[i], enr_b[j])
    u, p = _rates(unprot[same], unprot[~same]), _rates(prot[same], prot[~same])
    d_sys = unlinkability.d_sys(cross[same], cross[~same])
    attack = _attack(case, samples, templates, key_a, u["threshold_at_fmr_0_1pct"], attacked, track)
    good = [t for t in templates if t is not None]
    search_u, search_p = case.search_ms(good, key_a)
    report = {
        "modality": modality,
        "dataset": str(folder),
        "images": len(samples),
        "identities": len({s.identity for s in samples}),
        "failure_to_enroll": ok.count(False),
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
        "d_sys": d_sys,
        "d_sys_estimator_floor": unlinkability.d_sys_floor(int(same.sum()), cross[~same]),
        "cross_key_eer": _rates(cross[same], cross[~same])["eer"],
        "reconstruction_success_at_fmr_0_1pct": attack["success"],
        "reconstruction": attack,
        "search_gallery": len(good),
        "search_ms_unprotected": search_u,
        "search_ms_protected": search_p,
        "search_ratio": search_p / search_u if search_u else None,
        "score_distributions": {
            "unprotected": {"genuine": _hist(unprot[same]), "impostor": _hist(unprot[~same])},
            "protected_same_key": {"genuine": _hist(prot[same]), "impostor": _hist(prot[~same])},
            "protected_across_keys": {"mated": _hist(cross[same]), "non_mated": _hist(cross[~same])},
        },
    }
    systems = {
        "unprotected": (unprot[same], unprot[~same]),
        "protected": (prot[same], prot[~same]),
        "across keys (mated vs non-mated)": (cross[same], cross[~same]),
    }
    return report, systems


def _attack(
    case: Any, samples: list, templates: list, key: bytes, threshold: float, limit: int, track: Progress
) -> dict[str, Any]:
    """Reconstruct up to ``limit`` templates (spread over identities) and match them unprotected."""
    step = max(1, sum(t is not None for t in templates) // max(limit, 1))
    chosen = [i for i, t in enumerate(templates) if t is not None][::step][:limit]
    same_hits, other_hits, other_total, scores = 0, 0, 0, []
    for i in track(chosen, "pre-image attack", len(chosen)):
        rec = case.attack(templates[i], key)
        own = case.unprotected(rec, templates[i])
        same_hits += own >= threshold
        scores.append(own)
        for j, t in enumerate(templates):
            if j != i and t is not None and samples[j].identity == samples[i].identity:
                s = case.unprotected(rec, t)
                other_hits += s >= threshold
                other_total += 1
    attacked = len(chosen)
    total = attacked + other_total
    return {
        "attacked_templates": attacked,
        "threshold": threshold,
        "chance": 0.001,
        "success": (same_hits + other_hits) / total if total else 0.0,
        "success_vs_source_template": same_hits / attacked if attacked else 0.0,
        "success_vs_other_samples": other_hits / other_total if other_total else 0.0,
        "score_vs_source_median": float(np.median(scores)) if scores else None,
    }


def table(report: dict[str, Any]) -> str:
    rows = [
        ("EER", "eer_unprotected", "eer_protected", True),
        ("FNMR @ FMR 1 %", "fnmr_at_fmr_1pct_unprotected", "fnmr_at_fmr_1pct_protected", True),
        ("FNMR @ FMR 0.1 %", "fnmr_at_fmr_0_1pct_unprotected", "fnmr_at_fmr_0_1pct_protected", True),
        (f"1:N search ms (N={report['search_gallery']})", "search_ms_unprotected", "search_ms_protected", False),
    ]
    lines = [
        f"{report['modality']} — {report['dataset']} ({report['images']} images, "
        f"{report['failure_to_enroll']} failed to enroll)",
        f"{'metric':28}{'unprotected':>14}{'protected':>14}",
    ]
    for label, a, b, pct in rows:
        fmt = (lambda v: f"{v * 100:.2f} %") if pct else (lambda v: f"{v:.2f}")
        lines.append(f"{label:28}{fmt(report[a]):>14}{fmt(report[b]):>14}")
    lines.append(
        f"D<->sys across keys: {report['d_sys']:.3f} (estimator floor at this sample size "
        f"{report['d_sys_estimator_floor']:.3f}; cross-key EER {report['cross_key_eer'] * 100:.1f} %)"
    )
    rec = report["reconstruction"]
    lines.append(
        f"pre-image attack, key known: {rec['success'] * 100:.2f} % accepted at FMR 0.1 % "
        f"(source {rec['success_vs_source_template'] * 100:.1f} %, other samples "
        f"{rec['success_vs_other_samples'] * 100:.1f} %; chance 0.1 %)"
    )
    return "\n".join(lines)
