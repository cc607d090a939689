/*
 * test_kernels.c — every kernel variant against the scalar reference of
 * kernels/ref.c, on sizes with and without tails (named tolerance:
 * GEMM_TOL relative to the dot product's magnitude), plus the element-wise
 * ops on known values, and the thread pool.
 */
#include "core/core.h"
#include "kernels/kernels.h"
#include "test.h"

#include <math.h>
#include <stdatomic.h>

/* Different summation orders of K products differ by a few ulps of the sum of
 * |products|; 1e-5 of that is far above rounding and far below a real bug. */
#define GEMM_TOL 1e-5f

static uint64_t rng = 88172645463325252ull;
static float frand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

static uint16_t f32_to_bf16_trunc(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    return (uint16_t)(b >> 16);
}

/* Nearest-even bf16 of a finite f32, as vcvtneps2bf16 rounds. */
static uint16_t f32_to_bf16_rne(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    return (uint16_t)((b + 0x7FFFu + ((b >> 16) & 1u)) >> 16);
}

static float bf16_to_f32(uint16_t h) {
    uint32_t b = (uint32_t)h << 16;
    float f;
    memcpy(&f, &b, 4);
    return f;
}

/* The largest |y0 - y1| relative to the terms' magnitude sum_k |x w| (w row
 * major [N][K]) over an M x N output of stride ldy, and whether y1's padding
 * columns [N, ldy) still hold `pad`. */
static float worst_relative(const float *y0, const float *y1, size_t ldy, const float *x,
                            size_t ldx, const float *w, size_t M, size_t N, size_t K, float pad,
                            int *pad_ok) {
    float worst = 0;
    *pad_ok = 1;
    for (size_t m = 0; m < M; m++) {
        for (size_t n = 0; n < N; n++) {
            float mag = 0;
            for (size_t k = 0; k < K; k++) mag += fabsf(x[m * ldx + k] * w[n * K + k]);
            float e = fabsf(y0[m * ldy + n] - y1[m * ldy + n]) / (mag + 1e-30f);
            if (e > worst) worst = e;
        }
        for (size_t n = N; n < ldy; n++) *pad_ok &= y1[m * ldy + n] == pad;
    }
    return worst;
}

/* The packed f32 GEMM against the reference table's packed one (ref.c: the
 * same panels, summed in k order) on small and odd shapes, all the panels in
 * one call. */
static void check_variant(const mnemo_kernels *kv) {
    const mnemo_kernels *ref = mnemo__kernels_ref();
    size_t sizes[][3] = {{1, 1, 1},     {4, 3, 8},     {5, 7, 13},    {17, 31, 256},
                         {9, 200, 768}, {64, 5, 1152}, {3, 70, 3072}, {33, 65, 577}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t M = sizes[s][0], N = sizes[s][1], K = sizes[s][2];
        size_t ldx = K + 3, ldy = N + 2, panels = (N + 15) / 16;
        float *x = malloc(M * ldx * 4), *w = malloc(N * K * 4), *y0 = malloc(M * ldy * 4),
              *y1 = malloc(M * ldy * 4), *wp = malloc(mnemo__packed_size(N, K) * 4);
        for (size_t i = 0; i < M * ldx; i++) x[i] = frand();
        for (size_t i = 0; i < N * K; i++) w[i] = frand();
        mnemo__pack_f32(w, N, K, wp);
        for (size_t i = 0; i < M * ldy; i++) y0[i] = y1[i] = 12345.0f; /* padding must stay */
        ref->gemm_packed_f32(M, N, K, x, ldx, wp, 0, panels, y0, ldy);
        kv->gemm_packed_f32(M, N, K, x, ldx, wp, 0, panels, y1, ldy);
        int pad_ok;
        float worst = worst_relative(y0, y1, ldy, x, ldx, w, M, N, K, 12345.0f, &pad_ok);
        CHECKF(worst <= GEMM_TOL, "%s f32 M=%zu N=%zu K=%zu: relative error %g", kv->name, M, N, K,
               (double)worst);
        CHECKF(pad_ok, "%s wrote outside its output", kv->name);
        free(x), free(w), free(y0), free(y1), free(wp);
    }
}

/* The packed GEMMs against ref.c's scalar GEMMs on the unpacked weights,
 * over whole and partial panel ranges. */
