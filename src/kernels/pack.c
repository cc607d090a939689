/*
 * pack.c — lays a [N][K] weight out in the panels the packed GEMMs read
 * (kernels.h): done once at load, portable C. Not a kernel itself.
 */
#include "kernels.h"

#include <math.h>
#include <string.h>

size_t mnemo__packed_size(size_t N, size_t K) {
    return (N + MNEMO_PANEL - 1) / MNEMO_PANEL * MNEMO_PANEL * K;
}

void mnemo__pack_f32(const float *w, size_t N, size_t K, float *wp) {
    size_t panels = (N + MNEMO_PANEL - 1) / MNEMO_PANEL;
    for (size_t p = 0; p < panels; p++) {
        float *dst = wp + p * K * MNEMO_PANEL;
        for (size_t j = 0; j < MNEMO_PANEL; j++) {
            size_t n = p * MNEMO_PANEL + j;
            if (n < N)
                for (size_t k = 0; k < K; k++) dst[k * MNEMO_PANEL + j] = w[n * K + k];
            else
                for (size_t k = 0; k < K; k++) dst[k * MNEMO_PANEL + j] = 0.0f;
        }
    }
}

void mnemo__pack_bf16(const uint16_t *w, size_t N, size_t K, uint16_t *wp) {
    size_t panels = (N + MNEMO_PANEL - 1) / MNEMO_PANEL;
    for (size_t p = 0; p < panels; p++) {
        uint16_t *dst = wp + p * K * MNEMO_PANEL;
        for (size_t j = 0; j < MNEMO_PANEL; j++) {
            size_t n = p * MNEMO_PANEL + j;
            for (size_t k = 0; k < K; k++) dst[k * MNEMO_PANEL + j] = n < N ? w[n * K + k] : 0;
        }
    }
}

size_t mnemo__packed_i8_size(size_t N, size_t K) {
    return (N + MNEMO_PANEL - 1) / MNEMO_PANEL * MNEMO_PANEL * ((K + 1) & ~(size_t)1);
}

void mnemo__pack_i8(const float *w, size_t N, size_t K, int8_t *wq, float *sw) {
    size_t panels = (N + MNEMO_PANEL - 1) / MNEMO_PANEL, Kp = (K + 1) & ~(size_t)1;
    memset(wq, 0, mnemo__packed_i8_size(N, K));
    for (size_t n = 0; n < N; n++) {
        float amax = 0.0f;
        for (size_t k = 0; k < K; k++) amax = fabsf(w[n * K + k]) > amax ? fabsf(w[n * K + k]) : amax;
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

int mnemo__i8_x_limit(size_t K) {
    /* |sum| <= K * 127 * limit must stay below 2^31 */
    double lim = 2147483647.0 / (127.0 * (double)(K ? K : 1));
    return lim > 32767 ? 32767 : (int)lim;
}

void mnemo__quantize_rows(const float *x, size_t ldx, size_t M, size_t K, int16_t *xq, size_t ldq,
                          float *sx) {
    float lim = (float)mnemo__i8_x_limit(K);
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
