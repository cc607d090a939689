/*
 * engine.h — the internal header of the engine part: the EmbeddingGemma
 * forward pass over packed, padding-free batches, then mean pooling, the
 * Dense layers and L2 normalization. The engine (weights, tables) is
 * read-only once open and shared by every context; a context owns one
 * worker's activations, scratch and thread pool (allocated up front, so a
 * forward pass allocates nothing).
 * Tokenization, prompts, truncation and Matryoshka live in src/embed.
 */
#ifndef MNEMO_ENGINE_H
#define MNEMO_ENGINE_H

#include "../core/core.h"
#include "../model/model_config.h"

typedef struct mnemo_engine mnemo_engine;
typedef struct mnemo_engine_ctx mnemo_engine_ctx;

typedef enum {
    MNEMO_PRECISION_AUTO = 0, /* the fastest on this CPU that keeps cosine >= 0.995 against
                               * sentence-transformers: int8 where the kernels say int8 is
                               * fastest (AVX512-VNNI), else the file's own */
    MNEMO_PRECISION_FILE,     /* the file's own: bf16 if every weight is bf16, else f32 */
    MNEMO_PRECISION_F32,
    MNEMO_PRECISION_BF16,
    MNEMO_PRECISION_INT8, /* int8 weights per output row, int16 activations per token */
    MNEMO_PRECISION_Q4    /* 4-bit weights in blocks of 32 (Q4_0's arithmetic), int16 activations */
} mnemo_precision;

/* "auto", "file", "f32", "bf16", "int8", "q4" -> the enum; -1 if unknown. */
int mnemo__precision_parse(const char *name);

/* Maps the weights of a model folder whose config has been read, and packs
 * the linear layers at `precision` (or maps them from the packed-weight cache
 * in `cache_dir`, see engine_cache.c, when use_cache). `cfg` is copied. For a
 * GGUF model `gguf` is the opened file (the same one the config was read
 * from, so it is parsed once); the engine owns it from here on, also on
 * failure. NULL for a safetensors folder. Errors name the file
 * and tensor (EFORMAT, EUNSUPPORTED, ENOENT). */
struct mnemo_gguf;
int mnemo__engine_open(const mnemo_model_config *cfg, struct mnemo_gguf *gguf,
                       mnemo_precision precision, const char *cache_dir, bool use_cache,
                       mnemo_engine **out, mnemo_error *err);
void mnemo__engine_close(mnemo_engine *e);
const mnemo_model_config *mnemo__engine_config(const mnemo_engine *e);
/* "f32", "bf16" or "mixed": the weights as used. */
const char *mnemo__engine_precision(const mnemo_engine *e);
const char *mnemo__engine_kernels(const mnemo_engine *e);
/* mnemo_model_linear_mix (mnemo.h) */
size_t mnemo__engine_linear_mix(const mnemo_engine *e, const char **instruction, size_t *params,
                                size_t cap);

/* A context for batches of up to `max_tokens` tokens in all (at least the
 * model's max_seq_length), run on `n_threads` threads (<= 0: all CPUs this
 * process may use). All memory is allocated here, none per batch. */
int mnemo__engine_ctx_create(const mnemo_engine *e, size_t max_tokens, int n_threads,
                             mnemo_engine_ctx **out, mnemo_error *err);
void mnemo__engine_ctx_free(mnemo_engine_ctx *ctx);
size_t mnemo__engine_ctx_max_tokens(const mnemo_engine_ctx *ctx);
/* Seconds spent in forward passes and, of those, in the per-token linear
 * layers, since the context was made (mnemo_context_timing). */
void mnemo__engine_ctx_timing(const mnemo_engine_ctx *ctx, double *linear_s, double *total_s);

/*
 * Embeds n_seqs token sequences (each 1..max_seq_length ids, already with
 * <bos>/<eos>, sum of lengths <= the context's max_tokens) in one packed
 * forward pass. Writes cfg.output_dim floats per sequence to out (L2
 * normalized when the model has a Normalize module). Errors: EINVAL (a length
 * out of range), ERANGE (an id without an embedding row; the message names
 * it).
 */
int mnemo__engine_forward(mnemo_engine_ctx *ctx, const int32_t *const *ids, const size_t *lens,
                          size_t n_seqs, float *out, mnemo_error *err);

#endif
