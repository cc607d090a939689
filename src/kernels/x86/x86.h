/*
 * x86.h — every function the ISA files under src/kernels/x86/ define for the
 * rest of the program: the entries of dispatch.c's kernel tables and the
 * loops behind `mnemo bench`'s instruction peaks. dispatch.c (compiled with
 * no ISA flags) includes it to fill the tables, and each defining file
 * includes it too, so a definition that drifts from its declaration (or
 * from the table slot it fills) fails to compile. What each computes is
 * kernels.h's description of the slot; the suffix names the instructions
 * it needs, which dispatch.c checks by CPUID before any call.
 */
#ifndef MNEMO_KERNELS_X86_H
#define MNEMO_KERNELS_X86_H

#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------- avx2.c: AVX2 + FMA */
void mnemo__gemm_packed_f32_avx2(size_t M, size_t N, size_t K, const float *x, size_t ldx,
                                 const float *wp, size_t p0, size_t p1, float *y, size_t ldy);
void mnemo__gemm_packed_f32s_avx2(size_t M, size_t N, size_t K, const float *x, size_t ldx,
                                  const float *wp, size_t pstride, size_t p0, size_t p1, float *y,
                                  size_t ldy);
void mnemo__gemm_packed_bf16_avx2(size_t M, size_t N, size_t K, const float *x, size_t ldx,
                                  const uint16_t *wp, size_t p0, size_t p1, float *y, size_t ldy);
void mnemo__gemm_packed_i8_avx2(size_t M, size_t N, size_t K, const int16_t *xq, size_t ldxq,
                                const float *sx, const int8_t *wq, const float *sw, size_t p0,
                                size_t p1, float *y, size_t ldy);
void mnemo__gemm_packed_q4_avx2(size_t M, size_t N, size_t K, const int16_t *xq, size_t ldxq,
                                const float *sx, const uint8_t *wq, const float *ws, size_t p0,
                                size_t p1, float *y, size_t ldy);
void mnemo__quantize_rows_avx2(const float *x, size_t ldx, size_t M, size_t K, int limit,
                               int16_t *xq, size_t ldq, float *sx);
/* int8 x u8 on vpsignb + vpmaddubsw + vpmaddwd + vpaddd, and its quantizer */
void mnemo__gemm_packed_u8_avx2(size_t M, size_t N, size_t K, const uint8_t *xu, size_t ldxu,
                                const float *sx, const int32_t *zx, const int8_t *wq,
                                const float *sw, size_t p0, size_t p1, float *y, size_t ldy);
void mnemo__quantize_rows_u8_avx2(const float *x, size_t ldx, size_t M, size_t K, uint8_t *xu,
                                  size_t ldu, float *sx, int32_t *zx);
void mnemo__gelu_tanh_mul_avx2(float *out, const float *gate, const float *up, size_t n);
float mnemo__dot_f32_avx2(const float *a, const float *b, size_t n);
int32_t mnemo__dot_i8_avx2(const int8_t *a, const int8_t *b, size_t n);

/* ---------------------------- avx_vnni.c: AVX2 + FMA + AVX-VNNI (VEX) */
/* avx2_i8.inc with {vex} vpdpwssd; the u8 GEMM on {vex} vpdpbusd (its
 * quantizer is AVX2's) */
void mnemo__gemm_packed_i8_avxvnni(size_t M, size_t N, size_t K, const int16_t *xq, size_t ldxq,
                                   const float *sx, const int8_t *wq, const float *sw, size_t p0,
                                   size_t p1, float *y, size_t ldy);
void mnemo__gemm_packed_u8_avxvnni(size_t M, size_t N, size_t K, const uint8_t *xu, size_t ldxu,
                                   const float *sx, const int32_t *zx, const int8_t *wq,
                                   const float *sw, size_t p0, size_t p1, float *y, size_t ldy);

/* ------------------------------------- avx512.c: AVX-512 F + BW + VL */
void mnemo__gemm_packed_f32_avx512(size_t M, size_t N, size_t K, const float *x, size_t ldx,
                                   const float *wp, size_t p0, size_t p1, float *y, size_t ldy);
void mnemo__gemm_packed_f32s_avx512(size_t M, size_t N, size_t K, const float *x, size_t ldx,
                                    const float *wp, size_t pstride, size_t p0, size_t p1, float *y,
                                    size_t ldy);
void mnemo__gemm_packed_bf16_avx512(size_t M, size_t N, size_t K, const float *x, size_t ldx,
                                    const uint16_t *wp, size_t p0, size_t p1, float *y, size_t ldy);
void mnemo__gemm_packed_bf16_pairs_avx512(size_t M, size_t N, size_t K, const float *x, size_t ldx,
                                          const uint16_t *wp, size_t p0, size_t p1, float *y,
                                          size_t ldy);
/* avx512_i8.inc with vpmaddwd + vpaddd */
void mnemo__gemm_packed_i8_avx512(size_t M, size_t N, size_t K, const int16_t *xq, size_t ldxq,
                                  const float *sx, const int8_t *wq, const float *sw, size_t p0,
                                  size_t p1, float *y, size_t ldy);
