/* 1:N iris-code scan: for every gallery row, the best Daugman-normalized masked Hamming distance
 * over a set of pre-shifted probes. Written in C because numpy needs one pass over the gallery per
 * shift and per operation; here each 512-byte row is read once and stays in L1 for all shifts.
 * Compiled on first use by carekey.biometrics.iris._kernel (cc -O3 -march=native). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#define WORDS 32 /* 2048 bits */

#if defined(__AVX512F__) && defined(__AVX512VPOPCNTDQ__)
#include <immintrin.h>
#define HAVE_AVX512_POPCNT 1
#endif

/* (0.5 - HD) * sqrt(n / ref) = (0.5 n - d) / sqrt(n * ref): with a table of 1 / sqrt(n * ref) the
 * score costs one multiply. Lower "gain" = worse; score = 0.5 - gain. */
static float inv_sqrt_tab[2 * WORDS * 64 + 1];
static double tab_ref = -1.0;

static void init_table(double ref_bits)
{
    if (tab_ref == ref_bits) return;
    inv_sqrt_tab[0] = 0.0f;
    for (int n = 1; n <= 2 * WORDS * 64; n++) inv_sqrt_tab[n] = (float)(1.0 / sqrt((double)n * ref_bits));
    tab_ref = ref_bits;
}

static inline float score_of(uint64_t d, uint64_t m, int min_bits)
{
    float gain = (0.5f * (float)m - (float)d) * inv_sqrt_tab[m];
    if ((int)m < min_bits && gain > 0.0f) gain = 0.0f;
    return 0.5f - gain;
}

void iris_scan(const uint64_t *gallery, size_t n, const uint64_t *probes, int shifts,
               double ref_bits, int min_bits, float *best_score, int16_t *best_shift)
{
    init_table(ref_bits);
    for (size_t i = 0; i < n; i++) {
        const uint64_t *gc = gallery + i * 2 * WORDS, *gm = gc + WORDS;
        float best = 2.0f;
        int bs = 0;
#ifdef HAVE_AVX512_POPCNT
        __m512i c0 = _mm512_loadu_si512(gc), c1 = _mm512_loadu_si512(gc + 8);
        __m512i c2 = _mm512_loadu_si512(gc + 16), c3 = _mm512_loadu_si512(gc + 24);
        __m512i m0 = _mm512_loadu_si512(gm), m1 = _mm512_loadu_si512(gm + 8);
        __m512i m2 = _mm512_loadu_si512(gm + 16), m3 = _mm512_loadu_si512(gm + 24);
        for (int s = 0; s < shifts; s++) {
            const uint64_t *pc = probes + (size_t)s * 2 * WORDS, *pm = pc + WORDS;
            __m512i k0 = _mm512_and_si512(m0, _mm512_loadu_si512(pm));
            __m512i k1 = _mm512_and_si512(m1, _mm512_loadu_si512(pm + 8));
            __m512i k2 = _mm512_and_si512(m2, _mm512_loadu_si512(pm + 16));
            __m512i k3 = _mm512_and_si512(m3, _mm512_loadu_si512(pm + 24));
            /* differing bits in the low 32 bits of each lane, compared bits in the high 32 */
            __m512i acc = _mm512_add_epi64(
                _mm512_add_epi64(_mm512_popcnt_epi64(_mm512_and_si512(_mm512_xor_si512(c0, _mm512_loadu_si512(pc)), k0)),
                                 _mm512_popcnt_epi64(_mm512_and_si512(_mm512_xor_si512(c1, _mm512_loadu_si512(pc + 8)), k1))),
                _mm512_add_epi64(_mm512_popcnt_epi64(_mm512_and_si512(_mm512_xor_si512(c2, _mm512_loadu_si512(pc + 16)), k2)),
                                 _mm512_popcnt_epi64(_mm512_and_si512(_mm512_xor_si512(c3, _mm512_loadu_si512(pc + 24)), k3))));
            __m512i cnt = _mm512_add_epi64(_mm512_add_epi64(_mm512_popcnt_epi64(k0), _mm512_popcnt_epi64(k1)),
                                           _mm512_add_epi64(_mm512_popcnt_epi64(k2), _mm512_popcnt_epi64(k3)));
            uint64_t both = (uint64_t)_mm512_reduce_add_epi64(_mm512_or_si512(acc, _mm512_slli_epi64(cnt, 32)));
            float score = score_of(both & 0xffffffffu, both >> 32, min_bits);
            if (score < best) { best = score; bs = s; }
        }
#else
        for (int s = 0; s < shifts; s++) {
            const uint64_t *pc = probes + (size_t)s * 2 * WORDS, *pm = pc + WORDS;
            uint64_t d = 0, m = 0;
            for (int w = 0; w < WORDS; w++) {
                uint64_t mm = gm[w] & pm[w];
                d += (uint64_t)__builtin_popcountll((gc[w] ^ pc[w]) & mm);
                m += (uint64_t)__builtin_popcountll(mm);
            }
            float score = score_of(d, m, min_bits);
            if (score < best) { best = score; bs = s; }
        }
#endif
        best_score[i] = best;
        best_shift[i] = (int16_t)bs;
    }
}

