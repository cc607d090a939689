/*
 * read.c — the read primitives of the SQLite backend (store.h's table):
 * the nearest rows by vector (the in-memory index's search, index/nearest.c,
 * with scope, expiry and filter checked per entry and the rows' vectors read
 * back for rescoring), by text (FTS5 BM25), the rows of a ranked list, one
 * row, a page of rows, a count (from the index) and a history. Rows are
 * read on a pooled read connection, so reads never wait for a write to
 * commit. The flows around them are the core's (store_read.c).
 */
#include "sqlite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef mnemo_hit hit;

static int field_match(const char *have, const char *want) {
    return !want || !*want || (have && !strcmp(have, want));
}

static int field_equal(const char *have, const char *want) {
    if (!want || !*want) return !have;
    return have && !strcmp(have, want);
}

int mnemo__scope_match(const mnemo_index_entry *e, const mnemo_memory_scope *s) {
    return !strcmp(e->ns, mnemo__scope_ns(s)) && field_match(e->user_id, s->user_id) &&
           field_match(e->agent_id, s->agent_id) && field_match(e->session_id, s->session_id);
}

int mnemo__scope_equal(const mnemo_index_entry *e, const mnemo_memory_scope *s) {
    return !strcmp(e->ns, mnemo__scope_ns(s)) && field_equal(e->user_id, s->user_id) &&
           field_equal(e->agent_id, s->agent_id) && field_equal(e->session_id, s->session_id);
}

/* The pre and post checks of an index search: a live entry of the scope
 * (exact_scope: exactly it), then the filter (f; NULL passes all). */
typedef struct scope_accept {
    const mnemo_index *ix;
    const mnemo_memory_scope *sc;
    const mnemo_filter *f;
    double now;
    int exact_scope;
} scope_accept;

static int accept_scope(void *ctx, size_t pos) {
    const scope_accept *a = ctx;
    const mnemo_index_entry *e = &a->ix->entries[pos];
    return mnemo__entry_live(e, a->now) &&
           (a->exact_scope ? mnemo__scope_equal(e, a->sc) : mnemo__scope_match(e, a->sc));
}

static int accept_filter(void *ctx, size_t pos) {
    const scope_accept *a = ctx;
    return mnemo__filter_match(a->f, a->ix->entries[pos].meta);
}

/* A read connection and the width of its rows' vectors. */
typedef struct row_source {
    sqlite3 *db;
    size_t dim;
} row_source;

/* The rows' f32 vectors for the index's rescoring (mnemo_index_vectors). */
static int row_vectors(void *ctx, const int64_t *seqs, size_t n, float *vecs,
                       unsigned char *found) {
    const row_source *rs = ctx;
    sqlite3_stmt *st = NULL;
    if (!rs->db ||
        sqlite3_prepare_v2(rs->db, "SELECT vector FROM memories WHERE seq = ?1", -1, &st, NULL))
        return MNEMO_EIO;
    int rc = MNEMO_OK;
    for (size_t i = 0; i < n; i++) {
        found[i] = 0;
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, seqs[i]);
        int src = sqlite3_step(st);
        if (src == SQLITE_DONE) continue;
        if (src != SQLITE_ROW) {
            rc = MNEMO_EIO;
            break;
        }
        const void *b = sqlite3_column_blob(st, 0);
        if (!b || (size_t)sqlite3_column_bytes(st, 0) != rs->dim * sizeof(float)) continue;
        memcpy(vecs + i * rs->dim, b, rs->dim * sizeof(float)); /* the blob may not be aligned */
        found[i] = 1;
    }
    sqlite3_finalize(st);
    return rc;
}

