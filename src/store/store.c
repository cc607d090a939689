/*
 * store.c — the core of the memory store around its flows: opening (which
 * backend a store URL names, and the set-up every backend shares: limits,
 * clock, the embedding context, the sweep thread), closing, the helpers
 * the backends may call (scope, metadata, embedding, the memory structs),
 * the messages of an unknown id and of another model, and the backup's
 * routing. The reads are in store_read.c, the writes in store_write.c; the
 * backends, under sqlite/ and postgres/, give the primitives (store.h).
 */
#include "store.h"
#include "index/index.h" /* the graph's defaults, for mnemo_store_default_options */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static void *sweep_main(void *arg);

/* The text whose embedding identifies the model (with the document prompt):
 * two models of the same width give different vectors for it. */
static const char fingerprint_text[] =
    "mnemo store fingerprint: the quick brown fox jumps over the lazy dog";

static int has_prefix(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }

/* The backend the options name, opened up to its model record. */
static int open_backend(const mnemo_store_options *opts, mnemo_store **out, mnemo_error *err) {
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

/* s->record_name and record_weights from the record's name and fingerprint
 * (NULL: none). */
static void record_identity(mnemo_store *s, const char *name, const float *fp) {
    snprintf(s->record_name, sizeof s->record_name, "%s", name ? name : "unnamed");
    s->record_weights[0] = 0;
    unsigned char *b = fp ? mnemo__malloc_array(s->dim, 4) : NULL;
    if (!b) return; /* (out of memory: an export with vectors says none is recorded) */
    mnemo__f32_to_le(fp, s->dim, b);
    unsigned char d[20];
    mnemo__sha1(b, s->dim * 4, d);
    for (int i = 0; i < 8; i++) snprintf(s->record_weights + 2 * i, 3, "%02x", d[i]);
    mnemo__free(b);
}

/* Records the model in a new store, or checks it against the recorded one
 * (opened without a model: the recorded width is the store's). */
static int check_model(mnemo_store *s, mnemo_error *err) {
    const mnemo_store_ops *ops = s->db->ops;
    mnemo_model_record have = {0};
    float *fp = NULL;
    int rc = ops->model_get(s, &have, err);
    if (rc) goto out;
    if (!s->model) {
        if (!have.dim) {
            rc = mnemo__fail(
                err, MNEMO_EINVAL,
                "%s: a new store needs a model (pass --model DIR) to record its dimension",
                have.where);
            goto out;
        }
        s->dim = (size_t)strtoul(have.dim, NULL, 10);
        if (s->dim == 0 || s->dim > 65536)
            rc = mnemo__fail(err, MNEMO_EFORMAT, "%s.dim '%s' is not a width", have.source,
                             have.dim);
        goto out;
    }
    s->dim = mnemo_model_dim(s->model);
    const char *doc = mnemo_model_prompt_text(s->model, "document");
    const char *query = mnemo_model_prompt_text(s->model, "query");
    if (!doc || !query) {
        rc = mnemo__fail(err, MNEMO_EINVAL,
                         "model '%s' has no \"document\" and \"query\" prompts "
                         "(config_sentence_transformers.json); the store embeds memories and "
                         "queries with them",
                         s->model_name);
        goto out;
    }
    if (!(fp = mnemo__malloc_array(s->dim, sizeof(float)))) {
        rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
        goto out;
    }
    const char *t = fingerprint_text;
    size_t tl = strlen(t);
    if ((rc = mnemo__store_embed(s, &t, &tl, 1, "document", fp, err))) goto out;
    if (have.dim) {
        rc = mnemo__model_compare(s, &have, doc, query, fp, err);
        goto out;
    }
    char dim[32];
    snprintf(dim, sizeof dim, "%zu", s->dim);
    mnemo_model_record r = {.name = s->model_name,
                            .dim = dim,
                            .doc = (char *)doc,
                            .query = (char *)query,
                            .fingerprint = fp};
    rc = ops->model_put(s, &r, err);
out:
    if (!rc)
        record_identity(s, have.dim ? have.name : s->model_name, have.dim ? have.fingerprint : fp);
    mnemo__model_record_clear(&have);
    mnemo__free(fp);
    return rc;
}

int mnemo_store_open(const mnemo_store_options *opts, mnemo_store **out, mnemo_error *err) {
    mnemo_store *s;
    int rc = open_backend(opts, &s, err);
    if (rc) return rc;
    if (!(rc = check_model(s, err)) && s->db->ops->start) rc = s->db->ops->start(s, opts, err);
    if (rc) {
        mnemo_store_close(s);
        return rc;
    }
    if (mnemo__store_wants_sweeper(opts) && !s->read_only) mnemo__store_start_sweeper(s);
    /* told from now on: not the model check's probe, embedded while opening */
    s->on_embedded = opts->on_embedded, s->on_embedded_arg = opts->on_embedded_arg;
    *out = s;
    return MNEMO_OK;
}

void mnemo_store_close(mnemo_store *s) {
    if (s) s->db->ops->close(s);
}

/* ------------------------------------------------------ shared checks */

bool mnemo__unit_vector(const float *v, size_t n, float *out) {
    double norm = 0;
    for (size_t i = 0; i < n; i++) norm += (double)v[i] * v[i];
    if (!(norm > 0) || !isfinite(norm)) return false;
    double inv = 1.0 / sqrt(norm);
    for (size_t i = 0; i < n; i++) out[i] = (float)(v[i] * inv);
    return true;
}

void mnemo__model_record_clear(mnemo_model_record *r) {
    mnemo__free(r->name);
    mnemo__free(r->dim);
    mnemo__free(r->doc);
    mnemo__free(r->query);
    mnemo__free(r->fingerprint);
    memset(r, 0, sizeof *r);
}

int mnemo__model_compare(const mnemo_store *s, const mnemo_model_record *have, const char *doc,
                         const char *query, const float *fp, mnemo_error *err) {
    double cosine = have->fingerprint ? mnemo__dot(have->fingerprint, fp, s->dim) : -2;
    const char *what = NULL;
    char detail[256] = "";
    if (!have->dim || (size_t)strtoul(have->dim, NULL, 10) != s->dim) {
        what = "dimension";
        snprintf(detail, sizeof detail, "%s vs %zu", have->dim ? have->dim : "?", s->dim);
    } else if (!have->doc || !have->query || strcmp(have->doc, doc) || strcmp(have->query, query)) {
        what = "prompts";
        snprintf(detail, sizeof detail, "document prompt \"%.60s\" vs \"%.60s\"",
                 have->doc ? have->doc : "", doc);
    } else if (cosine < MNEMO_FINGERPRINT_MIN_COSINE) {
        what = "weights";
        snprintf(detail, sizeof detail, "fingerprint cosine %.3f < %.2f", cosine,
                 MNEMO_FINGERPRINT_MIN_COSINE);
    }
    if (!what) return MNEMO_OK;
    return mnemo__fail(err, MNEMO_EINVAL,
                       "%s was built with model '%s' (dimension %s) but this is model '%s' "
                       "(dimension %zu): the %s differ (%s). Vectors of different models "
                       "cannot be compared: open it with the model it was built with, or use "
                       "another %s",
                       have->where, have->name ? have->name : "?", have->dim ? have->dim : "?",
                       s->model_name, s->dim, what, detail,
                       have->instead ? have->instead : "store");
}

/* ------------------------------------------------- the common opening */

static double wall_clock(void *ctx) {
    (void)ctx;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

const char *mnemo__store_backend_name(const mnemo_store *s) { return s->db->ops->name; }

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
    if (opts->dedup_threshold < 0 || isnan(opts->dedup_threshold))
        return mnemo__fail(err, MNEMO_EINVAL, "dedup threshold %g is negative",
                           opts->dedup_threshold);
    pthread_mutex_init(&s->embed_lock, NULL);
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
    pthread_mutex_destroy(&s->sweep_lock);
    pthread_cond_destroy(&s->sweep_cond);
}

/* ------------------------------------------------ shared helpers */

double mnemo__store_now(const mnemo_store *s) { return s->clock(s->clock_ctx); }

int mnemo__store_embed(mnemo_store *s, const char *const *texts, const size_t *lens, size_t n,
                       const char *prompt, float *out, mnemo_error *err) {
    if (!s->ctx)
        return mnemo__fail(err, MNEMO_EINVAL,
                           "the store was opened without a model: pass --model DIR to embed texts");
    mnemo_embed_options eo = {.prompt_name = prompt};
    /* the token counts are for on_embedded only (without them it is not told) */
    size_t *tokens = s->on_embedded && n ? mnemo__malloc_array(n, sizeof *tokens) : NULL;
    pthread_mutex_lock(&s->embed_lock);
    int rc = mnemo_embed(s->ctx, texts, lens, n, &eo, out, tokens, err);
    pthread_mutex_unlock(&s->embed_lock);
    if (!rc && tokens)
        s->on_embedded(s->on_embedded_arg, prompt, texts, lens, n, out, s->dim, tokens);
    mnemo__free(tokens);
    return rc;
}

size_t mnemo_store_dim(const mnemo_store *s) { return s->dim; }

const char *mnemo__scope_ns(const mnemo_memory_scope *sc) {
    return sc && sc->ns && *sc->ns ? sc->ns : "default";
}

#define MAX_SCOPE_BYTES 256

int mnemo__scope_check(const mnemo_memory_scope *sc, const char *where, mnemo_error *err) {
    const char *names[4] = {"namespace", "user_id", "agent_id", "session_id"};
    const char *vals[4] = {sc->ns, sc->user_id, sc->agent_id, sc->session_id};
    for (int i = 0; i < 4; i++) {
        if (!vals[i]) continue;
        size_t n = strlen(vals[i]), bad;
        if (n > MAX_SCOPE_BYTES)
            return mnemo__fail(err, MNEMO_ETOOBIG, "%s%s: %zu bytes, at most %d", where, names[i],
                               n, MAX_SCOPE_BYTES);
        if (!mnemo_utf8_valid(vals[i], n, &bad))
            return mnemo__fail(err, MNEMO_EUTF8, "%s%s: invalid UTF-8 at byte offset %zu", where,
                               names[i], bad);
    }
    return MNEMO_OK;
}

int mnemo__metadata_parse(const mnemo_store *s, const char *text, const char *where, json_t **meta,
                          char **compact, mnemo_error *err) {
    *meta = NULL;
    *compact = NULL;
    if (!text) text = "{}";
    size_t n = strlen(text), bad;
    if (n > s->max_metadata * 4 + 1024)
        return mnemo__fail(err, MNEMO_ETOOBIG, "%smetadata: %zu bytes, at most %zu", where, n,
                           s->max_metadata);
    if (!mnemo_utf8_valid(text, n, &bad))
        return mnemo__fail(err, MNEMO_EUTF8, "%smetadata: invalid UTF-8 at byte offset %zu", where,
                           bad);
    json_error_t je;
    json_t *v = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je);
    if (!v) return mnemo__fail(err, MNEMO_EINVAL, "%smetadata: not valid JSON: %s", where, je.text);
    if (!json_is_object(v)) {
        json_decref(v);
        return mnemo__fail(err, MNEMO_EINVAL, "%smetadata: must be a JSON object", where);
    }
    char *c = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    if (!c) {
        json_decref(v);
        return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    }
    if (strlen(c) > s->max_metadata) {
        size_t cl = strlen(c);
        free(c);
        json_decref(v);
        return mnemo__fail(err, MNEMO_ETOOBIG, "%smetadata: %zu bytes as compact JSON, at most %zu",
                           where, cl, s->max_metadata);
    }
    *compact = mnemo__strndup(c, strlen(c));
    free(c);
    if (!*compact) {
        json_decref(v);
        return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    }
    *meta = v;
    return MNEMO_OK;
}

