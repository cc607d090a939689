/*
 * pg.c — the PostgreSQL backend of the memory store (libpq): a pool of
 * connections with the fixed statements prepared on each, the schema and
 * its migrations (tables mnemo_info, mnemo_memories, mnemo_history; pgvector
 * for the vectors with an HNSW index, a generated tsvector with a GIN index
 * for text search), the model record, and every operation of the backend
 * table with the same meaning and result shapes as the SQLite backend.
 * Nothing is kept in this process between requests, so any number of
 * replicas can share one database. Filters become SQL in pg_filter.c.
 *
 * A connection found dead (the server restarted or unreachable) is reset;
 * a request whose first statement met a dead connection is tried once more
 * on the new one, else it fails with EIO ("PostgreSQL ... unreachable"),
 * which the HTTP layer answers with 503. Nothing half-done stays: each
 * write is one transaction.
 */
#include "pg.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ADD 1000
#define MAX_LIST 1000
#define POOL_MAX 256
#define LOCK_MIGRATE 0x6d6e656d6f01LL /* pg_advisory_xact_lock key of schema changes */

/* Each migration takes the schema from version i to i + 1 (mnemo_info's
 * schema_version), in one transaction. %1$zu is the vector width. Append;
 * never edit a released one. */
static const char *const migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE mnemo_memories("
    "  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  id text NOT NULL UNIQUE,"
    "  text text NOT NULL,"
    "  text_hash bigint NOT NULL,"
    "  metadata jsonb NOT NULL DEFAULT '{}',"
    "  namespace text NOT NULL,"
    "  user_id text, agent_id text, session_id text,"
    "  created_at double precision NOT NULL, updated_at double precision NOT NULL,"
    "  expires_at double precision,"
    "  vector vector(%1$zu) NOT NULL,"
    /* the prompt the text is embedded with; NULL: "document" */
    "  prompt_name text,"
    "  tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED);"
    "CREATE INDEX mnemo_memories_scope ON mnemo_memories(namespace, user_id, agent_id, session_id);"
    "CREATE INDEX mnemo_memories_hash ON mnemo_memories(text_hash);"
    "CREATE INDEX mnemo_memories_expiry ON mnemo_memories(expires_at) WHERE expires_at IS NOT NULL;"
    "CREATE INDEX mnemo_memories_vector ON mnemo_memories USING hnsw (vector vector_ip_ops);"
    "CREATE INDEX mnemo_memories_tsv ON mnemo_memories USING gin (tsv);"
    "CREATE TABLE mnemo_history("
    "  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  memory_id text NOT NULL,"
    "  event text NOT NULL CHECK (event IN ('added', 'updated', 'deleted')),"
    "  reason text,"
    "  at double precision NOT NULL,"
    "  text text, metadata text);"
    "CREATE INDEX mnemo_history_memory ON mnemo_history(memory_id, seq);"
    /* filter.c's lookup(): a key with dots wins, else the dotted path
     * through objects only */
    "CREATE FUNCTION mnemo_meta(m jsonb, key text, path text[]) RETURNS jsonb "
    "LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $f$ "
    "DECLARE v jsonb; p text; "
    "BEGIN "
    "  v := m -> key; "
    "  IF v IS NOT NULL OR path IS NULL THEN RETURN v; END IF; "
    "  v := m; "
    "  FOREACH p IN ARRAY path LOOP "
    "    IF jsonb_typeof(v) IS DISTINCT FROM 'object' THEN RETURN NULL; END IF; "
    "    v := v -> p; "
    "    IF v IS NULL THEN RETURN NULL; END IF; "
    "  END LOOP; "
    "  RETURN v; "
    "END $f$;",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

#define COLS                                                                                       \
    "id, text, metadata::text, namespace, user_id, agent_id, session_id, created_at, updated_at, " \
    "expires_at, "                                                                                 \
    "prompt_name"
#define LIVE(n) "(expires_at IS NULL OR expires_at > $" #n ")"
/* the search scope: NULL user/agent/session match any */
#define SCOPE(a, b, c, d)                                                            \
    "namespace = $" #a " AND ($" #b "::text IS NULL OR user_id = $" #b ") AND ($" #c \
    "::text IS NULL OR agent_id = $" #c ") AND ($" #d "::text IS NULL OR session_id = $" #d ")"
/* exactly this scope (dedup) */
#define SCOPE_EQ(a, b, c, d)                                    \
    "namespace = $" #a " AND user_id IS NOT DISTINCT FROM $" #b \
    " AND agent_id IS NOT DISTINCT FROM $" #c " AND session_id IS NOT DISTINCT FROM $" #d

/* The fixed statements, prepared on every connection. */
enum {
    Q_GET,
    Q_HISTORY,
    Q_INSERT,
    Q_HIST_ADD,
    Q_EXACT,
    Q_NEAREST,
    Q_ROW,
    Q_UPDATE,
    Q_DELETE,
    Q_SWEEP,
    Q_FETCH,
    Q_N
};
static const char *const statements[Q_N] = {
    [Q_GET] = "SELECT " COLS " FROM mnemo_memories WHERE id = $1 AND " LIVE(2),
    [Q_HISTORY] = "SELECT event, reason, at, text, metadata FROM mnemo_history WHERE memory_id = "
                  "$1 ORDER BY seq",
    /* the row and its "added" event in one statement (one round trip) */
    [Q_INSERT] =
        "WITH m AS (INSERT INTO mnemo_memories(id, text, text_hash, metadata, namespace, user_id, "
        "agent_id, session_id, created_at, updated_at, expires_at, vector, prompt_name) VALUES "
        "($1, $2, $3, "
        "$4::jsonb, $5, $6, $7, $8, $9, $10, $11, $12::vector, $13) RETURNING seq, id, text, "
        "metadata, "
        "created_at), "
        "h AS (INSERT INTO mnemo_history(memory_id, event, at, text, metadata) "
        "SELECT id, 'added', created_at, text, metadata::text FROM m) SELECT seq FROM m",
    [Q_HIST_ADD] = "INSERT INTO mnemo_history(memory_id, event, reason, at, text, metadata) "
                   "VALUES ($1, $2, $3, $4, $5, $6)",
    [Q_EXACT] =
        "SELECT seq, id FROM mnemo_memories WHERE text_hash = $1 AND text = $2 AND " SCOPE_EQ(
            3, 4, 5,
            6) " AND " LIVE(7) " AND prompt_name IS NOT DISTINCT FROM $8 ORDER BY seq LIMIT 1",
    /* relaxed_order may return the nearest few out of order: re-sorted */
    [Q_NEAREST] =
        "WITH c AS MATERIALIZED (SELECT seq, id, vector <#> $1::vector AS d FROM mnemo_memories "
        "WHERE " SCOPE_EQ(2, 3, 4,
                          5) " AND " LIVE(6) " AND NOT (seq = ANY($7::bigint[])) "
                                             "ORDER BY vector <#> $1::vector LIMIT 10) SELECT seq, "
                                             "id, -d FROM c ORDER BY d, seq LIMIT 1",
    [Q_ROW] = "SELECT seq, text, metadata::text, expires_at, prompt_name FROM mnemo_memories WHERE "
              "id = $1 AND " LIVE(2) " FOR UPDATE",
    [Q_UPDATE] =
        "UPDATE mnemo_memories SET text = $2, text_hash = $3, metadata = $4::jsonb, updated_at = "
        "$5, "
        "expires_at = $6, vector = COALESCE($7::vector, vector), prompt_name = $8 WHERE seq = $1",
    [Q_DELETE] = "WITH d AS (DELETE FROM mnemo_memories WHERE id = $1 AND " LIVE(
        2) " RETURNING id, text, metadata) "
           "INSERT INTO mnemo_history(memory_id, event, reason, at, text, metadata) "
           "SELECT id, 'deleted', NULL, $2, text, metadata::text FROM d",
    [Q_SWEEP] = "WITH d AS (DELETE FROM mnemo_memories WHERE expires_at <= $1 RETURNING id, text, "
                "metadata) "
                "INSERT INTO mnemo_history(memory_id, event, reason, at, text, metadata) "
                "SELECT id, 'deleted', 'expired', $1, text, metadata::text FROM d",
    [Q_FETCH] =
        "SELECT seq, " COLS " FROM mnemo_memories WHERE seq = ANY($1::bigint[]) AND " LIVE(2),
};

typedef struct pg_conn {
    PGconn *c;
    int prepared;
    int busy;
    int n_run; /* statements run since it was taken from the pool */
} pg_conn;

/* The PostgreSQL backend's state: store.h's base, then the pool. */
struct pg_db {
    mnemo_store_db base; /* first: s->db points here */
    char *url;
    char where[300]; /* host:port/db for messages (never the password) */
    pg_conn *conns;
    int n;
    pthread_mutex_t lock;
    pthread_cond_t cond;
};

static const mnemo_store_ops pg_ops;

static struct pg_db *pg_of(const mnemo_store *s) { return (struct pg_db *)s->db; }

static void quiet_notice(void *arg, const char *message) {
    (void)arg;
    (void)message; /* "NOTICE: extension exists", stop-word-only queries */
}

static void trim(char *m) {
    size_t n = strlen(m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == ' ')) m[--n] = 0;
}

