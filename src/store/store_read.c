/*
 * store_read.c — the reads of a memory store: search (exact vector scan of
 * the in-memory index or a walk of its HNSW graph, FTS5 BM25, and their reciprocal-rank fusion, with
 * scope, expiry and metadata filters applied while candidates are ranked),
 * get, list with cursor pagination, count and history. Rows are read on a
 * pooled read connection, so reads never wait for a write to commit.
 */
#include "store.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LIST 1000

typedef mnemo_hit hit;

/* Keeps the best `cap` hits, best first (insertion: k is small). */
static void top_push(hit *top, size_t *n, size_t cap, int64_t seq, double score) {
    if (*n == cap && score <= top[cap - 1].score) return;
    size_t i = *n < cap ? (*n)++ : cap - 1;
    while (i > 0 && top[i - 1].score < score) {
        top[i] = top[i - 1];
        i--;
    }
    top[i] = (hit){seq, score};
}

/* What a graph walk asks of each node it scores: the search's own filters. */
typedef struct accept_ctx {
    const mnemo_index *ix;
    const mnemo_memory_scope *sc;
    const mnemo_filter *f;
    double now;
} accept_ctx;

static int accept_entry(void *ctx, size_t pos) {
    const accept_ctx *a = ctx;
    const mnemo_index_entry *e = &a->ix->entries[pos];
    return !(e->expires_at && e->expires_at <= a->now) && mnemo__scope_match(e, a->sc) &&
           mnemo__filter_match(a->f, e->meta);
}

/*
 * The best cap entries for q. Exact (a scan of every entry) below the
 * index's graph threshold, when asked, or while the graph is being built;
 * otherwise a walk of the HNSW graph that applies scope, expiry and filter
 * to every node it scores. When the walk ends with fewer than cap passing
 * (a selective filter or a small scope, or fewer than cap exist at all), the
 * exact scan runs instead, so a search returns k results whenever k exist.
 */
static int vector_hits(mnemo_store *s, const float *q, const mnemo_memory_scope *sc, const mnemo_filter *f,
                       double now, int exact, hit *top, size_t cap, size_t *n) {
    *n = 0;
    pthread_rwlock_rdlock(&s->index_lock);
    const mnemo_index *ix = &s->index;
    if (!exact && ix->graph_state == MNEMO_GRAPH_READY && ix->n >= ix->graph_threshold) {
        mnemo_hnsw_hit *gh = mnemo__malloc_array(cap, sizeof *gh);
        accept_ctx ac = {ix, sc, f, now};
        size_t ng = 0;
        int complete = 0;
        if (gh && !mnemo__hnsw_search(&ix->graph, ix->vectors, q, ix->ef_search, accept_entry, &ac, gh, cap, &ng,
                                      &complete) &&
            complete && ng == cap) {
            for (size_t i = 0; i < ng; i++) top[i] = (hit){ix->entries[gh[i].pos].seq, gh[i].score};
            *n = ng;
            pthread_rwlock_unlock(&s->index_lock);
            mnemo__free(gh);
            return MNEMO_OK;
        }
        mnemo__free(gh); /* out of memory in the walk too: the scan needs none */
    }
    for (size_t i = 0; i < ix->n; i++) {
        const mnemo_index_entry *e = &ix->entries[i];
        if ((e->expires_at && e->expires_at <= now) || !mnemo__scope_match(e, sc)) continue;
        double score = mnemo__dot(ix->vectors + i * ix->dim, q, ix->dim);
        if (*n == cap && score <= top[cap - 1].score) continue; /* cheap before the filter */
        if (!mnemo__filter_match(f, e->meta)) continue;
        top_push(top, n, cap, e->seq, score);
    }
    pthread_rwlock_unlock(&s->index_lock);
    return MNEMO_OK;
}

static void bind_scope(sqlite3_stmt *st, int first, const mnemo_memory_scope *sc) {
    sqlite3_bind_text(st, first, mnemo__scope_ns(sc), -1, SQLITE_TRANSIENT);
    const char *v[3] = {sc->user_id, sc->agent_id, sc->session_id};
    for (int i = 0; i < 3; i++) {
        if (v[i] && *v[i]) sqlite3_bind_text(st, first + 1 + i, v[i], -1, SQLITE_TRANSIENT);
        else sqlite3_bind_null(st, first + 1 + i);
    }
}

