/*
 * pack.c — lays a [N][K] weight out in the panels the packed GEMMs read
 * (kernels.h): done once at load, portable C. Not a kernel itself.
 */
#include "kernels.h"
#include "../core/core.h"

#include <math.h>
#include <string.h>

size_t mnemo__packed_size(size_t N, size_t K) {
    return (N + MNEMO_PANEL - 1) / MNEMO_PANEL * MNEMO_PANEL * K;
}

/* One packer for every element size: the layout is the same, only the bytes
 * per element differ. Rows past N (the last panel's padding) are zero. */
static void pack_panels(const void *w, size_t esize, size_t N, size_t K, void *wp) {
    const uint8_t *src = w;
    uint8_t *dst = wp;
    size_t panels = (N + MNEMO_PANEL - 1) / MNEMO_PANEL;
    memset(dst, 0, panels * MNEMO_PANEL * K * esize);
    for (size_t n = 0; n < N; n++) {
        uint8_t *col = dst + ((n / MNEMO_PANEL) * K * MNEMO_PANEL + n % MNEMO_PANEL) * esize;
        for (size_t k = 0; k < K; k++)
            memcpy(col + k * MNEMO_PANEL * esize, src + (n * K + k) * esize, esize);
    }
}

void mnemo__pack_f32(const float *w, size_t N, size_t K, float *wp) { pack_panels(w, 4, N, K, wp); }

void mnemo__pack_bf16(const uint16_t *w, size_t N, size_t K, uint16_t *wp) {
    pack_panels(w, 2, N, K, wp);
}

size_t mnemo__packed_i8_size(size_t N, size_t K) {
    return (N + MNEMO_PANEL - 1) / MNEMO_PANEL * MNEMO_PANEL * ((K + 1) & ~(size_t)1);
}

void mnemo__pack_bf16_pairs(const uint16_t *w, size_t N, size_t K, uint16_t *wp) {
    size_t Kp = (K + 1) & ~(size_t)1;
    memset(wp, 0, mnemo__packed_i8_size(N, K) * sizeof *wp);
    for (size_t n = 0; n < N; n++) {
        uint16_t *dst = wp + (n / MNEMO_PANEL) * Kp * MNEMO_PANEL + (n % MNEMO_PANEL) * 2;
        for (size_t k = 0; k < K; k++) dst[(k / 2) * 32 + k % 2] = w[n * K + k];
    }
}

void mnemo__pack_pairs_rows_ref(const float *x, size_t ldx, size_t N, size_t K, uint16_t *wp) {
    size_t Kp = (K + 1) & ~(size_t)1;
    memset(wp, 0, mnemo__packed_i8_size(N, K) * sizeof *wp);
    for (size_t n = 0; n < N; n++) {
        uint16_t *dst = wp + (n / MNEMO_PANEL) * Kp * MNEMO_PANEL + (n % MNEMO_PANEL) * 2;
        for (size_t k = 0; k < K; k++)
            dst[(k / 2) * 32 + k % 2] = mnemo__f32_to_bf16(x[n * ldx + k]);
    }
}

void mnemo__pack_pairs_cols_ref(const float *x, size_t ldx, size_t K, size_t N, uint16_t *wp,
                                size_t pstride) {
    size_t Kp = (K + 1) & ~(size_t)1, panels = (N + MNEMO_PANEL - 1) / MNEMO_PANEL;
    for (size_t p = 0; p < panels; p++)
        for (size_t k = 0; k < Kp; k++)
            for (size_t c = 0; c < MNEMO_PANEL; c++) {
                size_t n = p * MNEMO_PANEL + c;
                wp[p * pstride + (k / 2) * 32 + c * 2 + k % 2] =
                    n < N && k < K ? mnemo__f32_to_bf16(x[k * ldx + n]) : 0;
            }
}

