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
