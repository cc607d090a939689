/*
 * service.h — the internal header of the service layer, the
 * only way the HTTP server (src/server) reaches it: the embedding cache
 * (cache.c), the batcher whose worker owns the model context (batcher.c), and
 * the service that puts them together for one request (service.c): prompt,
 * cache lookup, tokenizing on the caller's thread, queueing, deadline,
 * cancellation. Not HTTP, not JSON.
 */
#ifndef MNEMO_EMBED_SERVICE_H
#define MNEMO_EMBED_SERVICE_H

#include "../core/core.h"
#include "../embed/embed_internal.h"

/* ------------------------------------------------------------------ cache */

/*
 * A thread-safe LRU cache of full-width normalized vectors, bounded in bytes
 * (key, vector and bookkeeping counted), entries expiring `ttl` seconds after
 * they were stored (ttl <= 0: never). The key is a list of pieces (model id,
 * prompt text, input text) hashed and compared whole, so two keys whose
 * pieces concatenate to the same bytes are still different. Times are passed
 * in (`now`, seconds on any monotonic clock) so tests control them.
 */
typedef struct mnemo_cache mnemo_cache;

typedef struct mnemo_cache_stats {
    uint64_t hits, misses, inserts, evictions, expirations;
    uint64_t warm_loaded, warm_hits; /* entries loaded from the cache file, and hits on them */
    size_t entries, bytes, max_bytes;
} mnemo_cache_stats;

/* max_bytes 0: a cache that stores nothing (every get misses). */
int mnemo__cache_create(size_t max_bytes, double ttl, size_t width, mnemo_cache **out,
                        mnemo_error *err);
void mnemo__cache_free(mnemo_cache *c);
/* On a hit copies the vector (width floats) to `vec`, its token count to
 * *n_tokens, makes the entry most recently used and returns true. */
bool mnemo__cache_get(mnemo_cache *c, const mnemo_piece *key, size_t n_pieces, double now,
                      float *vec, size_t *n_tokens);
/* Stores (or refreshes) an entry, evicting least recently used ones to stay
 * within max_bytes. An entry larger than max_bytes is not stored. */
void mnemo__cache_put(mnemo_cache *c, const mnemo_piece *key, size_t n_pieces, const float *vec,
                      size_t n_tokens, double now);
void mnemo__cache_stats(mnemo_cache *c, mnemo_cache_stats *out);

/* Each entry counts the gets it answered (its hits) and when it was last
 * used; the cache file (cache_file.c) keeps both so the next start loads the
 * most used entries first. */

/* Inserts an entry read from the cache file, marked warm (its hits count in
 * warm_hits), at the LRU's cold end, never evicting: 0 stored, 1 the key was
 * there already (kept), -1 the cache is full (or the entry too big, or no
 * memory): stop loading. `used` is its last use on the cache's clock. */
int mnemo__cache_load(mnemo_cache *c, const mnemo_piece *key, size_t n_pieces, const float *vec,
                      size_t n_tokens, uint32_t hits, double used, double now);

/* Every entry, for the cache file's writer: under the lock only each
 * entry's address, hits and last use are taken (the array is allocated
 * before), and the entries stay allocated (pinned: one evicted meanwhile is
 * freed by mnemo__cache_snapshot_free) so the writer reads their keys and
 * vectors, which never change once stored, without the lock. Keys are the
 * encoded pieces, (u64 length, bytes)..., without the first `skip_pieces`
 * (the model id). */
typedef struct mnemo_cache_item {
    const unsigned char *key;
    size_t key_len, n_tokens;
    const float *vec;
    uint32_t hits;
    double used;
} mnemo_cache_item;
typedef struct mnemo_cache_snapshot {
    mnemo_cache_item *items;
    size_t n;
    mnemo_cache *cache; /* pinned until mnemo__cache_snapshot_free */
    uint64_t version;   /* mnemo__cache_version when it was taken */
} mnemo_cache_snapshot;
/* ENOMEM (and an empty snapshot). */
int mnemo__cache_snapshot(mnemo_cache *c, size_t skip_pieces, mnemo_cache_snapshot *out);
void mnemo__cache_snapshot_free(mnemo_cache_snapshot *s);
/* A number that changes whenever an entry is added, hit, evicted or
 * expired: the writer skips a write when it has not changed. */
