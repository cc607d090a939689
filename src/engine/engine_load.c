/*
 * engine_load.c — maps a model folder's weights for the forward pass: the
 * backbone's model.safetensors and each Dense folder's, every tensor checked
 * for name, shape and dtype. f32 and bf16 are used in place from the mapping;
 * f16 is widened to f32 at load (f16 activations overflow; f16 weights are
 * fine once widened). Linear weights are then packed once for the panel GEMM
 * (q|k|v and gate|up stacked), in f32 or, when every part is bf16, in bf16.
 * RMSNorm weights become gammas 1 + w in f32 (Gemma's norm multiplies by
 * 1 + w). Also the RoPE tables.
 */
#include "engine_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Adds a buffer allocated elsewhere to the engine's owned list (freed on
 * close); on failure frees it. */
static bool own_existing(mnemo_engine *e, void *p) {
    if (e->n_owned == e->cap_owned) {
        size_t cap = e->cap_owned ? e->cap_owned * 2 : 64;
        void **q = mnemo__realloc(e->owned, cap * sizeof *q);
        if (!q) {
            mnemo__free(p);
            return false;
        }
        e->owned = q;
        e->cap_owned = cap;
    }
    e->owned[e->n_owned++] = p;
    return true;
}

/* A new buffer freed when the engine closes. */
static void *own(mnemo_engine *e, size_t bytes) {
    void *b = mnemo__malloc(bytes);
    return b && own_existing(e, b) ? b : NULL;
}

/* Finds `name` (or "model." + name: some exports keep the prefix). */
static const mnemo_tensor *find(const mnemo_safetensors *st, const char *name) {
    const mnemo_tensor *t = mnemo__safetensors_find(st, name);
    if (!t) {
        char alt[256];
        snprintf(alt, sizeof alt, "model.%s", name);
        t = mnemo__safetensors_find(st, alt);
    }
    return t;
}

static int expect(mnemo_engine *e, const mnemo_safetensors *st, const char *name, size_t rows,
                  size_t cols, const mnemo_tensor **out, mnemo_error *err) {
    const mnemo_tensor *t = find(st, name);
    if (!t)
        return mnemo__fail(err, MNEMO_EFORMAT, "%s: tensor \"%s\" is missing",
                           mnemo__safetensors_path(st), name);
    bool vec = cols == 0;
    bool ok = vec ? (t->n_dims == 1 && (size_t)t->shape[0] == rows)
                  : (t->n_dims == 2 && (size_t)t->shape[0] == rows && (size_t)t->shape[1] == cols);
    if (!ok) {
        char want[64];
        if (vec)
            snprintf(want, sizeof want, "[%zu]", rows);
        else
            snprintf(want, sizeof want, "[%zu, %zu]", rows, cols);
        return mnemo__fail(
            err, MNEMO_EFORMAT,
            "%s: tensor \"%s\" has shape [%lld%s%lld], expected %s (does config.json "
            "match the weights?)",
            mnemo__safetensors_path(st), name, (long long)t->shape[0], t->n_dims > 1 ? ", " : "",
            t->n_dims > 1 ? (long long)t->shape[1] : 0LL, want);
    }
    (void)e;
    *out = t;
    return MNEMO_OK;
}

/* A GGUF matrix [rows][cols] (ggml ne = {cols, rows}): f32 and bf16 in place,
 * anything else (f16, Q8_0, Q4_0) decoded to an f32 copy owned by `w`. */
static int load_matrix_gguf(mnemo_engine *e, const char *name, size_t rows, size_t cols,
                            mnemo_weight *w, mnemo_error *err) {
    const mnemo_gguf_tensor *t = mnemo__gguf_tensor_find(e->gguf, name);
    if (!t || t->n_dims != 2 || (size_t)t->ne[0] != cols || (size_t)t->ne[1] != rows)
        return mnemo__fail(err, MNEMO_EFORMAT, "%s: tensor \"%s\" is %s, expected ne {%zu, %zu}",
                           mnemo__gguf_path(e->gguf), name, t ? "of another shape" : "missing",
                           cols, rows);
    w->rows = rows;
    w->cols = cols;
    if (t->type == MNEMO_GGML_F32 && (uintptr_t)t->data % 4 == 0) {
        *w = (mnemo_weight){t->data, MNEMO_DTYPE_F32, rows, cols, false};
    } else if (t->type == MNEMO_GGML_BF16 && (uintptr_t)t->data % 2 == 0) {
        *w = (mnemo_weight){t->data, MNEMO_DTYPE_BF16, rows, cols, false};
    } else {
        float *buf = mnemo__malloc_array(rows * cols, sizeof(float));
        if (!buf) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory decoding \"%s\"", name);
        for (size_t r = 0; r < rows; r++)
            if (mnemo__gguf_row_f32(t, r, buf + r * cols) != MNEMO_OK) {
                mnemo__free(buf);
                return mnemo__fail(err, MNEMO_EUNSUPPORTED,
                                   "%s: tensor \"%s\" is of type %s, which mnemo does not decode "
                                   "(F32, F16, BF16, Q8_0 and Q4_0 are supported)",
                                   mnemo__gguf_path(e->gguf), name, mnemo__ggml_type_name(t->type));
            }
        *w = (mnemo_weight){buf, MNEMO_DTYPE_F32, rows, cols, true};
    }
    if (w->dtype == MNEMO_DTYPE_F32)
        e->n_f32++;
    else
        e->n_bf16++;
    return MNEMO_OK;
}

