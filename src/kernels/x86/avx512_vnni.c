/*
 * avx512_vnni.c — the int8 packed GEMM with AVX512-VNNI's vpdpwssd (int16
 * pairs multiplied and added into int32 in one instruction: the same exact
 * sums as vpmaddwd + vpaddd, half the instructions). The tile code is
 * avx512_i8.inc's. The only file compiled with -mavx512vnni; dispatch.c
 * calls it only when CPUID reports AVX512-VNNI.
 */
#include "../kernels.h"

#include <immintrin.h>
#include <string.h>

/* vpdpwssd through asm: GCC 12 gives the intrinsic's accumulator a copy per
 * instruction and mirrors it on the stack (measured: 212 vs 320+ GOP/s). */
static inline __attribute__((always_inline)) __m512i dpwssd(__m512i acc, __m512i a, __m512i b) {
    __asm__("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
    return acc;
}
#define I8_MAC(acc, a, b) dpwssd((acc), (a), (b))
#define I8_GEMM_NAME mnemo__gemm_packed_i8_vnni
#include "avx512_i8.inc"

/* ------------------------------------------------------------- q4 */
/*
 * 4-bit weights in blocks of 32 k with one f32 scale per (row, block), int16
 * activations (kernels.h, mnemo__pack_q4): per pair of k, a panel's 16 bytes
 * hold each column's two nibbles; they widen to one zmm of 16 x (int16 k,
 * int16 k+1) with the 8 offset removed, and vpdpwssd adds each row's
 * broadcast activation pair (an embedded {1to16} memory operand). A block's
 * int32 sums are scaled by the block's 16 column scales into f32
 * accumulators, so a tile is 12 rows x 1 panel (12 int32 + 12 f32 registers).
 */
void mnemo__gemm_packed_q4_vnni(size_t, size_t, size_t, const int16_t *, size_t, const float *,
                                const uint8_t *, const float *, size_t, size_t, float *, size_t);

static inline __attribute__((always_inline)) __m512i dpwssd_bcast(__m512i acc, __m512i w,
                                                                  const int16_t *pair) {
    __asm__("vpdpwssd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(w), "m"(*(const int32_t *)pair));
    return acc;
}

/* 16 bytes (column c: low nibble k, high nibble k+1, each q + 8) -> 16 lanes
 * of (int16 q_k, int16 q_k+1). */
static inline __attribute__((always_inline)) __m512i q4_pair_row(const uint8_t *p) {
    __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p));
    __m512i lo = _mm512_and_si512(v, _mm512_set1_epi32(0x0F));
    __m512i hi = _mm512_slli_epi32(_mm512_and_si512(v, _mm512_set1_epi32(0xF0)), 12);
    return _mm512_sub_epi16(_mm512_or_si512(lo, hi), _mm512_set1_epi16(8));
}

