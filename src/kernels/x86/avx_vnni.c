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

/* avx2_u8.inc's hooks: the rows as they come, one tile by its row count */
static inline __attribute__((always_inline)) u8_rows
u8_rows_as_is(size_t mr, size_t K4, const uint8_t *x, size_t ldx, uint8_t *scratch) {
    (void)mr, (void)K4, (void)scratch;
    return (u8_rows){x, ldx, NULL};
}

static inline __attribute__((always_inline)) void
u8_tile_vnni(size_t mr, size_t kq, u8_rows r, const int8_t *w, const float *sx, const int32_t *zx,
             const float *sw, const int32_t *wsum, float *y, size_t ldy, size_t ncols) {
#define U8_CASE(R) \
    case R: u8_tile(R, kq, r.x, r.ldx, w, sx, zx, sw, wsum, y, ldy, ncols); break;
    /* clang-format off */
    switch (mr) {
        U8_CASE(6) U8_CASE(5) U8_CASE(4) U8_CASE(3) U8_CASE(2) U8_CASE(1)
    default: break;
    }
    /* clang-format on */
#undef U8_CASE
}

#define U8_PREP u8_rows_as_is
#define U8_TILE u8_tile_vnni
#define U8_GEMM_NAME mnemo__gemm_packed_u8_avxvnni
#include "avx2_u8.inc"