static int unreachable(mnemo_store *s, PGconn *c, mnemo_error *err) {
    char why[400];
    snprintf(why, sizeof why, "%s", c ? PQerrorMessage(c) : "out of memory");
    trim(why);
    for (char *p = why; *p; p++)
        if (*p == '\n' || *p == '\t') *p = ' ';
    return mnemo__fail(
        err, MNEMO_EIO,
        "the PostgreSQL store at %s is unreachable (%s); nothing was changed — retry when "
        "the server is back",
        pg_of(s)->where, why);
}

/* Connects (or resets) slot pc and prepares the statements. */
static int conn_open(mnemo_store *s, pg_conn *pc, mnemo_error *err) {
    if (!pc->c) {
        /* connect_timeout first: the URL's own setting, if any, wins */
        const char *keys[] = {"connect_timeout", "dbname", NULL};
        const char *vals[] = {"5", pg_of(s)->url, NULL};
        pc->c = PQconnectdbParams(keys, vals, 1);
        if (pc->c) PQsetNoticeProcessor(pc->c, quiet_notice, NULL);
    } else if (PQstatus(pc->c) != CONNECTION_OK) {
        PQreset(pc->c);
    }
    pc->prepared = 0;
    if (!pc->c || PQstatus(pc->c) != CONNECTION_OK) return unreachable(s, pc->c, err);
    /* iterative scans (pgvector 0.8): a filtered search keeps walking the
     * graph until it has k rows; results are re-sorted by the queries */
    PGresult *r =
        PQexec(pc->c, "SET hnsw.iterative_scan = relaxed_order; SET hnsw.ef_search = 100");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        char why[300];
        snprintf(why, sizeof why, "%s", PQerrorMessage(pc->c));
        trim(why);
        return mnemo__fail(
            err, MNEMO_EIO,
            "PostgreSQL at %s: %s — mnemo needs pgvector 0.8 or newer (CREATE EXTENSION vector)",
            pg_of(s)->where, why);
    }
    return MNEMO_OK;
}

static int conn_prepare(mnemo_store *s, pg_conn *pc, mnemo_error *err) {
    char name[16];
    for (int i = 0; i < Q_N; i++) {
        snprintf(name, sizeof name, "mnemo_%d", i);
        PGresult *r = PQprepare(pc->c, name, statements[i], 0, NULL);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok) {
            if (PQstatus(pc->c) != CONNECTION_OK) return unreachable(s, pc->c, err);
            char why[300];
            snprintf(why, sizeof why, "%s", PQerrorMessage(pc->c));
            trim(why);
            return mnemo__fail(err, MNEMO_EIO, "PostgreSQL at %s: preparing statement %d: %s",
                               pg_of(s)->where, i, why);
        }
    }
    pc->prepared = 1;
    return MNEMO_OK;
}

/* A connection from the pool, connected and prepared. Put it back. */
static int conn_take(mnemo_store *s, pg_conn **out, mnemo_error *err) {
    struct pg_db *pg = pg_of(s);
    pthread_mutex_lock(&pg->lock);
    pg_conn *pc = NULL;
    for (;;) {
        for (int i = 0; i < pg->n && !pc; i++)
            if (!pg->conns[i].busy && pg->conns[i].c) pc = &pg->conns[i];
        for (int i = 0; i < pg->n && !pc; i++)
            if (!pg->conns[i].busy) pc = &pg->conns[i];
        if (pc) break;
        pthread_cond_wait(&pg->cond, &pg->lock);
    }
    pc->busy = 1;
    pthread_mutex_unlock(&pg->lock);
    int rc = MNEMO_OK;
    if (!pc->c || PQstatus(pc->c) != CONNECTION_OK) rc = conn_open(s, pc, err);
    if (!rc && !pc->prepared) rc = conn_prepare(s, pc, err);
    if (rc) {
        pthread_mutex_lock(&pg->lock);
        pc->busy = 0;
        pthread_cond_signal(&pg->cond);
        pthread_mutex_unlock(&pg->lock);
        return rc;
    }
    pc->n_run = 0;
    *out = pc;
    return MNEMO_OK;
}

static void conn_put(mnemo_store *s, pg_conn *pc) {
    if (!pc) return;
    if (PQstatus(pc->c) == CONNECTION_OK && PQtransactionStatus(pc->c) != PQTRANS_IDLE) {
        PGresult *r = PQexec(pc->c, "ROLLBACK");
        PQclear(r);
    }
    pthread_mutex_lock(&pg_of(s)->lock);
    pc->busy = 0;
    pthread_cond_signal(&pg_of(s)->cond);
    pthread_mutex_unlock(&pg_of(s)->lock);
}

/*
 * Runs statement q (a prepared one when sql is NULL) with parameters p; on
 * success *res holds the result (PQclear it). When the first statement of
 * this turn with the connection finds it dead, the connection is reset and
 * the statement run once more. Errors: EIO saying what failed and why.
 */