static int load_matrix(mnemo_engine *e, const mnemo_safetensors *st, const char *name, size_t rows,
                       size_t cols, mnemo_weight *w, mnemo_error *err) {
    const mnemo_tensor *t;
    int rc = expect(e, st, name, rows, cols, &t, err);
    if (rc) return rc;
    w->rows = rows;
    w->cols = cols;
    size_t esize = t->dtype == MNEMO_DTYPE_F32 ? 4 : 2;
    if (t->dtype == MNEMO_DTYPE_F16 || ((uintptr_t)t->data % esize) != 0) {
        /* f16 is widened; a misaligned tensor is copied so it can be read as an array */
        bool widen = t->dtype != MNEMO_DTYPE_BF16;
        void *buf = mnemo__malloc(t->n_elements * (widen ? 4 : 2)); /* freed after packing */
        if (!buf) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory for tensor \"%s\"", name);
        if (widen)
            mnemo__safetensors_copy_f32(t, 0, t->n_elements, buf);
        else
            memcpy(buf, t->data, t->n_bytes);
        w->data = buf;
        w->owned = true;
        w->dtype = widen ? MNEMO_DTYPE_F32 : MNEMO_DTYPE_BF16;
    } else {
        w->data = t->data;
        w->owned = false;
        w->dtype = t->dtype;
    }
    if (w->dtype == MNEMO_DTYPE_F32)
        e->n_f32++;
    else
        e->n_bf16++;
    return MNEMO_OK;
}

/* A norm weight as gamma = 1 + w in f32. */
static int load_gamma(mnemo_engine *e, const mnemo_safetensors *st, const char *name, size_t n,
                      float **out, mnemo_error *err) {
    const mnemo_tensor *t;
    int rc = expect(e, st, name, n, 0, &t, err);
    if (rc) return rc;
    float *g = own(e, n * sizeof(float));
    if (!g) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    mnemo__safetensors_copy_f32(t, 0, n, g);
    for (size_t i = 0; i < n; i++) g[i] = 1.0f + g[i];
    *out = g;
    return MNEMO_OK;
}

/* A GGUF norm weight: llama.cpp's converter already stored 1 + w. */
static int load_gamma_gguf(mnemo_engine *e, const char *name, size_t n, float **out,
                           mnemo_error *err) {
    const mnemo_gguf_tensor *t = mnemo__gguf_tensor_find(e->gguf, name);
    if (!t || t->n_dims != 1 || (size_t)t->ne[0] != n)
        return mnemo__fail(err, MNEMO_EFORMAT, "%s: tensor \"%s\" is missing or not [%zu]",
                           mnemo__gguf_path(e->gguf), name, n);
    float *g = own(e, n * sizeof(float));
    if (!g) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    if (mnemo__gguf_row_f32(t, 0, g) != MNEMO_OK)
        return mnemo__fail(err, MNEMO_EUNSUPPORTED,
                           "%s: tensor \"%s\" has a type mnemo does not decode",
                           mnemo__gguf_path(e->gguf), name);
    *out = g;
    return MNEMO_OK;
}

/* RoPE as transformers computes it, in f32: inv_freq = 1 / theta^(2i/d),
 * angle = pos * inv_freq, then cos and sin of the f32 angle. */
