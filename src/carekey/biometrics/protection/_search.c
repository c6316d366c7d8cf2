/* Stage 1 of the protected iris search: IoM codes stored bit-sliced (bit plane p of every hash value,
 * 64 hash functions per word), so the hash functions on which two codes differ are the OR over planes
 * of XORs, counted by popcount. Gallery rows are interleaved in blocks of 8 (one 512-bit vector holds
 * the same word of 8 rows): every probe rotation is compared with 8 rows at once, with no horizontal
 * sums, and the block stays in L1 across all rotations. Compiled on first use by
 * carekey.biometrics.protection._search_kernels (cc -O3 -march=native). */
#include <stddef.h>
#include <stdint.h>

#define LANES 8

#if defined(__AVX512F__) && defined(__AVX512VPOPCNTDQ__)
#include <immintrin.h>
#define HAVE_AVX512_POPCNT 1
#elif defined(__AVX2__)
#include <immintrin.h>
#define HAVE_AVX2 1
#endif

#ifdef HAVE_AVX2
/* Per-byte popcount of a 256-bit vector by two 4-bit table look-ups (vpshufb): the method of Mula, Kurz and
 * Lemire, "Faster Population Counts Using AVX2 Instructions" (Computer Journal, 2018). AVX2 has no vector
 * popcount; the scalar popcnt of each 64-bit lane was ~3 x slower on the 2-core AMD EPYC (Zen 3) host. */
static inline __m256i popcount_bytes(__m256i v)
{
    const __m256i table = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                           0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f);
    __m256i lo = _mm256_shuffle_epi8(table, _mm256_and_si256(v, low));
    __m256i hi = _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(v, 4), low));
    return _mm256_add_epi8(lo, hi);
}

/* The lower of two vectors of small non-negative 64-bit counts (AVX2 has no unsigned 64-bit min). */
static inline __m256i min_counts(__m256i a, __m256i b)
{
    return _mm256_blendv_epi8(a, b, _mm256_cmpgt_epi64(a, b));
}

#define BYTE_WORDS 31 /* words summed per byte before the byte counters could overflow (31 x 8 = 248) */
#endif

/* gallery: nblocks x (planes x words x LANES) uint64; probes: shifts x (planes x words) uint64.
 * out[r]: the fewest differing hash values of row r over all probe rotations. */
void iom_sliced_scan(const uint64_t *gallery, size_t nblocks, int planes, int words,
                     const uint64_t *probes, int shifts, int32_t *out)
{
    const size_t block = (size_t)planes * words * LANES;
    for (size_t b = 0; b < nblocks; b++) {
        const uint64_t *g = gallery + b * block;
#ifdef HAVE_AVX512_POPCNT
        __m512i best = _mm512_set1_epi64(INT32_MAX);
        for (int s = 0; s < shifts; s++) {
            const uint64_t *p = probes + (size_t)s * planes * words;
            __m512i acc = _mm512_setzero_si512();
            for (int k = 0; k < words; k++) {
                __m512i x = _mm512_setzero_si512();
                for (int q = 0; q < planes; q++) {
                    __m512i row = _mm512_loadu_si512(g + ((size_t)q * words + k) * LANES);
                    x = _mm512_or_si512(x, _mm512_xor_si512(row, _mm512_set1_epi64((long long)p[q * words + k])));
                }
                acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(x));
            }
            best = _mm512_min_epu64(best, acc);
        }
        _mm256_storeu_si256((__m256i *)(out + b * LANES), _mm512_cvtepi64_epi32(best));
#elif defined(HAVE_AVX2)
        /* the 8 rows of a block as two vectors of 4 lanes; per-byte counts summed over up to BYTE_WORDS
         * words, then into 64-bit lanes by vpsadbw */
        const __m256i zero = _mm256_setzero_si256();
        __m256i best0 = _mm256_set1_epi64x(INT32_MAX), best1 = best0;
        for (int s = 0; s < shifts; s++) {
            const uint64_t *p = probes + (size_t)s * planes * words;
            __m256i tot0 = zero, tot1 = zero;
            for (int k0 = 0; k0 < words; k0 += BYTE_WORDS) {
                const int k1 = k0 + BYTE_WORDS < words ? k0 + BYTE_WORDS : words;
                __m256i bytes0 = zero, bytes1 = zero;
                for (int k = k0; k < k1; k++) {
                    __m256i x0 = zero, x1 = zero;
                    for (int q = 0; q < planes; q++) {
                        const uint64_t *row = g + ((size_t)q * words + k) * LANES;
                        const __m256i pv = _mm256_set1_epi64x((long long)p[q * words + k]);
                        x0 = _mm256_or_si256(x0, _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)row), pv));
                        x1 = _mm256_or_si256(x1, _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(row + 4)), pv));
                    }
                    bytes0 = _mm256_add_epi8(bytes0, popcount_bytes(x0));
                    bytes1 = _mm256_add_epi8(bytes1, popcount_bytes(x1));
                }
                tot0 = _mm256_add_epi64(tot0, _mm256_sad_epu8(bytes0, zero));
                tot1 = _mm256_add_epi64(tot1, _mm256_sad_epu8(bytes1, zero));
            }
            best0 = min_counts(best0, tot0);
            best1 = min_counts(best1, tot1);
        }
        int64_t lanes[LANES];
        _mm256_storeu_si256((__m256i *)lanes, best0);
        _mm256_storeu_si256((__m256i *)(lanes + 4), best1);
        for (int l = 0; l < LANES; l++) out[b * LANES + l] = (int32_t)lanes[l];
#else
        int64_t best[LANES];
        for (int l = 0; l < LANES; l++) best[l] = INT32_MAX;
        for (int s = 0; s < shifts; s++) {
            const uint64_t *p = probes + (size_t)s * planes * words;
            int64_t acc[LANES] = {0};
            for (int k = 0; k < words; k++) {
                for (int l = 0; l < LANES; l++) {
                    uint64_t x = 0;
                    for (int q = 0; q < planes; q++) x |= g[((size_t)q * words + k) * LANES + l] ^ p[q * words + k];
                    acc[l] += __builtin_popcountll(x);
                }
            }
            for (int l = 0; l < LANES; l++) if (acc[l] < best[l]) best[l] = acc[l];
        }
        for (int l = 0; l < LANES; l++) out[b * LANES + l] = (int32_t)best[l];
#endif
    }
}
