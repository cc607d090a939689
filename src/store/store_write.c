/*
 * store_write.c — the writes of a memory store: add (with exact and
 * near-duplicate dedup), update, delete by id or filter, and the sweep of
 * expired memories. Each is one SQLite transaction on the writer connection,
 * recorded in the history table; the in-memory index changes only after the
 * commit succeeded, so a failed write (disk full, read-only) leaves both as
 * they were. Embedding happens before the write lock is taken.
 */
#include "store.h"

#include <math.h>
#include <stdio.h>
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

static void bind_opt_text(sqlite3_stmt *st, int i, const char *v) {
    if (v && *v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static int history_add(sqlite3 *db, const char *id, const char *event, const char *reason,
                       double at, const char *text, size_t text_len, const char *meta) {
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db,
                                "INSERT INTO history(memory_id, event, reason, at, text, metadata) "
                                "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                                -1, &st, NULL);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, event, -1, SQLITE_STATIC);
    bind_opt_text(st, 3, reason);
    sqlite3_bind_double(st, 4, at);
    if (text)
        sqlite3_bind_text(st, 5, text, (int)text_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 5);
    bind_opt_text(st, 6, meta);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int begin(mnemo_store *s, mnemo_error *err) {
    if (s->read_only)
        return mnemo__fail(err, MNEMO_EIO, "the store is read-only (%s); nothing was changed",
                           s->read_only_why);
    int rc = sqlite3_exec(s->writer, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    return rc ? mnemo__store_sqlite_fail(err, s->writer, rc, "starting a write") : MNEMO_OK;
}

static int commit(mnemo_store *s, int rc, const char *what, mnemo_error *err) {
    if (rc == SQLITE_OK) rc = sqlite3_exec(s->writer, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        mnemo__store_sqlite_fail(err, s->writer, rc, what);
        sqlite3_exec(s->writer, "ROLLBACK", NULL, NULL, NULL);
        return MNEMO_EIO;
    }
    return MNEMO_OK;
}

/* One input, validated and embedded, with what the add decided for it. */
typedef struct pending {
    json_t *meta;
    char *meta_text;
    uint64_t hash;
    double expires_at;
    const float *vec;
    const char *prompt; /* the prompt name recorded for the row; NULL: "document" */
    int64_t seq;        /* the row written or matched */
    long target;        /* near-duplicate: index position; -1 none */
    int same_as;        /* exact repeat of an earlier input of this batch; -1 none */
} pending;

static int check_text(const mnemo_store *s, const char *text, size_t len, const char *where,
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

int mnemo__same_prompt(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }

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

/* The text and prompt of row seq equal these? (confirms a hash match) */
static int same_text(sqlite3 *db, int64_t seq, const char *text, size_t len, const char *prompt) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT text, prompt_name FROM memories WHERE seq = ?1", -1, &st,
                           NULL))
        return 0;
    sqlite3_bind_int64(st, 1, seq);
    int same = sqlite3_step(st) == SQLITE_ROW && (size_t)sqlite3_column_bytes(st, 0) == len &&
               !memcmp(sqlite3_column_text(st, 0), text, len) &&
               mnemo__same_prompt((const char *)sqlite3_column_text(st, 1), prompt);
    sqlite3_finalize(st);
    return same;
}

/*
 * The dedup's lookup for one input, under the index lock: the index
 * position of a memory of the same scope with the same text and prompt
 * (*exact = 1), else of the nearest one by cosine (*cos), or -1. The text
 * check compares the 64-bit hashes first (one pass over the entries, no
 * vector read); the nearest is mnemo__store_nearest's in exactly this
 * scope, so with the graph an add into a large store costs a walk, not a
 * scan of every vector. Errors: as mnemo__store_nearest.
 */
static int dedup_find(mnemo_store *s, const mnemo_memory_scope *sc, double now, const char *text,
                      size_t len, const char *prompt, uint64_t hash, const float *vec, long *best,
                      int *exact, float *cos) {
    const mnemo_index *ix = &s->index;
    *best = -1;
    *exact = 0;
    *cos = -2;
    for (size_t e = 0; e < ix->n; e++) {
        const mnemo_index_entry *x = &ix->entries[e];
        if (x->text_hash != hash || !mnemo__scope_equal(x, sc) || !mnemo__entry_live(x, now))
            continue;
        if (same_text(s->writer, x->seq, text, len, prompt)) {
            *exact = 1;
            *best = (long)e;
            return MNEMO_OK;
        }
    }
    mnemo_scope_accept d = {.ix = ix, .sc = sc, .now = now, .exact_scope = 1};
    mnemo_hnsw_hit h;
    size_t n = 0;
    int rc = mnemo__store_nearest(s, s->writer, vec, 0, mnemo__accept_scope, NULL, &d, &h, 1, &n);
    if (!rc && n == 1) {
        *best = (long)h.pos;
        *cos = h.score;
    }
    return rc;
}

int mnemo__sqlite_memory_add(mnemo_store *s, const mnemo_memory_input *in, size_t n,
                             mnemo_memory_added *out, mnemo_error *err) {
    if (n == 0 || n > MAX_ADD)
        return mnemo__fail(err, MNEMO_EINVAL, "memories: %zu given, want 1..%d", n, MAX_ADD);
    if (s->read_only)
        return mnemo__fail(err, MNEMO_EIO, "the store is read-only (%s); nothing was added",
                           s->read_only_why);
    double now = mnemo__store_now(s);
    pending *p = mnemo__calloc(n, sizeof *p);
    const char **texts = mnemo__calloc(n, sizeof *texts);
    size_t *lens = mnemo__calloc(n, sizeof *lens);
    float *vecs = mnemo__malloc_array(n, s->dim * sizeof(float));
    int rc = MNEMO_OK;
    if (!p || !texts || !lens || !vecs) {
        rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
        goto out;
    }
    char where[48];
    for (size_t i = 0; i < n && !rc; i++) {
        if (n > 1)
            snprintf(where, sizeof where, "memories[%zu].", i);
        else
            where[0] = 0;
        if ((rc = mnemo__input_check(s, &in[i], where, now, &p[i].expires_at, &p[i].meta,
                                     &p[i].meta_text, vecs + i * s->dim, err)))
            break;
        p[i].prompt = recorded_prompt(in[i].prompt_name);
        p[i].hash = mnemo__hash64(in[i].text, in[i].text_len, HASH_SEED);
        p[i].vec = vecs + i * s->dim;
        p[i].target = -1;
        p[i].same_as = -1;
    }
    if (rc) goto out;
    if ((rc = mnemo__embed_inputs(s, in, n, vecs, err))) goto out;
    for (size_t i = 0; i < n; i++) {
        texts[i] = in[i].text;
        lens[i] = in[i].text_len;
    }

    pthread_mutex_lock(&s->write_lock);
    if ((rc = begin(s, err))) {
        pthread_mutex_unlock(&s->write_lock);
        goto out;
    }
    int src = SQLITE_OK;
    sqlite3_stmt *ins = NULL, *upd = NULL;
    src = sqlite3_prepare_v2(
        s->writer,
        "INSERT INTO memories(id, text, text_hash, metadata, namespace, user_id, "
        "agent_id, session_id, created_at, updated_at, expires_at, vector, prompt_name) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11, ?12)",
        -1, &ins, NULL);
    if (!src)
        src = sqlite3_prepare_v2(
            s->writer,
            "UPDATE memories SET text = ?2, text_hash = ?3, metadata = ?4, "
            "updated_at = ?5, expires_at = ?6, vector = ?7, prompt_name = ?8 WHERE seq = ?1",
            -1, &upd, NULL);
    /* The index is read, not changed, while the transaction is open; the
     * writer lock keeps other writers out, so what it says stays true. */
    pthread_rwlock_rdlock(&s->index_lock);
    for (size_t i = 0; i < n && src == SQLITE_OK; i++) {
        out[i].event = MNEMO_MEMORY_ADDED;
        if (!s->no_dedup) {
            /* an exact repeat within this batch */
            for (size_t j = 0; j < i; j++)
                if (p[j].hash == p[i].hash && lens[j] == lens[i] &&
                    !memcmp(texts[j], texts[i], lens[i]) &&
                    mnemo__same_prompt(p[j].prompt, p[i].prompt) &&
                    !strcmp(mnemo__scope_ns(&in[j].scope), mnemo__scope_ns(&in[i].scope)) &&
                    !strcmp(in[j].scope.user_id ? in[j].scope.user_id : "",
                            in[i].scope.user_id ? in[i].scope.user_id : "") &&
                    !strcmp(in[j].scope.agent_id ? in[j].scope.agent_id : "",
                            in[i].scope.agent_id ? in[i].scope.agent_id : "") &&
                    !strcmp(in[j].scope.session_id ? in[j].scope.session_id : "",
                            in[i].scope.session_id ? in[i].scope.session_id : "")) {
                    p[i].same_as = (int)j;
                    break;
                }
            if (p[i].same_as >= 0) {
                memcpy(out[i].id, out[p[i].same_as].id, sizeof out[i].id);
                out[i].event = MNEMO_MEMORY_DUPLICATE;
                continue;
            }
            /* an exact repeat, else the nearest memory, in the store */
            float best_cos = -2;
            int exact = 0;
            long best = -1;
            if (dedup_find(s, &in[i].scope, now, texts[i], lens[i], p[i].prompt, p[i].hash,
                           p[i].vec, &best, &exact, &best_cos)) {
                src = SQLITE_IOERR; /* a vector not readable from the store's own file */
                break;
            }
            if (exact) {
                memcpy(out[i].id, s->index.entries[best].id, sizeof out[i].id);
                p[i].seq = s->index.entries[best].seq;
                p[i].same_as = -2; /* nothing to write */
                out[i].event = MNEMO_MEMORY_DUPLICATE;
                continue;
            }
            int taken = 0;
            for (size_t j = 0; j < i; j++) taken |= p[j].target == best;
            if (best >= 0 && !taken && best_cos >= s->dedup_threshold) {
                p[i].target = best;
                memcpy(out[i].id, s->index.entries[best].id, sizeof out[i].id);
                p[i].seq = s->index.entries[best].seq;
                out[i].event = MNEMO_MEMORY_MERGED;
                sqlite3_reset(upd);
                sqlite3_bind_int64(upd, 1, p[i].seq);
                sqlite3_bind_text(upd, 2, texts[i], (int)lens[i], SQLITE_STATIC);
                sqlite3_bind_int64(upd, 3, (int64_t)p[i].hash);
                sqlite3_bind_text(upd, 4, p[i].meta_text, -1, SQLITE_STATIC);
                sqlite3_bind_double(upd, 5, now);
                if (p[i].expires_at > 0)
                    sqlite3_bind_double(upd, 6, p[i].expires_at);
                else
                    sqlite3_bind_null(upd, 6);
                sqlite3_bind_blob(upd, 7, p[i].vec, (int)(s->dim * sizeof(float)), SQLITE_STATIC);
                bind_opt_text(upd, 8, p[i].prompt);
                src = sqlite3_step(upd);
                src = src == SQLITE_DONE ? SQLITE_OK : src;
                if (!src)
                    src = history_add(s->writer, out[i].id, "updated", "near-duplicate", now,
                                      texts[i], lens[i], p[i].meta_text);
                continue;
            }
        }
        new_id(out[i].id);
        sqlite3_reset(ins);
        sqlite3_bind_text(ins, 1, out[i].id, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, texts[i], (int)lens[i], SQLITE_STATIC);
        sqlite3_bind_int64(ins, 3, (int64_t)p[i].hash);
        sqlite3_bind_text(ins, 4, p[i].meta_text, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 5, mnemo__scope_ns(&in[i].scope), -1, SQLITE_STATIC);
        bind_opt_text(ins, 6, in[i].scope.user_id);
        bind_opt_text(ins, 7, in[i].scope.agent_id);
        bind_opt_text(ins, 8, in[i].scope.session_id);
        sqlite3_bind_double(ins, 9, now);
        if (p[i].expires_at > 0)
            sqlite3_bind_double(ins, 10, p[i].expires_at);
        else
            sqlite3_bind_null(ins, 10);
        sqlite3_bind_blob(ins, 11, p[i].vec, (int)(s->dim * sizeof(float)), SQLITE_STATIC);
        bind_opt_text(ins, 12, p[i].prompt);
        src = sqlite3_step(ins);
        src = src == SQLITE_DONE ? SQLITE_OK : src;
        p[i].seq = sqlite3_last_insert_rowid(s->writer);
        if (!src)
            src = history_add(s->writer, out[i].id, "added", NULL, now, texts[i], lens[i],
                              p[i].meta_text);
    }
    pthread_rwlock_unlock(&s->index_lock);
    sqlite3_finalize(ins);
    sqlite3_finalize(upd);
    if ((rc = commit(s, src, "adding memories", err))) {
        pthread_mutex_unlock(&s->write_lock);
        goto out;
    }
    /* Durable now: make the index say so. */
    pthread_rwlock_wrlock(&s->index_lock);
    for (size_t i = 0; i < n; i++) {
        if (out[i].event == MNEMO_MEMORY_DUPLICATE) continue;
        long pos =
            out[i].event == MNEMO_MEMORY_MERGED ? mnemo__index_find(&s->index, p[i].seq) : -1;
        if (pos >= 0) {
            mnemo_index_entry *x = &s->index.entries[pos];
            json_decref(x->meta);
            x->meta = p[i].meta;
            p[i].meta = NULL;
            x->text_hash = p[i].hash;
            x->expires_at = p[i].expires_at;
            mnemo__index_set_vector(&s->index, (size_t)pos, p[i].vec);
            continue;
        }
        mnemo_index_entry e = {
            .seq = p[i].seq, .text_hash = p[i].hash, .expires_at = p[i].expires_at};
        memcpy(e.id, out[i].id, sizeof e.id);
        const mnemo_memory_scope *sc = &in[i].scope;
        e.ns = mnemo__strndup(mnemo__scope_ns(sc), strlen(mnemo__scope_ns(sc)));
        e.user_id =
            sc->user_id && *sc->user_id ? mnemo__strndup(sc->user_id, strlen(sc->user_id)) : NULL;
        e.agent_id = sc->agent_id && *sc->agent_id
                         ? mnemo__strndup(sc->agent_id, strlen(sc->agent_id))
                         : NULL;
        e.session_id = sc->session_id && *sc->session_id
                           ? mnemo__strndup(sc->session_id, strlen(sc->session_id))
                           : NULL;
        e.meta = p[i].meta;
        p[i].meta = NULL;
        if (!e.ns || mnemo__index_add(&s->index, &e, p[i].vec)) {
            /* The rows are durable; only this process's index lacks them
             * (until the next open). Say so rather than pretend. */
            mnemo__log(MNEMO_LOG_ERROR, "store.index_oom", "id=%s", out[i].id);
            mnemo__free(e.ns);
            mnemo__free(e.user_id);
            mnemo__free(e.agent_id);
            mnemo__free(e.session_id);
            json_decref(e.meta);
        }
    }
    pthread_rwlock_unlock(&s->index_lock);
    pthread_mutex_unlock(&s->write_lock);
out:
    if (p)
        for (size_t i = 0; i < n; i++) {
            json_decref(p[i].meta);
            mnemo__free(p[i].meta_text);
        }
    mnemo__free(p);
    mnemo__free(texts);
    mnemo__free(lens);
    mnemo__free(vecs);
    return rc;
}

/* Reads the row of id for a change: seq, text, metadata, expiry, prompt. */
typedef struct row_info {
    int64_t seq;
    char *text, *meta;
    size_t text_len;
    double expires_at;
    char *prompt; /* the recorded prompt name; NULL: "document" */
} row_info;

static void row_free(row_info *r) {
    mnemo__free(r->text);
    mnemo__free(r->meta);
    mnemo__free(r->prompt);
}

static int row_load(mnemo_store *s, const char *id, double now, row_info *r, mnemo_error *err) {
    memset(r, 0, sizeof *r);
    if (!id || !*id) return mnemo__fail(err, MNEMO_EINVAL, "id: is empty");
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(
        s->writer,
        "SELECT seq, text, metadata, expires_at, prompt_name FROM memories WHERE id = ?1 AND "
        "(expires_at IS NULL OR expires_at > ?2)",
        -1, &st, NULL);
    if (rc) return mnemo__store_sqlite_fail(err, s->writer, rc, "reading a memory");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 2, now);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
            return mnemo__store_sqlite_fail(err, s->writer, rc, "reading a memory");
        return mnemo__fail(err, MNEMO_ENOENT, "no memory with id '%.64s'", id);
    }
    r->seq = sqlite3_column_int64(st, 0);
    r->text_len = (size_t)sqlite3_column_bytes(st, 1);
    r->text = mnemo__strndup((const char *)sqlite3_column_text(st, 1), r->text_len);
    r->meta = mnemo__strndup((const char *)sqlite3_column_text(st, 2),
                             (size_t)sqlite3_column_bytes(st, 2));
    r->expires_at = sqlite3_column_type(st, 3) == SQLITE_NULL ? 0 : sqlite3_column_double(st, 3);
    const unsigned char *prompt = sqlite3_column_text(st, 4);
    r->prompt = prompt ? mnemo__strndup((const char *)prompt, strlen((const char *)prompt)) : NULL;
    sqlite3_finalize(st);
    if (!r->text || !r->meta || (prompt && !r->prompt)) {
        row_free(r);
        return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    }
    return MNEMO_OK;
}