static int rope_tables(mnemo_engine *e, float theta, float **cos_out, float **sin_out,
                       mnemo_error *err) {
    size_t half = (size_t)e->cfg.head_dim / 2, n = (size_t)e->cfg.max_seq_length * half;
    float *c = own(e, n * sizeof(float)), *s = own(e, n * sizeof(float));
    if (!c || !s) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory (RoPE tables)");
    for (size_t i = 0; i < half; i++) {
        float expo = (float)(2 * i) / (float)e->cfg.head_dim;
        float inv = 1.0f / powf(theta, expo);
        for (size_t p = 0; p < (size_t)e->cfg.max_seq_length; p++) {
            float angle = (float)p * inv;
            c[p * half + i] = (float)cos((double)angle);
            s[p * half + i] = (float)sin((double)angle);
        }
    }
    *cos_out = c;
    *sin_out = s;
    return MNEMO_OK;
}

int mnemo__precision_parse(const char *name) {
    if (!name || !strcmp(name, "auto")) return MNEMO_PRECISION_AUTO;
    if (!strcmp(name, "file")) return MNEMO_PRECISION_FILE;
    if (!strcmp(name, "f32")) return MNEMO_PRECISION_F32;
    if (!strcmp(name, "bf16")) return MNEMO_PRECISION_BF16;
    if (!strcmp(name, "int8")) return MNEMO_PRECISION_INT8;
    if (!strcmp(name, "q4")) return MNEMO_PRECISION_Q4;
    return -1;
}

/* Stacks the matrices (same column count) and packs them at the engine's
 * precision: bf16 when asked (f32 weights rounded to nearest even), f32 when
 * asked, and for "auto" bf16 only when every part already is. */
/* How a matrix may be packed when the precision is int8 (and, at bf16, whether
 * its activations may be rounded to bf16 for a bf16 dot product: only where
 * int8 is allowed too; measured on the goldens with every layer on vdpbf16ps:
 * worst cosine 0.99866, under bf16's 0.999 bar). */
typedef enum {
    I8_U8,    /* int8, and where the kernels have a u8 GEMM (VNNI's vpdpbusd, or
               * AVX2's vpmaddubsw: the same integer sums) with activations at u8
               * (PACK_U8): the gate|up projection. Measured on
               * the goldens (worst cosine against sentence-transformers f32, with
               * the others as below): gate|up at u8 0.99684; q|k|v at u8 too 0.99530,
               * o too 0.99233 (per-token 8-bit steps are too coarse for their
               * inputs), down too 0.98998; smoothing q|k|v's input channels into the
               * weights by the norm's gamma (SmoothQuant with gamma standing in for
               * activation statistics) made it worse: 0.97110; q|k|v, o and gate|up at
               * u8 with the batch's outlier input channels (max > 8x the median
               * channel's) kept out of the u8 range and added in f32 reached 0.99472,
               * with a lower threshold (4x) 0.98908: not enough either */
    I8_YES,   /* int8 with int16 activations: q|k|v and o */
    I8_INT16, /* int8 with int16 activations, and at q4 bf16 instead: the down
               * projection, whose input (GELU(gate) * up) has outlier channels
               * that 8-bit (u8) steps flatten (worst cosine 0.98998 above). At
               * int16 (~14 bits per token for K = 1,152) it keeps the bar:
               * measured on the goldens with gate|up at u8, worst cosine 0.99670
               * (avx512-vnni), 0.99676 (avx512-vnni-bf16, attention on bf16 dot
               * products), 0.99655 (avx-vnni), against 0.99742 / 0.99705 / 0.99717
               * with down at bf16; and int8 batches 1.20-1.22x as fast on an
               * Emerald Rapids Xeon, where bf16 runs on the f32 FMA (docs/kernels.md,
               * "The down projection"). q4 keeps bf16 as before (experimental;
               * not measured with down at int16 activations). */
    I8_AS_F32 /* not int8: the Dense heads, run once per text (f32, or at int8/q4 bf16
               * with f32 activations: half the bytes a one-query pass reads) */
} i8_policy;

/* The packing of one stacked matrix (first match wins):
 *
 *   policy        precision   also needs                        kind
 *   I8_U8         int8        a u8 GEMM, weights                PACK_U8
 *                             not already 8-bit in the file
 *   I8_U8, I8_YES int8                                          PACK_I8
 *   I8_U8, I8_YES q4                                            PACK_Q4
 *   I8_U8, I8_YES bf16        a bf16 dot product                PACK_BF16_DP
 *   I8_INT16      int8                                          PACK_I8
 *   I8_INT16      q4          a bf16 dot product                PACK_BF16_DP
 *   any           bf16; int8 or q4 (not i8 above); file when     PACK_BF16_PAIRS
 *                 every part is bf16; a pair-layout FMA GEMM
 *   any           the same without one                          PACK_BF16
 *   otherwise                                                   PACK_F32
 *
 * Why: a file whose weights are already 8-bit (GGUF Q8_0: blocks of 32,
 * requantized here per row) keeps int16 activations: measured on every 6th
 * golden row with gate|up at u8, worst cosine 0.99444, under the 0.995 bar.
 * The bf16 dot product rounds activations too, so it is used only when bf16
 * was asked for (auto keeps a bf16 file's own model exactly, f32
 * activations), and at q4 for the down projection kept at bf16 (its
 * activations as floats: the outlier channels keep their resolution). */
