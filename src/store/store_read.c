/*
 * store_read.c — the reads of a memory store: search (exact vector scan of
 * the in-memory index or a walk of its HNSW graph, FTS5 BM25, and their reciprocal-rank fusion, with
 * scope, expiry and metadata filters applied while candidates are ranked),
 * get, list with cursor pagination, count and history. Rows are read on a
 * pooled read connection, so reads never wait for a write to commit.
 */
#include "store.h"
#include "../kernels/kernels.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LIST 1000

typedef mnemo_hit hit;

int mnemo__accept_scope(void *ctx, size_t pos) {
    const mnemo_scope_accept *a = ctx;
    const mnemo_index_entry *e = &a->ix->entries[pos];
    return mnemo__entry_live(e, a->now) &&
           (a->exact_scope ? mnemo__scope_equal(e, a->sc) : mnemo__scope_match(e, a->sc));
}

int mnemo__accept_filter(void *ctx, size_t pos) {
    const mnemo_scope_accept *a = ctx;
    return mnemo__filter_match(a->f, a->ix->entries[pos].meta);
}

/* Keeps the best `cap` (position, score) pairs, best first. */
static void top_push_pos(mnemo_hnsw_hit *top, size_t *n, size_t cap, size_t pos, double score) {
    if (*n == cap && score <= top[cap - 1].score) return;
    size_t i = *n < cap ? (*n)++ : cap - 1;
    while (i > 0 && top[i - 1].score < score) {
        top[i] = top[i - 1];
        i--;
    }
    top[i] = (mnemo_hnsw_hit){pos, (float)score};
}

static int cmp_hit_desc(const void *a, const void *b) {
    float x = ((const mnemo_hnsw_hit *)a)->score, y = ((const mnemo_hnsw_hit *)b)->score;
    return x < y ? 1 : x > y ? -1 : 0;
}

/*
 * The f32 inner products of n candidates (index positions) with q, sorted
 * best first; returns how many remain. From the index's array, or for an
 * int8_only or binary_only index from the rows' vectors on db (a row
 * deleted since the index was read is left out; one whose vector changed
 * meanwhile gets its new vector's score).
 */
static int rescore(const mnemo_store *s, sqlite3 *db, const float *q, mnemo_hnsw_hit *h,
                   size_t *n_io) {
    const mnemo_index *ix = &s->index;
    size_t kept = 0, n = *n_io;
    int rc = MNEMO_OK;
    if (ix->vectors) {
        for (size_t i = 0; i < n; i++)
            h[i].score = mnemo__dot(ix->vectors + h[i].pos * ix->dim, q, ix->dim);
        kept = n;
    } else {
        sqlite3_stmt *st = NULL;
        float *v = mnemo__malloc_array(ix->dim,
                                       sizeof(float)); /* the blob may not be aligned for floats */
        if (!v)
            rc = MNEMO_ENOMEM;
        else if (!db || sqlite3_prepare_v2(db, "SELECT vector FROM memories WHERE seq = ?1", -1,
                                           &st, NULL))
            rc = MNEMO_EIO;
        for (size_t i = 0; i < n && !rc; i++) {
            sqlite3_reset(st);
            sqlite3_bind_int64(st, 1, ix->entries[h[i].pos].seq);
            int src = sqlite3_step(st);
            if (src == SQLITE_DONE) continue;
            if (src != SQLITE_ROW) {
                rc = MNEMO_EIO;
                break;
            }
            const void *b = sqlite3_column_blob(st, 0);
            if (!b || (size_t)sqlite3_column_bytes(st, 0) != ix->dim * sizeof(float)) continue;
            memcpy(v, b, ix->dim * sizeof(float));
            h[kept++] = (mnemo_hnsw_hit){h[i].pos, mnemo__dot(v, q, ix->dim)};
        }
        sqlite3_finalize(st);
        mnemo__free(v);
    }
    qsort(h, kept, sizeof *h, cmp_hit_desc);
    *n_io = kept;
    return rc;
}

typedef struct both_ctx {
    mnemo_hnsw_accept pre, post;
    void *ctx;
} both_ctx;

static int accept_both(void *ctx, size_t pos) {
    const both_ctx *b = ctx;
    return b->pre(b->ctx, pos) && (!b->post || b->post(b->ctx, pos));
}

/* How many approximate candidates an int8_only exact scan rescores for cap. */
static size_t rescore_depth(size_t cap) { return cap * 4 + 32; }

/* A max-heap of candidates by Hamming distance (the worst on top), so the
 * scan keeps the best `cap` with one comparison for most entries. */
typedef struct far_heap {
    uint32_t *d;
    size_t *pos;
    size_t n, cap;
} far_heap;

