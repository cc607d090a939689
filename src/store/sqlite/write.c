/*
 * write.c — the write primitives of the SQLite backend (store.h's table):
 * a write transaction on the writer connection (under write_lock, BEGIN
 * IMMEDIATE), the lookups of dedup in the in-memory index (an exact repeat
 * by the text's hash, confirmed on the row; the nearest by vector), rows
 * inserted and rewritten with their history events, and deletes by id, by
 * filter and of the expired. The in-memory index changes only after the
 * commit succeeded (end_write applies what the transaction wrote), so a
 * failed write (disk full, read-only) leaves both as they were. The flows
 * around them (checks, embedding, dedup's decisions) are the core's
 * (store_write.c).
 */
#include "sqlite.h"

#include <stdio.h>
#include <string.h>

static void bind_opt_text(sqlite3_stmt *st, int i, const char *v) {
    if (v && *v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

/* An expiry (0: never) as the column holds it (NULL: never). */
static void bind_expiry(sqlite3_stmt *st, int i, double expires_at) {
    if (expires_at > 0)
        sqlite3_bind_double(st, i, expires_at);
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
    sqlite_db *d = mnemo__sqlite_db(s);
    if (s->read_only)
        return mnemo__fail(err, MNEMO_EIO, "the store is read-only (%s); nothing was changed",
                           s->read_only_why);
    int rc = sqlite3_exec(d->writer, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    return rc ? mnemo__store_sqlite_fail(err, d->writer, rc, "starting a write") : MNEMO_OK;
}

static int commit(mnemo_store *s, int rc, const char *what, mnemo_error *err) {
    sqlite_db *d = mnemo__sqlite_db(s);
    if (rc == SQLITE_OK) rc = sqlite3_exec(d->writer, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        mnemo__store_sqlite_fail(err, d->writer, rc, what);
        sqlite3_exec(d->writer, "ROLLBACK", NULL, NULL, NULL);
        return MNEMO_EIO;
    }
    return MNEMO_OK;
}

static int same_prompt(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }

/* The text and prompt of row seq equal these? (confirms a hash match) */
static int same_text(sqlite3 *db, int64_t seq, const char *text, size_t len, const char *prompt) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT text, prompt_name FROM memories WHERE seq = ?1", -1, &st,
                           NULL))
        return 0;
    sqlite3_bind_int64(st, 1, seq);
    int same = sqlite3_step(st) == SQLITE_ROW && (size_t)sqlite3_column_bytes(st, 0) == len &&
               !memcmp(sqlite3_column_text(st, 0), text, len) &&
               same_prompt((const char *)sqlite3_column_text(st, 1), prompt);
    sqlite3_finalize(st);
    return same;
}

/* The live row of id on the writer: seq, text, metadata, expiry, prompt
 * (r->seq 0: none). */
static int row_load(mnemo_store *s, const char *id, double now, mnemo_store_found *r,
                    mnemo_error *err) {
    sqlite_db *d = mnemo__sqlite_db(s);
    memset(r, 0, sizeof *r);
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(
        d->writer,
        "SELECT seq, text, metadata, expires_at, prompt_name FROM memories WHERE id = ?1 AND "
        "(expires_at IS NULL OR expires_at > ?2)",
        -1, &st, NULL);
    if (rc) return mnemo__store_sqlite_fail(err, d->writer, rc, "reading a memory");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 2, now);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
            return mnemo__store_sqlite_fail(err, d->writer, rc, "reading a memory");
        return MNEMO_OK;
    }
    r->seq = sqlite3_column_int64(st, 0);
    r->text_len = (size_t)sqlite3_column_bytes(st, 1);
    r->text = mnemo__strndup((const char *)sqlite3_column_text(st, 1), r->text_len);
    snprintf(r->id, sizeof r->id, "%s", id);
    r->meta = mnemo__strndup((const char *)sqlite3_column_text(st, 2),
                             (size_t)sqlite3_column_bytes(st, 2));
    r->expires_at = sqlite3_column_type(st, 3) == SQLITE_NULL ? 0 : sqlite3_column_double(st, 3);
    const unsigned char *prompt = sqlite3_column_text(st, 4);
    r->prompt = prompt ? mnemo__strndup((const char *)prompt, strlen((const char *)prompt)) : NULL;
    sqlite3_finalize(st);
    if (!r->text || !r->meta || (prompt && !r->prompt)) {
        mnemo__found_clear(r);
        return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    }
    return MNEMO_OK;
}

