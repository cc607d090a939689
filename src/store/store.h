/*
 * store.h — the internal header of the store part (memories): the store
 * struct shared by the store's files, the in-memory vector index, metadata
 * filters, and the JSON request layer that the CLI, MCP and HTTP routes call.
 * Other parts use only the functions marked "for other parts" below, and the
 * public API in mnemo.h.
 */
#ifndef MNEMO_STORE_H
#define MNEMO_STORE_H

#include "../core/core.h"

#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>

/* ------------------------------------------------------------ filters */

/* A validated filter (see mnemo.h); the JSON is kept and walked. */
typedef struct mnemo_filter {
    json_t *root;
} mnemo_filter;

/* Parses and validates filter JSON text (NULL or "": no filter, *out NULL).
 * Errors: EINVAL naming the bad operator or value and its path. */
int mnemo__filter_parse(const char *text, mnemo_filter **out, mnemo_error *err);
/* The same from a JSON value (borrowed; NULL or json null: no filter). */
int mnemo__filter_from_json(json_t *v, mnemo_filter **out, mnemo_error *err);
/* Non-zero when `meta` (a JSON object) passes; a NULL filter passes all. */
int mnemo__filter_match(const mnemo_filter *f, const json_t *meta);
void mnemo__filter_free(mnemo_filter *f);

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

/* The graph over the index's vectors (see hnsw.c for the algorithm, the
 * deletion policy and the locking). Node ids are dense and reused. */
typedef struct mnemo_hnsw {
    size_t dim, m, m0, ef_construction;
    uint32_t n_nodes, cap; /* ids below n_nodes have been used */
    int64_t *pos;          /* node -> index position; -1: a free id */
    uint8_t *level;
    uint32_t *links0;  /* per node a row of 1 + m0: the count, then the ids */
    uint32_t **upper;  /* per node, levels 1..level, rows of 1 + m; NULL at level 0 */
    uint32_t *free_ids;
    size_t n_free, n_live;
    int64_t entry; /* the entry point; -1: empty */
    int max_level;
    uint64_t rng;
    const float *vectors; /* the index's array, set by each call */
} mnemo_hnsw;

/* Errors: EINVAL (m outside 2..128, ef_construction 0, dim 0). */
int mnemo__hnsw_init(mnemo_hnsw *h, size_t dim, size_t m, size_t ef_construction, uint64_t seed);
void mnemo__hnsw_free(mnemo_hnsw *h);
/* Links the vector at index position pos in; *node receives its id. ENOMEM. */
int mnemo__hnsw_insert(mnemo_hnsw *h, const float *vectors, size_t pos, uint32_t *node);
/* Unlinks a node and repairs its neighbours' lists; its id is free after. */
void mnemo__hnsw_remove(mnemo_hnsw *h, const float *vectors, uint32_t node);
/* The node's entry moved to index position pos. */
void mnemo__hnsw_move(mnemo_hnsw *h, uint32_t node, size_t pos);
/* The best `cap` nodes that accept() passes, best first, into out (index
 * positions), by a walk of beam width ef (raised to cap). *complete is 0
 * when a filter passed so few that the walk gave up: search exactly then.
 * Reads only: searches may run concurrently. Errors: ENOMEM. */
int mnemo__hnsw_search(const mnemo_hnsw *h, const float *vectors, const float *q, size_t ef,
                       mnemo_hnsw_accept accept, void *accept_ctx, mnemo_hnsw_hit *out, size_t cap,
                       size_t *n_out, int *complete);
/* Bytes the graph holds (links, ids, levels). */
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
 * exact search is one pass over memory. Removal moves the last entry into
 * the hole. The HNSW graph over the same vectors is built once the index
 * holds graph_threshold entries (index.c). Guarded by the store's index lock. */
typedef struct mnemo_index {
    mnemo_index_entry *entries;
    float *vectors;
    size_t n, cap, dim;
    mnemo_hnsw graph;
    mnemo_graph_state graph_state;
    size_t graph_threshold; /* live entries from which searches use the graph */
    size_t ef_search;
    size_t build_cursor; /* BUILDING: every entry below it is in the graph */
} mnemo_index;

