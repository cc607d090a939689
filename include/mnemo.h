/*
 * mnemo.h — the public API of libmnemo, and its manual.
 *
 * mnemo runs sentence-embedding models (EmbeddingGemma-300M first) on the CPU
 * and stores "memories" for agents. This header is the only one a user of the
 * library includes; everything else under src/ is internal.
 *
 * Conventions, for every function below:
 *   - Functions return a status: MNEMO_OK (0) or a negative MNEMO_E* code.
 *     When a function takes a `mnemo_error *err`, a failure also fills it with
 *     a message for a person that says what went wrong and what to change.
 *     `err` may be NULL when the caller does not want the message.
 *   - Handles are opaque. Whoever opens a handle closes it with the matching
 *     `mnemo_*_close`; every close accepts NULL.
 *   - Memory returned to the caller (e.g. decoded text) is freed with
 *     mnemo_free().
 *   - Text is UTF-8, passed as pointer + length (no NUL terminator needed;
 *     embedded NUL bytes are ordinary characters).
 *   - A handle that is documented as read-only after open may be shared by
 *     any number of threads.
 */
#ifndef MNEMO_H
#define MNEMO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MNEMO_VERSION_MAJOR 0
#define MNEMO_VERSION_MINOR 1
#define MNEMO_VERSION_PATCH 0
#define MNEMO_VERSION_STRING "0.1.0"

/* Version of the library actually linked, e.g. "0.1.0". */
const char *mnemo_version(void);

/* ---------------------------------------------------------------- status */

/*
 * The status codes, one list (X-macro): the enum, mnemo_strerror() and
 * mnemo_status_name() are all generated from it. Codes are negative so that
 * functions returning a count can return either.
 */
#define MNEMO_STATUS_MAP(X)                                                   \
    X(OK, 0, "ok")                                                            \
    X(EINVAL, -1, "invalid argument")                                         \
    X(ENOMEM, -2, "out of memory")                                            \
    X(EIO, -3, "input/output error")                                          \
    X(ENOENT, -4, "file not found")                                           \
    X(EFORMAT, -5, "malformed file")                                          \
    X(EUNSUPPORTED, -6, "not implemented")                                    \
    X(EUTF8, -7, "invalid UTF-8")                                             \
    X(ERANGE, -8, "value out of range")                                       \
    X(ETOOBIG, -9, "input too large")                                         \
    X(EBUFFER, -10, "output buffer too small")                                \
    X(EINTERNAL, -11, "internal error")                                       \
    X(EBUSY, -12, "busy: too much work queued, try again later")              \
    X(ETIMEDOUT, -13, "deadline exceeded")                                    \
    X(ECANCELED, -14, "canceled")

typedef enum mnemo_status {
#define MNEMO_STATUS_ENUM_(name, code, text) MNEMO_##name = (code),
    MNEMO_STATUS_MAP(MNEMO_STATUS_ENUM_)
#undef MNEMO_STATUS_ENUM_
} mnemo_status;

/* A short description of a status code ("invalid UTF-8"). Never NULL. */
const char *mnemo_strerror(int status);
/* The code's name without prefix ("EUTF8"). Never NULL. */
const char *mnemo_status_name(int status);

/* The detail of a failure: the status and a message for a person. */
typedef struct mnemo_error {
    int code;
    char message[512];
} mnemo_error;

/* Frees memory that a mnemo_* function returned to the caller. NULL is fine. */
void mnemo_free(void *p);

/* ------------------------------------------------------------- tokenizer */

/*
 * A tokenizer loaded from a Hugging Face `tokenizer.json` of the Gemma /
 * SentencePiece-BPE kind: Replace normalizer, Split pre-tokenizer, BPE with
 * byte fallback, added tokens, TemplateProcessing post-processor and the
 * Replace/ByteFallback/Fuse decoder. Other kinds are refused with
 * MNEMO_EUNSUPPORTED and a message naming the field.
 *
 * Read-only after open: one handle may be used by many threads at once.
 */
typedef struct mnemo_tokenizer mnemo_tokenizer;

