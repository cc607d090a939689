/*
 * dispatch.c — picks the kernel table once, by CPUID, in code compiled
 * without ISA flags (so an older CPU never meets an AVX2 instruction), and
 * describes the CPU for logs and benchmarks.
 */
#include "kernels.h"
#if defined(__x86_64__)
#include "x86/x86.h"
#include <cpuid.h>
#endif

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__)
static const mnemo_kernels avx2_kernels = {
    .name = "avx2",
    .fma_lanes = 8,
    .gemm_packed_f32 = mnemo__gemm_packed_f32_avx2,
    .gemm_packed_f32s = mnemo__gemm_packed_f32s_avx2,
    .gemm_packed_bf16 = mnemo__gemm_packed_bf16_avx2,
    .gemm_packed_i8 = mnemo__gemm_packed_i8_avx2,
    .gemm_packed_q4 = mnemo__gemm_packed_q4_avx2,
    .quantize_rows = mnemo__quantize_rows_avx2,
    .gemm_packed_u8 = mnemo__gemm_packed_u8_avx2,
    .quantize_rows_u8 = mnemo__quantize_rows_u8_avx2,
    .i8_instruction = "int16 multiply-add",
    .u8_instruction = "vpmaddubsw",
    .gelu_tanh_mul = mnemo__gelu_tanh_mul_avx2,
    .rmsnorm = mnemo__rmsnorm,
    .add_rmsnorm = mnemo__add_rmsnorm,
    .softmax_window = mnemo__softmax_window,
    .dot_f32 = mnemo__dot_f32_avx2,
    .dot_i8 = mnemo__dot_i8_avx2,
    .hamming = mnemo__hamming_popcnt,
};
#endif
static const mnemo_kernels portable_kernels = {
    .name = "portable",
    .gemm_packed_f32 = mnemo__gemm_packed_f32_portable,
    .gemm_packed_f32s = mnemo__gemm_packed_f32s_portable,
    .gemm_packed_bf16 = mnemo__gemm_packed_bf16_portable,
    .gemm_packed_i8 = mnemo__gemm_packed_i8_portable,
    .gemm_packed_q4 = mnemo__gemm_packed_q4_portable,
    .quantize_rows = mnemo__quantize_rows,
    .i8_instruction = "int16 multiply-add",
    .gelu_tanh_mul = mnemo__gelu_tanh_mul,
    .rmsnorm = mnemo__rmsnorm,
    .add_rmsnorm = mnemo__add_rmsnorm,
    .softmax_window = mnemo__softmax_window,
    .dot_f32 = mnemo__dot_f32,
    .dot_i8 = mnemo__dot_i8,
    .hamming = mnemo__hamming,
};

const mnemo_kernels *mnemo__kernels_portable(void) { return &portable_kernels; }

const mnemo_kernels *mnemo__kernels_avx2(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("popcnt"))
        return &avx2_kernels;
#endif
    return NULL;
}

#if defined(__x86_64__)
static mnemo_kernels avxvnni_kernels, avx512_kernels, vnni_kernels, bf16_kernels;

/* AVX-VNNI (CPUID leaf 7 subleaf 1, EAX bit 4): by CPUID itself, since
 * clang's __builtin_cpu_supports does not know the name. The OS's saving of
 * the ymm state is what the AVX2 check already required. */
static bool cpu_has_avxvnni(void) {
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a >> 4 & 1);
}

/* CPUID's vendor string is "GenuineIntel" (in EBX, EDX, ECX). */
static bool cpu_is_intel(void) {
    unsigned a, b, c, d;
    return __get_cpuid(0, &a, &b, &c, &d) && b == 0x756e6547u && d == 0x49656e69u &&
           c == 0x6c65746eu;
}
#endif
static const mnemo_kernels *variants[8];
static size_t n_variants, best_variant;
static pthread_once_t variants_once = PTHREAD_ONCE_INIT;

/* Every table this CPU runs, the fastest last (but see the bf16 one's
 * note: best_variant). The AVX-512 ones start from the AVX2 table: what has
 * no 512-bit variant keeps its AVX2 one. */
