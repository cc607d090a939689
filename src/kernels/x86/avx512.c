/*
 * avx512.c — the AVX-512 (F + BW + VL) kernels: the packed GEMM with f32 or
 * bf16-widened weights on 512-bit registers, the int8 one on vpmaddwd
 * (avx512_i8.inc), GELU-tanh, RMSNorm, the attention softmax, the u8
 * quantization of activations and the int8 dot product. One zmm holds a
 * whole 16-wide weight panel (kernels.h), so a tile of 12 rows x 2 panels
 * keeps 24 accumulators in the 32 zmm registers and does 24 FMAs per 2
 * weight loads and 12 broadcasts (the broadcasts fold into the FMAs as
 * {1to16} memory operands). Compiled with -mavx512f -mavx512bw -mavx512vl
 * -mfma and called only when CPUID reports them (dispatch.c).
 */
#include "../kernels.h"
#include "exp.h"
#include "x86.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#define TMR 12 /* rows of x per tile */

/* Panel row k's 16 weights as one zmm: f32 as stored, or bf16 widened (its
 * 16 bits become the high half of each 32-bit lane: exact); bf16 == 2: an
 * even k of the pair layout (pair_rows), the low halves shifted up. */
static inline __attribute__((always_inline)) __m512 panel_row(const void *wp, int bf16, size_t k) {
    if (bf16 == 2)
        return _mm512_castsi512_ps(
            _mm512_slli_epi32(_mm512_loadu_si512((const uint16_t *)wp + k * 16), 16));
    if (bf16)
        return _mm512_castsi512_ps(
            _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(
                                  (const __m256i *)((const uint16_t *)wp + k * 16))),
                              16));
    return _mm512_loadu_ps((const float *)wp + k * 16);
}

/* bf16 pair layout (mnemo__pack_bf16_pairs): k and k + 1 of a panel's 16
 * columns as one 64-byte row of 32-bit words, k's bf16 in the low half and
 * k + 1's in the high half. Widening them is one shift (k) and one mask
 * (k + 1) per 16 weights each, where panel_row's zero-extend and shift take
 * two: the FMA's ports keep more of their cycles for multiplying. */
static inline __attribute__((always_inline)) void pair_rows(const void *wp, size_t k, __m512 *even,
                                                            __m512 *odd) {
    *even = panel_row(wp, 2, k);
    *odd = _mm512_castsi512_ps(_mm512_and_si512(_mm512_loadu_si512((const uint16_t *)wp + k * 16),
                                                _mm512_set1_epi32((int)0xffff0000u)));
}

/*
 * One tile: mr (<= 12) rows of x against np (1 or 2) panels w0, w1. mr and
 * np are constants after inlining. The accumulators are named variables,
 * not an array: GCC keeps an array's copy on the stack in step with the
 * registers (a store per FMA), which halves the speed. `mask` clips the last
 * panel's columns to N.
 */
