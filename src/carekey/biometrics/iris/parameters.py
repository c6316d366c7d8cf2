"""Every tuning constant of the iris pipeline, in one place (the SourceAFIS habit).

Sizes are relative to the detected eye where possible, so that the pipeline carries over from
MMU1 (320x240, iris radius ~50 px) to other near-infrared sensors (640x480, iris radius ~120 px)
without retuning. Each value says what physical fact it stands for.
"""

from __future__ import annotations

# --- capture ------------------------------------------------------------------------------
MIN_IMAGE_SIDE = 120  # px; below this an iris cannot hold ~70 px of texture (ISO/IEC 29794-6)
MAX_IMAGE_SIDE = 2000  # px; larger frames are downscaled before segmentation
WORK_SIDE = 480  # px; frames whose longer side exceeds this are downscaled to it
MIN_CONTRAST_STD = 8.0  # grey levels; a blank or saturated frame has almost no spread

# --- segmentation ---------------------------------------------------------------------------
PUPIL_RADIUS_FRACTION = (0.02, 0.32)  # pupil radius as a share of the shorter image side: from a whole-face-
# width eye to a close-up whose dilated pupil fills a third of the frame
PUPIL_THRESHOLDS = (0.04, 0.07, 0.10, 0.14, 0.18, 0.23, 0.28, 0.34, 0.40)  # dark-threshold sweep, as a share of
# the frame's darkest-to-90th-percentile spread (exposure-independent)
PUPIL_INSCRIBED_WEIGHT = 0.7  # the largest disc inside a non-round dark blob (pupil touched by lashes)
# counts like a blob of this circularity
PUPIL_RING_OUTER = 1.2  # a candidate's ring is sampled this far out (share of its radius): close
# enough that a disc grown into the iris has a dark side there
PUPIL_NESTED_RATIO = 0.75  # a disc this much smaller inside the best dark disc ...
PUPIL_NESTED_SCORE = 0.2  # ... with at least this share of its score is the pupil (the best was an iris)
PUPIL_NESTED_DARKER = 0.1  # ... when it is darker by this share of the frame's spread
PUPIL_REFINE_ROUNDS = 3  # re-centred searches when the pupil circle lands on its window's edge
IRIS_RADIUS_MAX_FRACTION = 0.6  # limbus radius at most this share of the longer image side
PUPIL_MIN_CIRCULARITY = 0.55  # blob area / enclosing-circle area; lashes are long and thin
PUPIL_IRIS_RATIO = (0.20, 0.72)  # pupil/iris radius: fully constricted .. fully dilated pupil
IRIS_CENTER_OFFSET = 0.12  # limbus centre may sit this share of iris radius off the pupil's
IRIS_CENTER_VERTICAL = 0.4  # ... less so vertically (the offset is mostly nasal), which the
# lateral arcs could not pin down anyway
SPECULAR_LEVEL = 0.92  # reflections: brighter than this share of the frame's 99.9th pct
LIMBUS_ARCS = ((-25.0, 60.0), (120.0, 205.0))  # degrees (y down): lateral and lower-lateral arcs, which
# the upper lid (the usual occluder) does not reach
LIMBUS_DERIVATIVE_SIGMA = 0.1  # radial smoothing of the limbus derivative, share of the pupil radius
# (~4 % of a typical iris radius)
LIMBUS_MIN_IN_IMAGE = 0.75  # share of the limbus arcs that must lie inside the frame
LIMBUS_INSIDE_SHARE = 0.3  # just inside a limbus candidate the image must be within this share of the
# way from the iris level to the level outside (sclera-to-skin edges fail)
LIMBUS_BAND = 0.1  # limbus blur half-width, as a share of the iris radius
LASH_TEXTURE_QUANTILE = 0.99  # ... and above the 99th percentile of the lateral iris's own black top-hat
LASH_CONTRAST_MAX = 0.8  # ... but never above 80 % of the iris-to-pupil step
LASH_CONTRAST_UPPER = 0.30  # ... above the pupil, where the upper lashes hang over the iris
LASH_ROOT_HEIGHT = 0.5  # a lash is rooted outside the limbus at least this share of r above/below
LASH_CONTRAST = 0.45  # eyelash: black top-hat above 45 % of the iris-to-pupil step
MIN_LIMBUS_CONTRAST = 6.0  # grey levels: weakest iris-to-sclera step we accept as an eye
MIN_PUPIL_CONTRAST = 15.0  # grey levels: weakest pupil-to-iris step we accept
EYELID_SECTORS = ((200.0, 340.0), (35.0, 145.0))  # degrees (image y grows down): upper then lower lid
LID_REFERENCE_DEPTH = 0.35  # inner share of the band taken as each angle's iris level
NOISE_MAD_DARK = 3.5  # eyelashes / shadows: darker than median - k * MAD of the iris
NOISE_MAD_BRIGHT = 3.5  # eyelid skin / sclera / reflections: brighter than median + k * MAD