static pack_kind choose_pack(const mnemo_engine *e, i8_policy policy, bool all_bf16) {
    bool allow_i8 = policy == I8_YES || policy == I8_U8 ||
                    (policy == I8_INT16 && e->precision == MNEMO_PRECISION_INT8);
    bool quantized = e->precision == MNEMO_PRECISION_INT8 || e->precision == MNEMO_PRECISION_Q4;
    if (allow_i8 && e->precision == MNEMO_PRECISION_INT8)
        return policy == I8_U8 && e->kernels->gemm_packed_u8 && !e->prequantized ? PACK_U8
                                                                                 : PACK_I8;
    if (allow_i8 && e->precision == MNEMO_PRECISION_Q4) return PACK_Q4;
    bool bf16 = e->precision == MNEMO_PRECISION_BF16 || quantized ||
                (e->precision == MNEMO_PRECISION_FILE && all_bf16);
    if (!bf16) return PACK_F32;
    bool dot =
        e->kernels->gemm_packed_bf16_dp &&
        ((allow_i8 && e->precision == MNEMO_PRECISION_BF16) || (policy == I8_INT16 && quantized));
    if (dot) return PACK_BF16_DP;
    return e->kernels->gemm_packed_bf16_pairs ? PACK_BF16_PAIRS : PACK_BF16;
}

static size_t bytes_f32(size_t rows, size_t cols) { return mnemo__packed_size(rows, cols) * 4; }
static size_t bytes_bf16(size_t rows, size_t cols) { return mnemo__packed_size(rows, cols) * 2; }
static size_t bytes_bf16_dp(size_t rows, size_t cols) {
    return mnemo__packed_i8_size(rows, cols) * 2;
}
static size_t no_scales(size_t rows, size_t cols) { return 0; }
static size_t scales_i8(size_t rows, size_t cols) { return rows * sizeof(float); }
static size_t scales_u8(size_t rows, size_t cols) {
    return rows * 2 * sizeof(float);
} /* scales, column sums */
static size_t scales_q4(size_t rows, size_t cols) {
    return mnemo__packed_q4_scales(rows, cols) * sizeof(float);
}

/* What each kind needs: the element its rows are gathered in before packing
 * (bf16 kinds from bf16, the quantized ones from f32) and the bytes of the
 * packed matrix and of its scales. */
static const struct {
    size_t gather;
    size_t (*bytes)(size_t rows, size_t cols);
    size_t (*scale_bytes)(size_t rows, size_t cols);
} pack_info[] = {
    [PACK_F32] = {4, bytes_f32, no_scales},
    [PACK_BF16] = {2, bytes_bf16, no_scales},
    [PACK_BF16_DP] = {2, bytes_bf16_dp, no_scales},
    [PACK_BF16_PAIRS] = {2, bytes_bf16_dp, no_scales},
    [PACK_I8] = {4, mnemo__packed_i8_size, scales_i8},
    [PACK_U8] = {4, mnemo__packed_u8_size, scales_u8},
    [PACK_Q4] = {4, mnemo__packed_q4_size, scales_q4},
};

/* The engine's count of matrices packed at each precision (mnemo bench's
 * "linear mix"): both 8-bit kinds count as int8, both bf16 kinds as bf16. */
static int *pack_counter(mnemo_engine *e, pack_kind kind) {
    switch (kind) {
    case PACK_BF16:
    case PACK_BF16_DP:
    case PACK_BF16_PAIRS: return &e->packed_bf16;
    case PACK_I8:
    case PACK_U8: return &e->packed_i8;
    case PACK_Q4: return &e->packed_q4;
    case PACK_F32: break;
    }
    return &e->packed_f32;
}

static void free_parts(const mnemo_weight *parts, int n) {
    for (int i = 0; i < n; i++)
        if (parts[i].owned) mnemo__free((void *)parts[i].data);
}

/* Stacks parts[0..n) (same cols) into one matrix and packs it as
 * choose_pack says; the parts' own copies are freed. */