static int run(mnemo_store *s, pg_conn *pc, int q, const char *sql, const pg_params *p,
               PGresult **res, const char *what, mnemo_error *err) {
    *res = NULL;
    for (int attempt = 0;; attempt++) {
        PGresult *r;
        int n = p ? p->n : 0;
        const char *const *v = p ? p->v : NULL;
        const int *len = p ? p->len : NULL, *fmt = p ? p->fmt : NULL;
        if (sql && !p) {
            r = PQexec(pc->c, sql); /* may hold several statements (migrations) */
        } else if (sql) {
            r = PQexecParams(pc->c, sql, n, NULL, v, len, fmt, 0);
        } else {
            char name[16];
            snprintf(name, sizeof name, "mnemo_%d", q);
            r = PQexecPrepared(pc->c, name, n, v, len, fmt, 0);
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            pc->n_run++;
            *res = r;
            return MNEMO_OK;
        }
        PQclear(r);
        if (PQstatus(pc->c) != CONNECTION_OK) {
            if (attempt == 0 && pc->n_run == 0) {
                mnemo__log(MNEMO_LOG_WARN, "store.pg_reconnect", "where=%s", pg_of(s)->where);
                mnemo_error e2;
                if (conn_open(s, pc, &e2) == MNEMO_OK && conn_prepare(s, pc, &e2) == MNEMO_OK)
                    continue;
            }
            if (pc->n_run == 0) return unreachable(s, pc->c, err);
            return mnemo__fail(
                err, MNEMO_EIO,
                "the connection to the PostgreSQL store at %s was lost during %s; the change "
                "was not committed — retry when the server is back",
                pg_of(s)->where, what);
        }
        char why[400];
        snprintf(why, sizeof why, "%s", PQerrorMessage(pc->c));
        trim(why);
        return mnemo__fail(err, MNEMO_EIO, "PostgreSQL: %s: %s", what, why);
    }
}

static int run_simple(mnemo_store *s, pg_conn *pc, const char *sql, const char *what,
                      mnemo_error *err) {
    PGresult *r;
    int rc = run(s, pc, 0, sql, NULL, &r, what, err);
    PQclear(r);
    return rc;
}

static char *col(PGresult *r, int row, int c) {
    if (PQgetisnull(r, row, c)) return NULL;
    return mnemo__strndup(PQgetvalue(r, row, c), (size_t)PQgetlength(r, row, c));
}

/* jsonb's text as the compact, sorted JSON the SQLite backend gives. */
static char *compact_json(const char *t) {
    if (!t) return NULL;
    json_t *v = json_loads(t, 0, NULL);
    char *c = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(v);
    char *out = c ? mnemo__strndup(c, strlen(c)) : mnemo__strndup(t, strlen(t));
    free(c);
    return out;
}

/* m from columns COLS starting at c. */
static int memory_from(PGresult *r, int row, int c, mnemo_memory *m) {
    memset(m, 0, sizeof *m);
    snprintf(m->id, sizeof m->id, "%s", PQgetvalue(r, row, c));
    m->text = col(r, row, c + 1);
    m->text_len = (size_t)PQgetlength(r, row, c + 1);
    m->metadata = compact_json(PQgetvalue(r, row, c + 2));
    m->ns = col(r, row, c + 3);
    m->user_id = col(r, row, c + 4);
    m->agent_id = col(r, row, c + 5);
    m->session_id = col(r, row, c + 6);
    m->created_at = strtod(PQgetvalue(r, row, c + 7), NULL);
    m->updated_at = strtod(PQgetvalue(r, row, c + 8), NULL);
    m->expires_at = PQgetisnull(r, row, c + 9) ? 0 : strtod(PQgetvalue(r, row, c + 9), NULL);
    m->prompt_name =
        PQgetisnull(r, row, c + 10) ? mnemo__strndup("document", 8) : col(r, row, c + 10);
    if (!m->text || !m->metadata || !m->ns || !m->prompt_name) {
        mnemo__memory_clear(m);
        return MNEMO_ENOMEM;
    }
    return MNEMO_OK;
}

static const char *opt(const char *v) { return v && *v ? v : NULL; }

static void par_scope(pg_params *p, const mnemo_memory_scope *sc) {
    mnemo__pg_par_text(p, mnemo__scope_ns(sc));
    mnemo__pg_par_text(p, opt(sc->user_id));
    mnemo__pg_par_text(p, opt(sc->agent_id));
    mnemo__pg_par_text(p, opt(sc->session_id));
}

static int no_memory(mnemo_error *err) { return mnemo__fail(err, MNEMO_ENOMEM, "out of memory"); }

/* ------------------------------------------------ schema and model */

int mnemo__pg_info_get(mnemo_store *s, const char *key, char **out, mnemo_error *err) {
    pg_conn *pc = &pg_of(s)->conns[0];
    *out = NULL;
    pg_params p = {0};
    mnemo__pg_par_text(&p, key);
    PGresult *r;
    int rc = p.failed ? no_memory(err)
                      : run(s, pc, 0, "SELECT value FROM mnemo_info WHERE key = $1", &p, &r,
                            "reading mnemo_info", err);
    mnemo__pg_par_free(&p);
    if (rc) return rc;
    if (PQntuples(r) == 1) *out = col(r, 0, 0);
    PQclear(r);
    return MNEMO_OK;
}

int mnemo__pg_info_put(mnemo_store *s, const char *key, const char *value, mnemo_error *err) {
    pg_conn *pc = &pg_of(s)->conns[0];
    pg_params p = {0};
    mnemo__pg_par_text(&p, key);
    mnemo__pg_par_text(&p, value);
    PGresult *r;
    int rc = p.failed ? no_memory(err)
                      : run(s, pc, 0,
                            "INSERT INTO mnemo_info(key, value) VALUES ($1, $2) "
                            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                            &p, &r, "writing mnemo_info", err);
    PQclear(rc ? NULL : r);
    mnemo__pg_par_free(&p);
    return rc;
}

/* have_dim: s->dim is the width a new schema gets. */
static int migrate_to(mnemo_store *s, pg_conn *pc, int have_dim, mnemo_error *err) {
    char *have = NULL;
    int rc = mnemo__pg_info_get(s, "schema_version", &have, err);
    if (rc) return rc;
    int version = have ? atoi(have) : 0;
    mnemo__free(have);
    if (version > SCHEMA_VERSION)
        return mnemo__fail(
            err, MNEMO_EFORMAT,
            "PostgreSQL store at %s: schema version %d was written by a newer mnemo (this one "
            "knows up to %d)",
            pg_of(s)->where, version, SCHEMA_VERSION);
    if (version < SCHEMA_VERSION && !have_dim)
        return mnemo__fail(
            err, MNEMO_EINVAL,
            "PostgreSQL store at %s: a new store needs a model (pass --model DIR) to record its "
            "dimension",
            pg_of(s)->where);
    for (int v = version; v < SCHEMA_VERSION; v++) {
        size_t cap = strlen(migrations[v]) + 64;
        char *sql = mnemo__malloc(cap);
        if (!sql) return no_memory(err);
        snprintf(sql, cap, migrations[v], s->dim);
        rc = run_simple(s, pc, sql, "migrating the schema", err);
        mnemo__free(sql);
        char num[16];
        snprintf(num, sizeof num, "%d", v + 1);
        if (!rc) rc = mnemo__pg_info_put(s, "schema_version", num, err);
        if (rc) return mnemo__fail_prefix(err, "migrating the schema to version %d", v + 1);
        mnemo__log(MNEMO_LOG_INFO, "store.migrate", "where=%s version=%d", pg_of(s)->where, v + 1);
    }
    return MNEMO_OK;
}

static int migrate(mnemo_store *s, pg_conn *pc, mnemo_error *err) {
    return migrate_to(s, pc, s->model != NULL, err);
}

