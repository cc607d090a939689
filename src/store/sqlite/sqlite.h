/*
 * sqlite.h — what the SQLite backend's files share (open.c: the data
 * folder, connections, schema, model record, the in-memory index and its
 * graph builder; read.c and write.c: the primitives of store.h's table;
 * backup.c), and what tests and benchmarks reach into (the index, a read
 * connection, waiting for the graph). Only the files of sqlite/, tests and
 * benchmarks include it.
 */
#ifndef MNEMO_STORE_SQLITE_H
#define MNEMO_STORE_SQLITE_H

#include "../index/index.h"
#include "../store.h"

#include <sqlite3.h>

#define MNEMO_STORE_READERS 8 /* idle read connections kept */

/* The SQLite backend's state (store.h's lock order names its locks). */
typedef struct sqlite_db {
    mnemo_store_db base; /* first: s->db points here */
    char *dir, *db_path;
    char *graph_path;             /* DIR/graph.hnsw (graph_file.c) */
    uint64_t graph_saved_changes; /* index.graph_changes when the file was written */
    int graph_loaded;             /* the graph came from the file at open */
    char *db_uri;                 /* what connections open: db_path, or an immutable file: URI */
    int lock_fd;                  /* DIR/memories.lock, flock()ed by the one writer process */

    sqlite3 *writer; /* guarded by write_lock */
    pthread_mutex_t write_lock;
    sqlite3 *readers[MNEMO_STORE_READERS]; /* idle, guarded by reader_lock */
    int n_readers;
    pthread_mutex_t reader_lock;

    mnemo_index index;
    pthread_rwlock_t index_lock;

    /* the builder of the HNSW graph (open.c), guarded by build_lock */
    pthread_t builder;
    int has_builder, build_stopping;
    pthread_mutex_t build_lock;
    pthread_cond_t build_cond;
} sqlite_db;

/* The SQLite state of a store of this backend (s->db, which it extends). */
sqlite_db *mnemo__sqlite_db(const mnemo_store *s);

/* Waits until the graph is ready, or not due (fewer memories than the
 * threshold); for tests and benchmarks that must know which path a search
 * takes. Returns 1 when searches of big enough scopes walk the graph. */
int mnemo__store_graph_wait(mnemo_store *s);

/* A read connection (never blocked by the writer: WAL). Put it back. */
int mnemo__store_reader(mnemo_store *s, sqlite3 **db, mnemo_error *err);
void mnemo__store_reader_put(mnemo_store *s, sqlite3 *db);
/* Maps a failed SQLite call to EIO with a message saying why (disk full,
 * read-only, ...). */
int mnemo__store_sqlite_fail(mnemo_error *err, sqlite3 *db, int rc, const char *what);

/* Fills m from a row of MNEMO_MEMORY_COLUMNS starting at column `col`. */
#define MNEMO_MEMORY_COLUMNS                                                                 \
    "id, text, metadata, namespace, user_id, agent_id, session_id, created_at, updated_at, " \
    "expires_at, "                                                                           \
    "prompt_name"
int mnemo__memory_from_row(sqlite3_stmt *st, int col, mnemo_memory *m);

/* The primitives (store.h's mnemo_store_ops), by file. read.c: */
int mnemo__sqlite_begin_read(mnemo_store *s, mnemo_store_conn **c, mnemo_error *err);
void mnemo__sqlite_end_read(mnemo_store *s, mnemo_store_conn *c);
int mnemo__sqlite_nearest(mnemo_store *s, mnemo_store_conn *c, const mnemo_store_query *q,
                          const float *v, int exact, mnemo_hit *out, size_t cap, size_t *n,
                          mnemo_error *err);
int mnemo__sqlite_text(mnemo_store *s, mnemo_store_conn *c, const mnemo_store_query *q,
                       const char *text, size_t len, mnemo_hit *out, size_t cap, size_t *n,
                       mnemo_error *err);
int mnemo__sqlite_fetch(mnemo_store *s, mnemo_store_conn *c, const mnemo_hit *hits, size_t n,
                        double now, mnemo_memories *out, mnemo_error *err);
int mnemo__sqlite_get(mnemo_store *s, const char *id, double now, mnemo_memories *out,
                      mnemo_error *err);
int mnemo__sqlite_list(mnemo_store *s, const mnemo_store_query *q, int64_t after, size_t limit,
                       mnemo_memories *out, int64_t *last, int *more, mnemo_error *err);
int mnemo__sqlite_count(mnemo_store *s, const mnemo_store_query *q, size_t *n, mnemo_error *err);
int mnemo__sqlite_history(mnemo_store *s, const char *id, mnemo_history *out, mnemo_error *err);
int mnemo__sqlite_prompt_of(mnemo_store *s, const char *id, char **prompt, mnemo_error *err);
/* The index's vector search in scope (exact_scope: exactly it, for dedup),
 * rescored from the rows on db; under the index lock held by the caller. */
int mnemo__sqlite_index_nearest(mnemo_store *s, sqlite3 *db, const float *v,
                                const mnemo_memory_scope *sc, const mnemo_filter *f, double now,
                                int exact, int exact_scope, mnemo_hnsw_hit *top, size_t cap,
                                size_t *n);
/* Non-zero when index entry e is of scope sc: in it (NULL fields: any), or
 * exactly it (NULL = unset, for dedup). */
int mnemo__scope_match(const mnemo_index_entry *e, const mnemo_memory_scope *sc);
int mnemo__scope_equal(const mnemo_index_entry *e, const mnemo_memory_scope *sc);
/* For export (store.h's vector and namespaces): */
int mnemo__sqlite_memory_vector(mnemo_store *s, const char *id, float *out, mnemo_error *err);
int mnemo__sqlite_namespaces(mnemo_store *s, char ***out, size_t *n, mnemo_error *err);
/* write.c: */
int mnemo__sqlite_begin_write(mnemo_store *s, mnemo_store_conn **c, mnemo_error *err);
int mnemo__sqlite_end_write(mnemo_store *s, mnemo_store_conn *c, int rc, const char *what,
                            mnemo_error *err);
int mnemo__sqlite_find_repeat(mnemo_store *s, mnemo_store_conn *c, const mnemo_store_row *r,
                              mnemo_store_found *f, mnemo_error *err);
int mnemo__sqlite_find_nearest(mnemo_store *s, mnemo_store_conn *c, const mnemo_store_row *r,
                               const int64_t *skip, size_t n_skip, mnemo_store_found *f,
                               mnemo_error *err);
int mnemo__sqlite_insert(mnemo_store *s, mnemo_store_conn *c, mnemo_store_row *r, mnemo_error *err);
int mnemo__sqlite_row(mnemo_store *s, mnemo_store_conn *c, const char *id, double now,
                      mnemo_store_found *f, mnemo_error *err);
int mnemo__sqlite_rewrite(mnemo_store *s, mnemo_store_conn *c, const mnemo_store_row *r,
                          const char *reason, mnemo_error *err);
int mnemo__sqlite_remove(mnemo_store *s, const char *id, double now, size_t *n, mnemo_error *err);
int mnemo__sqlite_remove_where(mnemo_store *s, const mnemo_store_query *q, size_t *n,
                               mnemo_error *err);
int mnemo__sqlite_sweep(mnemo_store *s, double now, size_t *n, mnemo_error *err);
/* backup.c: */
int mnemo__sqlite_backup(mnemo_store *s, const char *out_dir, mnemo_backup_report *rep,
                         mnemo_error *err);

#endif /* MNEMO_STORE_SQLITE_H */