#define SCOPE_SQL(a, b, c, d)                                                                              \
    "namespace = ?" #a " AND (?" #b " IS NULL OR user_id = ?" #b ") AND (?" #c " IS NULL OR agent_id = ?" #c \
    ") AND (?" #d " IS NULL OR session_id = ?" #d ")"

static int text_hits(mnemo_store *s, sqlite3 *db, const char *q, size_t qlen, const mnemo_memory_scope *sc,
                     const mnemo_filter *f, double now, hit *top, size_t cap, size_t *n, mnemo_error *err) {
    *n = 0;
    char *expr = mnemo__query_words(q, qlen, '"', " OR "); /* "w1" OR "w2" ...: no FTS5 syntax from the user */
    if (!expr) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    if (!*expr) {
        mnemo__free(expr);
        return MNEMO_OK;
    }
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT m.seq, m.metadata, bm25(memories_fts) FROM memories_fts "
                                "JOIN memories m ON m.seq = memories_fts.rowid "
                                "WHERE memories_fts MATCH ?1 AND " SCOPE_SQL(2, 3, 4, 5)
                                " AND (m.expires_at IS NULL OR m.expires_at > ?6) ORDER BY bm25(memories_fts)",
                                -1, &st, NULL);
    if (rc) {
        mnemo__free(expr);
        return mnemo__store_sqlite_fail(err, db, rc, "text search");
    }
    sqlite3_bind_text(st, 1, expr, -1, SQLITE_STATIC);
    bind_scope(st, 2, sc);
    sqlite3_bind_double(st, 6, now);
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
    int status = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? MNEMO_OK : mnemo__store_sqlite_fail(err, db, rc, "text search");
    sqlite3_finalize(st);
    mnemo__free(expr);
    (void)s;
    return status;
}

static int fetch(sqlite3 *db, const hit *hits, size_t n, double now, mnemo_memories **out, mnemo_error *err) {
    mnemo_memories *m = mnemo__calloc(1, sizeof *m);
    if (!m) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    m->items = mnemo__calloc(n ? n : 1, sizeof *m->items);
    sqlite3_stmt *st = NULL;
    int rc = m->items ? sqlite3_prepare_v2(db,
                                           "SELECT " MNEMO_MEMORY_COLUMNS " FROM memories WHERE seq = ?1 AND "
                                           "(expires_at IS NULL OR expires_at > ?2)", -1, &st, NULL)
                      : SQLITE_NOMEM;
    int status = MNEMO_OK;
    if (rc) status = rc == SQLITE_NOMEM ? mnemo__fail(err, MNEMO_ENOMEM, "out of memory")
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
    if (status) {
        mnemo_memories_free(m);
        return status;
    }
    *out = m;
    return MNEMO_OK;
}

int mnemo__sqlite_memory_search(mnemo_store *s, const mnemo_search_options *o, mnemo_memories **out, mnemo_error *err) {
    /* the options were checked by mnemo__search_check (store_backend.c) */
    *out = NULL;
    size_t k = o->k ? o->k : 10;
    int rc;
    mnemo_filter *f;
    if ((rc = mnemo__filter_parse(o->filter, &f, err))) return rc;
    double now = mnemo__store_now(s);
    size_t depth = mnemo__search_depth(o, k);
    float *q = mnemo__malloc_array(s->dim, sizeof(float));
    hit *vh = mnemo__malloc_array(depth, sizeof(hit)), *th = mnemo__malloc_array(depth, sizeof(hit));
    hit *fused = mnemo__malloc_array(depth * 2, sizeof(hit));
    size_t nv = 0, nt = 0, nf = 0;
    sqlite3 *db = NULL;
    if (!q || !vh || !th || !fused) {
        rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
        goto out;
    }
    if (o->mode != MNEMO_SEARCH_TEXT) {
        if ((rc = mnemo__query_vector(s, o, q, err))) goto out;
        vector_hits(s, q, &o->scope, f, now, o->exact, vh, depth, &nv);
    }
    if ((rc = mnemo__store_reader(s, &db, err))) goto out;
    if (o->mode != MNEMO_SEARCH_VECTOR &&
        (rc = text_hits(s, db, o->query, o->query_len, &o->scope, f, now, th, depth, &nt, err)))
        goto out;
    nf = mnemo__search_ranked(o, k, vh, nv, th, nt, fused);
    rc = fetch(db, fused, nf, now, out, err);
out:
    mnemo__store_reader_put(s, db);
    mnemo__filter_free(f);
    mnemo__free(q);
    mnemo__free(vh);
    mnemo__free(th);
    mnemo__free(fused);
    return rc;
}

