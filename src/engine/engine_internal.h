/*
 * engine_internal.h — the engine's private structures, shared by its load
 * (engine_load.c) and forward (engine_forward.c) files. Not for other parts.
 */
#ifndef MNEMO_ENGINE_INTERNAL_H
#define MNEMO_ENGINE_INTERNAL_H

#include "../kernels/kernels.h"
#include "../model/gguf.h"
#include "../model/safetensors.h"
#include "engine.h"

/* A weight matrix [rows][cols] as the GEMM uses it: f32 or bf16, row-major,
 * element-aligned (copied at load when the file's offset was not). */
typedef struct mnemo_weight {
    const void *data;
    mnemo_dtype dtype; /* MNEMO_DTYPE_F32 or MNEMO_DTYPE_BF16 (f16 is widened at load) */
    size_t rows, cols;
    bool owned; /* a copy we made, not the file mapping */
} mnemo_weight;

/* A weight packed for the panel GEMM (kernels.h): [rows][cols] in 16-row
 * panels, f32 or bf16. Several matrices with the same input are stacked in
 * one (q|k|v, gate|up) so one pass over x computes them all. */
typedef enum {
    PACK_F32,
    PACK_BF16,       /* widened to f32 in registers: activations stay f32 */
    PACK_BF16_DP,    /* pair layout for a bf16 dot product: activations rounded to bf16 */
    PACK_BF16_PAIRS, /* the pair layout widened to f32 in registers: activations stay f32 */
    PACK_I8,         /* int8 weights, int16 activations (kernels.h) */
    PACK_U8,         /* int8 weights in quads, u8 activations: the 8-bit dot product */
    PACK_Q4          /* 4-bit blocks of 32 with f32 scales (kernels.h) */
} pack_kind;

typedef struct mnemo_packed {
    const void *data;
    pack_kind kind;
    const float *scales; /* PACK_I8: one per row; PACK_U8: one per row, then the int32
                          * column sums; PACK_Q4: per panel and block */
    size_t rows, cols;
} mnemo_packed;

typedef struct gemma_layer {
    mnemo_packed qkv, o, gate_up, down;
    /* RMSNorm gammas, already 1 + w, in f32 */
    float *input_norm, *post_attn_norm, *pre_ffn_norm, *post_ffn_norm, *q_norm, *k_norm;
} gemma_layer;

struct mnemo_engine {
    mnemo_model_config cfg;
    const mnemo_kernels *kernels;
    mnemo_safetensors *st;
    mnemo_gguf *gguf;                    /* set when the weights come from a GGUF file */
    const mnemo_gguf_tensor *embed_gguf; /* GGUF: rows decoded on lookup */
    mnemo_safetensors *dense_st[MNEMO_MAX_DENSE];
    mnemo_weight embed; /* [vocab_size][hidden] */
    float embed_scale;  /* sqrt(hidden), as f32 */
    gemma_layer *layers;
    float *final_norm;
    mnemo_packed dense_w[MNEMO_MAX_DENSE];
    float *dense_b[MNEMO_MAX_DENSE];
    /* RoPE tables [max_seq_length][head_dim/2] for each layer type */
    float *cos_full, *sin_full, *cos_sliding, *sin_sliding;
    int n_f32, n_bf16;
    mnemo_precision precision; /* as asked */
    bool prequantized;         /* a GGUF whose linear weights are already Q8_0/Q4_0 */
    int packed_f32, packed_bf16, packed_i8, packed_q4;
    /* the packed-weight cache (engine_cache.c) */
    char cache_path[4400];
    uint64_t cache_key;
    bool cache_reading, cache_writing, cache_failed;
    mnemo_file_map cache_map;
    size_t cache_next, n_segments;
    struct {
        const void *data;
        size_t size;
    } segments[4096];
    /* buffers this engine allocated (converted or copied weights, gammas) */
    void **owned;
    size_t n_owned, cap_owned;
};

void mnemo__engine_cache_begin(mnemo_engine *e, const char *cache_dir);
const void *mnemo__engine_cache_take(mnemo_engine *e, size_t bytes);
void mnemo__engine_cache_note(mnemo_engine *e, const void *data, size_t bytes);
void mnemo__engine_cache_finish(mnemo_engine *e);

#endif