static void check_packed(const mnemo_kernels *kv) {
    /* row counts around the 6- and 12-row tiles, odd panel counts and ranges */
    size_t sizes[][3] = {{1, 16, 1},     {6, 16, 8},      {7, 33, 13},   {13, 50, 256},
                         {1, 1280, 768}, {25, 100, 1152}, {2, 17, 3072}, {12, 64, 64},
                         {24, 48, 100},  {30, 81, 7},     {11, 200, 33}, {13, 20, 4097},
                         {3, 40, 9000}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t M = sizes[s][0], N = sizes[s][1], K = sizes[s][2], ldx = K + 5, ldy = N + 3;
        size_t panels = (N + 15) / 16;
        float *x = malloc(M * ldx * 4), *w = malloc(N * K * 4),
              *wp = malloc(mnemo__packed_size(N, K) * 4);
        uint16_t *wb = malloc(N * K * 2), *wbp = malloc(mnemo__packed_size(N, K) * 2);
        float *y0 = malloc(M * ldy * 4), *y1 = malloc(M * ldy * 4);
        for (size_t i = 0; i < M * ldx; i++) x[i] = frand();
        for (size_t i = 0; i < N * K; i++) {
            w[i] = frand();
            wb[i] = f32_to_bf16_trunc(w[i]);
        }
        mnemo__pack_f32(w, N, K, wp);
        /* the dot-product kernels (vdpbf16ps) read pairs and round x to bf16:
         * their reference is the bf16 product of the rounded x */
        float *xr = malloc(M * ldx * 4);
        for (size_t i = 0; i < M * ldx; i++) xr[i] = bf16_to_f32(f32_to_bf16_rne(x[i]));
        uint16_t *wbp2 = malloc(mnemo__packed_i8_size(N, K) * 2);
        mnemo__pack_bf16(wb, N, K, wbp);
        mnemo__pack_bf16_pairs(wb, N, K, wbp2);
        for (int bf = 0; bf < 4; bf++) { /* f32, bf16, bf16 dot product, bf16 pairs */
            if ((bf == 2 && !kv->gemm_packed_bf16_dp) || (bf == 3 && !kv->gemm_packed_bf16_pairs))
                continue;
            /* split the panels in two calls, as the engine's threads do */
            size_t mid = panels / 2;
            for (size_t i = 0; i < M * ldy; i++) y0[i] = y1[i] = 777.0f;
            if (bf == 3) { /* the pair layout, x as it is */
                mnemo__gemm_bf16_ref(M, N, K, x, ldx, wb, K, y0, ldy);
                kv->gemm_packed_bf16_pairs(M, N, K, x, ldx, wbp2, 0, mid, y1, ldy);
                kv->gemm_packed_bf16_pairs(M, N, K, x, ldx, wbp2, mid, panels, y1, ldy);
            } else if (bf == 2) {
                mnemo__gemm_bf16_ref(M, N, K, xr, ldx, wb, K, y0, ldy);
                kv->gemm_packed_bf16_dp(M, N, K, x, ldx, wbp2, 0, mid, y1, ldy);
                kv->gemm_packed_bf16_dp(M, N, K, x, ldx, wbp2, mid, panels, y1, ldy);
            } else if (bf) {
                mnemo__gemm_bf16_ref(M, N, K, x, ldx, wb, K, y0, ldy);
                kv->gemm_packed_bf16(M, N, K, x, ldx, wbp, 0, mid, y1, ldy);
                kv->gemm_packed_bf16(M, N, K, x, ldx, wbp, mid, panels, y1, ldy);
            } else {
                mnemo__gemm_f32_ref(M, N, K, x, ldx, w, K, y0, ldy);
                kv->gemm_packed_f32(M, N, K, x, ldx, wp, 0, mid, y1, ldy);
                kv->gemm_packed_f32(M, N, K, x, ldx, wp, mid, panels, y1, ldy);
            }
            int pad_ok;
            float worst = worst_relative(y0, y1, ldy, x, ldx, w, M, N, K, 777.0f, &pad_ok);
            CHECKF(worst <= GEMM_TOL, "%s packed %s M=%zu N=%zu K=%zu: relative error %g", kv->name,
                   bf == 3   ? "bf16 pairs"
                   : bf == 2 ? "bf16 dot"
                   : bf      ? "bf16"
                             : "f32",
                   M, N, K, (double)worst);
            CHECKF(pad_ok, "%s packed wrote outside its output", kv->name);
        }
        /* the strided form: a window [k0, k0 + K) of panels 2K + 3 long */
        size_t L = 2 * K + 3, k0 = K / 2 + 1, pst = L * 16;
        float *wl = calloc(panels * pst, 4);
        for (size_t n = 0; n < N; n++)
            for (size_t k = 0; k < K; k++)
                wl[(n / 16) * pst + (k0 + k) * 16 + n % 16] = w[n * K + k];
        for (size_t i = 0; i < M * ldy; i++) y0[i] = y1[i] = 777.0f;
        mnemo__gemm_f32_ref(M, N, K, x, ldx, w, K, y0, ldy);
        kv->gemm_packed_f32s(M, N, K, x, ldx, wl + k0 * 16, pst, 0, panels / 2, y1, ldy);
        kv->gemm_packed_f32s(M, N, K, x, ldx, wl + k0 * 16, pst, panels / 2, panels, y1, ldy);
        int pad_ok;
        float worst = worst_relative(y0, y1, ldy, x, ldx, w, M, N, K, 777.0f, &pad_ok);
        CHECKF(worst <= GEMM_TOL && pad_ok, "%s packed strided M=%zu N=%zu K=%zu: error %g",
               kv->name, M, N, K, (double)worst);
        /* the strided bf16 dot product: the same window (from an even k) of
         * pair-layout panels 2K + 4 long, the elements outside it NaN-free junk */
        if (kv->gemm_packed_bf16_dps) {
            size_t Lp = 2 * K + 4, kb = (K / 2 + 1) & ~(size_t)1, bst = Lp * 16;
            uint16_t *wlb = malloc(panels * bst * 2);
            for (size_t i = 0; i < panels * bst; i++) wlb[i] = f32_to_bf16_trunc(frand());
            for (size_t n = 0; n < panels * 16; n++)
                for (size_t k = 0; k < K + 1; k++) { /* the window, and a zero after an odd K */
                    uint16_t v = n < N && k < K ? wb[n * K + k] : 0;
                    wlb[(n / 16) * bst + ((kb + k) / 2) * 32 + (n % 16) * 2 + (kb + k) % 2] = v;
                }
            for (size_t i = 0; i < M * ldy; i++) y0[i] = y1[i] = 777.0f;
            mnemo__gemm_bf16_ref(M, N, K, xr, ldx, wb, K, y0, ldy);
            kv->gemm_packed_bf16_dps(M, N, K, x, ldx, wlb + kb * 16, bst, 0, panels / 2, y1, ldy);
            kv->gemm_packed_bf16_dps(M, N, K, x, ldx, wlb + kb * 16, bst, panels / 2, panels, y1,
                                     ldy);
            worst = worst_relative(y0, y1, ldy, x, ldx, w, M, N, K, 777.0f, &pad_ok);
            CHECKF(worst <= GEMM_TOL && pad_ok,
                   "%s packed strided bf16 dot M=%zu N=%zu K=%zu: error %g", kv->name, M, N, K,
                   (double)worst);
            free(wlb);
        }
        free(wl);
        free(x), free(xr), free(w), free(wp), free(wb), free(wbp), free(wbp2), free(y0), free(y1);
    }
}

/* int8: every variant's kernel equals the portable one bit for bit (integer
 * sums are exact), and that is close to the f32 product (weights quantized
 * per row: error well under 1% of the terms' magnitude). */
/* The largest error of a quantized product y0 against the f32 one yf, as a
 * fraction of the bound the quantization allows: rounding each weight moves
 * it by at most sw/2 and each activation by sx/2, so |y - y_f32| <= sum_k
 * |x| sw/2 + |w| sx/2 + sx sw/4 (1% slack for f32 rounding). <= 1 passes. */
static float quant_error(const float *x, size_t ldx, const float *w, const float *sx,
                         const float *sw, const float *y0, const float *yf, size_t ldy, size_t M,
                         size_t N, size_t K) {
    float worst = 0;
    for (size_t m = 0; m < M; m++)
        for (size_t n = 0; n < N; n++) {
            double bound = 0;
            for (size_t k = 0; k < K; k++)
                bound += fabs(x[m * ldx + k]) * sw[n] / 2 + fabs(w[n * K + k]) * sx[m] / 2 +
                         (double)sx[m] * sw[n] / 4;
            float e = fabsf(y0[m * ldy + n] - yf[m * ldy + n]) / (float)(bound * 1.01 + 1e-6);
            if (e > worst) worst = e;
        }
    return worst;
}

