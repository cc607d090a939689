/*
 * store.h — the core of the store part (memories), as its own files and the
 * backends see it: the store struct, the table of primitive operations a
 * backend gives (struct mnemo_store_ops, on the base struct mnemo_store_db
 * each backend extends), metadata filters, and the helpers a backend may
 * call. The flows (validation, limits, embedding, dedup, fusion, expiry,
 * history) are the core's (store.c, store_read.c, store_write.c) and call
 * the primitives; a backend never calls a flow. Other parts (the server,
 * the CLI, MCP) include store_api.h instead, and the public API in mnemo.h.
 * docs/store.md draws the layers.
 */
#ifndef MNEMO_STORE_H
#define MNEMO_STORE_H

#include "../core/core.h"
#include "store_api.h"

#include <jansson.h>
#include <pthread.h>

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

/* ------------------------------------------------------- the backends */

typedef struct mnemo_store_ops mnemo_store_ops;

/* The base every backend's state extends, first member of its struct (as
 * sqlite3_vfs is): struct sqlite_db in sqlite/, struct pg_db in postgres/. */
typedef struct mnemo_store_db {
    const mnemo_store_ops *ops;
} mnemo_store_db;

/* A backend's connection for one read or one write, opaque to the core. */
typedef struct mnemo_store_conn mnemo_store_conn;

/* One search candidate or result row: its seq and score. */
typedef struct mnemo_hit {
    int64_t seq;
    double score;
} mnemo_hit;

/* What a read selects: live at now, in scope (its NULL fields: any), passing
 * the filter (NULL: all). */
typedef struct mnemo_store_query {
    const mnemo_memory_scope *scope;
    const mnemo_filter *filter;
    double now;
} mnemo_store_query;

/* A row as the core writes it (insert) or rewrites it (a merge or an
 * update of row seq). */
typedef struct mnemo_store_row {
    int64_t seq; /* rewrite: the row; insert: set by the backend */
    const char *id;
    const char *text;
    size_t text_len;
    uint64_t hash; /* mnemo__text_hash(text) */
    const char *meta_text;
    json_t *meta;                    /* meta_text parsed (borrowed); rewrite NULL: unchanged */
    const mnemo_memory_scope *scope; /* insert, and the lookups of dedup */
    double now;                      /* updated_at (rewrite) */
    double created_at, updated_at;   /* insert */
    /* insert of an imported memory: the id is the caller's (a row that has
     * it already is left alone: *exists set), and its events are history's
     * (none: "added" at created_at) */
    int imported;
    const mnemo_history_event *history;
    size_t n_history;
    int exists;
    double expires_at;  /* 0: never */
    const float *vec;   /* dim floats, unit; rewrite NULL: unchanged */
    const char *prompt; /* recorded: NULL for "document" */
} mnemo_store_row;

/* A memory the backend found: by dedup (seq, id, score: the cosine), or
 * read for a change (row(): also its text, metadata, expiry and prompt,
 * owned; mnemo__found_clear). seq 0: none. */
typedef struct mnemo_store_found {
    int64_t seq;
    char id[MNEMO_MEMORY_ID_SIZE];
    double score;
    char *text, *meta, *prompt;
    size_t text_len;
    double expires_at;
} mnemo_store_found;
void mnemo__found_clear(mnemo_store_found *f);

/* A model record as a store keeps it, and how the backend names the store
 * in messages. Strings and fingerprint owned (mnemo__model_record_clear). */
typedef struct mnemo_model_record {
    char *name, *dim, *doc, *query; /* NULL: absent */
    float *fingerprint;             /* the fixed text's vector, dim floats; NULL: absent or bad */
    char where[400];                /* the store: "DIR", "the PostgreSQL store at HOST:PORT/DB" */
    char source[400];               /* where the record lies: "DIR/memories.db: store_info" */
    const char *instead;            /* what else to open: "--data-dir", "store" */
} mnemo_model_record;
void mnemo__model_record_clear(mnemo_model_record *r);

/*
 * The primitive operations of a backend: each reads or writes rows and
 * nothing else. The core has checked every argument (ids not empty, scopes,
 * filters parsed, limits, read-only), taken the time, and embedded; the
 * backend only runs its storage. Errors: EIO with what failed and why,
 * ENOMEM; none returns ENOENT (the core says "no memory").
 */
struct mnemo_store_ops {
    const char *name; /* "sqlite", "postgres" */
    void (*close)(mnemo_store *s);