#define TROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
static inline __attribute__((always_inline)) void tile(const int mr, const int np, size_t K,
                                                       const float *x, size_t ldx, const void *w0,
                                                       const void *w1, int bf16, float *y,
                                                       size_t ldy, __mmask16 mask, const char *pf) {
#define TDECL(i) __m512 c##i##a = _mm512_setzero_ps(), c##i##b = c##i##a;
    TROWS(TDECL)
#undef TDECL
    size_t k = 0;
    if (bf16 == 2) /* pairs: k and k + 1 from one load (pair_rows); an odd K's last k below */
        for (; k + 1 < K; k += 2) {
            __m512 b0e, b0o, b1e, b1o;
            pair_rows(w0, k, &b0e, &b0o);
            if (np > 1)
                pair_rows(w1, k, &b1e, &b1o);
            else
                b1e = b0e, b1o = b0o;
            if (pf) {
                _mm_prefetch(pf + k * 64, _MM_HINT_T1);
                _mm_prefetch(pf + k * 64 + 64, _MM_HINT_T1);
            }
#define TSTEP2(i)                                                \
    if (i < mr) {                                                \
        __m512 a = _mm512_set1_ps(x[i * ldx + k]);               \
        c##i##a = _mm512_fmadd_ps(a, b0e, c##i##a);              \
        if (np > 1) c##i##b = _mm512_fmadd_ps(a, b1e, c##i##b);  \
        __m512 a1 = _mm512_set1_ps(x[i * ldx + k + 1]);          \
        c##i##a = _mm512_fmadd_ps(a1, b0o, c##i##a);             \
        if (np > 1) c##i##b = _mm512_fmadd_ps(a1, b1o, c##i##b); \
    }
            TROWS(TSTEP2)
#undef TSTEP2
        }
    for (; k < K; k++) {
        __m512 b0 = panel_row(w0, bf16, k);
        __m512 b1 = np > 1 ? panel_row(w1, bf16, k) : b0;
        if (pf) { /* the next pair of panels, as this pair is read (kernels.md) */
            _mm_prefetch(pf + k * (bf16 ? 64 : 128), _MM_HINT_T1);
            if (!bf16) _mm_prefetch(pf + k * 128 + 64, _MM_HINT_T1);
        }
#define TSTEP(i)                                               \
    if (i < mr) {                                              \
        __m512 a = _mm512_set1_ps(x[i * ldx + k]);             \
        c##i##a = _mm512_fmadd_ps(a, b0, c##i##a);             \
        if (np > 1) c##i##b = _mm512_fmadd_ps(a, b1, c##i##b); \
    }
        TROWS(TSTEP)
#undef TSTEP
    }
#define TSTORE(i)                                                   \
    if (i < mr) {                                                   \
        if (np > 1) {                                               \
            _mm512_storeu_ps(y + i * ldy, c##i##a);                 \
            _mm512_mask_storeu_ps(y + i * ldy + 16, mask, c##i##b); \
        } else {                                                    \
            _mm512_mask_storeu_ps(y + i * ldy, mask, c##i##a);      \
        }                                                           \
    }
    TROWS(TSTORE)
#undef TSTORE
}

/* A tile of `mr` rows (any 1..12) against np panels, dispatched to the
 * specialised shapes. */
static inline __attribute__((always_inline)) void
tile_rows(size_t mr, int np, size_t K, const float *x, size_t ldx, const void *w0, const void *w1,
          int bf16, float *y, size_t ldy, __mmask16 mask, const char *pf) {
#define TILE_CASE(R)                                               \
    case R:                                                        \
        if (np > 1)                                                \
            tile(R, 2, K, x, ldx, w0, w1, bf16, y, ldy, mask, pf); \
        else                                                       \
            tile(R, 1, K, x, ldx, w0, w1, bf16, y, ldy, mask, pf); \
        break;
    /* clang-format off */
    switch (mr) {
        TILE_CASE(12) TILE_CASE(11) TILE_CASE(10) TILE_CASE(9) TILE_CASE(8) TILE_CASE(7)
        TILE_CASE(6) TILE_CASE(5) TILE_CASE(4) TILE_CASE(3) TILE_CASE(2) TILE_CASE(1)
    default: break;
    }
    /* clang-format on */
#undef TILE_CASE
}

/* The driver, one for every weight layout (bf16: 0 f32, 1 bf16 rows, 2 bf16
 * pairs; a constant after inlining):
 * panels [p0, p1) taken in groups that stay in L2 while every tile of x
 * passes, two panels per tile. */
static inline __attribute__((always_inline)) void pgemm(size_t M, size_t N, size_t K,
                                                        const float *x, size_t ldx, const void *wp,
                                                        size_t pstride, int bf16, size_t p0,
                                                        size_t p1, float *y, size_t ldy) {
    size_t esize = bf16 ? 2 : 4, pbytes = pstride * esize;
    size_t Kw = bf16 == 2 ? (K + 1) & ~(size_t)1 : K; /* rows a whole panel holds */
    /* 3/2 of the budget (384 KB of weights), in pairs of panels */
    size_t group = mnemo__panel_group(MNEMO_L2_BUDGET * 3 / 2, Kw * 16 * esize, 2) & ~(size_t)1;
    for (size_t pg = p0; pg < p1; pg += group) {
        size_t pe = pg + group < p1 ? pg + group : p1;
        for (size_t m = 0; m < M; m += TMR) {
            size_t mr = M - m < TMR ? M - m : TMR;
            const float *xp = x + m * ldx;
            for (size_t p = pg; p < pe; p += 2) {
                int np = p + 1 < pe ? 2 : 1;
                size_t last = p + (size_t)np - 1, n0 = p * 16;
                size_t lastcols = N - last * 16 < 16 ? N - last * 16 : 16;
                __mmask16 mask = (__mmask16)((1u << lastcols) - 1);
                const uint8_t *w0 = (const uint8_t *)wp + p * pbytes;
                /* (the next pair is contiguous only when the panels are K rows) */
                const char *pf =
                    pstride == Kw * 16 ? mnemo__prefetch_pair(m, p, p1, w0, pbytes) : NULL;
                tile_rows(mr, np, K, xp, ldx, w0, w0 + pbytes, bf16, y + m * ldy + n0, ldy, mask,
                          pf);
            }
        }
    }
}

void mnemo__gemm_packed_f32_avx512(size_t M, size_t N, size_t K, const float *x, size_t ldx,
                                   const float *wp, size_t p0, size_t p1, float *y, size_t ldy) {
    pgemm(M, N, K, x, ldx, wp, K * 16, 0, p0, p1, y, ldy);
}

void mnemo__gemm_packed_f32s_avx512(size_t M, size_t N, size_t K, const float *x, size_t ldx,
                                    const float *wp, size_t pstride, size_t p0, size_t p1, float *y,
                                    size_t ldy) {
    pgemm(M, N, K, x, ldx, wp, pstride, 0, p0, p1, y, ldy);
}

void mnemo__gemm_packed_bf16_avx512(size_t M, size_t N, size_t K, const float *x, size_t ldx,
                                    const uint16_t *wp, size_t p0, size_t p1, float *y,
                                    size_t ldy) {
    pgemm(M, N, K, x, ldx, wp, K * 16, 1, p0, p1, y, ldy);
}

void mnemo__gemm_packed_bf16_pairs_avx512(size_t M, size_t N, size_t K, const float *x, size_t ldx,
                                          const uint16_t *wp, size_t p0, size_t p1, float *y,
                                          size_t ldy) {
    pgemm(M, N, K, x, ldx, wp, ((K + 1) & ~(size_t)1) * 16, 2, p0, p1, y, ldy);
}

/* ------------------------------------------------------------- GELU */
/* 0.5 g (1 + tanh(y)) = g / (1 + e^(-2y)), y = sqrt(2/pi) (g + 0.044715 g^3):
 * one exponential (exp.h) and a reciprocal, taken as vrcp14ps (relative
 * error 2^-14) and one Newton step (2^-28), not vdivps (~16 cycles a zmm on
 * Intel's cores: the division was a third of the GELU's time). For a very
 * negative g, e^(-2y) saturates at e^88 and the result is 0 to float
 * precision, as tanh's is. */
void mnemo__gelu_tanh_mul_avx512(float *out, const float *gate, const float *up, size_t n) {
    /* -2y = g (a + b g^2) */
    const __m512 a = _mm512_set1_ps(-2.0f * 0.7978845608028654f),
                 b = _mm512_set1_ps(-2.0f * 0.7978845608028654f * 0.044715f);
    const __m512 one = _mm512_set1_ps(1.0f), two = _mm512_set1_ps(2.0f);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 g = _mm512_loadu_ps(gate + i);
        __m512 z = _mm512_mul_ps(g, _mm512_fmadd_ps(b, _mm512_mul_ps(g, g), a));
        __m512 d = _mm512_add_ps(one, mnemo__exp_ps512(z));
        __m512 r = _mm512_rcp14_ps(d);
        r = _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, two));
        _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_mul_ps(g, r), _mm512_loadu_ps(up + i)));
    }
    if (i < n) mnemo__gelu_tanh_mul(out + i, gate + i, up + i, n - i);
}