uint64_t mnemo__cache_version(mnemo_cache *c);

/* ------------------------------------------------------ the cache file */

/*
 * The cache kept on disk (cache_file.c, --cache-file): written by a thread
 * of its own every `interval` seconds when the cache changed and at close
 * (snapshot under the cache's lock, the file written outside it: temporary
 * file, fsync, rename), most used entries first, at most max_bytes; read at
 * start into the cache within a deadline. A file of another model identity,
 * truncated or corrupt is ignored with a warning and rewritten; never a
 * wrong vector (a checksum per record and one for the header).
 */
typedef struct mnemo_cache_file mnemo_cache_file;
typedef struct mnemo_cache_file_options {
    const char *path;
    size_t max_bytes;     /* the file's size at most */
    double interval;      /* seconds between background writes (<= 0: 60) */
    const char *identity; /* the model as its vectors depend on it */
    const char *model_id; /* the cache key's first piece, which the file leaves out */
    size_t width;
} mnemo_cache_file_options;
typedef struct mnemo_cache_file_stats {
    bool enabled;
    uint64_t writes, write_errors, rejected; /* rejected: files or records ignored */
    size_t file_bytes, file_entries;         /* of the last file read or written */
    double load_seconds;
} mnemo_cache_file_stats;

/* EINVAL (no path), ENOMEM. Reads nothing and starts no thread yet. */
int mnemo__cache_file_open(const mnemo_cache_file_options *o, mnemo_cache *cache,
                           mnemo_cache_file **out, mnemo_error *err);
/* Loads the file's entries into the cache, most used first, until the
 * deadline (mnemo__now() clock), the cache is full or the file ends. Never
 * fails: a bad file is logged and ignored. */
void mnemo__cache_file_load(mnemo_cache_file *f, double deadline, size_t *loaded);
/* Starts the background writer. */
int mnemo__cache_file_start(mnemo_cache_file *f, mnemo_error *err);
/* Writes now if the cache changed since the last write (EIO, ENOMEM). */
int mnemo__cache_file_write(mnemo_cache_file *f, mnemo_error *err);
/* Stops the writer, writes once more (errors logged) and frees. NULL is fine. */
void mnemo__cache_file_close(mnemo_cache_file *f);
void mnemo__cache_file_stats(mnemo_cache_file *f, mnemo_cache_file_stats *out);

/* ------------------------------------------------------- the Redis tier */

/*
 * The second cache tier, shared by every replica (cache_redis.c, hiredis):
 * keys are MNEMO_REDIS_PREFIX + 32 hex digits of a hash of (model
 * fingerprint, the local key's pieces but the model id); values a 32-byte
 * header (magic, version, dtype, dim, tokens, model hash, key length,
 * checksum), the key's pieces themselves (so a hash collision is a miss, not
 * another text's vector) and the full-width f32 vector. A value that does
 * not check out is a miss, counted as invalid. Fail-open: a lookup never
 * waits longer than the timeout, an error marks Redis down, and while it is
 * down lookups are skipped (misses) and a background thread reconnects with
 * backoff (100 ms doubling to 2 s). Writes go through a bounded queue to
 * that thread (pipelined SET ... EX ttl), off the response path; a full
 * queue or a down Redis drops them, counted. Thread-safe: readers take a
 * context from a small pool, the writer has its own.
 */
#define MNEMO_REDIS_PREFIX "mnemo:v1:"
typedef struct mnemo_redis mnemo_redis;

/* A parsed --cache-redis URL (cache_redis_url.c): redis://[[user]:password@]host[:port][/db]
 * (host may be [v6]; port 6379 by default) or unix:///path[?db=N] (also
 * redis+unix://; a password as unix://:password@/path). Strings owned. */
typedef struct mnemo_redis_url {
    char *host, *socket_path, *user, *password; /* host or socket_path is set */
    int port;
    long db;
} mnemo_redis_url;
/* EINVAL with a message that says what a valid URL looks like. */
int mnemo__redis_url_parse(const char *url, mnemo_redis_url *out, mnemo_error *err);
void mnemo__redis_url_free(mnemo_redis_url *u);