/* The fingerprint vector as text ("%.9g" each: exact for a float). */
static char *vec_text(const float *v, size_t n) {
    char *t = mnemo__malloc(n * 18 + 2);
    if (!t) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) o += (size_t)sprintf(t + o, i ? ",%.9g" : "%.9g", (double)v[i]);
    t[o] = 0;
    return t;
}

/* The model record in mnemo_info: the fingerprint is text, "%.9g" a value
 * joined by commas; one of another width reads as none. */
int mnemo__pg_model_get(mnemo_store *s, mnemo_model_record *have, mnemo_error *err) {
    char *fpt = NULL;
    int rc;
    if ((rc = mnemo__pg_info_get(s, "dim", &have->dim, err)) ||
        (rc = mnemo__pg_info_get(s, "model_name", &have->name, err)) ||
        (rc = mnemo__pg_info_get(s, "prompt_document", &have->doc, err)) ||
        (rc = mnemo__pg_info_get(s, "prompt_query", &have->query, err)) ||
        (rc = mnemo__pg_info_get(s, "fingerprint", &fpt, err)))
        goto out;
    size_t dim = have->dim ? (size_t)strtoul(have->dim, NULL, 10) : 0, i = 0;
    float *fp = fpt && dim && dim <= 65536 ? mnemo__malloc_array(dim, sizeof(float)) : NULL;
    const char *p = fpt;
    for (; fp && *p && i < dim; i++) {
        char *end;
        fp[i] = (float)strtod(p, &end);
        p = *end == ',' ? end + 1 : end;
    }
    if (fp && i == dim && !*p)
        have->fingerprint = fp;
    else
        mnemo__free(fp);
out:
    snprintf(have->where, sizeof have->where, "the PostgreSQL store at %s", pg_of(s)->where);
    snprintf(have->source, sizeof have->source, "PostgreSQL store at %s: mnemo_info",
             pg_of(s)->where);
    have->instead = "store";
    mnemo__free(fpt);
    return rc;
}

static int pg_model_put(mnemo_store *s, const mnemo_model_record *r, mnemo_error *err) {
    return mnemo__pg_model_put(s, r->name, r->doc, r->query, r->fingerprint, err);
}

int mnemo__pg_model_put(mnemo_store *s, const char *name, const char *doc, const char *query,
                        const float *fp, mnemo_error *err) {
    char dims[32];
    snprintf(dims, sizeof dims, "%zu", s->dim);
    char *fps = vec_text(fp, s->dim);
    if (!fps) return no_memory(err);
    int rc;
    if (!(rc = mnemo__pg_info_put(s, "model_name", name, err)) &&
        !(rc = mnemo__pg_info_put(s, "dim", dims, err)) &&
        !(rc = mnemo__pg_info_put(s, "prompt_document", doc, err)) &&
        !(rc = mnemo__pg_info_put(s, "prompt_query", query, err)))
        rc = mnemo__pg_info_put(s, "fingerprint", fps, err);
    mnemo__free(fps);
    return rc;
}

/* The schema and its migrations, in a transaction under an advisory lock
 * that stays open while the core reads and, for a new store, writes the
 * model record (model_get, model_put), and that start commits: replicas
 * starting together do it once. */
static int setup(mnemo_store *s, pg_conn *pc, mnemo_error *err) {
    int rc = run_simple(s, pc, "BEGIN", "starting the schema check", err);
    if (rc) return rc;
    if (!(rc = mnemo__pg_lock_schema(s, err))) rc = migrate(s, pc, err);
    if (rc) run_simple(s, pc, "ROLLBACK", "rolling back", &(mnemo_error){0});
    return rc;
}

int mnemo__pg_lock_schema(mnemo_store *s, mnemo_error *err) {
    char lock[96];
    snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%lld)", (long long)LOCK_MIGRATE);
    int rc = run_simple(s, &pg_of(s)->conns[0], lock, "locking the schema", err);
    /* under the lock: two replicas creating the extension at once would
     * collide */
    if (!rc && (rc = run_simple(s, &pg_of(s)->conns[0], "CREATE EXTENSION IF NOT EXISTS vector",
                                "creating the pgvector extension", err)))
        return mnemo__fail_prefix(
            err, "the database needs pgvector (https://github.com/pgvector/pgvector): "
                 "install it, and run CREATE EXTENSION vector as a superuser, or give "
                 "mnemo a role that may");
    if (!rc)
        rc = run_simple(
            s, &pg_of(s)->conns[0],
            "CREATE TABLE IF NOT EXISTS mnemo_info(key text PRIMARY KEY, value text NOT NULL)",
            "creating mnemo_info", err);
    return rc;
}

int mnemo__pg_schema(mnemo_store *s, size_t dim, mnemo_error *err) {
    s->dim = dim;
    return migrate_to(s, &pg_of(s)->conns[0], 1, err);
}

int mnemo__pg_exec(mnemo_store *s, const char *sql, const pg_params *p, PGresult **res,
                   const char *what, mnemo_error *err) {
    return run(s, &pg_of(s)->conns[0], 0, sql, p, res, what, err);
}

/* ------------------------------------------------------ open/close */

void mnemo__pg_close(mnemo_store *s) {
    if (!s) return;
    mnemo__store_stop_sweeper(s);
    struct pg_db *pg = pg_of(s);
    if (pg) {
        for (int i = 0; i < pg->n; i++) PQfinish(pg_of(s)->conns[i].c);
        mnemo__free(pg_of(s)->conns);
        mnemo__free(pg_of(s)->url);
        pthread_mutex_destroy(&pg_of(s)->lock);
        pthread_cond_destroy(&pg_of(s)->cond);
        mnemo__free(pg);
    }
    mnemo__store_fini(s);
    mnemo__free(s);
}

/* The store struct, its pool and the URL's host:port/db, not connected. */
static int pg_alloc(const mnemo_store_options *opts, mnemo_store **out, mnemo_error *err) {
    *out = NULL;
    int pool = opts->pool_size ? opts->pool_size : mnemo_store_default_options().pool_size;
    if (pool < 1 || pool > POOL_MAX)
        return mnemo__fail(err, MNEMO_EINVAL, "store pool size %d is out of range 1..%d", pool,
                           POOL_MAX);
    char *perr = NULL;
    PQconninfoOption *info = PQconninfoParse(opts->url, &perr);
    if (!info) {
        char why[300];
        snprintf(why, sizeof why, "%s", perr ? perr : "out of memory");
        trim(why);
        PQfreemem(perr);
        return mnemo__fail(err, MNEMO_EINVAL,
                           "store URL: %s (want postgres://USER[:PASSWORD]@HOST[:PORT]/DB)", why);
    }
    const char *host = NULL, *port = NULL, *db = NULL;
    for (PQconninfoOption *o = info; o->keyword; o++) {
        if (!strcmp(o->keyword, "host"))
            host = o->val;
        else if (!strcmp(o->keyword, "port"))
            port = o->val;
        else if (!strcmp(o->keyword, "dbname"))
            db = o->val;
    }
    mnemo_store *s = mnemo__calloc(1, sizeof *s);
    struct pg_db *pg = s ? mnemo__calloc(1, sizeof *pg) : NULL;
    if (pg) pg->conns = mnemo__calloc((size_t)pool, sizeof *pg->conns);
    if (pg) pg->url = mnemo__strndup(opts->url, strlen(opts->url));
    if (!s || !pg || !pg->conns || !pg->url) {
        PQconninfoFree(info);
        mnemo__free(s);
        if (pg) mnemo__free(pg->conns), mnemo__free(pg->url), mnemo__free(pg);
        return no_memory(err);
    }
    snprintf(pg->where, sizeof pg->where, "%s:%s/%s", host && *host ? host : "localhost",
             port && *port ? port : "5432", db && *db ? db : "(default)");
    PQconninfoFree(info);
    pg->n = pool;
    pthread_mutex_init(&pg->lock, NULL);
    pthread_cond_init(&pg->cond, NULL);
    pg->base.ops = &pg_ops;
    s->db = &pg->base;
    int rc = mnemo__store_init(s, opts, err);
    if (rc) {
        mnemo__pg_close(s);
        return rc;
    }
    *out = s;
    return MNEMO_OK;
}

