/*
 * store.c — opening and closing a memory store: the data folder, SQLite
 * connections (one writer, a pool of readers; WAL so readers never wait),
 * the schema and its migrations, the record of the model the store was built
 * with, rebuilding the vector index (and the background thread that builds
 * its HNSW graph), and the background sweep of expired memories. Reads are in store_read.c, writes in store_write.c.
 */
#include "store.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

/* Each migration takes the schema from version i to i + 1 (PRAGMA
 * user_version), in one transaction. Append; never edit a released one. */
static const char *const migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE store_info(key TEXT PRIMARY KEY, value NOT NULL);"
    "CREATE TABLE memories("
    "  seq INTEGER PRIMARY KEY,"
    "  id TEXT NOT NULL UNIQUE,"
    "  text TEXT NOT NULL,"
    "  text_hash INTEGER NOT NULL,"
    "  metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),"
    "  namespace TEXT NOT NULL,"
    "  user_id TEXT, agent_id TEXT, session_id TEXT,"
    "  created_at REAL NOT NULL, updated_at REAL NOT NULL, expires_at REAL,"
    "  vector BLOB NOT NULL);"
    "CREATE INDEX memories_scope ON memories(namespace, user_id, agent_id, session_id);"
    "CREATE INDEX memories_expiry ON memories(expires_at) WHERE expires_at IS NOT NULL;"
    "CREATE VIRTUAL TABLE memories_fts USING fts5(text, content='memories', content_rowid='seq',"
    "  tokenize='porter unicode61');"
    "CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN"
    "  INSERT INTO memories_fts(rowid, text) VALUES (new.seq, new.text); END;"
    "CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN"
    "  INSERT INTO memories_fts(memories_fts, rowid, text) VALUES ('delete', old.seq, old.text); "
    "END;"
    "CREATE TRIGGER memories_fts_update AFTER UPDATE OF text ON memories BEGIN"
    "  INSERT INTO memories_fts(memories_fts, rowid, text) VALUES ('delete', old.seq, old.text);"
    "  INSERT INTO memories_fts(rowid, text) VALUES (new.seq, new.text); END;"
    "CREATE TABLE history("
    "  seq INTEGER PRIMARY KEY,"
    "  memory_id TEXT NOT NULL,"
    "  event TEXT NOT NULL CHECK (event IN ('added', 'updated', 'deleted')),"
    "  reason TEXT,"
    "  at REAL NOT NULL,"
    "  text TEXT, metadata TEXT);"
    "CREATE INDEX history_memory ON history(memory_id, seq);",
    /* 1 -> 2: the prompt each memory's text is embedded with, so that an
     * update of the text embeds it the same way; NULL: "document" (every
     * memory of a version 1 store). */
    "ALTER TABLE memories ADD COLUMN prompt_name TEXT;",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

/* The text whose embedding identifies the model (with the document prompt):
 * two models of the same width give different vectors for it. */
static const char fingerprint_text[] =
    "mnemo store fingerprint: the quick brown fox jumps over the lazy dog";
/* Below this cosine the fingerprint is another model's; the same model at
 * another precision (bf16, int8) stays above 0.99. */
#define FINGERPRINT_MIN_COSINE 0.98

double mnemo__store_now(const mnemo_store *s) { return s->clock(s->clock_ctx); }

int mnemo__store_sqlite_fail(mnemo_error *err, sqlite3 *db, int rc, const char *what) {
    int base = rc & 0xff;
    const char *why = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    if (base == SQLITE_FULL)
        return mnemo__fail(err, MNEMO_EIO, "%s: the disk is full (%s); nothing was changed", what,
                           why);
    if (base == SQLITE_READONLY)
        return mnemo__fail(err, MNEMO_EIO,
                           "%s: the store is read-only (%s); nothing was changed — check the data "
                           "folder's permissions",
                           what, why);
    if (base == SQLITE_BUSY)
        return mnemo__fail(err, MNEMO_EIO, "%s: the database is locked by another process (%s)",
                           what, why);
    return mnemo__fail(err, MNEMO_EIO, "%s: %s", what, why);
}