typedef struct mnemo_redis_options {
    const char *url;
    double timeout;          /* seconds, for connecting and for each command */
    double ttl;              /* seconds a value lives (<= 0: no expiry) */
    size_t width;            /* floats per vector */
    const char *fingerprint; /* the model as replicas must agree on it */
    size_t max_queue;        /* writes waiting at most (0: 4096) */
} mnemo_redis_options;

#define MNEMO_REDIS_SECONDS_BOUNDS \
    { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1 }
#define MNEMO_REDIS_N_BOUNDS 13
typedef struct mnemo_redis_stats {
    bool enabled, up;
    uint64_t hits, misses, invalid, skipped; /* skipped (and invalid) are misses too */
    uint64_t writes, dropped, reconnects;
    uint64_t errors_connect, errors_get, errors_set;
    uint64_t seconds_counts[MNEMO_REDIS_N_BOUNDS + 1]; /* one lookup round trip; last: +Inf */
    double seconds_sum;
    size_t queued;
} mnemo_redis_stats;

/* Parses the URL (EINVAL), tries to connect once (a Redis that is not there
 * is logged and retried in the background, not an error) and starts the
 * writer thread. ENOMEM. */
int mnemo__redis_open(const mnemo_redis_options *o, mnemo_redis **out, mnemo_error *err);
/* Stops the writer (queued writes it has not sent are dropped) and frees.
 * NULL is fine. */
void mnemo__redis_close(mnemo_redis *r);
/* Looks up n keys in one MGET; keys[i] is key i's n_pieces pieces. On a hit
 * copies the vector (width floats) to vecs[i], the token count to
 * n_tokens[i] and sets found[i]. Never fails: errors are misses. */
void mnemo__redis_get(mnemo_redis *r, const mnemo_piece *const *keys, size_t n_pieces, size_t n,
                      float *const *vecs, size_t *n_tokens, bool *found);
/* Queues a write (copies everything); returns at once. */
void mnemo__redis_put(mnemo_redis *r, const mnemo_piece *key, size_t n_pieces, const float *vec,
                      size_t n_tokens);
/* Zeroes *out for NULL (enabled false). */
void mnemo__redis_stats(mnemo_redis *r, mnemo_redis_stats *out);

/* ---------------------------------------------------------------- batcher */

/*
 * The batcher: callers submit jobs (token sequences); one worker thread
 * collects queued sequences from every job into forward passes of at most
 * max_batch_tokens tokens and runs them with `run` (the model; only this
 * thread calls it). Each pass first takes the oldest sequence of every
 * waiting job, then fills up in arrival order, so one request of many long
 * inputs cannot starve a short one. Identical sequences waiting or running
 * at once are computed once. The queue is bounded in tokens: a job that does
 * not fit is refused at once (EBUSY), unless the queue is empty.
 */
typedef struct mnemo_batcher mnemo_batcher;
typedef struct mnemo_batch_job mnemo_batch_job;

/* Runs n sequences; writes width floats per sequence to out. */
typedef int (*mnemo_batch_run_fn)(void *arg, const int32_t *const *ids, const size_t *lens,
                                  size_t n, float *out, mnemo_error *err);
/* Told after each forward pass (on the worker thread): for metrics. */
typedef void (*mnemo_batch_observe_fn)(void *arg, size_t n_seqs, size_t n_tokens, size_t n_jobs,
                                       double seconds);

typedef struct mnemo_batcher_options {
    size_t width;            /* floats per vector */
    size_t max_batch_tokens; /* tokens per forward pass (>= the longest sequence) */
    double window;           /* seconds the idle worker waits for more work to join a pass */
    size_t max_queue_tokens; /* tokens waiting at most (0: unbounded) */
    mnemo_batch_run_fn run;
    void *run_arg;
    mnemo_batch_observe_fn observe; /* may be NULL */
    void *observe_arg;
} mnemo_batcher_options;

