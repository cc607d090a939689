/*
 * ref.c — the scalar reference kernels: the yardstick the tables of
 * dispatch.c are tested against ($MNEMO_KERNELS=ref runs the engine on
 * them), and the integer GEMMs the portable table shares. Plain loops,
 * accumulation in f32 in the order of k... no tricks.
 */
#include "kernels.h"
#include "../core/core.h"

#include <string.h>

void mnemo__gemm_f32_ref(size_t M, size_t N, size_t K, const float *x, size_t ldx, const float *w,
                         size_t ldw, float *y, size_t ldy) {
    for (size_t m = 0; m < M; m++)
        for (size_t n = 0; n < N; n++) {
            const float *a = x + m * ldx, *b = w + n * ldw;
            float s = 0.0f;
            for (size_t k = 0; k < K; k++) s += a[k] * b[k];
            y[m * ldy + n] = s;
        }
}

void mnemo__gemm_bf16_ref(size_t M, size_t N, size_t K, const float *x, size_t ldx,
                          const uint16_t *w, size_t ldw, float *y, size_t ldy) {
    for (size_t m = 0; m < M; m++)
        for (size_t n = 0; n < N; n++) {
            const float *a = x + m * ldx;
            const uint16_t *b = w + n * ldw;
            float s = 0.0f;
            for (size_t k = 0; k < K; k++) s += a[k] * mnemo__bf16_to_f32(b[k]);
            y[m * ldy + n] = s;
        }
}

static void gemm_packed_f32s_ref(size_t M, size_t N, size_t K, const float *x, size_t ldx,
                                 const float *wp, size_t pstride, size_t p0, size_t p1, float *y,
                                 size_t ldy) {
    for (size_t m = 0; m < M; m++)
        for (size_t p = p0; p < p1; p++)
            for (size_t j = 0; j < MNEMO_PANEL && p * MNEMO_PANEL + j < N; j++) {
                float s = 0.0f;
                for (size_t k = 0; k < K; k++)
                    s += x[m * ldx + k] * wp[p * pstride + k * MNEMO_PANEL + j];
                y[m * ldy + p * MNEMO_PANEL + j] = s;
            }
}

static void gemm_packed_f32_ref(size_t M, size_t N, size_t K, const float *x, size_t ldx,
                                const float *wp, size_t p0, size_t p1, float *y, size_t ldy) {
    gemm_packed_f32s_ref(M, N, K, x, ldx, wp, K * MNEMO_PANEL, p0, p1, y, ldy);
}

static void gemm_packed_bf16_ref(size_t M, size_t N, size_t K, const float *x, size_t ldx,
                                 const uint16_t *wp, size_t p0, size_t p1, float *y, size_t ldy) {
    for (size_t m = 0; m < M; m++)
        for (size_t p = p0; p < p1; p++)
            for (size_t j = 0; j < MNEMO_PANEL && p * MNEMO_PANEL + j < N; j++) {
                float s = 0.0f;
                for (size_t k = 0; k < K; k++)
                    s += x[m * ldx + k] *
                         mnemo__bf16_to_f32(wp[p * K * MNEMO_PANEL + k * MNEMO_PANEL + j]);
                y[m * ldy + p * MNEMO_PANEL + j] = s;
            }
}

/* q4, shared by the reference and portable tables: exact integer sums per
 * block, then the block scale (kernels.h). */
void mnemo__gemm_packed_q4_portable(size_t M, size_t N, size_t K, const int16_t *xq, size_t ldxq,
                                    const float *sx, const uint8_t *wq, const float *ws, size_t p0,
                                    size_t p1, float *y, size_t ldy) {
    size_t nb = (K + 31) / 32;
    for (size_t m = 0; m < M; m++)
        for (size_t p = p0; p < p1; p++)
            for (size_t j = 0; j < MNEMO_PANEL && p * MNEMO_PANEL + j < N; j++) {
                float acc = 0.0f;
                for (size_t b = 0; b < nb; b++) {
                    int32_t s = 0;
                    for (size_t k = b * 32; k < K && k < b * 32 + 32; k++) {
                        uint8_t byte = wq[(p * nb + b) * 256 + (k % 32 / 2) * MNEMO_PANEL + j];
                        int q = (k % 2 ? byte >> 4 : byte & 0x0F) - 8;
                        s += (int32_t)xq[m * ldxq + k] * q;
                    }
                    acc += (float)s * ws[(p * nb + b) * MNEMO_PANEL + j];
                }
                y[m * ldy + p * MNEMO_PANEL + j] = acc * sx[m];
            }
}

