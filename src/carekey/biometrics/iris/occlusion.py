"""Stage 4: the noise mask — eyelids, eyelashes, reflections — on the unwrapped iris.

Working in the polar domain turns each eyelid into a per-angle cut-off radius: beyond the first
radius where (almost) everything outward is not iris-like, the lid covers the iris. "Iris-like" is
judged against robust statistics (median, MAD) of the lateral sectors, which lids rarely reach; dark
outliers are eyelashes and shadows, bright ones eyelid skin, sclera and reflections. The idea of
statistical eyelash detection follows Kong & Zhang (2001) and Daugman (2007, "New methods in iris
recognition"), here simplified to robust thresholds anchored on the measured pupil and sclera levels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from carekey.biometrics.iris import parameters as P
from carekey.biometrics.iris.normalization import NormalizedIris


@dataclass(frozen=True)
class MaskedIris:
    texture: np.ndarray  # float32 (R, A)
    noise: np.ndarray  # bool (R, A): True where the texture is not iris
    eyelid_fraction: float  # share of the eyelid sectors (top and bottom of the iris) covered by lids

    def __post_init__(self) -> None:
        if self.texture.shape != self.noise.shape or self.noise.dtype != bool:
            raise ValueError("texture and noise mask must have the same shape")
        if not 0.0 <= self.eyelid_fraction <= 1.0:
            raise ValueError("eyelid_fraction must be in [0, 1]")


def _angles_deg() -> np.ndarray:
    return np.linspace(0.0, 360.0, P.NORM_ANGULAR, endpoint=False)


def _sector(lo: float, hi: float) -> np.ndarray:
    a = _angles_deg()
    return (a >= lo) & (a <= hi)


def mask_noise(norm: NormalizedIris) -> MaskedIris:
    tex = ndimage.gaussian_filter(norm.texture.astype(np.float64), sigma=(0.7, 1.0), mode=("nearest", "wrap"))
    rows = tex.shape[0]
    known = ~(norm.reflections | norm.outside)
    lateral = _sector(0, 30) | _sector(330, 360) | _sector(150, 210)
    ref = tex[1 : int(rows * 0.75), lateral][known[1 : int(rows * 0.75), lateral]]
    if ref.size < 50:
        ref = tex[known] if known.any() else tex.ravel()
    med = float(np.median(ref))
    mad = max(1.4826 * float(np.median(np.abs(ref - med))), 2.0)
    # the iris level of each angle, from the inner band (illumination often differs above and below)
    inner = np.where(known, tex, np.nan)[1 : max(3, int(rows * P.LID_REFERENCE_DEPTH))]
    level = (
        np.nanmedian(np.where(np.isnan(inner).all(axis=0), med, inner), axis=0)
        if inner.size
        else np.full(tex.shape[1], med)
    )
    level = ndimage.median_filter(np.where(np.isnan(level), med, level), size=15, mode="wrap")
    bright_step = max(P.NOISE_MAD_BRIGHT * mad, 0.5 * norm.limbus_step)
    dark_step = max(P.NOISE_MAD_DARK * mad, 0.5 * norm.pupil_step)
    covered_inside = level > med + bright_step  # even the inner band is skin: lid down to the pupil
    level = np.minimum(level, med + bright_step)
    bright = tex > level + bright_step
    dark = tex < level - dark_step
    # a dark region is noise (lashes, lid shadow) when it reaches the limbus inside an eyelid sector,
    # where lashes and shadows come from; enclosed dark spots are crypts, i.e. iris texture
    labels, count = ndimage.label(dark, structure=np.ones((3, 3), bool))
    lid_cols = np.zeros(tex.shape[1], bool)
    for lo, hi in P.EYELID_SECTORS:
        lid_cols |= _sector(lo, hi)
    rooted = np.zeros(count + 1, bool)
    rooted[np.unique(labels[-2:, lid_cols])] = True
    rooted[0] = False
    dark = rooted[labels]
    odd = dark | bright | ~known

    lid = np.zeros_like(odd)
    sectors = np.zeros(tex.shape[1], bool)
    for lo, hi in P.EYELID_SECTORS:
        sectors |= _sector(lo, hi)
        cols = _sector(lo, hi)
        # from row i outward, the share of skin-bright pixels: a lid covers everything beyond its edge
        depth = np.arange(rows, 0, -1)[:, None]
        bright_out = np.cumsum(bright[::-1, cols], axis=0)[::-1] / depth
        covered = (bright_out >= 0.6) & bright[:, cols]
        first = np.where(covered.any(axis=0), covered.argmax(axis=0), rows)
        first = np.where(covered_inside[cols], 0, first)
        first = ndimage.median_filter(first, size=9, mode="nearest")
        lid[:, cols] = np.arange(rows)[:, None] >= first[None, :]
    noise = ndimage.binary_dilation(odd | lid, structure=np.ones((3, 3), bool))
    return MaskedIris(norm.texture, noise, float(lid[:, sectors].mean()))
