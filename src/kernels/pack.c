/*
 * pack.c — lays a [N][K] weight out in the panels the packed GEMMs read
 * (kernels.h): done once at load, portable C. Not a kernel itself.
 */
#include "kernels.h"

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