static int exec(sqlite3 *db, const char *sql, mnemo_error *err) {
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        int base = rc & 0xff;
        mnemo__fail(err, MNEMO_EIO, "sqlite: %s%s", msg ? msg : sqlite3_errstr(rc),
                    base == SQLITE_READONLY ? " (the data folder is read-only)"
                    : base == SQLITE_FULL   ? " (the disk is full)"
                                            : "");
        sqlite3_free(msg);
        return MNEMO_EIO;
    }
    return MNEMO_OK;
}

static int open_db(const char *path, int flags, sqlite3 **db, mnemo_error *err) {
    int rc = sqlite3_open_v2(path, db, flags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI, NULL);
    if (rc != SQLITE_OK) {
        mnemo__fail(err, MNEMO_EIO, "%s: cannot open (%s)", path,
                    *db ? sqlite3_errmsg(*db) : sqlite3_errstr(rc));
        sqlite3_close(*db);
        *db = NULL;
        return MNEMO_EIO;
    }
    sqlite3_busy_timeout(*db, 10000);
    sqlite3_extended_result_codes(*db, 1);
    return exec(*db, "PRAGMA foreign_keys = ON;", err);
}

int mnemo__store_reader(mnemo_store *s, sqlite3 **db, mnemo_error *err) {
    pthread_mutex_lock(&s->reader_lock);
    if (s->n_readers > 0) {
        *db = s->readers[--s->n_readers];
        pthread_mutex_unlock(&s->reader_lock);
        return MNEMO_OK;
    }
    pthread_mutex_unlock(&s->reader_lock);
    int rc = open_db(s->db_uri, SQLITE_OPEN_READONLY, db, err);
    if (rc) {
        sqlite3_close(*db);
        *db = NULL;
    }
    return rc;
}

void mnemo__store_reader_put(mnemo_store *s, sqlite3 *db) {
    if (!db) return;
    pthread_mutex_lock(&s->reader_lock);
    if (s->n_readers < MNEMO_STORE_READERS) {
        s->readers[s->n_readers++] = db;
        db = NULL;
    }
    pthread_mutex_unlock(&s->reader_lock);
    sqlite3_close(db);
}

int mnemo__store_embed(mnemo_store *s, const char *const *texts, const size_t *lens, size_t n,
                       const char *prompt, float *out, mnemo_error *err) {
    if (!s->ctx)
        return mnemo__fail(err, MNEMO_EINVAL,
                           "the store was opened without a model: pass --model DIR to embed texts");
    mnemo_embed_options eo = {.prompt_name = prompt};
    pthread_mutex_lock(&s->embed_lock);
    int rc = mnemo_embed(s->ctx, texts, lens, n, &eo, out, NULL, err);
    pthread_mutex_unlock(&s->embed_lock);
    return rc;
}

/* "file:PATH" with the characters URIs reserve %-escaped, plus `query`. */
static char *file_uri(const char *path, const char *query) {
    size_t n = strlen(path);
    char *u = mnemo__malloc(n * 3 + strlen(query) + 16);
    if (!u) return NULL;
    size_t o = 0;
    o += (size_t)sprintf(u, "file:");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)path[i];
        if (c == '%' || c == '?' || c == '#' || c <= ' ' || c >= 0x7f)
            o += (size_t)sprintf(u + o, "%%%02X", c);
        else
            u[o++] = (char)c;
    }
    sprintf(u + o, "%s", query);
    return u;
}

/* A WAL database in a folder nobody may write cannot be read the normal way
 * (SQLite needs to create DB-shm). When no DB-wal exists, every committed
 * change is in the main file and no writer can appear (it could not create
 * DB-wal either), so it is read as immutable. Returns 1 when it switched. */
static int use_immutable(mnemo_store *s) {
    char wal[4200];
    snprintf(wal, sizeof wal, "%s-wal", s->db_path);
    if (access(s->dir, W_OK) == 0 || access(wal, F_OK) == 0) return 0;
    char *u = file_uri(s->db_path, "?immutable=1");
    if (!u) return 0;
    if (s->db_uri != s->db_path) mnemo__free(s->db_uri);
    s->db_uri = u;
    return 1;
}

/* ------------------------------------------------------------ schema */