static void check_i8(void) {
    size_t sizes[][3] = {{1, 16, 2},     {6, 16, 8},      {7, 33, 13},   {13, 50, 256},
                         {1, 1280, 768}, {25, 100, 1152}, {8, 20, 3072}, {12, 64, 64},
                         {24, 48, 100},  {30, 81, 7},     {11, 200, 33}};
    const mnemo_kernels *port = mnemo__kernels_portable();
    size_t nv;
    const mnemo_kernels *const *variants = mnemo__kernels_variants(&nv);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t M = sizes[s][0], N = sizes[s][1], K = sizes[s][2], Kp = (K + 1) & ~(size_t)1;
        size_t ldx = K + 3, ldy = N + 1, panels = (N + 15) / 16;
        float *x = malloc(M * ldx * 4), *w = malloc(N * K * 4), *sw = malloc(N * 4),
              *sx = malloc(M * 4);
        int8_t *wq = malloc(mnemo__packed_i8_size(N, K));
        int16_t *xq = malloc(M * (Kp + 2) * 2);
        float *y0 = malloc(M * ldy * 4), *y1 = malloc(M * ldy * 4), *yf = malloc(M * ldy * 4);
        for (size_t i = 0; i < M * ldx; i++) x[i] = frand() * (i % 97 == 0 ? 30 : 1); /* outliers */
        for (size_t i = 0; i < N * K; i++) w[i] = frand();
        mnemo__pack_i8(w, N, K, wq, sw);
        /* every table's quantizer: the same integers and scales, at the
         * linear layers' limit and at attention's (2896) */
        for (size_t t = 0; t < 2 * nv; t++) {
            size_t v = t / 2;
            int lim = t % 2 ? mnemo__i8_x_limit(K) : 2896;
            mnemo__quantize_rows(x, ldx, M, K, lim, xq, Kp + 2, sx);
            for (size_t m = 0; m < M; m++)
                for (size_t k = 0; k < K; k++) CHECK(abs(xq[m * (Kp + 2) + k]) <= lim);
            int16_t *xq2 = malloc(M * (Kp + 2) * 2);
            float *sx2 = malloc(M * 4);
            variants[v]->quantize_rows(x, ldx, M, K, lim, xq2, Kp + 2, sx2);
            int same = 1;
            for (size_t m = 0; m < M; m++) {
                same &= sx[m] == sx2[m];
                for (size_t k = 0; k < Kp; k++)
                    same &= xq[m * (Kp + 2) + k] == xq2[m * (Kp + 2) + k];
            }
            CHECKF(same, "%s quantize_rows differs at M=%zu K=%zu limit %d", variants[v]->name, M,
                   K, lim);
            free(xq2), free(sx2);
        }
        mnemo__gemm_f32_ref(M, N, K, x, ldx, w, K, yf, ldy);
        port->gemm_packed_i8(M, N, K, xq, Kp + 2, sx, wq, sw, 0, panels, y0, ldy);
        float worst = quant_error(x, ldx, w, sx, sw, y0, yf, ldy, M, N, K);
        CHECKF(worst <= 1.0f, "i8 M=%zu N=%zu K=%zu: error %g of the quantization bound", M, N, K,
               (double)worst);
        for (size_t v = 1; v < nv; v++) {
            size_t mid = panels / 2;
            for (size_t i = 0; i < M * ldy; i++) y1[i] = 555.0f; /* padding must stay */
            variants[v]->gemm_packed_i8(M, N, K, xq, Kp + 2, sx, wq, sw, 0, mid, y1, ldy);
            variants[v]->gemm_packed_i8(M, N, K, xq, Kp + 2, sx, wq, sw, mid, panels, y1, ldy);
            int same = 1;
            for (size_t m = 0; m < M; m++) {
                for (size_t n = 0; n < N; n++) same &= y0[m * ldy + n] == y1[m * ldy + n];
                for (size_t n = N; n < ldy; n++) same &= y1[m * ldy + n] == 555.0f;
            }
            CHECKF(same, "%s i8 differs from portable at M=%zu N=%zu K=%zu", variants[v]->name, M,
                   N, K);
        }
        free(x), free(w), free(sw), free(sx), free(wq), free(xq), free(y0), free(y1), free(yf);
    }
}

/* int8 x u8 (the 8-bit dot product, or AVX2's vpmaddubsw): the reference
 * within the quantization's bound of the f32 product; every variant's
 * quantizer gives the reference's bytes, scales and zero points, and every
 * variant's GEMM exactly the reference's floats (integer sums, then the same
 * f32 operations), on every M of 1..20 (a query's tokens) and K, N with every
 * remainder. `extreme`: activations at u8 255 and 0 (zero points 0 and 128)
 * against weights at +-127, the largest pair sums vpmaddubsw meets (AVX2's
 * kernel: (0 - 128) * -127 * 2 = 32,512 must not saturate). */
static void check_u8_shape(size_t M, size_t N, size_t K, int extreme) {
    size_t nv;
    const mnemo_kernels *const *variants = mnemo__kernels_variants(&nv);
    const mnemo_kernels *ref = mnemo__kernels_ref();
    size_t K4 = (K + 3) & ~(size_t)3, ldu = K4 + 4;
    size_t ldx = K + 3, ldy = N + 1, panels = (N + 15) / 16;
    float *x = malloc(M * ldx * 4), *w = malloc(N * K * 4), *sw = malloc(N * 8),
          *sx = malloc(M * 4);
    int32_t *zx = malloc(M * 4);
    int8_t *wq = malloc(mnemo__packed_u8_size(N, K));
    uint8_t *xu = malloc(M * ldu);
    float *y0 = malloc(M * ldy * 4), *y1 = malloc(M * ldy * 4), *yf = malloc(M * ldy * 4);
    for (size_t i = 0; i < M * ldx; i++) /* outliers, and rows skewed to one side */
        x[i] = frand() * (i % 97 == 0 ? 30 : 1) + ((i / ldx) % 3 == 1 ? 0.9f : 0.0f);
    if (M > 2)
        for (size_t k = 0; k < K; k++) x[2 * ldx + k] = 0.0f; /* an all-zero row */
    for (size_t i = 0; i < N * K; i++) w[i] = frand();
    if (extreme) { /* rows of 1 (u8 255) or of 1 and -1 (255 and 0); weights +-1 */
        for (size_t m = 0; m < M; m++)
            for (size_t k = 0; k < K; k++) x[m * ldx + k] = m % 2 && (k / 2 + m) % 3 ? -1.0f : 1.0f;
        for (size_t n = 0; n < N; n++)
            for (size_t k = 0; k < K; k++)
                w[n * K + k] = n % 3 == 0 || (k + n) % 5 == 0 ? 1.0f : -1.0f;
    }
    mnemo__pack_u8(w, N, K, wq, sw);
    ref->quantize_rows_u8(x, ldx, M, K, xu, ldu, sx, zx);
    mnemo__gemm_f32_ref(M, N, K, x, ldx, w, K, yf, ldy);
    ref->gemm_packed_u8(M, N, K, xu, ldu, sx, zx, wq, sw, 0, panels, y0, ldy);
    float worst = quant_error(x, ldx, w, sx, sw, y0, yf, ldy, M, N, K);
    CHECKF(worst <= 1.0f, "u8 M=%zu N=%zu K=%zu: error %g of the quantization bound", M, N, K,
           (double)worst);
    for (size_t v = 0; v < nv; v++) {
        const mnemo_kernels *kv = variants[v];
        CHECKF((kv->gemm_packed_u8 == NULL) == (kv->quantize_rows_u8 == NULL) &&
                   (kv->gemm_packed_u8 == NULL) == (kv->u8_instruction == NULL) &&
                   kv->i8_instruction != NULL,
               "%s: u8 GEMM, quantizer and instruction come together", kv->name);
        if (!kv->gemm_packed_u8) continue;
        uint8_t *xu2 = malloc(M * ldu);
        float *sx2 = malloc(M * 4);
        int32_t *zx2 = malloc(M * 4);
        memset(xu2, 0xAB, M * ldu);
        kv->quantize_rows_u8(x, ldx, M, K, xu2, ldu, sx2, zx2);
        int same = 1;
        for (size_t m = 0; m < M; m++) {
            same &= sx[m] == sx2[m] && zx[m] == zx2[m];
            for (size_t k = 0; k < K4; k++) same &= xu[m * ldu + k] == xu2[m * ldu + k];
        }
        CHECKF(same, "%s quantize_rows_u8 differs at M=%zu K=%zu", kv->name, M, K);
        size_t mid = panels / 2;
        for (size_t i = 0; i < M * ldy; i++) y1[i] = 555.0f; /* padding must stay */
        kv->gemm_packed_u8(M, N, K, xu, ldu, sx, zx, wq, sw, 0, mid, y1, ldy);
        kv->gemm_packed_u8(M, N, K, xu, ldu, sx, zx, wq, sw, mid, panels, y1, ldy);
        same = 1;
        for (size_t m = 0; m < M; m++) {
            for (size_t n = 0; n < N; n++) same &= y0[m * ldy + n] == y1[m * ldy + n];
            for (size_t n = N; n < ldy; n++) same &= y1[m * ldy + n] == 555.0f;
        }
        CHECKF(same, "%s u8 GEMM differs from the reference at M=%zu N=%zu K=%zu%s", kv->name, M, N,
               K, extreme ? " (extreme values)" : "");
        free(xu2), free(sx2), free(zx2);
    }
    free(x), free(w), free(sw), free(sx), free(zx), free(wq), free(xu), free(y0), free(y1),
        free(yf);
}

