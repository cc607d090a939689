/*
 * avx2.c — the AVX2+FMA table's kernels, in intrinsics: the packed GEMMs
 * (f32 and bf16-widened weights on a 6-row x 16-column tile, int8 and q4
 * weights on vpmaddwd, int8 x u8 on vpmaddubsw), GELU-tanh, the int16 and
 * u8 quantization of activations and the memory store's dot products. Compiled with -mavx2 -mfma; dispatch.c
 * calls it only when CPUID reports both.
 */
#include "../kernels.h"
#include "exp.h"
#include "x86.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

/* ------------------------------------------------------------- packed */
/*
 * The packed GEMM: a 6-row x 16-column micro-kernel over weights packed in
 * 16-wide panels (kernels.h). Per k: two vector loads of weights, six
 * broadcasts of x, twelve FMAs into twelve ymm accumulators (the classic
 * register-blocked shape; 16 ymm registers in all). Panels are taken in
 * groups that fit in L2, and every 6-row tile of x passes over a group.
 */
#define PMR 6

/* Panel row k's 16 weights as two vectors of 8 f32: f32 as stored, bf16
 * widened (its 16 bits become the high half of each 32-bit lane; exact). */
static inline __attribute__((always_inline)) void load_panel_row(const void *wp, int bf16, size_t k,
                                                                 __m256 *b0, __m256 *b1) {
    if (bf16) {
        const __m128i *w = (const __m128i *)((const uint16_t *)wp + k * 16);
        *b0 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(w)), 16));
        *b1 = _mm256_castsi256_ps(
            _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(w + 1)), 16));
    } else {
        const float *w = (const float *)wp + k * 16;
        *b0 = _mm256_loadu_ps(w);
        *b1 = _mm256_loadu_ps(w + 8);
    }
}

/* The full 6x16 tile with every accumulator a named register variable (GCC
 * spills an array of twelve to the stack on every iteration). */
static inline __attribute__((always_inline)) void
ptile_6x16(size_t K, const float *x, size_t ldx, const void *wp, int bf16, float *y, size_t ldy) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    const float *x0 = x, *x1 = x + ldx, *x2 = x + 2 * ldx, *x3 = x + 3 * ldx, *x4 = x + 4 * ldx,
                *x5 = x + 5 * ldx;
    for (size_t k = 0; k < K; k++) {
        __m256 b0, b1, a;
        load_panel_row(wp, bf16, k, &b0, &b1);
        a = _mm256_broadcast_ss(x0 + k);
        c00 = _mm256_fmadd_ps(a, b0, c00);
        c01 = _mm256_fmadd_ps(a, b1, c01);
        a = _mm256_broadcast_ss(x1 + k);
        c10 = _mm256_fmadd_ps(a, b0, c10);
        c11 = _mm256_fmadd_ps(a, b1, c11);
        a = _mm256_broadcast_ss(x2 + k);
        c20 = _mm256_fmadd_ps(a, b0, c20);
        c21 = _mm256_fmadd_ps(a, b1, c21);
        a = _mm256_broadcast_ss(x3 + k);
        c30 = _mm256_fmadd_ps(a, b0, c30);
        c31 = _mm256_fmadd_ps(a, b1, c31);
        a = _mm256_broadcast_ss(x4 + k);
        c40 = _mm256_fmadd_ps(a, b0, c40);
        c41 = _mm256_fmadd_ps(a, b1, c41);
        a = _mm256_broadcast_ss(x5 + k);
        c50 = _mm256_fmadd_ps(a, b0, c50);
        c51 = _mm256_fmadd_ps(a, b1, c51);
    }
    __m256 c[PMR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    for (int i = 0; i < PMR; i++) {
        _mm256_storeu_ps(y + i * ldy, c[i][0]);
        _mm256_storeu_ps(y + i * ldy + 8, c[i][1]);
    }
}

/* Edge tiles (fewer than 6 rows, or a last panel narrower than 16): an
 * accumulator array is fine here, they are a small part of the work. */
