/*
 * store.h — the internal header of the store part (memories), for the
 * store's own files: the store struct, the backends' table, the in-memory
 * vector index and its HNSW graph, metadata filters. Other parts (the
 * server, the CLI, MCP) include store_api.h instead, and the public API in
 * mnemo.h.
 */
#ifndef MNEMO_STORE_H
#define MNEMO_STORE_H

#include "../core/core.h"
#include "store_api.h"

#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>

/* ------------------------------------------------------------ filters */

/* A validated filter (see mnemo.h); the JSON is kept and walked. Parsed
 * and freed by store_api.h's mnemo__filter_parse / _free. */
struct mnemo_filter {
    json_t *root;
};

/* The same from a JSON value (borrowed; NULL or json null: no filter). */
int mnemo__filter_from_json(json_t *v, mnemo_filter **out, mnemo_error *err);
/* Non-zero when `meta` (a JSON object) passes; a NULL filter passes all. */
int mnemo__filter_match(const mnemo_filter *f, const json_t *meta);

/* ------------------------------------------------------- vector index */

/* ------------------------------------------------ HNSW graph (hnsw.c) */

/* A search result or candidate: an index position (or a node id inside
 * hnsw.c) and its inner product with the query. */
typedef struct mnemo_hnsw_hit {
    size_t pos;
    float score;
} mnemo_hnsw_hit;

/* Non-zero when the entry at index position pos may be a result (scope,
 * expiry, filter); called for every node a search scores. */
typedef int (*mnemo_hnsw_accept)(void *ctx, size_t pos);

/* The index's int8 copy of its vectors, by index position: dim codes and
 * one scale each (x[i] ~ scale * code[i]; mnemo__quantize_i8). The graph
 * is walked and built on these alone. */
typedef struct mnemo_codes {
    const int8_t *codes;
    const float *scale;
} mnemo_codes;

/* Symmetric int8 with one scale per vector (its largest magnitude maps to
 * 127); returns the scale (0 for a zero or non-finite vector, codes 0). */
float mnemo__quantize_i8(const float *x, size_t dim, int8_t *out);

/* The graph over the index's vectors (see hnsw.c for the algorithm, the
 * deletion policy and the locking). Node ids are dense and reused. */
typedef struct mnemo_hnsw {
    size_t dim, m, m0, ef_construction;
    uint32_t n_nodes, cap; /* ids below n_nodes have been used */
    int64_t *pos;          /* node -> index position; -1: a free id */
    uint8_t *level;
    uint32_t *links0; /* per node a row of 1 + m0: the count, then the ids */
    uint32_t **upper; /* per node, levels 1..level, rows of 1 + m; NULL at level 0 */
    uint32_t *free_ids;
    size_t n_free, n_live;
    int64_t entry; /* the entry point; -1: empty */
    int max_level;
    uint64_t rng;
    mnemo_codes c; /* the index's codes, set by each call */
    int32_t (*dot_i8)(const int8_t *a, const int8_t *b, size_t n);
} mnemo_hnsw;

/* Errors: EINVAL (m outside 2..128, ef_construction 0, dim 0). */
int mnemo__hnsw_init(mnemo_hnsw *h, size_t dim, size_t m, size_t ef_construction, uint64_t seed);
void mnemo__hnsw_free(mnemo_hnsw *h);
/* Links the vector at index position pos in; *node receives its id. ENOMEM. */
int mnemo__hnsw_insert(mnemo_hnsw *h, mnemo_codes c, size_t pos, uint32_t *node);
/* Unlinks a node and repairs its neighbours' lists; its id is free after. */
void mnemo__hnsw_remove(mnemo_hnsw *h, mnemo_codes c, uint32_t node);
/* The node's entry moved to index position pos. */
void mnemo__hnsw_move(mnemo_hnsw *h, uint32_t node, size_t pos);
/* The best `cap` nodes that accept() passes, best first by their codes'
 * inner product with the query's (qc, qs from mnemo__quantize_i8), into out
 * (index positions), by a walk of beam width ef (raised to cap): a caller
 * passes cap >= ef to get the whole beam and rescore it. *complete is 0
 * when a filter passed so few that the walk gave up: search exactly then.
 * Reads only: searches may run concurrently. Errors: ENOMEM. */