int mnemo__sqlite_index_nearest(mnemo_store *s, sqlite3 *db, const float *v,
                                const mnemo_memory_scope *sc, const mnemo_filter *f, double now,
                                int exact, int exact_scope, mnemo_hnsw_hit *top, size_t cap,
                                size_t *n) {
    const mnemo_index *ix = &mnemo__sqlite_db(s)->index;
    scope_accept ac = {.ix = ix, .sc = sc, .f = f, .now = now, .exact_scope = exact_scope};
    row_source rs = {db, ix->dim};
    return mnemo__index_nearest(ix, v, exact, accept_scope, f ? accept_filter : NULL, &ac,
                                row_vectors, &rs, top, cap, n);
}

int mnemo__sqlite_begin_read(mnemo_store *s, mnemo_store_conn **c, mnemo_error *err) {
    sqlite3 *db = NULL;
    int rc = mnemo__store_reader(s, &db, err);
    *c = (mnemo_store_conn *)db;
    return rc;
}

void mnemo__sqlite_end_read(mnemo_store *s, mnemo_store_conn *c) {
    mnemo__store_reader_put(s, (sqlite3 *)c);
}

/* The best cap entries for v with the search's scope, expiry and filter,
 * as (seq, score). */
int mnemo__sqlite_nearest(mnemo_store *s, mnemo_store_conn *c, const mnemo_store_query *q,
                          const float *v, int exact, hit *out, size_t cap, size_t *n,
                          mnemo_error *err) {
    sqlite_db *d = mnemo__sqlite_db(s);
    sqlite3 *db = (sqlite3 *)c;
    *n = 0;
    mnemo_hnsw_hit *h = mnemo__malloc_array(cap, sizeof *h);
    if (!h) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    pthread_rwlock_rdlock(&d->index_lock);
    size_t nh = 0;
    int rc =
        mnemo__sqlite_index_nearest(s, db, v, q->scope, q->filter, q->now, exact, 0, h, cap, &nh);
    if (rc) nh = 0;
    for (size_t i = 0; i < nh; i++) out[i] = (hit){d->index.entries[h[i].pos].seq, h[i].score};
    *n = nh;
    pthread_rwlock_unlock(&d->index_lock);
    mnemo__free(h);
    if (rc)
        rc = rc == MNEMO_ENOMEM
                 ? mnemo__fail(err, rc, "out of memory")
                 : mnemo__store_sqlite_fail(err, db, sqlite3_errcode(db), "reading vectors");
    return rc;
}

static void bind_scope(sqlite3_stmt *st, int first, const mnemo_memory_scope *sc) {
    sqlite3_bind_text(st, first, mnemo__scope_ns(sc), -1, SQLITE_TRANSIENT);
    const char *v[3] = {sc->user_id, sc->agent_id, sc->session_id};
    for (int i = 0; i < 3; i++) {
        if (v[i] && *v[i])
            sqlite3_bind_text(st, first + 1 + i, v[i], -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(st, first + 1 + i);
    }
}

#define SCOPE_SQL(a, b, c, d)                                                  \
    "namespace = ?" #a " AND (?" #b " IS NULL OR user_id = ?" #b ") AND (?" #c \
    " IS NULL OR agent_id = ?" #c ") AND (?" #d " IS NULL OR session_id = ?" #d ")"

int mnemo__sqlite_text(mnemo_store *s, mnemo_store_conn *c, const mnemo_store_query *sq,
                       const char *q, size_t qlen, hit *top, size_t cap, size_t *n,
                       mnemo_error *err) {
    sqlite3 *db = (sqlite3 *)c;
    const mnemo_filter *f = sq->filter;
    *n = 0;
    char *expr = mnemo__query_words(q, qlen, '"',
                                    " OR "); /* "w1" OR "w2" ...: no FTS5 syntax from the user */
    if (!expr) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    if (!*expr) {
        mnemo__free(expr);
        return MNEMO_OK;
    }
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(
        db,
        "SELECT m.seq, m.metadata, bm25(memories_fts) FROM memories_fts "
        "JOIN memories m ON m.seq = memories_fts.rowid "
        "WHERE memories_fts MATCH ?1 AND " SCOPE_SQL(
            2, 3, 4,
            5) " AND (m.expires_at IS NULL OR m.expires_at > ?6) ORDER BY bm25(memories_fts)",
        -1, &st, NULL);
    if (rc) {
        mnemo__free(expr);
        return mnemo__store_sqlite_fail(err, db, rc, "text search");
    }
    sqlite3_bind_text(st, 1, expr, -1, SQLITE_STATIC);
    bind_scope(st, 2, sq->scope);
    sqlite3_bind_double(st, 6, sq->now);
    while (*n < cap && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (f) {
            json_t *meta = json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL);
            int ok = meta && mnemo__filter_match(f, meta);
            json_decref(meta);
            if (!ok) continue;
        }
        /* bm25() is lower-is-better and negative; flip it so every mode's
         * score is higher-is-better. */
        top[(*n)++] = (hit){sqlite3_column_int64(st, 0), -sqlite3_column_double(st, 2)};
    }
    int status = (rc == SQLITE_ROW || rc == SQLITE_DONE)
                     ? MNEMO_OK
                     : mnemo__store_sqlite_fail(err, db, rc, "text search");
    sqlite3_finalize(st);
    mnemo__free(expr);
    (void)s;
    return status;
}