/* ------------------------------------------------- RMSNorm, softmax */

/* As mnemo__rmsnorm: the sum of squares in f64 (8 lanes per half), so the
 * scale matches the portable one to the last bits. sumsq_step adds one row
 * of 16 to the two halves' sums; rms_scale finishes them with the tail. */
static inline __attribute__((always_inline)) void sumsq_step(__m512 v, __m512d *s0, __m512d *s1) {
    __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    *s0 = _mm512_fmadd_pd(lo, lo, *s0);
    *s1 = _mm512_fmadd_pd(hi, hi, *s1);
}

static inline float rms_scale(__m512d s0, __m512d s1, const float *x, size_t i, size_t n,
                              float eps) {
    double ss = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
    for (; i < n; i++) ss += (double)x[i] * x[i];
    return 1.0f / sqrtf((float)(ss / (double)n) + eps);
}

/* out = x * scale * gamma */
static inline void scale_rows(float *out, const float *x, const float *gamma, size_t n,
                              float scale) {
    __m512 vs = _mm512_set1_ps(scale);
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), vs),
                                                _mm512_loadu_ps(gamma + i)));
    for (; i < n; i++) out[i] = x[i] * scale * gamma[i];
}

void mnemo__rmsnorm_avx512(float *out, const float *x, const float *gamma, size_t n, float eps) {
    __m512d s0 = _mm512_setzero_pd(), s1 = s0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) sumsq_step(_mm512_loadu_ps(x + i), &s0, &s1);
    scale_rows(out, x, gamma, n, rms_scale(s0, s1, x, i, n, eps));
}

