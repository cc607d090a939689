/*
 * kernels.h — the internal header of the kernels part: the matrix kernels,
 * in tables of function pointers, one per ISA level, the fastest this CPU
 * runs chosen at run time by CPUID (dispatch.c; the binary runs on any
 * x86-64), and the element-wise ops of the forward pass (portable C, in
 * ops.c). ref.c is the scalar reference every table is tested against;
 * portable.c the table for any CPU; only the files under x86/ are compiled
 * with ISA flags (-mavx2, -mavx512*), and x86/x86.h declares what they define.
 */
#ifndef MNEMO_KERNELS_H
#define MNEMO_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * Packed weights: the rows (output features) of a [N][K] weight grouped in
 * panels of MNEMO_PANEL rows, each panel stored k-major:
 *   wp[(n / 16) * K * 16 + k * 16 + n % 16]
 * (the last panel zero-padded), so the micro-kernel reads 16 outputs' weights
 * for one k as one contiguous vector. Packed once at load (pack.c).
 *
 * y[m*ldy + n] = sum_k x[m*ldx + k] * w[n][k] for m < M and n in the panels
 * [p0, p1), clipped to n < N: y = x · wᵀ, a linear layer with PyTorch's
 * [out, in] weight layout. Overwrites y. Single-threaded, as every kernel
 * here: callers split the panels (or M) across the pool.
 */
#define MNEMO_PANEL 16

/*
 * The packed GEMMs take the panels [p0, p1) in groups, and every tile of
 * activations passes over a group while its weights stay in the core's L2.
 * MNEMO_L2_BUDGET is the bytes of weights a group holds, written once here
 * and scaled where a kernel keeps a different share: the f32/bf16 GEMMs on
 * zmm (avx512.c, avx512_bf16.c) 3/2 of it, avx2.c's 3/4 (f32, bf16) and 1/2
 * (int8, q4); the portable ones and the AVX-512 int8 and q4 ones all of it.
 * Only the order of the loops depends on it, never a result.
 */
#define MNEMO_L2_BUDGET ((size_t)256 * 1024)
/* Panels per group: budget / panel_bytes, at least `least` (also when a
 * panel has no bytes, K = 0). */
static inline size_t mnemo__panel_group(size_t budget, size_t panel_bytes, size_t least) {
    size_t g = panel_bytes ? budget / panel_bytes : least;
    return g < least ? least : g;
}
/* What a packed GEMM's tile on panels p, p + 1 (first of `pbytes` bytes at
 * w0) prefetches into L2 as it reads them: the next pair, when the tile is in
 * the group's first row tile (m == 0: the one that streams the weights in;
 * later row tiles find the group in L2) and the pair lies whole inside the
 * task's panels [.., p1). NULL: nothing (docs/kernels.md). */
static inline const char *mnemo__prefetch_pair(size_t m, size_t p, size_t p1, const void *w0,
                                               size_t pbytes) {
    return m == 0 && p + 4 <= p1 ? (const char *)w0 + 2 * pbytes : NULL;
}
typedef void (*mnemo_gemm_packed_f32_fn)(size_t M, size_t N, size_t K, const float *x, size_t ldx,
                                         const float *wp, size_t p0, size_t p1, float *y,
                                         size_t ldy);
/* The same with panel p at wp + p * pstride (pstride >= K * 16 floats): a
 * window of K consecutive k out of longer panels (attention's P·V over the
 * keys one query block sees). */
typedef void (*mnemo_gemm_packed_f32s_fn)(size_t M, size_t N, size_t K, const float *x, size_t ldx,
                                          const float *wp, size_t pstride, size_t p0, size_t p1,
                                          float *y, size_t ldy);
typedef void (*mnemo_gemm_packed_bf16_fn)(size_t M, size_t N, size_t K, const float *x, size_t ldx,
                                          const uint16_t *wp, size_t p0, size_t p1, float *y,
                                          size_t ldy);

/*
 * int8 weights: each output row quantized symmetrically (scale sw[n] =
 * max|w| / 127), packed in 16-row panels by pairs of k:
 *   wq[(n / 16) * Kp * 16 + (k / 2) * 32 + (n % 16) * 2 + k % 2], Kp = K rounded up to even
 * Activations are quantized per row to int16 with a range that keeps the
 * int32 sums exact (mnemo__quantize_rows), so the only approximation is the
 * weights' (vpmaddwd multiplies int16 pairs: ~2x the f32 FMA rate on AVX2).
 * y[m][n] = sx[m] * sw[n] * sum_k xq[m][k] * wq[n][k], n in panels [p0, p1).
 */