static void check_u8(void) {
    size_t sizes[][3] = {{1, 16, 4},     {6, 16, 8},      {7, 33, 13},   {13, 50, 256},
                         {1, 1280, 768}, {25, 100, 1152}, {8, 20, 3072}, {12, 64, 64},
                         {24, 48, 101},  {30, 81, 7},     {11, 200, 34}, {3, 17, 1},
                         {40, 31, 767}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int extreme = 0; extreme < 2; extreme++)
            check_u8_shape(sizes[s][0], sizes[s][1], sizes[s][2], extreme);
    for (size_t M = 1; M <= 20; M++) {
        check_u8_shape(M, 16 + 2 * M + 1, 60 + M, 0);
        check_u8_shape(M, 16 + 2 * M + 1, 60 + M, 1);
    }
}

/* q4: every variant within rounding of the portable kernel (the block sums
 * are exact; scaling them is f32 arithmetic in other orders), and that within
 * the quantization's bound of the f32 product: each weight moves by at most
 * its block's |d| (a clamp at +7 included), each activation by sx/2. */
static void check_q4(void) {
    size_t sizes[][3] = {{1, 16, 32},     {6, 16, 8},   {7, 33, 13}, {13, 50, 256}, {1, 1280, 768},
                         {25, 100, 1152}, {12, 64, 64}, {30, 81, 7}, {11, 200, 97}};
    size_t nv;
    const mnemo_kernels *const *variants = mnemo__kernels_variants(&nv);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t M = sizes[s][0], N = sizes[s][1], K = sizes[s][2], Kp = (K + 1) & ~(size_t)1;
        size_t ldx = K + 3, ldy = N + 1, panels = (N + 15) / 16, nb = (K + 31) / 32;
        float *x = malloc(M * ldx * 4), *w = malloc(N * K * 4), *sx = malloc(M * 4);
        float *ws = malloc(mnemo__packed_q4_scales(N, K) * 4);
        uint8_t *wq = malloc(mnemo__packed_q4_size(N, K));
        int16_t *xq = malloc(M * (Kp + 2) * 2);
        float *y0 = malloc(M * ldy * 4), *y1 = malloc(M * ldy * 4), *yf = malloc(M * ldy * 4);
        for (size_t i = 0; i < M * ldx; i++) x[i] = frand() * (i % 97 == 0 ? 30 : 1);
        for (size_t i = 0; i < N * K; i++) w[i] = frand() * (i % 31 == 0 ? 5 : 1);
        CHECK(mnemo__pack_q4(w, N, K, wq, ws) == 0);
        mnemo__quantize_rows(x, ldx, M, K, mnemo__i8_x_limit(K), xq, Kp + 2, sx);
        mnemo__gemm_f32_ref(M, N, K, x, ldx, w, K, yf, ldy);
        variants[0]->gemm_packed_q4(M, N, K, xq, Kp + 2, sx, wq, ws, 0, panels, y0, ldy);
        float worst = 0;
        for (size_t m = 0; m < M; m++)
            for (size_t n = 0; n < N; n++) {
                double bound = 0;
                for (size_t k = 0; k < K; k++) {
                    double d = fabs(ws[((n / 16) * nb + k / 32) * 16 + n % 16]);
                    bound += fabs(x[m * ldx + k]) * d + (fabs(w[n * K + k]) + d) * sx[m] / 2;
                }
                float e = fabsf(y0[m * ldy + n] - yf[m * ldy + n]) / (float)(bound * 1.01 + 1e-6);
                if (e > worst) worst = e;
            }
        CHECKF(worst <= 1.0f, "q4 M=%zu N=%zu K=%zu: error %g of the quantization bound", M, N, K,
               (double)worst);
        for (size_t v = 1; v < nv; v++) {
            size_t mid = panels / 2;
            for (size_t i = 0; i < M * ldy; i++) y1[i] = 555.0f; /* padding must stay */
            variants[v]->gemm_packed_q4(M, N, K, xq, Kp + 2, sx, wq, ws, 0, mid, y1, ldy);
            variants[v]->gemm_packed_q4(M, N, K, xq, Kp + 2, sx, wq, ws, mid, panels, y1, ldy);
            int pad_ok;
            float rel = worst_relative(y0, y1, ldy, x, ldx, w, M, N, K, 555.0f, &pad_ok);
            CHECKF(rel < 1e-5f && pad_ok, "%s q4 differs from portable at M=%zu N=%zu K=%zu: %g",
                   variants[v]->name, M, N, K, (double)rel);
        }
        free(x), free(w), free(sx), free(ws), free(wq), free(xq), free(y0), free(y1), free(yf);
    }
}

/* Weights already on a Q4_0 grid (q * d, d an f16 value, as a GGUF Q4_0
 * tensor decodes) come out of mnemo__pack_q4 exactly. */
static void check_q4_exact(void) {
    size_t N = 40, K = 100, nb = (K + 31) / 32;
    float *w = malloc(N * K * 4), *ws = malloc(mnemo__packed_q4_scales(N, K) * 4);
    uint8_t *wq = malloc(mnemo__packed_q4_size(N, K));
    for (size_t n = 0; n < N; n++)
        for (size_t b = 0; b < nb; b++) {
            float d =
                ldexpf((float)(1024 + (int)(rng % 1024)), -20 + (int)(rng % 7)); /* f16-exact */
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            int qmax = 1 + (int)(rng % 8); /* some blocks never reach -8 or 7 */
            for (size_t k = b * 32; k < K && k < b * 32 + 32; k++) {
                rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
                int q = (int)(rng % (uint64_t)(2 * qmax)) - qmax;
                w[n * K + k] = (float)q * d * (n % 2 ? -1.0f : 1.0f);
            }
        }
    CHECK(mnemo__pack_q4(w, N, K, wq, ws) == 0);
    int exact = 1;
    for (size_t n = 0; n < N; n++)
        for (size_t k = 0; k < K; k++) {
            uint8_t byte = wq[((n / 16) * nb + k / 32) * 256 + (k % 32 / 2) * 16 + n % 16];
            int q = (k % 2 ? byte >> 4 : byte & 0x0F) - 8;
            exact &= (float)q * ws[((n / 16) * nb + k / 32) * 16 + n % 16] == w[n * K + k];
        }
    CHECKF(exact, "q4: weights on a Q4_0 grid did not come back exactly");
    free(w), free(ws), free(wq);
}

static void test_gemm_variants(void) {
    check_i8();
    check_u8();
    check_q4_exact();
    check_q4();
    size_t nv;
    const mnemo_kernels *const *variants = mnemo__kernels_variants(&nv);
    for (size_t v = 0; v < nv; v++) {
        check_packed(variants[v]);
        check_variant(variants[v]);
        fprintf(stderr, "  checked kernels %s\n", variants[v]->name);
    }
    fprintf(stderr, "  cpu: %s, best kernels: %s\n", mnemo__cpu_description(),
            mnemo__kernels_best()->name);
}