    /* -- reads, on one connection from begin_read to end_read */
    int (*begin_read)(mnemo_store *s, mnemo_store_conn **c, mnemo_error *err);
    void (*end_read)(mnemo_store *s, mnemo_store_conn *c);
    /* The best cap rows by cosine with the unit vector v among q's, best
     * first (exact: no approximate index); fewer only when fewer match. */
    int (*nearest)(mnemo_store *s, mnemo_store_conn *c, const mnemo_store_query *q, const float *v,
                   int exact, mnemo_hit *out, size_t cap, size_t *n, mnemo_error *err);
    /* The best cap rows of q's by full-text rank of the words of text (the
     * backend makes them its own query syntax), best first. */
    int (*text)(mnemo_store *s, mnemo_store_conn *c, const mnemo_store_query *q, const char *text,
                size_t len, mnemo_hit *out, size_t cap, size_t *n, mnemo_error *err);
    /* Appends the rows of hits still live at now to out (room for n), in
     * their order, each with its hit's score; a row gone meanwhile is left
     * out. */
    int (*fetch)(mnemo_store *s, mnemo_store_conn *c, const mnemo_hit *hits, size_t n, double now,
                 mnemo_memories *out, mnemo_error *err);

    /* -- reads on their own connection */
    /* The live row of id into out (room for one; out->n 0: none). */
    int (*get)(mnemo_store *s, const char *id, double now, mnemo_memories *out, mnemo_error *err);
    /* q's rows with seq > after in seq order, at most limit into out (room
     * for limit); *more when another follows, *last the seq of the last. */
    int (*list)(mnemo_store *s, const mnemo_store_query *q, int64_t after, size_t limit,
                mnemo_memories *out, int64_t *last, int *more, mnemo_error *err);
    int (*count)(mnemo_store *s, const mnemo_store_query *q, size_t *n, mnemo_error *err);
    /* The events of id, oldest first, appended to out (out->n 0: none). */
    int (*history)(mnemo_store *s, const char *id, mnemo_history *out, mnemo_error *err);
    /* The recorded prompt of id (*prompt NULL: "document" or no such row),
     * read before a write so a new text is embedded outside it; NULL when
     * the backend's row() holds the row still enough to embed under it. */
    int (*prompt_of)(mnemo_store *s, const char *id, char **prompt, mnemo_error *err);

    /* -- writes: one transaction from begin_write to end_write, which
     * commits when rc is MNEMO_OK (and returns how that went), else rolls
     * back and returns rc; `what` names the write in messages */
    int (*begin_write)(mnemo_store *s, mnemo_store_conn **c, mnemo_error *err);
    int (*end_write)(mnemo_store *s, mnemo_store_conn *c, int rc, const char *what,
                     mnemo_error *err);
    /* Serializes adds of one scope (key: its hash) until end_write across
     * writers the backend does not serialize itself; NULL: it does. */
    int (*lock_scope)(mnemo_store *s, mnemo_store_conn *c, uint64_t key, mnemo_error *err);
    /* A live row of exactly r's scope with r's text and prompt. */
    int (*find_repeat)(mnemo_store *s, mnemo_store_conn *c, const mnemo_store_row *r,
                       mnemo_store_found *f, mnemo_error *err);
    /* The live row of exactly r's scope nearest r's vector, not one of
     * skip (rows this transaction inserted), with its cosine. */
    int (*find_nearest)(mnemo_store *s, mnemo_store_conn *c, const mnemo_store_row *r,
                        const int64_t *skip, size_t n_skip, mnemo_store_found *f, mnemo_error *err);
    /* r as a new row (r->seq set) with its "added" event (an import: its
     * history; an id the store has: r->exists, nothing written). */
    int (*insert)(mnemo_store *s, mnemo_store_conn *c, mnemo_store_row *r, mnemo_error *err);
    /* The live row of id, locked against other writers until end_write. */
    int (*row)(mnemo_store *s, mnemo_store_conn *c, const char *id, double now,
               mnemo_store_found *f, mnemo_error *err);
    /* Row r->seq takes r's text, metadata, expiry, prompt and vector (when
     * given), with an "updated" event (reason: NULL or "near-duplicate"). */
    int (*rewrite)(mnemo_store *s, mnemo_store_conn *c, const mnemo_store_row *r,
                   const char *reason, mnemo_error *err);