/* Deletes rows by seq inside an open transaction, with history. */
static int delete_rows(mnemo_store *s, const int64_t *seqs, size_t n, const char *reason,
                       double now) {
    sqlite_db *d = mnemo__sqlite_db(s);
    sqlite3_stmt *sel, *del;
    int rc = sqlite3_prepare_v2(d->writer, "SELECT id, text, metadata FROM memories WHERE seq = ?1",
                                -1, &sel, NULL);
    if (rc) return rc;
    rc = sqlite3_prepare_v2(d->writer, "DELETE FROM memories WHERE seq = ?1", -1, &del, NULL);
    if (rc) {
        sqlite3_finalize(sel);
        return rc;
    }
    for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
        sqlite3_reset(sel);
        sqlite3_bind_int64(sel, 1, seqs[i]);
        if (sqlite3_step(sel) != SQLITE_ROW) continue;
        rc = history_add(d->writer, (const char *)sqlite3_column_text(sel, 0), "deleted", reason,
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
    sqlite_db *d = mnemo__sqlite_db(s);
    int rc = begin(s, err);
    if (rc) return rc;
    rc = commit(s, delete_rows(s, seqs, n, reason, now), "deleting memories", err);
    if (rc) return rc;
    pthread_rwlock_wrlock(&d->index_lock);
    for (size_t i = 0; i < n; i++) mnemo__index_remove(&d->index, seqs[i]);
    pthread_rwlock_unlock(&d->index_lock);
    return MNEMO_OK;
}

/* A change to apply to the index once the transaction committed. */
typedef struct change {
    int64_t seq;
    int insert; /* a new entry; else row seq was rewritten */
    char id[MNEMO_MEMORY_ID_SIZE];
    uint64_t hash;
    double expires_at;
    json_t *meta;     /* its own copy (the index keeps it); NULL: unchanged */
    const float *vec; /* the core's, alive until end_write; NULL: unchanged */
    char *ns, *user_id, *agent_id, *session_id; /* a new entry's scope */
} change;

/* A write transaction: its statements, prepared once, and its changes. */
typedef struct sqlite_tx {
    sqlite3_stmt *ins, *upd;
    change *ch;
    size_t n, cap;
} sqlite_tx;

/* A statement of the transaction, prepared on its first use. */
static int tx_stmt(sqlite_db *d, sqlite3_stmt **st, const char *sql) {
    return *st ? SQLITE_OK : sqlite3_prepare_v2(d->writer, sql, -1, st, NULL);
}

static char *dup_opt(const char *v) { return v && *v ? mnemo__strndup(v, strlen(v)) : NULL; }

/* The change's own copy of a row's metadata: the index keeps it after the
 * commit, while the core releases its object once end_write returns, without
 * the write lock, so the two must not share a reference count (jansson's
 * decref reads it unlocked). NULL for none, or when out of memory. */
static json_t *meta_copy(const json_t *meta) { return meta ? json_deep_copy(meta) : NULL; }

static void change_free(change *c) {
    json_decref(c->meta);
    mnemo__free(c->ns);
    mnemo__free(c->user_id);
    mnemo__free(c->agent_id);
    mnemo__free(c->session_id);
}

/* A new change in tx (zeroed), or NULL when out of memory. */
static change *change_add(sqlite_tx *tx) {
    if (tx->n == tx->cap) {
        size_t nc = tx->cap ? tx->cap * 2 : 8;
        change *n = mnemo__realloc(tx->ch, nc * sizeof *n);
        if (!n) return NULL;
        tx->ch = n;
        tx->cap = nc;
    }
    change *c = &tx->ch[tx->n++];
    memset(c, 0, sizeof *c);
    return c;
}

int mnemo__sqlite_begin_write(mnemo_store *s, mnemo_store_conn **c, mnemo_error *err) {
    sqlite_db *d = mnemo__sqlite_db(s);
    *c = NULL;
    sqlite_tx *tx = mnemo__calloc(1, sizeof *tx);
    if (!tx) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    pthread_mutex_lock(&d->write_lock);
    int rc = begin(s, err);
    if (rc) {
        pthread_mutex_unlock(&d->write_lock);
        mnemo__free(tx);
        return rc;
    }
    *c = (mnemo_store_conn *)tx;
    return MNEMO_OK;
}

/* Durable now: make the index say so. */
static void apply(sqlite_db *d, sqlite_tx *tx) {
    pthread_rwlock_wrlock(&d->index_lock);
    for (size_t i = 0; i < tx->n; i++) {
        change *c = &tx->ch[i];
        long pos = c->insert ? -1 : mnemo__index_find(&d->index, c->seq);
        if (pos >= 0) {
            mnemo_index_entry *x = &d->index.entries[pos];
            x->text_hash = c->hash;
            x->expires_at = c->expires_at;
            if (c->meta) {
                json_decref(x->meta);
                x->meta = c->meta;
                c->meta = NULL;
            }
            if (c->vec) mnemo__index_set_vector(&d->index, (size_t)pos, c->vec);
            continue;
        }
        if (!c->insert) continue; /* not in the index (expired meanwhile) */
        mnemo_index_entry e = {.seq = c->seq,
                               .text_hash = c->hash,
                               .expires_at = c->expires_at,
                               .ns = c->ns,
                               .user_id = c->user_id,
                               .agent_id = c->agent_id,
                               .session_id = c->session_id,
                               .meta = c->meta};
        memcpy(e.id, c->id, sizeof e.id);
        if (!e.ns || mnemo__index_add(&d->index, &e, c->vec)) {
            /* The rows are durable; only this process's index lacks them
             * (until the next open). Say so rather than pretend. */
            mnemo__log(MNEMO_LOG_ERROR, "store.index_oom", "id=%s", c->id);
            continue; /* change_free frees what the entry did not take */
        }
        c->ns = c->user_id = c->agent_id = c->session_id = NULL;
        c->meta = NULL;
    }
    pthread_rwlock_unlock(&d->index_lock);
}

int mnemo__sqlite_end_write(mnemo_store *s, mnemo_store_conn *c, int rc, const char *what,
                            mnemo_error *err) {
    sqlite_db *d = mnemo__sqlite_db(s);
    sqlite_tx *tx = (sqlite_tx *)c;
    sqlite3_finalize(tx->ins);
    sqlite3_finalize(tx->upd);
    if (rc) {
        sqlite3_exec(d->writer, "ROLLBACK", NULL, NULL, NULL);
    } else if (!(rc = commit(s, SQLITE_OK, what, err))) {
        apply(d, tx);
    }
    for (size_t i = 0; i < tx->n; i++) change_free(&tx->ch[i]);
    mnemo__free(tx->ch);
    mnemo__free(tx);
    pthread_mutex_unlock(&d->write_lock);
    return rc;
}

int mnemo__sqlite_find_repeat(mnemo_store *s, mnemo_store_conn *c, const mnemo_store_row *r,
                              mnemo_store_found *f, mnemo_error *err) {
    (void)c;
    (void)err;
    sqlite_db *d = mnemo__sqlite_db(s);
    const mnemo_index *ix = &d->index;
    /* the hashes first: one pass over the entries, no row read */
    pthread_rwlock_rdlock(&d->index_lock);
    for (size_t e = 0; e < ix->n; e++) {
        const mnemo_index_entry *x = &ix->entries[e];
        if (x->text_hash != r->hash || !mnemo__scope_equal(x, r->scope) ||
            !mnemo__entry_live(x, r->now))
            continue;
        if (same_text(d->writer, x->seq, r->text, r->text_len, r->prompt)) {
            f->seq = x->seq;
            memcpy(f->id, x->id, sizeof f->id);
            break;
        }
    }
    pthread_rwlock_unlock(&d->index_lock);
    return MNEMO_OK;
}

/* The index's nearest in exactly this scope, so with the graph an add into
 * a large store costs a walk, not a scan of every vector. Rows this
 * transaction inserted are not in the index yet: skip is not needed. */
int mnemo__sqlite_find_nearest(mnemo_store *s, mnemo_store_conn *c, const mnemo_store_row *r,
                               const int64_t *skip, size_t n_skip, mnemo_store_found *f,
                               mnemo_error *err) {
    (void)c;
    (void)skip;
    (void)n_skip;
    sqlite_db *d = mnemo__sqlite_db(s);
    mnemo_hnsw_hit h;
    size_t n = 0;
    pthread_rwlock_rdlock(&d->index_lock);
    int rc =
        mnemo__sqlite_index_nearest(s, d->writer, r->vec, r->scope, NULL, r->now, 0, 1, &h, 1, &n);
    if (!rc && n == 1) {
        const mnemo_index_entry *x = &d->index.entries[h.pos];
        f->seq = x->seq;
        memcpy(f->id, x->id, sizeof f->id);
        f->score = h.score;
    }
    pthread_rwlock_unlock(&d->index_lock);
    if (rc == MNEMO_ENOMEM) return mnemo__fail(err, rc, "out of memory");
    /* a vector not readable from the store's own file */
    if (rc) return mnemo__store_sqlite_fail(err, d->writer, SQLITE_IOERR, "adding memories");
    return MNEMO_OK;
}

int mnemo__sqlite_insert(mnemo_store *s, mnemo_store_conn *c, mnemo_store_row *r,
                         mnemo_error *err) {
    sqlite_db *d = mnemo__sqlite_db(s);
    sqlite_tx *tx = (sqlite_tx *)c;
    int src =
        tx_stmt(d, &tx->ins,
                "INSERT INTO memories(id, text, text_hash, metadata, namespace, user_id, agent_id, "
                "session_id, created_at, updated_at, expires_at, vector, prompt_name) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?13, ?10, ?11, ?12) "
                "ON CONFLICT(id) DO NOTHING"); /* an imported id the store has: skipped */
    if (!src) {
        sqlite3_stmt *ins = tx->ins;
        const mnemo_memory_scope *sc = r->scope;
        sqlite3_reset(ins);
        sqlite3_bind_text(ins, 1, r->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, r->text, (int)r->text_len, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 3, (int64_t)r->hash);
        sqlite3_bind_text(ins, 4, r->meta_text, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 5, mnemo__scope_ns(sc), -1, SQLITE_STATIC);
        bind_opt_text(ins, 6, sc->user_id);
        bind_opt_text(ins, 7, sc->agent_id);
        bind_opt_text(ins, 8, sc->session_id);
        sqlite3_bind_double(ins, 9, r->created_at);
        sqlite3_bind_double(ins, 13, r->updated_at);
        bind_expiry(ins, 10, r->expires_at);
        sqlite3_bind_blob(ins, 11, r->vec, (int)(s->dim * sizeof(float)), SQLITE_STATIC);
        bind_opt_text(ins, 12, r->prompt);
        src = sqlite3_step(ins);
        src = src == SQLITE_DONE ? SQLITE_OK : src;
        if (!src && sqlite3_changes(d->writer) == 0) {
            r->exists = 1;
            return MNEMO_OK;
        }
        r->seq = sqlite3_last_insert_rowid(d->writer);
    }
    /* an import's history as given, else its "added" event */
    for (size_t k = 0; k < r->n_history && !src; k++) {
        const mnemo_history_event *e = &r->history[k];
        src = history_add(d->writer, r->id, e->event, e->reason, e->at, e->text,
                          e->text ? strlen(e->text) : 0, e->metadata);
    }
    if (!src && !r->n_history)
        src = history_add(d->writer, r->id, "added", NULL, r->created_at, r->text, r->text_len,
                          r->meta_text);
    if (src) return mnemo__store_sqlite_fail(err, d->writer, src, "adding memories");
    change *ch = change_add(tx);
    if (!ch) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    const mnemo_memory_scope *sc = r->scope;
    *ch = (change){.seq = r->seq,
                   .insert = 1,
                   .hash = r->hash,
                   .expires_at = r->expires_at,
                   .meta = meta_copy(r->meta),
                   .vec = r->vec,
                   .ns = mnemo__strndup(mnemo__scope_ns(sc), strlen(mnemo__scope_ns(sc))),
                   .user_id = dup_opt(sc->user_id),
                   .agent_id = dup_opt(sc->agent_id),
                   .session_id = dup_opt(sc->session_id)};
    if (r->meta && !ch->meta) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    snprintf(ch->id, sizeof ch->id, "%s", r->id);
    return MNEMO_OK;
}

int mnemo__sqlite_row(mnemo_store *s, mnemo_store_conn *c, const char *id, double now,
                      mnemo_store_found *f, mnemo_error *err) {
    (void)c; /* the write lock keeps other writers out */
    return row_load(s, id, now, f, err);
}

int mnemo__sqlite_rewrite(mnemo_store *s, mnemo_store_conn *c, const mnemo_store_row *r,
                          const char *reason, mnemo_error *err) {
    sqlite_db *d = mnemo__sqlite_db(s);
    sqlite_tx *tx = (sqlite_tx *)c;
    int src =
        tx_stmt(d, &tx->upd,
                "UPDATE memories SET text = ?2, text_hash = ?3, metadata = ?4, updated_at = ?5, "
                "expires_at = ?6, vector = COALESCE(?7, vector), prompt_name = ?8 WHERE seq = ?1");
    if (!src) {
        sqlite3_stmt *st = tx->upd;
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, r->seq);
        sqlite3_bind_text(st, 2, r->text, (int)r->text_len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (int64_t)r->hash);
        sqlite3_bind_text(st, 4, r->meta_text, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 5, r->now);
        bind_expiry(st, 6, r->expires_at);
        if (r->vec)
            sqlite3_bind_blob(st, 7, r->vec, (int)(s->dim * sizeof(float)), SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 7);
        bind_opt_text(st, 8, r->prompt);
        src = sqlite3_step(st);
        src = src == SQLITE_DONE ? SQLITE_OK : src;
    }
    if (!src)
        src = history_add(d->writer, r->id, "updated", reason, r->now, r->text, r->text_len,
                          r->meta_text);
    if (src)
        return mnemo__store_sqlite_fail(err, d->writer, src,
                                        reason ? "adding memories" : "updating a memory");
    change *ch = change_add(tx);
    if (!ch) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    *ch = (change){.seq = r->seq,
                   .hash = r->hash,
                   .expires_at = r->expires_at,
                   .meta = meta_copy(r->meta),
                   .vec = r->vec};
    if (r->meta && !ch->meta) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    return MNEMO_OK;
}