int mnemo__sqlite_memory_get(mnemo_store *s, const char *id, mnemo_memories **out, mnemo_error *err) {
    *out = NULL;
    if (!id || !*id) return mnemo__fail(err, MNEMO_EINVAL, "id: is empty");
    sqlite3 *db;
    int rc = mnemo__store_reader(s, &db, err);
    if (rc) return rc;
    sqlite3_stmt *st;
    int src = sqlite3_prepare_v2(db, "SELECT seq FROM memories WHERE id = ?1 AND (expires_at IS NULL OR expires_at > ?2)",
                                 -1, &st, NULL);
    if (src) {
        rc = mnemo__store_sqlite_fail(err, db, src, "reading a memory");
    } else {
        double now = mnemo__store_now(s);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 2, now);
        src = sqlite3_step(st);
        if (src == SQLITE_ROW) {
            hit h = {sqlite3_column_int64(st, 0), 0};
            sqlite3_finalize(st);
            st = NULL;
            rc = fetch(db, &h, 1, now, out, err);
            if (!rc && (*out)->n == 0) {
                mnemo_memories_free(*out);
                *out = NULL;
                rc = mnemo__fail(err, MNEMO_ENOENT, "no memory with id '%.64s'", id);
            }
        } else if (src == SQLITE_DONE) {
            rc = mnemo__fail(err, MNEMO_ENOENT, "no memory with id '%.64s'", id);
        } else {
            rc = mnemo__store_sqlite_fail(err, db, src, "reading a memory");
        }
        sqlite3_finalize(st);
    }
    mnemo__store_reader_put(s, db);
    return rc;
}