static int pack_stack(mnemo_engine *e, const mnemo_weight *parts, int n, mnemo_packed *out,
                      i8_policy policy, mnemo_error *err) {
    size_t rows = 0, cols = parts[0].cols;
    bool all_bf16 = true;
    for (int i = 0; i < n; i++) {
        rows += parts[i].rows;
        all_bf16 &= parts[i].dtype == MNEMO_DTYPE_BF16;
    }
    pack_kind kind = choose_pack(e, policy, all_bf16);
    size_t esize = pack_info[kind].gather;
    size_t bytes = pack_info[kind].bytes(rows, cols),
           scale_bytes = pack_info[kind].scale_bytes(rows, cols);
    int *counter = pack_counter(e, kind);
    const void *cached = mnemo__engine_cache_take(e, bytes);
    const void *cached_scales =
        cached && scale_bytes ? mnemo__engine_cache_take(e, scale_bytes) : NULL;
    if (cached && (!scale_bytes || cached_scales)) {
        free_parts(parts, n);
        *out = (mnemo_packed){cached, kind, cached_scales, rows, cols};
        (*counter)++;
        return MNEMO_OK;
    }
    void *src = mnemo__malloc_array(rows * cols, esize);
    void *dst = own(e, bytes);
    float *scales = scale_bytes ? own(e, scale_bytes) : NULL;
    if (!src || !dst || (scale_bytes && !scales)) {
        mnemo__free(src);
        free_parts(parts, n);
        return mnemo__fail(err, MNEMO_ENOMEM, "out of memory packing weights");
    }
    size_t r0 = 0;
    for (int i = 0; i < n; i++) {
        const mnemo_weight *w = &parts[i];
        size_t count = w->rows * cols;
        if (esize == 2 && w->dtype == MNEMO_DTYPE_BF16) {
            memcpy((uint16_t *)src + r0 * cols, w->data, count * 2);
        } else if (esize == 2) {
            const float *f = w->data;
            uint16_t *b = (uint16_t *)src + r0 * cols;
            for (size_t k = 0; k < count; k++) b[k] = mnemo__f32_to_bf16(f[k]);
        } else if (w->dtype == MNEMO_DTYPE_F32) {
            memcpy((float *)src + r0 * cols, w->data, count * 4);
        } else {
            const uint16_t *b = w->data;
            float *f = (float *)src + r0 * cols;
            for (size_t k = 0; k < count; k++) f[k] = mnemo__bf16_to_f32(b[k]);
        }
        r0 += w->rows;
        if (!w->owned)
            mnemo__release_pages(w->data, w->rows * cols * (w->dtype == MNEMO_DTYPE_F32 ? 4 : 2));
    }
    free_parts(parts, n);
    int rc = 0;
    switch (kind) {
    case PACK_F32: mnemo__pack_f32(src, rows, cols, dst); break;
    case PACK_BF16: mnemo__pack_bf16(src, rows, cols, dst); break;
    case PACK_BF16_DP:
    case PACK_BF16_PAIRS: mnemo__pack_bf16_pairs(src, rows, cols, dst); break;
    case PACK_I8: mnemo__pack_i8(src, rows, cols, dst, scales); break;
    case PACK_U8: mnemo__pack_u8(src, rows, cols, dst, scales); break;
    case PACK_Q4: rc = mnemo__pack_q4(src, rows, cols, dst, scales); break;
    }
    mnemo__free(src);
    if (rc) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory packing weights");
    mnemo__engine_cache_note(e, dst, bytes);
    if (scales) mnemo__engine_cache_note(e, scales, scale_bytes);
    (*counter)++;
    *out = (mnemo_packed){dst, kind, scales, rows, cols};
    return MNEMO_OK;
}

/* Tensor names of one layer in each format, in the order load_layer uses. */
enum {
    T_Q,
    T_K,
    T_V,
    T_O,
    T_GATE,
    T_UP,
    T_DOWN,
    T_IN_NORM,
    T_POST_ATTN_NORM,
    T_PRE_FFN_NORM,
    T_POST_FFN_NORM,
    T_Q_NORM,
    T_K_NORM,
    T_COUNT
};
static const char *const st_names[T_COUNT] = {"self_attn.q_proj.weight",
                                              "self_attn.k_proj.weight",
                                              "self_attn.v_proj.weight",
                                              "self_attn.o_proj.weight",
                                              "mlp.gate_proj.weight",
                                              "mlp.up_proj.weight",
                                              "mlp.down_proj.weight",
                                              "input_layernorm.weight",
                                              "post_attention_layernorm.weight",
                                              "pre_feedforward_layernorm.weight",
                                              "post_feedforward_layernorm.weight",
                                              "self_attn.q_norm.weight",
                                              "self_attn.k_norm.weight"};
