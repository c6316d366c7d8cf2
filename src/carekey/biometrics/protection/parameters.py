"""Every tuning constant of template protection, in one place (the SourceAFIS habit).

The transform is Index-of-Max hashing with Gaussian random projections (GRP-IoM) of Jin, Hwang, Lai,
Kim, Teoh, "Ranking-based locality sensitive hashing-enabled cancelable biometrics: Index-of-Max
hashing", IEEE TIFS 13(2), 2018. Each hash function projects the feature vector on Q keyed Gaussian
directions and keeps only the index of the largest projection: a value in [0, Q). Values were chosen
on FVC2002 DB1_B / DB2_B and MMU1 (see ``bench/results/protection/``).
"""

from __future__ import annotations

# --- key derivation ------------------------------------------------------------------------------
SECRET_BYTES = 32  # per program and key version, kept in the key file (never in the database)
KEY_ID_BYTES = 8  # a template names the secret it was made with by this many bytes of HMAC(secret, ...)

# --- fingerprint: IoM of every MCC cylinder (a set of protected local descriptors, as P-MCC) ------
FP_POOL = 1  # cylinder cells OR-ed over POOL x POOL blocks before projection (2 cost DB1 0.4 EER points)
FP_HASHES = 256  # m: hash functions per cylinder (64: DB1 EER 6.7 % instead of 3.9 %, pooled)
FP_Q = 16  # q: projections per hash function (a hash value is 4 bits; q = 32 was no better)
FP_ROWS = 48  # every protected finger holds this many codes (cylinders, or chaff); DB1_B: 14..65 cylinders,
# median 40; 48 cost 0.4 EER points on DB1_B against variable-size templates, 64 no better, 96 0.7 points
FP_MIN_NP, FP_MAX_NP = 4, 12  # local similarity sort: mean of the best nP cylinder pairs (Cappelli 2010)
FP_MU_P, FP_TAU_P = 20.0, 0.4  # nP = MIN + sigmoid(min(nA, nB); MU, TAU) * (MAX - MIN)
FP_SCORE_SCALE = 0.12  # score = 1 - exp(-(LSS - chance) / SCALE), clipped to [0, 1]
FP_THRESHOLD = 0.68  # FMR 0.1 %: 0.679 on FVC2002 DB1_B, 0.654 on DB2_B (DB3_B / DB4_B held out)

# --- iris: IoM of the masked iris code (+1 / -1 on usable bits, 0 on masked ones) -------------------
IRIS_HASHES = 1024  # m (MMU1, first 150 images: EER 3.1 % at 512, 1.7 % at 1024 = unprotected; q = 4 or 16 no better)
IRIS_Q = 8  # q (a hash value is 3 bits)
IRIS_THRESHOLD = 0.21  # FMR 0.1 % on MMU1: 0.205 (bench/results/protection); chance collisions are 1/8

# --- 1:N search indexes (iris_index.py, fingerprint_index.py): speed only, the comparison is unchanged ---
IRIS_INDEX_HASHES = 512  # stage 1 counts collisions of the first 512 hash functions (a multiple of 64) ...
IRIS_INDEX_SHIFT_STEP = 1  # ... at every probe rotation (every other: half the time, fewer mates kept)
IRIS_INDEX_SHORTLIST = 4096  # the best rows of stage 1 are scored in full (iris.search). At 1M eyes, 384
# hashes and 2048 rows lost 2 of 50 MMU1 hits to the pre-filter (bench/results/protection/search.md)
FP_INDEX_BAND = 2  # a band key is this many consecutive IoM values of one code row (8 bits at q = 16) ...
FP_INDEX_BANDS = 96  # ... from the first BANDS * BAND hash functions (DB1_B/DB2_B mates in the top 1 % of
# 2,000 chimeras: 93 %; 3-value bands 65 %, 64 bands 85 %)
FP_INDEX_BITS = 65536  # Bloom-style bitset per finger (8 KiB; 32768 bits lost ~5 points of the above)
FP_INDEX_SHORTLIST_MIN = 200  # fingers scored in full (fingerprint.compare): at least this many,
FP_INDEX_SHORTLIST_SHARE = 0.02  # or this share of the gallery
