/*
 * bench_gemm.c — GFLOP/s of each GEMM variant on the shapes of
 * EmbeddingGemma's linear layers (M tokens x N outputs x K inputs), one
 * thread. Asserts nothing; prints a table.
 * usage: bench_gemm [M]
 */
#include "core/core.h"
#include "kernels/kernels.h"

#include <stdio.h>
#include <stdlib.h>

/* The packed f32 GEMM, or `bf16` (one of the table's bf16 GEMMs, on weights
 * packed in its layout) when not NULL. */
static double run_packed(const mnemo_kernels *k, mnemo_gemm_packed_bf16_fn bf16, size_t M, size_t N,
                         size_t K, float *x, float *wp, uint16_t *wbp, float *y) {
    double t0 = mnemo__now(), el;
    size_t reps = 0, panels = (N + 15) / 16;
    do {
        if (bf16)
            bf16(M, N, K, x, K, wbp, 0, panels, y, N);
        else
            k->gemm_packed_f32(M, N, K, x, K, wp, 0, panels, y, N);
        reps++;
        el = mnemo__now() - t0;
    } while (el < 0.5);
    return 2.0 * M * N * K * reps / el / 1e9;
}

static double run_i8(const mnemo_kernels *k, size_t M, size_t N, size_t K, const int16_t *xq,
                     const float *sx, const int8_t *wq, const float *sw, float *y) {
    double t0 = mnemo__now(), el;
    size_t reps = 0, panels = (N + 15) / 16;
    do {
        k->gemm_packed_i8(M, N, K, xq, K, sx, wq, sw, 0, panels, y, N);
        reps++;
        el = mnemo__now() - t0;
    } while (el < 0.5);
    return 2.0 * M * N * K * reps / el / 1e9;
}

static double run_q4(const mnemo_kernels *k, size_t M, size_t N, size_t K, const int16_t *xq,
                     const float *sx, const uint8_t *wq, const float *ws, float *y) {
    double t0 = mnemo__now(), el;
    size_t reps = 0, panels = (N + 15) / 16;
    do {
        k->gemm_packed_q4(M, N, K, xq, K, sx, wq, ws, 0, panels, y, N);
        reps++;
        el = mnemo__now() - t0;
    } while (el < 0.5);
    return 2.0 * M * N * K * reps / el / 1e9;
}

static double run_u8(const mnemo_kernels *k, size_t M, size_t N, size_t K, const uint8_t *xu,
                     const float *sx, const int32_t *zx, const int8_t *wq, const float *sw,
                     float *y) {
    double t0 = mnemo__now(), el;
    size_t reps = 0, panels = (N + 15) / 16;
    do {
        k->gemm_packed_u8(M, N, K, xu, (K + 3) & ~(size_t)3, sx, zx, wq, sw, 0, panels, y, N);
        reps++;
        el = mnemo__now() - t0;
    } while (el < 0.5);
    return 2.0 * M * N * K * reps / el / 1e9;
}

int main(int argc, char **argv) {
    size_t M = argc > 1 ? (size_t)atoi(argv[1]) : 256;
    size_t shapes[][2] = {{768, 768}, {256, 768}, {1152, 768}, {768, 1152}, {3072, 768}};
    printf("cpu: %s\nkernels %s, M=%zu, one thread, GFLOP/s\n%-12s", mnemo__cpu_description(),
           mnemo__kernels_best()->name, M, "N x K");
    const char *names[] = {"packed f32", "packed bf16", "bf16 pairs", "bf16 dot",
                           "packed i8",  "packed q4",   "i8 x u8"};
    for (int i = 0; i < 7; i++) printf(" %11s", names[i]);
    printf("\n");
    for (size_t s = 0; s < 5; s++) {
        size_t N = shapes[s][0], K = shapes[s][1];
        float *x = malloc(M * K * 4), *w = malloc(N * K * 4), *y = malloc(M * N * 4);
        uint16_t *wb = malloc(N * K * 2);
        for (size_t i = 0; i < M * K; i++) x[i] = (float)(i % 7) * 0.1f;
        for (size_t i = 0; i < N * K; i++) {
            w[i] = (float)(i % 5) * 0.1f;
            wb[i] = 0x3f80;
        }
        printf("%5zu x %-4zu", N, K);
        const mnemo_kernels *k = mnemo__kernels_best();
        float *wp = malloc(mnemo__packed_size(N, K) * 4);
        uint16_t *wbp = malloc(mnemo__packed_i8_size(N, K) * 2); /* either layout fits */
        mnemo__pack_f32(w, N, K, wp);
        mnemo__pack_bf16(wb, N, K, wbp);
        int8_t *wq = malloc(mnemo__packed_i8_size(N, K));
        float *sw = malloc(N * 4), *sx = malloc(M * 4);
        int16_t *xq = malloc(M * K * 2);
        mnemo__pack_i8(w, N, K, wq, sw);
        uint8_t *w4 = malloc(mnemo__packed_q4_size(N, K));
        float *s4 = malloc(mnemo__packed_q4_scales(N, K) * 4);
        uint16_t *wbp2 = malloc(mnemo__packed_i8_size(N, K) * 2);
        mnemo__pack_q4(w, N, K, w4, s4);
        mnemo__pack_bf16_pairs(wb, N, K, wbp2);
        mnemo__quantize_rows(x, K, M, K, mnemo__i8_x_limit(K), xq, K, sx);
        printf(" %11.1f %11.1f", run_packed(k, NULL, M, N, K, x, wp, wbp, y),
               run_packed(k, k->gemm_packed_bf16, M, N, K, x, wp, wbp, y));
        /* the pair layout's kernels, where the table has them */
        mnemo_gemm_packed_bf16_fn pairs[] = {k->gemm_packed_bf16_pairs, k->gemm_packed_bf16_dp};
        for (int i = 0; i < 2; i++)
            if (pairs[i])
                printf(" %11.1f", run_packed(k, pairs[i], M, N, K, x, wp, wbp2, y));
            else
                printf(" %11s", "-");
        printf(" %11.1f %11.1f", run_i8(k, M, N, K, xq, sx, wq, sw, y),
               run_q4(k, M, N, K, xq, sx, w4, s4, y));
        if (k->gemm_packed_u8) {
            size_t K4 = (K + 3) & ~(size_t)3;
            int8_t *wu = malloc(mnemo__packed_u8_size(N, K));
            float *swu = malloc(N * 8);
            uint8_t *xu = malloc(M * K4);
            int32_t *zx = malloc(M * 4);
            mnemo__pack_u8(w, N, K, wu, swu);
            k->quantize_rows_u8(x, K, M, K, xu, K4, sx, zx);
            printf(" %11.1f\n", run_u8(k, M, N, K, xu, sx, zx, wu, swu, y));
            free(wu), free(swu), free(xu), free(zx);
        } else {
            printf(" %11s\n", "-");
        }
        free(wp), free(wbp), free(wbp2), free(w4), free(s4), free(wq), free(sw), free(sx), free(xq);
        free(x), free(w), free(y), free(wb);
    }
    return 0;
}
