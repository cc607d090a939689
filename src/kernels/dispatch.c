/*
 * dispatch.c — picks the kernel table once, by CPUID, in code compiled
 * without ISA flags (so an older CPU never meets an AVX2 instruction), and
 * describes the CPU for logs and benchmarks.
 */
#include "kernels.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>

void mnemo__gemm_f32_portable(size_t, size_t, size_t, const float *, size_t, const float *, size_t,
                              float *, size_t);
void mnemo__gemm_packed_q4_portable(size_t, size_t, size_t, const int16_t *, size_t, const float *,
                                    const uint8_t *, const float *, size_t, size_t, float *, size_t);
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
void mnemo__gemm_packed_f32s_avx2(size_t, size_t, size_t, const float *, size_t, const float *,
                                  size_t, size_t, size_t, float *, size_t);
void mnemo__gemm_packed_q4_avx2(size_t, size_t, size_t, const int16_t *, size_t, const float *,
                                const uint8_t *, const float *, size_t, size_t, float *, size_t);
float mnemo__dot_f32_avx2(const float *, const float *, size_t);
int32_t mnemo__dot_i8_avx2(const int8_t *, const int8_t *, size_t);
static const mnemo_kernels avx2_kernels = {
    .name = "avx2",
    .gemm_f32 = mnemo__gemm_f32_avx2,
    .gemm_packed_f32 = mnemo__gemm_packed_f32_avx2,
    .gemm_packed_f32s = mnemo__gemm_packed_f32s_avx2,
    .gemm_packed_bf16 = mnemo__gemm_packed_bf16_avx2,
    .gemm_packed_i8 = mnemo__gemm_packed_i8_avx2,
    .gemm_packed_q4 = mnemo__gemm_packed_q4_avx2,
    .quantize_rows = mnemo__quantize_rows_avx2,
    .gelu_tanh_mul = mnemo__gelu_tanh_mul_avx2,
    .rmsnorm = mnemo__rmsnorm,
    .softmax_window = mnemo__softmax_window,
    .dot_f32 = mnemo__dot_f32_avx2,
    .dot_i8 = mnemo__dot_i8_avx2,
};
#endif
void mnemo__gemm_packed_f32_portable(size_t, size_t, size_t, const float *, size_t, const float *,
                                     size_t, size_t, float *, size_t);
void mnemo__gemm_packed_bf16_portable(size_t, size_t, size_t, const float *, size_t,
                                      const uint16_t *, size_t, size_t, float *, size_t);
void mnemo__gemm_packed_i8_portable(size_t, size_t, size_t, const int16_t *, size_t, const float *,
                                    const int8_t *, const float *, size_t, size_t, float *, size_t);
void mnemo__gemm_packed_f32s_portable(size_t, size_t, size_t, const float *, size_t, const float *,
                                      size_t, size_t, size_t, float *, size_t);
static const mnemo_kernels portable_kernels = {
    .name = "portable",
    .gemm_f32 = mnemo__gemm_f32_portable,
    .gemm_packed_f32 = mnemo__gemm_packed_f32_portable,
    .gemm_packed_f32s = mnemo__gemm_packed_f32s_portable,
    .gemm_packed_bf16 = mnemo__gemm_packed_bf16_portable,
    .gemm_packed_i8 = mnemo__gemm_packed_i8_portable,
    .gemm_packed_q4 = mnemo__gemm_packed_q4_portable,
    .quantize_rows = mnemo__quantize_rows,
    .gelu_tanh_mul = mnemo__gelu_tanh_mul,
    .rmsnorm = mnemo__rmsnorm,
    .softmax_window = mnemo__softmax_window,
    .dot_f32 = mnemo__dot_f32,
    .dot_i8 = mnemo__dot_i8,
};

const mnemo_kernels *mnemo__kernels_portable(void) { return &portable_kernels; }

const mnemo_kernels *mnemo__kernels_avx2(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &avx2_kernels;
#endif
    return NULL;
}

#if defined(__x86_64__)
void mnemo__gemm_packed_f32_avx512(size_t, size_t, size_t, const float *, size_t, const float *,
                                   size_t, size_t, float *, size_t);