static inline __attribute__((always_inline)) void ptile_edge(const int mr, size_t ncols, size_t K,
                                                             const float *x, size_t ldx,
                                                             const void *wp, int bf16, float *y,
                                                             size_t ldy) {
    __m256 c[PMR][2];
    for (int i = 0; i < PMR; i++) c[i][0] = c[i][1] = _mm256_setzero_ps();
    for (size_t k = 0; k < K; k++) {
        __m256 b0, b1;
        load_panel_row(wp, bf16, k, &b0, &b1);
        for (int i = 0; i < mr; i++) {
            __m256 a = _mm256_broadcast_ss(x + i * ldx + k);
            c[i][0] = _mm256_fmadd_ps(a, b0, c[i][0]);
            c[i][1] = _mm256_fmadd_ps(a, b1, c[i][1]);
        }
    }
    float tmp[16];
    for (int i = 0; i < mr; i++) {
        _mm256_storeu_ps(tmp, c[i][0]);
        _mm256_storeu_ps(tmp + 8, c[i][1]);
        memcpy(y + i * ldy, tmp, ncols * sizeof(float));
    }
}

/* The driver, one for both weight types (bf16 is a constant after inlining). */
static inline __attribute__((always_inline)) void pgemm(size_t M, size_t N, size_t K,
                                                        const float *x, size_t ldx, const void *wp,
                                                        size_t pstride, int bf16, size_t p0,
                                                        size_t p1, float *y, size_t ldy) {
    size_t esize = bf16 ? 2 : 4;
    /* a group of panels (3/4 of the budget: 192 KB) stays in L2 while every tile of x passes */
    size_t group = mnemo__panel_group(MNEMO_L2_BUDGET * 3 / 4, 16 * esize * K, 1);
    for (size_t pg = p0; pg < p1; pg += group) {
        size_t pe = pg + group < p1 ? pg + group : p1;
        for (size_t m = 0; m < M; m += PMR) {
            size_t mr = M - m < PMR ? M - m : PMR;
            const float *xp = x + m * ldx;
            for (size_t p = pg; p < pe; p++) {
                size_t n0 = p * 16, ncols = N - n0 < 16 ? N - n0 : 16;
                const void *w = (const uint8_t *)wp + p * pstride * esize;
                float *yp = y + m * ldy + n0;
                switch (ncols == 16 ? mr : 0) {
                case 6: ptile_6x16(K, xp, ldx, w, bf16, yp, ldy); break;
                case 5: ptile_edge(5, ncols, K, xp, ldx, w, bf16, yp, ldy); break;
                case 4: ptile_edge(4, ncols, K, xp, ldx, w, bf16, yp, ldy); break;
                case 3: ptile_edge(3, ncols, K, xp, ldx, w, bf16, yp, ldy); break;
                case 2: ptile_edge(2, ncols, K, xp, ldx, w, bf16, yp, ldy); break;
                case 1: ptile_edge(1, ncols, K, xp, ldx, w, bf16, yp, ldy); break;
                default: /* a narrow last panel */
                    for (size_t i = 0; i < mr; i++)
                        ptile_edge(1, ncols, K, xp + i * ldx, ldx, w, bf16, yp + i * ldy, ldy);
                }
            }
        }
    }
}

void mnemo__gemm_packed_f32_avx2(size_t M, size_t N, size_t K, const float *x, size_t ldx,
                                 const float *wp, size_t p0, size_t p1, float *y, size_t ldy) {
    pgemm(M, N, K, x, ldx, wp, K * 16, 0, p0, p1, y, ldy);
}

void mnemo__gemm_packed_f32s_avx2(size_t M, size_t N, size_t K, const float *x, size_t ldx,
                                  const float *wp, size_t pstride, size_t p0, size_t p1, float *y,
                                  size_t ldy) {
    pgemm(M, N, K, x, ldx, wp, pstride, 0, p0, p1, y, ldy);
}

void mnemo__gemm_packed_bf16_avx2(size_t M, size_t N, size_t K, const float *x, size_t ldx,
                                  const uint16_t *wp, size_t p0, size_t p1, float *y, size_t ldy) {
    pgemm(M, N, K, x, ldx, wp, K * 16, 1, p0, p1, y, ldy);
}