int mnemo__sqlite_remove(mnemo_store *s, const char *id, double now, size_t *n, mnemo_error *err) {
    sqlite_db *d = mnemo__sqlite_db(s);
    pthread_mutex_lock(&d->write_lock);
    mnemo_store_found r;
    int rc = row_load(s, id, now, &r, err);
    if (!rc && r.seq) {
        rc = delete_seqs(s, &r.seq, 1, NULL, now, err);
        if (!rc) *n = 1;
    }
    mnemo__found_clear(&r);
    pthread_mutex_unlock(&d->write_lock);
    return rc;
}

/* The seqs of live index entries in scope passing f. */
static int collect(mnemo_store *s, const mnemo_memory_scope *sc, const mnemo_filter *f, double now,
                   int64_t **seqs, size_t *n) {
    sqlite_db *d = mnemo__sqlite_db(s);
    *n = 0;
    *seqs = NULL;
    pthread_rwlock_rdlock(&d->index_lock);
    size_t cap = d->index.n ? d->index.n : 1;
    *seqs = mnemo__malloc_array(cap, sizeof(int64_t));
    if (!*seqs) {
        pthread_rwlock_unlock(&d->index_lock);
        return MNEMO_ENOMEM;
    }
    for (size_t i = 0; i < d->index.n; i++) {
        const mnemo_index_entry *e = &d->index.entries[i];
        if (mnemo__entry_live(e, now) && mnemo__scope_match(e, sc) &&
            mnemo__filter_match(f, e->meta))
            (*seqs)[(*n)++] = e->seq;
    }
    pthread_rwlock_unlock(&d->index_lock);
    return MNEMO_OK;
}

