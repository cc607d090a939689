/*
 * portable.c — the packed GEMMs of gemm_generic.inc compiled for baseline
 * x86-64 (or any CPU): the portable table's, the default on a CPU without
 * AVX2+FMA.
 */
#include "kernels.h"

#define PGEMM_F32 mnemo__gemm_packed_f32_portable
#define PGEMM_BF16 mnemo__gemm_packed_bf16_portable
#define PGEMM_F32S mnemo__gemm_packed_f32s_portable
#define PGEMM_BF16S gemm_packed_bf16s_portable
#include "gemm_generic.inc"
