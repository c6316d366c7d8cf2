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
FP_MIN_NP, FP_MAX_NP = 4, 12  # local similarity sort: mean of the best nP cylinder pairs (Cappelli 2010)
FP_MU_P, FP_TAU_P = 20.0, 0.4  # nP = MIN + sigmoid(min(nA, nB); MU, TAU) * (MAX - MIN)
FP_SCORE_SCALE = 0.12  # score = 1 - exp(-(LSS - chance) / SCALE), clipped to [0, 1]
FP_THRESHOLD = 0.5  # decision threshold of the fused two-finger score (recalibrated by the benchmark)

# --- iris: IoM of the masked iris code (+1 / -1 on usable bits, 0 on masked ones) -------------------
IRIS_HASHES = 512  # m
IRIS_Q = 8  # q (a hash value is 3 bits)
IRIS_THRESHOLD = 0.5  # decision threshold of the similarity (recalibrated by the benchmark)