/* Three passes where rmsnorm, add and rmsnorm took five: s's sum of squares;
 * x += s * scale * g1 with x's new sum of squares on the way; out. The same
 * operations in the same order as those three, so the same bits. */
void mnemo__add_rmsnorm_avx512(float *x, const float *s, const float *g1, const float *g2,
                               float *out, size_t n, float eps) {
    __m512d s0 = _mm512_setzero_pd(), s1 = s0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) sumsq_step(_mm512_loadu_ps(s + i), &s0, &s1);
    float sc = rms_scale(s0, s1, s, i, n, eps);
    __m512 vs = _mm512_set1_ps(sc);
    s0 = s1 = _mm512_setzero_pd();
    for (i = 0; i + 16 <= n; i += 16) {
        __m512 t =
            _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(s + i), vs), _mm512_loadu_ps(g1 + i));
        __asm__("" : "+v"(t)); /* rounded to f32 before the add, as rmsnorm stores it: no FMA */
        __m512 v = _mm512_add_ps(_mm512_loadu_ps(x + i), t);
        _mm512_storeu_ps(x + i, v);
        sumsq_step(v, &s0, &s1);
    }
    for (size_t j = i; j < n; j++) {
        float t = s[j] * sc * g1[j];
        __asm__("" : "+v"(t));
        x[j] += t;
    }
    scale_rows(out, x, g2, n, rms_scale(s0, s1, x, i, n, eps));
}

/* r[0..len) = exp(scale * r - max) in place; returns their sum. The part
 * of the softmax both of the ones below share. */