int mnemo__hnsw_search(const mnemo_hnsw *h, mnemo_codes c, const int8_t *qc, float qs, size_t ef,
                       mnemo_hnsw_accept accept, void *accept_ctx, mnemo_hnsw_hit *out, size_t cap,
                       size_t *n_out, int *complete);
/* Room for n node ids without another allocation. Errors: ENOMEM. */
int mnemo__hnsw_reserve(mnemo_hnsw *h, uint32_t n);
/* Bytes the graph holds (links, ids, levels; not the index's codes). */
size_t mnemo__hnsw_bytes(const mnemo_hnsw *h);

/* One live memory, as the search needs it. Strings owned by the entry. */
typedef struct mnemo_index_entry {
    int64_t seq; /* the row's INTEGER PRIMARY KEY */
    char id[MNEMO_MEMORY_ID_SIZE];
    uint64_t text_hash;
    char *ns, *user_id, *agent_id, *session_id;
    double expires_at; /* 0: never */
    json_t *meta;      /* owned reference */
    int64_t node;      /* its HNSW node; -1: not in the graph (yet) */
} mnemo_index_entry;

/* Where the graph of an index stands. */
typedef enum mnemo_graph_state {
    MNEMO_GRAPH_NONE = 0, /* no graph: every search is exact */
    MNEMO_GRAPH_BUILDING, /* the builder links entries in; searches are exact */
    MNEMO_GRAPH_READY     /* every entry is in the graph; adds link in at once */
} mnemo_graph_state;

/* Entries and their vectors in one contiguous array (n * dim floats), so an
 * exact search is one pass over memory, and the same vectors in int8 (the
 * graph's, and the exact scan's when int8_only). Removal moves the last
 * entry into the hole. The HNSW graph over the codes is built once the
 * index holds graph_threshold entries (index.c). int8_only: no f32 array
 * (a quarter of the memory per vector); searches rescore their candidates
 * with the rows' f32 vectors from SQLite instead (store_read.c).
 * binary_only: neither f32 nor int8, only the signs (mnemo__binarize; words
 * 64-bit words per vector), no graph (graph_threshold SIZE_MAX); a search
 * scans them by Hamming distance and rescores the best from SQLite as
 * int8_only does. Guarded by the store's index lock. */
typedef struct mnemo_index {
    mnemo_index_entry *entries;
    float *vectors; /* NULL when int8_only or binary_only */
    int8_t *codes;  /* n * dim; NULL when binary_only */
    float *code_scale;
    int int8_only;
    int binary_only;
    uint64_t *bits;           /* binary_only: n * words */
    size_t words;             /* binary_only: dim / 64 rounded up */
    size_t binary_candidates; /* binary_only: the fewest candidates a search rescores */
    size_t binary_per_result; /* binary_only: and at least this many per result asked for */
    size_t n, cap, dim;
    mnemo_hnsw graph;
    mnemo_graph_state graph_state;
    size_t graph_threshold; /* live entries from which searches use the graph */
    size_t ef_search;
    size_t build_cursor; /* BUILDING: every entry below it is in the graph */
    uint64_t
        graph_changes; /* links made or removed once READY (graph_file.c saves when it moved) */
} mnemo_index;

/* A binary index's search rescores max(MNEMO_BINARY_PER_RESULT * k,
 * MNEMO_BINARY_CANDIDATES) candidates, the best by Hamming distance
 * (docs/memories.md, "binary index vectors": bench_store's recall@10
 * against exact at 100k and 1M chose them). */
#define MNEMO_BINARY_CANDIDATES 400
#define MNEMO_BINARY_PER_RESULT 40
/* Packs the signs of x (bit d of word d / 64: x[d] > 0) into out, words of
 * dim / 64 rounded up, the bits past dim 0. */
void mnemo__binarize(const float *x, size_t dim, uint64_t *out);