int mnemo__sqlite_memory_list(mnemo_store *s, const mnemo_list_options *o, mnemo_memories **out, mnemo_error *err) {
    *out = NULL;
    mnemo_list_options none = {0};
    if (!o) o = &none;
    size_t limit = o->limit ? o->limit : 100;
    if (limit > MAX_LIST) return mnemo__fail(err, MNEMO_ERANGE, "limit: %zu is out of range 1..%d", limit, MAX_LIST);
    int64_t after = 0;
    if (o->cursor && *o->cursor) {
        char *end;
        errno = 0;
        long long v = strtoll(o->cursor, &end, 10);
        if (*end || errno || v < 0 || o->cursor[0] < '0' || o->cursor[0] > '9')
            return mnemo__fail(err, MNEMO_EINVAL, "cursor: '%.40s' is not a cursor this store gave", o->cursor);
        after = v;
    }
    int rc = mnemo__scope_check(&o->scope, "", err);
    if (rc) return rc;
    mnemo_filter *f;
    if ((rc = mnemo__filter_parse(o->filter, &f, err))) return rc;
    sqlite3 *db;
    if ((rc = mnemo__store_reader(s, &db, err))) {
        mnemo__filter_free(f);
        return rc;
    }
    mnemo_memories *m = mnemo__calloc(1, sizeof *m);
    if (m) m->items = mnemo__calloc(limit, sizeof *m->items);
    sqlite3_stmt *st = NULL;
    int src = !m || !m->items ? SQLITE_NOMEM
                              : sqlite3_prepare_v2(db,
                                                   "SELECT seq, " MNEMO_MEMORY_COLUMNS " FROM memories WHERE seq > ?1 AND "
                                                   SCOPE_SQL(2, 3, 4, 5) " AND (expires_at IS NULL OR expires_at > ?6) ORDER BY seq",
                                                   -1, &st, NULL);
    int64_t last = 0;
    int more = 0;
    if (!src) {
        sqlite3_bind_int64(st, 1, after);
        bind_scope(st, 2, &o->scope);
        sqlite3_bind_double(st, 6, mnemo__store_now(s));
        while ((src = sqlite3_step(st)) == SQLITE_ROW) {
            if (f) {
                json_t *meta = json_loads((const char *)sqlite3_column_text(st, 3), 0, NULL);
                int ok = meta && mnemo__filter_match(f, meta);
                json_decref(meta);
                if (!ok) continue;
            }
            if (m->n == limit) {
                more = 1;
                break;
            }
            if (mnemo__memory_from_row(st, 1, &m->items[m->n])) {
                src = SQLITE_NOMEM;
                break;
            }
            m->n++;
            last = sqlite3_column_int64(st, 0);
        }
        if (src == SQLITE_DONE || src == SQLITE_ROW) src = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (src == SQLITE_NOMEM) rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    else if (src) rc = mnemo__store_sqlite_fail(err, db, src, "listing memories");
    if (!rc && more) {
        char c[32];
        snprintf(c, sizeof c, "%lld", (long long)last);
        m->next_cursor = mnemo__strndup(c, strlen(c));
        if (!m->next_cursor) rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    }
    mnemo__store_reader_put(s, db);
    mnemo__filter_free(f);
    if (rc) {
        mnemo_memories_free(m);
        return rc;
    }
    *out = m;
    return MNEMO_OK;
}

int mnemo__sqlite_memory_count(mnemo_store *s, const mnemo_memory_scope *scope, const char *filter, size_t *n,
                       mnemo_error *err) {
    *n = 0;
    mnemo_memory_scope none = {0};
    if (!scope) scope = &none;
    int rc = mnemo__scope_check(scope, "", err);
    if (rc) return rc;
    mnemo_filter *f;
    if ((rc = mnemo__filter_parse(filter, &f, err))) return rc;
    double now = mnemo__store_now(s);
    pthread_rwlock_rdlock(&s->index_lock);
    for (size_t i = 0; i < s->index.n; i++) {
        const mnemo_index_entry *e = &s->index.entries[i];
        if ((!e->expires_at || e->expires_at > now) && mnemo__scope_match(e, scope) && mnemo__filter_match(f, e->meta))
            (*n)++;
    }
    pthread_rwlock_unlock(&s->index_lock);
    mnemo__filter_free(f);
    return MNEMO_OK;
}

static char *col_dup(sqlite3_stmt *st, int c) {
    const unsigned char *t = sqlite3_column_text(st, c);
    return t ? mnemo__strndup((const char *)t, (size_t)sqlite3_column_bytes(st, c)) : NULL;
}

int mnemo__sqlite_memory_history(mnemo_store *s, const char *id, mnemo_history **out, mnemo_error *err) {
    *out = NULL;
    if (!id || !*id) return mnemo__fail(err, MNEMO_EINVAL, "id: is empty");
    sqlite3 *db;
    int rc = mnemo__store_reader(s, &db, err);
    if (rc) return rc;
    mnemo_history *h = mnemo__calloc(1, sizeof *h);
    size_t cap = 0;
    sqlite3_stmt *st = NULL;
    int src = !h ? SQLITE_NOMEM
                 : sqlite3_prepare_v2(db, "SELECT event, reason, at, text, metadata FROM history WHERE memory_id = ?1 ORDER BY seq",
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
    sqlite3_finalize(st);
    if (src == SQLITE_NOMEM) rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    else if (src) rc = mnemo__store_sqlite_fail(err, db, src, "reading the history");
    else if (h->n == 0) rc = mnemo__fail(err, MNEMO_ENOENT, "no memory ever had the id '%.64s'", id);
    mnemo__store_reader_put(s, db);
    if (rc) {
        mnemo_history_free(h);
        return rc;
    }
    *out = h;
    return MNEMO_OK;
}