static float softmax_exp_avx512(float *r, size_t len, float scale) {
    __m512 vmax = _mm512_set1_ps(-INFINITY), vs = _mm512_set1_ps(scale);
    size_t i = 0;
    for (; i + 16 <= len; i += 16)
        vmax = _mm512_max_ps(vmax, _mm512_mul_ps(_mm512_loadu_ps(r + i), vs));
    __mmask16 tail = (__mmask16)((1u << (len - i)) - 1);
    if (tail)
        vmax = _mm512_mask_max_ps(vmax, tail, vmax,
                                  _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, r + i), vs));
    __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmax)), sum = _mm512_setzero_ps();
    for (i = 0; i + 16 <= len; i += 16) {
        __m512 e = mnemo__exp_ps512(_mm512_fmsub_ps(_mm512_loadu_ps(r + i), vs, mx));
        _mm512_storeu_ps(r + i, e);
        sum = _mm512_add_ps(sum, e);
    }
    if (tail) {
        __m512 e = mnemo__exp_ps512(_mm512_fmsub_ps(_mm512_maskz_loadu_ps(tail, r + i), vs, mx));
        _mm512_mask_storeu_ps(r + i, tail, e);
        sum = _mm512_mask_add_ps(sum, tail, sum, e);
    }
    return _mm512_reduce_add_ps(sum);
}

void mnemo__softmax_window_avx512(float *x, size_t n, size_t lo, size_t hi, float scale) {
    size_t len = hi - lo, i;
    float *r = x + lo;
    memset(x, 0, lo * sizeof(float));
    __m512 inv = _mm512_set1_ps(1.0f / softmax_exp_avx512(r, len, scale));
    for (i = 0; i + 16 <= len; i += 16)
        _mm512_storeu_ps(r + i, _mm512_mul_ps(_mm512_loadu_ps(r + i), inv));
    if (i < len) {
        __mmask16 m = (__mmask16)((1u << (len - i)) - 1);
        _mm512_mask_storeu_ps(r + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, r + i), inv));
    }
    memset(x + hi, 0, (n - hi) * sizeof(float));
}

/* mnemo__softmax_window_i16 on zmm: the max and the exponentials as the
 * f32 softmax above, then e * g rounded to nearest even (vcvtps2dq, as
 * lrintf) and narrowed with saturation. */
float mnemo__softmax_window_i16_avx512(float *x, size_t n, size_t lo, size_t hi, float scale,
                                       int16_t *q) {
    size_t len = hi - lo, i;
    float *r = x + lo;
    memset(q, 0, lo * sizeof *q);
    float s = softmax_exp_avx512(r, len, scale);
    __mmask16 tail = (__mmask16)((1u << (len % 16)) - 1);
    float cap = ((float)MNEMO_ATTN_P_SUM - (float)(n / 2)) / s;
    float g = cap < 32767.0f ? cap : 32767.0f;
    __m512 vg = _mm512_set1_ps(g);
    int16_t *qr = q + lo;
    for (i = 0; i + 16 <= len; i += 16)
        _mm256_storeu_si256((__m256i *)(qr + i), _mm512_cvtsepi32_epi16(_mm512_cvtps_epi32(
                                                     _mm512_mul_ps(_mm512_loadu_ps(r + i), vg))));
    if (tail)
        _mm512_mask_cvtsepi32_storeu_epi16(
            qr + i, tail,
            _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(tail, r + i), vg)));
    memset(q + hi, 0, ((n + 1) / 2 * 2 - hi) * sizeof *q);
    return 1.0f / (g * s);
}

/* mnemo__pack_pairs_rows_i16 on zmm: per panel and pair of dims, the 16
 * keys' 32-bit pairs gathered into one store (keys past N under a zero
 * mask). The same words as the scalar one. */