static int fetch(sqlite3 *db, const hit *hits, size_t n, double now, mnemo_memories *m,
                 mnemo_error *err) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT " MNEMO_MEMORY_COLUMNS " FROM memories WHERE seq = ?1 AND "
                                "(expires_at IS NULL OR expires_at > ?2)",
                                -1, &st, NULL);
    int status = MNEMO_OK;
    if (rc)
        status = rc == SQLITE_NOMEM ? mnemo__fail(err, MNEMO_ENOMEM, "out of memory")
                                    : mnemo__store_sqlite_fail(err, db, rc, "reading memories");
    for (size_t i = 0; i < n && !status; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, hits[i].seq);
        sqlite3_bind_double(st, 2, now);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) continue; /* deleted meanwhile */
        if (rc != SQLITE_ROW) {
            status = mnemo__store_sqlite_fail(err, db, rc, "reading memories");
            break;
        }
        if (mnemo__memory_from_row(st, 0, &m->items[m->n])) {
            status = mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
            break;
        }
        m->items[m->n++].score = hits[i].score;
    }
    sqlite3_finalize(st);
    return status;
}

int mnemo__sqlite_fetch(mnemo_store *s, mnemo_store_conn *c, const hit *hits, size_t n, double now,
                        mnemo_memories *out, mnemo_error *err) {
    (void)s;
    return fetch((sqlite3 *)c, hits, n, now, out, err);
}

int mnemo__sqlite_get(mnemo_store *s, const char *id, double now, mnemo_memories *out,
                      mnemo_error *err) {
    sqlite3 *db;
    int rc = mnemo__store_reader(s, &db, err);
    if (rc) return rc;
    sqlite3_stmt *st;
    int src = sqlite3_prepare_v2(
        db, "SELECT seq FROM memories WHERE id = ?1 AND (expires_at IS NULL OR expires_at > ?2)",
        -1, &st, NULL);
    if (src) {
        rc = mnemo__store_sqlite_fail(err, db, src, "reading a memory");
    } else {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 2, now);
        src = sqlite3_step(st);
        hit h = {src == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0, 0};
        sqlite3_finalize(st);
        if (src == SQLITE_ROW)
            rc = fetch(db, &h, 1, now, out, err);
        else if (src != SQLITE_DONE)
            rc = mnemo__store_sqlite_fail(err, db, src, "reading a memory");
    }
    mnemo__store_reader_put(s, db);
    return rc;
}

/* Ends a read of statement st on db: src is the last step's code (SQLITE_OK
 * once the rows are read), made a status saying what failed. */
static int read_end(mnemo_store *s, sqlite3 *db, sqlite3_stmt *st, int src, const char *what,
                    mnemo_error *err) {
    sqlite3_finalize(st);
    int rc = src == SQLITE_NOMEM ? mnemo__fail(err, MNEMO_ENOMEM, "out of memory")
             : src               ? mnemo__store_sqlite_fail(err, db, src, what)
                                 : MNEMO_OK;
    mnemo__store_reader_put(s, db);
    return rc;
}