static void variants_init(void) {
    variants[n_variants++] = &portable_kernels;
    best_variant = SIZE_MAX; /* the last one, unless said otherwise below */
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (!mnemo__kernels_avx2()) return;
    variants[n_variants++] = &avx2_kernels;
    if (cpu_has_avxvnni()) {
        /* the int8 GEMMs on the VEX 8- and 16-bit dot products (Alder Lake
         * and later without AVX-512); the rest is AVX2's */
        avxvnni_kernels = avx2_kernels;
        avxvnni_kernels.name = "avx-vnni";
        avxvnni_kernels.gemm_packed_i8 = mnemo__gemm_packed_i8_avxvnni;
        avxvnni_kernels.gemm_packed_u8 = mnemo__gemm_packed_u8_avxvnni;
        avxvnni_kernels.i8_instruction = "vpdpwssd ymm";
        avxvnni_kernels.u8_instruction = "vpdpbusd ymm";
        /* int8 1.66x / 1.59x f32 at ~128 / ~512 tokens (measured through
         * MNEMO_KERNELS=avx-vnni on an Emerald Rapids Xeon: a proxy for the
         * CPUs without AVX-512; docs/kernels.md) */
        avxvnni_kernels.prefer_int8 = 1;
        variants[n_variants++] = &avxvnni_kernels;
    }
    if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
          __builtin_cpu_supports("avx512vl")))
        return;
    avx512_kernels = avx2_kernels;
    avx512_kernels.name = "avx512";
    avx512_kernels.fma_lanes = 16;
    avx512_kernels.gemm_packed_f32 = mnemo__gemm_packed_f32_avx512;
    avx512_kernels.gemm_packed_f32s = mnemo__gemm_packed_f32s_avx512;
    avx512_kernels.gemm_packed_bf16 = mnemo__gemm_packed_bf16_avx512;
    avx512_kernels.gemm_packed_bf16_pairs = mnemo__gemm_packed_bf16_pairs_avx512;
    avx512_kernels.gelu_tanh_mul = mnemo__gelu_tanh_mul_avx512;
    avx512_kernels.rmsnorm = mnemo__rmsnorm_avx512;
    avx512_kernels.add_rmsnorm = mnemo__add_rmsnorm_avx512;
    avx512_kernels.quantize_rows = mnemo__quantize_rows_avx512;
    avx512_kernels.softmax_window = mnemo__softmax_window_avx512;
    avx512_kernels.gemm_packed_i8 = mnemo__gemm_packed_i8_avx512;
    avx512_kernels.dot_i8 = mnemo__dot_i8_avx512;
    /* not AVX2's vpmaddubsw GEMM: the zmm int16 one above is faster (measured
     * on Zen 4, bench_gemm 128, one thread: 154-162 GOP/s against 125-133) */
    avx512_kernels.gemm_packed_u8 = NULL;
    avx512_kernels.quantize_rows_u8 = NULL;
    avx512_kernels.u8_instruction = NULL;
    /* the tables after this one copy it, so they scan with it too */
    if (__builtin_cpu_supports("avx512vpopcntdq")) avx512_kernels.hamming = mnemo__hamming_vpopcnt;
    variants[n_variants++] = &avx512_kernels;
    if (__builtin_cpu_supports("avx512vnni")) {
        vnni_kernels = avx512_kernels;
        vnni_kernels.name = "avx512-vnni";
        vnni_kernels.gemm_packed_i8 = mnemo__gemm_packed_i8_vnni;
        vnni_kernels.prefer_int8 = 1;
        vnni_kernels.gemm_packed_q4 = mnemo__gemm_packed_q4_vnni;
        vnni_kernels.gemm_packed_u8 = mnemo__gemm_packed_u8_vnni;
        /* attention at int8 and q4 on vpdpwssd (twice the f32 FMA's rate),
         * where the table has no bf16 dot product (Intel's best table) */
        vnni_kernels.gemm_packed_i16s = mnemo__gemm_packed_i16s_vnni;
        vnni_kernels.softmax_window_i16 = mnemo__softmax_window_i16_avx512;
        vnni_kernels.pack_pairs_rows_i16 = mnemo__pack_pairs_rows_i16_avx512;
        vnni_kernels.pack_pairs_cols_i16 = mnemo__pack_pairs_cols_i16_avx512;
        vnni_kernels.quantize_rows_u8 = mnemo__quantize_rows_u8_avx512;
        vnni_kernels.i8_instruction = "vpdpwssd";
        vnni_kernels.u8_instruction = "vpdpbusd";
        variants[n_variants++] = &vnni_kernels;
    }
    if (__builtin_cpu_supports("avx512bf16")) {
        bf16_kernels = *variants[n_variants - 1];
        bf16_kernels.name =
            variants[n_variants - 1] == &vnni_kernels ? "avx512-vnni-bf16" : "avx512-bf16";
        bf16_kernels.gemm_packed_bf16_dp = mnemo__gemm_packed_bf16_dp;
        bf16_kernels.gemm_packed_bf16_dps = mnemo__gemm_packed_bf16_dps;
        bf16_kernels.pack_pairs_rows = mnemo__pack_pairs_rows_bf16;
        bf16_kernels.pack_pairs_cols = mnemo__pack_pairs_cols_bf16;
        variants[n_variants++] = &bf16_kernels;
        /* On Intel's cores vdpbf16ps runs at half the f32 FMA's rate (measured
         * on an Emerald Rapids Xeon, family 6 model 207: 173 against 350
         * GOP/s on 2 threads; AMD's Zen 4 and Zen 5 run it at twice the FMA's),
         * so the bf16 dot products would slow bf16 and int8 down there: the
         * table before is the best (docs/kernels.md). MNEMO_KERNELS still
         * picks it, and the tests run it. */
        if (cpu_is_intel()) best_variant = n_variants - 2;
    }