/* The defaults of the graph (README "memories": the approximate index). */
#define MNEMO_GRAPH_THRESHOLD 20000
#define MNEMO_HNSW_M 16
#define MNEMO_HNSW_EF_CONSTRUCTION 100
#define MNEMO_HNSW_EF_SEARCH 128 /* bench_store at 100k: recall@10 0.950 at 64, 1.000 at 128 */
#define MNEMO_HNSW_SEED 0x6D6E656D6F484E53ULL

/* An empty index; the graph parameters are 0 for their defaults, and a
 * threshold of SIZE_MAX never builds a graph. Errors: EINVAL (m). */
int mnemo__index_init(mnemo_index *ix, size_t dim, size_t graph_threshold, size_t m, size_t ef_construction,
                      size_t ef_search);
void mnemo__index_free(mnemo_index *ix);
/* Takes ownership of e's strings and meta; copies vec. Errors: ENOMEM. */
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
/* Dot product of two vectors of n floats (unit vectors: the cosine). */
float mnemo__dot(const float *a, const float *b, size_t n);
/* out = v / |v| (the norm in f64), for a vector a caller brought (an add's or
 * a search's); false, out untouched, when v is all zero or not finite. */
bool mnemo__unit_vector(const float *v, size_t n, float *out);
/* Non-zero when entry e lies in the search scope (NULL fields: any). */
int mnemo__scope_match(const mnemo_index_entry *e, const mnemo_memory_scope *s);
/* Non-zero when e's scope is exactly s (NULL = unset), for dedup. */
int mnemo__scope_equal(const mnemo_index_entry *e, const mnemo_memory_scope *s);

/* -------------------------------------------------------------- store */

#define MNEMO_STORE_READERS 8 /* idle read connections kept */

struct mnemo_store {
    char *dir, *db_path;
    char *db_uri; /* what connections open: db_path, or an immutable file: URI */
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
/* Maps a failed SQLite call to EIO with a message saying why (disk full,
 * read-only, ...). */
int mnemo__store_sqlite_fail(mnemo_error *err, sqlite3 *db, int rc, const char *what);
/* Embeds n texts with the named prompt into out (n * dim). */
int mnemo__store_embed(mnemo_store *s, const char *const *texts, const size_t *lens, size_t n,
                       const char *prompt, float *out, mnemo_error *err);
/* Validates a scope (UTF-8, lengths); the namespace NULL/"" means "default". */
int mnemo__scope_check(const mnemo_memory_scope *sc, const char *where, mnemo_error *err);
const char *mnemo__scope_ns(const mnemo_memory_scope *sc);
/* Validates metadata text: a JSON object within the size limit. On success
 * *meta owns the parsed object and *compact (mnemo__free) its compact text. */
int mnemo__metadata_parse(const mnemo_store *s, const char *text, const char *where,
                          json_t **meta, char **compact, mnemo_error *err);
/* Fills m from a row of MNEMO_MEMORY_COLUMNS starting at column `col`. */
#define MNEMO_MEMORY_COLUMNS \
    "id, text, metadata, namespace, user_id, agent_id, session_id, created_at, updated_at, expires_at, " \
    "prompt_name"
int mnemo__memory_from_row(sqlite3_stmt *st, int col, mnemo_memory *m);
void mnemo__memory_clear(mnemo_memory *m);

/* ------------------------------------------- JSON requests (for other parts) */

/*
 * Runs one memory operation given as a JSON object, the shape of the HTTP
 * bodies (README "memories"): op is "add", "search", "get", "update",
 * "delete", "list", "count" or "history". On success *resp is a new JSON
 * value (the caller decrefs). On failure err says what is wrong; `param`
 * (cap bytes, may be NULL) names the request field at fault ("" if none).
 * Unknown fields, wrong types and bad values are refused before anything
 * is stored.
 */
int mnemo__store_json(mnemo_store *s, const char *op, json_t *req, json_t **resp,
                      mnemo_error *err, char *param, size_t cap);
/* A memory as a JSON object (id, text, metadata, namespace, ..., score when
 * with_score). */
json_t *mnemo__memory_json(const mnemo_memory *m, int with_score);

/* The memory tools over MCP (store_mcp.c): one JSON-RPC 2.0 message in
 * (borrowed), its reply out (new; NULL for a notification or a response). */
json_t *mnemo__mcp_handle(mnemo_store *s, json_t *msg);

#endif /* MNEMO_STORE_H */