typedef void (*mnemo_gemm_packed_i8_fn)(size_t M, size_t N, size_t K, const int16_t *xq,
                                        size_t ldxq, const float *sx, const int8_t *wq,
                                        const float *sw, size_t p0, size_t p1, float *y,
                                        size_t ldy);

/*
 * int8 weights against 8-bit activations: the 8-bit dot products of VNNI
 * (vpdpbusd: four u8 x s8 products summed into each int32 lane, twice
 * vpdpwssd's work per instruction). Weights as the int8 path quantizes them
 * (one scale per output row) but packed in quads of k:
 *   wq[(n / 16) * K4 * 16 + (k / 4) * 64 + (n % 16) * 4 + k % 4], K4 = K rounded up to 4
 * (mnemo__packed_u8_size bytes, padding zero), and beside the N scales sw[n]
 * the N int32 column sums wsum[n] = sum_k wq[n][k] (mnemo__pack_u8: sw and
 * wsum in one array of 2N words, wsum at sw + N). Activations are quantized
 * per row to u8 with a zero point, x[m][k] ~ sx[m] * (xu[m][k] - zx[m])
 * (mnemo__quantize_rows_u8), so
 *   y[m][n] = sx[m] * sw[n] * (sum_k xu[m][k] * wq[n][k] - zx[m] * wsum[n])
 * with the integer part exact (|sum| < 255 * 127 * K < 2^31 for K < 66,000),
 * n in panels [p0, p1). NULL in tables without one (VNNI's vpdpbusd, or
 * AVX2's vpmaddubsw: avx2.c).
 */
typedef void (*mnemo_gemm_packed_u8_fn)(size_t M, size_t N, size_t K, const uint8_t *xu,
                                        size_t ldxu, const float *sx, const int32_t *zx,
                                        const int8_t *wq, const float *sw, size_t p0, size_t p1,
                                        float *y, size_t ldy);

/*
 * q4 weights: 4-bit, in blocks of 32 k with one f32 scale per (row, block),
 * the arithmetic of GGUF's Q4_0 (w = q * d, q in -8..7). Packed per 16-row
 * panel and block: 256 bytes of nibbles, for each pair of k 16 bytes, column
 * c's byte = (q[k+1] + 8) << 4 | (q[k] + 8):
 *   wq[((n / 16) * nb + k / 32) * 256 + (k % 32 / 2) * 16 + n % 16], nb = ceil(K / 32)
 * and the scales ws[((n / 16) * nb + k / 32) * 16 + n % 16]. Activations as
 * int8's (int16 per token, mnemo__quantize_rows).
 * y[m][n] = sx[m] * sum_b ws[n][b] * sum_{k in b} xq[m][k] * q[n][k].
 */
typedef void (*mnemo_gemm_packed_q4_fn)(size_t M, size_t N, size_t K, const int16_t *xq,
                                        size_t ldxq, const float *sx, const uint8_t *wq,
                                        const float *ws, size_t p0, size_t p1, float *y,
                                        size_t ldy);

/*
 * Attention on int16 dot products (vpdpwssd), where a table has them: both
 * operands int16, the second (the "weights": keys for Q·Kᵀ, V for P·V) in
 * the int8 GEMM's pair layout with 2-byte elements and panel p at
 * wp + p * pstride (pstride >= Kp * 16):
 *   wp[p * pstride + (k / 2) * 32 + (n % 16) * 2 + k % 2], Kp = K rounded up to even
 * x's rows hold Kp values (an odd K's pad one zero), sw holds N scales:
 *   y[m][n] = sx[m] * sw[n] * sum_k x[m][k] * w[n][k],  n in panels [p0, p1)
 * The int32 sums are exact as long as sum_k |x[m][k] * w[n][k]| < 2^31,
 * which the callers' limits keep (MNEMO_ATTN_*, below).
 */
typedef void (*mnemo_gemm_packed_i16s_fn)(size_t M, size_t N, size_t K, const int16_t *x,
                                          size_t ldx, const float *sx, const int16_t *wp,
                                          size_t pstride, const float *sw, size_t p0, size_t p1,
                                          float *y, size_t ldy);