static int migrate(mnemo_store *s, mnemo_error *err) {
    sqlite3_stmt *st;
    int version = 0;
    int rc = sqlite3_prepare_v2(s->writer, "PRAGMA user_version", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) version = sqlite3_column_int(st, 0), rc = SQLITE_OK;
        sqlite3_finalize(st);
    }
    if (rc) return mnemo__store_sqlite_fail(err, s->writer, rc, s->db_path);
    if (version > SCHEMA_VERSION)
        return mnemo__fail(
            err, MNEMO_EFORMAT,
            "%s: schema version %d was written by a newer mnemo (this one knows up to %d)",
            s->db_path, version, SCHEMA_VERSION);
    if (version < SCHEMA_VERSION && s->read_only)
        return mnemo__fail(err, MNEMO_EIO, "%s: %s, and the store is read-only", s->db_path,
                           version ? "needs a schema migration" : "is not a mnemo store yet");
    for (int v = version; v < SCHEMA_VERSION; v++) {
        char bump[64];
        snprintf(bump, sizeof bump, "PRAGMA user_version = %d;", v + 1);
        rc = exec(s->writer, "BEGIN IMMEDIATE;", err);
        if (!rc) rc = exec(s->writer, migrations[v], err);
        if (!rc) rc = exec(s->writer, bump, err);
        if (!rc) rc = exec(s->writer, "COMMIT;", err);
        if (rc) {
            sqlite3_exec(s->writer, "ROLLBACK;", NULL, NULL, NULL);
            return mnemo__fail_prefix(err, "%s: migrating the schema to version %d", s->db_path,
                                      v + 1);
        }
        mnemo__log(MNEMO_LOG_INFO, "store.migrate", "path=%s version=%d", s->db_path, v + 1);
    }
    return MNEMO_OK;
}

static int info_get(sqlite3 *db, const char *key, char *buf, size_t cap, const void **blob,
                    int *blob_n, sqlite3_stmt **keep) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT value FROM store_info WHERE key = ?1", -1, &st, NULL))
        return 0;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int found = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        found = 1;
        if (buf) snprintf(buf, cap, "%s", (const char *)sqlite3_column_text(st, 0));
        if (blob) {
            *blob = sqlite3_column_blob(st, 0);
            *blob_n = sqlite3_column_bytes(st, 0);
            *keep = st;
            return found;
        }
    }
    sqlite3_finalize(st);
    return found;
}

