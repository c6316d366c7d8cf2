"""DET curves and score distributions as PNG (matplotlib, Agg backend, no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from carekey.bench import metrics


def det_plot(systems: dict[str, tuple[np.ndarray, np.ndarray]], out: Path, title: str) -> Path:
    """DET (FNMR vs FMR on normal-deviate axes, ISO/IEC 19795-1) plus score histograms."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import norm

    ticks = np.array([0.0001, 0.001, 0.01, 0.05, 0.2, 0.5])
    fig, (det, hist) = plt.subplots(1, 2, figsize=(12, 5))
    for name, (gen, imp) in systems.items():
        curve = metrics.error_curve(gen, imp)
        eps = 1e-5
        x = norm.ppf(np.clip(curve.fmr, eps, 1 - eps))
        y = norm.ppf(np.clip(curve.fnmr, eps, 1 - eps))
        det.plot(x, y, label=f"{name} (EER {metrics.equal_error_rate(curve) * 100:.2f} %)")
        hist.hist(gen, bins=40, range=(0, 1), alpha=0.5, density=True, label=f"{name} genuine")
        hist.hist(imp, bins=40, range=(0, 1), alpha=0.5, density=True, label=f"{name} impostor")
    det.set_xticks(norm.ppf(ticks), [f"{t * 100:g}%" for t in ticks])
    det.set_yticks(norm.ppf(ticks), [f"{t * 100:g}%" for t in ticks])
    det.set_xlim(norm.ppf(0.00005), norm.ppf(0.6))
    det.set_ylim(norm.ppf(0.00005), norm.ppf(0.6))
    det.plot([-5, 5], [-5, 5], color="grey", lw=0.5, ls=":")
    det.set_xlabel("false match rate (FMR)")
    det.set_ylabel("false non-match rate (FNMR)")
    det.set_title(f"DET — {title}")
    det.grid(True, lw=0.3)
    det.legend(loc="upper right", fontsize=8)
    hist.set_xlabel("similarity score")
    hist.set_ylabel("density")
    hist.set_title("score distributions")
    hist.legend(fontsize=7)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