/* Each variant's GELU against libm's, over the range activations take. */
static void test_gelu_variants(void) {
    size_t nv;
    const mnemo_kernels *const *ks = mnemo__kernels_variants(&nv);
    size_t n = 20003;
    float *g = malloc(n * 4), *u = malloc(n * 4), *ref = malloc(n * 4), *got = malloc(n * 4);
    for (size_t i = 0; i < n; i++) {
        g[i] = -30.0f + 60.0f * (float)i / (float)n; /* includes the saturated tails */
        u[i] = frand() * 4;
    }
    mnemo__gelu_tanh_mul(ref, g, u, n);
    for (size_t v = 0; v < nv; v++) {
        ks[v]->gelu_tanh_mul(got, g, u, n);
        double worst = 0;
        for (size_t i = 0; i < n; i++) {
            /* absolute error relative to the size of the term: tanh is off by ~1e-7 */
            double e = fabs((double)got[i] - ref[i]) / (1e-3 + fabs((double)g[i] * u[i]));
            if (e > worst) worst = e;
        }
        CHECKF(worst < 4e-7, "%s gelu: error %g", ks[v]->name, worst);
    }
    free(g), free(u), free(ref), free(got);
}

/* Each variant's dot product (the store's search) against an f64 sum, at
 * the widths the store sees and at odd tails; the ref table's too. */
static void test_dot_variants(void) {
    size_t nv;
    const mnemo_kernels *const *ks = mnemo__kernels_variants(&nv);
    static const size_t widths[] = {1, 7, 8, 31, 33, 64, 128, 256, 768, 1001};
    float *a = malloc(1001 * 4), *b = malloc(1001 * 4);
    for (size_t i = 0; i < 1001; i++) a[i] = frand(), b[i] = frand();
    for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
        size_t n = widths[w];
        double want = 0, mag = 0;
        for (size_t i = 0; i < n; i++)
            want += (double)a[i] * b[i], mag += fabs((double)a[i] * b[i]);
        for (size_t v = 0; v <= nv; v++) {
            const mnemo_kernels *k = v < nv ? ks[v] : mnemo__kernels_ref();
            CHECKF(k->dot_f32 != NULL, "%s: no dot_f32", k->name);
            if (!k->dot_f32) continue;
            double e = fabs(k->dot_f32(a, b, n) - want) / (mag + 1e-30);
            CHECKF(e < 1e-6, "%s dot n=%zu: relative error %g", k->name, n, e);
        }
    }
    free(a), free(b);
}

/* Each table's int8 dot product against a plain int64 sum, exactly, at the
 * widths around each kernel's step and with the extreme codes -128/127 (the
 * int16 pair sums must not saturate). */
static void test_dot_i8_variants(void) {
    size_t nv;
    const mnemo_kernels *const *ks = mnemo__kernels_variants(&nv);
    static const size_t widths[] = {0, 1, 15, 16, 31, 32, 33, 63, 64, 65, 96, 768, 1001};
    int8_t *a = malloc(1001), *b = malloc(1001);
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < 1001; i++) {
            if (round == 0)
                a[i] = (int8_t)(rand() % 256 - 128), b[i] = (int8_t)(rand() % 256 - 128);
            else if (round == 1)
                a[i] = -128, b[i] = -128;
            else
                a[i] = 127, b[i] = (int8_t)(i % 2 ? -128 : 127);
        }
        for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
            size_t n = widths[w];
            int64_t want = 0;
            for (size_t i = 0; i < n; i++) want += (int64_t)a[i] * b[i];
            for (size_t v = 0; v <= nv; v++) {
                const mnemo_kernels *k = v < nv ? ks[v] : mnemo__kernels_ref();
                CHECKF(k->dot_i8 != NULL, "%s: no dot_i8", k->name);
                if (!k->dot_i8) continue;
                int32_t got = k->dot_i8(a, b, n);
                CHECKF(got == want, "%s dot_i8 n=%zu round %d: %d, want %lld", k->name, n, round,
                       got, (long long)want);
            }
        }
    }
    free(a), free(b);
}

/* Each table's Hamming distances against a bit-by-bit count, at word
 * counts around the kernels' steps (the AVX-512 one's 8- and 16-word masks,
 * the AVX2 one's 4) and 12 (768 dimensions), over random words and the
 * extremes (all bits equal, all differ), for one vector and several. */
static void test_hamming_variants(void) {
    size_t nv;
    const mnemo_kernels *const *ks = mnemo__kernels_variants(&nv);
    static const size_t widths[] = {0, 1, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 24, 33};
    enum { MAXW = 33, MAXN = 7 };
    uint64_t q[MAXW], codes[MAXN * MAXW];
    uint32_t got[MAXN], want[MAXN];
    for (int round = 0; round < 4; round++) {
        for (size_t i = 0; i < MAXW; i++)
            q[i] = round == 1 ? ~0ULL
                   : round == 2
                       ? 0
                       : ((uint64_t)rand() << 40) ^ ((uint64_t)rand() << 20) ^ (uint64_t)rand();
        for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
            size_t words = widths[w];
            for (size_t i = 0; i < MAXN * words; i++)
                codes[i] = round == 1            ? 0
                           : round == 2          ? 0
                           : round == 3 && i % 2 ? q[i % words] ^ (1ULL << (i % 64))
                                                 : ((uint64_t)rand() << 40) ^
                                                       ((uint64_t)rand() << 20) ^ (uint64_t)rand();
            for (size_t i = 0; i < MAXN; i++) {
                want[i] = 0;
                for (size_t b = 0; b < words * 64; b++)
                    want[i] +=
                        (uint32_t)(((q[b / 64] ^ codes[i * words + b / 64]) >> (b % 64)) & 1);
            }
            for (size_t v = 0; v <= nv; v++) {
                const mnemo_kernels *k = v < nv ? ks[v] : mnemo__kernels_ref();
                CHECKF(k->hamming != NULL, "%s: no hamming", k->name);
                if (!k->hamming) continue;
                static const size_t counts[] = {0, 1, 6, MAXN};
                for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
                    size_t n = counts[c];
                    for (size_t i = 0; i < MAXN; i++) got[i] = 0xDEADBEEF;
                    k->hamming(q, codes, words, n, got);
                    for (size_t i = 0; i < MAXN; i++)
                        CHECKF(got[i] == (i < n ? want[i] : 0xDEADBEEF),
                               "%s hamming words=%zu n=%zu [%zu] round %d: %u, want %u", k->name,
                               words, n, i, round, got[i], i < n ? want[i] : 0xDEADBEEF);
                }
            }
        }
    }
}

/* int16 attention's packers of table k equal the scalar ones bit for bit
 * on N keys of K dims (keys: K made even, a gap in the row stride; V: N
 * keys of K dims, panels 2 pairs longer, the gap left untouched, the same
 * scales). */