int mnemo__pg_open_raw(const char *url, mnemo_store **out, mnemo_error *err) {
    mnemo_store_options o = {.url = url, .pool_size = 1};
    int rc = pg_alloc(&o, out, err);
    if (!rc && (rc = conn_open(*out, &pg_of(*out)->conns[0], err))) {
        mnemo__pg_close(*out);
        *out = NULL;
    }
    return rc;
}

int mnemo__pg_open(const mnemo_store_options *opts, mnemo_store **out, mnemo_error *err) {
    mnemo_store *s;
    int rc = pg_alloc(opts, &s, err);
    if (rc) return rc;
    rc = conn_open(s, &pg_of(s)->conns[0], err);
    if (!rc) rc = setup(s, &pg_of(s)->conns[0], err);
    if (rc) {
        mnemo__pg_close(s);
        return rc;
    }
    *out = s;
    return MNEMO_OK;
}

/* The schema and the model record committed; the pool ready. */
static int pg_start(mnemo_store *s, const mnemo_store_options *opts, mnemo_error *err) {
    (void)opts;
    struct pg_db *pg = pg_of(s);
    pg_conn *pc = NULL;
    int rc = run_simple(s, &pg->conns[0], "COMMIT", "recording the schema and model", err);
    if (!rc) rc = conn_take(s, &pc, err);
    conn_put(s, pc);
    if (rc) return rc;
    mnemo__log(MNEMO_LOG_INFO, "store.open",
               "backend=postgres where=%s dim=%zu pool=%d read_only=%d", pg->where, s->dim, pg->n,
               s->read_only);
    return MNEMO_OK;
}

/* ------------------------------------------------------------ writes */

static int history_add(mnemo_store *s, pg_conn *pc, const char *id, const char *event,
                       const char *reason, double at, const char *text, size_t text_len,
                       const char *meta, mnemo_error *err) {
    pg_params p = {0};
    mnemo__pg_par_text(&p, id);
    mnemo__pg_par_text(&p, event);
    mnemo__pg_par_text(&p, reason);
    mnemo__pg_par_f64(&p, at);
    if (text)
        mnemo__pg_par_dup(&p, text, text_len);
    else
        mnemo__pg_par_text(&p, NULL); /* an imported event without one */
    mnemo__pg_par_text(&p, meta);
    PGresult *r;
    int rc = p.failed ? no_memory(err)
                      : run(s, pc, Q_HIST_ADD, NULL, &p, &r, "recording the history", err);
    if (!rc) PQclear(r);
    mnemo__pg_par_free(&p);
    return rc;
}

static int pg_begin_write(mnemo_store *s, mnemo_store_conn **c, mnemo_error *err) {
    pg_conn *pc = NULL;
    int rc = conn_take(s, &pc, err);
    if (!rc && (rc = run_simple(s, pc, "BEGIN", "starting a write", err))) {
        conn_put(s, pc);
        pc = NULL;
    }
    *c = (mnemo_store_conn *)pc;
    return rc;
}

/* Durable on return: synchronous_commit is the server's (on by default).
 * Not committed: conn_put rolls back. */
static int pg_end_write(mnemo_store *s, mnemo_store_conn *c, int rc, const char *what,
                        mnemo_error *err) {
    pg_conn *pc = (pg_conn *)c;
    if (!rc) rc = run_simple(s, pc, "COMMIT", what, err);
    conn_put(s, pc);
    return rc;
}

/* Adds of one scope wait for each other across replicas. */
static int pg_lock_scope(mnemo_store *s, mnemo_store_conn *c, uint64_t key, mnemo_error *err) {
    pg_params q = {0};
    mnemo__pg_par_i64(&q, (int64_t)key);
    PGresult *r;
    int rc = q.failed ? no_memory(err)
                      : run(s, (pg_conn *)c, 0, "SELECT pg_advisory_xact_lock($1::bigint)", &q, &r,
                            "locking the scope", err);
    if (!rc) PQclear(r);
    mnemo__pg_par_free(&q);
    return rc;
}