typedef struct mnemo_tokenizer_options {
    /* Folder for the compact binary form that makes the next load fast.
     * NULL: $MNEMO_CACHE_DIR, else $XDG_CACHE_HOME/mnemo, else
     * $HOME/.cache/mnemo. */
    const char *cache_dir;
    /* Non-zero: neither read nor write the binary form. */
    int no_cache;
} mnemo_tokenizer_options;

/*
 * Opens `path`, a tokenizer.json or a model folder holding one. `opts` may be
 * NULL (defaults). On success *out owns the tokenizer; close it with
 * mnemo_tokenizer_close(). Errors: ENOENT, EIO, EFORMAT (malformed JSON or a
 * field of the wrong shape, with its JSON path), EUNSUPPORTED (a kind of
 * tokenizer not implemented), ENOMEM.
 */
int mnemo_tokenizer_open(const char *path, const mnemo_tokenizer_options *opts,
                         mnemo_tokenizer **out, mnemo_error *err);
void mnemo_tokenizer_close(mnemo_tokenizer *tok);

/* Number of ids: the model vocabulary plus added tokens beyond it. */
size_t mnemo_tokenizer_vocab_size(const mnemo_tokenizer *tok);

/* Number of ids the post-processor adds around one sequence (2 for Gemma). */
size_t mnemo_tokenizer_num_special(const mnemo_tokenizer *tok);

/* Of those, the number added after the sequence (1 for Gemma: <eos>). */
size_t mnemo_tokenizer_num_special_end(const mnemo_tokenizer *tok);

/* The id's token string (e.g. "▁world", "<0x0A>"), or NULL for an unknown
 * id. The pointer stays valid until the tokenizer is closed. */
const char *mnemo_tokenizer_piece(const mnemo_tokenizer *tok, int32_t id, size_t *len);

/* Non-zero when `id` is a special added token (e.g. <bos>, <eos>, <pad>). */
int mnemo_tokenizer_is_special(const mnemo_tokenizer *tok, int32_t id);

/* The id of an exact token string, or -1. */
int32_t mnemo_tokenizer_token_id(const mnemo_tokenizer *tok, const char *piece, size_t len);

/* Flags for mnemo_tokenizer_encode. */
#define MNEMO_ENCODE_NO_SPECIAL 1u /* do not add the post-processor's tokens */

/*
 * Upper bound on the ids produced for `len` bytes of text: every byte yields
 * at most one id, plus the post-processor's tokens.
 */
size_t mnemo_tokenizer_max_ids(const mnemo_tokenizer *tok, size_t len);

/*
 * Encodes `len` bytes of UTF-8 `text` into ids, exactly as HF `tokenizers`
 * encode() does with the same tokenizer.json. Writes at most `cap` ids to
 * `ids` and the count to *n_ids. A capacity of mnemo_tokenizer_max_ids()
 * always suffices. Errors: EUTF8 (message names the byte offset; nothing is
 * replaced silently), EBUFFER (*n_ids then holds the count needed), ENOMEM.
 */
int mnemo_tokenizer_encode(const mnemo_tokenizer *tok, const char *text, size_t len,
                           unsigned flags, int32_t *ids, size_t cap, size_t *n_ids,
                           mnemo_error *err);

/* Flags for mnemo_tokenizer_decode. */
#define MNEMO_DECODE_SKIP_SPECIAL 1u /* drop special tokens, as HF's default */

/*
 * Decodes ids back to text through the tokenizer's decoder (▁ -> space,
 * byte-fallback tokens -> bytes, invalid byte sequences -> U+FFFD per byte,
 * as HF does). On success *text is a NUL-terminated string of *len bytes
 * owned by the caller (mnemo_free). Errors: ERANGE (an id outside the
 * vocabulary; the message names its position), ENOMEM.
 */
int mnemo_tokenizer_decode(const mnemo_tokenizer *tok, const int32_t *ids, size_t n,
                           unsigned flags, char **text, size_t *len, mnemo_error *err);

/* ------------------------------------------------------------- the model */

