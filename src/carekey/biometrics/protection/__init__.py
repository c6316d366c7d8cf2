"""Biometric template protection (ISO/IEC 24745): keyed, irreversible-by-design, unlinkable, renewable.

What is stored and searched is never a fingerprint or iris template but its Index-of-Max hash under a
secret of the program and key version (``iom``): Jin, Hwang, Lai, Kim, Teoh, "Ranking-based locality
sensitive hashing-enabled cancelable biometrics: Index-of-Max hashing", IEEE TIFS 13(2), 2018.

- ``fingerprint``: every MCC cylinder (Cappelli, Ferrara, Maltoni, IEEE TPAMI 2010) hashed, minutiae
  positions dropped, a fixed number of rows (chaff-padded); compared by one-to-one local similarity sort,
  the structure of P-MCC (Ferrara, Maltoni, Cappelli, IEEE TIFS 7(6), 2012).
- ``iris``: the masked iris code hashed; the probe is hashed at every rotation.
- ``templates``: the versioned persistent form, refused on load under another key version or secret.
- ``matcher``: ``ProtectedMatcher``, the BiometricMatcher the services use (wired in ``bootstrap``).
- ``iris_index``, ``fingerprint_index``: the 1:N search indexes on the protected codes only (two-stage
  bit-sliced iris scan; fingerprint band pre-filter read from codes packed two a byte), kept in memory by the
  matcher's followed gallery (``feed``).

Why IoM, on measurements (``carekey bench protection``, ``bench/results/protection/``):
- it costs accuracy, less than the alternatives we could build in time: iris EER 1.11 % -> 1.62 % on
  MMU1 (2048 hashes; 1024 gave 1.8 %, a mask-aware windowed variant 2.2-3.0 %); fingerprints lose MCC's
  geometric consolidation (no minutia positions may be stored), which no fixed-length / local-descriptor
  scheme avoids (FVC2002 DB1_B..DB4_B 0.52 / 1.07 / 1.98 / 0.71 % -> 1.43 / 1.07 / 4.64 / 1.43 %);
- unlike BioHashing (sign of projections = linear constraints, broken when the token leaks), an IoM value
  keeps only the rank of projections; cross-key scores of the same finger or eye are at chance
  (D<->sys at the estimator's floor);
- one transform for both modalities, matched with popcount / byte-compare kernels like the unprotected
  engines. Bloom-filter iris templates (Rathgeb et al. 2013) need the Gomez-Barrero et al. (2016)
  structure-preserving rearrangement to become unlinkable, and give nothing for fingerprints.
Limit, measured and reported, not hidden: with the key known, an optimization pre-image attack
(``carekey.bench.inversion``; Ghammam et al., IEEE TIFS 15, 2020) recovers templates that match. The
secret therefore lives only in the key file (never in the database), and a leak is answered by
rotation (``carekey keys rotate-biometric``): the old secret is destroyed and old templates retired.
"""