/* Shared by the reference and portable tables: exact integer sums. */
void mnemo__gemm_packed_i8_portable(size_t M, size_t N, size_t K, const int16_t *xq, size_t ldxq,
                                    const float *sx, const int8_t *wq, const float *sw, size_t p0,
                                    size_t p1, float *y, size_t ldy) {
    size_t Kp = (K + 1) & ~(size_t)1;
    for (size_t m = 0; m < M; m++)
        for (size_t p = p0; p < p1; p++) {
            int32_t acc[MNEMO_PANEL] = {0};
            const int8_t *w = wq + p * Kp * MNEMO_PANEL;
            const int16_t *x = xq + m * ldxq;
            for (size_t kp = 0; kp < Kp / 2; kp++)
                for (size_t j = 0; j < MNEMO_PANEL; j++)
                    acc[j] += (int32_t)x[2 * kp] * w[kp * 32 + j * 2] +
                              (int32_t)x[2 * kp + 1] * w[kp * 32 + j * 2 + 1];
            for (size_t j = 0; j < MNEMO_PANEL && p * MNEMO_PANEL + j < N; j++)
                y[m * ldy + p * MNEMO_PANEL + j] = (float)acc[j] * sx[m] * sw[p * MNEMO_PANEL + j];
        }
}

void mnemo__gemm_packed_u8_ref(size_t M, size_t N, size_t K, const uint8_t *xu, size_t ldxu,
                               const float *sx, const int32_t *zx, const int8_t *wq,
                               const float *sw, size_t p0, size_t p1, float *y, size_t ldy) {
    size_t K4 = (K + 3) & ~(size_t)3;
    const int32_t *wsum = (const int32_t *)(sw + N);
    for (size_t m = 0; m < M; m++)
        for (size_t p = p0; p < p1; p++) {
            int32_t acc[MNEMO_PANEL] = {0};
            const int8_t *w = wq + p * K4 * MNEMO_PANEL;
            const uint8_t *x = xu + m * ldxu;
            for (size_t k = 0; k < K4; k++)
                for (size_t j = 0; j < MNEMO_PANEL; j++)
                    acc[j] += (int32_t)x[k] * w[(k / 4) * 64 + j * 4 + k % 4];
            for (size_t j = 0; j < MNEMO_PANEL && p * MNEMO_PANEL + j < N; j++) {
                size_t n = p * MNEMO_PANEL + j;
                y[m * ldy + n] = (float)(acc[j] - zx[m] * wsum[n]) * sx[m] * sw[n];
            }
        }
}

void mnemo__gemm_packed_i16s_ref(size_t M, size_t N, size_t K, const int16_t *x, size_t ldx,
                                 const float *sx, const int16_t *wp, size_t pstride,
                                 const float *sw, size_t p0, size_t p1, float *y, size_t ldy) {
    size_t Kp = (K + 1) & ~(size_t)1;
    for (size_t m = 0; m < M; m++)
        for (size_t p = p0; p < p1; p++) {
            int32_t acc[MNEMO_PANEL] = {0};
            const int16_t *w = wp + p * pstride, *a = x + m * ldx;
            for (size_t k = 0; k < Kp; k++)
                for (size_t j = 0; j < MNEMO_PANEL; j++)
                    acc[j] += (int32_t)a[k] * w[(k / 2) * 32 + j * 2 + k % 2];
            for (size_t j = 0; j < MNEMO_PANEL && p * MNEMO_PANEL + j < N; j++)
                y[m * ldy + p * MNEMO_PANEL + j] = (float)acc[j] * sx[m] * sw[p * MNEMO_PANEL + j];
        }
}

static const mnemo_kernels ref_kernels_packed = {
    .name = "ref",
    .gemm_packed_f32 = gemm_packed_f32_ref,
    .gemm_packed_f32s = gemm_packed_f32s_ref,
    .gemm_packed_bf16 = gemm_packed_bf16_ref,
    .gemm_packed_i8 = mnemo__gemm_packed_i8_portable,
    .gemm_packed_q4 = mnemo__gemm_packed_q4_portable,
    .gemm_packed_u8 = mnemo__gemm_packed_u8_ref,
    .quantize_rows_u8 = mnemo__quantize_rows_u8,
    .gemm_packed_i16s = mnemo__gemm_packed_i16s_ref,
    .softmax_window_i16 = mnemo__softmax_window_i16,
    .pack_pairs_rows_i16 = mnemo__pack_pairs_rows_i16,
    .pack_pairs_cols_i16 = mnemo__pack_pairs_cols_i16,
    .i8_instruction = "int16 multiply-add",
    .u8_instruction = "int8 multiply-add",
    .quantize_rows = mnemo__quantize_rows,
    .gelu_tanh_mul = mnemo__gelu_tanh_mul,
    .rmsnorm = mnemo__rmsnorm,
    .add_rmsnorm = mnemo__add_rmsnorm,
    .softmax_window = mnemo__softmax_window,
    .dot_f32 = mnemo__dot_f32,
    .dot_i8 = mnemo__dot_i8,
    .hamming = mnemo__hamming,
};

const mnemo_kernels *mnemo__kernels_ref(void) { return &ref_kernels_packed; }