int mnemo__sqlite_remove_where(mnemo_store *s, const mnemo_store_query *q, size_t *n_deleted,
                               mnemo_error *err) {
    sqlite_db *d = mnemo__sqlite_db(s);
    pthread_mutex_lock(&d->write_lock);
    int64_t *seqs;
    size_t n;
    int rc = collect(s, q->scope, q->filter, q->now, &seqs, &n);
    if (rc)
        rc = mnemo__fail(err, rc, "out of memory");
    else if (n)
        rc = delete_seqs(s, seqs, n, NULL, q->now, err);
    if (!rc) *n_deleted = n;
    pthread_mutex_unlock(&d->write_lock);
    mnemo__free(seqs);
    return rc;
}

int mnemo__sqlite_sweep(mnemo_store *s, double now, size_t *n_deleted, mnemo_error *err) {
    sqlite_db *d = mnemo__sqlite_db(s);
    pthread_mutex_lock(&d->write_lock);
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
                  ? sqlite3_prepare_v2(d->writer, "SELECT seq FROM memories WHERE expires_at <= ?1",
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
        rc = mnemo__store_sqlite_fail(err, d->writer, src, "finding expired memories");
    else if (n)
        rc = delete_seqs(s, seqs, n, "expired", now, err);
    if (!rc) *n_deleted = n;
    pthread_mutex_unlock(&d->write_lock);
    mnemo__free(seqs);
    return rc;
}