static int pg_find_repeat(mnemo_store *s, mnemo_store_conn *c, const mnemo_store_row *x,
                          mnemo_store_found *f, mnemo_error *err) {
    pg_params q = {0};
    mnemo__pg_par_i64(&q, (int64_t)x->hash);
    mnemo__pg_par_dup(&q, x->text, x->text_len);
    par_scope(&q, x->scope);
    mnemo__pg_par_f64(&q, x->now);
    mnemo__pg_par_text(&q, x->prompt);
    PGresult *r;
    int rc = q.failed ? no_memory(err)
                      : run(s, (pg_conn *)c, Q_EXACT, NULL, &q, &r, "finding a repeat", err);
    mnemo__pg_par_free(&q);
    if (rc) return rc;
    if (PQntuples(r) == 1) {
        f->seq = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        snprintf(f->id, sizeof f->id, "%s", PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    return MNEMO_OK;
}

/* "{1,2,3}" of seqs (a bigint[] parameter). */
static char *seq_array(const int64_t *seqs, size_t n) {
    char *t = mnemo__malloc(n * 22 + 3);
    if (!t) return NULL;
    size_t o = 0;
    t[o++] = '{';
    for (size_t i = 0; i < n; i++)
        o += (size_t)sprintf(t + o, i ? ",%lld" : "%lld", (long long)seqs[i]);
    t[o++] = '}';
    t[o] = 0;
    return t;
}

static int pg_find_nearest(mnemo_store *s, mnemo_store_conn *c, const mnemo_store_row *x,
                           const int64_t *skip, size_t n_skip, mnemo_store_found *f,
                           mnemo_error *err) {
    char *written = seq_array(skip, n_skip);
    if (!written) return no_memory(err);
    pg_params q = {0};
    mnemo__pg_par_vec(&q, x->vec, s->dim);
    par_scope(&q, x->scope);
    mnemo__pg_par_f64(&q, x->now);
    mnemo__pg_par_text(&q, written);
    PGresult *r;
    int rc = q.failed
                 ? no_memory(err)
                 : run(s, (pg_conn *)c, Q_NEAREST, NULL, &q, &r, "finding a near-duplicate", err);
    mnemo__pg_par_free(&q);
    mnemo__free(written);
    if (rc) return rc;
    if (PQntuples(r) == 1) {
        f->seq = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        snprintf(f->id, sizeof f->id, "%s", PQgetvalue(r, 0, 1));
        f->score = strtod(PQgetvalue(r, 0, 2), NULL);
    }
    PQclear(r);
    return MNEMO_OK;
}

/* A new row: with its "added" event in one statement (Q_INSERT), or an
 * imported one (store.h's row.imported) with its id, times and history as
 * given, left alone when the store has the id (x->exists). */
static int pg_insert(mnemo_store *s, mnemo_store_conn *c, mnemo_store_row *x, mnemo_error *err) {
    pg_conn *pc = (pg_conn *)c;
    pg_params q = {0};
    mnemo__pg_par_text(&q, x->id);
    mnemo__pg_par_dup(&q, x->text, x->text_len);
    mnemo__pg_par_i64(&q, (int64_t)x->hash);
    mnemo__pg_par_text(&q, x->meta_text);
    par_scope(&q, x->scope);
    mnemo__pg_par_f64(&q, x->created_at);
    mnemo__pg_par_f64(&q, x->updated_at);
    if (x->expires_at > 0)
        mnemo__pg_par_f64(&q, x->expires_at);
    else
        mnemo__pg_par_text(&q, NULL);
    mnemo__pg_par_vec(&q, x->vec, s->dim);
    mnemo__pg_par_text(&q, x->prompt);
    PGresult *r;
    int rc = q.failed      ? no_memory(err)
             : x->imported ? run(s, pc, 0,
                                 "INSERT INTO mnemo_memories(id, text, text_hash, metadata, "
                                 "namespace, user_id, agent_id, session_id, created_at, "
                                 "updated_at, expires_at, vector, prompt_name) VALUES ($1, $2, "
                                 "$3, $4::jsonb, $5, $6, $7, $8, $9, $10, $11, $12::vector, $13) "
                                 "ON CONFLICT (id) DO NOTHING RETURNING seq",
                                 &q, &r, "importing a memory", err)
                           : run(s, pc, Q_INSERT, NULL, &q, &r, "adding a memory", err);
    mnemo__pg_par_free(&q);
    if (rc) return rc;
    int added = PQntuples(r) == 1;
    if (added) x->seq = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (!added) {
        x->exists = 1;
        return MNEMO_OK;
    }
    if (!x->imported) return MNEMO_OK;
    if (!x->n_history)
        return history_add(s, pc, x->id, "added", NULL, x->created_at, x->text, x->text_len,
                           x->meta_text, err);
    for (size_t k = 0; k < x->n_history && !rc; k++) {
        const mnemo_history_event *e = &x->history[k];
        rc = history_add(s, pc, x->id, e->event, e->reason, e->at, e->text,
                         e->text ? strlen(e->text) : 0, e->metadata, err);
    }
    return rc;
}

/* Locked (FOR UPDATE) until the transaction ends, so no other update
 * changes its prompt while a new text is embedded with it. */
static int pg_row(mnemo_store *s, mnemo_store_conn *c, const char *id, double now,
                  mnemo_store_found *f, mnemo_error *err) {
    pg_params q = {0};
    mnemo__pg_par_text(&q, id);
    mnemo__pg_par_f64(&q, now);
    PGresult *row;
    int rc = q.failed ? no_memory(err)
                      : run(s, (pg_conn *)c, Q_ROW, NULL, &q, &row, "reading a memory", err);
    mnemo__pg_par_free(&q);
    if (rc) return rc;
    if (PQntuples(row) == 1) {
        f->seq = strtoll(PQgetvalue(row, 0, 0), NULL, 10);
        snprintf(f->id, sizeof f->id, "%s", id);
        f->text_len = (size_t)PQgetlength(row, 0, 1);
        f->text = col(row, 0, 1);
        f->meta = compact_json(PQgetvalue(row, 0, 2));
        f->expires_at = PQgetisnull(row, 0, 3) ? 0 : strtod(PQgetvalue(row, 0, 3), NULL);
        f->prompt = col(row, 0, 4);
        if (!f->text || !f->meta || (!PQgetisnull(row, 0, 4) && !f->prompt)) {
            mnemo__found_clear(f);
            rc = no_memory(err);
        }
    }
    PQclear(row);
    return rc;
}

static int pg_rewrite(mnemo_store *s, mnemo_store_conn *c, const mnemo_store_row *x,
                      const char *reason, mnemo_error *err) {
    pg_conn *pc = (pg_conn *)c;
    pg_params q = {0};
    mnemo__pg_par_i64(&q, x->seq);
    mnemo__pg_par_dup(&q, x->text, x->text_len);
    mnemo__pg_par_i64(&q, (int64_t)x->hash);
    mnemo__pg_par_text(&q, x->meta_text);
    mnemo__pg_par_f64(&q, x->now);
    if (x->expires_at > 0)
        mnemo__pg_par_f64(&q, x->expires_at);
    else
        mnemo__pg_par_text(&q, NULL);
    if (x->vec)
        mnemo__pg_par_vec(&q, x->vec, s->dim);
    else
        mnemo__pg_par_text(&q, NULL);
    mnemo__pg_par_text(&q, x->prompt);
    PGresult *r;
    int rc = q.failed ? no_memory(err)
                      : run(s, pc, Q_UPDATE, NULL, &q, &r,
                            reason ? "merging a near-duplicate" : "updating a memory", err);
    mnemo__pg_par_free(&q);
    if (rc) return rc;
    PQclear(r);
    return history_add(s, pc, x->id, "updated", reason, x->now, x->text, x->text_len, x->meta_text,
                       err);
}

/* Runs a DELETE ... INSERT INTO history statement; *n its row count. */
static int run_delete(mnemo_store *s, int qn, const char *sql, pg_params *q, size_t *n,
                      mnemo_error *err) {
    pg_conn *pc = NULL;
    PGresult *r;
    int rc = q->failed ? no_memory(err) : conn_take(s, &pc, err);
    if (!rc) rc = run(s, pc, qn, sql, q, &r, "deleting memories", err);
    if (!rc) {
        *n = (size_t)strtoull(PQcmdTuples(r), NULL, 10);
        PQclear(r);
    }
    conn_put(s, pc);
    return rc;
}

static int pg_remove(mnemo_store *s, const char *id, double now, size_t *n, mnemo_error *err) {
    pg_params q = {0};
    mnemo__pg_par_text(&q, id);
    mnemo__pg_par_f64(&q, now);
    int rc = run_delete(s, Q_DELETE, NULL, &q, n, err);
    mnemo__pg_par_free(&q);
    return rc;
}

static int pg_remove_where(mnemo_store *s, const mnemo_store_query *sq, size_t *n,
                           mnemo_error *err) {
    pg_params q = {0};
    pg_sql sql = {0};
    mnemo__pg_par_f64(&q, sq->now);
    par_scope(&q, sq->scope);
    mnemo__pg_sql_add(
        &sql, "WITH d AS (DELETE FROM mnemo_memories WHERE " LIVE(1) " AND " SCOPE(2, 3, 4, 5));
    int rc = mnemo__pg_filter_sql(sq->filter, &sql, &q, err);
    mnemo__pg_sql_add(
        &sql,
        " RETURNING id, text, metadata) INSERT INTO mnemo_history(memory_id, event, reason, at, "
        "text, metadata) SELECT id, 'deleted', NULL, $1, text, metadata::text FROM d");
    if (!rc) rc = sql.failed ? no_memory(err) : run_delete(s, 0, sql.s, &q, n, err);
    mnemo__pg_sql_free(&sql);
    mnemo__pg_par_free(&q);
    return rc;
}

static int pg_sweep(mnemo_store *s, double now, size_t *n, mnemo_error *err) {
    pg_params q = {0};
    mnemo__pg_par_f64(&q, now);
    int rc = run_delete(s, Q_SWEEP, NULL, &q, n, err);
    mnemo__pg_par_free(&q);
    return rc;
}

/* ------------------------------------------------------------- reads */

typedef mnemo_hit hit;

static int pg_begin_read(mnemo_store *s, mnemo_store_conn **c, mnemo_error *err) {
    pg_conn *pc = NULL;
    int rc = conn_take(s, &pc, err);
    *c = (mnemo_store_conn *)pc;
    return rc;
}

static void pg_end_read(mnemo_store *s, mnemo_store_conn *c) { conn_put(s, (pg_conn *)c); }

/* Runs a (seq, score) query into hits, best first. */
static int hits_query(mnemo_store *s, pg_conn *pc, const char *sql, pg_params *q, hit *out,
                      size_t cap, size_t *n, mnemo_error *err) {
    PGresult *r;
    *n = 0;
    int rc = q->failed ? no_memory(err) : run(s, pc, 0, sql, q, &r, "searching", err);
    if (rc) return rc;
    for (int i = 0; i < PQntuples(r) && *n < cap; i++)
        out[(*n)++] =
            (hit){strtoll(PQgetvalue(r, i, 0), NULL, 10), strtod(PQgetvalue(r, i, 1), NULL)};
    PQclear(r);
    mnemo__hits_sort(out, *n);
    return MNEMO_OK;
}

/* The best `cap` by cosine: through the HNSW index (iterative, so filtered
 * rows do not use up the k), and exactly when that found fewer than cap —
 * all rows of the scope may be fewer, or the index walk gave up early — or
 * when the search asked for exact ("exact": true). */
static int pg_nearest(mnemo_store *s, mnemo_store_conn *c, const mnemo_store_query *sq,
                      const float *v, int force_exact, hit *out, size_t cap, size_t *n,
                      mnemo_error *err) {
    int rc = MNEMO_OK;
    for (int exact = force_exact ? 1 : 0; exact < 2 && !rc; exact++) {
        pg_params q = {0};
        pg_sql sql = {0};
        mnemo__pg_par_vec(&q, v, s->dim);
        mnemo__pg_par_f64(&q, sq->now);
        par_scope(&q, sq->scope);
        mnemo__pg_sql_add(
            &sql,
            "WITH c AS MATERIALIZED (SELECT seq, vector <#> $1::vector AS d FROM mnemo_memories "
            "WHERE " LIVE(2) " AND " SCOPE(3, 4, 5, 6));
        rc = mnemo__pg_filter_sql(sq->filter, &sql, &q, err);
        /* "+ 0" hides the ordering from the index: a sequential, exact scan */
        mnemo__pg_sql_add(
            &sql,
            " ORDER BY %svector <#> $1::vector%s LIMIT %zu) SELECT seq, -d FROM c ORDER BY d, seq",
            exact ? "(" : "", exact ? ") + 0" : "", cap);
        if (!rc)
            rc = sql.failed ? no_memory(err)
                            : hits_query(s, (pg_conn *)c, sql.s, &q, out, cap, n, err);
        mnemo__pg_sql_free(&sql);
        mnemo__pg_par_free(&q);
        if (!rc && *n == cap) break;
        if (!rc && !exact)
            mnemo__log(MNEMO_LOG_DEBUG, "store.pg_exact_scan", "found=%zu k=%zu", *n, cap);
    }
    return rc;
}

static int pg_text(mnemo_store *s, mnemo_store_conn *c, const mnemo_store_query *sq,
                   const char *query, size_t qlen, hit *out, size_t cap, size_t *n,
                   mnemo_error *err) {
    *n = 0;
    char *expr = mnemo__query_words(query, qlen, '\'', " | "); /* a tsquery: 'w1' | 'w2' ... */
    if (!expr) return no_memory(err);
    if (!*expr) {
        mnemo__free(expr);
        return MNEMO_OK;
    }
    pg_params q = {0};
    pg_sql sql = {0};
    mnemo__pg_par_text(&q, expr);
    mnemo__pg_par_f64(&q, sq->now);
    par_scope(&q, sq->scope);
    mnemo__pg_sql_add(
        &sql, "SELECT seq, ts_rank(tsv, tq) FROM mnemo_memories, to_tsquery('english', $1) tq "
              "WHERE tsv @@ tq AND " LIVE(2) " AND " SCOPE(3, 4, 5, 6));
    int rc = mnemo__pg_filter_sql(sq->filter, &sql, &q, err);
    mnemo__pg_sql_add(&sql, " ORDER BY 2 DESC, seq LIMIT %zu", cap);
    if (!rc)
        rc = sql.failed ? no_memory(err) : hits_query(s, (pg_conn *)c, sql.s, &q, out, cap, n, err);
    mnemo__pg_sql_free(&sql);
    mnemo__pg_par_free(&q);
    mnemo__free(expr);
    return rc;
}

/* The rows of hits, in their order, with their scores. */
static int pg_fetch(mnemo_store *s, mnemo_store_conn *c, const hit *hits, size_t n, double now,
                    mnemo_memories *m, mnemo_error *err) {
    pg_conn *pc = (pg_conn *)c;
    char *arr = mnemo__malloc(n * 22 + 3);
    int rc = !arr ? no_memory(err) : MNEMO_OK;
    PGresult *r = NULL;
    if (!rc && n) {
        size_t o = 0;
        arr[o++] = '{';
        for (size_t i = 0; i < n; i++)
            o += (size_t)sprintf(arr + o, i ? ",%lld" : "%lld", (long long)hits[i].seq);
        arr[o++] = '}';
        arr[o] = 0;
        pg_params q = {0};
        mnemo__pg_par_text(&q, arr);
        mnemo__pg_par_f64(&q, now);
        rc = q.failed ? no_memory(err) : run(s, pc, Q_FETCH, NULL, &q, &r, "reading memories", err);
        mnemo__pg_par_free(&q);
    }
    for (size_t i = 0; i < n && !rc; i++) {
        for (int j = 0; j < PQntuples(r); j++) {
            if (strtoll(PQgetvalue(r, j, 0), NULL, 10) != hits[i].seq) continue;
            if (memory_from(r, j, 1, &m->items[m->n]))
                rc = no_memory(err);
            else
                m->items[m->n++].score = hits[i].score;
            break;
        } /* not found: deleted or expired meanwhile */
    }
    PQclear(r);
    mnemo__free(arr);
    return rc;
}

static int pg_get(mnemo_store *s, const char *id, double now, mnemo_memories *m, mnemo_error *err) {
    pg_conn *pc = NULL;
    PGresult *r;
    pg_params q = {0};
    mnemo__pg_par_text(&q, id);
    mnemo__pg_par_f64(&q, now);
    int rc = q.failed ? no_memory(err) : conn_take(s, &pc, err);
    if (!rc) rc = run(s, pc, Q_GET, NULL, &q, &r, "reading a memory", err);
    mnemo__pg_par_free(&q);
    conn_put(s, pc);
    if (rc) return rc;
    if (PQntuples(r) == 1) {
        if (memory_from(r, 0, 0, &m->items[0]))
            rc = no_memory(err);
        else
            m->n = 1;
    }
    PQclear(r);
    return rc;
}

static int pg_list(mnemo_store *s, const mnemo_store_query *sq, int64_t after, size_t limit,
                   mnemo_memories *m, int64_t *last, int *more, mnemo_error *err) {
    pg_params q = {0};
    pg_sql sql = {0};
    mnemo__pg_par_i64(&q, after);
    mnemo__pg_par_f64(&q, sq->now);
    par_scope(&q, sq->scope);
    mnemo__pg_sql_add(&sql, "SELECT seq, " COLS " FROM mnemo_memories WHERE seq > $1 AND " LIVE(
                                2) " AND " SCOPE(3, 4, 5, 6));
    int rc = mnemo__pg_filter_sql(sq->filter, &sql, &q, err);
    mnemo__pg_sql_add(&sql, " ORDER BY seq LIMIT %zu", limit + 1);
    pg_conn *pc = NULL;
    PGresult *r = NULL;
    if (!rc) rc = sql.failed ? no_memory(err) : conn_take(s, &pc, err);
    if (!rc) rc = run(s, pc, 0, sql.s, &q, &r, "listing memories", err);
    conn_put(s, pc);
    int rows = rc ? 0 : PQntuples(r);
    for (int i = 0; i < rows && (size_t)i < limit && !rc; i++) {
        if (memory_from(r, i, 1, &m->items[m->n]))
            rc = no_memory(err);
        else
            m->n++;
    }
    if (!rc && (size_t)rows > limit) {
        *more = 1;
        *last = strtoll(PQgetvalue(r, (int)limit - 1, 0), NULL, 10);
    }
    PQclear(r);
    mnemo__pg_sql_free(&sql);
    mnemo__pg_par_free(&q);
    return rc;
}

static int pg_count(mnemo_store *s, const mnemo_store_query *sq, size_t *n, mnemo_error *err) {
    pg_params q = {0};
    pg_sql sql = {0};
    mnemo__pg_par_f64(&q, sq->now);
    par_scope(&q, sq->scope);
    mnemo__pg_sql_add(
        &sql, "SELECT count(*) FROM mnemo_memories WHERE " LIVE(1) " AND " SCOPE(2, 3, 4, 5));
    int rc = mnemo__pg_filter_sql(sq->filter, &sql, &q, err);
    pg_conn *pc = NULL;
    PGresult *r;
    if (!rc) rc = sql.failed ? no_memory(err) : conn_take(s, &pc, err);
    if (!rc) rc = run(s, pc, 0, sql.s, &q, &r, "counting memories", err);
    conn_put(s, pc);
    if (!rc) {
        *n = (size_t)strtoull(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
    }
    mnemo__pg_sql_free(&sql);
    mnemo__pg_par_free(&q);
    return rc;
}

static int pg_history(mnemo_store *s, const char *id, mnemo_history *h, mnemo_error *err) {
    pg_conn *pc = NULL;
    PGresult *r;
    pg_params q = {0};
    mnemo__pg_par_text(&q, id);
    int rc = q.failed ? no_memory(err) : conn_take(s, &pc, err);
    if (!rc) rc = run(s, pc, Q_HISTORY, NULL, &q, &r, "reading the history", err);
    mnemo__pg_par_free(&q);
    conn_put(s, pc);
    if (rc) return rc;
    int rows = PQntuples(r);
    h->items = mnemo__calloc(rows ? (size_t)rows : 1, sizeof *h->items);
    if (!h->items) rc = no_memory(err);
    for (int i = 0; i < rows && !rc; i++) {
        mnemo_history_event *e = &h->items[h->n++];
        e->event = col(r, i, 0);
        e->reason = col(r, i, 1);
        e->at = strtod(PQgetvalue(r, i, 2), NULL);
        e->text = col(r, i, 3);
        e->metadata = PQgetisnull(r, i, 4) ? NULL : compact_json(PQgetvalue(r, i, 4));
        if (!e->event) rc = no_memory(err);
    }
    PQclear(r);
    return rc;
}

/* --------------------------------------- for export (transfer.c) */

/* n floats from text "a,b,..." between the delimiters open and close (as
 * "%.9g" or PostgreSQL's shortest form: exact for a float); 0 when it does
 * not hold exactly n finite numbers. */
static int floats_from(const char *t, char open, char close, float *out, size_t n) {
    if (open && *t++ != open) return 0;
    for (size_t i = 0; i < n; i++) {
        char *end;
        out[i] = strtof(t, &end);
        if (end == t || !isfinite(out[i])) return 0;
        t = end;
        if (i + 1 < n && *t++ != ',') return 0;
    }
    return close ? t[0] == close && !t[1] : !*t;
}

int mnemo__pg_memory_vector(mnemo_store *s, const char *id, float *out, mnemo_error *err) {
    pg_conn *pc = NULL;
    PGresult *r;
    pg_params q = {0};
    mnemo__pg_par_text(&q, id);
    int rc = q.failed ? no_memory(err) : conn_take(s, &pc, err);
    if (!rc)
        rc = run(s, pc, 0, "SELECT vector::real[]::text FROM mnemo_memories WHERE id = $1", &q, &r,
                 "reading a vector", err);
    mnemo__pg_par_free(&q);
    conn_put(s, pc);
    if (rc) return rc;
    if (PQntuples(r) != 1)
        rc = mnemo__fail(err, MNEMO_ENOENT, "no memory with id '%.64s'", id);
    else if (!floats_from(PQgetvalue(r, 0, 0), '{', '}', out, s->dim))
        rc = mnemo__fail(err, MNEMO_EFORMAT,
                         "PostgreSQL store at %s: memory %.64s has no vector of %zu values",
                         pg_of(s)->where, id, s->dim);
    PQclear(r);
    return rc;
}

int mnemo__pg_namespaces(mnemo_store *s, char ***out, size_t *n, mnemo_error *err) {
    *out = NULL;
    *n = 0;
    pg_conn *pc = NULL;
    PGresult *r;
    int rc = conn_take(s, &pc, err);
    /* byte order, as SQLite's BINARY collation sorts them */
    if (!rc)
        rc = run(s, pc, 0,
                 "SELECT DISTINCT namespace COLLATE \"C\" AS ns FROM mnemo_memories ORDER BY ns",
                 NULL, &r, "listing namespaces", err);
    conn_put(s, pc);
    if (rc) return rc;
    int rows = PQntuples(r);
    *out = mnemo__calloc(rows ? (size_t)rows : 1, sizeof **out);
    for (int i = 0; *out && i < rows && !rc; i++)
        if (!((*out)[(*n)++] = col(r, i, 0))) rc = no_memory(err);
    if (!*out) rc = no_memory(err);
    PQclear(r);
    return rc;
}

static const mnemo_store_ops pg_ops = {
    .name = "postgres",
    .close = mnemo__pg_close,
    .begin_read = pg_begin_read,
    .end_read = pg_end_read,
    .nearest = pg_nearest,
    .text = pg_text,
    .fetch = pg_fetch,
    .get = pg_get,
    .list = pg_list,
    .count = pg_count,
    .history = pg_history,
    .begin_write = pg_begin_write,
    .end_write = pg_end_write,
    .lock_scope = pg_lock_scope,
    .find_repeat = pg_find_repeat,
    .find_nearest = pg_find_nearest,
    .insert = pg_insert,
    .row = pg_row,
    .rewrite = pg_rewrite,
    .remove = pg_remove,
    .remove_where = pg_remove_where,
    .sweep = pg_sweep,
    .vector = mnemo__pg_memory_vector,
    .namespaces = mnemo__pg_namespaces,
    .model_get = mnemo__pg_model_get,
    .model_put = pg_model_put,
    .start = pg_start,
};