typedef struct mnemo_batch_timing {
    double queue;     /* submit -> its first sequence started */
    double inference; /* first started -> last done */
    bool started;     /* some sequence of the job ran (or is running) */
} mnemo_batch_timing;

int mnemo__batcher_create(const mnemo_batcher_options *opts, mnemo_batcher **out, mnemo_error *err);
/* Finishes the queued work, stops the worker and frees. Every job must have
 * been waited for. NULL is fine. */
void mnemo__batcher_free(mnemo_batcher *b);
/*
 * Queues n sequences (ids are copied), results to out[i * width]. `deadline`
 * is on mnemo__now()'s clock. Errors: EBUSY (queue full; nothing queued),
 * EINVAL (a sequence longer than max_batch_tokens or empty), ENOMEM,
 * ECANCELED (shutting down).
 */
int mnemo__batcher_submit(mnemo_batcher *b, const int32_t *const *ids, const size_t *lens, size_t n,
                          float *out, double deadline, mnemo_batch_job **job, mnemo_error *err);
/*
 * Waits until the job is done, its deadline passes (ETIMEDOUT) or gone(arg)
 * returns non-zero (ECANCELED; polled every ~20 ms; gone may be NULL). On
 * ETIMEDOUT and ECANCELED the job's queued sequences that no other job waits
 * for are dropped. Always frees the job. `timing` may be NULL.
 */
int mnemo__batcher_wait(mnemo_batcher *b, mnemo_batch_job *job, int (*gone)(void *), void *arg,
                        mnemo_batch_timing *timing, mnemo_error *err);
/*
 * The same, for a caller that streams: returns as soon as some sequences not
 * yet marked in seen[] (n flags) are delivered, marks them and counts them
 * in *n_new. *finished is set once the job is over (all delivered, or an
 * error); only then is the job freed.
 */
int mnemo__batcher_wait_some(mnemo_batcher *b, mnemo_batch_job *job, int (*gone)(void *), void *arg,
                             bool *seen, size_t *n_new, bool *finished, mnemo_batch_timing *timing,
                             mnemo_error *err);
/* Drops a job that is not finished (its sequences nobody else waits for
 * leave the queue) and frees it. */
void mnemo__batcher_cancel(mnemo_batcher *b, mnemo_batch_job *job);
typedef struct mnemo_batcher_stats {
    size_t queued_seqs, queued_tokens, waiting_jobs;
    double tokens_per_second; /* recent throughput (0 before the first pass) */
} mnemo_batcher_stats;
void mnemo__batcher_stats(mnemo_batcher *b, mnemo_batcher_stats *out);
/* Seconds a refused client should wait before trying again (at least 1). */
int mnemo__batcher_retry_after(mnemo_batcher *b);

/* ---------------------------------------------------------------- service */

/*
 * The embedding service for one model: a context run by the batcher's
 * worker (all threads), the cache, and the request logic. Open and close
 * from one thread; mnemo__service_embed from any number at once.
 */
typedef struct mnemo_service mnemo_service;

typedef struct mnemo_service_options {
    const char *model_id; /* part of every cache key */
    int n_threads;
    size_t max_batch_tokens;
    double batch_window;
    size_t max_queue_tokens;
    size_t cache_bytes; /* 0: no cache */
    double cache_ttl;
    const char *redis_url;      /* NULL: no Redis tier */
    double redis_timeout;       /* seconds */
    const char *redis_model;    /* the model's name in the Redis fingerprint */
    const char *cache_file;     /* NULL: the cache is not kept on disk */
    size_t cache_file_bytes;    /* the file's size at most */
    double cache_file_interval; /* seconds between background writes (<= 0: 60) */
    double warm_budget;         /* seconds for loading the file (and prefetching) at start */
    mnemo_batch_observe_fn observe;
    void *observe_arg;
} mnemo_service_options;

int mnemo__service_open(const mnemo_model *model, const mnemo_service_options *opts,
                        mnemo_service **out, mnemo_error *err);
