/*
 * open.c — opening and closing a SQLite store: the data folder, SQLite
 * connections (one writer, a pool of readers; WAL so readers never wait),
 * the schema and its migrations, the record of the model the store was built
 * with, rebuilding the vector index from the rows (and the background thread
 * that builds its HNSW graph), and the table of the backend's primitives.
 * The primitives themselves are in read.c and write.c.
 */
#include "sqlite.h"

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
    sqlite_db *d = mnemo__sqlite_db(s);
    pthread_mutex_lock(&d->reader_lock);
    if (d->n_readers > 0) {
        *db = d->readers[--d->n_readers];
        pthread_mutex_unlock(&d->reader_lock);
        return MNEMO_OK;
    }
    pthread_mutex_unlock(&d->reader_lock);
    int rc = open_db(d->db_uri, SQLITE_OPEN_READONLY, db, err);
    if (rc) {
        sqlite3_close(*db);
        *db = NULL;
    }
    return rc;
}

void mnemo__store_reader_put(mnemo_store *s, sqlite3 *db) {
    sqlite_db *d = mnemo__sqlite_db(s);
    if (!db) return;
    pthread_mutex_lock(&d->reader_lock);
    if (d->n_readers < MNEMO_STORE_READERS) {
        d->readers[d->n_readers++] = db;
        db = NULL;
    }
    pthread_mutex_unlock(&d->reader_lock);
    sqlite3_close(db);
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
    sqlite_db *d = mnemo__sqlite_db(s);
    char wal[4200];
    snprintf(wal, sizeof wal, "%s-wal", d->db_path);
    if (access(d->dir, W_OK) == 0 || access(wal, F_OK) == 0) return 0;
    char *u = file_uri(d->db_path, "?immutable=1");
    if (!u) return 0;
    if (d->db_uri != d->db_path) mnemo__free(d->db_uri);
    d->db_uri = u;
    return 1;
}

/* ------------------------------------------------------------ schema */