void mnemo__memory_clear(mnemo_memory *m) {
    mnemo__free(m->text);
    mnemo__free(m->metadata);
    mnemo__free(m->ns);
    mnemo__free(m->user_id);
    mnemo__free(m->agent_id);
    mnemo__free(m->session_id);
    mnemo__free(m->prompt_name);
    memset(m, 0, sizeof *m);
}

void mnemo_memories_free(mnemo_memories *m) {
    if (!m) return;
    for (size_t i = 0; i < m->n; i++) mnemo__memory_clear(&m->items[i]);
    mnemo__free(m->items);
    mnemo__free(m->next_cursor);
    mnemo__free(m);
}

void mnemo_history_free(mnemo_history *h) {
    if (!h) return;
    for (size_t i = 0; i < h->n; i++) {
        mnemo__free(h->items[i].event);
        mnemo__free(h->items[i].reason);
        mnemo__free(h->items[i].text);
        mnemo__free(h->items[i].metadata);
    }
    mnemo__free(h->items);
    mnemo__free(h);
}

const char *mnemo__store_fingerprint_text(void) { return fingerprint_text; }

int mnemo__store_start_sweeper(mnemo_store *s) {
    if (pthread_create(&s->sweeper, NULL, sweep_main, s) != 0) return MNEMO_EINTERNAL;
    s->has_sweeper = 1;
    return MNEMO_OK;
}

