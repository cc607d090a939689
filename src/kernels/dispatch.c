/*
 * dispatch.c — picks the kernel table once, by CPUID, in code compiled
 * without ISA flags (so an older CPU never meets an AVX2 instruction), and
 * describes the CPU for logs and benchmarks.
 */
#include "kernels.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mnemo__gemm_f32_portable(size_t, size_t, size_t, const float *, size_t, const float *, size_t,
                              float *, size_t);
#if defined(__x86_64__)
void mnemo__gemm_f32_avx2(size_t, size_t, size_t, const float *, size_t, const float *, size_t,
                          float *, size_t);
void mnemo__gemm_packed_f32_avx2(size_t, size_t, size_t, const float *, size_t, const float *,
                                 size_t, size_t, float *, size_t);
void mnemo__gemm_packed_bf16_avx2(size_t, size_t, size_t, const float *, size_t, const uint16_t *,
                                  size_t, size_t, float *, size_t);
void mnemo__gelu_tanh_mul_avx2(float *, const float *, const float *, size_t);
void mnemo__quantize_rows_avx2(const float *, size_t, size_t, size_t, int16_t *, size_t, float *);
void mnemo__gemm_packed_i8_avx2(size_t, size_t, size_t, const int16_t *, size_t, const float *,
                                const int8_t *, const float *, size_t, size_t, float *, size_t);
static const mnemo_kernels avx2_kernels = {"avx2", mnemo__gemm_f32_avx2,
                                           mnemo__gemm_packed_f32_avx2,
                                           mnemo__gemm_packed_bf16_avx2,
                                           mnemo__gemm_packed_i8_avx2,
                                           mnemo__quantize_rows_avx2,
                                           mnemo__gelu_tanh_mul_avx2};
#endif
void mnemo__gemm_packed_f32_portable(size_t, size_t, size_t, const float *, size_t, const float *,
                                     size_t, size_t, float *, size_t);
void mnemo__gemm_packed_bf16_portable(size_t, size_t, size_t, const float *, size_t,
                                      const uint16_t *, size_t, size_t, float *, size_t);
void mnemo__gemm_packed_i8_portable(size_t, size_t, size_t, const int16_t *, size_t, const float *,
                                    const int8_t *, const float *, size_t, size_t, float *, size_t);
static const mnemo_kernels portable_kernels = {"portable", mnemo__gemm_f32_portable,
                                               mnemo__gemm_packed_f32_portable,
                                               mnemo__gemm_packed_bf16_portable,
                                               mnemo__gemm_packed_i8_portable,
                                               mnemo__quantize_rows, mnemo__gelu_tanh_mul};

const mnemo_kernels *mnemo__kernels_portable(void) { return &portable_kernels; }

const mnemo_kernels *mnemo__kernels_avx2(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &avx2_kernels;
#endif
    return NULL;
}

const mnemo_kernels *mnemo__kernels_best(void) {
    static const mnemo_kernels *best; /* set once; the same value from any thread */
    if (best) return best;
    const char *force = getenv("MNEMO_KERNELS");
    const mnemo_kernels *k = NULL;
    if (force && !strcmp(force, "ref")) k = mnemo__kernels_ref();
    else if (force && !strcmp(force, "portable")) k = &portable_kernels;
    if (!k) k = mnemo__kernels_avx2();
    if (!k) k = &portable_kernels;
    best = k;
    return k;
}

#include <pthread.h>
#include <time.h>

float mnemo__fma_loop_avx2(uint64_t iters);

/* Portable stand-in: 8 independent scalar chains. */
static float fma_loop_portable(uint64_t iters) {
    float a[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    for (uint64_t i = 0; i < iters; i++)
        for (int j = 0; j < 8; j++) a[j] = a[j] * 0.999999f + 1e-7f;
    return a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
}

typedef struct peak_arg {
    uint64_t iters;
    float sink;
} peak_arg;

static void *peak_thread(void *p) {
    peak_arg *a = p;
#if defined(__x86_64__)
    if (mnemo__kernels_avx2()) {
        a->sink = mnemo__fma_loop_avx2(a->iters);
        return NULL;
    }
#endif
    a->sink = fma_loop_portable(a->iters);
    return NULL;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

double mnemo__fma_peak_gflops(int threads) {
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    bool avx2 = mnemo__kernels_avx2() != NULL;
    double flops_per_iter = avx2 ? 10 * 8 * 2 : 8 * 2;
    uint64_t iters = avx2 ? 40000000ull : 20000000ull;
    pthread_t t[64];
    peak_arg args[64];
    double t0 = now_s();
    for (int i = 0; i < threads; i++) {
        args[i].iters = iters;
        if (pthread_create(&t[i], NULL, peak_thread, &args[i]) != 0) return 0;
    }
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    double el = now_s() - t0;
    return el > 0 ? flops_per_iter * (double)iters * threads / el / 1e9 : 0;
}

const char *mnemo__cpu_description(void) {
    static char desc[256];
    if (desc[0]) return desc;
    char model[160] = "unknown CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (!strncmp(line, "model name", 10)) {
                char *c = strchr(line, ':');
                if (c) {
                    snprintf(model, sizeof model, "%s", c + 2);
                    model[strcspn(model, "\n")] = 0;
                }
                break;
            }
        }
        fclose(f);
    }
    char isa[96] = "";
#if defined(__x86_64__)
    __builtin_cpu_init();
    const char *names[] = {"avx2", "fma", "avx512f", "avx512bw", "avx512vnni", "avx512bf16"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int has = 0;
        switch (i) {
        case 0: has = __builtin_cpu_supports("avx2"); break;
        case 1: has = __builtin_cpu_supports("fma"); break;
        case 2: has = __builtin_cpu_supports("avx512f"); break;
        case 3: has = __builtin_cpu_supports("avx512bw"); break;
        case 4: has = __builtin_cpu_supports("avx512vnni"); break;
        case 5: has = __builtin_cpu_supports("avx512bf16"); break;
        }
        if (has) {
            strncat(isa, isa[0] ? "," : "", sizeof isa - strlen(isa) - 1);
            strncat(isa, names[i], sizeof isa - strlen(isa) - 1);
        }
    }
#endif
    snprintf(desc, sizeof desc, "%s [%s]", model, isa[0] ? isa : "baseline");
    return desc;
}
