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

/* What libmnemo.so exports: the functions declared here and nothing else
 * (the library is built with hidden visibility; tests/test_exports.sh). */
#if defined(__GNUC__)
#define MNEMO_API __attribute__((visibility("default")))
#else
#define MNEMO_API
#endif

#define MNEMO_VERSION_MAJOR 0
#define MNEMO_VERSION_MINOR 1
#define MNEMO_VERSION_PATCH 0
#define MNEMO_VERSION_STRING "0.1.0"

/* Version of the library actually linked, e.g. "0.1.0". */
MNEMO_API const char *mnemo_version(void);

/* ---------------------------------------------------------------- status */

/*
 * The status codes, one list (X-macro): the enum, mnemo_strerror() and
 * mnemo_status_name() are all generated from it. Codes are negative so that
 * functions returning a count can return either.
 */
/* clang-format off */
#define MNEMO_STATUS_MAP(X)                                                   \
    X(OK, 0, "ok")                                                            \
    X(EINVAL, -1, "invalid argument")                                         \
    X(ENOMEM, -2, "out of memory")                                            \
    X(EIO, -3, "input/output error")                                          \
    X(ENOENT, -4, "not found (no such file, or no such memory)")              \
    X(EFORMAT, -5, "malformed file")                                          \
    X(EUNSUPPORTED, -6, "not implemented")                                    \
    X(EUTF8, -7, "invalid UTF-8")                                             \
    X(ERANGE, -8, "value out of range")                                       \
    X(ETOOBIG, -9, "input too large")                                         \
    X(EBUFFER, -10, "output buffer too small")                                \
    X(EINTERNAL, -11, "internal error")                                       \
    X(EBUSY, -12, "busy: too much work queued, try again later")              \
    X(ETIMEDOUT, -13, "deadline exceeded")                                    \
    X(ECANCELED, -14, "canceled")                                             \
    X(EDENIED, -15, "not allowed for this caller")
/* clang-format on */

typedef enum mnemo_status {
#define MNEMO_STATUS_ENUM_(name, code, text) MNEMO_##name = (code),
    MNEMO_STATUS_MAP(MNEMO_STATUS_ENUM_)
#undef MNEMO_STATUS_ENUM_
} mnemo_status;

/* A short description of a status code ("invalid UTF-8"). Never NULL. */
MNEMO_API const char *mnemo_strerror(int status);
/* The code's name without prefix ("EUTF8"). Never NULL. */
MNEMO_API const char *mnemo_status_name(int status);

/* The detail of a failure: the status and a message for a person. */
typedef struct mnemo_error {
    int code;
    char message[512];
} mnemo_error;

/* Frees memory that a mnemo_* function returned to the caller. NULL is fine. */
MNEMO_API void mnemo_free(void *p);

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

/* The options with every default written out, to change a field or two:
 *     mnemo_tokenizer_options o = mnemo_tokenizer_default_options();
 * A zeroed struct (or NULL) means the same; the functions below name the
 * values. Every options struct has one. */
MNEMO_API mnemo_tokenizer_options mnemo_tokenizer_default_options(void);

/*
 * Opens `path`, a tokenizer.json or a model folder holding one. `opts` may be
 * NULL (defaults). On success *out owns the tokenizer; close it with
 * mnemo_tokenizer_close(). Errors: ENOENT, EIO, EFORMAT (malformed JSON or a
 * field of the wrong shape, with its JSON path), EUNSUPPORTED (a kind of
 * tokenizer not implemented), ENOMEM.
 */
MNEMO_API int mnemo_tokenizer_open(const char *path, const mnemo_tokenizer_options *opts,
                                   mnemo_tokenizer **out, mnemo_error *err);
MNEMO_API void mnemo_tokenizer_close(mnemo_tokenizer *tok);

/* Number of ids: the model vocabulary plus added tokens beyond it. */
MNEMO_API size_t mnemo_tokenizer_vocab_size(const mnemo_tokenizer *tok);

/* Number of ids the post-processor adds around one sequence (2 for Gemma). */
MNEMO_API size_t mnemo_tokenizer_num_special(const mnemo_tokenizer *tok);

/* Of those, the number added after the sequence (1 for Gemma: <eos>). */
MNEMO_API size_t mnemo_tokenizer_num_special_end(const mnemo_tokenizer *tok);