/* The defaults of the graph (docs/memories.md: the approximate index). */
#define MNEMO_GRAPH_THRESHOLD 20000
/* bench_store at 1M (768-d, 100 clusters in a 48-d subspace), recall@10
 * against exact: M 16 / ef_construction 100 gave 0.748 at ef_search 128 and
 * 0.818 at 256; M 32 / 200 gives 0.923 at 128, 0.976 at 256, 0.996 at 512
 * (p50 2.0 / 2.7 / 5.8 ms against the scan's 148 ms). */
#define MNEMO_HNSW_M 32
#define MNEMO_HNSW_EF_CONSTRUCTION 200
#define MNEMO_HNSW_EF_SEARCH 256
#define MNEMO_HNSW_SEED 0x6D6E656D6F484E53ULL
#define MNEMO_HNSW_MAX_LEVEL \
    24 /* no node above it; with M = 32 a level above 5 has odds below 1e-7 */

/* An empty index; the graph parameters are 0 for their defaults, and a
 * threshold of SIZE_MAX never builds a graph. Errors: EINVAL (m). */
/* Before the first add: the index keeps only the signs of its vectors
 * (binary_only; no graph, ever). */
void mnemo__index_set_binary(mnemo_index *ix);
int mnemo__index_init(mnemo_index *ix, size_t dim, size_t graph_threshold, size_t m,
                      size_t ef_construction, size_t ef_search);
void mnemo__index_free(mnemo_index *ix);
/* Takes ownership of e's strings and meta; copies vec (f32 unless
 * int8_only or binary_only, and its codes or its bits). Errors: ENOMEM. */
int mnemo__index_add(mnemo_index *ix, mnemo_index_entry *e, const float *vec);
/* Position of seq, or -1. */
long mnemo__index_find(const mnemo_index *ix, int64_t seq);
void mnemo__index_remove(mnemo_index *ix, int64_t seq);
/* A new vector for the entry at pos (a merge or an update re-embedded it):
 * copied into the array and re-linked in the graph. Errors: ENOMEM (the
 * entry then left the graph; searches fall back to exact for it only if the
 * graph is rebuilt, so the store logs it). */
int mnemo__index_set_vector(mnemo_index *ix, size_t pos, const float *vec);
/* With the index lock held for reading by the one builder thread: links up
 * to max entries into the graph. Returns 1 when every entry is in it (then
 * take the lock for writing and call mnemo__index_graph_ready). */
int mnemo__index_build_step(mnemo_index *ix, size_t max);
/* Under the write lock: READY if the build is complete (returns 1). */
int mnemo__index_graph_ready(mnemo_index *ix);
/* Under the write lock: NONE -> BUILDING once the index is big enough
 * (returns 1 when a build is due, i.e. BUILDING). */
int mnemo__index_graph_due(mnemo_index *ix);
/* The bytes of a graph file's header (graph_file.c; the fuzz target's). */
#define MNEMO_GRAPH_FILE_HEADER 64
/* graph_file.c: the READY graph of ix to path (a temporary file, fsync,
 * rename). Errors: EINVAL (no complete graph), EIO (logged). */
int mnemo__graph_save(const mnemo_index *ix, const char *path);
/* The two halves of a save: the file written as path.tmp (under the index
 * lock), then made durable and put in place (no lock needed). */
int mnemo__graph_write(const mnemo_index *ix, const char *path);
int mnemo__graph_commit(const char *path);
/* Right after the index is loaded (in seq order, no graph yet): the graph
 * from path, READY, if the file is whole and matches the memories exactly;
 * returns 1. Else 0 with the reason in why, and the index as it was. */
int mnemo__graph_load(mnemo_index *ix, const char *path, char *why, size_t why_len);
/* Dot product of two vectors of n floats (unit vectors: the cosine). */
float mnemo__dot(const float *a, const float *b, size_t n);
/* The index's codes for the graph calls. */
mnemo_codes mnemo__index_codes(const mnemo_index *ix);
/* The approximate inner product of the entry at pos with a quantized query. */
float mnemo__index_score_i8(const mnemo_index *ix, size_t pos, const int8_t *qc, float qs);
/* out = v / |v| (the norm in f64), for a vector a caller brought (an add's or
 * a search's); false, out untouched, when v is all zero or not finite. */