static void check_i16_packing(const mnemo_kernels *k, size_t N, size_t K) {
    size_t ld = K + 3, Ke = K & ~(size_t)1, panels = (N + 15) / 16, ldq = Ke + 4;
    int16_t *xq = malloc(N * ldq * 2);
    for (size_t i = 0; i < N * ldq; i++) xq[i] = (int16_t)(frand() * 30000);
    int16_t *a = malloc(panels * Ke * 16 * 2 + 2), *b = malloc(panels * Ke * 16 * 2 + 2);
    memset(b, 0x55, panels * Ke * 16 * 2); /* every element written */
    mnemo__pack_pairs_rows_i16(xq, ldq, N, Ke, a);
    k->pack_pairs_rows_i16(xq, ldq, N, Ke, b);
    CHECKF(!memcmp(a, b, panels * Ke * 16 * 2), "%s pack_pairs_rows_i16 N=%zu K=%zu", k->name, N,
           Ke);
    float *x = malloc(N * ld * 4);
    for (size_t i = 0; i < N * ld; i++) x[i] = frand() * (float)(i % 7 + 1);
    size_t kp = (N + 1) & ~(size_t)1, pst = (kp + 4) * 16, vpanels = (K + 15) / 16;
    int16_t *c = malloc(vpanels * pst * 2), *d = malloc(vpanels * pst * 2);
    float *sc = malloc(K * 4), *sd = malloc(K * 4);
    memset(c, 0x5A, vpanels * pst * 2);
    memset(d, 0x5A, vpanels * pst * 2);
    mnemo__pack_pairs_cols_i16(x, ld, N, K, MNEMO_ATTN_V_LIMIT, c, pst, sc);
    k->pack_pairs_cols_i16(x, ld, N, K, MNEMO_ATTN_V_LIMIT, d, pst, sd);
    CHECKF(!memcmp(c, d, vpanels * pst * 2) && !memcmp(sc, sd, K * 4),
           "%s pack_pairs_cols_i16 keys=%zu dims=%zu", k->name, N, K);
    free(xq), free(a), free(b), free(x), free(c), free(d), free(sc), free(sd);
}

/* Attention's packing (bf16 below; int16 by check_i16_packing, on the same
 * shapes, in the tables that have it): each variant's pack_pairs_rows / _cols equal
 * the scalar ones bit for bit (both round to nearest even), over shapes with
 * partial panels, odd K and a gap in the row stride, and the pair layout is
 * the one gemm_packed_bf16_dps reads: the packed keys multiply as the f32
 * keys rounded to bf16. */
static void test_attention_packing(void) {
    size_t nv;
    const mnemo_kernels *const *ks = mnemo__kernels_variants(&nv);
    size_t shapes[][2] = {{1, 1}, {16, 256}, {17, 255}, {33, 31}, {5, 64}, {48, 33}, {300, 256}};
    int tried = 0;
    for (size_t v = 0; v < nv; v++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            if (ks[v]->pack_pairs_rows_i16) check_i16_packing(ks[v], shapes[s][0], shapes[s][1]);
            if (!ks[v]->pack_pairs_rows) continue;
            size_t N = shapes[s][0], K = shapes[s][1], ld = K + 3;
            size_t Kp = (K + 1) & ~(size_t)1, rows_n = mnemo__packed_i8_size(N, K);
            float *x = malloc(N * ld * 4);
            for (size_t i = 0; i < N * ld; i++) x[i] = frand() * 8;
            uint16_t *a = malloc(rows_n * 2), *b = malloc(rows_n * 2);
            memset(b, 0xAB, rows_n * 2); /* the kernel must write every element */
            mnemo__pack_pairs_rows_ref(x, ld, N, K, a);
            ks[v]->pack_pairs_rows(x, ld, N, K, b);
            CHECKF(!memcmp(a, b, rows_n * 2), "%s pack_pairs_rows N=%zu K=%zu differs", ks[v]->name,
                   N, K);
            /* cols: x as K' = N rows (keys) of N' = K columns (dims), panels 2 longer */
            size_t keys = N, dims = K, kp = (keys + 1) & ~(size_t)1, pst = (kp + 2) * 16;
            size_t panels = (dims + 15) / 16, cols_n = panels * pst;
            uint16_t *c = malloc(cols_n * 2), *d = malloc(cols_n * 2);
            memset(c, 0x5A, cols_n * 2);
            memset(d, 0x5A, cols_n * 2); /* the gap between panels stays untouched */
            mnemo__pack_pairs_cols_ref(x, ld, keys, dims, c, pst);
            ks[v]->pack_pairs_cols(x, ld, keys, dims, d, pst);
            CHECKF(!memcmp(c, d, cols_n * 2), "%s pack_pairs_cols K=%zu N=%zu differs", ks[v]->name,
                   keys, dims);
            /* Q·Kᵀ from the packed keys = the reference on the rounded keys */
            size_t M = 3;
            float *q = malloc(M * K * 4), *y0 = malloc(M * N * 4), *y1 = malloc(M * N * 4);
            uint16_t *kb = malloc(N * K * 2);
            for (size_t i = 0; i < M * K; i++) q[i] = bf16_to_f32(f32_to_bf16_rne(frand()));
            for (size_t n = 0; n < N; n++)
                for (size_t k = 0; k < K; k++) kb[n * K + k] = f32_to_bf16_rne(x[n * ld + k]);
            mnemo__gemm_bf16_ref(M, N, K, q, K, kb, K, y0, N);
            ks[v]->gemm_packed_bf16_dps(M, N, K, q, K, b, Kp * 16, 0, (N + 15) / 16, y1, N);
            float worst = 0;
            for (size_t i = 0; i < M * N; i++) {
                float e = fabsf(y0[i] - y1[i]) / (1.0f + fabsf(y0[i]));
                worst = e > worst ? e : worst;
            }
            CHECKF(worst < 1e-4f, "%s Q·Kᵀ on packed keys N=%zu K=%zu: error %g", ks[v]->name, N, K,
                   (double)worst);
            tried++;
            free(x), free(a), free(b), free(c), free(d), free(q), free(y0), free(y1), free(kb);
        }
    }
    printf("  attention packing: %d shapes checked\n", tried);
}

/* int16 attention (kernels.h, mnemo_gemm_packed_i16s_fn): every table's
 * GEMM equals the scalar one exactly, on M = 1..20, N and K remainders, odd
 * K, a panel stride longer than the panel, a split of the panels, and
 * operands at the limits (the sums at their largest, still exact); the
 * packers feed it so that S = Q·Kᵀ and O = P·V land within the quantization
 * bound of the f32 reference. */