static int info_put(sqlite3 *db, const char *key, const void *value, int n, int is_blob) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO store_info(key, value) VALUES (?1, ?2)", -1,
                           &st, NULL))
        return SQLITE_ERROR;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (is_blob)
        sqlite3_bind_blob(st, 2, value, n, SQLITE_STATIC);
    else
        sqlite3_bind_text(st, 2, value, n, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Records the model in a new store, or checks it against the recorded one. */
static int check_model(mnemo_store *s, mnemo_error *err) {
    char have_name[256] = "", have_dim[32] = "", have_doc[512] = "", have_query[512] = "";
    int known = info_get(s->writer, "dim", have_dim, sizeof have_dim, NULL, NULL, NULL);
    info_get(s->writer, "model_name", have_name, sizeof have_name, NULL, NULL, NULL);
    if (!s->model) {
        if (!known)
            return mnemo__fail(
                err, MNEMO_EINVAL,
                "%s: a new store needs a model (pass --model DIR) to record its dimension", s->dir);
        s->dim = (size_t)strtoul(have_dim, NULL, 10);
        if (s->dim == 0 || s->dim > 65536)
            return mnemo__fail(err, MNEMO_EFORMAT, "%s: store_info.dim '%s' is not a width",
                               s->db_path, have_dim);
        return MNEMO_OK;
    }
    s->dim = mnemo_model_dim(s->model);
    const char *doc = mnemo_model_prompt_text(s->model, "document");
    const char *query = mnemo_model_prompt_text(s->model, "query");
    if (!doc || !query)
        return mnemo__fail(err, MNEMO_EINVAL,
                           "model '%s' has no \"document\" and \"query\" prompts "
                           "(config_sentence_transformers.json); the store embeds memories and "
                           "queries with them",
                           s->model_name);
    float *fp = mnemo__malloc_array(s->dim, sizeof(float));
    if (!fp) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    const char *t = fingerprint_text;
    size_t tl = strlen(t);
    int rc = mnemo__store_embed(s, &t, &tl, 1, "document", fp, err);
    if (rc) goto out;
    if (known) {
        info_get(s->writer, "prompt_document", have_doc, sizeof have_doc, NULL, NULL, NULL);
        info_get(s->writer, "prompt_query", have_query, sizeof have_query, NULL, NULL, NULL);
        const void *blob = NULL;
        int blob_n = 0;
        sqlite3_stmt *keep = NULL;
        double cosine = -2;
        if (info_get(s->writer, "fingerprint", NULL, 0, &blob, &blob_n, &keep) &&
            (size_t)blob_n == s->dim * sizeof(float)) {
            float *old = mnemo__malloc_array(s->dim, sizeof(float));
            if (old) {
                memcpy(old, blob, s->dim * sizeof(float));
                cosine = mnemo__dot(old, fp, s->dim);
                mnemo__free(old);
            }
        }
        sqlite3_finalize(keep);
        const char *what = NULL;
        char detail[256] = "";
        if ((size_t)strtoul(have_dim, NULL, 10) != s->dim) {
            what = "dimension";
            snprintf(detail, sizeof detail, "%s vs %zu", have_dim, s->dim);
        } else if (strcmp(have_doc, doc) || strcmp(have_query, query)) {
            what = "prompts";
            snprintf(detail, sizeof detail, "document prompt \"%.60s\" vs \"%.60s\"", have_doc,
                     doc);
        } else if (cosine < FINGERPRINT_MIN_COSINE) {
            what = "weights";
            snprintf(detail, sizeof detail, "fingerprint cosine %.3f < %.2f", cosine,
                     FINGERPRINT_MIN_COSINE);
        }
        if (what) {
            rc = mnemo__fail(err, MNEMO_EINVAL,
                             "%s was built with model '%s' (dimension %s) but this is model '%s' "
                             "(dimension %zu): the %s differ (%s). Vectors of different models "
                             "cannot be compared: open it with the model it was built with, or use "
                             "another --data-dir",
                             s->dir, have_name, have_dim, s->model_name, s->dim, what, detail);
        }
        goto out;
    }
    if (s->read_only) {
        rc = mnemo__fail(err, MNEMO_EIO, "%s: the store records no model and is read-only",
                         s->db_path);
        goto out;
    }
    char dim[32];
    snprintf(dim, sizeof dim, "%zu", s->dim);
    rc = exec(s->writer, "BEGIN IMMEDIATE;", err);
    if (rc) goto out;
    int src = info_put(s->writer, "model_name", s->model_name, -1, 0);
    if (!src) src = info_put(s->writer, "dim", dim, -1, 0);
    if (!src) src = info_put(s->writer, "prompt_document", doc, -1, 0);
    if (!src) src = info_put(s->writer, "prompt_query", query, -1, 0);
    if (!src) src = info_put(s->writer, "fingerprint", fp, (int)(s->dim * sizeof(float)), 1);
    if (!src) src = sqlite3_exec(s->writer, "COMMIT;", NULL, NULL, NULL);
    if (src) {
        rc = mnemo__store_sqlite_fail(err, s->writer, src, "recording the model");
        sqlite3_exec(s->writer, "ROLLBACK;", NULL, NULL, NULL);
    }
out:
    mnemo__free(fp);
    return rc;
}

static char *dup_col(sqlite3_stmt *st, int col) {
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? mnemo__strndup((const char *)t, (size_t)sqlite3_column_bytes(st, col)) : NULL;
}

static int load_index(mnemo_store *s, mnemo_error *err) {
    sqlite3_stmt *st;
    const char *sql =
        "SELECT seq, id, text_hash, namespace, user_id, agent_id, session_id, expires_at, "
        "metadata, vector FROM memories WHERE expires_at IS NULL OR expires_at > ?1 ORDER BY seq";
    int rc = sqlite3_prepare_v2(s->writer, sql, -1, &st, NULL);
    if (rc) return mnemo__store_sqlite_fail(err, s->writer, rc, "reading the memories");
    sqlite3_bind_double(st, 1, mnemo__store_now(s));
    int status = MNEMO_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((size_t)sqlite3_column_bytes(st, 9) != s->dim * sizeof(float)) {
            status = mnemo__fail(
                err, MNEMO_EFORMAT, "%s: memory %s has a vector of %d bytes, want %zu", s->db_path,
                sqlite3_column_text(st, 1), sqlite3_column_bytes(st, 9), s->dim * sizeof(float));
            break;
        }
        mnemo_index_entry e = {.seq = sqlite3_column_int64(st, 0)};
        snprintf(e.id, sizeof e.id, "%s", (const char *)sqlite3_column_text(st, 1));
        e.text_hash = (uint64_t)sqlite3_column_int64(st, 2);
        e.ns = dup_col(st, 3);
        e.user_id = dup_col(st, 4);
        e.agent_id = dup_col(st, 5);
        e.session_id = dup_col(st, 6);
        e.expires_at = sqlite3_column_type(st, 7) == SQLITE_NULL ? 0 : sqlite3_column_double(st, 7);
        e.meta = json_loads((const char *)sqlite3_column_text(st, 8), 0, NULL);
        if (!e.meta) e.meta = json_object();
        float *vec = mnemo__malloc(s->dim * sizeof(float));
        if (!vec || !e.ns ||
            mnemo__index_add(&s->index, &e,
                             vec ? memcpy(vec, sqlite3_column_blob(st, 9), s->dim * sizeof(float))
                                 : NULL)) {
            mnemo__free(vec);
            mnemo__free(e.ns);
            mnemo__free(e.user_id);
            mnemo__free(e.agent_id);
            mnemo__free(e.session_id);
            json_decref(e.meta);
            status = mnemo__fail(err, MNEMO_ENOMEM, "out of memory loading the index");
            break;
        }
        mnemo__free(vec);
    }
    if (!status && rc != SQLITE_DONE)
        status = mnemo__store_sqlite_fail(err, s->writer, rc, "reading the memories");
    sqlite3_finalize(st);
    return status;
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

/* ------------------------------------------------------ graph build */

/* Entries linked per hold of the read lock (each 1-3 ms at 100k-1M on a
 * 2-core machine): a writer waiting for the write lock waits that long. */
#define BUILD_STEP 64
#define BUILD_POLL_SECONDS 1.0

static void build_wait(mnemo_store *s, double seconds) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double t = (double)ts.tv_sec + ts.tv_nsec / 1e9 + seconds;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - floor(t)) * 1e9);
    pthread_mutex_lock(&s->build_lock);
    if (!s->build_stopping) pthread_cond_timedwait(&s->build_cond, &s->build_lock, &ts);
    pthread_mutex_unlock(&s->build_lock);
}