/*
 * A sentence-embedding model opened from a folder in the sentence-transformers
 * layout (google/embeddinggemma-300m as downloaded), or from a GGUF file made
 * by llama.cpp's converter (architecture gemma-embedding; F32, F16, BF16,
 * Q8_0 and Q4_0 tensors; converted with --sentence-transformers-dense-modules,
 * and with the model's tokenizer.json beside it). The folder holds config.json,
 * model.safetensors, tokenizer.json, modules.json, 1_Pooling/, 2_Dense/,
 * 3_Dense/, config_sentence_transformers.json (prompts),
 * sentence_bert_config.json (max_seq_length). What the files say is read, not
 * assumed; an architecture or setting the engine does not implement is
 * refused with MNEMO_EUNSUPPORTED and a message naming the file and field.
 *
 * Read-only after open and shared by any number of contexts and threads. The
 * weights are memory-mapped (f32 and bf16 used in place; f16 widened).
 */
typedef struct mnemo_model mnemo_model;

typedef struct mnemo_model_options {
    const char *cache_dir; /* as mnemo_tokenizer_options */
    int no_cache;
    /* The tokenizer.json to use. NULL: the one in the model folder, or for
     * a GGUF file the tokenizer.json beside it (mnemo does not tokenize from
     * the GGUF's SentencePiece vocabulary). */
    const char *tokenizer;
    /* Weight precision the linear layers run at: "f32", "bf16" (weights
     * rounded to bfloat16, half the memory; activations stay f32), "int8"
     * (weights quantized per output row, activations per token to int16;
     * a quarter of the memory), "q4" (4-bit weights in blocks of 32 with a
     * scale each, GGUF Q4_0's arithmetic; activations as int8's), "file" for the file's own (f32 for
     * google/embeddinggemma-300m), or NULL / "auto": the fastest on this CPU
     * that keeps cosine >= 0.995 against sentence-transformers (int8 where the
     * CPU has AVX512-VNNI, else "file"). With "bf16" on a CPU with AVX512-BF16
     * the q/k/v, o and gate/up projections also round their activations to
     * bf16 (vdpbf16ps). An unknown name is refused with EINVAL. */
    const char *precision;
} mnemo_model_options;

/* Errors: ENOENT, EIO, EFORMAT, EUNSUPPORTED, ENOMEM. Close with
 * mnemo_model_close() after every context made from it is freed. */
int mnemo_model_open(const char *dir, const mnemo_model_options *opts, mnemo_model **out,
                     mnemo_error *err);
void mnemo_model_close(mnemo_model *model);

/* Width of the output vectors (768 for EmbeddingGemma). */
size_t mnemo_model_dim(const mnemo_model *model);
/* Most tokens one input may have, <bos> and <eos> included (2048). */
size_t mnemo_model_max_tokens(const mnemo_model *model);
/* The model's tokenizer; owned by the model. */
const mnemo_tokenizer *mnemo_model_tokenizer(const mnemo_model *model);
/* The named prompts of config_sentence_transformers.json, in file order. */
int mnemo_model_prompt_count(const mnemo_model *model);
const char *mnemo_model_prompt_name(const mnemo_model *model, int i);
/* The text of a named prompt, or NULL when the model has no such name. */
const char *mnemo_model_prompt_text(const mnemo_model *model, const char *name);
/* Weights of the per-token linear layers (the backbone's projections):
 * each costs 2 FLOPs per token. 101 M for EmbeddingGemma-300M. */
size_t mnemo_model_linear_params(const mnemo_model *model);
/* "f32", "bf16" or "mixed" (the weights as used), and the kernel variant. */
const char *mnemo_model_precision(const mnemo_model *model);
const char *mnemo_model_kernels(const mnemo_model *model);

/* ------------------------------------------------------------ embedding */

/*
 * A context runs the model: it owns the activations and a thread pool, all
 * sized at creation (no allocation per token). One context serves one caller
 * at a time; make one per worker thread.
 */
typedef struct mnemo_context mnemo_context;

typedef struct mnemo_context_options {
    int n_threads;           /* <= 0: every CPU this process may use */
    size_t max_batch_tokens; /* tokens per forward pass; 0: 4096 (never below max tokens) */
} mnemo_context_options;

