/*
 * avx2.c — the x86-64 AVX2+FMA kernels, in intrinsics. The GEMM computes
 * tiles of 4 rows of x by 3 rows of w as 12 ymm accumulators of 8 partial
 * dot products each (12 FMAs per 7 loads), then sums the lanes; blocks of
 * weight rows stay in L2 while every row of x passes. The only file compiled
 * with -mavx2 -mfma; dispatch.c calls it only when CPUID reports both.
 */
#include "../kernels.h"

#include <immintrin.h>
#include <string.h>

void mnemo__gemm_f32_avx2(size_t, size_t, size_t, const float *, size_t, const float *, size_t,
                          float *, size_t);
void mnemo__gemm_bf16_avx2(size_t, size_t, size_t, const float *, size_t, const uint16_t *, size_t,
                           float *, size_t);

#define MR 4
#define NR 3

static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline __m256 load_w_f32(const float *p) { return _mm256_loadu_ps(p); }
static inline __m256 load_w_bf16(const uint16_t *p) {
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}
static inline float scalar_w_f32(const float *p) { return *p; }
static inline float scalar_w_bf16(const uint16_t *p) {
    uint32_t b = (uint32_t)*p << 16;
    float f;
    memcpy(&f, &b, 4);
    return f;
}

#define DEFINE_TILE(NAME, WT, LOADW, SCALARW)                                                     \
    static inline __attribute__((always_inline)) void NAME(                                       \
        const int mr, const int nr, size_t K, const float *x, size_t ldx, const WT *w,            \
        size_t ldw, float *y, size_t ldy) {                                                       \
        __m256 acc[MR][NR];                                                                       \
        for (int i = 0; i < MR; i++)                                                              \
            for (int j = 0; j < NR; j++) acc[i][j] = _mm256_setzero_ps();                         \
        size_t k = 0;                                                                             \
        for (; k + 8 <= K; k += 8) {                                                              \
            __m256 wv[NR];                                                                        \
            for (int j = 0; j < nr; j++) wv[j] = LOADW(w + j * ldw + k);                          \
            for (int i = 0; i < mr; i++) {                                                        \
                __m256 xv = _mm256_loadu_ps(x + i * ldx + k);                                     \
                for (int j = 0; j < nr; j++) acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);   \
            }                                                                                     \
        }                                                                                         \
        for (int i = 0; i < mr; i++)                                                              \
            for (int j = 0; j < nr; j++) {                                                        \
                float s = hsum(acc[i][j]);                                                        \
                for (size_t t = k; t < K; t++) s += x[i * ldx + t] * SCALARW(w + j * ldw + t);    \
                y[i * ldy + j] = s;                                                               \
            }                                                                                     \
    }

#define DEFINE_GEMM(NAME, TILE, WT)                                                               \
    void NAME(size_t M, size_t N, size_t K, const float *x, size_t ldx, const WT *w, size_t ldw,  \
              float *y, size_t ldy) {                                                             \
        /* a block of weight rows (~96 KB) stays in L2 while all rows of x pass */                \
        size_t nb = K ? (24576 / K) / NR * NR : NR;                                               \
        if (nb < NR) nb = NR;                                                                     \
        for (size_t n0 = 0; n0 < N; n0 += nb) {                                                   \
            size_t n1 = n0 + nb < N ? n0 + nb : N;                                                \
            for (size_t m = 0; m < M; m += MR) {                                                  \
                size_t mr = M - m < MR ? M - m : MR;                                              \
                const float *xp = x + m * ldx;                                                    \
                for (size_t n = n0; n < n1; n += NR) {                                            \
                    size_t nr = n1 - n < NR ? n1 - n : NR;                                        \
                    const WT *wp = w + n * ldw;                                                   \
                    float *yp = y + m * ldy + n;                                                  \
                    if (mr == 4 && nr == 3) TILE(4, 3, K, xp, ldx, wp, ldw, yp, ldy);             \
                    else if (mr == 4 && nr == 2) TILE(4, 2, K, xp, ldx, wp, ldw, yp, ldy);        \
                    else if (mr == 4) TILE(4, 1, K, xp, ldx, wp, ldw, yp, ldy);                   \
                    else if (mr == 3 && nr == 3) TILE(3, 3, K, xp, ldx, wp, ldw, yp, ldy);        \
                    else if (mr == 2 && nr == 3) TILE(2, 3, K, xp, ldx, wp, ldw, yp, ldy);        \
                    else if (mr == 1 && nr == 3) TILE(1, 3, K, xp, ldx, wp, ldw, yp, ldy);        \
                    else {                                                                        \
                        for (size_t i = 0; i < mr; i++)                                           \
                            for (size_t j = 0; j < nr; j++)                                       \
                                TILE(1, 1, K, xp + i * ldx, ldx, wp + j * ldw, ldw,               \
                                     yp + i * ldy + j, ldy);                                      \
                    }                                                                             \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
    }

DEFINE_TILE(tile_f32, float, load_w_f32, scalar_w_f32)
DEFINE_TILE(tile_bf16, uint16_t, load_w_bf16, scalar_w_bf16)
DEFINE_GEMM(mnemo__gemm_f32_avx2, tile_f32, float)
DEFINE_GEMM(mnemo__gemm_bf16_avx2, tile_bf16, uint16_t)