void mnemo__pack_i8(const float *w, size_t N, size_t K, int8_t *wq, float *sw) {
    size_t panels = (N + MNEMO_PANEL - 1) / MNEMO_PANEL, Kp = (K + 1) & ~(size_t)1;
    memset(wq, 0, mnemo__packed_i8_size(N, K));
    for (size_t n = 0; n < N; n++) {
        float amax = 0.0f;
        for (size_t k = 0; k < K; k++)
            amax = fabsf(w[n * K + k]) > amax ? fabsf(w[n * K + k]) : amax;
        float scale = amax / 127.0f, inv = amax > 0 ? 127.0f / amax : 0.0f;
        sw[n] = scale;
        int8_t *dst = wq + (n / MNEMO_PANEL) * Kp * MNEMO_PANEL + (n % MNEMO_PANEL) * 2;
        for (size_t k = 0; k < K; k++) {
            long q = lrintf(w[n * K + k] * inv);
            dst[(k / 2) * 32 + k % 2] = (int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);
        }
    }
    (void)panels;
}

size_t mnemo__packed_u8_size(size_t N, size_t K) {
    return (N + MNEMO_PANEL - 1) / MNEMO_PANEL * MNEMO_PANEL * ((K + 3) & ~(size_t)3);
}

void mnemo__pack_u8(const float *w, size_t N, size_t K, int8_t *wq, float *sw) {
    size_t K4 = (K + 3) & ~(size_t)3;
    int32_t *wsum = (int32_t *)(sw + N);
    memset(wq, 0, mnemo__packed_u8_size(N, K));
    for (size_t n = 0; n < N; n++) {
        float amax = 0.0f;
        for (size_t k = 0; k < K; k++)
            amax = fabsf(w[n * K + k]) > amax ? fabsf(w[n * K + k]) : amax;
        float inv = amax > 0 ? 127.0f / amax : 0.0f;
        sw[n] = amax / 127.0f;
        int8_t *dst = wq + (n / MNEMO_PANEL) * K4 * MNEMO_PANEL + (n % MNEMO_PANEL) * 4;
        int32_t sum = 0;
        for (size_t k = 0; k < K; k++) {
            long q = lrintf(w[n * K + k] * inv);
            q = q > 127 ? 127 : q < -127 ? -127 : q;
            dst[(k / 4) * 64 + k % 4] = (int8_t)q;
            sum += (int32_t)q;
        }
        wsum[n] = sum;
    }
}

float mnemo__u8_row_scale(float lo, float hi, float *sx, int32_t *zx) {
    float inv = hi > lo ? 255.0f / (hi - lo) : 0.0f;
    long z = lrintf(-lo * inv);
    *sx = (hi - lo) / 255.0f;
    *zx = (int32_t)(z > 255 ? 255 : z < 0 ? 0 : z);
    return inv;
}

void mnemo__u8_row_range(const float *r, size_t k0, size_t K, float *lo, float *hi) {
    for (size_t k = k0; k < K; k++) {
        *lo = r[k] < *lo ? r[k] : *lo;
        *hi = r[k] > *hi ? r[k] : *hi;
    }
}

void mnemo__u8_row_quantize(const float *r, size_t k0, size_t K, float inv, int32_t zx,
                            uint8_t *q) {
    for (size_t k = k0; k < K; k++) {
        long v = lrintf(r[k] * inv) + zx;
        q[k] = (uint8_t)(v > 255 ? 255 : v < 0 ? 0 : v);
    }
    for (size_t k = K; k < ((K + 3) & ~(size_t)3); k++) q[k] = 0;
}

void mnemo__quantize_rows_u8(const float *x, size_t ldx, size_t M, size_t K, uint8_t *xu,
                             size_t ldu, float *sx, int32_t *zx) {
    for (size_t m = 0; m < M; m++) {
        const float *r = x + m * ldx;
        float lo = 0.0f, hi = 0.0f;
        mnemo__u8_row_range(r, 0, K, &lo, &hi);
        float inv = mnemo__u8_row_scale(lo, hi, &sx[m], &zx[m]);
        mnemo__u8_row_quantize(r, 0, K, inv, zx[m], xu + m * ldu);
    }
}

