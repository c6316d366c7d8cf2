"""Every tuning constant of the fingerprint pipeline, in one place (the SourceAFIS habit).

Distances are in pixels at 500 dpi (images at another resolution are rescaled first), angles in
radians. Matcher constants follow Cappelli, Ferrara, Maltoni, "Minutia Cylinder-Code: a new
representation and matching technique for fingerprint recognition", IEEE TPAMI 32(12), 2010
(MCC), bit-based variant with local similarity sort and relaxation (LSS-R), except where noted.
Thresholds were calibrated on FVC2002 DB1_B and DB2_B only (DB3_B and DB4_B are held out to check
that nothing was over-fitted); see ``bench/results/fingerprint/``.
"""

from __future__ import annotations

import math

# --- capture checks -------------------------------------------------------------------------
NOMINAL_DPI = 500
MIN_DPI = 350  # lower resolutions are refused (ridge period under ~6 px); between 350 and 500: upscaled
MAX_DPI = 2000
MIN_SIDE_PX = 150  # after rescaling to 500 dpi: smaller than ~7.6 mm is no usable print
MAX_SIDE_PX = 2000  # larger than 10 cm at 500 dpi is not a single-finger capture
MAX_FILE_BYTES = 20 * 1024 * 1024
MIN_GRAY_STD = 8.0  # standard deviation of gray levels below this = blank / uniform image
# Ridge-frequency check: share of spectral energy in the ridge band (periods 5..15 px at 500 dpi)
RIDGE_PERIOD_PX = (5.0, 15.0)
MIN_RIDGE_BAND_ENERGY = 0.135  # white noise has 0.11; the poorest FVC2002 print 0.157
MIN_NFIQ2 = 5  # NFIQ2 score 0..100; below it the capture is refused (configurable per call)
MIN_MINUTIAE = 8  # fewer minutiae than this cannot identify anybody

# --- minutiae extraction (NBIS mindtct via nbis-py) -------------------------------------------
MINDTCT_MIN_RELIABILITY = 0.0  # keep every minutia; MCC weighs them by neighbourhood instead
# Foreground segmentation (smoothed squared gradient) and border filtering; chosen on DB1/DB2:
# dropping minutiae within 8 px of the background lowered DB2's EER from 0.71 % to 0.31 %.
SEGMENT_BLOCK = 17
SEGMENT_RELATIVE_ENERGY = 0.1  # foreground = energy above this share of the image's 95th percentile
SEGMENT_OPEN = 9
SEGMENT_CLOSE = 15
BORDER_MIN_DIST = 8.0
MAX_MINUTIAE = 96  # keep the most reliable ones when mindtct finds more (bounds template size)

# --- Minutia Cylinder-Code ---------------------------------------------------------------------
MCC_RADIUS = 70.0  # R
MCC_NS = 16  # cells along each side of the cylinder base
MCC_ND = 6  # angular sections
MCC_SIGMA_S = 28.0 / 3.0  # spatial Gaussian
MCC_SIGMA_D = 2.0 * math.pi / 9.0  # directional Gaussian
MCC_MU_PSI = 0.01  # a cell is set when its contribution sum exceeds this (bit version)
MCC_NEIGHBOUR_DIST = MCC_RADIUS + 3.0 * MCC_SIGMA_S  # minutiae farther away never contribute
MCC_HULL_MARGIN = 50.0  # Omega: cells outside the minutiae convex hull enlarged by this are invalid
MCC_MIN_VALID_CELLS = 0.75  # min share of valid cells for a cylinder to be kept
MCC_MIN_NEIGHBOURS = 2  # min contributing minutiae for a cylinder to be kept
MCC_MIN_MATCHABLE_CELLS = 0.6  # min share of cells valid in both cylinders to compare them
MCC_MAX_ANGLE_DIFF = math.pi / 3  # paper: pi/2 (tuned on DB1/DB2); directions differing more never match

