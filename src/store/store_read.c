/*
 * store_read.c — the reads of a memory store, written once for every
 * backend: the checks of a search's options, its query vector, the vector
 * and text lists from the backend's primitives and their reciprocal-rank
 * fusion, the rows fetched in rank order; get, list with cursor pagination,
 * count and history, each with its checks and limits. The backend runs the
 * queries (store.h's mnemo_store_ops); scope, expiry and filters are applied
 * by it while it ranks, so a filtered search returns k whenever k match.
 */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_QUERY_BYTES (64 * 1024)
#define MAX_QUERY_WORDS 64 /* a text search matches on the first this many words */
#define MAX_LIST 1000

typedef mnemo_hit hit;

static int search_check(const mnemo_store *s, const mnemo_search_options *o, size_t *kp,
                        mnemo_error *err) {
    if (!o) return mnemo__fail(err, MNEMO_EINVAL, "no search options");
    size_t k = o->k ? o->k : mnemo_search_default_options().k, bad;
    *kp = k;
    if (k > MNEMO_SEARCH_MAX_K)
        return mnemo__fail(err, MNEMO_ERANGE, "k: %zu is out of range 1..%d", k,
                           MNEMO_SEARCH_MAX_K);
    if (o->mode != MNEMO_SEARCH_VECTOR && o->mode != MNEMO_SEARCH_TEXT &&
        o->mode != MNEMO_SEARCH_HYBRID)
        return mnemo__fail(err, MNEMO_EINVAL, "mode: %d is not vector, text or hybrid",
                           (int)o->mode);
    if (o->query && o->vector)
        return mnemo__fail(err, MNEMO_EINVAL, "query and vector: give one, not both");
    if (!o->query && !o->vector)
        return mnemo__fail(err, MNEMO_EINVAL, "query: missing (or give a vector)");
    if (o->vector && o->mode != MNEMO_SEARCH_VECTOR)
        return mnemo__fail(
            err, MNEMO_EINVAL,
            "vector: only mode vector searches by a vector (text and hybrid need a query)");
    if (o->vector && o->vector_dim != s->dim)
        return mnemo__fail(err, MNEMO_EINVAL, "vector: %zu values, the store's model gives %zu",
                           o->vector_dim, s->dim);
    if (o->query) {
        if (o->query_len == 0) return mnemo__fail(err, MNEMO_EINVAL, "query: is empty");
        if (o->query_len > MAX_QUERY_BYTES)
            return mnemo__fail(err, MNEMO_ETOOBIG, "query: %zu bytes, at most %d", o->query_len,
                               MAX_QUERY_BYTES);
        if (!mnemo_utf8_valid(o->query, o->query_len, &bad))
            return mnemo__fail(err, MNEMO_EUTF8, "query: invalid UTF-8 at byte offset %zu", bad);
    }
    if (o->has_min_score && o->min_score != o->min_score)
        return mnemo__fail(err, MNEMO_EINVAL, "min_score: not a number");
    return mnemo__scope_check(&o->scope, "", err);
}

/* A search's vector: the caller's made unit, or the query embedded with
 * the "query" prompt, into q (dim floats). */
static int query_vector(mnemo_store *s, const mnemo_search_options *o, float *q, mnemo_error *err) {
    if (o->vector)
        return mnemo__unit_vector(o->vector, s->dim, q)
                   ? MNEMO_OK
                   : mnemo__fail(err, MNEMO_EINVAL, "vector: must be finite and not all zero");
    const char *t = o->query;
    size_t tl = o->query_len;
    return mnemo__store_embed(s, &t, &tl, 1, "query", q, err);
}

void mnemo__hits_sort(mnemo_hit *h, size_t n) {
    for (size_t i = 1; i < n; i++) { /* insertion, stable: a few hundred at most */
        mnemo_hit x = h[i];
        size_t j = i;
        while (j > 0 && h[j - 1].score < x.score) {
            h[j] = h[j - 1];
            j--;
        }
        h[j] = x;
    }
}

/* The reciprocal-rank fusion of two lists ranked best first into out (room
 * for nv + nt): each adds 1 / (MNEMO_RRF_K + rank) to a row, rank from 1;
 * *n_out rows, best first. */