/* The id's token string (e.g. "▁world", "<0x0A>"), or NULL for an unknown
 * id. The pointer stays valid until the tokenizer is closed. */
MNEMO_API const char *mnemo_tokenizer_piece(const mnemo_tokenizer *tok, int32_t id, size_t *len);

/* Non-zero when `id` is a special added token (e.g. <bos>, <eos>, <pad>). */
MNEMO_API int mnemo_tokenizer_is_special(const mnemo_tokenizer *tok, int32_t id);

/* The id of an exact token string, or -1. */
MNEMO_API int32_t mnemo_tokenizer_token_id(const mnemo_tokenizer *tok, const char *piece,
                                           size_t len);

/* Flags for mnemo_tokenizer_encode. */
#define MNEMO_ENCODE_NO_SPECIAL 1u /* do not add the post-processor's tokens */

/*
 * Upper bound on the ids produced for `len` bytes of text: every byte yields
 * at most one id, plus the post-processor's tokens.
 */
MNEMO_API size_t mnemo_tokenizer_max_ids(const mnemo_tokenizer *tok, size_t len);

/*
 * Encodes `len` bytes of UTF-8 `text` into ids, exactly as HF `tokenizers`
 * encode() does with the same tokenizer.json. Writes at most `cap` ids to
 * `ids` and the count to *n_ids. A capacity of mnemo_tokenizer_max_ids()
 * always suffices. Errors: EUTF8 (message names the byte offset; nothing is
 * replaced silently), EBUFFER (*n_ids then holds the count needed), ENOMEM.
 */