# --- capture quality --------------------------------------------------------------------------
MIN_PUPIL_EDGE_SHARPNESS = 0.22  # max radial derivative / pupil step; ~0.5 in focus, ~0.12 at blur sigma 3
MIN_PUPIL_VISIBLE = 0.70  # share of the pupil ring with a clear step; lids closing over the pupil cut it
PUPIL_RING_IN, PUPIL_RING_OUT = 0.75, 1.25  # the step is read between these shares of the pupil radius
MAX_EYELID_OCCLUSION = 0.90  # share of the top and bottom iris sectors hidden by lids: the eye is (nearly) shut
MIN_USABLE_IRIS = 0.25  # share of the band left after lids, lashes, reflections (~500 code bits)

# --- normalization and encoding ------------------------------------------------------------
CANONICAL_IRIS_RADIUS = 64.0  # px; larger irises are area-averaged down to this before unwrapping (MMU1's
# ~55 px irises are used as they are; IITD's ~105 px ones are halved)
NORM_RADIAL = 32  # rubber-sheet rows (pupil -> limbus)
NORM_ANGULAR = 256  # rubber-sheet columns (angle)
NORM_RADIAL_RANGE = (0.04, 0.86)  # skip the pupil margin and the blurry outer rim (collarette to limbus)
CODE_ROWS = 8  # radial samples in the code
CODE_COLS = 128  # angular samples in the code (one column = 2.8 degrees)
BITS_PER_SAMPLE = 2  # phase quadrant (sign of real and imaginary parts), Daugman 1993
CODE_BITS = CODE_ROWS * CODE_COLS * BITS_PER_SAMPLE  # 2048
LOG_GABOR_WAVELENGTH = 12.0  # angular pixels (of NORM_ANGULAR) per cycle (~17 degrees): crypt and furrow scale
LOG_GABOR_SIGMA_ON_F = 0.5  # bandwidth ~2 octaves (Field 1987; Masek 2003)
RADIAL_SMOOTHING = 1.0  # rows (Gaussian sigma) of the radial envelope of the 2-D filter
MASK_MAX_NOISE = 0.25  # a code sample is masked when this share of its support is noise
FRAGILE_BIT_QUANTILE = 0.0  # share of the weakest phase components masked as fragile (Hollingsworth, Bowyer &
# Flynn 2009). 0: with the mask-weighted HD and Daugman's normalisation (which already discounts scores on few
# bits) masking the weakest 10 % cost accuracy on both iris sets (issue 12 tune halves: MMU1 1.82 -> 1.36 %,
# IITD 2.64 -> 2.49 % EER without it; bench/results/accuracy_sets/README.md)

# --- matching -------------------------------------------------------------------------------
MAX_SHIFT = 16  # code columns each way: +-45 degrees of head tilt (hand-held capture) / torsion
COARSE_SHIFT_STEP = 2  # 1:N coarse pass tries every other shift ...
SEARCH_SHORTLIST = 1024  # ... and re-scores this many best rows exactly over all shifts
DAUGMAN_REFERENCE_BITS = 911  # HD_norm = 0.5 - (0.5 - HD) * sqrt(n / 911) (Daugman 2006)
MIN_BITS_COMPARED = 300  # fewer common unmasked bits than this cannot support a decision
# Decision threshold on the normalized Hamming distance (lower = more alike). Measured on MMU1
# (bench/results/iris/accuracy.json, 100,125 impostor pairs): HD_norm 0.387 is FMR 1 %, 0.365 is
# FMR 0.1 %, and the lowest impostor score is 0.319. A 1:N search over a large gallery needs a far
# lower per-comparison FMR than a 1:1 check, so the operating point sits below every impostor seen:
# 0.31 (Daugman's operational range is 0.32-0.33 for codes with ~250 degrees of freedom).
MATCH_THRESHOLD = 0.31
