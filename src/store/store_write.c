/*
 * store_write.c — the writes of a memory store, written once for every
 * backend: the checks of an add's inputs and an update's changes, their
 * embedding (outside any write lock), dedup (an exact repeat within the
 * batch or in the store, else a merge into the nearest memory of the same
 * scope at or above the threshold), expiry, and the rows and history events
 * that follow, through the backend's primitives (store.h's mnemo_store_ops)
 * inside one of its transactions; delete by id or filter and the sweep of
 * expired memories, with their checks. Nothing here runs SQL.
 */
#include "store.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define MAX_ADD 1000
#define HASH_SEED 0x6d656d6fULL /* "memo" */

static void new_id(char out[MNEMO_MEMORY_ID_SIZE]) {
    uint8_t b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        /* no entropy source: time and address bits, still unique per process */
        uint64_t t = (uint64_t)(mnemo__now() * 1e9), a = (uint64_t)(uintptr_t)out;
        static uint64_t counter;
        uint64_t c = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
        uint64_t h[2];
        h[0] = mnemo__hash64(&t, 8, c);
        h[1] = mnemo__hash64(&a, 8, h[0]);
        memcpy(b, h, sizeof b);
    }
    for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", b[i]);
}

int mnemo__check_text(const mnemo_store *s, const char *text, size_t len, const char *where,
                      mnemo_error *err) {
    size_t bad;
    if (!text || len == 0) return mnemo__fail(err, MNEMO_EINVAL, "%stext: is empty", where);
    if (len > s->max_text)
        return mnemo__fail(err, MNEMO_ETOOBIG, "%stext: %zu bytes, at most %zu", where, len,
                           s->max_text);
    if (!mnemo_utf8_valid(text, len, &bad))
        return mnemo__fail(err, MNEMO_EUTF8, "%stext: invalid UTF-8 at byte offset %zu", where,
                           bad);
    return MNEMO_OK;
}

static int check_expiry(double now, double ttl, double expires_at, const char *where, double *out,
                        mnemo_error *err) {
    if (ttl != ttl || expires_at != expires_at || ttl < 0 || ttl > 1e10)
        return mnemo__fail(err, MNEMO_EINVAL, "%sttl: %g is not a number of seconds in 0..1e10",
                           where, ttl);
    if (ttl > 0 && expires_at > 0)
        return mnemo__fail(err, MNEMO_EINVAL, "%sttl and expires_at: give one, not both", where);
    if (expires_at < 0 || expires_at > 1e11)
        return mnemo__fail(err, MNEMO_EINVAL, "%sexpires_at: %g is not a Unix time", where,
                           expires_at);
    *out = ttl > 0 ? now + ttl : expires_at;
    return MNEMO_OK;
}

/* The prompt name a memory records: NULL for the default, "document", so
 * that naming it or not is the same memory. */
static const char *recorded_prompt(const char *name) {
    return name && strcmp(name, "document") ? name : NULL;
}

static int same_prompt(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }

/* NULL, or a prompt name of the store's model. */
static int check_prompt(const mnemo_store *s, const char *name, const char *where,
                        mnemo_error *err) {
    if (!name) return MNEMO_OK;
    if (!s->model)
        return mnemo__fail(
            err, MNEMO_EINVAL,
            "%sprompt_name: the store was opened without a model to check it against: pass "
            "--model DIR",
            where);
    mnemo_embed_options eo = {.prompt_name = name};
    const char *text;
    if (mnemo_embed_prompt(s->model, &eo, &text, err))
        return mnemo__fail_prefix(err, "%sprompt_name", where);
    return MNEMO_OK;
}

/* Every check of one input to add (text, scope, expiry, metadata, prompt,
 * its vector's width; `where` prefixes messages, e.g. "memories[3]."): on
 * success *expires_at, *meta and *meta_text (as mnemo__metadata_parse) are
 * set, and vec (dim floats) holds the input's vector made unit, if it came
 * with one. */
