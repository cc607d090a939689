/*
 * store_backend.c — the one place the public mnemo_store_* / mnemo_memory_*
 * calls are routed to a backend (SQLite in a data folder, or PostgreSQL at a
 * URL), and the checks and set-up both backends share: search options,
 * changes, the common part of opening, and the model-mismatch message.
 * Not the backends themselves (store*.c for SQLite, pg*.c for PostgreSQL).
 */
#include "store.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#define MAX_QUERY_BYTES (64 * 1024)
#define MAX_QUERY_WORDS 64 /* a text search matches on the first this many words */

const mnemo_store_backend mnemo__sqlite_backend = {
    .name = "sqlite",
    .close = mnemo__sqlite_close,
    .sweep = mnemo__sqlite_sweep,
    .add = mnemo__sqlite_memory_add,
    .update = mnemo__sqlite_memory_update,
    .remove = mnemo__sqlite_memory_delete,
    .remove_where = mnemo__sqlite_memory_delete_where,
    .search = mnemo__sqlite_memory_search,
    .get = mnemo__sqlite_memory_get,
    .list = mnemo__sqlite_memory_list,
    .count = mnemo__sqlite_memory_count,
    .history = mnemo__sqlite_memory_history,
};

static int has_prefix(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }

int mnemo_store_open(const mnemo_store_options *opts, mnemo_store **out, mnemo_error *err) {
    *out = NULL;
    if (opts && opts->index_int8 && opts->index_binary)
        return mnemo__fail(
            err, MNEMO_EINVAL,
            "index vectors: int8 and binary were both asked for (--index-vectors takes one of "
            "f32, int8, binary)");
    if (!opts || !opts->url || !*opts->url) return mnemo__sqlite_open(opts, out, err);
    const char *url = opts->url;
    if (has_prefix(url, "postgres://") || has_prefix(url, "postgresql://")) {
        if (opts->data_dir && *opts->data_dir)
            return mnemo__fail(err, MNEMO_EINVAL,
                               "both a data folder and a PostgreSQL store were given: pass one of "
                               "--data-dir DIR and --store URL");
        if (opts->index_int8)
            return mnemo__fail(
                err, MNEMO_EINVAL,
                "int8 index vectors (--index-vectors int8) are for the SQLite store; PostgreSQL "
                "keeps its vectors in pgvector: leave --index-vectors at f32");
        if (opts->index_binary)
            return mnemo__fail(err, MNEMO_EINVAL,
                               "binary index vectors (--index-vectors binary) are for the SQLite "
                               "store; PostgreSQL "
                               "keeps its vectors in pgvector: leave --index-vectors at f32");
        return mnemo__pg_open(opts, out, err);
    }
    if (has_prefix(url, "sqlite:")) {
        mnemo_store_options o = *opts;
        o.data_dir = url + strlen("sqlite:");
        if (opts->data_dir && *opts->data_dir && strcmp(opts->data_dir, o.data_dir))
            return mnemo__fail(err, MNEMO_EINVAL,
                               "--data-dir '%s' and --store '%s' name two stores: pass one",
                               opts->data_dir, url);
        if (!*o.data_dir)
            return mnemo__fail(err, MNEMO_EINVAL,
                               "store URL 'sqlite:' names no folder: use sqlite:DIR");
        o.url = NULL;
        return mnemo__sqlite_open(&o, out, err);
    }
    return mnemo__fail(
        err, MNEMO_EINVAL,
        "store '%.200s' is not a store URL: use sqlite:DIR, postgres://USER@HOST:PORT/DB "
        "or postgresql://...",
        url);
}

void mnemo_store_close(mnemo_store *s) {
    if (s) s->backend->close(s);
}

int mnemo_store_sweep(mnemo_store *s, size_t *n_deleted, mnemo_error *err) {
    return s->backend->sweep(s, n_deleted, err);
}

int mnemo_memory_add(mnemo_store *s, const mnemo_memory_input *in, size_t n,
                     mnemo_memory_added *out, mnemo_error *err) {
    return s->backend->add(s, in, n, out, err);
}

int mnemo_memory_update(mnemo_store *s, const char *id, const mnemo_memory_changes *u,
                        mnemo_error *err) {
    return s->backend->update(s, id, u, err);
}

int mnemo_memory_delete(mnemo_store *s, const char *id, mnemo_error *err) {
    return s->backend->remove(s, id, err);
}

int mnemo_memory_delete_where(mnemo_store *s, const mnemo_memory_scope *scope, const char *filter,
                              size_t *n_deleted, mnemo_error *err) {
    return s->backend->remove_where(s, scope, filter, n_deleted, err);
}