/* ------------------------------------------------------------- GELU */
/* gelu_tanh(g) * up, 8 at a time: tanh(y) = 1 - 2 / (1 + e^(2y)), e^z from
 * exp.h. */
void mnemo__gelu_tanh_mul_avx2(float *out, const float *gate, const float *up, size_t n) {
    const __m256 c = _mm256_set1_ps(0.7978845608028654f), k = _mm256_set1_ps(0.044715f);
    const __m256 one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f),
                 half = _mm256_set1_ps(0.5f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 g = _mm256_loadu_ps(gate + i);
        __m256 y = _mm256_mul_ps(c, _mm256_fmadd_ps(_mm256_mul_ps(k, g), _mm256_mul_ps(g, g), g));
        __m256 e = mnemo__exp_ps256(_mm256_add_ps(y, y));
        __m256 t = _mm256_sub_ps(one, _mm256_div_ps(two, _mm256_add_ps(one, e)));
        __m256 r = _mm256_mul_ps(_mm256_mul_ps(half, g), _mm256_add_ps(one, t));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(r, _mm256_loadu_ps(up + i)));
    }
    if (i < n) mnemo__gelu_tanh_mul(out + i, gate + i, up + i, n - i);
}

/* ------------------------------------------------------------ dot */
/* Four FMA chains of 8 (enough to hide the FMA latency at two per cycle for
 * the 768-wide vectors of the store); the tail in the portable order. */
float mnemo__dot_f32_avx2(const float *a, const float *b, size_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    float t = _mm_cvtss_f32(h);
    for (; i < n; i++) t += a[i] * b[i];
    return t;
}

/* Sign-extended to 16 bits, then vpmaddwd: pairs of products (each below
 * 2^14 in magnitude) summed into 8 int32 lanes, two chains. */
int32_t mnemo__dot_i8_avx2(const int8_t *a, const int8_t *b, size_t n) {
    __m256i s0 = _mm256_setzero_si256(), s1 = s0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i a0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + i)));
        __m256i b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + i)));
        __m256i a1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + i + 16)));
        __m256i b1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + i + 16)));
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(a0, b0));
        s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(a1, b1));
    }
    __m256i s = _mm256_add_epi32(s0, s1);
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4E));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xB1));
    int32_t t = _mm_cvtsi128_si32(h);
    for (; i < n; i++) t += (int32_t)a[i] * b[i];
    return t;
}

/* The portable loop with popcnt as one instruction (this file is compiled
 * with -mpopcnt; every AVX2 CPU has it): four independent sums, so the
 * adds do not wait on each other. */
void mnemo__hamming_popcnt(const uint64_t *q, const uint64_t *codes, size_t words, size_t n,
                           uint32_t *out) {
    for (size_t i = 0; i < n; i++, codes += words) {
        uint64_t d0 = 0, d1 = 0, d2 = 0, d3 = 0;
        size_t w = 0;
        for (; w + 4 <= words; w += 4) {
            d0 += (uint64_t)__builtin_popcountll(q[w] ^ codes[w]);
            d1 += (uint64_t)__builtin_popcountll(q[w + 1] ^ codes[w + 1]);
            d2 += (uint64_t)__builtin_popcountll(q[w + 2] ^ codes[w + 2]);
            d3 += (uint64_t)__builtin_popcountll(q[w + 3] ^ codes[w + 3]);
        }
        for (; w < words; w++) d0 += (uint64_t)__builtin_popcountll(q[w] ^ codes[w]);
        out[i] = (uint32_t)(d0 + d1 + d2 + d3);
    }
}

/* ------------------------------------------------------------- int8 */
/* int8 weights x int16 activations: vpmaddwd (8 lanes x 2 products per
 * instruction, exact int32 sums) then vpaddd; the tiles are avx2_i8.inc's. */
