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
FP_HASHES = 512  # m: hash functions per cylinder. Mean EER over 3-4 random keys (bench extraction, same
# templates): 256 -> DB1 2.50 %, DB2 1.79 %; 512 -> 2.08 %, 1.50 %; 1024 no better on one key (2.05 / 1.46).
# Exact cosines of the cylinder vectors (the m -> infinity limit, all cylinders, nP 3..8): DB1 0.71 %, DB2 1.43 %;
# what remains of the gap to MCC (0.52 / 1.07 %) is its geometric consolidation, which needs minutia positions.
FP_Q = 16  # q: projections per hash function (a hash value is 4 bits; q = 32 was no better)
FP_ROWS = 48  # every protected finger holds this many codes (cylinders, or chaff); DB1_B: 14..65 cylinders,
# median 40; 48 cost 0.4 EER points on DB1_B against variable-size templates, 64 no better, 96 0.7 points
FP_MIN_NP, FP_MAX_NP = 4, 12  # local similarity sort: mean of the best nP cylinder pairs (Cappelli 2010)
# (mean of 2 keys, m = 512, FP_NORM_TOP: 4..12 -> DB1 1.10 %, DB2 1.25 %; 3..8 -> 1.05 / 1.40; 2..6 -> 1.07 / 1.45)
FP_NORM_TOP = 5  # a collision rate is credited by how far it stands above the mean of the FP_NORM_TOP best of its
# row and of its column (a distinctiveness test, as Lowe's 2004 ratio test): mean of 2 keys at m = 512, nP 3..8,
# DB1 / DB2 EER 1.05 / 1.40 % against 1.67 / 1.63 % with the row / column means subtracted; top 2: 1.23 / 1.61,
# top 3: 1.18 / 1.45, top 8: 1.25 / 1.27, top 12: 1.28 / 1.38, top 20: 1.61 / 1.48; medians: 1.97 / 1.52 %.
# Tried and not kept (within key-to-key noise of +-0.3 points): z-normalized similarities (DB1 1.49, DB2 2.50 %),
# keeping the 48 cylinders with most valid cells / most set cells / nearest the centroid instead of a random 48
# (1.6-2.1 %), 64 rows (1.79 / 1.42 %), q = 8 or 32 (1.4-1.8 %), a second IoM row per cylinder over the mean of
# its 4 or 8 nearest neighbours' cylinders (exact cosines: DB1 0.71 -> 1.18-2.86 %, worse).
FP_MU_P, FP_TAU_P = 20.0, 0.4  # nP = MIN + sigmoid(min(nA, nB); MU, TAU) * (MAX - MIN)
FP_SCORE_SCALE = 0.05  # score = 1 - exp(-LSS / SCALE) of the normalized LSS, clipped to [0, 1]
FP_THRESHOLD = 0.70  # FMR 0.1 %: DB1_B 0.671 / 0.674, DB2_B 0.710 / 0.716 (two keys; held out DB3_B 0.658, DB4_B 0.791)

# --- iris: IoM of the masked iris code (+1 / -1 on usable bits, 0 on masked ones) -------------------
IRIS_HASHES = 2048  # m. All of MMU1 (bench extraction, unprotected 1.11 %): 1024 -> 1.81 %, 2048 -> 1.22 % and
# 1.22 % (two keys; 1.62 % under the key of the committed bench run), 4096 -> 1.40 % (one key). The limit
# m -> infinity, the cosine of the +1/-1/0 vectors, is 1.11 %: the loss is estimation noise of the collision
# rate, not the representation. Tried and not kept, "masked IoM": every hash
# function over a local window of code columns x rows, a per-hash validity flag (>= 50 % usable bits in its window)
# and the collision rate over hashes valid on both sides with Daugman-like normalization c + (rate - c) *
# sqrt(n / 400): 2.2-3.0 % for windows of 4..32 columns x 4..8 rows (local hashes see too few bits); counting
# collisions of valid hashes over all m without normalization: 9.1 % and D<->sys 0.11 (the valid count links).
IRIS_Q = 8  # q (a hash value is 3 bits)
IRIS_THRESHOLD = 0.20  # FMR 0.1 % on MMU1 at m = 2048: 0.198, 0.199, 0.199 (three keys); chance collisions are 1/8

# --- 1:N search indexes (iris_index.py, fingerprint_index.py): speed only, the comparison is unchanged ---
IRIS_INDEX_HASHES = 512  # stage 1 counts collisions of the first 512 hash functions (a multiple of 64) ...
IRIS_INDEX_SHIFT_STEP = 1  # ... at every probe rotation (every other: half the time, fewer mates kept)
IRIS_INDEX_SHORTLIST = 4096  # the best rows of stage 1 are scored in full (iris.search). At 1M eyes, 384
# hashes and 2048 rows lost 2 of 50 MMU1 hits to the pre-filter (bench/results/protection/search.md)
FP_INDEX_BAND = 2  # a band key is this many consecutive IoM values of one code row (8 bits at q = 16) ...
FP_INDEX_BANDS = 64  # ... from the first BANDS * BAND hash functions, held as an exact bitset of BANDS x 256 bits
# per finger (2 KiB). DB1_B/DB2_B probes (140) against their 20 mates + 4,000 chimeras, mate within the top 1 / 2 / 5 %
# of the pre-filter: 96 bands 92.9 / 95.0 / 97.1 %, 64 bands 91.4 / 94.3 / 96.4 %, 48 bands 88.6 / 90.0 / 94.3 %,
# 32 bands 79.3 / 86.4 / 91.4 %; the former 65,536-bit keyed Bloom bitset of 96 bands (8 KiB) 89.3 / 90.7 / 95.0 %
FP_INDEX_SHORTLIST_MIN = 200  # fingers scored in full (fingerprint.compare): at least this many,
FP_INDEX_SHORTLIST_SHARE = 0.02  # or this share of the gallery
