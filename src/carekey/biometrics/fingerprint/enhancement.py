"""Contextual ridge enhancement before mindtct: oriented Gabor filtering.

After Hong, Wan, Jain, "Fingerprint image enhancement: algorithm and performance evaluation",
IEEE TPAMI 20(8), 1998: normalize, estimate the local ridge orientation (smoothed squared
gradients) and the ridge frequency, and filter every pixel with the Gabor filter tuned to them.
Simplifications: one ridge frequency per image (from the spectrum's peak in the ridge band) and a
bank of GABOR_ORIENTATIONS filters applied with OpenCV, each pixel taking the response of the
filter nearest its orientation. Written by hand: OpenCV has the kernels but no fingerprint
enhancement, and the maintained libraries that have one (e.g. fingerprint_enhancer) copy a
MATLAB script pixel by pixel and are far slower.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from carekey.biometrics.fingerprint import parameters as P


def ridge_period(pixels: np.ndarray) -> float:
    """Dominant ridge period (pixels) of a 500 dpi image: the spectral peak in the ridge band."""
    img = pixels.astype(np.float64)
    img -= img.mean()
    h, w = img.shape
    power = np.abs(np.fft.fft2(img * np.outer(np.hanning(h), np.hanning(w)))) ** 2
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    radius = np.sqrt(fx * fx + fy * fy)
    low, high = 1.0 / P.RIDGE_PERIOD_PX[1], 1.0 / P.RIDGE_PERIOD_PX[0]
    edges = np.linspace(low, high, 41)
    which = np.digitize(radius, edges)
    energy: np.ndarray = np.bincount(which.ravel(), weights=power.ravel(), minlength=42)[1:41]
    centres = (edges[:-1] + edges[1:]) / 2
    energy = np.convolve(energy, np.ones(3) / 3, mode="same")  # the peak of a smoothed radial profile
    return float(1.0 / centres[int(np.argmax(energy))])


def orientation(img: np.ndarray) -> np.ndarray:
    """Per-pixel direction (radians) of the intensity gradient across the ridges, in [-pi/2, pi/2)."""
    gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3)
    s = P.ENHANCE_ORIENTATION_SIGMA
    gxx = cv2.GaussianBlur(gx * gx - gy * gy, (0, 0), s)
    gxy = cv2.GaussianBlur(2.0 * gx * gy, (0, 0), s)
    return 0.5 * np.arctan2(gxy, gxx)


def enhance(pixels: np.ndarray, foreground: np.ndarray | None = None) -> np.ndarray:
    """Gabor-enhanced 8-bit copy of a 500 dpi grayscale print (dark ridges stay dark)."""
    img = pixels.astype(np.float32)
    mean = cv2.blur(img, (P.ENHANCE_NORM_BLOCK, P.ENHANCE_NORM_BLOCK))
    var = cv2.blur(img * img, (P.ENHANCE_NORM_BLOCK, P.ENHANCE_NORM_BLOCK)) - mean * mean
    norm = (img - mean) / np.sqrt(np.maximum(var, 1.0))  # local zero mean, unit variance
    theta = orientation(norm)
    period = ridge_period(pixels)
    n = P.GABOR_ORIENTATIONS
    size = int(2 * round(3 * P.GABOR_SIGMA_SHARE * period) + 1)
    best = np.zeros_like(norm)
    bins = np.mod(np.round(theta / (math.pi / n)).astype(np.int64), n)
    for k in range(n):
        kernel = cv2.getGaborKernel(
            (size, size), P.GABOR_SIGMA_SHARE * period, k * math.pi / n, period, P.GABOR_ASPECT, 0.0, ktype=cv2.CV_32F
        )
        kernel -= kernel.mean()  # no response to flat regions
        response = cv2.filter2D(norm, cv2.CV_32F, kernel)
        best = np.where(bins == k, response, best)
    scale = float(np.percentile(np.abs(best), 99)) or 1.0
    out = np.clip(128.0 + 127.0 * best / scale, 0, 255)
    if foreground is not None:
        out = np.where(foreground, out, 255.0)
    return out.astype(np.uint8)