bool mnemo__unit_vector(const float *v, size_t n, float *out);
/* Non-zero when entry e lies in the search scope (NULL fields: any). */
int mnemo__scope_match(const mnemo_index_entry *e, const mnemo_memory_scope *s);
/* Non-zero when e's scope is exactly s (NULL = unset), for dedup. */
int mnemo__scope_equal(const mnemo_index_entry *e, const mnemo_memory_scope *s);
/* Non-zero when e has not expired at now. */
int mnemo__entry_live(const mnemo_index_entry *e, double now);

/* -------------------------------------------------------------- store */

#define MNEMO_STORE_READERS 8 /* idle read connections kept */

/*
 * A backend: where the memories live. mnemo_store_open() picks one from the
 * store URL (store_backend.c) and every public mnemo_memory_* / mnemo_store_*
 * call goes through this table, so nothing above the store knows which.
 * Each entry has the signature and the contract of the public function of
 * the same name in mnemo.h.
 */
typedef struct mnemo_store_backend {
    const char *name; /* "sqlite", "postgres" */
    void (*close)(mnemo_store *s);
    int (*sweep)(mnemo_store *s, size_t *n_deleted, mnemo_error *err);
    int (*add)(mnemo_store *s, const mnemo_memory_input *in, size_t n, mnemo_memory_added *out,
               mnemo_error *err);
    int (*update)(mnemo_store *s, const char *id, const mnemo_memory_changes *u, mnemo_error *err);
    int (*remove)(mnemo_store *s, const char *id, mnemo_error *err);
    int (*remove_where)(mnemo_store *s, const mnemo_memory_scope *scope, const char *filter,
                        size_t *n_deleted, mnemo_error *err);
    int (*search)(mnemo_store *s, const mnemo_search_options *o, mnemo_memories **out,
                  mnemo_error *err);
    int (*get)(mnemo_store *s, const char *id, mnemo_memories **out, mnemo_error *err);
    int (*list)(mnemo_store *s, const mnemo_list_options *o, mnemo_memories **out,
                mnemo_error *err);
    int (*count)(mnemo_store *s, const mnemo_memory_scope *scope, const char *filter, size_t *n,
                 mnemo_error *err);
    int (*history)(mnemo_store *s, const char *id, mnemo_history **out, mnemo_error *err);
} mnemo_store_backend;

/* The SQLite backend (store.c, store_read.c, store_write.c). */
extern const mnemo_store_backend mnemo__sqlite_backend;
int mnemo__sqlite_open(const mnemo_store_options *opts, mnemo_store **out, mnemo_error *err);
void mnemo__sqlite_close(mnemo_store *s);
int mnemo__sqlite_sweep(mnemo_store *s, size_t *n_deleted, mnemo_error *err);
int mnemo__sqlite_memory_add(mnemo_store *s, const mnemo_memory_input *in, size_t n,
                             mnemo_memory_added *out, mnemo_error *err);
int mnemo__sqlite_memory_update(mnemo_store *s, const char *id, const mnemo_memory_changes *u,
                                mnemo_error *err);
int mnemo__sqlite_memory_delete(mnemo_store *s, const char *id, mnemo_error *err);
int mnemo__sqlite_memory_delete_where(mnemo_store *s, const mnemo_memory_scope *scope,
                                      const char *filter, size_t *n_deleted, mnemo_error *err);
int mnemo__sqlite_memory_search(mnemo_store *s, const mnemo_search_options *o, mnemo_memories **out,
                                mnemo_error *err);
int mnemo__sqlite_memory_get(mnemo_store *s, const char *id, mnemo_memories **out,
                             mnemo_error *err);
int mnemo__sqlite_memory_list(mnemo_store *s, const mnemo_list_options *o, mnemo_memories **out,
                              mnemo_error *err);
int mnemo__sqlite_memory_count(mnemo_store *s, const mnemo_memory_scope *scope, const char *filter,
                               size_t *n, mnemo_error *err);
int mnemo__sqlite_memory_history(mnemo_store *s, const char *id, mnemo_history **out,
                                 mnemo_error *err);