size_t mnemo__packed_q4_size(size_t N, size_t K) {
    return (N + MNEMO_PANEL - 1) / MNEMO_PANEL * ((K + 31) / 32) * 256;
}

size_t mnemo__packed_q4_scales(size_t N, size_t K) {
    return (N + MNEMO_PANEL - 1) / MNEMO_PANEL * ((K + 31) / 32) * MNEMO_PANEL;
}

void mnemo__pack_q4_quantized(const int8_t *q, const float *d, size_t N, size_t K, uint8_t *wq,
                              float *ws) {
    size_t nb = (K + 31) / 32;
    memset(wq, 0x88, mnemo__packed_q4_size(N, K)); /* padding: nibbles 8 = value 0 */
    memset(ws, 0, mnemo__packed_q4_scales(N, K) * sizeof *ws);
    for (size_t n = 0; n < N; n++) {
        size_t p = n / MNEMO_PANEL, c = n % MNEMO_PANEL;
        for (size_t b = 0; b < nb; b++) ws[(p * nb + b) * MNEMO_PANEL + c] = d[n * nb + b];
        for (size_t k = 0; k < K; k++) {
            uint8_t *byte = &wq[(p * nb + k / 32) * 256 + (k % 32 / 2) * MNEMO_PANEL + c];
            uint8_t nib = (uint8_t)(q[n * K + k] + 8);
            *byte = k % 2 ? (uint8_t)((*byte & 0x0F) | nib << 4) : (uint8_t)((*byte & 0xF0) | nib);
        }
    }
}

int mnemo__pack_q4(const float *w, size_t N, size_t K, uint8_t *wq, float *ws) {
    size_t nb = (K + 31) / 32;
    int8_t *q = mnemo__malloc_array(N ? N : 1, K ? K : 1);
    float *d = mnemo__malloc_array(N ? N : 1, (nb ? nb : 1) * sizeof(float));
    if (!q || !d) {
        mnemo__free(q);
        mnemo__free(d);
        return -1;
    }
    for (size_t n = 0; n < N; n++)
        for (size_t b = 0; b < nb; b++) {
            size_t k0 = b * 32, k1 = k0 + 32 < K ? k0 + 32 : K;
            const float *wb = w + n * K;
            float big = 0.0f; /* the value of largest magnitude, with its sign */
            for (size_t k = k0; k < k1; k++)
                if (fabsf(wb[k]) > fabsf(big)) big = wb[k];
            /* d = big / t for the t in -8..7 with the least squared error: t = -8
             * is Q4_0's rule (tried first, so it wins ties); a block decoded from
             * a Q4_0 file has an exact t (big = t * d), so such weights come back
             * exactly. */
            float best_d = 0.0f;
            double best_err = -1.0;
            for (int t = -8; t <= 7 && big != 0.0f; t++) {
                if (t == 0) continue;
                float dd = big / (float)t, inv = 1.0f / dd;
                double e2 = 0.0;
                for (size_t k = k0; k < k1; k++) {
                    long v = lrintf(wb[k] * inv);
                    v = v > 7 ? 7 : v < -8 ? -8 : v;
                    double r = (double)wb[k] - (double)v * dd;
                    e2 += r * r;
                }
                if (best_err < 0 || e2 < best_err) {
                    best_err = e2;
                    best_d = dd;
                }
            }
            float inv = best_d != 0.0f ? 1.0f / best_d : 0.0f;
            d[n * nb + b] = best_d;
            for (size_t k = k0; k < k1; k++) {
                long v = lrintf(wb[k] * inv);
                q[n * K + k] = (int8_t)(v > 7 ? 7 : v < -8 ? -8 : v);
            }
        }
    mnemo__pack_q4_quantized(q, d, N, K, wq, ws);
    mnemo__free(q);
    mnemo__free(d);
    return 0;
}