void mnemo__pack_pairs_rows_i16_avx512(const int16_t *xq, size_t ldq, size_t N, size_t K,
                                       int16_t *wp) {
    size_t panels = (N + 15) / 16, kh = K / 2;
    const __m512i lanes = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    for (size_t p = 0; p < panels; p++) {
        size_t rows = N - p * 16 < 16 ? N - p * 16 : 16;
        __mmask16 m = (__mmask16)((1u << rows) - 1);
        /* word index of (key p*16 + j, pair 0): rows are ldq int16 = ldq/2 words apart */
        const int32_t *base = (const int32_t *)(const void *)(xq + p * 16 * ldq);
        __m512i idx = _mm512_mullo_epi32(lanes, _mm512_set1_epi32((int)(ldq / 2)));
        int16_t *panel = wp + p * K * 16;
        for (size_t kp = 0; kp < kh; kp++) {
            __m512i w = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, idx, base + kp, 4);
            _mm512_storeu_si512(panel + kp * 32, w);
        }
    }
}

/* mnemo__pack_pairs_cols_i16 on zmm: per panel, the 16 dims' largest |v|
 * over the keys, then per pair of keys their 16 dims scaled, rounded to
 * nearest even (vcvtps2dq, as lrintf) and interleaved into one store. The
 * same values as the scalar one. */
void mnemo__pack_pairs_cols_i16_avx512(const float *x, size_t ldx, size_t K, size_t N, int limit,
                                       int16_t *wp, size_t pstride, float *sw) {
    size_t panels = (N + 15) / 16;
    const __m512 lim = _mm512_set1_ps((float)limit);
    const __m512i lo16 = _mm512_set1_epi32(0xFFFF);
    for (size_t p = 0; p < panels; p++) {
        size_t cols = N - p * 16 < 16 ? N - p * 16 : 16;
        __mmask16 m = (__mmask16)((1u << cols) - 1);
        const float *c = x + p * 16;
        __m512 amax = _mm512_setzero_ps();
        for (size_t k = 0; k < K; k++)
            amax = _mm512_max_ps(amax, _mm512_abs_ps(_mm512_maskz_loadu_ps(m, c + k * ldx)));
        __mmask16 nz = _mm512_cmp_ps_mask(amax, _mm512_setzero_ps(), _CMP_GT_OQ);
        __m512 inv = _mm512_maskz_div_ps(nz, lim, amax);
        _mm512_mask_storeu_ps(sw + p * 16, m, _mm512_maskz_div_ps(nz, amax, lim));
        int16_t *panel = wp + p * pstride;
        for (size_t k = 0; k < K; k += 2) {
            __m512i a =
                _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, c + k * ldx), inv));
            __m512i b = k + 1 < K ? _mm512_cvtps_epi32(_mm512_mul_ps(
                                        _mm512_maskz_loadu_ps(m, c + (k + 1) * ldx), inv))
                                  : _mm512_setzero_si512();
            _mm512_storeu_si512(panel + (k / 2) * 32, _mm512_or_si512(_mm512_and_si512(a, lo16),
                                                                      _mm512_slli_epi32(b, 16)));
        }
    }
}

/* The AVX2 form at twice the width: 32 codes a step, sign-extended to 16
 * bits, vpmaddwd into 16 int32 lanes. */
int32_t mnemo__dot_i8_avx512(const int8_t *a, const int8_t *b, size_t n) {
    __m512i s0 = _mm512_setzero_si512(), s1 = s0;
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512i a0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(a + i)));
        __m512i b0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(b + i)));
        __m512i a1 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(a + i + 32)));
        __m512i b1 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(b + i + 32)));
        s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(a0, b0));
        s1 = _mm512_add_epi32(s1, _mm512_madd_epi16(a1, b1));
    }
    for (; i + 32 <= n; i += 32) {
        __m512i a0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(a + i)));
        __m512i b0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(b + i)));
        s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(a0, b0));
    }
    int32_t t = _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1));
    for (; i < n; i++) t += (int32_t)a[i] * b[i];
    return t;
}

/* ------------------------------------------------------------- int8 */
/* vpmaddwd + vpaddd: the AVX512-BW form (avx512_vnni.c fuses the two). */
#define I8_MAC(acc, a, b) _mm512_add_epi32((acc), _mm512_madd_epi16((a), (b)))
#define I8_GEMM_NAME mnemo__gemm_packed_i8_avx512
#include "avx512_i8.inc"

