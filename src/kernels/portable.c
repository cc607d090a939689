/*
 * portable.c — the blocked GEMMs of gemm_generic.inc compiled for baseline
 * x86-64 (or any CPU): the default on a CPU without AVX2+FMA.
 */
#include "kernels.h"

#define GEMM_F32 mnemo__gemm_f32_portable
#define PGEMM_F32 mnemo__gemm_packed_f32_portable
#define PGEMM_BF16 mnemo__gemm_packed_bf16_portable
#define PGEMM_F32S mnemo__gemm_packed_f32s_portable
#define PGEMM_BF16S gemm_packed_bf16s_portable
void GEMM_F32(size_t, size_t, size_t, const float *, size_t, const float *, size_t, float *, size_t);
void PGEMM_F32(size_t, size_t, size_t, const float *, size_t, const float *, size_t, size_t,
               float *, size_t);
void PGEMM_BF16(size_t, size_t, size_t, const float *, size_t, const uint16_t *, size_t, size_t,
                float *, size_t);
void PGEMM_F32S(size_t, size_t, size_t, const float *, size_t, const float *, size_t, size_t,
                size_t, float *, size_t);
#include "gemm_generic.inc"
