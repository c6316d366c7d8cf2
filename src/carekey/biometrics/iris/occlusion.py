"""Stage 4: the noise mask — eyelids, eyelashes, reflections — on the unwrapped iris.

Working in the polar domain turns each eyelid into a per-angle cut-off radius: beyond the first
radius where (almost) everything outward is not iris-like, the lid covers the iris. "Iris-like" is
judged against robust statistics (median, MAD) of the lateral sectors, which lids rarely reach; dark
outliers are eyelashes and shadows, bright ones eyelid skin, sclera and reflections. The idea of
statistical eyelash detection follows Kong & Zhang (2001) and Daugman (2007, "New methods in iris
recognition"), here simplified to robust thresholds.
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
    noise: np.ndarray    # bool (R, A): True where the texture is not iris
    eyelid_fraction: float  # share of the band covered by eyelids

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
    tex = norm.texture
    rows = tex.shape[0]
    lateral = _sector(0, 30) | _sector(330, 360) | _sector(150, 210)
    ref = tex[1 : int(rows * 0.75), lateral]
    ref = ref[~(norm.reflections | norm.outside)[1 : int(rows * 0.75), lateral]]
    if ref.size < 50:
        ref = tex[~norm.reflections]
    med = float(np.median(ref))
    mad = max(1.4826 * float(np.median(np.abs(ref - med))), 3.0)
    smooth = ndimage.uniform_filter(tex, size=(1, 3), mode="wrap")
    dark = smooth < med - P.NOISE_MAD_DARK * mad
    bright = smooth > med + P.NOISE_MAD_BRIGHT * mad
    odd = dark | bright | norm.reflections | norm.outside

    lid = np.zeros_like(odd)
    for lo, hi in P.EYELID_SECTORS:
        cols = _sector(lo, hi)
        # share of non-iris pixels from row i outward, per column
        outward = np.cumsum(odd[::-1, cols], axis=0)[::-1] / np.arange(rows, 0, -1)[:, None]
        covered = (outward >= 0.6) & bright[:, cols]  # a lid starts with skin, then covers all
        first = np.where(covered.any(axis=0), covered.argmax(axis=0), rows)
        first = ndimage.median_filter(first, size=9, mode="nearest")
        lid[:, cols] = np.arange(rows)[:, None] >= first[None, :]
    noise = odd | lid
    noise = ndimage.binary_dilation(noise, structure=np.ones((3, 3), bool))
    return MaskedIris(tex, noise, float(lid.mean()))