/*
 * The limits that keep int16 attention's sums exact (docs/kernels.md,
 * "Attention on int16"). Q·Kᵀ: q and k per row at |x| <= floor(sqrt((2^31 -
 * 1) / head_dim)) (2,896 at 256 dims). P·V: V per head dim at |v| <=
 * MNEMO_ATTN_V_LIMIT and each row of P at sum_j p_j <= MNEMO_ATTN_P_SUM +
 * 512 (mnemo__softmax_window_i16 keeps it for rows of up to
 * MNEMO_ATTN_MAX_KEYS keys): (2^20 + 512) * 2047 < 2^31.
 */
#define MNEMO_ATTN_V_LIMIT 2047
#define MNEMO_ATTN_P_SUM (1 << 20)
#define MNEMO_ATTN_MAX_KEYS 4096
int mnemo__attn_qk_limit(size_t head_dim);

typedef struct mnemo_kernels {
    const char *name; /* "ref", "portable", "avx2", "avx512", ... */
    mnemo_gemm_packed_f32_fn gemm_packed_f32;
    mnemo_gemm_packed_f32s_fn gemm_packed_f32s;
    mnemo_gemm_packed_bf16_fn gemm_packed_bf16;
    /* gemm_packed_bf16 on the pair layout (mnemo__pack_bf16_pairs), the
     * weights widened to f32 as gemm_packed_bf16's, with fewer instructions
     * (one per 16 weights against two); NULL where the table has none */
    mnemo_gemm_packed_bf16_fn gemm_packed_bf16_pairs;
    mnemo_gemm_packed_i8_fn gemm_packed_i8;
    mnemo_gemm_packed_q4_fn gemm_packed_q4;
    /* mnemo__quantize_rows, vectorized where the ISA allows */
    void (*quantize_rows)(const float *x, size_t ldx, size_t M, size_t K, int limit, int16_t *xq,
                          size_t ldq, float *sx);
    /* out[i] = gelu_tanh(gate[i]) * up[i] (in place is fine) */
    void (*gelu_tanh_mul)(float *out, const float *gate, const float *up, size_t n);
    /* mnemo__rmsnorm and mnemo__softmax_window, vectorized where the ISA allows */
    void (*rmsnorm)(float *out, const float *x, const float *gamma, size_t n, float eps);
    /* mnemo__add_rmsnorm: x += rmsnorm(s, g1); out = rmsnorm(x, g2), bit for
     * bit the table's rmsnorm, the add, then its rmsnorm, in fewer passes */
    void (*add_rmsnorm)(float *x, const float *s, const float *g1, const float *g2, float *out,
                        size_t n, float eps);
    void (*softmax_window)(float *x, size_t n, size_t lo, size_t hi, float scale);
    /* bf16 weights in the pair layout (mnemo__pack_bf16_pairs) by a bf16
     * dot product (vdpbf16ps): twice gemm_packed_bf16's rate, but the
     * activations are rounded to bf16 too. NULL when the CPU has none. */
    mnemo_gemm_packed_bf16_fn gemm_packed_bf16_dp;
    /* The same with panel p at wp + p * pstride (pstride >= Kp * 16
     * elements, Kp = K rounded up to even): a window of K consecutive k (from
     * an even k) of longer panels, as gemm_packed_f32s. Attention at bf16 and
     * int8 runs Q·Kᵀ and P·V on these. NULL with gemm_packed_bf16_dp. */
    void (*gemm_packed_bf16_dps)(size_t M, size_t N, size_t K, const float *x, size_t ldx,
                                 const uint16_t *wp, size_t pstride, size_t p0, size_t p1, float *y,
                                 size_t ldy);
    /* Attention's operands for it, from f32 rows, rounded to nearest even
     * (the kernels' rounding of activations): pack_pairs_rows lays N rows of
     * K floats (stride ldx; the keys of Q·Kᵀ) out as the pair layout of that
     * [N][K] matrix (mnemo__packed_i8_size(N, K) elements, padding zero);
     * pack_pairs_cols the transpose, K rows of N floats (V's keys) as the
     * pair layout of the [N][K] matrix with panel p at wp + p * pstride (K
     * padded to even, N to whole panels, with zeros). NULL with it. */
    void (*pack_pairs_rows)(const float *x, size_t ldx, size_t N, size_t K, uint16_t *wp);
    void (*pack_pairs_cols)(const float *x, size_t ldx, size_t K, size_t N, uint16_t *wp,
                            size_t pstride);
    /* int8 weights x u8 activations on an 8-bit dot product, and the u8
     * quantizer it needs (kernels.h above); NULL without one */
    mnemo_gemm_packed_u8_fn gemm_packed_u8;
    void (*quantize_rows_u8)(const float *x, size_t ldx, size_t M, size_t K, uint8_t *xu,
                             size_t ldu, float *sx, int32_t *zx);
    /* Attention on int16 dot products (mnemo_gemm_packed_i16s_fn) and the
     * softmax that writes its P (mnemo__softmax_window_i16); NULL without
     * (the engine then runs attention on bf16 dot products or f32) */
    mnemo_gemm_packed_i16s_fn gemm_packed_i16s;
    float (*softmax_window_i16)(float *x, size_t n, size_t lo, size_t hi, float scale, int16_t *q);
    /* mnemo__pack_pairs_rows_i16 and _cols_i16, vectorized where the ISA
     * allows (set with gemm_packed_i16s) */
    void (*pack_pairs_rows_i16)(const int16_t *xq, size_t ldq, size_t N, size_t K, int16_t *wp);
    void (*pack_pairs_cols_i16)(const float *x, size_t ldx, size_t K, size_t N, int limit,
                                int16_t *wp, size_t pstride, float *sw);
    /* The instruction gemm_packed_i8 and gemm_packed_q4, and gemm_packed_u8,
     * run on, as mnemo__instruction_peak_gops names it ("vpdpwssd", "int16
     * multiply-add"; "vpdpbusd", "vpmaddubsw"); NULL with no such kernel. */
    const char *i8_instruction, *u8_instruction;
    /* Non-zero where int8 is the fastest precision (VNNI): --precision auto
     * then means int8. */
    int prefer_int8;
    /* f32 lanes of the FMA the table's f32 GEMM runs on: 16 (zmm), 8 (ymm),
     * 0 (C). `mnemo bench` times that FMA for the table's peak. */
    int fma_lanes;
    /* sum of a[i] * b[i] over n floats: the memory store's vector search
     * (exact scans and the HNSW walk are nothing but these) */
    float (*dot_f32)(const float *a, const float *b, size_t n);
    /* sum of a[i] * b[i] over n int8 codes, exact in int32 for n < 2^17:
     * the HNSW walk scores with the graph's int8 copy of the vectors */
    int32_t (*dot_i8)(const int8_t *a, const int8_t *b, size_t n);
    /* Hamming distances of one bit vector to n others: out[i] = the bits
     * that differ between q and codes + i * words, over `words` 64-bit words
     * (the others stored one after another). The memory store's scan of a
     * binary index is nothing but these. */
    void (*hamming)(const uint64_t *q, const uint64_t *codes, size_t words, size_t n,
                    uint32_t *out);
} mnemo_kernels;