static const char *const gguf_names[T_COUNT] = {
    "attn_q.weight",      "attn_k.weight",        "attn_v.weight",
    "attn_output.weight", "ffn_gate.weight",      "ffn_up.weight",
    "ffn_down.weight",    "attn_norm.weight",     "post_attention_norm.weight",
    "ffn_norm.weight",    "post_ffw_norm.weight", "attn_q_norm.weight",
    "attn_k_norm.weight"};

/* One layer's tensor, from whichever file the engine reads. */
static int layer_matrix(mnemo_engine *e, int l, int which, size_t rows, size_t cols,
                        mnemo_weight *w, mnemo_error *err) {
    char n[128];
    if (e->gguf) {
        snprintf(n, sizeof n, "blk.%d.%s", l, gguf_names[which]);
        return load_matrix_gguf(e, n, rows, cols, w, err);
    }
    snprintf(n, sizeof n, "layers.%d.%s", l, st_names[which]);
    return load_matrix(e, e->st, n, rows, cols, w, err);
}

static int layer_gamma(mnemo_engine *e, int l, int which, size_t size, float **out,
                       mnemo_error *err) {
    char n[128];
    if (e->gguf) {
        snprintf(n, sizeof n, "blk.%d.%s", l, gguf_names[which]);
        return load_gamma_gguf(e, n, size, out, err);
    }
    snprintf(n, sizeof n, "layers.%d.%s", l, st_names[which]);
    return load_gamma(e, e->st, n, size, out, err);
}

/* Loads the matrices of one stacked group (e.g. q|k|v) and packs them; on a
 * failure the copies already made for the group are freed. */
static int load_group(mnemo_engine *e, int l, const int *which, const size_t (*shape)[2], int n,
                      mnemo_packed *out, i8_policy policy, mnemo_error *err) {
    mnemo_weight parts[3];
    for (int i = 0; i < n; i++) {
        int rc = layer_matrix(e, l, which[i], shape[i][0], shape[i][1], &parts[i], err);
        if (rc) {
            for (int j = 0; j < i; j++)
                if (parts[j].owned) mnemo__free((void *)parts[j].data);
            return rc;
        }
    }
    return pack_stack(e, parts, n, out, policy, err);
}

/* Loads and packs one layer; each group is packed (and its sources freed)
 * before the next is read, so at most one group's f32 copies live at once. */
static int load_layer(mnemo_engine *e, int l, mnemo_error *err) {
    const mnemo_model_config *c = &e->cfg;
    gemma_layer *L = &e->layers[l];
    size_t H = (size_t)c->hidden, Q = (size_t)c->n_heads * c->head_dim,
           KV = (size_t)c->n_kv_heads * c->head_dim, I = (size_t)c->intermediate,
           hd = (size_t)c->head_dim;
    const int qkv[] = {T_Q, T_K, T_V}, o[] = {T_O}, gu[] = {T_GATE, T_UP}, down[] = {T_DOWN};
    const size_t qkv_shape[][2] = {{Q, H}, {KV, H}, {KV, H}}, o_shape[][2] = {{H, Q}},
                 gu_shape[][2] = {{I, H}, {I, H}}, down_shape[][2] = {{H, I}};
    int rc;
    if ((rc = load_group(e, l, qkv, qkv_shape, 3, &L->qkv, I8_YES, err)) ||
        (rc = load_group(e, l, o, o_shape, 1, &L->o, I8_YES, err)) ||
        (rc = load_group(e, l, gu, gu_shape, 2, &L->gate_up, I8_U8, err)) ||
        (rc = load_group(e, l, down, down_shape, 1, &L->down, I8_INT16, err)))
        return rc;
    if ((rc = layer_gamma(e, l, T_IN_NORM, H, &L->input_norm, err)) ||
        (rc = layer_gamma(e, l, T_POST_ATTN_NORM, H, &L->post_attn_norm, err)) ||
        (rc = layer_gamma(e, l, T_PRE_FFN_NORM, H, &L->pre_ffn_norm, err)) ||
        (rc = layer_gamma(e, l, T_POST_FFN_NORM, H, &L->post_ffn_norm, err)) ||
        (rc = layer_gamma(e, l, T_Q_NORM, hd, &L->q_norm, err)) ||
        (rc = layer_gamma(e, l, T_K_NORM, hd, &L->k_norm, err)))
        return rc;
    return MNEMO_OK;
}