    /* -- deletes, each one transaction of its own with a "deleted" event
     * per row (reason NULL, or "expired" for the sweep) */
    int (*remove)(mnemo_store *s, const char *id, double now, size_t *n, mnemo_error *err);
    int (*remove_where)(mnemo_store *s, const mnemo_store_query *q, size_t *n, mnemo_error *err);
    /* Every row expired at now (also the ones no index holds). */
    int (*sweep)(mnemo_store *s, double now, size_t *n, mnemo_error *err);

    /* -- opening, after the backend's opener (connections, schema): the
     * model record (have->dim NULL: none yet), read and, for a new store,
     * written; then start, the rest of opening once the width is known
     * (NULL: nothing more) */
    int (*model_get)(mnemo_store *s, mnemo_model_record *have, mnemo_error *err);
    int (*model_put)(mnemo_store *s, const mnemo_model_record *r, mnemo_error *err);
    int (*start)(mnemo_store *s, const mnemo_store_options *opts, mnemo_error *err);

    /* -- for export (transfer.c), on a read connection of their own: one
     * memory's stored vector (dim floats; ENOENT), every namespace that
     * holds a memory in byte order (*out: n strings, each and the array
     * mnemo__free'd by the caller, also on failure) */
    int (*vector)(mnemo_store *s, const char *id, float *out, mnemo_error *err);
    int (*namespaces)(mnemo_store *s, char ***out, size_t *n, mnemo_error *err);

    /* A consistent copy while serving (store_api.h's mnemo__store_backup
     * after the core's checks); NULL: the backend has its own tools. */
    int (*backup)(mnemo_store *s, const char *out_dir, mnemo_backup_report *rep, mnemo_error *err);
};

/* The backends' openers (sqlite/open.c, postgres/pg.c): mnemo_store_open()
 * picks one from the store URL (store.c). opts->url is postgres://... or
 * postgresql://... for PostgreSQL. */
int mnemo__sqlite_open(const mnemo_store_options *opts, mnemo_store **out, mnemo_error *err);
int mnemo__pg_open(const mnemo_store_options *opts, mnemo_store **out, mnemo_error *err);

/* -------------------------------------------------------------- store */

/*
 * The store's locks, what each guards, and the one order they nest in (a
 * thread holding a lock takes only locks further down this list; the ones
 * marked leaf are never held while another is taken):
 *
 *   write_lock   (SQLite) the writer connection and every write transaction
 *                (add, update, delete, sweep): one writer at a time, in
 *                process. Across processes: lock_fd's flock() on
 *                DIR/memories.lock.
 *   embed_lock   the store's embedding context (one caller at a time). Taken
 *                before write_lock by adds and updates (texts are embedded
 *                outside the write), and under it only when an update finds
 *                that another changed the memory's prompt meanwhile.
 *   index_lock   (SQLite, rwlock) the in-memory index and its graph: read by
 *                searches and by an add's dedup (under write_lock), written
 *                to apply a committed change (under write_lock), and by the
 *                graph builder when it turns the graph READY.
 *   reader_lock  (SQLite) leaf: the pool of idle read connections (a
 *                connection is taken before index_lock and used under it to
 *                rescore).
 *   build_lock   (SQLite) leaf: the builder thread's wake-up and stop flag.
 *   sweep_lock   leaf: the sweeper thread's wake-up and stop flag (the sweep
 *                itself runs without it, under write_lock).
 *
 * PostgreSQL has one more, the connection pool's lock (postgres/pg.c), a
 * leaf too; its writes are serialized by PostgreSQL, not by write_lock.
 */
struct mnemo_store {
    mnemo_store_db *db; /* the backend: its primitives and its state */
    const mnemo_model *model;
    char model_name[256];
    /* The model the store records, as an export names it: its name and the
     * first 16 hex digits of the SHA-1 of its fingerprint (f32 little-endian;
     * "": none recorded). Set at open. */
    char record_name[256], record_weights[17];
    mnemo_context *ctx; /* embedding; guarded by embed_lock */
    pthread_mutex_t embed_lock;
    /* mnemo_store_options.on_embedded, set once the store is open */
    void (*on_embedded)(void *, const char *, const char *const *, const size_t *, size_t,
                        const float *, size_t, const size_t *);
    void *on_embedded_arg;
    size_t dim;
    int read_only, no_dedup;
    char read_only_why[200]; /* for write errors: why the store is read-only */
    double dedup_threshold;
    size_t max_text, max_metadata;
    double (*clock)(void *);
    void *clock_ctx;

    pthread_t sweeper;
    int has_sweeper, stopping;
    double sweep_seconds;
    pthread_mutex_t sweep_lock;
    pthread_cond_t sweep_cond;
};