#endif
}

const mnemo_kernels *const *mnemo__kernels_variants(size_t *n) {
    pthread_once(&variants_once, variants_init);
    *n = n_variants;
    return variants;
}

const mnemo_kernels *mnemo__kernels_best(void) {
    static const mnemo_kernels *_Atomic best; /* set once; the same value from any thread */
    const mnemo_kernels *k = best;
    if (k) return k;
    size_t n;
    const mnemo_kernels *const *v = mnemo__kernels_variants(&n);
    k = v[best_variant < n ? best_variant : n - 1];
    const char *force = getenv("MNEMO_KERNELS");
    if (force && !strcmp(force, "ref"))
        k = mnemo__kernels_ref();
    else if (force)
        for (size_t i = 0; i < n; i++)
            if (!strcmp(force, v[i]->name)) k = v[i];
    best = k;
    return k;
}

/* Portable stand-in: 8 independent scalar chains. */
static float fma_loop_portable(uint64_t iters) {
    float a[8] = {1, 1.5f, 2, 2.5f, 3, 3.5f, 4, 4.5f};
    for (uint64_t i = 0; i < iters; i++)
        for (int j = 0; j < 8; j++) a[j] = a[j] * 0.999999f + 1e-7f;
    return a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
}

/* The loops the peaks time (x86/peak.c: 12 instructions per
 * iteration), with the multiply-adds x 2 each iteration performs. */
typedef enum {
    PEAK_FMA,
    PEAK_DPWSSD,
    PEAK_DPBF16,
    PEAK_DPBUSD,
    PEAK_DPWSSD_VEX,
    PEAK_DPBUSD_VEX,
    PEAK_MADDUBS
} peak_kind;

typedef struct peak_arg {
    uint64_t iters;
    peak_kind kind;
    float sink;
} peak_arg;