/* pack.c: sizes in elements of a packed [N][K] weight, and the packers. */
size_t mnemo__packed_size(size_t N, size_t K);
void mnemo__pack_f32(const float *w, size_t N, size_t K, float *wp);
void mnemo__pack_bf16(const uint16_t *w, size_t N, size_t K, uint16_t *wp);
/* bf16 weights in the pair layout of the dot-product kernels (vdpbf16ps):
 *   wp[(n / 16) * Kp * 16 + (k / 2) * 32 + (n % 16) * 2 + k % 2], Kp = K rounded up to even
 * mnemo__packed_i8_size(N, K) elements (the int8 layout, 2-byte elements). */
void mnemo__pack_bf16_pairs(const uint16_t *w, size_t N, size_t K, uint16_t *wp);
/* The scalar pack_pairs_rows and pack_pairs_cols of the kernel table. */
void mnemo__pack_pairs_rows_ref(const float *x, size_t ldx, size_t N, size_t K, uint16_t *wp);
void mnemo__pack_pairs_cols_ref(const float *x, size_t ldx, size_t K, size_t N, uint16_t *wp,
                                size_t pstride);
/* int8: bytes of the packed weight, and the packer (f32 in; scales out, N floats). */
size_t mnemo__packed_i8_size(size_t N, size_t K);
void mnemo__pack_i8(const float *w, size_t N, size_t K, int8_t *wq, float *sw);
/* int8 x u8: bytes of the packed weight (quads of k), and the packer (f32
 * in; out the bytes and 2N words: N float scales, then N int32 column sums). */
