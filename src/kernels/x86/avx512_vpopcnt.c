/*
 * avx512_vpopcnt.c — the Hamming distances of the memory store's binary
 * index (kernels.h, hamming) with AVX512-VPOPCNTDQ: eight 64-bit words
 * xored and counted per instruction instead of one. The only file compiled
 * with -mavx512vpopcntdq; dispatch.c calls it only when CPUID reports it.
 */
#include "../kernels.h"
#include "x86.h"

#include <immintrin.h>

void mnemo__hamming_vpopcnt(const uint64_t *q, const uint64_t *codes, size_t words, size_t n,
                            uint32_t *out) {
    if (words <= 16) {
        /* the store's case (768 dimensions: 12 words): the query in two
         * registers, each vector one or two masked loads, no loop over words */
        __mmask8 m0 = words >= 8 ? 0xFF : (__mmask8)((1u << words) - 1);
        __mmask8 m1 = words >= 16 ? 0xFF : words > 8 ? (__mmask8)((1u << (words - 8)) - 1) : 0;
        __m512i q0 = _mm512_maskz_loadu_epi64(m0, q), q1 = _mm512_maskz_loadu_epi64(m1, q + 8);
        if (m1) {
            for (size_t i = 0; i < n; i++, codes += words) {
                __m512i d =
                    _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_maskz_loadu_epi64(m0, codes), q0));
                d = _mm512_add_epi64(d, _mm512_popcnt_epi64(_mm512_xor_si512(
                                            _mm512_maskz_loadu_epi64(m1, codes + 8), q1)));
                out[i] = (uint32_t)_mm512_reduce_add_epi64(d);
            }
        } else {
            for (size_t i = 0; i < n; i++, codes += words)
                out[i] = (uint32_t)_mm512_reduce_add_epi64(
                    _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_maskz_loadu_epi64(m0, codes), q0)));
        }
        return;
    }
    for (size_t i = 0; i < n; i++, codes += words) {
        __m512i d = _mm512_setzero_si512();
        for (size_t w = 0; w < words; w += 8) {
            __mmask8 m = words - w >= 8 ? 0xFF : (__mmask8)((1u << (words - w)) - 1);
            __m512i x = _mm512_xor_si512(_mm512_maskz_loadu_epi64(m, codes + w),
                                         _mm512_maskz_loadu_epi64(m, q + w));
            d = _mm512_add_epi64(d, _mm512_popcnt_epi64(x));
        }
        out[i] = (uint32_t)_mm512_reduce_add_epi64(d);
    }
}