int mnemo_context_create(const mnemo_model *model, const mnemo_context_options *opts,
                         mnemo_context **out, mnemo_error *err);
void mnemo_context_free(mnemo_context *ctx);

typedef struct mnemo_embed_options {
    /* The task prompt, as sentence-transformers applies it: its text is
     * prepended to each input before tokenizing. prompt_text (custom text)
     * wins over prompt_name (a name of the model's prompts, e.g. "query",
     * "document", "STS"); with neither, the model's default prompt if it has
     * one, else none. */
    const char *prompt_name;
    const char *prompt_text;
    /* Output dimension: 0 for the full width; 1..width for a Matryoshka
     * prefix, renormalized (EmbeddingGemma is trained at 768, 512, 256, 128). */
    size_t dim;
    /* Non-zero: an input longer than the model's max tokens is refused with
     * ETOOBIG instead of truncated (truncation keeps <eos> last). */
    int no_truncate;
} mnemo_embed_options;

/*
 * Embeds n texts (UTF-8, pointer + length each) in as few packed forward
 * passes as the context allows. Writes n * dim floats to `out`, row i for
 * texts[i], and, if n_tokens is not NULL, the token count each input used
 * (after truncation). `opts` may be NULL (defaults). Errors: EINVAL (unknown
 * prompt name, bad dim; the message lists what is valid), EUTF8 (names the
 * text and byte offset), ETOOBIG (with no_truncate), ERANGE (a token without
 * an embedding row), ENOMEM. On error nothing useful is in `out`.
 */
int mnemo_embed(mnemo_context *ctx, const char *const *texts, const size_t *lens, size_t n,
                const mnemo_embed_options *opts, float *out, size_t *n_tokens, mnemo_error *err);

/*
 * The two halves of mnemo_embed(), for callers that tokenize in one thread
 * and run the model in another (the HTTP service), or that hold token ids.
 *
 * mnemo_embed_prompt: the prompt text mnemo_embed() would prepend for
 * `opts` (may be NULL): prompt_text, else the named prompt's text, else the
 * model's default prompt, else "". The pointer is owned by the model (or is
 * the caller's prompt_text). Errors: EINVAL (unknown name; the message lists
 * the model's names).
 *
 * mnemo_embed_tokenize: one input as mnemo_embed() tokenizes it:
 * <bos> + tokens(prompt + text) + <eos>, truncated to the model's max tokens
 * keeping <eos> last (or refused with ETOOBIG when opts->no_truncate; opts->dim
 * is ignored). On success *ids holds *n ids, owned by the caller (mnemo_free).
 * Reads only the model: any thread may call it. Errors: EINVAL, EUTF8 (names
 * the byte offset), ETOOBIG, ENOMEM.
 *
 * mnemo_embed_tokens: embeds n complete sequences (each 1..max tokens ids,
 * <bos>/<eos> included, as mnemo_embed_tokenize gives them; nothing is added)
 * in as few packed forward passes as the context allows; writes n * dim
 * floats to `out` (dim 0: the full width; else the Matryoshka prefix,
 * renormalized). Errors: EINVAL (a sequence empty or too long, bad dim),
 * ERANGE (an id without an embedding row), ENOMEM.
 */
int mnemo_embed_prompt(const mnemo_model *model, const mnemo_embed_options *opts, const char **text,
                       mnemo_error *err);
int mnemo_embed_tokenize(const mnemo_model *model, const char *text, size_t len,
                         const mnemo_embed_options *opts, int32_t **ids, size_t *n, mnemo_error *err);
int mnemo_embed_tokens(mnemo_context *ctx, const int32_t *const *ids, const size_t *lens, size_t n,
                       size_t dim, float *out, mnemo_error *err);

/* ------------------------------------------------------------- utilities */

/*
 * Checks that `len` bytes are valid UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF). Returns 1 if valid; otherwise 0 and
 * the offset of the first byte of the first invalid sequence in *bad_offset
 * (may be NULL).
 */
int mnemo_utf8_valid(const char *s, size_t len, size_t *bad_offset);

#ifdef __cplusplus
}
#endif
#endif /* MNEMO_H */