/* The PostgreSQL backend (pg.c, pg_filter.c): opts->url is postgres://...
 * or postgresql://... */
extern const mnemo_store_backend mnemo__pg_backend;
int mnemo__pg_open(const mnemo_store_options *opts, mnemo_store **out, mnemo_error *err);

/*
 * The store's locks, what each guards, and the one order they nest in (a
 * thread holding a lock takes only locks further down this list; the ones
 * marked leaf are never held while another is taken):
 *
 *   write_lock   the writer connection and every write transaction (add,
 *                update, delete, sweep): one writer at a time, in process.
 *                Across processes: lock_fd's flock() on DIR/memories.lock.
 *   embed_lock   the store's embedding context (one caller at a time). Taken
 *                before write_lock by adds and updates (texts are embedded
 *                outside the write), and under it only when an update finds
 *                that another changed the memory's prompt meanwhile.
 *   index_lock   (rwlock) the in-memory index and its graph: read by searches
 *                and by an add's dedup (under write_lock), written to apply a
 *                committed change (under write_lock), and by the graph
 *                builder when it turns the graph READY.
 *   reader_lock  leaf: the pool of idle read connections (a connection is
 *                taken before index_lock and used under it to rescore).
 *   build_lock   leaf: the builder thread's wake-up and stop flag.
 *   sweep_lock   leaf: the sweeper thread's wake-up and stop flag (the sweep
 *                itself runs without it, under write_lock).
 *
 * PostgreSQL has one more, the connection pool's lock (pg.c), a leaf too;
 * its writes are serialized by PostgreSQL, not by write_lock.
 */
struct mnemo_store {
    const mnemo_store_backend *backend;
    struct mnemo_pg *pg; /* the PostgreSQL backend's state; NULL for SQLite */
    char *dir, *db_path;
    char *graph_path;             /* DIR/graph.hnsw (graph_file.c) */
    uint64_t graph_saved_changes; /* index.graph_changes when the file was written */
    int graph_loaded;             /* the graph came from the file at open */
    char *db_uri;                 /* what connections open: db_path, or an immutable file: URI */
    const mnemo_model *model;
    char model_name[256];
    mnemo_context *ctx; /* embedding; guarded by embed_lock */
    pthread_mutex_t embed_lock;
    size_t dim;
    int read_only, no_dedup;
    char read_only_why[200]; /* for write errors: why the store is read-only */
    int lock_fd;             /* DIR/memories.lock, flock()ed by the one writer process */
    double dedup_threshold;
    size_t max_text, max_metadata;
    double (*clock)(void *);
    void *clock_ctx;

    sqlite3 *writer; /* guarded by write_lock */
    pthread_mutex_t write_lock;
    sqlite3 *readers[MNEMO_STORE_READERS]; /* idle, guarded by reader_lock */
    int n_readers;
    pthread_mutex_t reader_lock;

    mnemo_index index;
    pthread_rwlock_t index_lock;

    pthread_t sweeper;
    int has_sweeper, stopping;
    double sweep_seconds;
    pthread_mutex_t sweep_lock;
    pthread_cond_t sweep_cond;

    /* the builder of the HNSW graph (store.c), guarded by build_lock */
    pthread_t builder;
    int has_builder, build_stopping;
    pthread_mutex_t build_lock;
    pthread_cond_t build_cond;
};

/* Waits until the graph is ready, or not due (fewer memories than the
 * threshold); for tests and benchmarks that must know which path a search
 * takes. Returns 1 when searches of big enough scopes walk the graph. */
int mnemo__store_graph_wait(mnemo_store *s);

double mnemo__store_now(const mnemo_store *s);
/* A read connection (never blocked by the writer: WAL). Put it back. */
int mnemo__store_reader(mnemo_store *s, sqlite3 **db, mnemo_error *err);
void mnemo__store_reader_put(mnemo_store *s, sqlite3 *db);
/*
 * The vector search under the index lock (held for reading by the caller):
 * the best cap entries by f32 inner product with q among those pre() passes
 * (cheap: scope, expiry; checked before an entry is scored) and post() (NULL:
 * all; a metadata filter, checked only for an entry good enough to enter the
 * list), into top as (index position, score), best first; *n. A walk of the
 * graph unless exact or the graph is not READY, rescored in f32; the exact
 * scan when the walk finds fewer than cap. An int8_only index scans and
 * walks its codes and rescores its candidates with the rows' f32 vectors
 * read on db; a binary_only one scans its bits (exact changes nothing) and
 * rescores the same way. Errors: ENOMEM, EIO (reading db).
 */