static int build_stopping(mnemo_store *s) {
    pthread_mutex_lock(&s->build_lock);
    int stop = s->build_stopping;
    pthread_mutex_unlock(&s->build_lock);
    return stop;
}

/*
 * The builder thread: waits (polling once a second, or woken) until the
 * index reaches the graph threshold, then links every entry into the graph
 * a step at a time under the read lock, so exact searches and reads go on
 * meanwhile, and writers get the lock between steps. Ends once the graph is
 * ready (adds link themselves in from then on).
 */
static void *build_main(void *arg) {
    mnemo_store *s = arg;
    double t0 = 0;
    while (!build_stopping(s)) {
        /* the read lock to look, the write lock only to start a build */
        pthread_rwlock_rdlock(&s->index_lock);
        const mnemo_index *ix = &s->index;
        size_t n = ix->n;
        int due = ix->graph_state == MNEMO_GRAPH_BUILDING;
        int start = ix->graph_state == MNEMO_GRAPH_NONE && ix->graph_threshold != SIZE_MAX &&
                    n >= ix->graph_threshold;
        pthread_rwlock_unlock(&s->index_lock);
        if (start) {
            pthread_rwlock_wrlock(&s->index_lock);
            due = mnemo__index_graph_due(&s->index);
            pthread_rwlock_unlock(&s->index_lock);
        }
        if (!due) {
            build_wait(s, BUILD_POLL_SECONDS);
            continue;
        }
        if (!t0) {
            t0 = mnemo__now();
            mnemo__log(MNEMO_LOG_INFO, "store.graph_build", "memories=%zu", n);
        }
        pthread_rwlock_rdlock(&s->index_lock);
        int r = mnemo__index_build_step(&s->index, BUILD_STEP);
        pthread_rwlock_unlock(&s->index_lock);
        if (r < 0) {
            mnemo__log(MNEMO_LOG_ERROR, "store.graph_oom",
                       "memories=%zu action=\"retrying in 10 s; searches stay exact\"", n);
            build_wait(s, 10);
            continue;
        }
        if (r == 1) {
            pthread_rwlock_wrlock(&s->index_lock);
            int ready = mnemo__index_graph_ready(&s->index);
            n = s->index.n;
            pthread_rwlock_unlock(&s->index_lock);
            if (ready) {
                mnemo__log(MNEMO_LOG_INFO, "store.graph_ready", "memories=%zu seconds=%.1f", n,
                           mnemo__now() - t0);
                /* kept for the next open: written under the read lock (writers
                 * wait, searches go on), made durable after it */
                if (!s->read_only) {
                    pthread_rwlock_rdlock(&s->index_lock);
                    uint64_t changes = s->index.graph_changes;
                    double t1 = mnemo__now();
                    int rc = mnemo__graph_write(&s->index, s->graph_path);
                    double held = mnemo__now() - t1;
                    pthread_rwlock_unlock(&s->index_lock);
                    if (!rc && !mnemo__graph_commit(s->graph_path)) {
                        s->graph_saved_changes = changes;
                        mnemo__log(MNEMO_LOG_INFO, "store.graph_saved",
                                   "path=%s memories=%zu seconds=%.2f locked=%.2f", s->graph_path,
                                   n, mnemo__now() - t1, held);
                    }
                }
                break;
            }
        }
    }
    return NULL;
}