MNEMO_API int mnemo_tokenizer_encode(const mnemo_tokenizer *tok, const char *text, size_t len,
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
MNEMO_API int mnemo_tokenizer_decode(const mnemo_tokenizer *tok, const int32_t *ids, size_t n,
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

/* precision "auto", the rest NULL / 0. */
MNEMO_API mnemo_model_options mnemo_model_default_options(void);

/* Errors: ENOENT, EIO, EFORMAT, EUNSUPPORTED, ENOMEM. Close with
 * mnemo_model_close() after every context made from it is freed. */
MNEMO_API int mnemo_model_open(const char *dir, const mnemo_model_options *opts, mnemo_model **out,
                               mnemo_error *err);
MNEMO_API void mnemo_model_close(mnemo_model *model);

/* Width of the output vectors (768 for EmbeddingGemma). */
MNEMO_API size_t mnemo_model_dim(const mnemo_model *model);
/* Most tokens one input may have, <bos> and <eos> included (2048). */
MNEMO_API size_t mnemo_model_max_tokens(const mnemo_model *model);
/* The model's tokenizer; owned by the model. */
MNEMO_API const mnemo_tokenizer *mnemo_model_tokenizer(const mnemo_model *model);
/* The named prompts of config_sentence_transformers.json, in file order. */
MNEMO_API int mnemo_model_prompt_count(const mnemo_model *model);
MNEMO_API const char *mnemo_model_prompt_name(const mnemo_model *model, int i);
/* The text of a named prompt, or NULL when the model has no such name. */
MNEMO_API const char *mnemo_model_prompt_text(const mnemo_model *model, const char *name);
/* Weights of the per-token linear layers (the backbone's projections):
 * each costs 2 FLOPs per token. 101 M for EmbeddingGemma-300M. */
MNEMO_API size_t mnemo_model_linear_params(const mnemo_model *model);
/* How those layers run at this precision on this CPU, for benchmarks'
 * compute bounds: up to `cap` groups, each the instruction that multiplies
 * its matrices ("vpdpbusd", "vpdpwssd", "vdpbf16ps", "int16 multiply-add", "f32 FMA")
 * and the weights it multiplies (summing to mnemo_model_linear_params).
 * Returns the number of groups. */
MNEMO_API size_t mnemo_model_linear_mix(const mnemo_model *model, const char **instruction,
                                        size_t *params, size_t cap);
/* "f32", "bf16" or "mixed" (the weights as used), and the kernel variant. */
MNEMO_API const char *mnemo_model_precision(const mnemo_model *model);
MNEMO_API const char *mnemo_model_kernels(const mnemo_model *model);

/* ------------------------------------------------------------ embedding */

/*
 * A context runs the model: it owns the activations and a thread pool, all
 * sized at creation (no allocation per token). One context serves one caller
 * at a time; make one per worker thread.
 */
typedef struct mnemo_context mnemo_context;

typedef struct mnemo_context_options {
    int n_threads;           /* <= 0: every CPU this process may use */
    size_t max_batch_tokens; /* the most tokens a forward pass may hold (the context's
                              * buffers); 0: 4096 (never below max tokens). Passes are
                              * packed to at most 1,024 tokens (cache-sized) or one
                              * longer sequence. */
} mnemo_context_options;

/* n_threads 0 (every CPU), max_batch_tokens 4096. */
MNEMO_API mnemo_context_options mnemo_context_default_options(void);

MNEMO_API int mnemo_context_create(const mnemo_model *model, const mnemo_context_options *opts,
                                   mnemo_context **out, mnemo_error *err);
MNEMO_API void mnemo_context_free(mnemo_context *ctx);
/* Seconds this context has spent in forward passes, and of those in the
 * per-token linear layers (the rest: attention, norms, activations, pooling,
 * the Dense head), since it was made: `mnemo bench`'s profile. */
MNEMO_API void mnemo_context_timing(const mnemo_context *ctx, double *linear_seconds,
                                    double *total_seconds);

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

/* No prompt but the model's default, full width, truncating. */
MNEMO_API mnemo_embed_options mnemo_embed_default_options(void);

/*
 * Embeds n texts (UTF-8, pointer + length each) in as few packed forward
 * passes as the context allows. Writes n * dim floats to `out`, row i for
 * texts[i], and, if n_tokens is not NULL, the token count each input used
 * (after truncation). `opts` may be NULL (defaults). Errors: EINVAL (unknown
 * prompt name, bad dim; the message lists what is valid), EUTF8 (names the
 * text and byte offset), ETOOBIG (with no_truncate), ERANGE (a token without
 * an embedding row), ENOMEM. On error nothing useful is in `out`.
 */
MNEMO_API int mnemo_embed(mnemo_context *ctx, const char *const *texts, const size_t *lens,
                          size_t n, const mnemo_embed_options *opts, float *out, size_t *n_tokens,
                          mnemo_error *err);

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
MNEMO_API int mnemo_embed_prompt(const mnemo_model *model, const mnemo_embed_options *opts,
                                 const char **text, mnemo_error *err);
MNEMO_API int mnemo_embed_tokenize(const mnemo_model *model, const char *text, size_t len,
                                   const mnemo_embed_options *opts, int32_t **ids, size_t *n,
                                   mnemo_error *err);
MNEMO_API int mnemo_embed_tokens(mnemo_context *ctx, const int32_t *const *ids, const size_t *lens,
                                 size_t n, size_t dim, float *out, mnemo_error *err);
/* --------------------------------------------------------- memory store */

/*
 * A memory store: texts with metadata and a scope, embedded by a model and
 * kept in SQLite (WAL mode) in a data folder, with an in-memory index of the
 * vectors rebuilt at open. One store may be used by any number of threads at
 * once: writes are serialized; reads (search, get, list, count, history) use
 * their own SQLite connections and never wait for a write to commit.
 *
 * Files: DATA_DIR/memories.db (+ -wal, -shm), and memories.lock: one process
 * writes a store at a time; another process that opens it gets a read-only
 * store (its writes fail with EIO saying why). The store records the model it
 * was built with (name, dimension, the document and query prompts and a
 * fingerprint vector) and refuses another model with EINVAL and a message
 * naming both.
 *
 * Scope: a namespace (NULL or "": "default") and optional user_id, agent_id,
 * session_id. On add, NULL means "not set". On search, list, count and
 * delete-by-filter, NULL means "any"; a string must match exactly.
 *
 * Filters are JSON text over the metadata object, evaluated during the
 * search (a filtered search returns k results whenever k match):
 *   {"field": VALUE}                       equal (VALUE any JSON scalar)
 *   {"field": {"$eq"|"$ne": VALUE}}
 *   {"field": {"$in"|"$nin": [VALUE...]}}
 *   {"field": {"$gt"|"$gte"|"$lt"|"$lte": NUMBER or STRING}}
 *   {"field": {"$exists": true|false}}
 *   {"$and": [FILTER...]}, {"$or": [FILTER...]}, {"$not": FILTER}
 * Several keys in one object are ANDed. "a.b" reaches nested objects. An
 * absent field fails every comparison but $ne, $nin and $exists:false.
 * A malformed filter is refused with EINVAL naming the bad part.
 *
 * Times are Unix seconds (double). Expired memories never appear in any
 * result and are deleted by a background sweep.
 */
typedef struct mnemo_store mnemo_store;

typedef struct mnemo_store_options {
    /* The data folder (created if missing). Required: there is no default,
     * so memories never land in a temporary folder by accident. */
    const char *data_dir;
    /* The embedding model, shared (the store makes its own context). NULL:
     * add, update and query-text searches in vector/hybrid mode are refused
     * with EINVAL; everything else works. The model must outlive the store. */
    const mnemo_model *model;
    /* A name for the model in messages and the store's record (e.g. the
     * folder's name). NULL: "unnamed". */
    const char *model_name;
    int n_threads; /* embedding threads; <= 0: every CPU */
    /* SQLite synchronous: "full" (default: an acknowledged add survives a
     * power cut), "normal" (survives a process crash), "off". */
    const char *synchronous;
    int read_only; /* non-zero: open read-only; writes get EIO */
    int no_dedup;  /* non-zero: no exact or near-duplicate check */
    /* Cosine at or above which an add in the same scope updates the nearest
     * memory instead of adding one. 0: 0.95; > 1: only exact repeats. */
    double dedup_threshold;
    /* Seconds between sweeps of expired memories; 0: 60; < 0: no thread
     * (mnemo_store_sweep() still works). */
    double sweep_seconds;
    /* The clock (Unix seconds), for tests; NULL: the time of day. */
    double (*clock)(void *clock_ctx);
    void *clock_ctx;
    size_t max_text_bytes;     /* 0: 256 KiB */
    size_t max_metadata_bytes; /* 0: 16 KiB (of compact JSON) */
    /* Where the memories live, instead of data_dir: "sqlite:DIR" (the same
     * as data_dir = DIR), or a PostgreSQL URL "postgres://..." /
     * "postgresql://..." (libpq's URI form; the database needs the pgvector
     * extension, docs/operations.md). NULL: data_dir. */
    const char *url;
    /* PostgreSQL: connections kept (each request takes one for its
     * duration); 0: 4. Ignored for SQLite. */
    int pool_size;
    /* The approximate vector index (docs/memories.md): once the store holds
     * this many memories a background thread builds an HNSW graph, and
     * vector searches walk it (exact until it is built, and whenever the
     * scope and filter pass too few memories for the walk). 0: 20000;
     * SIZE_MAX: never, every search is exact. */
    size_t index_threshold;
    size_t hnsw_m;               /* links per node (2..128); 0: 32 */
    size_t hnsw_ef_construction; /* beam width when linking a node; 0: 200 */
    size_t hnsw_ef_search;       /* beam width of a search (at least k); 0: 256 */
    /* Non-zero: the in-memory index holds each vector only as int8 codes
     * (dim bytes and a scale instead of 4 * dim bytes: about a third of the
     * memory per memory with the graph), and a vector search rescores its
     * candidates with the f32 vectors read from SQLite, so scores and order
     * stay exact among them. SQLite only: EINVAL with a PostgreSQL url. */
    int index_int8;
    /* The same choices as the special values above, said by name (either
     * way works): no_sweep as sweep_seconds < 0, no_index as
     * index_threshold SIZE_MAX, dedup_exact_only as dedup_threshold > 1. */
    int no_sweep;
    int no_index;
    int dedup_exact_only;
    /* Non-zero: the in-memory index holds each vector only as its signs, one
     * bit per dimension (dim / 8 bytes: 96 for 768, a thirty-second of f32),
     * and a vector search scans them by Hamming distance and rescores the
     * best few hundred with the f32 vectors read from SQLite, so scores and
     * order stay exact among them. No HNSW graph (index_threshold and the
     * hnsw_* fields are ignored: the scan is fast enough). SQLite only:
     * EINVAL with a PostgreSQL url, and with index_int8. */
    int index_binary;
    /* Told every vector the store computes once it is open: the texts of
     * memories it adds and updates, and the text queries it searches with
     * (not the probe its model check embeds at open). n texts embedded with
     * the model's prompt prompt_name, as mnemo_embed gives them with that
     * prompt_name and no other option: full width (dim floats each),
     * normalized, truncated at the model's max tokens, n_tokens[i] the tokens
     * text i used. Called on the thread that called the store, from any
     * number of threads at once, possibly in the middle of a write (an update
     * holds the memory's lock): it must be thread-safe and quick, and must
     * not call the store. mnemo serve puts the vectors in its embedding
     * cache. NULL: nothing is told. */
    void (*on_embedded)(void *arg, const char *prompt_name, const char *const *texts,
                        const size_t *lens, size_t n, const float *vectors, size_t dim,
                        const size_t *n_tokens);
    void *on_embedded_arg;
} mnemo_store_options;

/* Every default written out: synchronous "full", dedup_threshold 0.95,
 * sweep_seconds 60, max_text_bytes 256 KiB, max_metadata_bytes 16 KiB,
 * pool_size 4, index_threshold 20000, hnsw_m 32, hnsw_ef_construction 200,
 * hnsw_ef_search 256; data_dir, url and model still to be set. */
MNEMO_API mnemo_store_options mnemo_store_default_options(void);

/*
 * Opens (creating or migrating as needed) the store in opts->data_dir, or
 * at opts->url. On success *out owns it; close with mnemo_store_close().
 * Errors: EINVAL (no data_dir or url, a url of an unknown kind, bad
 * synchronous, a different model than the store's: the message names both),
 * EIO (SQLite could not open or write, or PostgreSQL could not be reached or
 * lacks pgvector; the message says why, e.g. a read-only folder), EFORMAT
 * (not a mnemo store, or made by a newer mnemo), ENOMEM.
 *
 * With PostgreSQL, every call below that finds the server gone (restarted,
 * unreachable) fails with EIO and a message saying so, changes nothing, and
 * the next call reconnects by itself.
 */
MNEMO_API int mnemo_store_open(const mnemo_store_options *opts, mnemo_store **out,
                               mnemo_error *err);
/* Stops the sweep thread and closes every connection. NULL is fine. */
MNEMO_API void mnemo_store_close(mnemo_store *store);
/* Deletes expired memories now (recorded in their history); *n_deleted
 * (may be NULL) receives how many. Errors: EIO. */
MNEMO_API int mnemo_store_sweep(mnemo_store *store, size_t *n_deleted, mnemo_error *err);
/* The vector width of the store (its model's). */
MNEMO_API size_t mnemo_store_dim(const mnemo_store *store);

typedef struct mnemo_memory_scope {
    const char *ns; /* the namespace */
    const char *user_id, *agent_id, *session_id;
} mnemo_memory_scope;

struct mnemo_history_event; /* below */

/* One memory to add. */
typedef struct mnemo_memory_input {
    const char *text; /* UTF-8, 1..max_text_bytes bytes */
    size_t text_len;
    const char *metadata; /* a JSON object as NUL-terminated text; NULL: {} */
    mnemo_memory_scope scope;
    double ttl;        /* seconds to live, > 0; 0: forever */
    double expires_at; /* or an absolute time; 0: none. Not both. */
    /* A vector computed elsewhere, of the store's width (it is normalized);
     * NULL: the text is embedded with the prompt below. */
    const float *vector;
    size_t vector_dim;
    /* The model's prompt to embed the text with, by name (e.g. "query",
     * "STS"); NULL: "document". It is recorded with the memory, and an update
     * that changes the text embeds the new one with it again. An exact repeat
     * (dedup) is the same text in the same scope with the same prompt. */
    const char *prompt_name;
    /* A memory brought back as it was (an import: docs/memories.md, "Export
     * and import"); all optional. id: 32 lowercase hex digits, kept instead
     * of a new id; such an input is never merged or deduplicated, and when
     * the store already has a memory with this id nothing is written for it
     * (its event is MNEMO_MEMORY_DUPLICATE, its id this one). created_at,
     * updated_at: > 0, kept instead of the time of the add. history: its
     * past changes, oldest first, recorded as given instead of one "added"
     * event (event "added", "updated" or "deleted"; metadata NULL or a JSON
     * object as text). */
    const char *id;
    double created_at, updated_at;
    const struct mnemo_history_event *history;
    size_t n_history;
} mnemo_memory_input;

/* What an add did with one input. */
typedef enum mnemo_memory_event {
    MNEMO_MEMORY_ADDED = 0,     /* a new memory */
    MNEMO_MEMORY_DUPLICATE = 1, /* the same text in the same scope existed: its id */
    MNEMO_MEMORY_MERGED = 2     /* a near-duplicate was updated with this input */
} mnemo_memory_event;

#define MNEMO_MEMORY_ID_SIZE 33 /* 32 hex digits + NUL */

typedef struct mnemo_memory_added {
    char id[MNEMO_MEMORY_ID_SIZE];
    mnemo_memory_event event;
} mnemo_memory_added;

/*
 * Adds n (1..1000) memories in one transaction: all or none. Each is
 * embedded with its prompt_name (default: the model's "document" prompt).
 * out[i] (caller-provided, n entries) gets the id for inputs[i], in input
 * order. Returns only once the transaction is durable (per `synchronous`).
 * Errors: EINVAL (no model, bad metadata, scope or ttl, a prompt name the
 * model lacks (the message lists its prompts); the message names the input
 * index and field),
 * EUTF8, ETOOBIG (text or metadata over the limit), EIO (disk full, read-only
 * store; nothing is stored), ENOMEM.
 */
MNEMO_API int mnemo_memory_add(mnemo_store *store, const mnemo_memory_input *inputs, size_t n,
                               mnemo_memory_added *out, mnemo_error *err);

/* A memory as read back. Strings are NUL-terminated; absent ones NULL. */
typedef struct mnemo_memory {
    char id[MNEMO_MEMORY_ID_SIZE];
    char *text;
    size_t text_len;
    char *metadata; /* compact JSON object */
    char *ns, *user_id, *agent_id, *session_id;
    double created_at, updated_at;
    double expires_at; /* 0: never */
    /* Search only: cosine (vector), BM25 made positive (text: higher is
     * better), or the reciprocal-rank-fusion sum (hybrid). */
    double score;
    char *prompt_name; /* the prompt its text is embedded with ("document" by default) */
} mnemo_memory;

/* Results of search, get and list; free with mnemo_memories_free(). */
typedef struct mnemo_memories {
    mnemo_memory *items;
    size_t n;
    /* list only: pass it back as `cursor` for the next page; NULL at the end. */
    char *next_cursor;
} mnemo_memories;
MNEMO_API void mnemo_memories_free(mnemo_memories *m);

typedef enum mnemo_search_mode {
    MNEMO_SEARCH_VECTOR = 0, /* exact cosine over the scope's vectors */
    MNEMO_SEARCH_TEXT = 1,   /* SQLite FTS5 BM25 over the words of the query */
    /* Both, fused by reciprocal rank: score = sum over the two lists of
     * 1 / (MNEMO_RRF_K + rank), rank from 1; each list holds the best
     * max(k, 50) of its mode. */
    MNEMO_SEARCH_HYBRID = 2
} mnemo_search_mode;
#define MNEMO_RRF_K 60 /* Cormack, Clarke & Buettcher 2009: k = 60 */
#define MNEMO_SEARCH_MAX_K 1000

typedef struct mnemo_search_options {
    const char *query; /* text (embedded with the "query" prompt), or */
    size_t query_len;
    const float *vector; /* a vector of the store's width (vector mode only) */
    size_t vector_dim;
    size_t k; /* 1..MNEMO_SEARCH_MAX_K; 0: 10 */
    mnemo_memory_scope scope;
    const char *filter; /* JSON text or NULL */
    double min_score;   /* with has_min_score: drop results scoring below it */
    int has_min_score;
    mnemo_search_mode mode;
    /* Non-zero: scan every memory of the scope exactly, even where the
     * store would walk its approximate (HNSW) index. */
    int exact;
} mnemo_search_options;

/* k 10, vector mode, no scope, filter or minimum score. */
MNEMO_API mnemo_search_options mnemo_search_default_options(void);

/*
 * The best k memories of the scope that pass the filter, best first, in
 * *out (caller frees with mnemo_memories_free). Errors: EINVAL (no query,
 * both query and vector, bad filter, k out of range, vector of the wrong
 * width, a vector for text mode), EUTF8, ENOMEM, EIO.
 */
MNEMO_API int mnemo_memory_search(mnemo_store *store, const mnemo_search_options *opts,
                                  mnemo_memories **out, mnemo_error *err);

/* One memory by id (one item in *out). Errors: ENOENT (no such memory, or
 * expired), EIO, ENOMEM. */
MNEMO_API int mnemo_memory_get(mnemo_store *store, const char *id, mnemo_memories **out,
                               mnemo_error *err);

/* Changes to one memory; NULL/0 fields are left as they are. */
typedef struct mnemo_memory_changes {
    const char *text; /* a new text is embedded again */
    size_t text_len;
    const char *metadata; /* replaces the metadata object */
    double ttl;           /* > 0: expires ttl seconds from now */
    double expires_at;    /* > 0: expires then; < 0: never expires */
    /* With a new text only: the prompt to embed it with, recorded for the
     * memory; NULL: the prompt the memory was embedded with before. */
    const char *prompt_name;
    /* Non-zero: the memory never expires (as expires_at < 0). */
    int clear_expiry;
} mnemo_memory_changes;

/* Errors: ENOENT, EINVAL (nothing to change, bad metadata, no model for a
 * new text, an unknown prompt name or one without a new text), EUTF8,
 * ETOOBIG, EIO. Recorded in the history. */
MNEMO_API int mnemo_memory_update(mnemo_store *store, const char *id,
                                  const mnemo_memory_changes *changes, mnemo_error *err);

/* Deletes one memory (recorded in its history). Errors: ENOENT, EIO. */
MNEMO_API int mnemo_memory_delete(mnemo_store *store, const char *id, mnemo_error *err);
/* Deletes every memory of the scope that passes `filter` (JSON text; NULL:
 * all of the scope). *n_deleted may be NULL. Errors: EINVAL, EIO. */
MNEMO_API int mnemo_memory_delete_where(mnemo_store *store, const mnemo_memory_scope *scope,
                                        const char *filter, size_t *n_deleted, mnemo_error *err);

typedef struct mnemo_list_options {
    mnemo_memory_scope scope;
    const char *filter; /* JSON text or NULL */
    size_t limit;       /* 1..1000; 0: 100 */
    const char *cursor; /* NULL: from the start; else a next_cursor */
} mnemo_list_options;

/* limit 100 from the start, no scope or filter. */
MNEMO_API mnemo_list_options mnemo_list_default_options(void);

/* Memories of the scope in the order they were added (oldest first), a page
 * at a time. Errors: EINVAL (bad filter, cursor, limit), EIO, ENOMEM. */
MNEMO_API int mnemo_memory_list(mnemo_store *store, const mnemo_list_options *opts,
                                mnemo_memories **out, mnemo_error *err);
/* How many memories of the scope pass `filter` (NULL: all). */
MNEMO_API int mnemo_memory_count(mnemo_store *store, const mnemo_memory_scope *scope,
                                 const char *filter, size_t *n, mnemo_error *err);

/* One change of a memory. */
typedef struct mnemo_history_event {
    char *event;    /* "added", "updated" or "deleted" */
    char *reason;   /* NULL, or e.g. "expired", "duplicate" */
    double at;      /* when */
    char *text;     /* the text after the change (before, for deleted) */
    char *metadata; /* likewise */
} mnemo_history_event;
typedef struct mnemo_history {
    mnemo_history_event *items;
    size_t n;
} mnemo_history;
MNEMO_API void mnemo_history_free(mnemo_history *h);

/* The changes of one memory, oldest first, also after it was deleted.
 * Errors: ENOENT (no memory ever had this id), EIO, ENOMEM. */
MNEMO_API int mnemo_memory_history(mnemo_store *store, const char *id, mnemo_history **out,
                                   mnemo_error *err);

/* ------------------------------------------------------------- utilities */

/*
 * Checks that `len` bytes are valid UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF). Returns 1 if valid; otherwise 0 and
 * the offset of the first byte of the first invalid sequence in *bad_offset
 * (may be NULL).
 */
MNEMO_API int mnemo_utf8_valid(const char *s, size_t len, size_t *bad_offset);

#ifdef __cplusplus
}
#endif
#endif /* MNEMO_H */