static int load_dense(mnemo_engine *e, int i, mnemo_error *err) {
    const mnemo_dense_config *d = &e->cfg.dense[i];
    if (e->gguf) { /* dense_2.weight, dense_3.weight: [out][in] */
        char name[64];
        snprintf(name, sizeof name, "%s.weight", d->dir);
        mnemo_weight w;
        int rc =
            load_matrix_gguf(e, name, (size_t)d->out_features, (size_t)d->in_features, &w, err);
        if (rc) return rc;
        return pack_stack(e, &w, 1, &e->dense_w[i], I8_AS_F32, err);
    }
    char path[4400];
    snprintf(path, sizeof path, "%s/%s/model.safetensors", e->cfg.dir, d->dir);
    int rc = mnemo__safetensors_open(path, &e->dense_st[i], err);
    if (rc) return rc;
    mnemo_weight w;
    rc = load_matrix(e, e->dense_st[i], "linear.weight", (size_t)d->out_features,
                     (size_t)d->in_features, &w, err);
    /* Dense layers run once per text, not per token: kept at f32 or bf16 */
    if (rc || (rc = pack_stack(e, &w, 1, &e->dense_w[i], I8_AS_F32, err))) return rc;
    if (d->bias) {
        const mnemo_tensor *t;
        if ((rc = expect(e, e->dense_st[i], "linear.bias", (size_t)d->out_features, 0, &t, err)))
            return rc;
        e->dense_b[i] = own(e, (size_t)d->out_features * sizeof(float));
        if (!e->dense_b[i]) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
        mnemo__safetensors_copy_f32(t, 0, (size_t)d->out_features, e->dense_b[i]);
    }
    return MNEMO_OK;
}

int mnemo__engine_open(const mnemo_model_config *cfg, mnemo_gguf *gguf, mnemo_precision precision,
                       const char *cache_dir, bool use_cache, mnemo_engine **out,
                       mnemo_error *err) {
    *out = NULL;
    mnemo_engine *e = mnemo__calloc(1, sizeof *e);
    if (!e) {
        mnemo__gguf_close(gguf);
        return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    }
    e->gguf = gguf;
    e->precision = precision;
    e->cfg = *cfg;
    /* the prompt strings stay owned by the caller's config */
    e->cfg.n_prompts = 0;
    e->cfg.default_prompt_name = NULL;
    e->kernels = mnemo__kernels_best();
    /* auto: int8 where it is the fastest (measured: 2,416 vs 1,621 tokens/s at f32
     * with AVX512-VNNI; without VNNI, AVX2 int8 is slower than f32: 542 vs 599 on
     * Zen 3 before gate|up ran on vpmaddubsw, and with it, measured on Zen 4 with
     * MNEMO_KERNELS=avx2 (a proxy for Zen 3, not Zen 3 itself), still 493 / 437
     * vs 642 / 670 tokens/s at ~128 / ~512 tokens, best of 3: docs/kernels.md);
     * a quantized GGUF file is int8 below in any case */
    if (e->precision == MNEMO_PRECISION_AUTO)
        e->precision = e->kernels->prefer_int8 ? MNEMO_PRECISION_INT8 : MNEMO_PRECISION_FILE;
    int rc;
    e->layers = mnemo__calloc((size_t)cfg->n_layers, sizeof *e->layers);
    if (!e->layers) {
        rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
        goto fail;
    }
    if (e->gguf) {
        e->embed_gguf = mnemo__gguf_tensor_find(e->gguf, "token_embd.weight");
        if (!e->embed_gguf || !mnemo__ggml_type_supported(e->embed_gguf->type)) {
            rc = mnemo__fail(err, MNEMO_EUNSUPPORTED,
                             "%s: token_embd.weight is missing or of a type "
                             "mnemo does not decode",
                             cfg->gguf_path);
            goto fail;
        }
        /* the file's own precision for a quantized file: Q8_0 runs at int8, Q4_0
         * at q4 (its blocks come back exactly: mnemo__pack_q4) */
        const mnemo_gguf_tensor *q = mnemo__gguf_tensor_find(e->gguf, "blk.0.attn_q.weight");
        e->prequantized = q && (q->type == MNEMO_GGML_Q8_0 || q->type == MNEMO_GGML_Q4_0);
        if (e->precision == MNEMO_PRECISION_FILE && q && q->type == MNEMO_GGML_Q8_0)
            e->precision = MNEMO_PRECISION_INT8;
        if (e->precision == MNEMO_PRECISION_FILE && q && q->type == MNEMO_GGML_Q4_0)
            e->precision = MNEMO_PRECISION_Q4;
        if (use_cache) mnemo__engine_cache_begin(e, cache_dir);
        for (int l = 0; l < cfg->n_layers; l++)
            if ((rc = load_layer(e, l, err))) goto fail;
        if ((rc = load_gamma_gguf(e, "output_norm.weight", (size_t)cfg->hidden, &e->final_norm,
                                  err)))
            goto fail;
    } else {
        char path[4400];
        snprintf(path, sizeof path, "%s/model.safetensors", cfg->dir);
        if ((rc = mnemo__safetensors_open(path, &e->st, err))) goto fail;
        if ((rc = load_matrix(e, e->st, "embed_tokens.weight", (size_t)cfg->vocab_size,
                              (size_t)cfg->hidden, &e->embed, err)))
            goto fail;
        if (e->embed.owned && !own_existing(e, (void *)e->embed.data)) {
            /* an f16 table widened to f32: kept for lookups */
            rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
            goto fail;
        }
        if (use_cache) mnemo__engine_cache_begin(e, cache_dir);
        for (int l = 0; l < cfg->n_layers; l++)
            if ((rc = load_layer(e, l, err))) goto fail;
        if ((rc = load_gamma(e, e->st, "norm.weight", (size_t)cfg->hidden, &e->final_norm, err)))
            goto fail;
    }
    /* transformers: embed_scale = hidden_size ** 0.5, cast to the weight dtype (f32 here,
     * since activations are f32 whatever the weights are) */
    e->embed_scale = (float)sqrt((double)cfg->hidden);
    for (int i = 0; i < cfg->n_dense; i++)
        if ((rc = load_dense(e, i, err))) goto fail;
    if ((rc = rope_tables(e, cfg->rope_theta_full, &e->cos_full, &e->sin_full, err)) ||
        (rc = rope_tables(e, cfg->rope_theta_sliding, &e->cos_sliding, &e->sin_sliding, err)))
        goto fail;
    mnemo__engine_cache_finish(e);
    *out = e;
    return MNEMO_OK;
fail:
    mnemo__engine_close(e);
    return rc;
}