static void rrf_fuse(const mnemo_hit *v, size_t nv, const mnemo_hit *t, size_t nt, mnemo_hit *out,
                     size_t *n_out) {
    size_t nf = 0;
    for (size_t i = 0; i < nv; i++)
        out[nf++] = (mnemo_hit){v[i].seq, 1.0 / (MNEMO_RRF_K + (double)i + 1)};
    for (size_t i = 0; i < nt; i++) {
        double add = 1.0 / (MNEMO_RRF_K + (double)i + 1);
        size_t j = 0;
        while (j < nf && out[j].seq != t[i].seq) j++;
        if (j < nf)
            out[j].score += add;
        else
            out[nf++] = (mnemo_hit){t[i].seq, add};
    }
    mnemo__hits_sort(out, nf);
    *n_out = nf;
}

#define HYBRID_DEPTH 50

/* How many hits each list of a search gathers: k, and for hybrid mode
 * max(k, 50), so the fusion sees enough of both lists. */
static size_t search_depth(const mnemo_search_options *o, size_t k) {
    return o->mode == MNEMO_SEARCH_HYBRID && k < HYBRID_DEPTH ? HYBRID_DEPTH : k;
}

/* A search's ranked rows into out (room for nv + nt): the vector list, the
 * text list or their fusion, as o->mode says, cut to k and to o->min_score;
 * how many. */
static size_t search_ranked(const mnemo_search_options *o, size_t k, const mnemo_hit *v, size_t nv,
                            const mnemo_hit *t, size_t nt, mnemo_hit *out) {
    size_t n;
    if (o->mode == MNEMO_SEARCH_VECTOR)
        memcpy(out, v, nv * sizeof *out), n = nv;
    else if (o->mode == MNEMO_SEARCH_TEXT)
        memcpy(out, t, nt * sizeof *out), n = nt;
    else
        rrf_fuse(v, nv, t, nt, out, &n);
    if (n > k) n = k;
    if (o->has_min_score) {
        size_t w = 0;
        for (size_t i = 0; i < n; i++)
            if (out[i].score >= o->min_score) out[w++] = out[i];
        n = w;
    }
    return n;
}