#define Q4_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
static inline __attribute__((always_inline)) void q4_tile(const int mr, size_t nb, size_t kh,
                                                          const int16_t *x, size_t ldx,
                                                          const uint8_t *w, const float *ws,
                                                          const float *sx, float *y, size_t ldy,
                                                          __mmask16 mask) {
#define Q4_DECL(i) __m512 f##i = _mm512_setzero_ps();
    Q4_ROWS(Q4_DECL)
#undef Q4_DECL
    for (size_t b = 0; b < nb; b++) {
        size_t kp0 = b * 16, kp1 = kp0 + 16 < kh ? kp0 + 16 : kh;
#define Q4_IDECL(i) __m512i c##i = _mm512_setzero_si512();
        Q4_ROWS(Q4_IDECL)
#undef Q4_IDECL
        const uint8_t *wb = w + b * 256;
        for (size_t kp = kp0; kp < kp1; kp++) {
            __m512i wv = q4_pair_row(wb + (kp - kp0) * 16);
#define Q4_STEP(i)                                                                                 \
    if (i < mr) c##i = dpwssd_bcast(c##i, wv, x + i * ldx + 2 * kp);
            Q4_ROWS(Q4_STEP)
#undef Q4_STEP
        }
        __m512 s = _mm512_loadu_ps(ws + b * 16);
#define Q4_SCALE(i)                                                                                \
    if (i < mr) f##i = _mm512_fmadd_ps(_mm512_cvtepi32_ps(c##i), s, f##i);
        Q4_ROWS(Q4_SCALE)
#undef Q4_SCALE
    }
#define Q4_STORE(i)                                                                                \
    if (i < mr) _mm512_mask_storeu_ps(y + i * ldy, mask, _mm512_mul_ps(f##i, _mm512_set1_ps(sx[i])));
    Q4_ROWS(Q4_STORE)
#undef Q4_STORE
}

void mnemo__gemm_packed_q4_vnni(size_t M, size_t N, size_t K, const int16_t *xq, size_t ldxq,
                                const float *sx, const uint8_t *wq, const float *ws, size_t p0,
                                size_t p1, float *y, size_t ldy) {
    size_t nb = (K + 31) / 32, kh = (K + 1) / 2;
    /* a group of panels (~256 KB of nibbles) stays in L2 while every tile of x passes */
    size_t group = nb ? 262144 / (nb * 256) : 1;
    if (group < 1) group = 1;
    for (size_t pg = p0; pg < p1; pg += group) {
        size_t pe = pg + group < p1 ? pg + group : p1;
        for (size_t m = 0; m < M; m += 12) {
            size_t mr = M - m < 12 ? M - m : 12;
            for (size_t p = pg; p < pe; p++) {
                size_t n0 = p * 16, ncols = N - n0 < 16 ? N - n0 : 16;
                __mmask16 mask = (__mmask16)((1u << ncols) - 1);
                const uint8_t *w = wq + p * nb * 256;
                const float *s = ws + p * nb * 16;
                const int16_t *xp = xq + m * ldxq;
                float *yp = y + m * ldy + n0;
#define Q4_CASE(R)                                                                                 \
    case R: q4_tile(R, nb, kh, xp, ldxq, w, s, sx + m, yp, ldy, mask); break;
                switch (mr) {
                    Q4_CASE(12) Q4_CASE(11) Q4_CASE(10) Q4_CASE(9) Q4_CASE(8) Q4_CASE(7)
                    Q4_CASE(6) Q4_CASE(5) Q4_CASE(4) Q4_CASE(3) Q4_CASE(2) Q4_CASE(1)
                default: break;
                }
#undef Q4_CASE
            }
        }
    }
}

/* ------------------------------------------------------------ peak */
/* A register-only vpdpwssd loop (the int8/q4 kernels' instruction) for
 * `mnemo bench`: 10 chains, iters * 10 * 32 multiply-adds = 64 ops each. */
float mnemo__dpwssd_loop(uint64_t iters);
float mnemo__dpwssd_loop(uint64_t iters) {
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,
            a7 = a0, a8 = a0, a9 = a0;
    const __m512i u = _mm512_set1_epi16(1), v = _mm512_set1_epi16(-1);
    for (uint64_t i = 0; i < iters; i++) {
        a0 = dpwssd(a0, u, v), a1 = dpwssd(a1, u, v), a2 = dpwssd(a2, u, v);
        a3 = dpwssd(a3, u, v), a4 = dpwssd(a4, u, v), a5 = dpwssd(a5, u, v);
        a6 = dpwssd(a6, u, v), a7 = dpwssd(a7, u, v), a8 = dpwssd(a8, u, v);
        a9 = dpwssd(a9, u, v);
    }
    __m512i s = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3)),
                                 _mm512_add_epi32(_mm512_add_epi32(a4, a5), _mm512_add_epi32(a6, a7)));
    return (float)_mm512_reduce_add_epi32(_mm512_add_epi32(s, _mm512_add_epi32(a8, a9)));
}
