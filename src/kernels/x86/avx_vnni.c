/*
 * avx_vnni.c — the int8 GEMMs on AVX-VNNI: the VEX-encoded, ymm-only
 * vpdpbusd and vpdpwssd of Intel's Alder Lake and later cores and of the
 * Xeons built from them (Sierra Forest), which have no AVX-512. The same
 * exact integer sums as AVX2's paths in fewer instructions: vpdpbusd
 * replaces vpsignb + vpmaddubsw + vpmaddwd + vpaddd (and needs no recentring
 * of the activations: it takes u8 x s8 as they come), vpdpwssd replaces
 * vpmaddwd + vpaddd. Compiled with -mavx2 -mfma -mavxvnni and nothing of
 * AVX-512, so every instruction here has a VEX encoding; the asm spells
 * {vex} because the assembler would otherwise pick the EVEX form where
 * AVX512-VNNI exists (tests/test_peak_loops.sh checks the encoding).
 * dispatch.c calls it only when CPUID reports AVX-VNNI.
 */
#include "../kernels.h"
#include "x86.h"

#include <immintrin.h>
#include <string.h>

/* acc += pairwise int16 products of a and w, exact int32 (asm: see
 * avx512_vnni.c on GCC's intrinsic) */
static inline __attribute__((always_inline)) __m256i dpwssd_vex(__m256i acc, __m256i a, __m256i w) {
    __asm__("%{vex%} vpdpwssd %2, %1, %0" : "+x"(acc) : "x"(a), "x"(w));
    return acc;
}
#define I8_MAC(acc, a, w) dpwssd_vex((acc), (a), (w))
#define I8_GEMM_NAME mnemo__gemm_packed_i8_avxvnni
#include "avx2_i8.inc"

/* ------------------------------------------------- int8 x u8 (vpdpbusd) */
/*
 * The 8-bit dot product (kernels.h, mnemo_gemm_packed_u8_fn) on ymm: per
 * quad of k, a panel's 64 weight bytes are two ymm (8 columns x 4 signed k
 * each), a row's 4 activation bytes are broadcast to every lane, and
 * vpdpbusd adds the four u8 x s8 products into each column's int32. A tile
 * is 6 rows x 16 columns: 12 accumulators, 2 weight registers and 1
 * broadcast of the 16 ymm registers.
 */

/* acc += u8 quads of u . s8 quads of s, per int32 lane */
static inline __attribute__((always_inline)) __m256i dpbusd_vex(__m256i acc, __m256i u, __m256i s) {
    __asm__("%{vex%} vpdpbusd %2, %1, %0" : "+x"(acc) : "x"(u), "x"(s));
    return acc;
}

static inline __attribute__((always_inline)) __m256i u8_bcast_quad(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/* One row's stores: (acc - zx * wsum) exactly in int32, then the int8
 * path's f32 products (store_i8_row, avx2_i8.inc). */
static inline __attribute__((always_inline)) void u8_store_row(__m256i c0, __m256i c1, float sxm,
                                                               int32_t zxm, const float *sw,
                                                               const int32_t *wsum, size_t ncols,
                                                               float *y) {
    __m256i z = _mm256_set1_epi32(zxm);
    __m256i w0 = _mm256_loadu_si256((const __m256i *)wsum),
            w1 = _mm256_loadu_si256((const __m256i *)(wsum + 8));
    store_i8_row(_mm256_sub_epi32(c0, _mm256_mullo_epi32(z, w0)),
                 _mm256_sub_epi32(c1, _mm256_mullo_epi32(z, w1)), sxm, sw, ncols, y);
}

#define U8_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
static inline __attribute__((always_inline)) void u8_tile(const int mr, size_t kq, const uint8_t *x,
                                                          size_t ldx, const int8_t *w,
                                                          const float *sx, const int32_t *zx,
                                                          const float *sw, const int32_t *wsum,
                                                          float *y, size_t ldy, size_t ncols) {
#define U8_DECL(i) __m256i c##i##a = _mm256_setzero_si256(), c##i##b = c##i##a;
    U8_ROWS(U8_DECL)
#undef U8_DECL
    for (size_t q = 0; q < kq; q++) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(w + q * 64));
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(w + q * 64 + 32));
#define U8_STEP(i)                                      \
    if (i < mr) {                                       \
        __m256i a = u8_bcast_quad(x + i * ldx + 4 * q); \
        c##i##a = dpbusd_vex(c##i##a, a, b0);           \
        c##i##b = dpbusd_vex(c##i##b, a, b1);           \
    }
        U8_ROWS(U8_STEP)
#undef U8_STEP
    }
#define U8_STORE(i) \
    if (i < mr) u8_store_row(c##i##a, c##i##b, sx[i], zx[i], sw, wsum, ncols, y + i * ldy);
    U8_ROWS(U8_STORE)
#undef U8_STORE
}

void mnemo__gemm_packed_u8_avxvnni(size_t M, size_t N, size_t K, const uint8_t *xu, size_t ldxu,
                                   const float *sx, const int32_t *zx, const int8_t *wq,
                                   const float *sw, size_t p0, size_t p1, float *y, size_t ldy) {
    size_t K4 = (K + 3) & ~(size_t)3, kq = K4 / 4;
    const int32_t *wsum = (const int32_t *)(sw + N);
    /* a group of panels (half the budget: 128 KB of int8, as AVX2's) stays
     * in L2 while every tile of x passes */
    size_t group = mnemo__panel_group(MNEMO_L2_BUDGET / 2, 16 * K4, 1);
    for (size_t pg = p0; pg < p1; pg += group) {
        size_t pe = pg + group < p1 ? pg + group : p1;
        for (size_t m = 0; m < M; m += 6) {
            size_t mr = M - m < 6 ? M - m : 6;
            const uint8_t *xp = xu + m * ldxu;
            for (size_t p = pg; p < pe; p++) {
                size_t n0 = p * 16, ncols = N - n0 < 16 ? N - n0 : 16;
                /* the scales and sums end at N: a narrow last panel's are padded */
                float swpad[16];
                int32_t wspad[16];
                const float *swp = sw + n0;
                const int32_t *wsp = wsum + n0;
                if (ncols < 16) {
                    mnemo__u8_pad_scales(sw, wsum, n0, ncols, swpad, wspad);
                    swp = swpad;
                    wsp = wspad;
                }
                const int8_t *w = wq + p * K4 * 16;
                float *yp = y + m * ldy + n0;
#define U8_CASE(R) \
    case R: u8_tile(R, kq, xp, ldxu, w, sx + m, zx + m, swp, wsp, yp, ldy, ncols); break;
                /* clang-format off */
                switch (mr) {
                    U8_CASE(6) U8_CASE(5) U8_CASE(4) U8_CASE(3) U8_CASE(2) U8_CASE(1)
                default: break;
                }
                /* clang-format on */
#undef U8_CASE
            }
        }
    }
}