/* Coarse pass of a two-stage search: the exact masked, normalized distance on half of the code
 * words, spread over all angles (even words of each first 512-bit block, odd words of each second:
 * 0, 9, 2, 11, 4, 13, 6, 15 | 16, 25, 18, 27, 20, 29, 22, 31 in lane order), merged once per row by
 * blends. ``probes_q`` holds per shift those 16 code words then the same 16 mask words. The caller
 * re-scores a shortlist over all words and shifts with iris_scan. */
void iris_scan_coarse(const uint64_t *gallery, size_t n, const uint64_t *probes_q, int shifts,
                      double ref_bits, float *best_score)
{
    static const int sel[16] = {0, 9, 2, 11, 4, 13, 6, 15, 16, 25, 18, 27, 20, 29, 22, 31};
    init_table(ref_bits);
    for (size_t i = 0; i < n; i++) {
        const uint64_t *gc = gallery + i * 2 * WORDS, *gm = gc + WORDS;
        float best = 2.0f;
#ifdef HAVE_AVX512_POPCNT
        __m512i ca = _mm512_mask_blend_epi64(0xAA, _mm512_loadu_si512(gc), _mm512_loadu_si512(gc + 8));
        __m512i cb = _mm512_mask_blend_epi64(0xAA, _mm512_loadu_si512(gc + 16), _mm512_loadu_si512(gc + 24));
        __m512i ma = _mm512_mask_blend_epi64(0xAA, _mm512_loadu_si512(gm), _mm512_loadu_si512(gm + 8));
        __m512i mb = _mm512_mask_blend_epi64(0xAA, _mm512_loadu_si512(gm + 16), _mm512_loadu_si512(gm + 24));
        for (int s = 0; s < shifts; s++) {
            const uint64_t *pq = probes_q + (size_t)s * 32;
            __m512i ka = _mm512_and_si512(ma, _mm512_loadu_si512(pq + 16));
            __m512i kb = _mm512_and_si512(mb, _mm512_loadu_si512(pq + 24));
            __m512i d = _mm512_add_epi64(
                _mm512_popcnt_epi64(_mm512_and_si512(_mm512_xor_si512(ca, _mm512_loadu_si512(pq)), ka)),
                _mm512_popcnt_epi64(_mm512_and_si512(_mm512_xor_si512(cb, _mm512_loadu_si512(pq + 8)), kb)));
            __m512i m = _mm512_add_epi64(_mm512_popcnt_epi64(ka), _mm512_popcnt_epi64(kb));
            uint64_t both = (uint64_t)_mm512_reduce_add_epi64(_mm512_or_si512(d, _mm512_slli_epi64(m, 32)));
            float score = score_of(both & 0xffffffffu, both >> 32, 0);
            if (score < best) best = score;
        }
#else
        for (int s = 0; s < shifts; s++) {
            const uint64_t *pq = probes_q + (size_t)s * 32;
            uint64_t d = 0, m = 0;
            for (int w = 0; w < 16; w++) {
                uint64_t mm = gm[sel[w]] & pq[16 + w];
                d += (uint64_t)__builtin_popcountll((gc[sel[w]] ^ pq[w]) & mm);
                m += (uint64_t)__builtin_popcountll(mm);
            }
            float score = score_of(d, m, 0);
            if (score < best) best = score;
        }
#endif
        (void)sel;
        best_score[i] = best;
    }
}

/* Sum of all words: the memory-streaming floor the scan is compared against. */
uint64_t iris_stream(const uint64_t *data, size_t words)
{
    uint64_t acc = 0;
    for (size_t i = 0; i < words; i++) acc ^= data[i];
    return acc;
}