int mnemo__store_graph_wait(mnemo_store *s) {
    for (;;) {
        pthread_rwlock_rdlock(&s->index_lock);
        const mnemo_index *ix = &s->index;
        mnemo_graph_state st = ix->graph_state;
        int not_due = st == MNEMO_GRAPH_NONE &&
                      (ix->graph_threshold == SIZE_MAX || ix->n < ix->graph_threshold);
        pthread_rwlock_unlock(&s->index_lock);
        if (st == MNEMO_GRAPH_READY) return 1;
        if (not_due || !s->has_builder) return 0;
        pthread_mutex_lock(&s->build_lock);
        pthread_cond_signal(&s->build_cond);
        pthread_mutex_unlock(&s->build_lock);
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* -------------------------------------------------------- open/close */

int mnemo__sqlite_open(const mnemo_store_options *opts, mnemo_store **out, mnemo_error *err) {
    *out = NULL;
    if (!opts || !opts->data_dir || !*opts->data_dir)
        return mnemo__fail(
            err, MNEMO_EINVAL,
            "no data folder: pass --data-dir DIR or set MNEMO_DATA_DIR (memories are "
            "never kept in a temporary folder by default)");
    const char *sync = opts->synchronous ? opts->synchronous : "full";
    const char *sync_sql = !strcasecmp(sync, "full")     ? "PRAGMA synchronous = FULL;"
                           : !strcasecmp(sync, "normal") ? "PRAGMA synchronous = NORMAL;"
                           : !strcasecmp(sync, "off")    ? "PRAGMA synchronous = OFF;"
                                                         : NULL;
    if (!sync_sql)
        return mnemo__fail(err, MNEMO_EINVAL, "synchronous '%s' is not one of full|normal|off",
                           sync);
    mnemo_store *s = mnemo__calloc(1, sizeof *s);
    if (!s) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    s->backend = &mnemo__sqlite_backend;
    pthread_mutex_init(&s->build_lock, NULL);
    pthread_cond_init(&s->build_cond, NULL);
    int rc =
        mnemo__store_init(s, opts, err); /* the options both backends share, the model's context */
    if (rc) goto fail;
    size_t dl = strlen(opts->data_dir);
    s->dir = mnemo__strndup(opts->data_dir, dl);
    s->db_path = mnemo__malloc(dl + 16);
    s->graph_path = mnemo__malloc(dl + 16);
    if (!s->dir || !s->db_path || !s->graph_path) {
        rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
        goto fail;
    }
    snprintf(s->db_path, dl + 16, "%s/memories.db", opts->data_dir);
    snprintf(s->graph_path, dl + 16, "%s/graph.hnsw", opts->data_dir);
    s->db_uri = s->db_path;
    if (!s->read_only && (rc = mnemo__mkdirs(s->dir, err))) goto fail;
    if (!s->read_only) {
        /* One writing process per store: the in-memory index of a second one
         * would not see the first one's writes. A second opener reads. */
        char lock[4200];
        snprintf(lock, sizeof lock, "%s/memories.lock", s->dir);
        s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (s->lock_fd < 0) {
            snprintf(s->read_only_why, sizeof s->read_only_why,
                     "the data folder is not writable: %s", strerror(errno));
            s->read_only = 1;
        } else if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
            snprintf(s->read_only_why, sizeof s->read_only_why,
                     "another process has it open for writing: write through that one (e.g. its "
                     "HTTP or MCP server), or stop it");
            close(s->lock_fd);
            s->lock_fd = -1;
            s->read_only = 1;
        }
        if (s->read_only)
            mnemo__log(MNEMO_LOG_WARN, "store.read_only", "path=%s reason=\"%s\"", s->db_path,
                       s->read_only_why);
    }
    rc = open_db(s->db_uri,
                 s->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                 &s->writer, err);
    if (rc) goto fail;
    if (!s->read_only && sqlite3_db_readonly(s->writer, "main") == 1) {
        /* The file or its folder cannot be written (permissions, a read-only
         * mount): serve reads, refuse writes with a message that says why. */
        snprintf(s->read_only_why, sizeof s->read_only_why, "the database file is not writable");
        mnemo__log(MNEMO_LOG_WARN, "store.read_only", "path=%s reason=\"%s\"", s->db_path,
                   s->read_only_why);
        s->read_only = 1;
    }
    if (!s->read_only) {
        /* WAL: readers see the last commit and never wait for the writer. */
        int jrc = sqlite3_exec(s->writer, "PRAGMA journal_mode = WAL;", NULL, NULL, NULL);
        if ((jrc & 0xff) == SQLITE_READONLY || (jrc & 0xff) == SQLITE_CANTOPEN) {
            /* a writable file in a folder that is not: no -wal can be made */
            snprintf(s->read_only_why, sizeof s->read_only_why,
                     "the data folder is not writable: %s", sqlite3_errmsg(s->writer));
            mnemo__log(MNEMO_LOG_WARN, "store.read_only", "path=%s reason=\"%s\"", s->db_path,
                       s->read_only_why);
            s->read_only = 1;
        } else if (jrc) {
            rc = mnemo__store_sqlite_fail(err, s->writer, jrc, s->db_path);
            goto fail;
        } else if ((rc = exec(s->writer, sync_sql, err))) {
            mnemo__fail_prefix(err, "%s", s->db_path);
            goto fail;
        }
    }
    if (s->read_only && use_immutable(s)) {
        sqlite3_close(s->writer);
        s->writer = NULL;
        if ((rc = open_db(s->db_uri, SQLITE_OPEN_READONLY, &s->writer, err))) goto fail;
        mnemo__log(MNEMO_LOG_INFO, "store.immutable", "path=%s", s->db_path);
    }
    if ((rc = migrate(s, err)) || (rc = check_model(s, err))) goto fail;
    if (mnemo__index_init(&s->index, s->dim, mnemo__store_index_threshold(opts), opts->hnsw_m,
                          opts->hnsw_ef_construction, opts->hnsw_ef_search)) {
        rc = mnemo__fail(err, MNEMO_EINVAL, "hnsw m %zu is out of range 2..128", opts->hnsw_m);
        goto fail;
    }
    s->index.int8_only = opts->index_int8 != 0;
    if (opts->index_binary)
        mnemo__index_set_binary(&s->index); /* before the load: no graph, no graph file */
    if ((rc = load_index(s, err))) goto fail;
    if (s->index.graph_threshold != SIZE_MAX) {
        char why[200];
        double t0 = mnemo__now();
        if (mnemo__graph_load(&s->index, s->graph_path, why, sizeof why)) {
            s->graph_loaded = 1;
            s->graph_saved_changes = s->index.graph_changes;
            mnemo__log(MNEMO_LOG_INFO, "store.graph_loaded", "path=%s memories=%zu seconds=%.2f",
                       s->graph_path, s->index.n, mnemo__now() - t0);
        } else if (strcmp(why, "no graph file")) {
            mnemo__log(MNEMO_LOG_INFO, "store.graph_stale",
                       "path=%s reason=\"%s\" action=\"rebuilding\"", s->graph_path, why);
        }
    }
    if (s->index.graph_threshold != SIZE_MAX) {
        if (pthread_create(&s->builder, NULL, build_main, s) == 0)
            s->has_builder = 1;
        else
            mnemo__log(MNEMO_LOG_WARN, "store.no_graph_builder",
                       "reason=\"cannot start a thread; searches stay exact\"");
    }
    if (mnemo__store_wants_sweeper(opts) && !s->read_only) {
        if (pthread_create(&s->sweeper, NULL, sweep_main, s) == 0) s->has_sweeper = 1;
    }
    mnemo__log(MNEMO_LOG_INFO, "store.open",
               "path=%s memories=%zu dim=%zu read_only=%d index_vectors=%s", s->db_path, s->index.n,
               s->dim, s->read_only,
               s->index.binary_only ? "binary"
               : s->index.int8_only ? "int8"
                                    : "f32");
    *out = s;
    return MNEMO_OK;
fail:
    mnemo__sqlite_close(s);
    return rc;
}

void mnemo__sqlite_close(mnemo_store *s) {
    if (!s) return;
    mnemo__store_stop_sweeper(s);
    if (s->has_builder) {
        pthread_mutex_lock(&s->build_lock);
        s->build_stopping = 1;
        pthread_cond_signal(&s->build_cond);
        pthread_mutex_unlock(&s->build_lock);
        pthread_join(s->builder, NULL);
    }
    /* the graph for the next open, if it changed since the file was written */
    if (!s->read_only && s->graph_path && s->index.graph_state == MNEMO_GRAPH_READY &&
        s->index.graph_changes != s->graph_saved_changes)
        mnemo__graph_save(&s->index, s->graph_path);
    for (int i = 0; i < s->n_readers; i++) sqlite3_close(s->readers[i]);
    sqlite3_close(s->writer);
    mnemo__index_free(&s->index);
    mnemo__store_fini(s); /* the model's context, the shared locks */
    pthread_mutex_destroy(&s->build_lock);
    pthread_cond_destroy(&s->build_cond);
    if (s->lock_fd >= 0) close(s->lock_fd); /* releases the flock */
    if (s->db_uri != s->db_path) mnemo__free(s->db_uri);
    mnemo__free(s->dir);
    mnemo__free(s->db_path);
    mnemo__free(s->graph_path);
    mnemo__free(s);
}

size_t mnemo_store_dim(const mnemo_store *s) { return s->dim; }

/* ------------------------------------------------ shared helpers */

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

int mnemo__memory_from_row(sqlite3_stmt *st, int c, mnemo_memory *m) {
    memset(m, 0, sizeof *m);
    snprintf(m->id, sizeof m->id, "%s", (const char *)sqlite3_column_text(st, c));
    m->text = dup_col(st, c + 1);
    m->text_len = (size_t)sqlite3_column_bytes(st, c + 1);
    m->metadata = dup_col(st, c + 2);
    m->ns = dup_col(st, c + 3);
    m->user_id = dup_col(st, c + 4);
    m->agent_id = dup_col(st, c + 5);
    m->session_id = dup_col(st, c + 6);
    m->created_at = sqlite3_column_double(st, c + 7);
    m->updated_at = sqlite3_column_double(st, c + 8);
    m->expires_at =
        sqlite3_column_type(st, c + 9) == SQLITE_NULL ? 0 : sqlite3_column_double(st, c + 9);
    /* NULL: the default prompt (and every memory of a version 1 store) */
    m->prompt_name = sqlite3_column_type(st, c + 10) == SQLITE_NULL ? mnemo__strndup("document", 8)
                                                                    : dup_col(st, c + 10);
    if (!m->text || !m->metadata || !m->ns || !m->prompt_name) {
        mnemo__memory_clear(m);
        return MNEMO_ENOMEM;
    }
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

/* ------------------------------------------ for the other backend */

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