static void far_push(far_heap *h, uint32_t d, size_t pos) {
    size_t i;
    if (h->n < h->cap) {
        i = h->n++;
        while (i > 0 && h->d[(i - 1) / 2] < d) {
            h->d[i] = h->d[(i - 1) / 2];
            h->pos[i] = h->pos[(i - 1) / 2];
            i = (i - 1) / 2;
        }
    } else { /* replace the top, sift down */
        i = 0;
        for (;;) {
            size_t c = 2 * i + 1;
            if (c >= h->n) break;
            if (c + 1 < h->n && h->d[c + 1] > h->d[c]) c++;
            if (h->d[c] <= d) break;
            h->d[i] = h->d[c];
            h->pos[i] = h->pos[c];
            i = c;
        }
    }
    h->d[i] = d;
    h->pos[i] = pos;
}

/*
 * The binary index's search: the Hamming distance of every entry's bits to
 * the query's (the kernels' hamming, a block of entries per call), the
 * nearest max(binary_per_result * cap, binary_candidates) that pre()
 * and post() pass kept (the distance first: it is cheaper than the scope's
 * string compares, and most entries fail it), then rescored with their f32
 * vectors from SQLite. Always this flat scan: no graph.
 */
static int nearest_binary(const mnemo_store *s, sqlite3 *db, const float *q, mnemo_hnsw_accept pre,
                          mnemo_hnsw_accept post, void *ctx, mnemo_hnsw_hit *top, size_t cap,
                          size_t *n) {
    const mnemo_index *ix = &s->index;
    enum { BLOCK = 256 };
    size_t depth = ix->binary_per_result && cap > SIZE_MAX / ix->binary_per_result
                       ? SIZE_MAX
                       : cap * ix->binary_per_result;
    if (depth < ix->binary_candidates) depth = ix->binary_candidates;
    if (depth < cap) depth = cap;
    if (depth > ix->n) depth = ix->n;
    far_heap h = {.d = mnemo__malloc_array(depth, sizeof(uint32_t)),
                  .pos = mnemo__malloc_array(depth, sizeof(size_t)),
                  .cap = depth};
    uint64_t *qb = mnemo__malloc_array(ix->words, sizeof(uint64_t));
    uint32_t dist[BLOCK];
    int rc = MNEMO_OK;
    if (!h.d || !h.pos || !qb) rc = MNEMO_ENOMEM;
    void (*hamming)(const uint64_t *, const uint64_t *, size_t, size_t, uint32_t *) =
        mnemo__kernels_best()->hamming;
    if (!rc) mnemo__binarize(q, ix->dim, qb);
    for (size_t base = 0; !rc && base < ix->n; base += BLOCK) {
        size_t m = ix->n - base < BLOCK ? ix->n - base : BLOCK;
        hamming(qb, ix->bits + base * ix->words, ix->words, m, dist);
        for (size_t j = 0; j < m; j++) {
            if (h.n == h.cap && dist[j] >= h.d[0]) continue;
            size_t i = base + j;
            if (!pre(ctx, i) || (post && !post(ctx, i))) continue;
            far_push(&h, dist[j], i);
        }
    }
    mnemo_hnsw_hit *cand = rc ? NULL : mnemo__malloc_array(h.n ? h.n : 1, sizeof *cand);
    if (!rc && !cand) rc = MNEMO_ENOMEM;
    if (!rc) {
        size_t nc = h.n;
        for (size_t i = 0; i < nc; i++) cand[i] = (mnemo_hnsw_hit){h.pos[i], 0};
        rc = rescore(s, db, q, cand, &nc);
        *n = nc < cap ? nc : cap;
        memcpy(top, cand, *n * sizeof *top);
    }
    mnemo__free(cand);
    mnemo__free(h.d);
    mnemo__free(h.pos);
    mnemo__free(qb);
    return rc;
}

