/*
 * avx512_vnni.c — the int8 packed GEMM with AVX512-VNNI's vpdpwssd (int16
 * pairs multiplied and added into int32 in one instruction: the same exact
 * sums as vpmaddwd + vpaddd, half the instructions). The tile code is
 * avx512_i8.inc's. The only file compiled with -mavx512vnni; dispatch.c
 * calls it only when CPUID reports AVX512-VNNI.
 */
#include "../kernels.h"
#include "x86.h"

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
#define I16S_GEMM_NAME mnemo__gemm_packed_i16s_vnni
#include "avx512_i8.inc"

/* ------------------------------------------------- int8 x u8 (vpdpbusd) */
/*
 * The 8-bit dot product (kernels.h, mnemo_gemm_packed_u8_fn): per quad of k,
 * a panel's 64 weight bytes are one zmm (16 columns x 4 signed k), a row's 4
 * activation bytes are broadcast to every lane, and vpdpbusd adds the four
 * u8 x s8 products into each column's int32. The unsigned operand must be a
 * register (the instruction's memory broadcast is the signed one), so each
 * row's quad is broadcast with vpbroadcastd first. A tile is 12 rows x 2
 * panels: 24 int32 accumulators, 2 weight registers and 1 broadcast.
 */

/* acc += u8 quads of u . s8 quads of s, per int32 lane */
static inline __attribute__((always_inline)) __m512i dpbusd(__m512i acc, __m512i u, __m512i s) {
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u), "v"(s));
    return acc;
}

static inline __attribute__((always_inline)) __m512i u8_bcast_quad(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

#define U8_TMR 12
#define U8_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
static inline __attribute__((always_inline)) void
u8_tile(const int mr, const int np, size_t kq, const uint8_t *x, size_t ldx, const int8_t *w0,
        const int8_t *w1, const float *sx, const int32_t *zx, const float *sw, const int32_t *wsum,
        float *y, size_t ldy, __mmask16 mask, const int8_t *pf) {
#define U8_DECL(i) __m512i c##i##a = _mm512_setzero_si512(), c##i##b = c##i##a;
    U8_ROWS(U8_DECL)
#undef U8_DECL
    for (size_t q = 0; q < kq; q++) {
        __m512i b0 = _mm512_loadu_si512(w0 + q * 64);
        __m512i b1 = np > 1 ? _mm512_loadu_si512(w1 + q * 64) : b0;
        if (pf) {
            _mm_prefetch((const char *)pf + q * 128, _MM_HINT_T1);
            _mm_prefetch((const char *)pf + q * 128 + 64, _MM_HINT_T1);
        }
#define U8_STEP(i)                                      \
    if (i < mr) {                                       \
        __m512i a = u8_bcast_quad(x + i * ldx + 4 * q); \
        c##i##a = dpbusd(c##i##a, a, b0);               \
        if (np > 1) c##i##b = dpbusd(c##i##b, a, b1);   \
    }
        U8_ROWS(U8_STEP)
#undef U8_STEP
    }
    /* (acc - zx * wsum) exactly in int32, then * sx * sw in f32, in the
     * reference's order */
    __m512 s0 = _mm512_loadu_ps(sw), s1 = np > 1 ? _mm512_maskz_loadu_ps(mask, sw + 16) : s0;
    __m512i ws0 = _mm512_loadu_si512(wsum),
            ws1 = np > 1 ? _mm512_maskz_loadu_epi32(mask, wsum + 16) : ws0;
#define U8_STORE(i)                                                                  \
    if (i < mr) {                                                                    \
        __m512 r = _mm512_set1_ps(sx[i]);                                            \
        __m512i z = _mm512_set1_epi32(zx[i]);                                        \
        __m512i t0 = _mm512_sub_epi32(c##i##a, _mm512_mullo_epi32(z, ws0));          \
        __m512 f0 = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(t0), r), s0);     \
        if (np > 1) {                                                                \
            __m512i t1 = _mm512_sub_epi32(c##i##b, _mm512_mullo_epi32(z, ws1));      \
            __m512 f1 = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(t1), r), s1); \
            _mm512_storeu_ps(y + i * ldy, f0);                                       \
            _mm512_mask_storeu_ps(y + i * ldy + 16, mask, f1);                       \
        } else {                                                                     \
            _mm512_mask_storeu_ps(y + i * ldy, mask, f0);                            \
        }                                                                            \
    }
    U8_ROWS(U8_STORE)
#undef U8_STORE
}

