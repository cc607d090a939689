/*
 * avx512_vnni.c — the int8 packed GEMM with AVX512-VNNI's vpdpwssd (int16
 * pairs multiplied and added into int32 in one instruction: the same exact
 * sums as vpmaddwd + vpaddd, half the instructions). The tile code is
 * avx512_i8.inc's. The only file compiled with -mavx512vnni; dispatch.c
 * calls it only when CPUID reports AVX512-VNNI.
 */
#include "../kernels.h"

#include <immintrin.h>
#include <string.h>

/* vpdpwssd through asm: GCC 12 gives the intrinsic's accumulator a copy per
 * instruction and mirrors it on the stack (measured: 212 vs 320+ GOP/s). */
static inline __attribute__((always_inline)) __m512i dpwssd(__m512i acc, __m512i a, __m512i b) {
    __asm__("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
    return acc;
}
#define I8_MAC(acc, a, b) dpwssd((acc), (a), (b))
#define I8_GEMM_NAME mnemo__gemm_packed_i8_vnni
#include "avx512_i8.inc"