int mnemo__input_check(const mnemo_store *s, const mnemo_memory_input *in, const char *where,
                       double now, double *expires_at, json_t **meta, char **meta_text, float *vec,
                       mnemo_error *err) {
    int rc;
    if ((rc = mnemo__check_text(s, in->text, in->text_len, where, err)) ||
        (rc = mnemo__scope_check(&in->scope, where, err)) ||
        (rc = check_expiry(now, in->ttl, in->expires_at, where, expires_at, err)) ||
        (rc = mnemo__metadata_parse(s, in->metadata, where, meta, meta_text, err)) ||
        (rc = check_prompt(s, in->prompt_name, where, err)) ||
        (rc = mnemo__import_check(s, in, where, err)))
        return rc;
    if (!in->vector) return MNEMO_OK;
    if (in->vector_dim != s->dim)
        return mnemo__fail(err, MNEMO_EINVAL, "%svector: %zu values, the store's width is %zu",
                           where, in->vector_dim, s->dim);
    if (!mnemo__unit_vector(in->vector, s->dim, vec))
        return mnemo__fail(err, MNEMO_EINVAL, "%svector: must be finite and not all zero", where);
    /* A unit vector already (an exported one) is kept bit for bit: dividing
     * by a norm within rounding of 1 would only move its last bits. */
    double norm = 0;
    for (size_t i = 0; i < s->dim; i++) norm += (double)in->vector[i] * in->vector[i];
    if (fabs(norm - 1) < 1e-5) memcpy(vec, in->vector, s->dim * sizeof(float));
    return MNEMO_OK;
}

/* The checks of an update's changes. */
static int check_changes(const mnemo_store *s, const mnemo_memory_changes *u, mnemo_error *err) {
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
    return check_prompt(s, u->prompt_name, "", err);
}

/* Embeds the inputs that came without a vector into vecs (n * dim, the row
 * of input i at i * dim), one embedding call per prompt (one in all unless
 * the batch mixes prompts); rows of inputs with a vector are untouched. */
static int embed_inputs(mnemo_store *s, const mnemo_memory_input *in, size_t n, float *vecs,
                        mnemo_error *err) {
    const char **texts = mnemo__calloc(n, sizeof *texts);
    size_t *lens = mnemo__calloc(n, sizeof *lens), *at = mnemo__calloc(n, sizeof *at);
    char *done = mnemo__calloc(n, 1);
    float *ev = NULL; /* one prompt's vectors, when not all inputs go in one call */
    int rc =
        texts && lens && at && done ? MNEMO_OK : mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    for (size_t i = 0; i < n && !rc; i++) {
        if (in[i].vector || done[i]) continue;
        const char *prompt = recorded_prompt(in[i].prompt_name);
        size_t m = 0;
        for (size_t j = i; j < n; j++)
            if (!in[j].vector && !done[j] &&
                same_prompt(recorded_prompt(in[j].prompt_name), prompt)) {
                texts[m] = in[j].text;
                lens[m] = in[j].text_len;
                at[m++] = j;
                done[j] = 1;
            }
        /* m == n: every input, in order, so straight into place */
        float *dst = m == n ? vecs
                     : ev   ? ev
                            : (ev = mnemo__malloc_array(n, s->dim * sizeof(float)));
        if (!dst)
            rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
        else
            rc = mnemo__store_embed(s, texts, lens, m, prompt ? prompt : "document", dst, err);
        for (size_t k = 0; k < m && !rc && dst != vecs; k++)
            memcpy(vecs + at[k] * s->dim, ev + k * s->dim, s->dim * sizeof(float));
    }
    mnemo__free(texts);
    mnemo__free(lens);
    mnemo__free(at);
    mnemo__free(done);
    mnemo__free(ev);
    return rc;
}

void mnemo__memory_new_id(char out[MNEMO_MEMORY_ID_SIZE]) { new_id(out); }

static int no_memory(mnemo_error *err) { return mnemo__fail(err, MNEMO_ENOMEM, "out of memory"); }

static int read_only(const mnemo_store *s, const char *what, mnemo_error *err) {
    return mnemo__fail(err, MNEMO_EIO, "the store is read-only (%s); nothing was %s",
                       s->read_only_why, what);
}