#define I8_MAC(acc, a, w) _mm256_add_epi32((acc), _mm256_madd_epi16((a), (w)))
#define I8_GEMM_NAME mnemo__gemm_packed_i8_avx2
#include "avx2_i8.inc"

/* Rows of x to int16 with per-row scales, 8 at a time (the int8 path's
 * activation quantization; same rounding as lrintf: to nearest even). */
void mnemo__quantize_rows_avx2(const float *x, size_t ldx, size_t M, size_t K, int limit,
                               int16_t *xq, size_t ldq, float *sx) {
    float lim = (float)limit;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (size_t m = 0; m < M; m++) {
        const float *r = x + m * ldx;
        __m256 mx = _mm256_setzero_ps();
        size_t k = 0;
        for (; k + 8 <= K; k += 8)
            mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, _mm256_loadu_ps(r + k)));
        float amax = 0.0f, lanes[8];
        _mm256_storeu_ps(lanes, mx);
        for (int i = 0; i < 8; i++) amax = lanes[i] > amax ? lanes[i] : amax;
        for (size_t t = k; t < K; t++) amax = fabsf(r[t]) > amax ? fabsf(r[t]) : amax;
        float inv = amax > 0 ? lim / amax : 0.0f;
        sx[m] = amax > 0 ? amax / lim : 0.0f;
        __m256 vinv = _mm256_set1_ps(inv);
        int16_t *q = xq + m * ldq;
        for (k = 0; k + 16 <= K; k += 16) {
            __m256i a = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(r + k), vinv));
            __m256i b = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(r + k + 8), vinv));
            __m256i p = _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8);
            _mm256_storeu_si256((__m256i *)(q + k), p);
        }
        for (; k < K; k++) q[k] = (int16_t)lrintf(r[k] * inv);
        if (K % 2) q[K] = 0;
    }
}

/* ------------------------------------------ int8 x u8 (vpmaddubsw) */
/*
 * The u8 GEMM (kernels.h, mnemo_gemm_packed_u8_fn) without an 8-bit dot
 * product, on the weights and activations VNNI's takes. vpmaddubsw multiplies
 * u8 by s8 and adds adjacent pairs into int16 with saturation, which
 * 2 * 255 * 127 would reach; so each activation is recentred, s = xu - 128
 * (-128..127), its magnitude |s| (0..128) is the unsigned operand and the
 * sign moves to the weight (vpsignb: wq * sign(s), -127..127): the pair sums
 * are at most 2 * 128 * 127 = 32,512, exact. Per quad of k: vpsignb,
 * vpmaddubsw, vpmaddwd by ones (the pairs into each column's int32) and
 * vpaddd, per 8 columns; the sums are sum_k (xu - 128) * wq, and
 * + (128 - zx) * wsum gives the reference's integer. A tile is 6 rows x 16
 * columns (one panel, two ymm of 8 columns x 4 k): the 12 int32
 * accumulators, the ones, s, |s| and one product fill the 16 ymm registers.
 */

/* A row's quad of k: s = xu - 128 in each byte of *s, |s| in *abs. */
static inline __attribute__((always_inline)) void u8_row_quad(const uint8_t *p, __m256i *s,
                                                              __m256i *abs) {
    static const uint32_t flip[8] = {0x80808080u, 0x80808080u, 0x80808080u, 0x80808080u,
                                     0x80808080u, 0x80808080u, 0x80808080u, 0x80808080u};
    __asm__("vpbroadcastd %2, %0\n\t"
            "vpxor %3, %0, %0\n\t"
            "vpabsb %0, %1"
            : "=&x"(*s), "=x"(*abs)
            : "m"(*(const uint32_t(*)[1])p), "m"(flip));
}

/* acc + the sums over a quad of s . wq (*w, 8 columns x 4 k), per column.
 * In asm: with intrinsics GCC kept the weights in registers and moved half
 * the accumulators to the stack on every step. */