size_t mnemo__packed_u8_size(size_t N, size_t K);
void mnemo__pack_u8(const float *w, size_t N, size_t K, int8_t *wq, float *sw);
/* Rows of x [M][K] to u8 [M][K4] (stride ldu, the pad columns zeroed) with
 * per-row scale and zero point: the row's range [min(x, 0), max(x, 0)] in
 * 255 steps, x ~ sx * (xu - zx), 0 exactly representable. */
void mnemo__quantize_rows_u8(const float *x, size_t ldx, size_t M, size_t K, uint8_t *xu,
                             size_t ldu, float *sx, int32_t *zx);
/* One row's u8 step from its range [lo, hi] (lo <= 0 <= hi): *sx and *zx as
 * above, and the factor 1 / sx that maps x to steps (0 for an all-zero row).
 * Every quantize_rows_u8 uses it, so all give the same bytes. */
float mnemo__u8_row_scale(float lo, float hi, float *sx, int32_t *zx);
/* The scalar parts of a row, for the vector quantizers' tails: [*lo, *hi]
 * widened over r[k0..K); q[k] = clamp(lrint(r[k] * inv) + zx, 0, 255) for k
 * in [k0, K), then zeros to K rounded up to 4. */
void mnemo__u8_row_range(const float *r, size_t k0, size_t K, float *lo, float *hi);
void mnemo__u8_row_quantize(const float *r, size_t k0, size_t K, float inv, int32_t zx, uint8_t *q);
/* A u8 GEMM's scales and column sums for the last panel, at column n0 with
 * ncols < 16 left before N: copied into 16-wide arrays, the rest zero (the
 * arrays end at N, the tiles read 16). */
static inline void mnemo__u8_pad_scales(const float *sw, const int32_t *wsum, size_t n0,
                                        size_t ncols, float *swpad, int32_t *wspad) {
    memset(swpad, 0, MNEMO_PANEL * sizeof *swpad);
    memset(wspad, 0, MNEMO_PANEL * sizeof *wspad);
    memcpy(swpad, sw + n0, ncols * sizeof *swpad);
    memcpy(wspad, wsum + n0, ncols * sizeof *wspad);
}
/* The scalar int16 attention GEMM (mnemo_gemm_packed_i16s_fn), the
 * yardstick of the fast ones. */
void mnemo__gemm_packed_i16s_ref(size_t M, size_t N, size_t K, const int16_t *x, size_t ldx,
                                 const float *sx, const int16_t *wp, size_t pstride,
                                 const float *sw, size_t p0, size_t p1, float *y, size_t ldy);
/* int16 attention's operands in the pair layout. Keys (Q·Kᵀ's weights):
 * N rows of K int16 (stride ldq; K even, already quantized per row) as the
 * [N][K] matrix's panels, one after another (pstride Kp * 16), the keys past
 * N to the last whole panel zero. V (P·V's weights): K rows (keys) of N
 * floats (stride ldx) quantized per column n (sw[n] = max_k |x[k][n]| /
 * limit) as the [N][K] matrix's panels, panel p at wp + p * pstride, K
 * padded to even and N to whole panels with zeros. */
void mnemo__pack_pairs_rows_i16(const int16_t *xq, size_t ldq, size_t N, size_t K, int16_t *wp);
void mnemo__pack_pairs_cols_i16(const float *x, size_t ldx, size_t K, size_t N, int limit,
                                int16_t *wp, size_t pstride, float *sw);
/* The scalar int8 x u8 GEMM (kernels.h), the yardstick of the fast ones. */
void mnemo__gemm_packed_u8_ref(size_t M, size_t N, size_t K, const uint8_t *xu, size_t ldxu,
                               const float *sx, const int32_t *zx, const int8_t *wq,
                               const float *sw, size_t p0, size_t p1, float *y, size_t ldy);