int mnemo__store_nearest(const mnemo_store *s, sqlite3 *db, const float *q, int exact,
                         mnemo_hnsw_accept pre, mnemo_hnsw_accept post, void *ctx,
                         mnemo_hnsw_hit *top, size_t cap, size_t *n) {
    *n = 0;
    const mnemo_index *ix = &s->index;
    if (cap == 0 || ix->n == 0) return MNEMO_OK;
    if (ix->binary_only) return nearest_binary(s, db, q, pre, post, ctx, top, cap, n);
    int use_graph = !exact && ix->graph_state == MNEMO_GRAPH_READY && ix->n >= ix->graph_threshold;
    /* the query's codes, for what ranks by codes: the walk, an int8 index's scan */
    int8_t *qc = NULL;
    float qs = 0;
    if (use_graph || ix->int8_only) {
        if (!(qc = mnemo__malloc(ix->dim))) return MNEMO_ENOMEM;
        qs = mnemo__quantize_i8(q, ix->dim, qc);
    }
    if (use_graph) {
        size_t want = ix->ef_search > cap ? ix->ef_search : cap;
        mnemo_hnsw_hit *gh = mnemo__malloc_array(want, sizeof *gh);
        both_ctx b = {pre, post, ctx};
        size_t ng = 0;
        int complete = 0;
        if (gh &&
            !mnemo__hnsw_search(&ix->graph, mnemo__index_codes(ix), qc, qs, ix->ef_search,
                                accept_both, &b, gh, want, &ng, &complete) &&
            complete && ng >= cap) {
            /* the beam comes best first by the codes; from SQLite only its head is read */
            if (ix->int8_only && ng > rescore_depth(cap)) ng = rescore_depth(cap);
            int rc = rescore(s, db, q, gh, &ng);
            *n = ng < cap ? ng : cap;
            memcpy(top, gh, *n * sizeof *top);
            mnemo__free(gh);
            mnemo__free(qc);
            return rc;
        }
        mnemo__free(gh); /* out of memory in the walk too: the scan needs none */
    }
    /* the exact scan: f32, or int8 codes and the best few rescored */
    size_t depth = ix->int8_only ? rescore_depth(cap) : cap;
    mnemo_hnsw_hit *cand = ix->int8_only ? mnemo__malloc_array(depth, sizeof *cand) : top;
    if (!cand) {
        mnemo__free(qc);
        return MNEMO_ENOMEM;
    }
    size_t nc = 0;
    for (size_t i = 0; i < ix->n; i++) {
        if (!pre(ctx, i)) continue;
        double score = !ix->int8_only ? mnemo__dot(ix->vectors + i * ix->dim, q, ix->dim)
                                      : mnemo__index_score_i8(ix, i, qc, qs);
        if (nc == depth && score <= cand[depth - 1].score) continue; /* cheap before the filter */
        if (post && !post(ctx, i)) continue;
        top_push_pos(cand, &nc, depth, i, score);
    }
    int rc = MNEMO_OK;
    if (!ix->int8_only) {
        *n = nc;
    } else {
        rc = rescore(s, db, q, cand, &nc);
        *n = nc < cap ? nc : cap;
        memcpy(top, cand, *n * sizeof *top);
        mnemo__free(cand);
    }
    mnemo__free(qc);
    return rc;
}

/*
 * The best cap entries for q (mnemo__store_nearest with the search's scope,
 * expiry and filter), as (seq, score).
 */