int mnemo__sqlite_list(mnemo_store *s, const mnemo_store_query *q, int64_t after, size_t limit,
                       mnemo_memories *m, int64_t *last, int *more, mnemo_error *err) {
    const mnemo_filter *f = q->filter;
    sqlite3 *db;
    int rc = mnemo__store_reader(s, &db, err);
    if (rc) return rc;
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(
        db,
        "SELECT seq, " MNEMO_MEMORY_COLUMNS " FROM memories WHERE seq > ?1 AND " SCOPE_SQL(
            2, 3, 4, 5) " AND (expires_at IS NULL OR expires_at > ?6) ORDER BY seq",
        -1, &st, NULL);
    if (!src) {
        sqlite3_bind_int64(st, 1, after);
        bind_scope(st, 2, q->scope);
        sqlite3_bind_double(st, 6, q->now);
        while ((src = sqlite3_step(st)) == SQLITE_ROW) {
            if (f) {
                json_t *meta = json_loads((const char *)sqlite3_column_text(st, 3), 0, NULL);
                int ok = meta && mnemo__filter_match(f, meta);
                json_decref(meta);
                if (!ok) continue;
            }
            if (m->n == limit) {
                *more = 1;
                break;
            }
            if (mnemo__memory_from_row(st, 1, &m->items[m->n])) {
                src = SQLITE_NOMEM;
                break;
            }
            m->n++;
            *last = sqlite3_column_int64(st, 0);
        }
        if (src == SQLITE_DONE || src == SQLITE_ROW) src = SQLITE_OK;
    }
    return read_end(s, db, st, src, "listing memories", err);
}

int mnemo__sqlite_count(mnemo_store *s, const mnemo_store_query *q, size_t *n, mnemo_error *err) {
    (void)err;
    sqlite_db *d = mnemo__sqlite_db(s);
    pthread_rwlock_rdlock(&d->index_lock);
    for (size_t i = 0; i < d->index.n; i++) {
        const mnemo_index_entry *e = &d->index.entries[i];
        if (mnemo__entry_live(e, q->now) && mnemo__scope_match(e, q->scope) &&
            mnemo__filter_match(q->filter, e->meta))
            (*n)++;
    }
    pthread_rwlock_unlock(&d->index_lock);
    return MNEMO_OK;
}

static char *col_dup(sqlite3_stmt *st, int c) {
    const unsigned char *t = sqlite3_column_text(st, c);
    return t ? mnemo__strndup((const char *)t, (size_t)sqlite3_column_bytes(st, c)) : NULL;
}

int mnemo__sqlite_history(mnemo_store *s, const char *id, mnemo_history *h, mnemo_error *err) {
    sqlite3 *db;
    int rc = mnemo__store_reader(s, &db, err);
    if (rc) return rc;
    size_t cap = 0;
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(db,
                                 "SELECT event, reason, at, text, metadata FROM history WHERE "
                                 "memory_id = ?1 ORDER BY seq",
                                 -1, &st, NULL);
    if (!src) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        while ((src = sqlite3_step(st)) == SQLITE_ROW) {
            if (h->n == cap) {
                size_t nc = cap ? cap * 2 : 8;
                mnemo_history_event *ni = mnemo__realloc(h->items, nc * sizeof *ni);
                if (!ni) {
                    src = SQLITE_NOMEM;
                    break;
                }
                h->items = ni;
                cap = nc;
            }
            mnemo_history_event *e = &h->items[h->n++];
            e->event = col_dup(st, 0);
            e->reason = col_dup(st, 1);
            e->at = sqlite3_column_double(st, 2);
            e->text = col_dup(st, 3);
            e->metadata = col_dup(st, 4);
        }
        if (src == SQLITE_DONE) src = SQLITE_OK;
    }
    return read_end(s, db, st, src, "reading the history", err);
}