/* Non-zero when two scopes are the same (NULL and "" alike). */
static int same_scope(const mnemo_memory_scope *a, const mnemo_memory_scope *b) {
    const char *x[4] = {mnemo__scope_ns(a), a->user_id, a->agent_id, a->session_id};
    const char *y[4] = {mnemo__scope_ns(b), b->user_id, b->agent_id, b->session_id};
    for (int i = 0; i < 4; i++)
        if (strcmp(x[i] ? x[i] : "", y[i] ? y[i] : "")) return 0;
    return 1;
}

/* The key lock_scope serializes the adds of a scope by. */
static uint64_t scope_key(const mnemo_memory_scope *sc) {
    const char *parts[4] = {mnemo__scope_ns(sc), sc->user_id, sc->agent_id, sc->session_id};
    uint64_t h = 0x5ca1ab1eULL;
    for (int j = 0; j < 4; j++) {
        const char *p = parts[j] && *parts[j] ? parts[j] : NULL;
        h = mnemo__hash64(p ? p : "", p ? strlen(p) + 1 : 0, h);
    }
    return h;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* One input, validated and embedded, with what the add decided for it. */
typedef struct pending {
    json_t *meta;
    char *meta_text;
    mnemo_store_row row; /* what is written; row.seq: the row written or matched */
    int merged;          /* row.seq took this input as a near-duplicate */
} pending;

/* One input's dedup and write inside the open transaction; skip holds the
 * rows this batch inserted (*n_skip of them). */
static int add_one(mnemo_store *s, mnemo_store_conn *c, const mnemo_memory_input *in, pending *p,
                   size_t i, mnemo_memory_added *out, int64_t *skip, size_t *n_skip,
                   mnemo_error *err) {
    const mnemo_store_ops *ops = s->db->ops;
    mnemo_store_row *r = &p[i].row;
    int rc;
    out[i].event = MNEMO_MEMORY_ADDED;
    if (!s->no_dedup && !r->imported) { /* an import is kept as it was */
        /* an exact repeat within this batch */
        for (size_t j = 0; j < i; j++)
            if (p[j].row.hash == r->hash && in[j].text_len == in[i].text_len &&
                !memcmp(in[j].text, in[i].text, in[i].text_len) &&
                same_prompt(p[j].row.prompt, r->prompt) && same_scope(&in[j].scope, &in[i].scope)) {
                memcpy(out[i].id, out[j].id, sizeof out[i].id);
                out[i].event = MNEMO_MEMORY_DUPLICATE;
                return MNEMO_OK;
            }
        /* an exact repeat, else the nearest memory, in the store */
        mnemo_store_found f = {0};
        if ((rc = ops->find_repeat(s, c, r, &f, err))) return rc;
        if (f.seq) {
            memcpy(out[i].id, f.id, sizeof out[i].id);
            r->seq = f.seq;
            out[i].event = MNEMO_MEMORY_DUPLICATE;
            return MNEMO_OK;
        }
        if ((rc = ops->find_nearest(s, c, r, skip, *n_skip, &f, err))) return rc;
        int taken = 0;
        for (size_t j = 0; j < i; j++) taken |= p[j].merged && p[j].row.seq == f.seq;
        if (f.seq && !taken && f.score >= s->dedup_threshold) {
            memcpy(out[i].id, f.id, sizeof out[i].id);
            r->id = out[i].id;
            r->seq = f.seq;
            p[i].merged = 1;
            out[i].event = MNEMO_MEMORY_MERGED;
            return ops->rewrite(s, c, r, "near-duplicate", err);
        }
    }
    if (r->imported)
        snprintf(out[i].id, sizeof out[i].id, "%s", in[i].id);
    else
        new_id(out[i].id);
    r->id = out[i].id;
    if ((rc = ops->insert(s, c, r, err))) return rc;
    if (r->exists) /* the id was there: nothing written */
        out[i].event = MNEMO_MEMORY_DUPLICATE;
    else
        skip[(*n_skip)++] = r->seq;
    return MNEMO_OK;
}

int mnemo_memory_add(mnemo_store *s, const mnemo_memory_input *in, size_t n,
                     mnemo_memory_added *out, mnemo_error *err) {
    if (n == 0 || n > MAX_ADD)
        return mnemo__fail(err, MNEMO_EINVAL, "memories: %zu given, want 1..%d", n, MAX_ADD);
    if (s->read_only) return read_only(s, "added", err);
    const mnemo_store_ops *ops = s->db->ops;
    double now = mnemo__store_now(s);
    pending *p = mnemo__calloc(n, sizeof *p);
    float *vecs = mnemo__malloc_array(n, s->dim * sizeof(float));
    uint64_t *locks = mnemo__calloc(n, sizeof *locks);
    int64_t *skip = mnemo__calloc(n, sizeof *skip);
    size_t n_skip = 0;
    int rc = MNEMO_OK;
    if (!p || !vecs || !locks || !skip) {
        rc = no_memory(err);
        goto out;
    }
    char where[48];
    for (size_t i = 0; i < n && !rc; i++) {
        if (n > 1)
            snprintf(where, sizeof where, "memories[%zu].", i);
        else
            where[0] = 0;
        double expires_at = 0;
        if ((rc = mnemo__input_check(s, &in[i], where, now, &expires_at, &p[i].meta,
                                     &p[i].meta_text, vecs + i * s->dim, err)))
            break;
        p[i].row = (mnemo_store_row){
            .text = in[i].text,
            .text_len = in[i].text_len,
            .hash = mnemo__text_hash(in[i].text, in[i].text_len),
            .meta_text = p[i].meta_text,
            .meta = p[i].meta,
            .scope = &in[i].scope,
            .now = now,
            .created_at = in[i].created_at > 0 ? in[i].created_at : now,
            .imported = in[i].id != NULL,
            .history = in[i].history,
            .n_history = in[i].n_history,
            .expires_at = expires_at,
            .vec = vecs + i * s->dim,
            .prompt = recorded_prompt(in[i].prompt_name),
        };
        p[i].row.updated_at = in[i].updated_at > 0 ? in[i].updated_at : p[i].row.created_at;
        /* adds of one scope are serialized across writers, so two of the
         * same text at once cannot both be new */
        locks[i] = scope_key(&in[i].scope);
    }
    if (rc) goto out;
    if ((rc = embed_inputs(s, in, n, vecs, err))) goto out;
    mnemo_store_conn *c;
    if ((rc = ops->begin_write(s, &c, err))) goto out;
    if (ops->lock_scope) {
        qsort(locks, n, sizeof *locks, cmp_u64);
        for (size_t i = 0; i < n && !rc; i++)
            if (!i || locks[i] != locks[i - 1]) rc = ops->lock_scope(s, c, locks[i], err);
    }
    for (size_t i = 0; i < n && !rc; i++) rc = add_one(s, c, in, p, i, out, skip, &n_skip, err);
    /* durable on return */
    rc = ops->end_write(s, c, rc, "adding memories", err);
out:
    if (p)
        for (size_t i = 0; i < n; i++) {
            json_decref(p[i].meta);
            mnemo__free(p[i].meta_text);
        }
    mnemo__free(p);
    mnemo__free(vecs);
    mnemo__free(locks);
    mnemo__free(skip);
    return rc;
}

int mnemo_memory_update(mnemo_store *s, const char *id, const mnemo_memory_changes *u,
                        mnemo_error *err) {
    int rc = check_changes(s, u, err);
    if (rc) return rc;
    if (s->read_only) return read_only(s, "changed", err);
    if (!id || !*id) return mnemo__fail(err, MNEMO_EINVAL, "id: is empty");
    const mnemo_store_ops *ops = s->db->ops;
    double now = mnemo__store_now(s);
    json_t *meta = NULL;
    char *meta_text = NULL;
    float *vec = NULL;
    char *before = NULL; /* the memory's prompt, read before the write */
    int embedded = 0;    /* vec holds the new text embedded with `before` */
    mnemo_store_found f = {0};
    if (u->metadata && (rc = mnemo__metadata_parse(s, u->metadata, "", &meta, &meta_text, err)))
        return rc;
    /* A new text is embedded with the prompt named, else with the memory's
     * own: read first when the backend can, so the embedding runs outside
     * the write (and again under it in the rare case the prompt changed
     * meanwhile). */
    const char *t = u->text;
    size_t tl = u->text_len;
    if (u->text) {
        if (!(vec = mnemo__malloc_array(s->dim, sizeof(float)))) {
            rc = no_memory(err);
            goto out;
        }
        if (u->prompt_name || ops->prompt_of) {
            if (!u->prompt_name && (rc = ops->prompt_of(s, id, &before, err))) goto out;
            const char *use = u->prompt_name ? u->prompt_name : before;
            if ((rc = mnemo__store_embed(s, &t, &tl, 1, use ? use : "document", vec, err)))
                goto out;
            embedded = 1;
        }
    }
    mnemo_store_conn *c;
    if ((rc = ops->begin_write(s, &c, err))) goto out;
    if (!(rc = ops->row(s, c, id, now, &f, err)) && !f.seq) rc = mnemo__no_memory(err, id);
    if (!rc && u->text && !u->prompt_name && (!embedded || !same_prompt(f.prompt, before)))
        rc = mnemo__store_embed(s, &t, &tl, 1, f.prompt ? f.prompt : "document", vec, err);
    if (!rc) {
        double expires = u->ttl > 0                             ? now + u->ttl
                         : u->expires_at > 0                    ? u->expires_at
                         : u->expires_at < 0 || u->clear_expiry ? 0
                                                                : f.expires_at;
        const char *text = u->text ? u->text : f.text;
        size_t text_len = u->text ? u->text_len : f.text_len;
        mnemo_store_row r = {
            .seq = f.seq,
            .id = id,
            .text = text,
            .text_len = text_len,
            .hash = mnemo__text_hash(text, text_len),
            .meta_text = meta_text ? meta_text : f.meta,
            .meta = meta,
            .now = now,
            .expires_at = expires,
            .vec = vec,
            .prompt = u->prompt_name ? recorded_prompt(u->prompt_name) : f.prompt,
        };
        rc = ops->rewrite(s, c, &r, NULL, err);
    }
    rc = ops->end_write(s, c, rc, "updating a memory", err);
out:
    mnemo__found_clear(&f);
    json_decref(meta);
    mnemo__free(meta_text);
    mnemo__free(vec);
    mnemo__free(before);
    return rc;
}

int mnemo_memory_delete(mnemo_store *s, const char *id, mnemo_error *err) {
    if (s->read_only) return read_only(s, "deleted", err);
    if (!id || !*id) return mnemo__fail(err, MNEMO_EINVAL, "id: is empty");
    size_t n = 0;
    int rc = s->db->ops->remove(s, id, mnemo__store_now(s), &n, err);
    if (!rc && n == 0) rc = mnemo__no_memory(err, id);
    return rc;
}

int mnemo_memory_delete_where(mnemo_store *s, const mnemo_memory_scope *scope, const char *filter,
                              size_t *n_deleted, mnemo_error *err) {
    if (n_deleted) *n_deleted = 0;
    mnemo_memory_scope none = {0};
    if (!scope) scope = &none;
    mnemo_filter *f;
    int rc = mnemo__scope_check(scope, "", err);
    if (rc || (rc = mnemo__filter_parse(filter, &f, err))) return rc;
    size_t n = 0;
    if (s->read_only) {
        rc = read_only(s, "deleted", err);
    } else {
        mnemo_store_query q = {.scope = scope, .filter = f, .now = mnemo__store_now(s)};
        rc = s->db->ops->remove_where(s, &q, &n, err);
    }
    if (!rc && n_deleted) *n_deleted = n;
    mnemo__filter_free(f);
    return rc;
}

int mnemo_store_sweep(mnemo_store *s, size_t *n_deleted, mnemo_error *err) {
    if (n_deleted) *n_deleted = 0;
    if (s->read_only) return MNEMO_OK;
    size_t n = 0;
    int rc = s->db->ops->sweep(s, mnemo__store_now(s), &n, err);
    if (!rc && n_deleted) *n_deleted = n;
    return rc;
}

uint64_t mnemo__text_hash(const char *text, size_t len) {
    return mnemo__hash64(text, len, HASH_SEED);
}