/* q4: bytes of the packed nibbles and floats of the scales of an [N][K]
 * weight, and the packer (f32 in, quantized per block of 32: d = the block's
 * value of largest magnitude / t, q = round(w / d) in -8..7, for the t in
 * -8..7 with the least squared error; t = -8 is Q4_0's rule, and blocks
 * decoded from a Q4_0 file are reproduced exactly).
 * Returns 0, or -1 when out of memory for its scratch. */
size_t mnemo__packed_q4_size(size_t N, size_t K);
size_t mnemo__packed_q4_scales(size_t N, size_t K);
int mnemo__pack_q4(const float *w, size_t N, size_t K, uint8_t *wq, float *ws);
/* The same from values already quantized: q[N][K] in -8..7 and d[N][nb]
 * (a GGUF Q4_0 tensor, kept exactly). */
void mnemo__pack_q4_quantized(const int8_t *q, const float *d, size_t N, size_t K, uint8_t *wq,
                              float *ws);
/* The largest |xq| for inputs of K columns: int32 sums of K products with
 * |wq| <= 127 cannot overflow. The linear layers quantize with it. */
int mnemo__i8_x_limit(size_t K);
/* Rows of x [M][K] (stride ldx) to int16 [M][Kp] (stride ldq, the pad
 * column zeroed) with per-row scales sx[m]: the row's largest |x| maps to
 * `limit` (<= 32767), xq = round(x / sx), sx = max|x| / limit. */
void mnemo__quantize_rows(const float *x, size_t ldx, size_t M, size_t K, int limit, int16_t *xq,
                          size_t ldq, float *sx);

/* The fastest variant this CPU runs (chosen once: the last of
 * mnemo__kernels_variants, except on Intel, where the bf16 dot-product table
 * is slower than the one before it). $MNEMO_KERNELS=NAME forces one of the
 * variants by name (ref, portable, avx2, avx-vnni, avx512, avx512-vnni,
 * avx512-bf16, avx512-vnni-bf16: the ones the CPU runs). */
const mnemo_kernels *mnemo__kernels_best(void);
const mnemo_kernels *mnemo__kernels_ref(void);
/*
 * The scalar reference on unpacked weights, the tests' yardstick for the
 * packed kernels (the engine always packs):
 *   y[m*ldy + n] = sum_k x[m*ldx + k] * w[n*ldw + k]   for m < M, n < N
 * i.e. y = x · wᵀ with both operands row-major along K (a linear layer with
 * PyTorch's [out, in] weight layout), summed in k order. Overwrites y.
 * mnemo__gemm_bf16_ref: the same with bfloat16 weights.
 */
void mnemo__gemm_f32_ref(size_t M, size_t N, size_t K, const float *x, size_t ldx, const float *w,
                         size_t ldw, float *y, size_t ldy);
void mnemo__gemm_bf16_ref(size_t M, size_t N, size_t K, const float *x, size_t ldx,
                          const uint16_t *w, size_t ldw, float *y, size_t ldy);
const mnemo_kernels *mnemo__kernels_portable(void);
/* The portable table's GEMMs (portable.c: gemm_generic.inc for the
 * baseline ISA; ref.c: the integer ones, which the reference table shares). */
void mnemo__gemm_packed_f32_portable(size_t M, size_t N, size_t K, const float *x, size_t ldx,
                                     const float *wp, size_t p0, size_t p1, float *y, size_t ldy);
void mnemo__gemm_packed_f32s_portable(size_t M, size_t N, size_t K, const float *x, size_t ldx,
                                      const float *wp, size_t pstride, size_t p0, size_t p1,
                                      float *y, size_t ldy);
void mnemo__gemm_packed_bf16_portable(size_t M, size_t N, size_t K, const float *x, size_t ldx,
                                      const uint16_t *wp, size_t p0, size_t p1, float *y,
                                      size_t ldy);
void mnemo__gemm_packed_i8_portable(size_t M, size_t N, size_t K, const int16_t *xq, size_t ldxq,
                                    const float *sx, const int8_t *wq, const float *sw, size_t p0,
                                    size_t p1, float *y, size_t ldy);
void mnemo__gemm_packed_q4_portable(size_t M, size_t N, size_t K, const int16_t *xq, size_t ldxq,
                                    const float *sx, const uint8_t *wq, const float *ws, size_t p0,
                                    size_t p1, float *y, size_t ldy);