static inline __attribute__((always_inline)) __m256i u8_mac(__m256i acc, __m256i s, __m256i abs,
                                                            const __m256i *w, __m256i ones) {
    __m256i t;
    __asm__("vmovdqu %3, %1\n\t"
            "vpsignb %2, %1, %1\n\t"
            "vpmaddubsw %1, %4, %1\n\t"
            "vpmaddwd %5, %1, %1\n\t"
            "vpaddd %1, %0, %0"
            : "+x"(acc), "=&x"(t)
            : "x"(s), "m"(*w), "x"(abs), "x"(ones));
    return acc;
}

/* Up to this many k, a tile's rows are recentred once (s, |s| in a buffer on
 * the stack, read by every panel of the group); longer rows in the loop. */
#define U8_XB 2048

/* Rows [0, mr) of x (K4 bytes each) to s = xu - 128 in sb and |s| in ab,
 * U8_XB bytes apart. */
static void u8_recentre(size_t mr, size_t K4, const uint8_t *x, size_t ldx, uint8_t *sb,
                        uint8_t *ab) {
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    for (size_t i = 0; i < mr; i++) {
        const uint8_t *r = x + i * ldx;
        size_t k = 0;
        for (; k + 32 <= K4; k += 32) {
            __m256i v = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(r + k)), flip);
            _mm256_storeu_si256((__m256i *)(sb + i * U8_XB + k), v);
            _mm256_storeu_si256((__m256i *)(ab + i * U8_XB + k), _mm256_abs_epi8(v));
        }
        for (; k < K4; k++) {
            int v = (int)r[k] - 128;
            sb[i * U8_XB + k] = (uint8_t)(int8_t)v;
            ab[i * U8_XB + k] = (uint8_t)(v < 0 ? -v : v);
        }
    }
}