/* Rows of x to int16 with per-row scales, 16 at a time (as
 * mnemo__quantize_rows, bit for bit: lrintf's rounding, to nearest even). */
void mnemo__quantize_rows_avx512(const float *x, size_t ldx, size_t M, size_t K, int limit,
                                 int16_t *xq, size_t ldq, float *sx) {
    float lim = (float)limit;
    for (size_t m = 0; m < M; m++) {
        const float *r = x + m * ldx;
        __m512 mx = _mm512_setzero_ps();
        size_t k = 0;
        for (; k + 16 <= K; k += 16) mx = _mm512_max_ps(mx, _mm512_abs_ps(_mm512_loadu_ps(r + k)));
        __mmask16 tail = (__mmask16)((1u << (K - k)) - 1);
        if (tail) mx = _mm512_max_ps(mx, _mm512_abs_ps(_mm512_maskz_loadu_ps(tail, r + k)));
        float amax = _mm512_reduce_max_ps(mx);
        float inv = amax > 0 ? lim / amax : 0.0f;
        sx[m] = amax > 0 ? amax / lim : 0.0f;
        const __m512 vi = _mm512_set1_ps(inv);
        int16_t *q = xq + m * ldq;
        for (k = 0; k + 16 <= K; k += 16)
            _mm256_storeu_si256((__m256i *)(q + k),
                                _mm512_cvtsepi32_epi16(
                                    _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(r + k), vi))));
        if (tail)
            _mm512_mask_cvtsepi32_storeu_epi16(
                q + k, tail,
                _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(tail, r + k), vi)));
        if (K % 2) q[K] = 0;
    }
}

/* mnemo__quantize_rows_u8 on zmm: the same range, scale, zero point and
 * rounding (vcvtps2dq rounds to nearest even, as lrintf does), so the same
 * bytes. */
void mnemo__quantize_rows_u8_avx512(const float *x, size_t ldx, size_t M, size_t K, uint8_t *xu,
                                    size_t ldu, float *sx, int32_t *zx) {
    size_t K4 = (K + 3) & ~(size_t)3;
    for (size_t m = 0; m < M; m++) {
        const float *r = x + m * ldx;
        __m512 vlo = _mm512_setzero_ps(), vhi = vlo;
        size_t k = 0;
        for (; k + 16 <= K; k += 16) {
            __m512 v = _mm512_loadu_ps(r + k);
            vlo = _mm512_min_ps(vlo, v);
            vhi = _mm512_max_ps(vhi, v);
        }
        __mmask16 tail = (__mmask16)((1u << (K - k)) - 1);
        if (tail) { /* masked lanes load 0, inside [lo, hi] already */
            __m512 v = _mm512_maskz_loadu_ps(tail, r + k);
            vlo = _mm512_min_ps(vlo, v);
            vhi = _mm512_max_ps(vhi, v);
        }
        float lo = _mm512_reduce_min_ps(vlo), hi = _mm512_reduce_max_ps(vhi);
        float inv = mnemo__u8_row_scale(lo, hi, &sx[m], &zx[m]);
        uint8_t *q = xu + m * ldu;
        const __m512 vi = _mm512_set1_ps(inv);
        const __m512i vz = _mm512_set1_epi32(zx[m]), zero = _mm512_setzero_si512();
        for (k = 0; k + 16 <= K; k += 16) {
            __m512i v =
                _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(r + k), vi)), vz);
            _mm_storeu_si128((__m128i *)(q + k), _mm512_cvtusepi32_epi8(_mm512_max_epi32(v, zero)));
        }
        if (tail) {
            __m512i v = _mm512_add_epi32(
                _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(tail, r + k), vi)), vz);
            _mm512_mask_cvtusepi32_storeu_epi8(q + k, tail, _mm512_max_epi32(v, zero));
        }
        for (k = K; k < K4; k++) q[k] = 0;
    }
}