void mnemo__service_close(mnemo_service *s);
const mnemo_model *mnemo__service_model(const mnemo_service *s);
mnemo_cache *mnemo__service_cache(mnemo_service *s);
mnemo_redis *mnemo__service_redis(mnemo_service *s); /* NULL without --cache-redis */
mnemo_batcher *mnemo__service_batcher(mnemo_service *s);
mnemo_cache_file *mnemo__service_cache_file(mnemo_service *s); /* NULL without a cache file */
/* When the warm budget of the start ends (mnemo__now() clock): the cache
 * file was loaded before it, prefetching (mnemo serve --warm) uses the rest. */
double mnemo__service_warm_deadline(const mnemo_service *s);
/* The model as its vectors depend on it: precision, shape and a hash of the
 * vector the loaded weights give a fixed probe text (so other weights, or
 * another precision or kernel table, never share a cache file). */
const char *mnemo__service_identity(const mnemo_service *s);

/* mnemo_store_options.on_embedded for a store on the service's model (arg:
 * the service): the store's vectors go into the cache (local and Redis, so
 * the cache file too) under the keys a request for the same text and prompt
 * uses, so that request is a hit. Thread-safe, as the cache is. */
void mnemo__service_store_embedded(void *arg, const char *prompt_name, const char *const *texts,
                                   const size_t *lens, size_t n, const float *vecs, size_t dim,
                                   const size_t *n_tokens);
/* How many vectors it put in the cache. */
uint64_t mnemo__service_store_fills(mnemo_service *s);

/* One input: text (UTF-8) or, when ids is not NULL, token ids. */
typedef struct mnemo_service_input {
    const char *text;
    size_t len;
    const int64_t *ids;
    size_t n_ids;
} mnemo_service_input;

typedef struct mnemo_service_request {
    const mnemo_service_input *inputs;
    size_t n;
    const char *prompt_name, *prompt_text; /* as mnemo_embed_options */
    bool no_truncate;
    bool truncate_left;  /* keep the last tokens instead of the first (TEI's "Left") */
    double deadline;     /* mnemo__now() clock */
    int (*gone)(void *); /* the client went away (may be NULL) */
    void *gone_arg;
} mnemo_service_request;

typedef struct mnemo_service_result {
    float *vectors;   /* caller's: n * width floats, full width, normalized */
    size_t *n_tokens; /* caller's: n counts */
    size_t total_tokens, cache_hits, computed;
    double tokenize, queue, inference; /* seconds */
    bool started;                      /* on ETIMEDOUT: whether any of it reached the model */
    size_t bad_index;                  /* on an input error: which input */
} mnemo_service_result;

/*
 * Embeds the request's inputs: cache hits are answered from the cache, the
 * rest tokenized here (text: prompt + text with <bos>/<eos>; token ids: as
 * given, <bos>/<eos> added when missing, no prompt: a prompt with ids is
 * EINVAL), truncated (or ETOOBIG), queued, waited for, and stored in the
 * cache. Errors: EINVAL, EUTF8, ETOOBIG, ERANGE (an id outside the
 * vocabulary) with the message naming input[i]; EBUSY (queue full),
 * ETIMEDOUT, ECANCELED (the client went away), ENOMEM.
 */
int mnemo__service_embed(mnemo_service *s, const mnemo_service_request *req,
                         mnemo_service_result *res, mnemo_error *err);

/*
 * mnemo__service_embed in steps, for a caller that streams results as they
 * come. begin: the checks, cache lookups, tokenizing and queueing (errors as
 * above; nothing to end on error). next: waits for more results and writes
 * the indices of the inputs newly done (their vectors are in res->vectors)
 * to done[] (room for req->n); cache hits come first; *finished once all are
 * done or on an error (ETIMEDOUT, ECANCELED, ...). end: stores what was
 * computed in the cache when all went well, drops unfinished work, frees.
 * `req` and `res` must stay valid until end.
 */
typedef struct mnemo_service_call mnemo_service_call;
int mnemo__service_begin(mnemo_service *s, const mnemo_service_request *req,
                         mnemo_service_result *res, mnemo_service_call **call, mnemo_error *err);
int mnemo__service_next(mnemo_service_call *call, size_t *done, size_t *n_done, bool *finished,
                        mnemo_error *err);
void mnemo__service_end(mnemo_service_call *call);

#endif