void mnemo__gemm_packed_f32s_avx512(size_t, size_t, size_t, const float *, size_t, const float *,
                                    size_t, size_t, size_t, float *, size_t);
void mnemo__gemm_packed_bf16_avx512(size_t, size_t, size_t, const float *, size_t,
                                    const uint16_t *, size_t, size_t, float *, size_t);
void mnemo__gelu_tanh_mul_avx512(float *, const float *, const float *, size_t);
void mnemo__rmsnorm_avx512(float *, const float *, const float *, size_t, float);
void mnemo__softmax_window_avx512(float *, size_t, size_t, size_t, float);
int32_t mnemo__dot_i8_avx512(const int8_t *, const int8_t *, size_t);
void mnemo__gemm_packed_i8_avx512(size_t, size_t, size_t, const int16_t *, size_t, const float *,
                                  const int8_t *, const float *, size_t, size_t, float *, size_t);
void mnemo__gemm_packed_i8_vnni(size_t, size_t, size_t, const int16_t *, size_t, const float *,
                                const int8_t *, const float *, size_t, size_t, float *, size_t);
void mnemo__gemm_packed_q4_vnni(size_t, size_t, size_t, const int16_t *, size_t, const float *,
                                const uint8_t *, const float *, size_t, size_t, float *, size_t);
void mnemo__gemm_packed_bf16_dp(size_t, size_t, size_t, const float *, size_t, const uint16_t *,
                                size_t, size_t, float *, size_t);
static mnemo_kernels avx512_kernels, vnni_kernels, bf16_kernels;
#endif
static const mnemo_kernels *variants[8];
static size_t n_variants;
static pthread_once_t variants_once = PTHREAD_ONCE_INIT;

/* Every table this CPU runs, slowest first. The AVX-512 ones start from the
 * AVX2 table: what has no 512-bit variant keeps its AVX2 one. */
static void variants_init(void) {
    variants[n_variants++] = &portable_kernels;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (!mnemo__kernels_avx2()) return;
    variants[n_variants++] = &avx2_kernels;
    if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
          __builtin_cpu_supports("avx512vl")))
        return;
    avx512_kernels = avx2_kernels;
    avx512_kernels.name = "avx512";
    avx512_kernels.gemm_packed_f32 = mnemo__gemm_packed_f32_avx512;
    avx512_kernels.gemm_packed_f32s = mnemo__gemm_packed_f32s_avx512;
    avx512_kernels.gemm_packed_bf16 = mnemo__gemm_packed_bf16_avx512;
    avx512_kernels.gelu_tanh_mul = mnemo__gelu_tanh_mul_avx512;
    avx512_kernels.rmsnorm = mnemo__rmsnorm_avx512;
    avx512_kernels.softmax_window = mnemo__softmax_window_avx512;
    avx512_kernels.gemm_packed_i8 = mnemo__gemm_packed_i8_avx512;
    avx512_kernels.dot_i8 = mnemo__dot_i8_avx512;
    variants[n_variants++] = &avx512_kernels;
    if (__builtin_cpu_supports("avx512vnni")) {
        vnni_kernels = avx512_kernels;
        vnni_kernels.name = "avx512-vnni";
        vnni_kernels.gemm_packed_i8 = mnemo__gemm_packed_i8_vnni;
        vnni_kernels.prefer_int8 = 1;
        vnni_kernels.gemm_packed_q4 = mnemo__gemm_packed_q4_vnni;
        variants[n_variants++] = &vnni_kernels;
    }
    if (__builtin_cpu_supports("avx512bf16")) {
        bf16_kernels = *variants[n_variants - 1];
        bf16_kernels.name = n_variants > 3 ? "avx512-vnni-bf16" : "avx512-bf16";
        bf16_kernels.gemm_packed_bf16_dp = mnemo__gemm_packed_bf16_dp;
        variants[n_variants++] = &bf16_kernels;
    }
#endif
}

const mnemo_kernels *const *mnemo__kernels_variants(size_t *n) {
    pthread_once(&variants_once, variants_init);
    *n = n_variants;
    return variants;
}