/* NULL when the CPU lacks AVX2+FMA. */
const mnemo_kernels *mnemo__kernels_avx2(void);
/* Every table this CPU can run (portable, avx2, avx-vnni, avx512,
 * avx512-vnni, ...): the tests check each against the reference. *n >= 1. */
const mnemo_kernels *const *mnemo__kernels_variants(size_t *n);
/* The machine's f32 FMA ceiling in GFLOP/s on `threads` threads at once (a
 * register-only loop of the widest FMA this CPU has, best of five runs). */
double mnemo__fma_peak_gflops(int threads);

/* The peak of one instruction in G multiply-add ops x 2 per second, on
 * `threads` threads: "vpdpbusd", "vpdpwssd", "vdpbf16ps" where this CPU has
 * it, "vpmaddubsw" (AVX2's int8 x u8 step: vpsignb, it, vpmaddwd, vpaddd)
 * where the kernel table runs it, else (and for "f32 FMA") the FMA peak. Measured once per instruction and
 * thread count in a process: the best of five ~0.07 s runs of
 * a register-only loop (x86/peak.c). For `mnemo bench`'s bounds. */
double mnemo__instruction_peak_gops(const char *instruction, int threads);

/* Text naming the CPU model and the ISA extensions found, for logs/bench. */
const char *mnemo__cpu_description(void);

/* ------------------------------------------------ element-wise (ops.c) */

/* Gemma RMSNorm: out = x / sqrt(mean(x²) + eps) * gamma, where the caller
 * passes gamma = 1 + w (computed at load). In place is fine. */
void mnemo__rmsnorm(float *out, const float *x, const float *gamma, size_t n, float eps);
/* A sublayer's output s into the residual stream x, and x's next norm:
 * x += rmsnorm(s, g1); out = rmsnorm(x, g2). s is left as it was. */
void mnemo__add_rmsnorm(float *x, const float *s, const float *g1, const float *g2, float *out,
                        size_t n, float eps);
/* Rotate-half RoPE on one head of dim d: pairs (i, i + d/2) rotated by
 * pos * inv_freq[i]; cos/sin tables hold d/2 values for this position. */
void mnemo__rope(float *x, size_t d, const float *cos_t, const float *sin_t);
/* out[i] = gelu_tanh(gate[i]) * up[i] */
void mnemo__gelu_tanh_mul(float *out, const float *gate, const float *up, size_t n);
/* sum of a[i] * b[i], in eight interleaved partial sums (the compiler keeps
 * them in vector registers without -ffast-math: the order is the source's) */
float mnemo__dot_f32(const float *a, const float *b, size_t n);
/* sum of a[i] * b[i] over int8 codes (the portable dot_i8) */
int32_t mnemo__dot_i8(const int8_t *a, const int8_t *b, size_t n);
/* the portable hamming of the kernel table (__builtin_popcountll per word) */
void mnemo__hamming(const uint64_t *q, const uint64_t *codes, size_t words, size_t n,
                    uint32_t *out);
/* In-place softmax of x[0..n) (max-subtracted, f32). */
void mnemo__softmax(float *x, size_t n);
/* One attention row: x[lo..hi) = softmax(scale * x[lo..hi)), every other of
 * the n entries 0 (the keys outside the query's window). lo < hi <= n. */
void mnemo__softmax_window(float *x, size_t n, size_t lo, size_t hi, float scale);
/* One attention row for int16 attention: e = exp(scale * x - max) over
 * x[lo..hi) (left in x), and q[0..n) the row's softmax as int16, q[j] =
 * round(e[j] * g) with g = min(32767, (MNEMO_ATTN_P_SUM - n / 2) / sum(e)),
 * 0 outside [lo, hi) and in an odd n's pad q[n]. Returns the row's scale:
 * softmax ~ q * the result (1 / (g * sum(e))). sum(q) <= MNEMO_ATTN_P_SUM +
 * 512 for n <= MNEMO_ATTN_MAX_KEYS (the rounding adds at most n / 2; the f32
 * sum's error at most n / 16). */
float mnemo__softmax_window_i16(float *x, size_t n, size_t lo, size_t hi, float scale, int16_t *q);
/* Scales v to unit L2 norm (a zero vector stays zero). */
void mnemo__l2_normalize(float *v, size_t n);

#endif
