/*
 * avx512_bf16.c — the bf16-weight packed GEMM with AVX512-BF16's vdpbf16ps:
 * each instruction multiplies 16 columns x 2 k of bf16 weights by a pair of
 * bf16 activations and adds both products into 16 f32 accumulators (twice
 * the work of an f32 FMA). The weights use the pair layout (kernels.h,
 * mnemo__pack_bf16_pairs); the activations are rounded to bf16 (nearest
 * even) once per 12-row tile, into a buffer on the stack; accumulation stays
 * f32. The only file compiled with -mavx512bf16; dispatch.c uses it only
 * when CPUID reports AVX512-BF16.
 */
#include "../kernels.h"
#include "x86.h"

#include <immintrin.h>
#include <string.h>

#define BMR 12
/* The k-chunk one stack buffer of bf16 activations holds (12 rows x 4096 =
 * 96 KB): the model's longest K is 3072 (the second Dense layer), so one
 * chunk; a longer K runs in chunks whose sums are added into y. */
#define BMAX_K 4096

/* vdpbf16ps through asm: GCC 12 copies the intrinsic's accumulator per
 * instruction (see avx512_vnni.c). acc += a.lo*b.lo + a.hi*b.hi per lane. */
static inline __attribute__((always_inline)) __m512 dpbf16(__m512 acc, __m512i a, __m512i b) {
    __asm__("vdpbf16ps %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
    return acc;
}

#define BROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
/* mr (<= 12) rows of bf16 pairs xb (row stride Kp/2 words) against np (1 or
 * 2) panels; named accumulators (GCC would mirror an array on the stack). */
static inline __attribute__((always_inline)) void btile(const int mr, const int np, size_t Kp,
                                                        const uint32_t *xb, const uint16_t *w0,
                                                        const uint16_t *w1, float *y, size_t ldy,
                                                        __mmask16 mask, int add) {
    size_t kh = Kp / 2;
#define BDECL(i) __m512 c##i##a = _mm512_setzero_ps(), c##i##b = c##i##a;
    BROWS(BDECL)
#undef BDECL
    for (size_t kp = 0; kp < kh; kp++) {
        __m512i b0 = _mm512_loadu_si512(w0 + kp * 32);
        __m512i b1 = np > 1 ? _mm512_loadu_si512(w1 + kp * 32) : b0;
#define BSTEP(i)                                             \
    if (i < mr) {                                            \
        __m512i a = _mm512_set1_epi32((int)xb[i * kh + kp]); \
        c##i##a = dpbf16(c##i##a, a, b0);                    \
        if (np > 1) c##i##b = dpbf16(c##i##b, a, b1);        \
    }
        BROWS(BSTEP)
#undef BSTEP
    }
#define BSTORE(i)                                                                                \
    if (i < mr) {                                                                                \
        if (add) { /* a later k-chunk: add to what the earlier ones stored */                    \
            c##i##a = _mm512_add_ps(c##i##a,                                                     \
                                    _mm512_maskz_loadu_ps(np > 1 ? 0xFFFF : mask, y + i * ldy)); \
            if (np > 1)                                                                          \
                c##i##b = _mm512_add_ps(c##i##b, _mm512_maskz_loadu_ps(mask, y + i * ldy + 16)); \
        }                                                                                        \
        if (np > 1) {                                                                            \
            _mm512_storeu_ps(y + i * ldy, c##i##a);                                              \
            _mm512_mask_storeu_ps(y + i * ldy + 16, mask, c##i##b);                              \
        } else {                                                                                 \
            _mm512_mask_storeu_ps(y + i * ldy, mask, c##i##a);                                   \
        }                                                                                        \
    }
    BROWS(BSTORE)
#undef BSTORE
}

static inline __attribute__((always_inline)) void btile_rows(size_t mr, int np, size_t Kp,
                                                             const uint32_t *xb, const uint16_t *w0,
                                                             const uint16_t *w1, float *y,
                                                             size_t ldy, __mmask16 mask, int add) {
#define BCASE(R)                                            \
    case R:                                                 \
        if (np > 1)                                         \
            btile(R, 2, Kp, xb, w0, w1, y, ldy, mask, add); \
        else                                                \
            btile(R, 1, Kp, xb, w0, w1, y, ldy, mask, add); \
        break;
    /* clang-format off */
    switch (mr) {
        BCASE(12) BCASE(11) BCASE(10) BCASE(9) BCASE(8) BCASE(7)
        BCASE(6) BCASE(5) BCASE(4) BCASE(3) BCASE(2) BCASE(1)
    default: break;
    }
    /* clang-format on */
#undef BCASE
}

/* Rows of x to bf16 (nearest even), K padded to even with a zero. */
static void rows_to_bf16(const float *x, size_t ldx, size_t mr, size_t K, size_t Kp, uint16_t *xb) {
    for (size_t i = 0; i < mr; i++) {
        const float *r = x + i * ldx;
        uint16_t *d = xb + i * Kp;
        size_t k = 0;
        for (; k + 16 <= K; k += 16)
            _mm256_storeu_si256((__m256i *)(d + k),
                                (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(r + k)));
        if (k < K) {
            __mmask16 m = (__mmask16)((1u << (K - k)) - 1);
            __m256i v = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, r + k));
            _mm256_mask_storeu_epi16(d + k, m, v);
        }
        if (K % 2) d[K] = 0;
    }
}

/* Panel p at wp + p * pstride (pstride >= Kp * 16 elements; kernels.h). */
static void gemm_dp(size_t M, size_t N, size_t K, const float *x, size_t ldx, const uint16_t *wp,
                    size_t pstride, size_t p0, size_t p1, float *y, size_t ldy) {
    size_t Kp = (K + 1) & ~(size_t)1, pelems = Kp * 16;
    uint32_t xb[BMR * BMAX_K / 2];
    /* 3/2 of the budget (384 KB of weights) stays in L2, in pairs of panels */
    size_t group = mnemo__panel_group(MNEMO_L2_BUDGET * 3 / 2, pelems * 2, 2) & ~(size_t)1;
    for (size_t pg = p0; pg < p1; pg += group) {
        size_t pe = pg + group < p1 ? pg + group : p1;
        for (size_t m = 0; m < M; m += BMR) {
            size_t mr = M - m < BMR ? M - m : BMR;
            size_t chunks = K ? (K + BMAX_K - 1) / BMAX_K : 1; /* one for K <= 4096 */
            for (size_t c = 0, k0 = 0; c < chunks; c++, k0 += BMAX_K) {
                size_t kc = K - k0 < BMAX_K ? K - k0 : BMAX_K, kcp = (kc + 1) & ~(size_t)1;
                rows_to_bf16(x + m * ldx + k0, ldx, mr, kc, kcp, (uint16_t *)xb);
                for (size_t p = pg; p < pe; p += 2) {
                    int np = p + 1 < pe ? 2 : 1;
                    size_t last = p + (size_t)np - 1, n0 = p * 16;
                    size_t lastcols = N - last * 16 < 16 ? N - last * 16 : 16;
                    __mmask16 mask = (__mmask16)((1u << lastcols) - 1);
                    const uint16_t *w0 = wp + p * pstride + k0 * 16;
                    btile_rows(mr, np, kcp, xb, w0, w0 + pstride, y + m * ldy + n0, ldy, mask,
                               k0 > 0);
                }
            }
        }
    }
}

void mnemo__gemm_packed_bf16_dp(size_t M, size_t N, size_t K, const float *x, size_t ldx,
                                const uint16_t *wp, size_t p0, size_t p1, float *y, size_t ldy) {
    gemm_dp(M, N, K, x, ldx, wp, ((K + 1) & ~(size_t)1) * 16, p0, p1, y, ldy);
}

void mnemo__gemm_packed_bf16_dps(size_t M, size_t N, size_t K, const float *x, size_t ldx,
                                 const uint16_t *wp, size_t pstride, size_t p0, size_t p1, float *y,
                                 size_t ldy) {
    gemm_dp(M, N, K, x, ldx, wp, pstride, p0, p1, y, ldy);
}

/* ------------------------------------------------- attention's packing */

/* Each row's 32 floats at a time to 16 words of bf16 pairs (vcvtne2ps2bf16:
 * dims 2i, 2i+1 in word i), each word scattered to its pair row of the panel
 * (stride 16 words). The panel is zeroed first where rows or pairs are short. */
void mnemo__pack_pairs_rows_bf16(const float *x, size_t ldx, size_t N, size_t K, uint16_t *wp) {
    size_t Kp = (K + 1) & ~(size_t)1, panels = (N + 15) / 16;
    const __m512i idx =
        _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                           _mm512_set1_epi32(16));
    for (size_t p = 0; p < panels; p++) {
        uint32_t *panel = (uint32_t *)(void *)(wp + p * Kp * 16);
        size_t rows = N - p * 16 < 16 ? N - p * 16 : 16;
        if (rows < 16 || K % 2) memset(panel, 0, Kp * 16 * sizeof *wp);
        for (size_t r = 0; r < rows; r++) {
            const float *row = x + (p * 16 + r) * ldx;
            for (size_t k = 0; k < K; k += 32) {
                size_t n = K - k < 32 ? K - k : 32;
                __mmask16 lo = (__mmask16)(n >= 16 ? 0xFFFF : (1u << n) - 1);
                __mmask16 hi = (__mmask16)(n >= 32 ? 0xFFFF : n > 16 ? (1u << (n - 16)) - 1 : 0);
                __m512i w = (__m512i)_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(hi, row + k + 16),
                                                         _mm512_maskz_loadu_ps(lo, row + k));
                __mmask16 words = (__mmask16)(n >= 32 ? 0xFFFF : (1u << ((n + 1) / 2)) - 1);
                _mm512_mask_i32scatter_epi32(panel + (k / 2) * 16 + r, words, idx, w, 4);
            }
        }
    }
}

/* Two keys' 16 dims at a time: each rounded to bf16, widened to 32 bits, the
 * second key's in the high half: the 16 pair words of one k pair. */
void mnemo__pack_pairs_cols_bf16(const float *x, size_t ldx, size_t K, size_t N, uint16_t *wp,
                                 size_t pstride) {
    size_t Kp = (K + 1) & ~(size_t)1, panels = (N + 15) / 16;
    for (size_t p = 0; p < panels; p++) {
        size_t cols = N - p * 16 < 16 ? N - p * 16 : 16;
        __mmask16 m = (__mmask16)((1u << cols) - 1);
        for (size_t k = 0; k < Kp; k += 2) {
            __m512 a = _mm512_maskz_loadu_ps(m, x + k * ldx + p * 16);
            __m512 b = k + 1 < K ? _mm512_maskz_loadu_ps(m, x + (k + 1) * ldx + p * 16)
                                 : _mm512_setzero_ps();
            __m512i lo = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(a));
            __m512i hi = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(b));
            _mm512_storeu_si512(wp + p * pstride + k * 16,
                                _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
        }
    }
}