void mnemo__quantize_rows_avx512(const float *x, size_t ldx, size_t M, size_t K, int limit,
                                 int16_t *xq, size_t ldq, float *sx);
void mnemo__quantize_rows_u8_avx512(const float *x, size_t ldx, size_t M, size_t K, uint8_t *xu,
                                    size_t ldu, float *sx, int32_t *zx);
void mnemo__gelu_tanh_mul_avx512(float *out, const float *gate, const float *up, size_t n);
void mnemo__rmsnorm_avx512(float *out, const float *x, const float *gamma, size_t n, float eps);
void mnemo__add_rmsnorm_avx512(float *x, const float *s, const float *g1, const float *g2,
                               float *out, size_t n, float eps);
void mnemo__softmax_window_avx512(float *x, size_t n, size_t lo, size_t hi, float scale);
void mnemo__pack_pairs_rows_i16_avx512(const int16_t *xq, size_t ldq, size_t N, size_t K,
                                       int16_t *wp);
void mnemo__pack_pairs_cols_i16_avx512(const float *x, size_t ldx, size_t K, size_t N, int limit,
                                       int16_t *wp, size_t pstride, float *sw);
float mnemo__softmax_window_i16_avx512(float *x, size_t n, size_t lo, size_t hi, float scale,
                                       int16_t *q);
void mnemo__gemm_packed_i16s_vnni(size_t M, size_t N, size_t K, const int16_t *x, size_t ldx,
                                  const float *sx, const int16_t *wp, size_t pstride,
                                  const float *sw, size_t p0, size_t p1, float *y, size_t ldy);
int32_t mnemo__dot_i8_avx512(const int8_t *a, const int8_t *b, size_t n);

/* ------------------------------------ avx512_vnni.c: + AVX512-VNNI */
/* avx512_i8.inc with vpdpwssd */
void mnemo__gemm_packed_i8_vnni(size_t M, size_t N, size_t K, const int16_t *xq, size_t ldxq,
                                const float *sx, const int8_t *wq, const float *sw, size_t p0,
                                size_t p1, float *y, size_t ldy);
void mnemo__gemm_packed_q4_vnni(size_t M, size_t N, size_t K, const int16_t *xq, size_t ldxq,
                                const float *sx, const uint8_t *wq, const float *ws, size_t p0,
                                size_t p1, float *y, size_t ldy);
void mnemo__gemm_packed_u8_vnni(size_t M, size_t N, size_t K, const uint8_t *xu, size_t ldxu,
                                const float *sx, const int32_t *zx, const int8_t *wq,
                                const float *sw, size_t p0, size_t p1, float *y, size_t ldy);

/* ------------------------------------ avx512_bf16.c: + AVX512-BF16 */
void mnemo__gemm_packed_bf16_dp(size_t M, size_t N, size_t K, const float *x, size_t ldx,
                                const uint16_t *wp, size_t p0, size_t p1, float *y, size_t ldy);
void mnemo__gemm_packed_bf16_dps(size_t M, size_t N, size_t K, const float *x, size_t ldx,
                                 const uint16_t *wp, size_t pstride, size_t p0, size_t p1, float *y,
                                 size_t ldy);
void mnemo__pack_pairs_rows_bf16(const float *x, size_t ldx, size_t N, size_t K, uint16_t *wp);
void mnemo__pack_pairs_cols_bf16(const float *x, size_t ldx, size_t K, size_t N, uint16_t *wp,
                                 size_t pstride);

/* ------------------------------------------------------------ peaks */
/* Register-only loops of `iters` iterations of 12 instructions each; the
 * result only keeps the loop alive. fma_loop_avx2: vfmadd231ps on ymm
 * (AVX2 + FMA); maddubs_loop: vpsignb, vpmaddubsw, vpmaddwd and vpaddd on
 * ymm (AVX2); fma_loop_avx512: on zmm (AVX-512 F); dpwssd_loop and
 * dpbusd_loop: AVX512-VNNI; dpwssd_loop_vex and dpbusd_loop_vex: the ymm
 * {vex} forms (AVX-VNNI); dpbf16_loop: AVX512-BF16. */
float mnemo__fma_loop_avx2(uint64_t iters);
float mnemo__maddubs_loop(uint64_t iters);
float mnemo__fma_loop_avx512(uint64_t iters);
float mnemo__dpwssd_loop(uint64_t iters);
float mnemo__dpbusd_loop(uint64_t iters);
float mnemo__dpwssd_loop_vex(uint64_t iters);
float mnemo__dpbusd_loop_vex(uint64_t iters);
float mnemo__dpbf16_loop(uint64_t iters);

/* The binary index's Hamming distances (kernels.h's hamming slot): popcnt
 * (avx2.c, every AVX2 CPU has it) and AVX512-VPOPCNTDQ (avx512_vpopcnt.c). */
void mnemo__hamming_popcnt(const uint64_t *q, const uint64_t *codes, size_t words, size_t n,
                           uint32_t *out);
void mnemo__hamming_vpopcnt(const uint64_t *q, const uint64_t *codes, size_t words, size_t n,
                            uint32_t *out);

#endif
