"""Stage 5: log-Gabor phase encoding into a fixed-size binary iris code and its mask.

Each row of the unwrapped iris is filtered along the angle with a 1-D log-Gabor filter (Field 1987;
as used by L. Masek, "Recognition of human iris patterns", 2003), applied as an analytic (one-sided)
filter in the Fourier domain — the angle is periodic, so the circular FFT has no border effects. A
Gaussian across rows gives the filter a radial envelope (a separable 2-D quadrature filter). Each
sample gives two bits, the phase quadrant (Daugman 1993). Masked bits: samples whose support is mostly
noise, and "fragile" bits whose phase component is near zero (Hollingsworth, Bowyer & Flynn 2009).

Bit layout: (column, row, [real, imaginary]) flattened, so rotating the eye by one code column is a
rotation of the packed code by CODE_ROWS * 2 bits — two bytes — which keeps shift search cheap.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from carekey.biometrics.iris import parameters as P
from carekey.biometrics.iris.occlusion import MaskedIris
from carekey.biometrics.iris.templates import IrisTemplate


def log_gabor(n: int, wavelength: float, sigma_on_f: float) -> np.ndarray:
    """One-sided log-Gabor transfer function over ``n`` FFT bins (zero at DC and negative frequencies)."""
    f = np.fft.fftfreq(n)
    g = np.zeros(n)
    pos = f > 0
    g[pos] = np.exp(-(np.log(f[pos] * wavelength) ** 2) / (2 * np.log(sigma_on_f) ** 2))
    return g


def code_rows() -> np.ndarray:
    lo, hi = P.NORM_RADIAL_RANGE
    return np.round(np.linspace(lo, hi, P.CODE_ROWS) * (P.NORM_RADIAL - 1)).astype(int)


def encode(iris: MaskedIris) -> IrisTemplate:
    tex = iris.texture.astype(np.float64)
    noise = iris.noise
    good = ~noise
    fill = float(np.median(tex[good])) if good.any() else float(tex.mean())
    tex = np.where(good, tex, fill)
    tex = tex - tex.mean(axis=1, keepdims=True)
    spectrum = np.fft.fft(tex, axis=1) * log_gabor(tex.shape[1], P.LOG_GABOR_WAVELENGTH, P.LOG_GABOR_SIGMA_ON_F)
    response = np.fft.ifft(spectrum, axis=1)
    response = ndimage.gaussian_filter1d(response.real, P.RADIAL_SMOOTHING, axis=0, mode="nearest") + 1j * (
        ndimage.gaussian_filter1d(response.imag, P.RADIAL_SMOOTHING, axis=0, mode="nearest")
    )
    noise_share = ndimage.gaussian_filter1d(noise.astype(np.float64), P.RADIAL_SMOOTHING, axis=0, mode="nearest")
    noise_share = ndimage.uniform_filter1d(noise_share, int(P.LOG_GABOR_WAVELENGTH // 2), axis=1, mode="wrap")

    rows = code_rows()
    cols = np.arange(P.CODE_COLS) * (P.NORM_ANGULAR // P.CODE_COLS)
    z = response[np.ix_(rows, cols)].T  # (CODE_COLS, CODE_ROWS)
    usable = noise_share[np.ix_(rows, cols)].T <= P.MASK_MAX_NOISE
    parts = np.stack([z.real, z.imag], axis=-1)  # (cols, rows, 2)
    bits = parts > 0
    mask = np.repeat(usable[..., None], 2, axis=-1)
    for k in range(2):
        mag = np.abs(parts[..., k])
        if usable.any():
            weak = mag < np.quantile(mag[usable], P.FRAGILE_BIT_QUANTILE)
            mask[..., k] &= ~weak
    return IrisTemplate.from_bits(bits.reshape(-1), mask.reshape(-1))