void mnemo__store_stop_sweeper(mnemo_store *s) {
    if (!s->has_sweeper) return;
    pthread_mutex_lock(&s->sweep_lock);
    s->stopping = 1;
    pthread_cond_signal(&s->sweep_cond);
    pthread_mutex_unlock(&s->sweep_lock);
    pthread_join(s->sweeper, NULL);
    s->has_sweeper = 0;
}

int mnemo__no_memory(mnemo_error *err, const char *id) {
    return mnemo__fail(err, MNEMO_ENOENT, "no memory with id '%.64s'", id);
}

int mnemo__never_memory(mnemo_error *err, const char *id) {
    return mnemo__fail(err, MNEMO_ENOENT, "no memory ever had the id '%.64s'", id);
}

void mnemo__found_clear(mnemo_store_found *f) {
    mnemo__free(f->text);
    mnemo__free(f->meta);
    mnemo__free(f->prompt);
    memset(f, 0, sizeof *f);
}

int mnemo__store_backup(mnemo_store *s, const char *out_dir, mnemo_backup_report *rep,
                        mnemo_error *err) {
    memset(rep, 0, sizeof *rep);
    if (!s->db->ops->backup)
        return mnemo__fail(
            err, MNEMO_EUNSUPPORTED,
            "backups are of SQLite stores; for PostgreSQL use pg_dump on the mnemo tables "
            "(pg_dump -t 'mnemo_*' DBNAME), see docs/operations.md");
    if (!out_dir || !*out_dir) return mnemo__fail(err, MNEMO_EINVAL, "no backup folder given");
    return s->db->ops->backup(s, out_dir, rep, err);
}