/* pre: x is the recentred rows (sb; ab = |sb|, U8_XB apart), else raw u8. */
#define U8_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
static inline __attribute__((always_inline)) void
u8_tile(const int mr, const int pre, size_t kq, const uint8_t *x, size_t ldx, const uint8_t *ab,
        const int8_t *w, const float *sx, const int32_t *zx, const float *sw, const int32_t *wsum,
        float *y, size_t ldy, size_t ncols) {
    const __m256i ones = _mm256_set1_epi16(1);
#define U8_DECL(i) __m256i c##i##a = _mm256_setzero_si256(), c##i##b = c##i##a;
    U8_ROWS(U8_DECL)
#undef U8_DECL
    for (size_t q = 0; q < kq; q++) {
        const __m256i *wv = (const __m256i *)(w + q * 64);
#define U8_STEP(i)                                       \
    if (i < mr) {                                        \
        __m256i s, abs;                                  \
        if (pre) {                                       \
            s = u8_bcast_quad(x + i * U8_XB + 4 * q);    \
            abs = u8_bcast_quad(ab + i * U8_XB + 4 * q); \
        } else {                                         \
            u8_row_quad(x + i * ldx + 4 * q, &s, &abs);  \
        }                                                \
        c##i##a = u8_mac(c##i##a, s, abs, wv, ones);     \
        c##i##b = u8_mac(c##i##b, s, abs, wv + 1, ones); \
    }
        U8_ROWS(U8_STEP)
#undef U8_STEP
    }
#define U8_STORE(i) \
    if (i < mr) u8_store_row(c##i##a, c##i##b, sx[i], zx[i] - 128, sw, wsum, ncols, y + i * ldy);
    U8_ROWS(U8_STORE)
#undef U8_STORE
}

/* avx2_u8.inc's hooks: the rows of a tile recentred once when they fit the
 * scratch (s, then |s| 6 * U8_XB after), and one tile by its row count. */
static inline __attribute__((always_inline)) u8_rows
u8_prep_avx2(size_t mr, size_t K4, const uint8_t *x, size_t ldx, uint8_t *scratch) {
    if (K4 > U8_XB) return (u8_rows){x, ldx, NULL};
    u8_recentre(mr, K4, x, ldx, scratch, scratch + 6 * U8_XB);
    return (u8_rows){scratch, U8_XB, scratch + 6 * U8_XB};
}

static inline __attribute__((always_inline)) void
u8_tile_avx2(size_t mr, size_t kq, u8_rows r, const int8_t *w, const float *sx, const int32_t *zx,
             const float *sw, const int32_t *wsum, float *y, size_t ldy, size_t ncols) {
#define U8_CALL(R, PRE) u8_tile(R, PRE, kq, r.x, r.ldx, r.aux, w, sx, zx, sw, wsum, y, ldy, ncols)
#define U8_CASE(R)         \
    case R:                \
        if (r.aux)         \
            U8_CALL(R, 1); \
        else               \
            U8_CALL(R, 0); \
        break;
    /* clang-format off */
    switch (mr) {
        U8_CASE(6) U8_CASE(5) U8_CASE(4) U8_CASE(3) U8_CASE(2) U8_CASE(1)
    default: break;
    }
    /* clang-format on */
#undef U8_CASE
#undef U8_CALL
}

#define U8_SCRATCH_BYTES (12 * U8_XB)
#define U8_PREP u8_prep_avx2
#define U8_TILE u8_tile_avx2
#define U8_GEMM_NAME mnemo__gemm_packed_u8_avx2
#include "avx2_u8.inc"

/* A row's range [min(x, 0), max(x, 0)], 8 at a time ((v < lo ? v : lo), the
 * scalar's choice), the lanes and the tail by the scalar code. */
static void u8_range_avx2(const float *r, size_t K, float *lo, float *hi) {
    __m256 vlo = _mm256_setzero_ps(), vhi = vlo, v;
    size_t k = 0;
    for (; k + 8 <= K; k += 8)
        vlo = _mm256_min_ps(v = _mm256_loadu_ps(r + k), vlo), vhi = _mm256_max_ps(v, vhi);
    float lanes[16];
    _mm256_storeu_ps(lanes, vlo);
    _mm256_storeu_ps(lanes + 8, vhi);
    *lo = *hi = 0.0f;
    mnemo__u8_row_range(lanes, 0, 16, lo, hi);
    mnemo__u8_row_range(r, k, K, lo, hi);
}

/* Rows of x to u8 with a zero point, 16 at a time: the bytes, scales and
 * zero points of mnemo__quantize_rows_u8 (the same row range, its step from
 * mnemo__u8_row_scale, vcvtps2dq rounding to nearest even as lrintf does,
 * and the clamp to 0..255 by the saturating packs). */
void mnemo__quantize_rows_u8_avx2(const float *x, size_t ldx, size_t M, size_t K, uint8_t *xu,
                                  size_t ldu, float *sx, int32_t *zx) {
    for (size_t m = 0; m < M; m++) {
        const float *r = x + m * ldx;
        float lo, hi;
        u8_range_avx2(r, K, &lo, &hi);
        float inv = mnemo__u8_row_scale(lo, hi, &sx[m], &zx[m]);
        uint8_t *q = xu + m * ldu;
        const __m256 vi = _mm256_set1_ps(inv);
        const __m256i vz = _mm256_set1_epi32(zx[m]);
        size_t k = 0;
        for (; k + 16 <= K; k += 16) {
            __m256i a =
                _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(r + k), vi)), vz);
            __m256i b = _mm256_add_epi32(
                _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(r + k + 8), vi)), vz);
            __m256i p = _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8);
            __m128i u = _mm_packus_epi16(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
            _mm_storeu_si128((__m128i *)(q + k), u);
        }
        mnemo__u8_row_quantize(r, k, K, inv, zx[m], q);
    }
}

/* ------------------------------------------------------------- q4 */
/*
 * The q4 GEMM (kernels.h) with vpmaddwd: per pair of k, a panel's 16 bytes
 * widen to two ymm of 8 columns x (int16 k, int16 k+1), the 8 offset
 * removed; a block's int32 sums are scaled into f32 accumulators. 16 ymm
 * registers allow 3 rows x 1 panel (6 int32 + 6 f32 + 2 weights + 1 broadcast).
 */