/* ------------------------------------------- helpers for the backends */

double mnemo__store_now(const mnemo_store *s);
/* Embeds n texts with the named prompt into out (n * dim). */
int mnemo__store_embed(mnemo_store *s, const char *const *texts, const size_t *lens, size_t n,
                       const char *prompt, float *out, mnemo_error *err);
const char *mnemo__scope_ns(const mnemo_memory_scope *sc);
void mnemo__memory_clear(mnemo_memory *m);
/* The words of a text query (runs of letters, digits, '_' or non-ASCII
 * bytes; the first 64), each between two `quote`s, joined by sep: the FTS5
 * expression ('"', " OR ") or the tsquery ('\'', " | "), so no query syntax
 * from the user reaches the parser. "" when it has no word; NULL: no memory. */
char *mnemo__query_words(const char *q, size_t len, char quote, const char *sep);
/* The hash of a text that exact dedup compares first. */
uint64_t mnemo__text_hash(const char *text, size_t len);
/* Sorts hits best first (stable). */
void mnemo__hits_sort(mnemo_hit *h, size_t n);
/* out = v / |v| (the norm in f64), for a vector a caller brought (an add's or
 * a search's); false, out untouched, when v is all zero or not finite. */
bool mnemo__unit_vector(const float *v, size_t n, float *out);
/* EINVAL, naming both models and what differs, when the record `have`
 * (have->where names the store) is not of a model of width s->dim with
 * prompts doc and query and fingerprint fp (the opening's check, and
 * `mnemo migrate`'s of its target). */
int mnemo__model_compare(const mnemo_store *s, const mnemo_model_record *have, const char *doc,
                         const char *query, const float *fp, mnemo_error *err);
/* The text whose document embedding identifies a model, and the cosine
 * below which a recorded one is another model's. */
const char *mnemo__store_fingerprint_text(void);
#define MNEMO_FINGERPRINT_MIN_COSINE 0.98
/* The common part of opening (limits, clock, the embedding context, the
 * locks) and of closing; the sweep thread. */
int mnemo__store_init(mnemo_store *s, const mnemo_store_options *opts, mnemo_error *err);
void mnemo__store_fini(mnemo_store *s);
/* What the options ask for, whichever way they say it (a flag or the old
 * special value): a sweeper thread; the graph threshold (SIZE_MAX: never). */
bool mnemo__store_wants_sweeper(const mnemo_store_options *opts);
size_t mnemo__store_index_threshold(const mnemo_store_options *opts);
int mnemo__store_start_sweeper(mnemo_store *s);
void mnemo__store_stop_sweeper(mnemo_store *s);

/* ------------------------------------------------ the core's own files */

/* Validates metadata text: a JSON object within the size limit. On success
 * *meta owns the parsed object and *compact (mnemo__free) its compact text. */
int mnemo__metadata_parse(const mnemo_store *s, const char *text, const char *where, json_t **meta,
                          char **compact, mnemo_error *err);
/* A memory as a JSON object (id, text, metadata, namespace, ..., score when
 * with_score). */
json_t *mnemo__memory_json(const mnemo_memory *m, int with_score);
/* A memory's history as the history route answers it: an array of {event,
 * reason, at, text, metadata}, oldest first (new). */
json_t *mnemo__history_json(const mnemo_history *h);
/* The checks of a text (1..max_text bytes of UTF-8; `where` prefixes the
 * message) and every check of one input to add, as the add makes them
 * (store_write.c; transfer.c checks a line with them): on success
 * *expires_at, *meta and *meta_text (as mnemo__metadata_parse) are set, and
 * vec (dim floats) holds the input's vector made unit, if it came with one. */
int mnemo__check_text(const mnemo_store *s, const char *text, size_t len, const char *where,
                      mnemo_error *err);
int mnemo__input_check(const mnemo_store *s, const mnemo_memory_input *in, const char *where,
                       double now, double *expires_at, json_t **meta, char **meta_text, float *vec,
                       mnemo_error *err);
/* The checks of an input's import fields (id, times, history; transfer.c),
 * part of an add's checks. */
int mnemo__import_check(const mnemo_store *s, const mnemo_memory_input *in, const char *where,
                        mnemo_error *err);
/* The ENOENT of an id no live memory has, and of one no memory ever had
 * (history): one message each, whichever part finds it. */
int mnemo__no_memory(mnemo_error *err, const char *id);
int mnemo__never_memory(mnemo_error *err, const char *id);

#endif /* MNEMO_STORE_H */