json_t *mnemo__backup_json(const char *out_dir, const mnemo_backup_report *rep) {
    return json_pack("{s:s, s:I, s:I, s:f, s:s}", "backup", out_dir, "memories",
                     (json_int_t)rep->memories, "bytes", (json_int_t)rep->bytes, "seconds",
                     rep->seconds, "integrity", "ok");
}

/* ------------------------------------------------------------- sweep */

static void *sweep_main(void *arg) {
    mnemo_store *s = arg;
    pthread_mutex_lock(&s->sweep_lock);
    while (!s->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double t = (double)ts.tv_sec + ts.tv_nsec / 1e9 + s->sweep_seconds;
        ts.tv_sec = (time_t)t;
        ts.tv_nsec = (long)((t - floor(t)) * 1e9);
        pthread_cond_timedwait(&s->sweep_cond, &s->sweep_lock, &ts);
        if (s->stopping) break;
        pthread_mutex_unlock(&s->sweep_lock);
        mnemo_error err;
        size_t n = 0;
        if (mnemo_store_sweep(s, &n, &err))
            mnemo__log(MNEMO_LOG_WARN, "store.sweep_failed", "message=\"%s\"", err.message);
        else if (n)
            mnemo__log(MNEMO_LOG_INFO, "store.sweep", "deleted=%zu", n);
        pthread_mutex_lock(&s->sweep_lock);
    }
    pthread_mutex_unlock(&s->sweep_lock);
    return NULL;
}