static inline __attribute__((always_inline)) void
u8_tile_rows(size_t mr, int np, size_t kq, const uint8_t *x, size_t ldx, const int8_t *w0,
             const int8_t *w1, const float *sx, const int32_t *zx, const float *sw,
             const int32_t *wsum, float *y, size_t ldy, __mmask16 mask, const int8_t *pf) {
#define U8_CASE(R)                                                                 \
    case R:                                                                        \
        if (np > 1)                                                                \
            u8_tile(R, 2, kq, x, ldx, w0, w1, sx, zx, sw, wsum, y, ldy, mask, pf); \
        else                                                                       \
            u8_tile(R, 1, kq, x, ldx, w0, w1, sx, zx, sw, wsum, y, ldy, mask, pf); \
        break;
    /* clang-format off */
    switch (mr) {
        U8_CASE(12) U8_CASE(11) U8_CASE(10) U8_CASE(9) U8_CASE(8) U8_CASE(7)
        U8_CASE(6) U8_CASE(5) U8_CASE(4) U8_CASE(3) U8_CASE(2) U8_CASE(1)
    default: break;
    }
    /* clang-format on */
#undef U8_CASE
}

void mnemo__gemm_packed_u8_vnni(size_t M, size_t N, size_t K, const uint8_t *xu, size_t ldxu,
                                const float *sx, const int32_t *zx, const int8_t *wq,
                                const float *sw, size_t p0, size_t p1, float *y, size_t ldy) {
    size_t K4 = (K + 3) & ~(size_t)3, pbytes = K4 * 16;
    const int32_t *wsum = (const int32_t *)(sw + N);
    /* a group of panels (the budget: 256 KB of int8, in pairs of panels) stays
     * in L2 while every tile of x passes */
    size_t group = mnemo__panel_group(MNEMO_L2_BUDGET, pbytes, 2) & ~(size_t)1;
    for (size_t pg = p0; pg < p1; pg += group) {
        size_t pe = pg + group < p1 ? pg + group : p1;
        for (size_t m = 0; m < M; m += U8_TMR) {
            size_t mr = M - m < U8_TMR ? M - m : U8_TMR;
            for (size_t p = pg; p < pe; p += 2) {
                int np = p + 1 < pe ? 2 : 1;
                size_t last = p + (size_t)np - 1, n0 = p * 16;
                size_t lastcols = N - last * 16 < 16 ? N - last * 16 : 16;
                __mmask16 mask = (__mmask16)((1u << lastcols) - 1);
                /* the scales and sums end at N: a lone last panel's are read under `mask` */
                float swpad[16];
                int32_t wspad[16];
                const float *swp = sw + n0;
                const int32_t *wsp = wsum + n0;
                if (np == 1 && lastcols < 16) {
                    mnemo__u8_pad_scales(sw, wsum, n0, lastcols, swpad, wspad);
                    swp = swpad;
                    wsp = wspad;
                }
                const int8_t *w0 = wq + p * pbytes;
                u8_tile_rows(mr, np, K4 / 4, xu + m * ldxu, ldxu, w0, w0 + pbytes, sx + m, zx + m,
                             swp, wsp, y + m * ldy + n0, ldy, mask,
                             (const int8_t *)mnemo__prefetch_pair(m, p, p1, w0, pbytes));
            }
        }
    }
}

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
static inline __attribute__((always_inline)) void
q4_tile(const int mr, size_t nb, size_t kh, const int16_t *x, size_t ldx, const uint8_t *w,
        const float *ws, const float *sx, float *y, size_t ldy, __mmask16 mask) {
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
#define Q4_STEP(i) \
    if (i < mr) c##i = dpwssd_bcast(c##i, wv, x + i * ldx + 2 * kp);
            Q4_ROWS(Q4_STEP)
#undef Q4_STEP
        }
        __m512 s = _mm512_loadu_ps(ws + b * 16);
#define Q4_SCALE(i) \
    if (i < mr) f##i = _mm512_fmadd_ps(_mm512_cvtepi32_ps(c##i), s, f##i);
        Q4_ROWS(Q4_SCALE)
#undef Q4_SCALE
    }
#define Q4_STORE(i) \
    if (i < mr)     \
        _mm512_mask_storeu_ps(y + i * ldy, mask, _mm512_mul_ps(f##i, _mm512_set1_ps(sx[i])));
    Q4_ROWS(Q4_STORE)
#undef Q4_STORE
}

void mnemo__gemm_packed_q4_vnni(size_t M, size_t N, size_t K, const int16_t *xq, size_t ldxq,
                                const float *sx, const uint8_t *wq, const float *ws, size_t p0,
                                size_t p1, float *y, size_t ldy) {
    size_t nb = (K + 31) / 32, kh = (K + 1) / 2;
    /* a group of panels (the budget: 256 KB of nibbles) stays in L2 while every tile of x passes */
    size_t group = mnemo__panel_group(MNEMO_L2_BUDGET, nb * 256, 1);
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
#define Q4_CASE(R) \
    case R: q4_tile(R, nb, kh, xp, ldxq, w, s, sx + m, yp, ldy, mask); break;
                /* clang-format off */
                switch (mr) {
                    Q4_CASE(12) Q4_CASE(11) Q4_CASE(10) Q4_CASE(9) Q4_CASE(8) Q4_CASE(7)
                    Q4_CASE(6) Q4_CASE(5) Q4_CASE(4) Q4_CASE(3) Q4_CASE(2) Q4_CASE(1)
                default: break;
                }
                /* clang-format on */
#undef Q4_CASE
            }
        }
    }
}