# --- global score: local similarity sort + relaxation ------------------------------------------
LSS_MIN_NP = 3  # (paper: 4 and 12; tuned on DB1/DB2)
LSS_MAX_NP = 8
LSS_MU_P = 20.0
LSS_TAU_P = 0.4
RELAX_ITERATIONS = 5
RELAX_WEIGHT = 0.5
RELAX_MU1, RELAX_TAU1 = 5.0, -1.6  # distance consistency (pixels)
RELAX_MU2, RELAX_TAU2 = math.pi / 12, -30.0  # direction-difference consistency
RELAX_MU3, RELAX_TAU3 = math.pi / 12, -30.0  # radial-angle consistency
CONSOLIDATE_ANCHORS = 5  # global consolidation: rigid motions tried, from the best relaxed pairs
CONSOLIDATE_MAX_DIST = 15.0  # a pair agrees with a motion when it maps within this many pixels
CONSOLIDATE_MAX_ANGLE = math.pi / 6  # and within this direction difference
# score = relaxed * a / (a + HALF), a = pairs aligned by the best motion. Mean EER over FVC2002 DB1..4
# 1.26 % -> 1.07 % (DB3 2.85 -> 1.98 %, DB2 0.83 -> 1.07 %); HALF 4..8 and 10..15 px all within 0.05.
CONSOLIDATE_HALF = 6.0
RELAX_MAX_PAIRS = 255  # nR cap; the paper: nR = min(nA, nB) (a cap of 48 cost 0.3 EER points on DB1)

SCORE_SCALE = 0.05  # reported score = 1 - exp(-relaxed / SCORE_SCALE): monotonic, spreads [0, 1]

# --- operating points -----------------------------------------------------------------------------
# Calibrated on FVC2002 DB1_B + DB2_B: 12,160 impostor pairs (every cross-finger pair within and
# across the two sets); the lowest scores with at most 0.1 % / 0.01 % of impostors at or above them
# (11 and 1 of them). FNMR there: 3.2 % and 4.8 % of the 560 genuine pairs. DB3_B / DB4_B were not
# used. Recalibrated the same way after Gabor enhancement and global consolidation were added
# (before them: 0.440 / 0.505; consolidation lowers every score, so the numbers are not comparable).
THRESHOLD_FMR_0_1PCT = 0.300
THRESHOLD_FMR_0_01PCT = 0.372

# --- 1:N index ------------------------------------------------------------------------------------
INDEX_HASHES = 32  # LSH functions per cylinder, each samples INDEX_HASH_BITS cylinder bits
INDEX_HASH_BITS = 12  # a (hash, value) pair sets one bit of the pre-filter vector
INDEX_VECTOR_BITS = 32768  # pre-filter vector length (4 KiB per finger)
INDEX_HASH_RADIUS = 0.75  # sample cells within this share of the cylinder radius (nearly always valid)
INDEX_POOL = 2  # hash bits read cylinder cells OR-ed over POOL x POOL blocks (MCC bits are ~10 % dense)
INDEX_SECTIONS = (0, 2, 3, 5)  # angular sections near 0 and pi direction difference: the dense ones
INDEX_SHORTLIST_MIN = 200  # candidates re-ranked with the full matcher: at least this many,
INDEX_SHORTLIST_SHARE = 0.02  # or this share of the gallery (mates rank in the top 1 % of votes 9 times in 10)
INDEX_SEED = 20100601  # fixed: the hash functions are part of the template format

# --- ridge enhancement before mindtct (Hong, Wan, Jain 1998) -----------------------------------------
ENHANCE_NORM_BLOCK = 25  # local mean / variance normalization window
ENHANCE_ORIENTATION_SIGMA = 7.0  # smoothing of the squared gradients
GABOR_ORIENTATIONS = 16
GABOR_SIGMA_SHARE = 0.35  # Gaussian sigma / ridge period (Hong et al.: 4 px at ~9 px = 0.44; 0.35 keeps
# minutiae sharper: mean EER over FVC2002 DB1..4 1.76 % at 0.45, 1.26 % at 0.35)
GABOR_ASPECT = 1.0  # sigma across / along the ridges