static void *peak_thread(void *p) {
    peak_arg *a = p;
#if defined(__x86_64__)
    switch (a->kind) {
    case PEAK_DPWSSD: a->sink = mnemo__dpwssd_loop(a->iters); return NULL;
    case PEAK_DPBUSD: a->sink = mnemo__dpbusd_loop(a->iters); return NULL;
    case PEAK_DPBF16: a->sink = mnemo__dpbf16_loop(a->iters); return NULL;
    case PEAK_MADDUBS: a->sink = mnemo__maddubs_loop(a->iters); return NULL;
    case PEAK_DPWSSD_VEX: a->sink = mnemo__dpwssd_loop_vex(a->iters); return NULL;
    case PEAK_DPBUSD_VEX: a->sink = mnemo__dpbusd_loop_vex(a->iters); return NULL;
    case PEAK_FMA: break;
    }
    switch (mnemo__kernels_best()->fma_lanes) {
    case 16: a->sink = mnemo__fma_loop_avx512(a->iters); return NULL;
    case 8: a->sink = mnemo__fma_loop_avx2(a->iters); return NULL;
    default: break;
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

/* The best of five runs of ~0.07 s (these machines are noisy: another
 * tenant or a frequency step only ever makes a run slower), measured once per
 * (instruction, thread count) in a process: `mnemo bench` asks for the FMA
 * peak for its header and again for an f32 share of the linear layers. */
static double peak_run(int threads, peak_kind kind, double ops_per_iter, uint64_t iters) {
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static double measured[PEAK_MADDUBS + 1][65];
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    pthread_mutex_lock(&mu);
    double best = measured[kind][threads];
    if (best > 0) {
        pthread_mutex_unlock(&mu);
        return best;
    }
    for (int run = 0; run < 5; run++) {
        pthread_t t[64];
        peak_arg args[64];
        double t0 = now_s();
        int started = 0;
        for (int i = 0; i < threads; i++) {
            args[i].iters = iters;
            args[i].kind = kind;
            if (pthread_create(&t[i], NULL, peak_thread, &args[i]) != 0) break;
            started++;
        }
        for (int i = 0; i < started; i++) pthread_join(t[i], NULL);
        double el = now_s() - t0;
        double g = el > 0 ? ops_per_iter * (double)iters * started / el / 1e9 : 0;
        if (g > best) best = g;
    }
    measured[kind][threads] = best;
    pthread_mutex_unlock(&mu);
    return best;
}

double mnemo__fma_peak_gflops(int threads) {
    /* the FMA of the table in use (ymm for avx2 and avx-vnni also where the
     * CPU has AVX-512): 12 instructions of fma_lanes multiply-adds, or the
     * portable loop's 8 */
    int lanes = mnemo__kernels_best()->fma_lanes;
    return peak_run(threads, PEAK_FMA, lanes ? 12.0 * lanes * 2 : 8 * 2, 20000000ull);
}

double mnemo__instruction_peak_gops(const char *instruction, int threads) {
    const mnemo_kernels *k = mnemo__kernels_best();
    /* only an instruction the table runs (so the CPU has it) */
    const char *i8 = k->i8_instruction ? k->i8_instruction : "",
               *u8 = k->u8_instruction ? k->u8_instruction : "";
    if (!strcmp(instruction, "vpdpbusd") && !strcmp(u8, instruction))
        return peak_run(threads, PEAK_DPBUSD, 12 * 64 * 2, 20000000ull);
    if (!strcmp(instruction, "vpdpbusd ymm") && !strcmp(u8, instruction))
        return peak_run(threads, PEAK_DPBUSD_VEX, 12 * 32 * 2, 20000000ull);
    if (!strcmp(instruction, "vpdpwssd ymm") && !strcmp(i8, instruction))
        return peak_run(threads, PEAK_DPWSSD_VEX, 12 * 16 * 2, 20000000ull);
    if (!strcmp(instruction, "vpmaddubsw") && !strcmp(u8, instruction))
        return peak_run(threads, PEAK_MADDUBS, 12 * 32 * 2, 20000000ull);
    if (!strcmp(instruction, "vpdpwssd") && !strcmp(i8, instruction))
        return peak_run(threads, PEAK_DPWSSD, 12 * 32 * 2, 20000000ull);
    if (!strcmp(instruction, "vdpbf16ps") && k->gemm_packed_bf16_dp)
        return peak_run(threads, PEAK_DPBF16, 12 * 32 * 2, 20000000ull);
    /* "int16 multiply-add" (vpmaddwd + vpaddd, or C): not measured on its own;
     * the FMA peak stands in */
    return mnemo__fma_peak_gflops(threads);
}

const char *mnemo__cpu_description(void) {
    enum { MODEL = 160, ISA = 96 };
    /* room for both at their longest: "MODEL [ISA]" never truncates */
    static char desc[MODEL + ISA + 3];
    if (desc[0]) return desc;
    char model[MODEL] = "unknown CPU";
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
    char isa[ISA] = "";
#if defined(__x86_64__)
    __builtin_cpu_init();
    const char *names[] = {"avx2",       "fma",        "avx512f", "avx512bw",
                           "avx512vnni", "avx512bf16", "avx-vnni"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int has = 0;
        switch (i) {
        case 0: has = __builtin_cpu_supports("avx2"); break;
        case 1: has = __builtin_cpu_supports("fma"); break;
        case 2: has = __builtin_cpu_supports("avx512f"); break;
        case 3: has = __builtin_cpu_supports("avx512bw"); break;
        case 4: has = __builtin_cpu_supports("avx512vnni"); break;
        case 5: has = __builtin_cpu_supports("avx512bf16"); break;
        case 6: has = cpu_has_avxvnni(); break;
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