/* The recorded prompt of memory id, read before the write lock is taken
 * (so a text change is embedded outside it); *out NULL: "document", or no
 * such memory (the update under the lock says so). */
static int prompt_before(mnemo_store *s, const char *id, char **out, mnemo_error *err) {
    *out = NULL;
    sqlite3 *db;
    int rc = mnemo__store_reader(s, &db, err);
    if (rc) return rc;
    sqlite3_stmt *st;
    int src =
        sqlite3_prepare_v2(db, "SELECT prompt_name FROM memories WHERE id = ?1", -1, &st, NULL);
    if (!src) {
        sqlite3_bind_text(st, 1, id ? id : "", -1, SQLITE_STATIC);
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

int mnemo__sqlite_memory_update(mnemo_store *s, const char *id, const mnemo_memory_changes *u,
                                mnemo_error *err) {
    int rc = mnemo__check_changes(s, u, err);
    if (rc) return rc;
    if (s->read_only)
        return mnemo__fail(err, MNEMO_EIO, "the store is read-only (%s); nothing was changed",
                           s->read_only_why);
    double now = mnemo__store_now(s);
    json_t *meta = NULL;
    char *meta_text = NULL;
    float *vec = NULL;
    char *before = NULL; /* the memory's prompt, read before the write lock */
    if (u->metadata && (rc = mnemo__metadata_parse(s, u->metadata, "", &meta, &meta_text, err)))
        return rc;
    /* A new text is embedded with the prompt named, else with the memory's own. */
    const char *t = u->text;
    size_t tl = u->text_len;
    if (u->text) {
        vec = mnemo__malloc_array(s->dim, sizeof(float));
        if (!vec) {
            rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
            goto out;
        }
        if (!u->prompt_name && (rc = prompt_before(s, id, &before, err))) goto out;
        const char *use = u->prompt_name ? u->prompt_name : before;
        if ((rc = mnemo__store_embed(s, &t, &tl, 1, use ? use : "document", vec, err))) goto out;
    }
    pthread_mutex_lock(&s->write_lock);
    row_info r;
    if ((rc = row_load(s, id, now, &r, err))) {
        pthread_mutex_unlock(&s->write_lock);
        goto out;
    }
    if (u->text && !u->prompt_name && !mnemo__same_prompt(r.prompt, before) &&
        (rc = mnemo__store_embed(s, &t, &tl, 1, r.prompt ? r.prompt : "document", vec, err))) {
        /* (another update changed the prompt meanwhile: rare, so embedded again under the lock) */
        row_free(&r);
        pthread_mutex_unlock(&s->write_lock);
        goto out;
    }
    const char *prompt = u->prompt_name ? recorded_prompt(u->prompt_name) : r.prompt;
    double expires = u->ttl > 0                             ? now + u->ttl
                     : u->expires_at > 0                    ? u->expires_at
                     : u->expires_at < 0 || u->clear_expiry ? 0
                                                            : r.expires_at;
    const char *text = u->text ? u->text : r.text;
    size_t text_len = u->text ? u->text_len : r.text_len;
    const char *mt = meta_text ? meta_text : r.meta;
    uint64_t hash = mnemo__hash64(text, text_len, HASH_SEED);
    if ((rc = begin(s, err))) {
        row_free(&r);
        pthread_mutex_unlock(&s->write_lock);
        goto out;
    }
    sqlite3_stmt *st;
    int src = sqlite3_prepare_v2(
        s->writer,
        "UPDATE memories SET text = ?2, text_hash = ?3, metadata = ?4, updated_at = ?5, "
        "expires_at = ?6, vector = COALESCE(?7, vector), prompt_name = ?8 WHERE seq = ?1",
        -1, &st, NULL);
    if (!src) {
        sqlite3_bind_int64(st, 1, r.seq);
        sqlite3_bind_text(st, 2, text, (int)text_len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (int64_t)hash);
        sqlite3_bind_text(st, 4, mt, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 5, now);
        if (expires > 0)
            sqlite3_bind_double(st, 6, expires);
        else
            sqlite3_bind_null(st, 6);
        if (vec)
            sqlite3_bind_blob(st, 7, vec, (int)(s->dim * sizeof(float)), SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 7);
        bind_opt_text(st, 8, prompt);
        src = sqlite3_step(st);
        src = src == SQLITE_DONE ? SQLITE_OK : src;
        sqlite3_finalize(st);
    }
    if (!src) src = history_add(s->writer, id, "updated", NULL, now, text, text_len, mt);
    rc = commit(s, src, "updating a memory", err);
    if (!rc) {
        pthread_rwlock_wrlock(&s->index_lock);
        long pos = mnemo__index_find(&s->index, r.seq);
        if (pos >= 0) {
            mnemo_index_entry *x = &s->index.entries[pos];
            x->text_hash = hash;
            x->expires_at = expires;
            if (meta) {
                json_decref(x->meta);
                x->meta = meta;
                meta = NULL;
            }
            if (vec) mnemo__index_set_vector(&s->index, (size_t)pos, vec);
        }
        pthread_rwlock_unlock(&s->index_lock);
    }
    row_free(&r);
    pthread_mutex_unlock(&s->write_lock);
out:
    json_decref(meta);
    mnemo__free(meta_text);
    mnemo__free(vec);
    mnemo__free(before);
    return rc;
}

/* Deletes rows by seq inside an open transaction, with history. */
static int delete_rows(mnemo_store *s, const int64_t *seqs, size_t n, const char *reason,
                       double now) {
    sqlite3_stmt *sel, *del;
    int rc = sqlite3_prepare_v2(s->writer, "SELECT id, text, metadata FROM memories WHERE seq = ?1",
                                -1, &sel, NULL);
    if (rc) return rc;
    rc = sqlite3_prepare_v2(s->writer, "DELETE FROM memories WHERE seq = ?1", -1, &del, NULL);
    if (rc) {
        sqlite3_finalize(sel);
        return rc;
    }
    for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
        sqlite3_reset(sel);
        sqlite3_bind_int64(sel, 1, seqs[i]);
        if (sqlite3_step(sel) != SQLITE_ROW) continue;
        rc = history_add(s->writer, (const char *)sqlite3_column_text(sel, 0), "deleted", reason,
                         now, (const char *)sqlite3_column_text(sel, 1),
                         (size_t)sqlite3_column_bytes(sel, 1),
                         (const char *)sqlite3_column_text(sel, 2));
        if (rc) break;
        sqlite3_reset(del);
        sqlite3_bind_int64(del, 1, seqs[i]);
        rc = sqlite3_step(del);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    sqlite3_finalize(sel);
    sqlite3_finalize(del);
    return rc;
}

static int delete_seqs(mnemo_store *s, const int64_t *seqs, size_t n, const char *reason,
                       double now, mnemo_error *err) {
    int rc = begin(s, err);
    if (rc) return rc;
    rc = commit(s, delete_rows(s, seqs, n, reason, now), "deleting memories", err);
    if (rc) return rc;
    pthread_rwlock_wrlock(&s->index_lock);
    for (size_t i = 0; i < n; i++) mnemo__index_remove(&s->index, seqs[i]);
    pthread_rwlock_unlock(&s->index_lock);
    return MNEMO_OK;
}

int mnemo__sqlite_memory_delete(mnemo_store *s, const char *id, mnemo_error *err) {
    if (s->read_only)
        return mnemo__fail(err, MNEMO_EIO, "the store is read-only (%s); nothing was deleted",
                           s->read_only_why);
    pthread_mutex_lock(&s->write_lock);
    row_info r;
    int rc = row_load(s, id, mnemo__store_now(s), &r, err);
    if (!rc) {
        rc = delete_seqs(s, &r.seq, 1, NULL, mnemo__store_now(s), err);
        row_free(&r);
    }
    pthread_mutex_unlock(&s->write_lock);
    return rc;
}

/* The seqs of live index entries in scope passing f. */
static int collect(mnemo_store *s, const mnemo_memory_scope *sc, const mnemo_filter *f, double now,
                   int64_t **seqs, size_t *n) {
    *n = 0;
    *seqs = NULL;
    pthread_rwlock_rdlock(&s->index_lock);
    size_t cap = s->index.n ? s->index.n : 1;
    *seqs = mnemo__malloc_array(cap, sizeof(int64_t));
    if (!*seqs) {
        pthread_rwlock_unlock(&s->index_lock);
        return MNEMO_ENOMEM;
    }
    for (size_t i = 0; i < s->index.n; i++) {
        const mnemo_index_entry *e = &s->index.entries[i];
        if (mnemo__entry_live(e, now) && mnemo__scope_match(e, sc) &&
            mnemo__filter_match(f, e->meta))
            (*seqs)[(*n)++] = e->seq;
    }
    pthread_rwlock_unlock(&s->index_lock);
    return MNEMO_OK;
}

int mnemo__sqlite_memory_delete_where(mnemo_store *s, const mnemo_memory_scope *scope,
                                      const char *filter, size_t *n_deleted, mnemo_error *err) {
    if (n_deleted) *n_deleted = 0;
    mnemo_memory_scope none = {0};
    if (!scope) scope = &none;
    mnemo_filter *f;
    int rc = mnemo__scope_check(scope, "", err);
    if (rc || (rc = mnemo__filter_parse(filter, &f, err))) return rc;
    if (s->read_only) {
        mnemo__filter_free(f);
        return mnemo__fail(err, MNEMO_EIO, "the store is read-only (%s); nothing was deleted",
                           s->read_only_why);
    }
    pthread_mutex_lock(&s->write_lock);
    double now = mnemo__store_now(s);
    int64_t *seqs;
    size_t n;
    rc = collect(s, scope, f, now, &seqs, &n);
    if (rc)
        rc = mnemo__fail(err, rc, "out of memory");
    else if (n)
        rc = delete_seqs(s, seqs, n, NULL, now, err);
    if (!rc && n_deleted) *n_deleted = n;
    pthread_mutex_unlock(&s->write_lock);
    mnemo__free(seqs);
    mnemo__filter_free(f);
    return rc;
}

int mnemo__sqlite_sweep(mnemo_store *s, size_t *n_deleted, mnemo_error *err) {
    if (n_deleted) *n_deleted = 0;
    if (s->read_only) return MNEMO_OK;
    pthread_mutex_lock(&s->write_lock);
    double now = mnemo__store_now(s);
    int64_t *seqs;
    size_t n;
    /* From the table, not the index: rows already expired at open were
     * never loaded into it. */
    int rc = MNEMO_OK;
    size_t cap = 64;
    n = 0;
    seqs = mnemo__malloc_array(cap, sizeof(int64_t));
    sqlite3_stmt *st = NULL;
    int src = seqs
                  ? sqlite3_prepare_v2(s->writer, "SELECT seq FROM memories WHERE expires_at <= ?1",
                                       -1, &st, NULL)
                  : SQLITE_NOMEM;
    if (!src) {
        sqlite3_bind_double(st, 1, now);
        while ((src = sqlite3_step(st)) == SQLITE_ROW) {
            if (n == cap) {
                int64_t *ns = mnemo__realloc(seqs, cap * 2 * sizeof(int64_t));
                if (!ns) {
                    src = SQLITE_NOMEM;
                    break;
                }
                seqs = ns;
                cap *= 2;
            }
            seqs[n++] = sqlite3_column_int64(st, 0);
        }
        src = src == SQLITE_DONE ? SQLITE_OK : src;
    }
    sqlite3_finalize(st);
    if (src)
        rc = mnemo__store_sqlite_fail(err, s->writer, src, "finding expired memories");
    else if (n)
        rc = delete_seqs(s, seqs, n, "expired", now, err);
    if (!rc && n_deleted) *n_deleted = n;
    pthread_mutex_unlock(&s->write_lock);
    mnemo__free(seqs);
    return rc;
}

/* For the other backend (store.h): the same checks of an input. */
int mnemo__check_text(const mnemo_store *s, const char *text, size_t len, const char *where,
                      mnemo_error *err) {
    return check_text(s, text, len, where, err);
}

int mnemo__check_expiry(double now, double ttl, double expires_at, const char *where, double *out,
                        mnemo_error *err) {
    return check_expiry(now, ttl, expires_at, where, out, err);
}

int mnemo__check_prompt(const mnemo_store *s, const char *name, const char *where,
                        mnemo_error *err) {
    return check_prompt(s, name, where, err);
}

const char *mnemo__recorded_prompt(const char *name) { return recorded_prompt(name); }

void mnemo__memory_new_id(char out[MNEMO_MEMORY_ID_SIZE]) { new_id(out); }

uint64_t mnemo__text_hash(const char *text, size_t len) {
    return mnemo__hash64(text, len, HASH_SEED);
}

int mnemo__embed_inputs(mnemo_store *s, const mnemo_memory_input *in, size_t n, float *vecs,
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
                mnemo__same_prompt(recorded_prompt(in[j].prompt_name), prompt)) {
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