int mnemo__sqlite_prompt_of(mnemo_store *s, const char *id, char **out, mnemo_error *err) {
    *out = NULL;
    sqlite3 *db;
    int rc = mnemo__store_reader(s, &db, err);
    if (rc) return rc;
    sqlite3_stmt *st;
    int src =
        sqlite3_prepare_v2(db, "SELECT prompt_name FROM memories WHERE id = ?1", -1, &st, NULL);
    if (!src) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        src = sqlite3_step(st);
        const unsigned char *t = src == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
        if (t && !(*out = mnemo__strndup((const char *)t, strlen((const char *)t))))
            rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
        src = src == SQLITE_ROW || src == SQLITE_DONE ? SQLITE_OK : src;
        sqlite3_finalize(st);
    }
    if (src && !rc) rc = mnemo__store_sqlite_fail(err, db, src, "reading a memory");
    mnemo__store_reader_put(s, db);
    return rc;
}

/* --------------------------------------- for export (transfer.c) */

/* A select of one row's blob column on a read connection into out (n
 * bytes): ENOENT without the row, EFORMAT when the blob has another size. */
static int read_blob(mnemo_store *s, const char *sql, const char *key, void *out, size_t n,
                     const char *what, mnemo_error *err) {
    sqlite3 *db;
    int rc = mnemo__store_reader(s, &db, err);
    if (rc) return rc;
    sqlite3_stmt *st;
    int src = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (!src) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        src = sqlite3_step(st);
        if (src == SQLITE_ROW && (size_t)sqlite3_column_bytes(st, 0) == n)
            memcpy(out, sqlite3_column_blob(st, 0), n);
        else if (src == SQLITE_ROW)
            rc = mnemo__fail(err, MNEMO_EFORMAT, "%s: %s '%.64s' has %d bytes, want %zu",
                             mnemo__sqlite_db(s)->db_path, what, key, sqlite3_column_bytes(st, 0),
                             n);
        else if (src == SQLITE_DONE)
            rc = mnemo__fail(err, MNEMO_ENOENT, "%s: no %s '%.64s'", mnemo__sqlite_db(s)->db_path,
                             what, key);
        src = src == SQLITE_ROW || src == SQLITE_DONE ? SQLITE_OK : src;
        sqlite3_finalize(st);
    }
    if (src) rc = mnemo__store_sqlite_fail(err, db, src, what);
    mnemo__store_reader_put(s, db);
    return rc;
}

int mnemo__sqlite_memory_vector(mnemo_store *s, const char *id, float *out, mnemo_error *err) {
    return read_blob(s, "SELECT vector FROM memories WHERE id = ?1", id, out,
                     s->dim * sizeof(float), "memory", err);
}

int mnemo__sqlite_namespaces(mnemo_store *s, char ***out, size_t *n, mnemo_error *err) {
    *out = NULL;
    *n = 0;
    sqlite3 *db;
    int rc = mnemo__store_reader(s, &db, err);
    if (rc) return rc;
    sqlite3_stmt *st;
    size_t cap = 0;
    int src = sqlite3_prepare_v2(db, "SELECT DISTINCT namespace FROM memories ORDER BY namespace",
                                 -1, &st, NULL);
    while (!src && (src = sqlite3_step(st)) == SQLITE_ROW) {
        src = SQLITE_NOMEM;
        if (*n == cap) {
            char **grown = mnemo__realloc(*out, (cap = cap ? cap * 2 : 16) * sizeof **out);
            if (!grown) break;
            *out = grown;
        }
        if (!((*out)[*n] = col_dup(st, 0))) break;
        ++*n;
        src = SQLITE_OK;
    }
    if (src != SQLITE_DONE)
        rc = src == SQLITE_NOMEM ? mnemo__fail(err, MNEMO_ENOMEM, "out of memory")
                                 : mnemo__store_sqlite_fail(err, db, src, "listing namespaces");
    sqlite3_finalize(st);
    mnemo__store_reader_put(s, db);
    return rc;
}