static inline __attribute__((always_inline)) __m256i q4_half_row(const uint8_t *p) {
    __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
    __m256i lo = _mm256_and_si256(v, _mm256_set1_epi32(0x0F));
    __m256i hi = _mm256_slli_epi32(_mm256_and_si256(v, _mm256_set1_epi32(0xF0)), 12);
    return _mm256_sub_epi16(_mm256_or_si256(lo, hi), _mm256_set1_epi16(8));
}

static inline __attribute__((always_inline)) void
q4_tile_avx2(const int mr, size_t nb, size_t kh, const int16_t *x, size_t ldx, const uint8_t *w,
             const float *ws, const float *sx, float *y, size_t ldy, size_t ncols) {
    __m256 f00 = _mm256_setzero_ps(), f01 = f00, f10 = f00, f11 = f00, f20 = f00, f21 = f00;
    for (size_t b = 0; b < nb; b++) {
        size_t kp0 = b * 16, kp1 = kp0 + 16 < kh ? kp0 + 16 : kh;
        __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
        const uint8_t *wb = w + b * 256;
        for (size_t kp = kp0; kp < kp1; kp++) {
            __m256i w0 = q4_half_row(wb + (kp - kp0) * 16),
                    w1 = q4_half_row(wb + (kp - kp0) * 16 + 8);
            __m256i a = bcast_pair(x + 2 * kp);
            c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(a, w0));
            c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(a, w1));
            if (mr > 1) {
                a = bcast_pair(x + ldx + 2 * kp);
                c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(a, w0));
                c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(a, w1));
            }
            if (mr > 2) {
                a = bcast_pair(x + 2 * ldx + 2 * kp);
                c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(a, w0));
                c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(a, w1));
            }
        }
        __m256 s0 = _mm256_loadu_ps(ws + b * 16), s1 = _mm256_loadu_ps(ws + b * 16 + 8);
        f00 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(c00), s0, f00);
        f01 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(c01), s1, f01);
        f10 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(c10), s0, f10);
        f11 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(c11), s1, f11);
        f20 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(c20), s0, f20);
        f21 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(c21), s1, f21);
    }
    __m256 f[3][2] = {{f00, f01}, {f10, f11}, {f20, f21}};
    for (int i = 0; i < mr; i++) {
        float tmp[16];
        __m256 r = _mm256_set1_ps(sx[i]);
        _mm256_storeu_ps(tmp, _mm256_mul_ps(f[i][0], r));
        _mm256_storeu_ps(tmp + 8, _mm256_mul_ps(f[i][1], r));
        memcpy(y + i * ldy, tmp, ncols * sizeof(float));
    }
}

void mnemo__gemm_packed_q4_avx2(size_t M, size_t N, size_t K, const int16_t *xq, size_t ldxq,
                                const float *sx, const uint8_t *wq, const float *ws, size_t p0,
                                size_t p1, float *y, size_t ldy) {
    size_t nb = (K + 31) / 32, kh = (K + 1) / 2;
    /* half the budget (128 KB of nibbles) stays in L2 */
    size_t group = mnemo__panel_group(MNEMO_L2_BUDGET / 2, nb * 256, 1);
    for (size_t pg = p0; pg < p1; pg += group) {
        size_t pe = pg + group < p1 ? pg + group : p1;
        for (size_t m = 0; m < M; m += 3) {
            size_t mr = M - m < 3 ? M - m : 3;
            for (size_t p = pg; p < pe; p++) {
                size_t n0 = p * 16, ncols = N - n0 < 16 ? N - n0 : 16;
                const uint8_t *w = wq + p * nb * 256;
                const float *s = ws + p * nb * 16;
                if (mr == 3)
                    q4_tile_avx2(3, nb, kh, xq + m * ldxq, ldxq, w, s, sx + m, y + m * ldy + n0,
                                 ldy, ncols);
                else if (mr == 2)
                    q4_tile_avx2(2, nb, kh, xq + m * ldxq, ldxq, w, s, sx + m, y + m * ldy + n0,
                                 ldy, ncols);
                else
                    q4_tile_avx2(1, nb, kh, xq + m * ldxq, ldxq, w, s, sx + m, y + m * ldy + n0,
                                 ldy, ncols);
            }
        }
    }
}