static int migrate(mnemo_store *s, mnemo_error *err) {
    sqlite_db *d = mnemo__sqlite_db(s);
    sqlite3_stmt *st;
    int version = 0;
    int rc = sqlite3_prepare_v2(d->writer, "PRAGMA user_version", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) version = sqlite3_column_int(st, 0), rc = SQLITE_OK;
        sqlite3_finalize(st);
    }
    if (rc) return mnemo__store_sqlite_fail(err, d->writer, rc, d->db_path);
    if (version > SCHEMA_VERSION)
        return mnemo__fail(
            err, MNEMO_EFORMAT,
            "%s: schema version %d was written by a newer mnemo (this one knows up to %d)",
            d->db_path, version, SCHEMA_VERSION);
    if (version < SCHEMA_VERSION && s->read_only)
        return mnemo__fail(err, MNEMO_EIO, "%s: %s, and the store is read-only", d->db_path,
                           version ? "needs a schema migration" : "is not a mnemo store yet");
    for (int v = version; v < SCHEMA_VERSION; v++) {
        char bump[64];
        snprintf(bump, sizeof bump, "PRAGMA user_version = %d;", v + 1);
        rc = exec(d->writer, "BEGIN IMMEDIATE;", err);
        if (!rc) rc = exec(d->writer, migrations[v], err);
        if (!rc) rc = exec(d->writer, bump, err);
        if (!rc) rc = exec(d->writer, "COMMIT;", err);
        if (rc) {
            sqlite3_exec(d->writer, "ROLLBACK;", NULL, NULL, NULL);
            return mnemo__fail_prefix(err, "%s: migrating the schema to version %d", d->db_path,
                                      v + 1);
        }
        mnemo__log(MNEMO_LOG_INFO, "store.migrate", "path=%s version=%d", d->db_path, v + 1);
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

/* The model record in store_info (a primitive). */
static int sqlite_model_get(mnemo_store *s, mnemo_model_record *have, mnemo_error *err) {
    sqlite_db *d = mnemo__sqlite_db(s);
    char buf[512];
    const char *keys[4] = {"model_name", "dim", "prompt_document", "prompt_query"};
    char **vals[4] = {&have->name, &have->dim, &have->doc, &have->query};
    for (int i = 0; i < 4; i++)
        if (info_get(d->writer, keys[i], buf, sizeof buf, NULL, NULL, NULL) &&
            !(*vals[i] = mnemo__strndup(buf, strlen(buf))))
            return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    size_t dim = have->dim ? (size_t)strtoul(have->dim, NULL, 10) : 0;
    const void *blob = NULL;
    int blob_n = 0;
    sqlite3_stmt *keep = NULL;
    if (info_get(d->writer, "fingerprint", NULL, 0, &blob, &blob_n, &keep) && dim &&
        (size_t)blob_n == dim * sizeof(float) &&
        (have->fingerprint = mnemo__malloc_array(dim, sizeof(float))))
        memcpy(have->fingerprint, blob, dim * sizeof(float));
    sqlite3_finalize(keep);
    snprintf(have->where, sizeof have->where, "%s", d->dir);
    snprintf(have->source, sizeof have->source, "%s: store_info", d->db_path);
    have->instead = "--data-dir";
    return MNEMO_OK;
}

static int sqlite_model_put(mnemo_store *s, const mnemo_model_record *r, mnemo_error *err) {
    sqlite_db *d = mnemo__sqlite_db(s);
    if (s->read_only)
        return mnemo__fail(err, MNEMO_EIO, "%s: the store records no model and is read-only",
                           d->db_path);
    int rc = exec(d->writer, "BEGIN IMMEDIATE;", err);
    if (rc) return rc;
    int src = info_put(d->writer, "model_name", r->name, -1, 0);
    if (!src) src = info_put(d->writer, "dim", r->dim, -1, 0);
    if (!src) src = info_put(d->writer, "prompt_document", r->doc, -1, 0);
    if (!src) src = info_put(d->writer, "prompt_query", r->query, -1, 0);
    if (!src)
        src = info_put(d->writer, "fingerprint", r->fingerprint, (int)(s->dim * sizeof(float)), 1);
    if (!src) src = sqlite3_exec(d->writer, "COMMIT;", NULL, NULL, NULL);
    if (src) {
        rc = mnemo__store_sqlite_fail(err, d->writer, src, "recording the model");
        sqlite3_exec(d->writer, "ROLLBACK;", NULL, NULL, NULL);
    }
    return rc;
}

static char *dup_col(sqlite3_stmt *st, int col) {
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? mnemo__strndup((const char *)t, (size_t)sqlite3_column_bytes(st, col)) : NULL;
}

static int load_index(mnemo_store *s, mnemo_error *err) {
    sqlite_db *d = mnemo__sqlite_db(s);
    sqlite3_stmt *st;
    const char *sql =
        "SELECT seq, id, text_hash, namespace, user_id, agent_id, session_id, expires_at, "
        "metadata, vector FROM memories WHERE expires_at IS NULL OR expires_at > ?1 ORDER BY seq";
    int rc = sqlite3_prepare_v2(d->writer, sql, -1, &st, NULL);
    if (rc) return mnemo__store_sqlite_fail(err, d->writer, rc, "reading the memories");
    sqlite3_bind_double(st, 1, mnemo__store_now(s));
    int status = MNEMO_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((size_t)sqlite3_column_bytes(st, 9) != s->dim * sizeof(float)) {
            status = mnemo__fail(
                err, MNEMO_EFORMAT, "%s: memory %s has a vector of %d bytes, want %zu", d->db_path,
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
            mnemo__index_add(&d->index, &e,
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
        status = mnemo__store_sqlite_fail(err, d->writer, rc, "reading the memories");
    sqlite3_finalize(st);
    return status;
}

/* ------------------------------------------------------ graph build */

/* Entries linked per hold of the read lock (each 1-3 ms at 100k-1M on a
 * 2-core machine): a writer waiting for the write lock waits that long. */
#define BUILD_STEP 64
#define BUILD_POLL_SECONDS 1.0

static void build_wait(mnemo_store *s, double seconds) {
    sqlite_db *d = mnemo__sqlite_db(s);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double t = (double)ts.tv_sec + ts.tv_nsec / 1e9 + seconds;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - floor(t)) * 1e9);
    pthread_mutex_lock(&d->build_lock);
    if (!d->build_stopping) pthread_cond_timedwait(&d->build_cond, &d->build_lock, &ts);
    pthread_mutex_unlock(&d->build_lock);
}

static int build_stopping(mnemo_store *s) {
    sqlite_db *d = mnemo__sqlite_db(s);
    pthread_mutex_lock(&d->build_lock);
    int stop = d->build_stopping;
    pthread_mutex_unlock(&d->build_lock);
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
    sqlite_db *d = mnemo__sqlite_db(s);
    double t0 = 0;
    while (!build_stopping(s)) {
        /* the read lock to look, the write lock only to start a build */
        pthread_rwlock_rdlock(&d->index_lock);
        const mnemo_index *ix = &d->index;
        size_t n = ix->n;
        int due = ix->graph_state == MNEMO_GRAPH_BUILDING;
        int start = ix->graph_state == MNEMO_GRAPH_NONE && ix->graph_threshold != SIZE_MAX &&
                    n >= ix->graph_threshold;
        pthread_rwlock_unlock(&d->index_lock);
        if (start) {
            pthread_rwlock_wrlock(&d->index_lock);
            due = mnemo__index_graph_due(&d->index);
            pthread_rwlock_unlock(&d->index_lock);
        }
        if (!due) {
            build_wait(s, BUILD_POLL_SECONDS);
            continue;
        }
        if (!t0) {
            t0 = mnemo__now();
            mnemo__log(MNEMO_LOG_INFO, "store.graph_build", "memories=%zu", n);
        }
        pthread_rwlock_rdlock(&d->index_lock);
        int r = mnemo__index_build_step(&d->index, BUILD_STEP);
        pthread_rwlock_unlock(&d->index_lock);
        if (r < 0) {
            mnemo__log(MNEMO_LOG_ERROR, "store.graph_oom",
                       "memories=%zu action=\"retrying in 10 s; searches stay exact\"", n);
            build_wait(s, 10);
            continue;
        }
        if (r == 1) {
            pthread_rwlock_wrlock(&d->index_lock);
            int ready = mnemo__index_graph_ready(&d->index);
            n = d->index.n;
            pthread_rwlock_unlock(&d->index_lock);
            if (ready) {
                mnemo__log(MNEMO_LOG_INFO, "store.graph_ready", "memories=%zu seconds=%.1f", n,
                           mnemo__now() - t0);
                /* kept for the next open: written under the read lock (writers
                 * wait, searches go on), made durable after it */
                if (!s->read_only) {
                    pthread_rwlock_rdlock(&d->index_lock);
                    uint64_t changes = d->index.graph_changes;
                    double t1 = mnemo__now();
                    int rc = mnemo__graph_write(&d->index, d->graph_path);
                    double held = mnemo__now() - t1;
                    pthread_rwlock_unlock(&d->index_lock);
                    if (!rc && !mnemo__graph_commit(d->graph_path)) {
                        d->graph_saved_changes = changes;
                        mnemo__log(MNEMO_LOG_INFO, "store.graph_saved",
                                   "path=%s memories=%zu seconds=%.2f locked=%.2f", d->graph_path,
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
    sqlite_db *d = mnemo__sqlite_db(s);
    for (;;) {
        pthread_rwlock_rdlock(&d->index_lock);
        const mnemo_index *ix = &d->index;
        mnemo_graph_state st = ix->graph_state;
        int not_due = st == MNEMO_GRAPH_NONE &&
                      (ix->graph_threshold == SIZE_MAX || ix->n < ix->graph_threshold);
        pthread_rwlock_unlock(&d->index_lock);
        if (st == MNEMO_GRAPH_READY) return 1;
        if (not_due || !d->has_builder) return 0;
        pthread_mutex_lock(&d->build_lock);
        pthread_cond_signal(&d->build_cond);
        pthread_mutex_unlock(&d->build_lock);
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* -------------------------------------------------------- open/close */

static void sqlite_close(mnemo_store *s);
static int sqlite_start(mnemo_store *s, const mnemo_store_options *opts, mnemo_error *err);

static const mnemo_store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sqlite_close,
    .begin_read = mnemo__sqlite_begin_read,
    .end_read = mnemo__sqlite_end_read,
    .nearest = mnemo__sqlite_nearest,
    .text = mnemo__sqlite_text,
    .fetch = mnemo__sqlite_fetch,
    .get = mnemo__sqlite_get,
    .list = mnemo__sqlite_list,
    .count = mnemo__sqlite_count,
    .history = mnemo__sqlite_history,
    .prompt_of = mnemo__sqlite_prompt_of,
    .begin_write = mnemo__sqlite_begin_write,
    .end_write = mnemo__sqlite_end_write,
    .find_repeat = mnemo__sqlite_find_repeat,
    .find_nearest = mnemo__sqlite_find_nearest,
    .insert = mnemo__sqlite_insert,
    .row = mnemo__sqlite_row,
    .rewrite = mnemo__sqlite_rewrite,
    .remove = mnemo__sqlite_remove,
    .remove_where = mnemo__sqlite_remove_where,
    .sweep = mnemo__sqlite_sweep,
    .backup = mnemo__sqlite_backup,
    .vector = mnemo__sqlite_memory_vector,
    .namespaces = mnemo__sqlite_namespaces,
    .model_get = sqlite_model_get,
    .model_put = sqlite_model_put,
    .start = sqlite_start,
};

sqlite_db *mnemo__sqlite_db(const mnemo_store *s) { return (sqlite_db *)s->db; }

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
    sqlite_db *d = mnemo__calloc(1, sizeof *d);
    if (!s || !d) {
        mnemo__free(s);
        mnemo__free(d);
        return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    }
    d->base.ops = &sqlite_ops;
    s->db = &d->base;
    d->lock_fd = -1; /* first: a store that fails from here on is closed */
    pthread_mutex_init(&d->write_lock, NULL);
    pthread_mutex_init(&d->reader_lock, NULL);
    pthread_rwlock_init(&d->index_lock, NULL);
    pthread_mutex_init(&d->build_lock, NULL);
    pthread_cond_init(&d->build_cond, NULL);
    int rc =
        mnemo__store_init(s, opts, err); /* the options both backends share, the model's context */
    if (rc) goto fail;
    size_t dl = strlen(opts->data_dir);
    d->dir = mnemo__strndup(opts->data_dir, dl);
    d->db_path = mnemo__malloc(dl + 16);
    d->graph_path = mnemo__malloc(dl + 16);
    if (!d->dir || !d->db_path || !d->graph_path) {
        rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
        goto fail;
    }
    snprintf(d->db_path, dl + 16, "%s/memories.db", opts->data_dir);
    snprintf(d->graph_path, dl + 16, "%s/graph.hnsw", opts->data_dir);
    d->db_uri = d->db_path;
    if (!s->read_only && (rc = mnemo__mkdirs(d->dir, err))) goto fail;
    if (!s->read_only) {
        /* One writing process per store: the in-memory index of a second one
         * would not see the first one's writes. A second opener reads. */
        char lock[4200];
        snprintf(lock, sizeof lock, "%s/memories.lock", d->dir);
        d->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (d->lock_fd < 0) {
            snprintf(s->read_only_why, sizeof s->read_only_why,
                     "the data folder is not writable: %s", strerror(errno));
            s->read_only = 1;
        } else if (flock(d->lock_fd, LOCK_EX | LOCK_NB) != 0) {
            snprintf(s->read_only_why, sizeof s->read_only_why,
                     "another process has it open for writing: write through that one (e.g. its "
                     "HTTP or MCP server), or stop it");
            close(d->lock_fd);
            d->lock_fd = -1;
            s->read_only = 1;
        }
        if (s->read_only)
            mnemo__log(MNEMO_LOG_WARN, "store.read_only", "path=%s reason=\"%s\"", d->db_path,
                       s->read_only_why);
    }
    rc = open_db(d->db_uri,
                 s->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                 &d->writer, err);
    if (rc) goto fail;
    if (!s->read_only && sqlite3_db_readonly(d->writer, "main") == 1) {
        /* The file or its folder cannot be written (permissions, a read-only
         * mount): serve reads, refuse writes with a message that says why. */
        snprintf(s->read_only_why, sizeof s->read_only_why, "the database file is not writable");
        mnemo__log(MNEMO_LOG_WARN, "store.read_only", "path=%s reason=\"%s\"", d->db_path,
                   s->read_only_why);
        s->read_only = 1;
    }
    if (!s->read_only) {
        /* WAL: readers see the last commit and never wait for the writer. */
        int jrc = sqlite3_exec(d->writer, "PRAGMA journal_mode = WAL;", NULL, NULL, NULL);
        if ((jrc & 0xff) == SQLITE_READONLY || (jrc & 0xff) == SQLITE_CANTOPEN) {
            /* a writable file in a folder that is not: no -wal can be made */
            snprintf(s->read_only_why, sizeof s->read_only_why,
                     "the data folder is not writable: %s", sqlite3_errmsg(d->writer));
            mnemo__log(MNEMO_LOG_WARN, "store.read_only", "path=%s reason=\"%s\"", d->db_path,
                       s->read_only_why);
            s->read_only = 1;
        } else if (jrc) {
            rc = mnemo__store_sqlite_fail(err, d->writer, jrc, d->db_path);
            goto fail;
        } else if ((rc = exec(d->writer, sync_sql, err))) {
            mnemo__fail_prefix(err, "%s", d->db_path);
            goto fail;
        }
    }
    if (s->read_only && use_immutable(s)) {
        sqlite3_close(d->writer);
        d->writer = NULL;
        if ((rc = open_db(d->db_uri, SQLITE_OPEN_READONLY, &d->writer, err))) goto fail;
        mnemo__log(MNEMO_LOG_INFO, "store.immutable", "path=%s", d->db_path);
    }
    if ((rc = migrate(s, err))) goto fail;
    *out = s;
    return MNEMO_OK;
fail:
    sqlite_close(s);
    return rc;
}

/* Once the width is known: the index from the rows, its graph from the
 * file or a thread that builds it. */
static int sqlite_start(mnemo_store *s, const mnemo_store_options *opts, mnemo_error *err) {
    sqlite_db *d = mnemo__sqlite_db(s);
    int rc;
    if (mnemo__index_init(&d->index, s->dim, mnemo__store_index_threshold(opts), opts->hnsw_m,
                          opts->hnsw_ef_construction, opts->hnsw_ef_search)) {
        return mnemo__fail(err, MNEMO_EINVAL, "hnsw m %zu is out of range 2..128", opts->hnsw_m);
    }
    d->index.int8_only = opts->index_int8 != 0;
    if (opts->index_binary)
        mnemo__index_set_binary(&d->index); /* before the load: no graph, no graph file */
    if ((rc = load_index(s, err))) return rc;
    if (d->index.graph_threshold != SIZE_MAX) {
        char why[200];
        double t0 = mnemo__now();
        if (mnemo__graph_load(&d->index, d->graph_path, why, sizeof why)) {
            d->graph_loaded = 1;
            d->graph_saved_changes = d->index.graph_changes;
            mnemo__log(MNEMO_LOG_INFO, "store.graph_loaded", "path=%s memories=%zu seconds=%.2f",
                       d->graph_path, d->index.n, mnemo__now() - t0);
        } else if (strcmp(why, "no graph file")) {
            mnemo__log(MNEMO_LOG_INFO, "store.graph_stale",
                       "path=%s reason=\"%s\" action=\"rebuilding\"", d->graph_path, why);
        }
    }
    if (d->index.graph_threshold != SIZE_MAX) {
        if (pthread_create(&d->builder, NULL, build_main, s) == 0)
            d->has_builder = 1;
        else
            mnemo__log(MNEMO_LOG_WARN, "store.no_graph_builder",
                       "reason=\"cannot start a thread; searches stay exact\"");
    }
    mnemo__log(MNEMO_LOG_INFO, "store.open",
               "path=%s memories=%zu dim=%zu read_only=%d index_vectors=%s", d->db_path, d->index.n,
               s->dim, s->read_only,
               d->index.binary_only ? "binary"
               : d->index.int8_only ? "int8"
                                    : "f32");
    return MNEMO_OK;
}

static void sqlite_close(mnemo_store *s) {
    sqlite_db *d = mnemo__sqlite_db(s);
    mnemo__store_stop_sweeper(s);
    if (d->has_builder) {
        pthread_mutex_lock(&d->build_lock);
        d->build_stopping = 1;
        pthread_cond_signal(&d->build_cond);
        pthread_mutex_unlock(&d->build_lock);
        pthread_join(d->builder, NULL);
    }
    /* the graph for the next open, if it changed since the file was written */
    if (!s->read_only && d->graph_path && d->index.graph_state == MNEMO_GRAPH_READY &&
        d->index.graph_changes != d->graph_saved_changes)
        mnemo__graph_save(&d->index, d->graph_path);
    for (int i = 0; i < d->n_readers; i++) sqlite3_close(d->readers[i]);
    sqlite3_close(d->writer);
    mnemo__index_free(&d->index);
    mnemo__store_fini(s); /* the model's context, the shared locks */
    pthread_mutex_destroy(&d->write_lock);
    pthread_mutex_destroy(&d->reader_lock);
    pthread_rwlock_destroy(&d->index_lock);
    pthread_mutex_destroy(&d->build_lock);
    pthread_cond_destroy(&d->build_cond);
    if (d->lock_fd >= 0) close(d->lock_fd); /* releases the flock */
    if (d->db_uri != d->db_path) mnemo__free(d->db_uri);
    mnemo__free(d->dir);
    mnemo__free(d->db_path);
    mnemo__free(d->graph_path);
    mnemo__free(d);
    mnemo__free(s);
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