int mnemo__store_nearest(const mnemo_store *s, sqlite3 *db, const float *q, int exact,
                         mnemo_hnsw_accept pre, mnemo_hnsw_accept post, void *ctx,
                         mnemo_hnsw_hit *top, size_t cap, size_t *n);
/* The pre and post of mnemo__store_nearest for a search (scope_match) and
 * for dedup (exact_scope: scope_equal): a live entry of the scope, then the
 * filter (f; NULL passes all). ctx is a mnemo_scope_accept. */
typedef struct mnemo_scope_accept {
    const mnemo_index *ix;
    const mnemo_memory_scope *sc;
    const mnemo_filter *f;
    double now;
    int exact_scope;
} mnemo_scope_accept;
int mnemo__accept_scope(void *ctx, size_t pos);
int mnemo__accept_filter(void *ctx, size_t pos);
/* Maps a failed SQLite call to EIO with a message saying why (disk full,
 * read-only, ...). */
int mnemo__store_sqlite_fail(mnemo_error *err, sqlite3 *db, int rc, const char *what);
/* Embeds n texts with the named prompt into out (n * dim). */
int mnemo__store_embed(mnemo_store *s, const char *const *texts, const size_t *lens, size_t n,
                       const char *prompt, float *out, mnemo_error *err);
const char *mnemo__scope_ns(const mnemo_memory_scope *sc);
/* Validates metadata text: a JSON object within the size limit. On success
 * *meta owns the parsed object and *compact (mnemo__free) its compact text. */
int mnemo__metadata_parse(const mnemo_store *s, const char *text, const char *where, json_t **meta,
                          char **compact, mnemo_error *err);
/* Fills m from a row of MNEMO_MEMORY_COLUMNS starting at column `col`. */
#define MNEMO_MEMORY_COLUMNS                                                                 \
    "id, text, metadata, namespace, user_id, agent_id, session_id, created_at, updated_at, " \
    "expires_at, "                                                                           \
    "prompt_name"
int mnemo__memory_from_row(sqlite3_stmt *st, int col, mnemo_memory *m);
void mnemo__memory_clear(mnemo_memory *m);

/* Shared by both backends (store_backend.c unless noted): the checks of an
 * input's text (1..max_text bytes of UTF-8) and expiry (ttl or expires_at,
 * not both; *out the absolute time or 0) — in store_write.c; the common
 * part of opening (limits, clock, the embedding context, the locks); the
 * sweep thread (store.c); the checks of search options; the message for a
 * store built with another model. */
int mnemo__check_text(const mnemo_store *s, const char *text, size_t len, const char *where,
                      mnemo_error *err);
int mnemo__check_expiry(double now, double ttl, double expires_at, const char *where, double *out,
                        mnemo_error *err);
/* A prompt name of the store's model or NULL (EINVAL naming the prompts it
 * has), and the name a memory records for it (NULL for "document"), as the
 * SQLite add does (store_write.c). */
int mnemo__check_prompt(const mnemo_store *s, const char *name, const char *where,
                        mnemo_error *err);
const char *mnemo__recorded_prompt(const char *name);
/* Non-zero when two recorded prompts are the same (NULL: "document"). */
int mnemo__same_prompt(const char *a, const char *b);
/* Embeds the inputs that came without a vector into vecs (n * dim, the row
 * of input i at i * dim), one embedding call per prompt (one in all unless
 * the batch mixes prompts); rows of inputs with a vector are untouched.
 * Errors: ENOMEM, and those of embedding. */
int mnemo__embed_inputs(mnemo_store *s, const mnemo_memory_input *in, size_t n, float *vecs,
                        mnemo_error *err);