static void test_i16_attention_gemm(void) {
    size_t nv;
    const mnemo_kernels *const *ks = mnemo__kernels_variants(&nv);
    int tried = 0, tables = 0;
    for (size_t v = 0; v < nv; v++) {
        if (!ks[v]->gemm_packed_i16s) continue;
        tables++;
        size_t shapes[][2] = {{1, 1}, {16, 256}, {17, 255}, {33, 31}, {300, 256}, {40, 2048}};
        for (size_t M = 1; M <= 20; M++)
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
                size_t N = shapes[s][0], K = shapes[s][1], Kp = (K + 1) & ~(size_t)1;
                size_t panels = (N + 15) / 16, pst = (Kp + 4) * 16, ldx = Kp + 6, ldy = N + 3;
                int16_t *x = malloc(M * ldx * 2), *w = malloc(panels * pst * 2);
                float *sx = malloc(M * 4), *sw = malloc(N * 4);
                float *y0 = malloc(M * ldy * 4), *y1 = malloc(M * ldy * 4);
                /* at the limit: |x|, |w| <= sqrt(2^31 / Kp), every third row all at it */
                int lim = mnemo__attn_qk_limit(Kp);
                for (size_t i = 0; i < M * ldx; i++)
                    x[i] = (int16_t)((i / ldx) % 3 == 0 ? lim : (int)(frand() * lim));
                for (size_t m = 0; m < M; m++) x[m * ldx + K] = K % 2 ? 0 : x[m * ldx + K];
                for (size_t i = 0; i < panels * pst; i++)
                    w[i] = (int16_t)(i % 7 == 0 ? -lim : (int)(frand() * lim));
                for (size_t m = 0; m < M; m++) sx[m] = 1e-3f * (float)(m + 1);
                for (size_t n = 0; n < N; n++) sw[n] = 1e-3f / (float)(n + 1);
                for (size_t i = 0; i < M * ldy; i++) y0[i] = y1[i] = 555.0f;
                mnemo__gemm_packed_i16s_ref(M, N, K, x, ldx, sx, w, pst, sw, 0, panels, y0, ldy);
                size_t mid = panels / 2;
                ks[v]->gemm_packed_i16s(M, N, K, x, ldx, sx, w, pst, sw, 0, mid, y1, ldy);
                ks[v]->gemm_packed_i16s(M, N, K, x, ldx, sx, w, pst, sw, mid, panels, y1, ldy);
                int same = !memcmp(y0, y1, M * ldy * 4); /* the padding column included */
                CHECKF(same, "%s gemm_packed_i16s M=%zu N=%zu K=%zu differs", ks[v]->name, M, N, K);
                tried++;
                free(x), free(w), free(sx), free(sw), free(y0), free(y1);
            }
    }
    /* the packers and the quantizers against f32 attention on one head */
    const mnemo_kernels *k = mnemo__kernels_ref();
    size_t L = 77, hd = 256, M = 13, ldx = hd + 5;
    int lim = mnemo__attn_qk_limit(hd);
    float *q = malloc(M * ldx * 4), *kk = malloc(L * ldx * 4), *vv = malloc(L * ldx * 4);
    for (size_t i = 0; i < M * ldx; i++) q[i] = frand() * 3;
    for (size_t i = 0; i < L * ldx; i++) kk[i] = frand() * 3, vv[i] = frand() * (i % 5 + 1);
    int16_t *qq = malloc(M * hd * 2), *kq = malloc(L * hd * 2);
    float *qs = malloc(M * 4), *ksc = malloc(L * 4);
    k->quantize_rows(q, ldx, M, hd, lim, qq, hd, qs);
    k->quantize_rows(kk, ldx, L, hd, lim, kq, hd, ksc);
    size_t kpanels = (L + 15) / 16, Lp = (L + 1) & ~(size_t)1;
    int16_t *kp = malloc(kpanels * hd * 16 * 2), *vp = malloc(hd / 16 * (Lp + 2) * 16 * 2);
    mnemo__pack_pairs_rows_i16(kq, hd, L, hd, kp);
    float *S = malloc(M * L * 4), *Sf = malloc(M * L * 4), *vsc = malloc(hd * 4);
    k->gemm_packed_i16s(M, L, hd, qq, hd, qs, kp, hd * 16, ksc, 0, kpanels, S, L);
    mnemo__gemm_f32_ref(M, L, hd, q, ldx, kk, ldx, Sf, L);
    float worst = 0;
    for (size_t i = 0; i < M * L; i++) {
        float e = fabsf(S[i] - Sf[i]);
        worst = e > worst ? e : worst;
    }
    /* each product's error <= |q| |dk| + |k| |dq| + ...: 256 dims at 3 * 3 / 2896 */
    CHECKF(worst < 256 * 2 * 3 * 3 / (2.0f * (float)lim), "Q·Kᵀ on int16: error %g", (double)worst);
    /* P·V: softmax rows written as int16, V packed per dim (panels 2 longer) */
    mnemo__pack_pairs_cols_i16(vv, ldx, L, hd, MNEMO_ATTN_V_LIMIT, vp, (Lp + 2) * 16, vsc);
    int16_t *pq = malloc(M * Lp * 2);
    float *ps = malloc(M * 4), *O = malloc(M * hd * 4), *Of = malloc(M * hd * 4);
    for (size_t m = 0; m < M; m++) {
        memcpy(Sf + m * L, S + m * L, L * 4);
        ps[m] = k->softmax_window_i16(S + m * L, L, m, L - m, 0.5f, pq + m * Lp);
        mnemo__softmax_window(Sf + m * L, L, m, L - m, 0.5f);
    }
    k->gemm_packed_i16s(M, hd, L, pq, Lp, ps, vp, (Lp + 2) * 16, vsc, 0, hd / 16, O, hd);
    for (size_t m = 0; m < M; m++)
        for (size_t d = 0; d < hd; d++) {
            double s = 0;
            for (size_t j = 0; j < L; j++) s += (double)Sf[m * L + j] * vv[j * ldx + d];
            Of[m * hd + d] = (float)s;
        }
    worst = 0;
    for (size_t i = 0; i < M * hd; i++) {
        float e = fabsf(O[i] - Of[i]);
        worst = e > worst ? e : worst;
    }
    /* V's step is at most 5 / 2047 per dim; P's 1 / 32767 per key */
    CHECKF(worst < 5.0f / 2047 + 5.0f * (float)L / 32767, "P·V on int16: error %g", (double)worst);
    printf("  int16 attention: %d GEMM shapes on %d tables, Q·Kᵀ / P·V within bounds\n", tried,
           tables);
    free(q), free(kk), free(vv), free(qq), free(kq), free(qs), free(ksc), free(kp), free(vp);
    free(S), free(Sf), free(vsc), free(pq), free(ps), free(O), free(Of);
}

/* The int16 softmax of table k on row x against the scalar one: q within 1
 * of it (the exponentials differ in the last bits), the same scale to 1e-5,
 * zeros outside the window and in the pad, q * scale = the f32 softmax to
 * within a step, and the row sum inside the bound that keeps P·V exact
 * (the callers pass the longest rows and rows with every score equal: the
 * case that sums highest). */
static void check_softmax_i16(const mnemo_kernels *k, const float *x, size_t n, size_t lo,
                              size_t hi) {
    size_t np = (n + 1) & ~(size_t)1;
    float *a = malloc(n * 4), *b = malloc(n * 4);
    int16_t *qa = malloc(np * 2), *qb = malloc(np * 2);
    memcpy(a, x, n * 4);
    memcpy(b, x, n * 4);
    memset(qb, 0x55, np * 2);
    float sa = mnemo__softmax_window_i16(a, n, lo, hi, 0.0625f, qa);
    float sb = k->softmax_window_i16(b, n, lo, hi, 0.0625f, qb);
    memcpy(a, x, n * 4);
    mnemo__softmax_window(a, n, lo, hi, 0.0625f);
    int close = fabsf(sa - sb) <= 1e-5f * sa, zeros = 1, near = 1;
    long sum = 0;
    for (size_t i = 0; i < np; i++) {
        close &= abs(qa[i] - qb[i]) <= 1;
        if (i < lo || i >= hi)
            zeros &= qb[i] == 0;
        else
            near &= fabsf((float)qb[i] * sb - a[i]) <= 1.01f * sb;
        sum += qb[i];
    }
    CHECKF(close && zeros && near && sum <= MNEMO_ATTN_P_SUM + 512,
           "%s softmax_window_i16 n=%zu [%zu,%zu) row[0] %g: close %d zeros %d near %d sum %ld",
           k->name, n, lo, hi, (double)x[0], close, zeros, near, sum);
    free(a), free(b), free(qa), free(qb);
}

/* Each variant's RMSNorm and windowed softmax against the portable ones
 * (and its int16 softmax, where it has one: check_softmax_i16, on the same
 * rows and on rows of equal scores, up to the longest it takes). */
