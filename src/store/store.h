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

/* One live memory, as the search needs it. Strings owned by the entry. */
typedef struct mnemo_index_entry {
    int64_t seq; /* the row's INTEGER PRIMARY KEY */
    char id[MNEMO_MEMORY_ID_SIZE];
    uint64_t text_hash;
    char *ns, *user_id, *agent_id, *session_id;
    double expires_at; /* 0: never */
    json_t *meta;      /* owned reference */
} mnemo_index_entry;

/* Entries and their vectors in one contiguous array (n * dim floats), so an
 * exact search is one pass over memory. Removal moves the last entry into
 * the hole. Guarded by the store's index lock. */
typedef struct mnemo_index {
    mnemo_index_entry *entries;
    float *vectors;
    size_t n, cap, dim;
} mnemo_index;

void mnemo__index_init(mnemo_index *ix, size_t dim);
void mnemo__index_free(mnemo_index *ix);
/* Takes ownership of e's strings and meta; copies vec. Errors: ENOMEM. */
int mnemo__index_add(mnemo_index *ix, mnemo_index_entry *e, const float *vec);
/* Position of seq, or -1. */
long mnemo__index_find(const mnemo_index *ix, int64_t seq);
void mnemo__index_remove(mnemo_index *ix, int64_t seq);
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
};

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