const mnemo_kernels *mnemo__kernels_avx512(void) {
    size_t n;
    const mnemo_kernels *const *v = mnemo__kernels_variants(&n);
    for (size_t i = 0; i < n; i++)
        if (!strncmp(v[i]->name, "avx512", 6)) return v[i];
    return NULL;
}

const mnemo_kernels *mnemo__kernels_best(void) {
    static const mnemo_kernels *_Atomic best; /* set once; the same value from any thread */
    const mnemo_kernels *k = best;
    if (k) return k;
    size_t n;
    const mnemo_kernels *const *v = mnemo__kernels_variants(&n);
    k = v[n - 1];
    const char *force = getenv("MNEMO_KERNELS");
    if (force && !strcmp(force, "ref")) k = mnemo__kernels_ref();
    else if (force)
        for (size_t i = 0; i < n; i++)
            if (!strcmp(force, v[i]->name)) k = v[i];
    best = k;
    return k;
}

#include <time.h>

float mnemo__fma_loop_avx2(uint64_t iters);
float mnemo__fma_loop_avx512(uint64_t iters);

/* Portable stand-in: 8 independent scalar chains. */
static float fma_loop_portable(uint64_t iters) {
    float a[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    for (uint64_t i = 0; i < iters; i++)
        for (int j = 0; j < 8; j++) a[j] = a[j] * 0.999999f + 1e-7f;
    return a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
}

float mnemo__dpwssd_loop(uint64_t iters);
float mnemo__dpbf16_loop(uint64_t iters);

typedef struct peak_arg {
    uint64_t iters;
    int kind; /* 0 f32 FMA, 1 vpdpwssd, 2 vdpbf16ps */
    float sink;
} peak_arg;

static void *peak_thread(void *p) {
    peak_arg *a = p;
#if defined(__x86_64__)
    if (a->kind == 1) {
        a->sink = mnemo__dpwssd_loop(a->iters);
        return NULL;
    }
    if (a->kind == 2) {
        a->sink = mnemo__dpbf16_loop(a->iters);
        return NULL;
    }
    if (mnemo__kernels_avx512()) {
        a->sink = mnemo__fma_loop_avx512(a->iters);
        return NULL;
    }
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

static double peak_run(int threads, int kind, double ops_per_iter, uint64_t iters) {
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    pthread_t t[64];
    peak_arg args[64];
    double t0 = now_s();
    for (int i = 0; i < threads; i++) {
        args[i].iters = iters;
        args[i].kind = kind;
        if (pthread_create(&t[i], NULL, peak_thread, &args[i]) != 0) return 0;
    }
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    double el = now_s() - t0;
    return el > 0 ? ops_per_iter * (double)iters * threads / el / 1e9 : 0;
}

double mnemo__fma_peak_gflops(int threads) {
    bool avx2 = mnemo__kernels_avx2() != NULL, avx512 = mnemo__kernels_avx512() != NULL;
    return peak_run(threads, 0, avx512 ? 10 * 16 * 2 : avx2 ? 10 * 8 * 2 : 8 * 2,
                    avx2 ? 40000000ull : 20000000ull);
}

double mnemo__precision_peak_gops(const char *precision, int threads, const char **instruction) {
    const mnemo_kernels *k = mnemo__kernels_best();
    /* prefer_int8 is set exactly for the tables whose int8/q4 run on vpdpwssd */
    if (precision && (!strcmp(precision, "int8") || !strcmp(precision, "q4")) && k->prefer_int8) {
        *instruction = "vpdpwssd";
        return peak_run(threads, 1, 10 * 32 * 2, 40000000ull);
    }
    if (precision && !strcmp(precision, "bf16") && k->gemm_packed_bf16_dp) {
        *instruction = "vdpbf16ps";
        return peak_run(threads, 2, 12 * 32 * 2, 40000000ull);
    }
    *instruction = mnemo__kernels_avx512() ? "f32 FMA (zmm)" : mnemo__kernels_avx2() ? "f32 FMA (ymm)" : "f32 scalar";
    return mnemo__fma_peak_gflops(threads);
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