void mnemo__engine_close(mnemo_engine *e) {
    if (!e) return;
    for (size_t i = 0; i < e->n_owned; i++) mnemo__free(e->owned[i]);
    mnemo__free(e->owned);
    mnemo__free(e->layers);
    for (int i = 0; i < MNEMO_MAX_DENSE; i++) mnemo__safetensors_close(e->dense_st[i]);
    mnemo__safetensors_close(e->st);
    mnemo__gguf_close(e->gguf);
    mnemo__file_unmap(&e->cache_map);
    mnemo__free(e);
}

const mnemo_model_config *mnemo__engine_config(const mnemo_engine *e) { return &e->cfg; }

const char *mnemo__engine_precision(const mnemo_engine *e) {
    /* what the backbone's linear layers run at (int8 keeps the down projection at bf16) */
    if (e->packed_q4) return "q4";
    if (e->packed_i8) return "int8";
    return e->packed_bf16 == 0 ? "f32" : e->packed_f32 == 0 ? "bf16" : "mixed";
}

const char *mnemo__engine_kernels(const mnemo_engine *e) { return e->kernels->name; }

/* The instruction each packed kind runs on with this engine's kernels (the
 * names mnemo__instruction_peak_gops knows; the rest are timed by the FMA peak). */
static const char *pack_instruction(const mnemo_engine *e, pack_kind kind) {
    switch (kind) {
    case PACK_U8: return e->kernels->u8_instruction;
    case PACK_I8:
    case PACK_Q4: return e->kernels->i8_instruction;
    case PACK_BF16_DP: return "vdpbf16ps";
    default: return "f32 FMA";
    }
}

size_t mnemo__engine_linear_mix(const mnemo_engine *e, const char **instruction, size_t *params,
                                size_t cap) {
    size_t n = 0;
    for (int l = 0; l < e->cfg.n_layers; l++) {
        const mnemo_packed *g[4] = {&e->layers[l].qkv, &e->layers[l].o, &e->layers[l].gate_up,
                                    &e->layers[l].down};
        for (int i = 0; i < 4; i++) {
            const char *ins = pack_instruction(e, g[i]->kind);
            size_t j = 0;
            while (j < n && strcmp(instruction[j], ins) != 0) j++;
            if (j == n) {
                if (n == cap) continue;
                instruction[n] = ins;
                params[n++] = 0;
            }
            params[j] += g[i]->rows * g[i]->cols;
        }
    }
    return n;
}
