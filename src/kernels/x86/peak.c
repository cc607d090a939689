/*
 * peak.c — the register-only loops behind `mnemo bench`'s instruction peaks
 * (dispatch.c times them), one macro for every instruction. Each iteration
 * is one asm block of 12 instructions into 12 distinct accumulator registers
 * (enough independent chains to cover the latency on two pipes), so the
 * compiler can neither merge the chains nor drop them: with intrinsics GCC
 * saw ten accumulators that start equal and get the same operations, merged
 * them into one latency-bound chain, and the loop still counted ten (an f32
 * FMA "peak" 30% too high, once). tests/test_peak_loops.sh checks the
 * disassembly of every loop.
 *
 * The file is compiled with -mavx2 -mfma, what the ymm loop may use; each
 * zmm loop adds its AVX-512 extensions with a target attribute. Flags for
 * the whole file would let the compiler give the ymm loop registers or
 * encodings only AVX-512 has, and it must run on a CPU with AVX2 alone.
 * dispatch.c calls each loop only when CPUID reports what it names.
 */
#include "x86.h"

#include <immintrin.h>
#include <stdint.h>

#define MNEMO_PEAK_ACC(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define MNEMO_PEAK_OUT(i) "+v"(a##i),
/* What a loop returns: one lane of each accumulator as a float, summed. */
#define MNEMO_PEAK_RESULT(TO_FLOAT)                                                             \
    (0.0f + TO_FLOAT(a0) + TO_FLOAT(a1) + TO_FLOAT(a2) + TO_FLOAT(a3) + TO_FLOAT(a4) +          \
     TO_FLOAT(a5) + TO_FLOAT(a6) + TO_FLOAT(a7) + TO_FLOAT(a8) + TO_FLOAT(a9) + TO_FLOAT(a10) + \
     TO_FLOAT(a11))
/* "INSN %13, %12, %i": accumulator i op= (operands 12 and 13). TO_FLOAT(x):
 * one lane of x as a float, for the result. */
#define MNEMO_PEAK_LOOP(NAME, VT, INSN, ZERO, TO_FLOAT)                                            \
    float NAME(uint64_t iters) {                                                                   \
        VT a0 = ZERO, a1 = ZERO, a2 = ZERO, a3 = ZERO, a4 = ZERO, a5 = ZERO, a6 = ZERO, a7 = ZERO, \
           a8 = ZERO, a9 = ZERO, a10 = ZERO, a11 = ZERO, u = ZERO, v = ZERO;                       \
        for (uint64_t i = 0; i < iters; i++)                                                       \
            __asm__ volatile(                                                                      \
                INSN " %13, %12, %0\n\t" INSN " %13, %12, %1\n\t" INSN " %13, %12, %2\n\t" INSN    \
                     " %13, %12, %3\n\t" INSN " %13, %12, %4\n\t" INSN " %13, %12, %5\n\t" INSN    \
                     " %13, %12, %6\n\t" INSN " %13, %12, %7\n\t" INSN " %13, %12, %8\n\t" INSN    \
                     " %13, %12, %9\n\t" INSN " %13, %12, %10\n\t" INSN " %13, %12, %11"           \
                : MNEMO_PEAK_ACC(MNEMO_PEAK_OUT) "+v"(u)                                           \
                : "v"(v));                                                                         \
        return MNEMO_PEAK_RESULT(TO_FLOAT);                                                        \
    }

#define YMM_TO_FLOAT(x) _mm256_cvtss_f32(x)
#define ZMM_TO_FLOAT(x) _mm512_cvtss_f32(x)
#define ZMMI_TO_FLOAT(x) ((float)_mm_cvtsi128_si32(_mm512_castsi512_si128(x)))
#define AVX512 "avx512f,avx512bw,avx512vl"

/* f32 FMA on ymm: iters * 12 * 8 multiply-adds. */
MNEMO_PEAK_LOOP(mnemo__fma_loop_avx2, __m256, "vfmadd231ps", _mm256_setzero_ps(), YMM_TO_FLOAT)