/* The hash of a text that exact dedup compares (store_write.c). */
uint64_t mnemo__text_hash(const char *text, size_t len);
/* A search's vector: the caller's made unit, or the query embedded with
 * the "query" prompt, into q (dim floats). Errors: EINVAL, as embedding. */
int mnemo__query_vector(mnemo_store *s, const mnemo_search_options *o, float *q, mnemo_error *err);
/* The words of a text query (runs of letters, digits, '_' or non-ASCII
 * bytes; the first 64), each between two `quote`s, joined by sep: the FTS5
 * expression ('"', " OR ") or the tsquery ('\'', " | "), so no query syntax
 * from the user reaches the parser. "" when it has no word; NULL: no memory. */
char *mnemo__query_words(const char *q, size_t len, char quote, const char *sep);
/* One search candidate: its row and score. mnemo__rrf_fuse writes into out
 * (room for nv + nt) the reciprocal-rank fusion of two lists ranked best
 * first: each adds 1 / (MNEMO_RRF_K + rank) to a row, rank from 1; *n_out
 * rows, best first (mnemo__hits_sort: stable). */
typedef struct mnemo_hit {
    int64_t seq;
    double score;
} mnemo_hit;
void mnemo__rrf_fuse(const mnemo_hit *v, size_t nv, const mnemo_hit *t, size_t nt, mnemo_hit *out,
                     size_t *n_out);
void mnemo__hits_sort(mnemo_hit *h, size_t n);
/* How many hits each list of a search gathers: k, and for hybrid mode
 * max(k, 50), so the fusion sees enough of both lists. */
size_t mnemo__search_depth(const mnemo_search_options *o, size_t k);
/* A search's ranked rows into out (room for nv + nt): the vector list, the
 * text list or their fusion, as o->mode says, cut to k and to o->min_score;
 * how many. */
size_t mnemo__search_ranked(const mnemo_search_options *o, size_t k, const mnemo_hit *v, size_t nv,
                            const mnemo_hit *t, size_t nt, mnemo_hit *out);
/* Every check of one input to add (text, scope, expiry, metadata, prompt,
 * its vector's width; `where` prefixes messages, e.g. "memories[3]."): on
 * success *expires_at, *meta and *meta_text (as mnemo__metadata_parse) are
 * set, and vec (dim floats) holds the input's vector made unit, if it came
 * with one. Both backends' adds call it. */
int mnemo__input_check(const mnemo_store *s, const mnemo_memory_input *in, const char *where,
                       double now, double *expires_at, json_t **meta, char **meta_text, float *vec,
                       mnemo_error *err);
/* The checks of an update's changes (both backends' updates). */
int mnemo__check_changes(const mnemo_store *s, const mnemo_memory_changes *u, mnemo_error *err);
int mnemo__store_init(mnemo_store *s, const mnemo_store_options *opts, mnemo_error *err);
/* What the options ask for, whichever way they say it (a flag or the old
 * special value): a sweeper thread; the graph threshold (SIZE_MAX: never). */
bool mnemo__store_wants_sweeper(const mnemo_store_options *opts);
size_t mnemo__store_index_threshold(const mnemo_store_options *opts);
void mnemo__store_fini(mnemo_store *s);
int mnemo__store_start_sweeper(mnemo_store *s);
void mnemo__store_stop_sweeper(mnemo_store *s);
int mnemo__search_check(const mnemo_store *s, const mnemo_search_options *o, size_t *k,
                        mnemo_error *err);
int mnemo__model_mismatch(mnemo_error *err, const char *where, const char *have_name,
                          const char *have_dim, const mnemo_store *s, const char *what,
                          const char *detail);
/* The text whose document embedding identifies a model (store.c), and the
 * cosine below which a recorded one is another model's (as store.c's). */
const char *mnemo__store_fingerprint_text(void);
#define MNEMO_FINGERPRINT_MIN_COSINE 0.98

/* A memory as a JSON object (id, text, metadata, namespace, ..., score when
 * with_score). */
json_t *mnemo__memory_json(const mnemo_memory *m, int with_score);

#endif /* MNEMO_STORE_H */