int mnemo__i8_x_limit(size_t K) {
    /* |sum| <= K * 127 * limit must stay below 2^31 */
    double lim = 2147483647.0 / (127.0 * (double)(K ? K : 1));
    return lim > 32767 ? 32767 : (int)lim;
}

void mnemo__quantize_rows(const float *x, size_t ldx, size_t M, size_t K, int limit, int16_t *xq,
                          size_t ldq, float *sx) {
    float lim = (float)limit;
    for (size_t m = 0; m < M; m++) {
        const float *r = x + m * ldx;
        float amax = 0.0f;
        for (size_t k = 0; k < K; k++) amax = fabsf(r[k]) > amax ? fabsf(r[k]) : amax;
        float inv = amax > 0 ? lim / amax : 0.0f;
        sx[m] = amax > 0 ? amax / lim : 0.0f;
        int16_t *q = xq + m * ldq;
        for (size_t k = 0; k < K; k++) q[k] = (int16_t)lrintf(r[k] * inv);
        if (K % 2) q[K] = 0;
    }
}

int mnemo__attn_qk_limit(size_t head_dim) {
    /* |q . k| <= head_dim * limit^2 must stay below 2^31 */
    double lim = floor(sqrt(2147483647.0 / (double)(head_dim ? head_dim : 1)));
    return lim > 32767 ? 32767 : (int)lim;
}

void mnemo__pack_pairs_rows_i16(const int16_t *xq, size_t ldq, size_t N, size_t K, int16_t *wp) {
    size_t panels = (N + MNEMO_PANEL - 1) / MNEMO_PANEL, kh = K / 2;
    /* a key's pairs of dims are 32-bit words: word (n, kp) goes to kp * 16 + n % 16 */
    for (size_t p = 0; p < panels; p++) {
        uint32_t *panel = (uint32_t *)(void *)(wp + p * K * MNEMO_PANEL);
        for (size_t j = 0; j < MNEMO_PANEL; j++) {
            size_t n = p * MNEMO_PANEL + j;
            if (n >= N) {
                for (size_t kp = 0; kp < kh; kp++) panel[kp * MNEMO_PANEL + j] = 0;
                continue;
            }
            const int16_t *row = xq + n * ldq;
            for (size_t kp = 0; kp < kh; kp++) {
                uint32_t w;
                memcpy(&w, row + 2 * kp, 4);
                panel[kp * MNEMO_PANEL + j] = w;
            }
        }
    }
}

void mnemo__pack_pairs_cols_i16(const float *x, size_t ldx, size_t K, size_t N, int limit,
                                int16_t *wp, size_t pstride, float *sw) {
    size_t panels = (N + MNEMO_PANEL - 1) / MNEMO_PANEL, Kp = (K + 1) & ~(size_t)1;
    for (size_t p = 0; p < panels; p++) {
        float amax[MNEMO_PANEL] = {0}, inv[MNEMO_PANEL];
        size_t cols = N - p * MNEMO_PANEL < MNEMO_PANEL ? N - p * MNEMO_PANEL : MNEMO_PANEL;
        for (size_t k = 0; k < K; k++)
            for (size_t j = 0; j < cols; j++) {
                float a = fabsf(x[k * ldx + p * MNEMO_PANEL + j]);
                amax[j] = a > amax[j] ? a : amax[j];
            }
        for (size_t j = 0; j < MNEMO_PANEL; j++) {
            inv[j] = amax[j] > 0 ? (float)limit / amax[j] : 0.0f;
            if (j < cols) sw[p * MNEMO_PANEL + j] = amax[j] > 0 ? amax[j] / (float)limit : 0.0f;
        }
        int16_t *panel = wp + p * pstride;
        for (size_t k = 0; k < Kp; k++)
            for (size_t j = 0; j < MNEMO_PANEL; j++)
                panel[(k / 2) * 32 + j * 2 + k % 2] =
                    k < K && j < cols ? (int16_t)lrintf(x[k * ldx + p * MNEMO_PANEL + j] * inv[j])
                                      : 0;
    }
}