/* A table's add_rmsnorm against its rmsnorm, the add and its rmsnorm again:
 * the same bits in x and out, and s (here x) left as it was. */
static void check_add_rmsnorm(const mnemo_kernels *k, const float *s, const float *g1, size_t n) {
    float *x = malloc(n * 4), *xe = malloc(n * 4), *g2 = malloc(n * 4), *t = malloc(n * 4);
    float *out = malloc(n * 4), *oute = malloc(n * 4), *s0 = malloc(n * 4);
    for (size_t i = 0; i < n; i++) {
        x[i] = xe[i] = frand() * 100;
        g2[i] = 0.5f + frand();
    }
    memcpy(s0, s, n * 4);
    k->rmsnorm(t, s, g1, n, 1e-6f);
    for (size_t i = 0; i < n; i++) xe[i] += t[i];
    k->rmsnorm(oute, xe, g2, n, 1e-6f);
    k->add_rmsnorm(x, s, g1, g2, out, n, 1e-6f);
    CHECKF(!memcmp(x, xe, n * 4) && !memcmp(out, oute, n * 4) && !memcmp(s, s0, n * 4),
           "%s add_rmsnorm n=%zu: not the rmsnorm, add, rmsnorm result", k->name, n);
    free(x), free(xe), free(g2), free(t), free(out), free(oute), free(s0);
}

static void test_norm_softmax_variants(void) {
    size_t nv;
    const mnemo_kernels *const *ks = mnemo__kernels_variants(&nv);
    size_t sizes[] = {1, 7, 16, 33, 256, 768, 1000, MNEMO_ATTN_MAX_KEYS - 1, MNEMO_ATTN_MAX_KEYS};
    int i16_rows = 0;
    for (size_t v = 0; v < nv; v++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            size_t n = sizes[s];
            float *x = malloc(n * 4), *g = malloc(n * 4), *a = malloc(n * 4), *b = malloc(n * 4);
            for (size_t i = 0; i < n; i++) {
                x[i] = frand() * 40;
                g[i] = 1 + frand();
            }
            mnemo__rmsnorm(a, x, g, n, 1e-6f);
            ks[v]->rmsnorm(b, x, g, n, 1e-6f);
            float worst = 0;
            for (size_t i = 0; i < n; i++) {
                float e = fabsf(a[i] - b[i]) / (fabsf(a[i]) + 1e-6f);
                worst = e > worst ? e : worst;
            }
            CHECKF(worst < 1e-6f, "%s rmsnorm n=%zu: relative error %g", ks[v]->name, n,
                   (double)worst);
            check_add_rmsnorm(ks[v], x, g, n);
            float *flat = malloc(n * 4);
            for (size_t i = 0; i < n; i++) flat[i] = 1.0f;
            size_t win[][2] = {{0, n}, {n / 3, n - n / 4}, {n - 1, n}}; /* whole, inner, one key */
            for (int w = 0; w < 3; w++) {
                size_t lo = win[w][0], hi = win[w][1];
                if (lo >= hi) continue;
                memcpy(a, x, n * 4);
                memcpy(b, x, n * 4);
                mnemo__softmax_window(a, n, lo, hi, 0.0625f);
                ks[v]->softmax_window(b, n, lo, hi, 0.0625f);
                worst = 0;
                double sum = 0;
                int zeros = 1;
                for (size_t i = 0; i < n; i++) {
                    worst = fabsf(a[i] - b[i]) > worst ? fabsf(a[i] - b[i]) : worst;
                    if (i < lo || i >= hi)
                        zeros &= b[i] == 0.0f;
                    else
                        sum += b[i];
                }
                CHECKF(worst < 1e-6f && zeros && fabs(sum - 1) < 1e-5,
                       "%s softmax n=%zu [%zu,%zu): "
                       "error %g, zeros %d, sum %g",
                       ks[v]->name, n, lo, hi, (double)worst, zeros, sum);
                if (ks[v]->softmax_window_i16) {
                    check_softmax_i16(ks[v], x, n, lo, hi);
                    check_softmax_i16(ks[v], flat, n, lo, hi);
                    i16_rows += 2;
                }
            }
            free(x), free(g), free(a), free(b), free(flat);
        }
    printf("  int16 softmax: %d rows checked\n", i16_rows);
}

static void test_ops(void) {
    float x[4] = {1, 2, 3, 4}, g[4] = {1, 1, 2, 0.5f}, out[4];
    mnemo__rmsnorm(out, x, g, 4, 1e-6f);
    float r = 1.0f / sqrtf(7.5f + 1e-6f);
    CHECK(fabsf(out[0] - r) < 1e-6f && fabsf(out[2] - 6 * r) < 1e-6f &&
          fabsf(out[3] - 2 * r) < 1e-6f);
    float sm[3] = {1000, 1000, -1e30f};
    mnemo__softmax(sm, 3);
    CHECK(fabsf(sm[0] - 0.5f) < 1e-6f && sm[2] == 0.0f);
    float gate[3] = {0, 1, -3}, up[3] = {1, 2, 1}, gl[3];
    mnemo__gelu_tanh_mul(gl, gate, up, 3);
    CHECK(gl[0] == 0.0f);
    CHECK(fabsf(gl[1] - 2 * 0.8411920f) < 1e-5f); /* gelu_tanh(1) = 0.841192 */
    CHECK(fabsf(gl[2] - (-0.0036373f)) < 1e-6f);  /* gelu_tanh(-3) */
    float v[4] = {1, 2, 3, 4}, c[2] = {0, 1}, s[2] = {1, 0};
    mnemo__rope(v, 4, c, s); /* pair (0,2) by 90°, pair (1,3) by 0° */
    CHECK(v[0] == -3 && v[2] == 1 && v[1] == 2 && v[3] == 4);
    float n[3] = {3, 0, 4}, z[2] = {0, 0};
    mnemo__l2_normalize(n, 3);
    mnemo__l2_normalize(z, 2);
    CHECK(fabsf(n[0] - 0.6f) < 1e-7f && fabsf(n[2] - 0.8f) < 1e-7f && z[0] == 0.0f);
}

static _Atomic long pool_sum;
static void add_task(void *ctx, size_t task, int worker) {
    (void)ctx;
    (void)worker;
    atomic_fetch_add(&pool_sum, (long)task + 1);
}

static void test_pool(void) {
    mnemo_pool *p;
    mnemo_error err;
    CHECK(mnemo__pool_create(3, &p, &err) == MNEMO_OK);
    CHECK(mnemo__pool_size(p) == 3);
    for (int round = 0; round < 200; round++) {
        atomic_store(&pool_sum, 0);
        size_t n = (size_t)round % 37;
        mnemo__pool_run(p, n, add_task, NULL);
        CHECK(atomic_load(&pool_sum) == (long)(n * (n + 1) / 2));
    }
    mnemo__pool_destroy(p);
    mnemo__pool_destroy(NULL);
    CHECK(mnemo__cpu_count() >= 1);
}

int main(void) {
    RUN(test_gemm_variants);
    RUN(test_gelu_variants);
    RUN(test_dot_variants);
    RUN(test_dot_i8_variants);
    RUN(test_hamming_variants);
    RUN(test_norm_softmax_variants);
    RUN(test_attention_packing);
    RUN(test_i16_attention_gemm);
    RUN(test_ops);
    RUN(test_pool);
    return test_finish();
}