#define YMMI_TO_FLOAT(x) ((float)_mm_cvtsi128_si32(_mm256_castsi256_si128(x)))
/* AVX2's int8 x u8 step (avx2.c's u8 GEMM), four instructions per 32
 * multiply-adds: vpsignb (the weights take the activations' signs),
 * vpmaddubsw (|activations| x signed weights, pairs into int16, into a
 * temporary), vpmaddwd by ones (into int32), vpaddd into accumulator i; 12
 * such steps per iteration (iters * 12 * 32 multiply-adds), the 16 ymm
 * registers being the 12 accumulators, the temporary and three sources (one
 * stands for both the activations and their magnitudes). Its peak is the
 * path's, not vpmaddubsw's alone: the others share its pipes. */
#define MNEMO_MADDUBS_STEP(i)                                                                     \
    "vpsignb %13, %14, %12\n\tvpmaddubsw %12, %13, %12\n\tvpmaddwd %15, %12, %12\n\tvpaddd %12, " \
    "%" #i ", %" #i "\n\t"
float mnemo__maddubs_loop(uint64_t iters) {
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,
            a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0, t;
    __m256i s = _mm256_set1_epi8(1), w = s, ones = _mm256_set1_epi16(1);
    for (uint64_t i = 0; i < iters; i++)
        __asm__ volatile(MNEMO_PEAK_ACC(MNEMO_MADDUBS_STEP)
                         : MNEMO_PEAK_ACC(MNEMO_PEAK_OUT) "=&x"(t)
                         : "x"(s), "x"(w), "x"(ones));
    return MNEMO_PEAK_RESULT(YMMI_TO_FLOAT);
}

/* AVX-VNNI's ymm forms, VEX-encoded ({vex}: where AVX512-VNNI exists the
 * assembler would pick EVEX, which an AVX-VNNI-only CPU cannot run): iters *
 * 12 * 16 multiply-adds for vpdpwssd, iters * 12 * 32 for vpdpbusd. */
__attribute__((target("avxvnni")))
MNEMO_PEAK_LOOP(mnemo__dpwssd_loop_vex, __m256i, "%{vex%} vpdpwssd", _mm256_setzero_si256(),
                YMMI_TO_FLOAT) __attribute__((target("avxvnni")))
MNEMO_PEAK_LOOP(mnemo__dpbusd_loop_vex, __m256i, "%{vex%} vpdpbusd", _mm256_setzero_si256(),
                YMMI_TO_FLOAT)

    /* f32 FMA on zmm: iters * 12 * 16 multiply-adds. */
    __attribute__((target(AVX512))) MNEMO_PEAK_LOOP(mnemo__fma_loop_avx512, __m512, "vfmadd231ps",
                                                    _mm512_setzero_ps(), ZMM_TO_FLOAT)

    /* The int8 kernels' instructions: iters * 12 * 32 multiply-adds for
 * vpdpwssd (int16 pairs), iters * 12 * 64 for vpdpbusd (u8 x s8 quads). */
    __attribute__((target(AVX512 ",avx512vnni")))
    MNEMO_PEAK_LOOP(mnemo__dpwssd_loop, __m512i, "vpdpwssd", _mm512_setzero_si512(),
                    ZMMI_TO_FLOAT) __attribute__((target(AVX512 ",avx512vnni")))
    MNEMO_PEAK_LOOP(mnemo__dpbusd_loop, __m512i, "vpdpbusd", _mm512_setzero_si512(), ZMMI_TO_FLOAT)

    /* vdpbf16ps: iters * 12 * 32 multiply-adds. */
    __attribute__((target(AVX512 ",avx512bf16")))
    MNEMO_PEAK_LOOP(mnemo__dpbf16_loop, __m512, "vdpbf16ps", _mm512_setzero_ps(), ZMM_TO_FLOAT)