int mnemo_memory_search(mnemo_store *s, const mnemo_search_options *o, mnemo_memories **out,
                        mnemo_error *err) {
    *out = NULL;
    size_t k;
    int rc = mnemo__search_check(s, o, &k, err);
    return rc ? rc : s->backend->search(s, o, out, err);
}

int mnemo_memory_get(mnemo_store *s, const char *id, mnemo_memories **out, mnemo_error *err) {
    return s->backend->get(s, id, out, err);
}

int mnemo_memory_list(mnemo_store *s, const mnemo_list_options *o, mnemo_memories **out,
                      mnemo_error *err) {
    return s->backend->list(s, o, out, err);
}

int mnemo_memory_count(mnemo_store *s, const mnemo_memory_scope *scope, const char *filter,
                       size_t *n, mnemo_error *err) {
    return s->backend->count(s, scope, filter, n, err);
}

int mnemo_memory_history(mnemo_store *s, const char *id, mnemo_history **out, mnemo_error *err) {
    return s->backend->history(s, id, out, err);
}

/* ------------------------------------------------------ shared checks */

int mnemo__search_check(const mnemo_store *s, const mnemo_search_options *o, size_t *kp,
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

int mnemo__query_vector(mnemo_store *s, const mnemo_search_options *o, float *q, mnemo_error *err) {
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

void mnemo__rrf_fuse(const mnemo_hit *v, size_t nv, const mnemo_hit *t, size_t nt, mnemo_hit *out,
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

size_t mnemo__search_depth(const mnemo_search_options *o, size_t k) {
    return o->mode == MNEMO_SEARCH_HYBRID && k < HYBRID_DEPTH ? HYBRID_DEPTH : k;
}

size_t mnemo__search_ranked(const mnemo_search_options *o, size_t k, const mnemo_hit *v, size_t nv,
                            const mnemo_hit *t, size_t nt, mnemo_hit *out) {
    size_t n;
    if (o->mode == MNEMO_SEARCH_VECTOR)
        memcpy(out, v, nv * sizeof *out), n = nv;
    else if (o->mode == MNEMO_SEARCH_TEXT)
        memcpy(out, t, nt * sizeof *out), n = nt;
    else
        mnemo__rrf_fuse(v, nv, t, nt, out, &n);
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

int mnemo__input_check(const mnemo_store *s, const mnemo_memory_input *in, const char *where,
                       double now, double *expires_at, json_t **meta, char **meta_text, float *vec,
                       mnemo_error *err) {
    int rc;
    if ((rc = mnemo__check_text(s, in->text, in->text_len, where, err)) ||
        (rc = mnemo__scope_check(&in->scope, where, err)) ||
        (rc = mnemo__check_expiry(now, in->ttl, in->expires_at, where, expires_at, err)) ||
        (rc = mnemo__metadata_parse(s, in->metadata, where, meta, meta_text, err)) ||
        (rc = mnemo__check_prompt(s, in->prompt_name, where, err)))
        return rc;
    if (!in->vector) return MNEMO_OK;
    if (in->vector_dim != s->dim)
        return mnemo__fail(err, MNEMO_EINVAL, "%svector: %zu values, the store's width is %zu",
                           where, in->vector_dim, s->dim);
    if (!mnemo__unit_vector(in->vector, s->dim, vec))
        return mnemo__fail(err, MNEMO_EINVAL, "%svector: must be finite and not all zero", where);
    return MNEMO_OK;
}

int mnemo__check_changes(const mnemo_store *s, const mnemo_memory_changes *u, mnemo_error *err) {
    if (!u || (!u->text && !u->metadata && !u->prompt_name && u->ttl == 0 && u->expires_at == 0 &&
               !u->clear_expiry))
        return mnemo__fail(err, MNEMO_EINVAL,
                           "nothing to change: give text, metadata, ttl or expires_at");
    int rc;
    if (u->text && (rc = mnemo__check_text(s, u->text, u->text_len, "", err))) return rc;
    if (u->ttl != u->ttl || u->ttl < 0 || u->ttl > 1e10)
        return mnemo__fail(err, MNEMO_EINVAL, "ttl: %g is not a number of seconds in 0..1e10",
                           u->ttl);
    /* one of: a ttl, a time, never (clear_expiry, or the older expires_at < 0) */
    bool never = u->clear_expiry || u->expires_at < 0;
    if ((u->ttl > 0) + (u->expires_at > 0) + never > 1)
        return mnemo__fail(err, MNEMO_EINVAL,
                           "ttl, expires_at and clear_expiry: give one of them, not several");
    if (u->expires_at != u->expires_at || u->expires_at > 1e11)
        return mnemo__fail(err, MNEMO_EINVAL, "expires_at: %g is not a Unix time", u->expires_at);
    if (u->prompt_name && !u->text)
        return mnemo__fail(
            err, MNEMO_EINVAL,
            "prompt_name: give it with a new text (it is the prompt the text is embedded with)");
    return mnemo__check_prompt(s, u->prompt_name, "", err);
}

int mnemo__model_mismatch(mnemo_error *err, const char *where, const char *have_name,
                          const char *have_dim, const mnemo_store *s, const char *what,
                          const char *detail) {
    return mnemo__fail(err, MNEMO_EINVAL,
                       "%s was built with model '%s' (dimension %s) but this is model '%s' "
                       "(dimension %zu): the %s differ (%s). Vectors of different models "
                       "cannot be compared: open it with the model it was built with, or use "
                       "another store",
                       where, have_name, have_dim, s->model_name, s->dim, what, detail);
}

/* ------------------------------------------------- the common opening */

static double wall_clock(void *ctx) {
    (void)ctx;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

const char *mnemo__store_backend_name(const mnemo_store *s) { return s->backend->name; }

mnemo_store_options mnemo_store_default_options(void) {
    return (mnemo_store_options){
        .synchronous = "full",
        .dedup_threshold = 0.95,
        .sweep_seconds = 60,
        .max_text_bytes = 256 * 1024,
        .max_metadata_bytes = 16 * 1024,
        .pool_size = 4,
        .index_threshold = MNEMO_GRAPH_THRESHOLD,
        .hnsw_m = MNEMO_HNSW_M,
        .hnsw_ef_construction = MNEMO_HNSW_EF_CONSTRUCTION,
        .hnsw_ef_search = MNEMO_HNSW_EF_SEARCH,
    };
}

mnemo_search_options mnemo_search_default_options(void) {
    return (mnemo_search_options){.k = 10, .mode = MNEMO_SEARCH_VECTOR};
}

mnemo_list_options mnemo_list_default_options(void) { return (mnemo_list_options){.limit = 100}; }

bool mnemo__store_wants_sweeper(const mnemo_store_options *opts) {
    return !opts->no_sweep && opts->sweep_seconds >= 0;
}

size_t mnemo__store_index_threshold(const mnemo_store_options *opts) {
    return opts->no_index ? SIZE_MAX : opts->index_threshold;
}

int mnemo__store_init(mnemo_store *s, const mnemo_store_options *opts, mnemo_error *err) {
    s->lock_fd = -1; /* first: a store that fails here is closed */
    if (opts->dedup_threshold < 0 || isnan(opts->dedup_threshold))
        return mnemo__fail(err, MNEMO_EINVAL, "dedup threshold %g is negative",
                           opts->dedup_threshold);
    pthread_mutex_init(&s->embed_lock, NULL);
    pthread_mutex_init(&s->write_lock, NULL);
    pthread_mutex_init(&s->reader_lock, NULL);
    pthread_rwlock_init(&s->index_lock, NULL);
    pthread_mutex_init(&s->sweep_lock, NULL);
    pthread_cond_init(&s->sweep_cond, NULL);
    s->model = opts->model;
    snprintf(s->model_name, sizeof s->model_name, "%s",
             opts->model_name ? opts->model_name : "unnamed");
    s->read_only = opts->read_only;
    snprintf(s->read_only_why, sizeof s->read_only_why, "opened read-only");
    s->no_dedup = opts->no_dedup;
    mnemo_store_options d = mnemo_store_default_options();
    /* Above 1 no cosine reaches it: only exact repeats are duplicates. */
    s->dedup_threshold = opts->dedup_exact_only      ? 2
                         : opts->dedup_threshold > 0 ? opts->dedup_threshold
                                                     : d.dedup_threshold;
    s->max_text = opts->max_text_bytes ? opts->max_text_bytes : d.max_text_bytes;
    s->max_metadata = opts->max_metadata_bytes ? opts->max_metadata_bytes : d.max_metadata_bytes;
    s->clock = opts->clock ? opts->clock : wall_clock;
    s->clock_ctx = opts->clock_ctx;
    s->sweep_seconds = opts->sweep_seconds ? opts->sweep_seconds : d.sweep_seconds;
    if (s->model) {
        s->dim = mnemo_model_dim(s->model);
        mnemo_context_options co = {.n_threads = opts->n_threads};
        return mnemo_context_create(s->model, &co, &s->ctx, err);
    }
    return MNEMO_OK;
}

void mnemo__store_fini(mnemo_store *s) {
    mnemo__store_stop_sweeper(s);
    mnemo_context_free(s->ctx);
    pthread_mutex_destroy(&s->embed_lock);
    pthread_mutex_destroy(&s->write_lock);
    pthread_mutex_destroy(&s->reader_lock);
    pthread_rwlock_destroy(&s->index_lock);
    pthread_mutex_destroy(&s->sweep_lock);
    pthread_cond_destroy(&s->sweep_cond);
}
