"""Minutia Cylinder-Code, bit version: one fixed-size local descriptor per minutia.

After Cappelli, Ferrara, Maltoni, "Minutia Cylinder-Code", IEEE TPAMI 2010. The cylinder of a
minutia is a 3-D grid (NS x NS cells around the minutia, rotated to its direction, times ND
angular sections); a cell's bit is set when the neighbouring minutiae near that cell, with a
direction difference near that section's, contribute more than MU_PSI. A validity mask marks
cells inside the radius and inside the (enlarged) convex hull of the minutiae.

Written by hand with numba because no maintained Python library implements MCC.
Bits are stored section by section: section k occupies words [k*W, (k+1)*W) with W = NS*NS/64,
and the validity mask (the same for every section) is one block of W words.
"""

from __future__ import annotations

import math

import cv2
import numba
import numpy as np

from carekey.biometrics.fingerprint import parameters as P

CELLS = P.MCC_NS * P.MCC_NS
WORDS_PER_SECTION = CELLS // 64
WORDS = WORDS_PER_SECTION * P.MCC_ND


@numba.njit(cache=True)
def _angle_diff(a: float, b: float) -> float:
    """Difference a - b of two angles, wrapped to [-pi, pi)."""
    d = a - b
    while d < -math.pi:
        d += 2 * math.pi
    while d >= math.pi:
        d -= 2 * math.pi
    return d


@numba.njit(cache=True)
def _inside_enlarged_hull(px, py, hull, margin) -> bool:
    n = hull.shape[0]
    if n < 3:
        return False
    sign = 0.0
    inside = True
    best = 1e18
    for e in range(n):
        ax, ay = hull[e, 0], hull[e, 1]
        bx, by = hull[(e + 1) % n, 0], hull[(e + 1) % n, 1]
        cross = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
        if cross != 0.0:
            if sign == 0.0:
                sign = cross
            elif cross * sign < 0.0:
                inside = False
        # distance to the segment
        vx, vy = bx - ax, by - ay
        length2 = vx * vx + vy * vy
        t = 0.0 if length2 == 0 else ((px - ax) * vx + (py - ay) * vy) / length2
        t = min(1.0, max(0.0, t))
        dx, dy = px - (ax + t * vx), py - (ay + t * vy)
        best = min(best, dx * dx + dy * dy)
    return inside or best <= margin * margin


@numba.njit(cache=True)
def _cylinders(xyt, hull, ns, nd, radius, sigma_s, sigma_d, mu_psi, margin, min_valid, min_neigh, neigh_dist):
    n = xyt.shape[0]
    cells = ns * ns
    wps = cells // 64
    bits = np.zeros((n, wps * nd), dtype=np.uint64)
    masks = np.zeros((n, wps), dtype=np.uint64)
    keep = np.zeros(n, dtype=np.bool_)
    delta_s = 2.0 * radius / ns
    delta_d = 2.0 * math.pi / nd
    reach = 3.0 * sigma_s
    gauss_norm = 1.0 / (sigma_s * math.sqrt(2.0 * math.pi))
    erf_scale = 1.0 / (sigma_d * math.sqrt(2.0))
    disk = 0
    for i in range(ns):
        for j in range(ns):
            ci, cj = (i + 0.5 - ns / 2.0) * delta_s, (j + 0.5 - ns / 2.0) * delta_s
            if ci * ci + cj * cj <= radius * radius:
                disk += 1
    contrib = np.zeros(nd)
    for m in range(n):
        xm, ym, tm = xyt[m, 0], xyt[m, 1], xyt[m, 2]
        neighbours = 0
        for t in range(n):
            if t != m and (xyt[t, 0] - xm) ** 2 + (xyt[t, 1] - ym) ** 2 <= neigh_dist * neigh_dist:
                neighbours += 1
        if neighbours < min_neigh:
            continue
        c, s = math.cos(tm), math.sin(tm)
        valid = 0
        for i in range(ns):
            for j in range(ns):
                u, v = (i + 0.5 - ns / 2.0) * delta_s, (j + 0.5 - ns / 2.0) * delta_s
                if u * u + v * v > radius * radius:
                    continue
                px, py = xm + c * u - s * v, ym + s * u + c * v
                if not _inside_enlarged_hull(px, py, hull, margin):
                    continue
                valid += 1
                cell = i * ns + j
                masks[m, cell // 64] |= np.uint64(1) << np.uint64(cell % 64)
                contrib[:] = 0.0
                for t in range(n):
                    if t == m:
                        continue
                    dx, dy = xyt[t, 0] - px, xyt[t, 1] - py
                    d2 = dx * dx + dy * dy
                    if d2 > reach * reach:
                        continue
                    cs = gauss_norm * math.exp(-d2 / (2.0 * sigma_s * sigma_s))
                    dtheta = _angle_diff(tm, xyt[t, 2])
                    for k in range(nd):
                        phi = -math.pi + (k + 0.5) * delta_d
                        a = _angle_diff(phi, dtheta)
                        cd = 0.5 * (math.erf((a + delta_d / 2) * erf_scale) - math.erf((a - delta_d / 2) * erf_scale))
                        contrib[k] += cs * cd
                for k in range(nd):
                    if contrib[k] > mu_psi:
                        w = k * wps + cell // 64
                        bits[m, w] |= np.uint64(1) << np.uint64(cell % 64)
        keep[m] = valid >= min_valid * disk
    return bits, masks, keep


def convex_hull(xy: np.ndarray) -> np.ndarray:
    if len(xy) < 3:
        return np.zeros((0, 2), dtype=np.float64)
    return cv2.convexHull(xy.astype(np.float32)).reshape(-1, 2).astype(np.float64)


def cylinders(xyt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cylinders of the minutiae ``xyt`` (n x 3: x, y, direction in radians).

    Returns ``(xyt_kept, bits, masks)`` for the valid cylinders only: bits is (k, WORDS) uint64,
    masks (k, WORDS_PER_SECTION) uint64.
    """
    xyt = np.ascontiguousarray(xyt, dtype=np.float64).reshape(-1, 3)
    hull = convex_hull(xyt[:, :2])
    bits, masks, keep = _cylinders(
        xyt,
        hull,
        P.MCC_NS,
        P.MCC_ND,
        P.MCC_RADIUS,
        P.MCC_SIGMA_S,
        P.MCC_SIGMA_D,
        P.MCC_MU_PSI,
        P.MCC_HULL_MARGIN,
        P.MCC_MIN_VALID_CELLS,
        P.MCC_MIN_NEIGHBOURS,
        P.MCC_NEIGHBOUR_DIST,
    )
    return xyt[keep], bits[keep], masks[keep]