static int vector_hits(mnemo_store *s, sqlite3 *db, const float *q, const mnemo_memory_scope *sc,
                       const mnemo_filter *f, double now, int exact, hit *top, size_t cap,
                       size_t *n) {
    *n = 0;
    mnemo_hnsw_hit *h = mnemo__malloc_array(cap, sizeof *h);
    if (!h) return MNEMO_ENOMEM;
    pthread_rwlock_rdlock(&s->index_lock);
    const mnemo_index *ix = &s->index;
    mnemo_scope_accept ac = {.ix = ix, .sc = sc, .f = f, .now = now};
    size_t nh = 0;
    int rc = mnemo__store_nearest(s, db, q, exact, mnemo__accept_scope,
                                  f ? mnemo__accept_filter : NULL, &ac, h, cap, &nh);
    if (rc) nh = 0;
    for (size_t i = 0; i < nh; i++) top[i] = (hit){ix->entries[h[i].pos].seq, h[i].score};
    *n = nh;
    pthread_rwlock_unlock(&s->index_lock);
    mnemo__free(h);
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

static int text_hits(mnemo_store *s, sqlite3 *db, const char *q, size_t qlen,
                     const mnemo_memory_scope *sc, const mnemo_filter *f, double now, hit *top,
                     size_t cap, size_t *n, mnemo_error *err) {
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
    int status = (rc == SQLITE_ROW || rc == SQLITE_DONE)
                     ? MNEMO_OK
                     : mnemo__store_sqlite_fail(err, db, rc, "text search");
    sqlite3_finalize(st);
    mnemo__free(expr);
    (void)s;
    return status;
}

static int fetch(sqlite3 *db, const hit *hits, size_t n, double now, mnemo_memories **out,
                 mnemo_error *err) {
    mnemo_memories *m = mnemo__calloc(1, sizeof *m);
    if (!m) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    m->items = mnemo__calloc(n ? n : 1, sizeof *m->items);
    sqlite3_stmt *st = NULL;
    int rc = m->items ? sqlite3_prepare_v2(db,
                                           "SELECT " MNEMO_MEMORY_COLUMNS
                                           " FROM memories WHERE seq = ?1 AND "
                                           "(expires_at IS NULL OR expires_at > ?2)",
                                           -1, &st, NULL)
                      : SQLITE_NOMEM;
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
    if (status) {
        mnemo_memories_free(m);
        return status;
    }
    *out = m;
    return MNEMO_OK;
}

int mnemo__sqlite_memory_search(mnemo_store *s, const mnemo_search_options *o, mnemo_memories **out,
                                mnemo_error *err) {
    /* the options were checked by mnemo__search_check (store_backend.c) */
    *out = NULL;
    size_t k = o->k ? o->k : mnemo_search_default_options().k;
    int rc;
    mnemo_filter *f;
    if ((rc = mnemo__filter_parse(o->filter, &f, err))) return rc;
    double now = mnemo__store_now(s);
    size_t depth = mnemo__search_depth(o, k);
    float *q = mnemo__malloc_array(s->dim, sizeof(float));
    hit *vh = mnemo__malloc_array(depth, sizeof(hit)),
        *th = mnemo__malloc_array(depth, sizeof(hit));
    hit *fused = mnemo__malloc_array(depth * 2, sizeof(hit));
    size_t nv = 0, nt = 0, nf = 0;
    sqlite3 *db = NULL;
    if (!q || !vh || !th || !fused) {
        rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
        goto out;
    }
    if (o->mode != MNEMO_SEARCH_TEXT && (rc = mnemo__query_vector(s, o, q, err))) goto out;
    if ((rc = mnemo__store_reader(s, &db, err))) goto out;
    if (o->mode != MNEMO_SEARCH_TEXT &&
        (rc = vector_hits(s, db, q, &o->scope, f, now, o->exact, vh, depth, &nv))) {
        rc = rc == MNEMO_ENOMEM
                 ? mnemo__fail(err, rc, "out of memory")
                 : mnemo__store_sqlite_fail(err, db, sqlite3_errcode(db), "reading vectors");
        goto out;
    }
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

int mnemo__sqlite_memory_get(mnemo_store *s, const char *id, mnemo_memories **out,
                             mnemo_error *err) {
    *out = NULL;
    if (!id || !*id) return mnemo__fail(err, MNEMO_EINVAL, "id: is empty");
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

int mnemo__sqlite_memory_list(mnemo_store *s, const mnemo_list_options *o, mnemo_memories **out,
                              mnemo_error *err) {
    *out = NULL;
    mnemo_list_options none = {0};
    if (!o) o = &none;
    size_t limit = o->limit ? o->limit : mnemo_list_default_options().limit;
    if (limit > MAX_LIST)
        return mnemo__fail(err, MNEMO_ERANGE, "limit: %zu is out of range 1..%d", limit, MAX_LIST);
    int64_t after = 0;
    if (o->cursor && *o->cursor) {
        char *end;
        errno = 0;
        long long v = strtoll(o->cursor, &end, 10);
        if (*end || errno || v < 0 || o->cursor[0] < '0' || o->cursor[0] > '9')
            return mnemo__fail(err, MNEMO_EINVAL, "cursor: '%.40s' is not a cursor this store gave",
                               o->cursor);
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
    int src = !m || !m->items
                  ? SQLITE_NOMEM
                  : sqlite3_prepare_v2(
                        db,
                        "SELECT seq, " MNEMO_MEMORY_COLUMNS
                        " FROM memories WHERE seq > ?1 AND " SCOPE_SQL(
                            2, 3, 4, 5) " AND (expires_at IS NULL OR expires_at > ?6) ORDER BY seq",
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
    if (src == SQLITE_NOMEM)
        rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    else if (src)
        rc = mnemo__store_sqlite_fail(err, db, src, "listing memories");
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

int mnemo__sqlite_memory_count(mnemo_store *s, const mnemo_memory_scope *scope, const char *filter,
                               size_t *n, mnemo_error *err) {
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
        if ((!e->expires_at || e->expires_at > now) && mnemo__scope_match(e, scope) &&
            mnemo__filter_match(f, e->meta))
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

int mnemo__sqlite_memory_history(mnemo_store *s, const char *id, mnemo_history **out,
                                 mnemo_error *err) {
    *out = NULL;
    if (!id || !*id) return mnemo__fail(err, MNEMO_EINVAL, "id: is empty");
    sqlite3 *db;
    int rc = mnemo__store_reader(s, &db, err);
    if (rc) return rc;
    mnemo_history *h = mnemo__calloc(1, sizeof *h);
    size_t cap = 0;
    sqlite3_stmt *st = NULL;
    int src = !h ? SQLITE_NOMEM
                 : sqlite3_prepare_v2(db,
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
    sqlite3_finalize(st);
    if (src == SQLITE_NOMEM)
        rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    else if (src)
        rc = mnemo__store_sqlite_fail(err, db, src, "reading the history");
    else if (h->n == 0)
        rc = mnemo__fail(err, MNEMO_ENOENT, "no memory ever had the id '%.64s'", id);
    mnemo__store_reader_put(s, db);
    if (rc) {
        mnemo_history_free(h);
        return rc;
    }
    *out = h;
    return MNEMO_OK;
}
