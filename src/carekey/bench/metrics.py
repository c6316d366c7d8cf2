"""Error rates of a verification system from genuine and impostor similarity scores.

Conventions follow ISO/IEC 19795-1: a comparison is accepted when score >= threshold; FMR is the
share of impostor comparisons accepted, FNMR the share of genuine comparisons rejected. Scores are
similarities (higher = more alike); a modality that produces distances converts them first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ErrorCurve:
    """FMR and FNMR at every distinct threshold, thresholds ascending."""

    thresholds: np.ndarray
    fmr: np.ndarray
    fnmr: np.ndarray


def error_curve(genuine: np.ndarray, impostor: np.ndarray) -> ErrorCurve:
    genuine = np.sort(np.asarray(genuine, dtype=np.float64))
    impostor = np.sort(np.asarray(impostor, dtype=np.float64))
    if genuine.size == 0 or impostor.size == 0:
        raise ValueError("need at least one genuine and one impostor score")
    top = max(genuine[-1], impostor[-1])
    thresholds = np.unique(np.concatenate([genuine, impostor, [np.nextafter(top, np.inf)]]))
    # accepted when score >= t: FMR = impostors >= t; FNMR = genuines < t
    fmr = 1.0 - np.searchsorted(impostor, thresholds, side="left") / impostor.size
    fnmr = np.searchsorted(genuine, thresholds, side="left") / genuine.size
    return ErrorCurve(thresholds, fmr, fnmr)


def equal_error_rate(curve: ErrorCurve) -> float:
    """EER: where FMR (falling) meets FNMR (rising), linearly interpolated between thresholds."""
    diff = curve.fmr - curve.fnmr  # decreasing in threshold
    idx = int(np.searchsorted(-diff, 0.0, side="left"))
    if idx == 0:
        return float((curve.fmr[0] + curve.fnmr[0]) / 2)
    if idx >= diff.size:
        return float((curve.fmr[-1] + curve.fnmr[-1]) / 2)
    d0, d1 = diff[idx - 1], diff[idx]
    w = d0 / (d0 - d1) if d0 != d1 else 0.5
    fmr = curve.fmr[idx - 1] + w * (curve.fmr[idx] - curve.fmr[idx - 1])
    fnmr = curve.fnmr[idx - 1] + w * (curve.fnmr[idx] - curve.fnmr[idx - 1])
    return float((fmr + fnmr) / 2)


def fnmr_at_fmr(curve: ErrorCurve, target_fmr: float) -> float:
    """FNMR at the lowest threshold whose FMR does not exceed ``target_fmr``."""
    ok = np.nonzero(curve.fmr <= target_fmr)[0]
    return float(curve.fnmr[ok[0]]) if ok.size else 1.0


def threshold_at_fmr(curve: ErrorCurve, target_fmr: float) -> float:
    ok = np.nonzero(curve.fmr <= target_fmr)[0]
    return float(curve.thresholds[ok[0]]) if ok.size else float(curve.thresholds[-1])