char *mnemo__query_words(const char *q, size_t len, char quote, const char *sep) {
    size_t sl = strlen(sep);
    char *out = mnemo__malloc(len * 2 + 16 + MAX_QUERY_WORDS * (sl + 2));
    if (!out) return NULL;
    size_t o = 0;
    int words = 0;
#define WORDC(c)                                                                               \
    (((c) >= '0' && (c) <= '9') || ((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || \
     (c) >= 0x80 || (c) == '_')
    for (size_t i = 0; i < len && words < MAX_QUERY_WORDS;) {
        if (!WORDC((unsigned char)q[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < len && WORDC((unsigned char)q[j])) j++;
        if (words) {
            memcpy(out + o, sep, sl);
            o += sl;
        }
        out[o++] = quote;
        memcpy(out + o, q + i, j - i);
        o += j - i;
        out[o++] = quote;
        words++;
        i = j;
    }
#undef WORDC
    out[o] = 0;
    return out;
}

static int no_memory(mnemo_error *err) { return mnemo__fail(err, MNEMO_ENOMEM, "out of memory"); }

/* Room for n memories (at least one). */
static mnemo_memories *memories_new(size_t n) {
    mnemo_memories *m = mnemo__calloc(1, sizeof *m);
    if (m && !(m->items = mnemo__calloc(n ? n : 1, sizeof *m->items))) {
        mnemo__free(m);
        m = NULL;
    }
    return m;
}

int mnemo_memory_search(mnemo_store *s, const mnemo_search_options *o, mnemo_memories **out,
                        mnemo_error *err) {
    *out = NULL;
    size_t k = 0;
    int rc = search_check(s, o, &k, err);
    if (rc) return rc;
    mnemo_filter *f;
    if ((rc = mnemo__filter_parse(o->filter, &f, err))) return rc;
    const mnemo_store_ops *ops = s->db->ops;
    mnemo_store_query q = {.scope = &o->scope, .filter = f, .now = mnemo__store_now(s)};
    size_t depth = search_depth(o, k);
    float *qv = mnemo__malloc_array(s->dim ? s->dim : 1, sizeof(float));
    hit *vh = mnemo__malloc_array(depth, sizeof(hit)),
        *th = mnemo__malloc_array(depth, sizeof(hit));
    hit *fused = mnemo__malloc_array(depth * 2, sizeof(hit));
    size_t nv = 0, nt = 0, nf = 0;
    mnemo_store_conn *c = NULL;
    mnemo_memories *m = NULL;
    int reading = 0;
    if (!qv || !vh || !th || !fused) {
        rc = no_memory(err);
        goto out;
    }
    if (o->mode != MNEMO_SEARCH_TEXT && (rc = query_vector(s, o, qv, err))) goto out;
    if ((rc = ops->begin_read(s, &c, err))) goto out;
    reading = 1;
    if (o->mode != MNEMO_SEARCH_TEXT &&
        (rc = ops->nearest(s, c, &q, qv, o->exact, vh, depth, &nv, err)))
        goto out;
    if (o->mode != MNEMO_SEARCH_VECTOR &&
        (rc = ops->text(s, c, &q, o->query, o->query_len, th, depth, &nt, err)))
        goto out;
    nf = search_ranked(o, k, vh, nv, th, nt, fused);
    if (!(m = memories_new(nf)))
        rc = no_memory(err);
    else
        rc = ops->fetch(s, c, fused, nf, q.now, m, err);
out:
    if (reading) ops->end_read(s, c);
    if (rc)
        mnemo_memories_free(m);
    else
        *out = m;
    mnemo__filter_free(f);
    mnemo__free(qv);
    mnemo__free(vh);
    mnemo__free(th);
    mnemo__free(fused);
    return rc;
}

int mnemo_memory_get(mnemo_store *s, const char *id, mnemo_memories **out, mnemo_error *err) {
    *out = NULL;
    if (!id || !*id) return mnemo__fail(err, MNEMO_EINVAL, "id: is empty");
    mnemo_memories *m = memories_new(1);
    if (!m) return no_memory(err);
    int rc = s->db->ops->get(s, id, mnemo__store_now(s), m, err);
    if (!rc && m->n == 0) rc = mnemo__no_memory(err, id);
    if (rc) {
        mnemo_memories_free(m);
        return rc;
    }
    *out = m;
    return MNEMO_OK;
}

int mnemo_memory_list(mnemo_store *s, const mnemo_list_options *o, mnemo_memories **out,
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
    mnemo_store_query q = {.scope = &o->scope, .filter = f, .now = mnemo__store_now(s)};
    mnemo_memories *m = memories_new(limit);
    int64_t last = 0;
    int more = 0;
    rc = m ? s->db->ops->list(s, &q, after, limit, m, &last, &more, err) : no_memory(err);
    if (!rc && more) {
        char c[32];
        snprintf(c, sizeof c, "%lld", (long long)last);
        m->next_cursor = mnemo__strndup(c, strlen(c));
        if (!m->next_cursor) rc = no_memory(err);
    }
    mnemo__filter_free(f);
    if (rc) {
        mnemo_memories_free(m);
        return rc;
    }
    *out = m;
    return MNEMO_OK;
}

int mnemo_memory_count(mnemo_store *s, const mnemo_memory_scope *scope, const char *filter,
                       size_t *n, mnemo_error *err) {
    *n = 0;
    mnemo_memory_scope none = {0};
    if (!scope) scope = &none;
    int rc = mnemo__scope_check(scope, "", err);
    if (rc) return rc;
    mnemo_filter *f;
    if ((rc = mnemo__filter_parse(filter, &f, err))) return rc;
    mnemo_store_query q = {.scope = scope, .filter = f, .now = mnemo__store_now(s)};
    rc = s->db->ops->count(s, &q, n, err);
    if (rc) *n = 0;
    mnemo__filter_free(f);
    return rc;
}

int mnemo_memory_history(mnemo_store *s, const char *id, mnemo_history **out, mnemo_error *err) {
    *out = NULL;
    if (!id || !*id) return mnemo__fail(err, MNEMO_EINVAL, "id: is empty");
    mnemo_history *h = mnemo__calloc(1, sizeof *h);
    int rc = h ? s->db->ops->history(s, id, h, err) : no_memory(err);
    if (!rc && h->n == 0) rc = mnemo__never_memory(err, id);
    if (rc) {
        mnemo_history_free(h);
        return rc;
    }
    *out = h;
    return MNEMO_OK;
}
