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
    Q_MERGE,
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
        "$4::jsonb, $5, $6, $7, $8, $9, $9, $10, $11::vector, $12) RETURNING seq, id, text, "
        "metadata, "
        "created_at), "
        "h AS (INSERT INTO mnemo_history(memory_id, event, at, text, metadata) "
        "SELECT id, 'added', created_at, text, metadata::text FROM m) SELECT seq FROM m",
    [Q_MERGE] = "UPDATE mnemo_memories SET text = $2, text_hash = $3, metadata = $4::jsonb, "
                "updated_at = $5, "
                "expires_at = $6, vector = $7::vector, prompt_name = $8 WHERE seq = $1",
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

struct mnemo_pg {
    char *url;
    char where[300]; /* host:port/db for messages (never the password) */
    pg_conn *conns;
    int n;
    pthread_mutex_t lock;
    pthread_cond_t cond;
};

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
        s->pg->where, why);
}

/* Connects (or resets) slot pc and prepares the statements. */
static int conn_open(mnemo_store *s, pg_conn *pc, mnemo_error *err) {
    if (!pc->c) {
        /* connect_timeout first: the URL's own setting, if any, wins */
        const char *keys[] = {"connect_timeout", "dbname", NULL};
        const char *vals[] = {"5", s->pg->url, NULL};
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
            s->pg->where, why);
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
                               s->pg->where, i, why);
        }
    }
    pc->prepared = 1;
    return MNEMO_OK;
}

/* A connection from the pool, connected and prepared. Put it back. */
static int conn_take(mnemo_store *s, pg_conn **out, mnemo_error *err) {
    struct mnemo_pg *pg = s->pg;
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
    pthread_mutex_lock(&s->pg->lock);
    pc->busy = 0;
    pthread_cond_signal(&s->pg->cond);
    pthread_mutex_unlock(&s->pg->lock);
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
                mnemo__log(MNEMO_LOG_WARN, "store.pg_reconnect", "where=%s", s->pg->where);
                mnemo_error e2;
                if (conn_open(s, pc, &e2) == MNEMO_OK && conn_prepare(s, pc, &e2) == MNEMO_OK)
                    continue;
            }
            if (pc->n_run == 0) return unreachable(s, pc->c, err);
            return mnemo__fail(
                err, MNEMO_EIO,
                "the connection to the PostgreSQL store at %s was lost during %s; the change "
                "was not committed — retry when the server is back",
                s->pg->where, what);
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
    pg_conn *pc = &s->pg->conns[0];
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
    pg_conn *pc = &s->pg->conns[0];
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
            s->pg->where, version, SCHEMA_VERSION);
    if (version < SCHEMA_VERSION && !have_dim)
        return mnemo__fail(
            err, MNEMO_EINVAL,
            "PostgreSQL store at %s: a new store needs a model (pass --model DIR) to record its "
            "dimension",
            s->pg->where);
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
        mnemo__log(MNEMO_LOG_INFO, "store.migrate", "where=%s version=%d", s->pg->where, v + 1);
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

int mnemo__pg_model_check(mnemo_store *s, const char *where, const char *have_name,
                          const char *have_dim, const char *have_doc, const char *have_query,
                          const char *have_fp, const char *doc, const char *query, const float *fp,
                          mnemo_error *err) {
    double cosine = -2, dot = 0;
    size_t i = 0;
    const char *p = have_fp;
    for (; p && *p && i < s->dim; i++) {
        char *end;
        dot += strtod(p, &end) * fp[i];
        p = *end == ',' ? end + 1 : end;
    }
    if (i == s->dim && p && !*p) cosine = dot;
    const char *what = NULL;
    char detail[256] = "";
    if (!have_dim || (size_t)strtoul(have_dim, NULL, 10) != s->dim) {
        what = "dimension";
        snprintf(detail, sizeof detail, "%s vs %zu", have_dim ? have_dim : "?", s->dim);
    } else if (!have_doc || !have_query || strcmp(have_doc, doc) || strcmp(have_query, query)) {
        what = "prompts";
        snprintf(detail, sizeof detail, "document prompt \"%.60s\" vs \"%.60s\"",
                 have_doc ? have_doc : "", doc);
    } else if (cosine < MNEMO_FINGERPRINT_MIN_COSINE) {
        what = "weights";
        snprintf(detail, sizeof detail, "fingerprint cosine %.3f < %.2f", cosine,
                 MNEMO_FINGERPRINT_MIN_COSINE);
    }
    if (!what) return MNEMO_OK;
    return mnemo__model_mismatch(err, where, have_name ? have_name : "?", have_dim ? have_dim : "?",
                                 s, what, detail);
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

static int check_model(mnemo_store *s, mnemo_error *err) {
    char *dim = NULL, *name = NULL, *doc = NULL, *query = NULL, *fpt = NULL;
    float *fp = NULL;
    int rc = mnemo__pg_info_get(s, "dim", &dim, err);
    if (!rc) rc = mnemo__pg_info_get(s, "model_name", &name, err);
    if (rc) goto out;
    if (!s->model) {
        s->dim = dim ? (size_t)strtoul(dim, NULL, 10) : 0;
        if (s->dim == 0 || s->dim > 65536)
            rc = mnemo__fail(err, MNEMO_EFORMAT,
                             "PostgreSQL store at %s: mnemo_info.dim '%s' is not a width",
                             s->pg->where, dim ? dim : "");
        goto out;
    }
    const char *want_doc = mnemo_model_prompt_text(s->model, "document");
    const char *want_query = mnemo_model_prompt_text(s->model, "query");
    if (!want_doc || !want_query) {
        rc = mnemo__fail(err, MNEMO_EINVAL,
                         "model '%s' has no \"document\" and \"query\" prompts "
                         "(config_sentence_transformers.json); the store embeds memories and "
                         "queries with them",
                         s->model_name);
        goto out;
    }
    fp = mnemo__malloc_array(s->dim, sizeof(float));
    if (!fp) {
        rc = no_memory(err);
        goto out;
    }
    const char *t = mnemo__store_fingerprint_text();
    size_t tl = strlen(t);
    if ((rc = mnemo__store_embed(s, &t, &tl, 1, "document", fp, err))) goto out;
    if (dim) {
        if (!(rc = mnemo__pg_info_get(s, "prompt_document", &doc, err)) &&
            !(rc = mnemo__pg_info_get(s, "prompt_query", &query, err)) &&
            !(rc = mnemo__pg_info_get(s, "fingerprint", &fpt, err))) {
            char where[340];
            snprintf(where, sizeof where, "the PostgreSQL store at %s", s->pg->where);
            rc = mnemo__pg_model_check(s, where, name, dim, doc, query, fpt, want_doc, want_query,
                                       fp, err);
        }
        goto out;
    }
    rc = mnemo__pg_model_put(s, s->model_name, want_doc, want_query, fp, err);
out:
    mnemo__free(dim);
    mnemo__free(name);
    mnemo__free(doc);
    mnemo__free(query);
    mnemo__free(fpt);
    mnemo__free(fp);
    return rc;
}

/* The schema, its migrations and the model record, in one transaction
 * under an advisory lock, so replicas starting together do it once. */
static int setup(mnemo_store *s, pg_conn *pc, mnemo_error *err) {
    int rc = run_simple(s, pc, "BEGIN", "starting the schema check", err);
    if (rc) return rc;
    if (!(rc = mnemo__pg_lock_schema(s, err)) && !(rc = migrate(s, pc, err)) &&
        !(rc = check_model(s, err)))
        rc = run_simple(s, pc, "COMMIT", "recording the schema and model", err);
    if (rc) run_simple(s, pc, "ROLLBACK", "rolling back", &(mnemo_error){0});
    return rc;
}

int mnemo__pg_lock_schema(mnemo_store *s, mnemo_error *err) {
    char lock[96];
    snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%lld)", (long long)LOCK_MIGRATE);
    int rc = run_simple(s, &s->pg->conns[0], lock, "locking the schema", err);
    /* under the lock: two replicas creating the extension at once would
     * collide */
    if (!rc && (rc = run_simple(s, &s->pg->conns[0], "CREATE EXTENSION IF NOT EXISTS vector",
                                "creating the pgvector extension", err)))
        return mnemo__fail_prefix(
            err, "the database needs pgvector (https://github.com/pgvector/pgvector): "
                 "install it, and run CREATE EXTENSION vector as a superuser, or give "
                 "mnemo a role that may");
    if (!rc)
        rc = run_simple(
            s, &s->pg->conns[0],
            "CREATE TABLE IF NOT EXISTS mnemo_info(key text PRIMARY KEY, value text NOT NULL)",
            "creating mnemo_info", err);
    return rc;
}

int mnemo__pg_schema(mnemo_store *s, size_t dim, mnemo_error *err) {
    s->dim = dim;
    return migrate_to(s, &s->pg->conns[0], 1, err);
}

int mnemo__pg_exec(mnemo_store *s, const char *sql, const pg_params *p, PGresult **res,
                   const char *what, mnemo_error *err) {
    return run(s, &s->pg->conns[0], 0, sql, p, res, what, err);
}

/* ------------------------------------------------------ open/close */

static void pg_close(mnemo_store *s) {
    if (!s) return;
    mnemo__store_stop_sweeper(s);
    if (s->pg) {
        for (int i = 0; i < s->pg->n; i++) PQfinish(s->pg->conns[i].c);
        mnemo__free(s->pg->conns);
        mnemo__free(s->pg->url);
        pthread_mutex_destroy(&s->pg->lock);
        pthread_cond_destroy(&s->pg->cond);
        mnemo__free(s->pg);
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
    struct mnemo_pg *pg = s ? mnemo__calloc(1, sizeof *pg) : NULL;
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
    s->backend = &mnemo__pg_backend;
    s->pg = pg;
    int rc = mnemo__store_init(s, opts, err);
    if (rc) {
        pg_close(s);
        return rc;
    }
    *out = s;
    return MNEMO_OK;
}

int mnemo__pg_open_raw(const char *url, mnemo_store **out, mnemo_error *err) {
    mnemo_store_options o = {.url = url, .pool_size = 1};
    int rc = pg_alloc(&o, out, err);
    if (!rc && (rc = conn_open(*out, &(*out)->pg->conns[0], err))) {
        pg_close(*out);
        *out = NULL;
    }
    return rc;
}

int mnemo__pg_open(const mnemo_store_options *opts, mnemo_store **out, mnemo_error *err) {
    mnemo_store *s;
    int rc = pg_alloc(opts, &s, err);
    if (rc) return rc;
    struct mnemo_pg *pg = s->pg;
    pg_conn *pc = NULL;
    rc = conn_open(s, &pg->conns[0], err);
    if (!rc) rc = setup(s, &pg->conns[0], err);
    if (!rc) rc = conn_take(s, &pc, err);
    conn_put(s, pc);
    if (!rc && mnemo__store_wants_sweeper(opts) && !s->read_only) mnemo__store_start_sweeper(s);
    if (rc) {
        pg_close(s);
        return rc;
    }
    mnemo__log(MNEMO_LOG_INFO, "store.open",
               "backend=postgres where=%s dim=%zu pool=%d read_only=%d", pg->where, s->dim, pg->n,
               s->read_only);
    *out = s;
    return MNEMO_OK;
}

/* ------------------------------------------------------------ writes */

static int read_only(mnemo_store *s, const char *what, mnemo_error *err) {
    return mnemo__fail(err, MNEMO_EIO, "the store is read-only (%s); nothing was %s",
                       s->read_only_why, what);
}

static int history_add(mnemo_store *s, pg_conn *pc, const char *id, const char *event,
                       const char *reason, double at, const char *text, size_t text_len,
                       const char *meta, mnemo_error *err) {
    pg_params p = {0};
    mnemo__pg_par_text(&p, id);
    mnemo__pg_par_text(&p, event);
    mnemo__pg_par_text(&p, reason);
    mnemo__pg_par_f64(&p, at);
    mnemo__pg_par_dup(&p, text, text_len);
    mnemo__pg_par_text(&p, meta);
    PGresult *r;
    int rc = p.failed ? no_memory(err)
                      : run(s, pc, Q_HIST_ADD, NULL, &p, &r, "recording the history", err);
    if (!rc) PQclear(r);
    mnemo__pg_par_free(&p);
    return rc;
}

typedef struct pending {
    json_t *meta;
    char *meta_text;
    uint64_t hash;
    double expires_at;
    const float *vec;
    const char *prompt; /* recorded: NULL for "document" */
    int64_t seq;
    int same_as;
} pending;

static int same_scope(const mnemo_memory_scope *a, const mnemo_memory_scope *b) {
    const char *x[4] = {mnemo__scope_ns(a), opt(a->user_id), opt(a->agent_id), opt(a->session_id)};
    const char *y[4] = {mnemo__scope_ns(b), opt(b->user_id), opt(b->agent_id), opt(b->session_id)};
    for (int i = 0; i < 4; i++)
        if ((x[i] == NULL) != (y[i] == NULL) || (x[i] && strcmp(x[i], y[i]))) return 0;
    return 1;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* "{1,2,3}" of the seqs written so far (a bigint[] parameter). */
static char *seq_array(const pending *p, size_t n) {
    char *t = mnemo__malloc(n * 22 + 3);
    if (!t) return NULL;
    size_t o = 0;
    t[o++] = '{';
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        if (p[i].seq <= 0 || p[i].same_as != -1) continue;
        o += (size_t)sprintf(t + o, first ? "%lld" : ",%lld", (long long)p[i].seq);
        first = 0;
    }
    t[o++] = '}';
    t[o] = 0;
    return t;
}

/* One input's dedup and write inside the open transaction. */
static int add_one(mnemo_store *s, pg_conn *pc, const mnemo_memory_input *in, pending *p, size_t i,
                   double now, mnemo_memory_added *out, mnemo_error *err) {
    const mnemo_memory_input *x = &in[i];
    PGresult *r;
    int rc;
    out[i].event = MNEMO_MEMORY_ADDED;
    if (!s->no_dedup) {
        for (size_t j = 0; j < i; j++)
            if (p[j].hash == p[i].hash && in[j].text_len == x->text_len &&
                !memcmp(in[j].text, x->text, x->text_len) && same_scope(&in[j].scope, &x->scope) &&
                mnemo__same_prompt(p[j].prompt, p[i].prompt)) {
                p[i].same_as = (int)j;
                memcpy(out[i].id, out[j].id, sizeof out[i].id);
                out[i].event = MNEMO_MEMORY_DUPLICATE;
                return MNEMO_OK;
            }
        pg_params q = {0};
        mnemo__pg_par_i64(&q, (int64_t)p[i].hash);
        mnemo__pg_par_dup(&q, x->text, x->text_len);
        par_scope(&q, &x->scope);
        mnemo__pg_par_f64(&q, now);
        mnemo__pg_par_text(&q, p[i].prompt);
        rc = q.failed ? no_memory(err) : run(s, pc, Q_EXACT, NULL, &q, &r, "finding a repeat", err);
        mnemo__pg_par_free(&q);
        if (rc) return rc;
        if (PQntuples(r) == 1) {
            snprintf(out[i].id, sizeof out[i].id, "%s", PQgetvalue(r, 0, 1));
            p[i].seq = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
            p[i].same_as = -2;
            out[i].event = MNEMO_MEMORY_DUPLICATE;
            PQclear(r);
            return MNEMO_OK;
        }
        PQclear(r);
        /* the nearest memory of the same scope, not one this batch wrote */
        char *written = seq_array(p, i);
        if (!written) return no_memory(err);
        mnemo__pg_par_vec(&q, p[i].vec, s->dim);
        par_scope(&q, &x->scope);
        mnemo__pg_par_f64(&q, now);
        mnemo__pg_par_text(&q, written);
        rc = q.failed ? no_memory(err)
                      : run(s, pc, Q_NEAREST, NULL, &q, &r, "finding a near-duplicate", err);
        mnemo__pg_par_free(&q);
        mnemo__free(written);
        if (rc) return rc;
        int64_t best = PQntuples(r) == 1 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
        double cosine = best >= 0 ? strtod(PQgetvalue(r, 0, 2), NULL) : -2;
        char best_id[MNEMO_MEMORY_ID_SIZE] = "";
        if (best >= 0) snprintf(best_id, sizeof best_id, "%s", PQgetvalue(r, 0, 1));
        PQclear(r);
        int taken = 0;
        for (size_t j = 0; j < i; j++) taken |= p[j].same_as == -3 && p[j].seq == best;
        if (best >= 0 && !taken && cosine >= s->dedup_threshold) {
            memcpy(out[i].id, best_id, sizeof out[i].id);
            p[i].seq = best;
            p[i].same_as = -3; /* merged */
            out[i].event = MNEMO_MEMORY_MERGED;
            mnemo__pg_par_i64(&q, best);
            mnemo__pg_par_dup(&q, x->text, x->text_len);
            mnemo__pg_par_i64(&q, (int64_t)p[i].hash);
            mnemo__pg_par_text(&q, p[i].meta_text);
            mnemo__pg_par_f64(&q, now);
            if (p[i].expires_at > 0)
                mnemo__pg_par_f64(&q, p[i].expires_at);
            else
                mnemo__pg_par_text(&q, NULL);
            mnemo__pg_par_vec(&q, p[i].vec, s->dim);
            mnemo__pg_par_text(&q, p[i].prompt);
            rc = q.failed ? no_memory(err)
                          : run(s, pc, Q_MERGE, NULL, &q, &r, "merging a near-duplicate", err);
            mnemo__pg_par_free(&q);
            if (rc) return rc;
            PQclear(r);
            return history_add(s, pc, out[i].id, "updated", "near-duplicate", now, x->text,
                               x->text_len, p[i].meta_text, err);
        }
    }
    mnemo__memory_new_id(out[i].id);
    pg_params q = {0};
    mnemo__pg_par_text(&q, out[i].id);
    mnemo__pg_par_dup(&q, x->text, x->text_len);
    mnemo__pg_par_i64(&q, (int64_t)p[i].hash);
    mnemo__pg_par_text(&q, p[i].meta_text);
    par_scope(&q, &x->scope);
    mnemo__pg_par_f64(&q, now);
    if (p[i].expires_at > 0)
        mnemo__pg_par_f64(&q, p[i].expires_at);
    else
        mnemo__pg_par_text(&q, NULL);
    mnemo__pg_par_vec(&q, p[i].vec, s->dim);
    mnemo__pg_par_text(&q, p[i].prompt);
    rc = q.failed ? no_memory(err) : run(s, pc, Q_INSERT, NULL, &q, &r, "adding a memory", err);
    mnemo__pg_par_free(&q);
    if (rc) return rc;
    p[i].seq = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return MNEMO_OK;
}

static int pg_add(mnemo_store *s, const mnemo_memory_input *in, size_t n, mnemo_memory_added *out,
                  mnemo_error *err) {
    if (n == 0 || n > MAX_ADD)
        return mnemo__fail(err, MNEMO_EINVAL, "memories: %zu given, want 1..%d", n, MAX_ADD);
    if (s->read_only) return read_only(s, "added", err);
    double now = mnemo__store_now(s);
    pending *p = mnemo__calloc(n, sizeof *p);
    float *vecs = mnemo__malloc_array(n, s->dim * sizeof(float));
    uint64_t *locks = mnemo__calloc(n, sizeof *locks);
    int rc = MNEMO_OK;
    pg_conn *pc = NULL;
    if (!p || !vecs || !locks) {
        rc = no_memory(err);
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
        p[i].prompt = mnemo__recorded_prompt(in[i].prompt_name);
        p[i].hash = mnemo__text_hash(in[i].text, in[i].text_len);
        p[i].vec = vecs + i * s->dim;
        p[i].same_as = -1;
        /* adds of one scope are serialized across replicas, so two of the
         * same text at once cannot both be new */
        const mnemo_memory_scope *sc = &in[i].scope;
        const char *parts[4] = {mnemo__scope_ns(sc), opt(sc->user_id), opt(sc->agent_id),
                                opt(sc->session_id)};
        uint64_t h = 0x5ca1ab1eULL;
        for (int j = 0; j < 4; j++)
            h = mnemo__hash64(parts[j] ? parts[j] : "", parts[j] ? strlen(parts[j]) + 1 : 0, h);
        locks[i] = h;
    }
    if (rc) goto out;
    if ((rc = mnemo__embed_inputs(s, in, n, vecs, err))) goto out;
    if ((rc = conn_take(s, &pc, err))) goto out;
    if ((rc = run_simple(s, pc, "BEGIN", "starting a write", err))) goto out;
    qsort(locks, n, sizeof *locks, cmp_u64);
    for (size_t i = 0; i < n && !rc; i++) {
        if (i && locks[i] == locks[i - 1]) continue;
        pg_params q = {0};
        mnemo__pg_par_i64(&q, (int64_t)locks[i]);
        PGresult *r;
        rc = q.failed ? no_memory(err)
                      : run(s, pc, 0, "SELECT pg_advisory_xact_lock($1::bigint)", &q, &r,
                            "locking the scope", err);
        if (!rc) PQclear(r);
        mnemo__pg_par_free(&q);
    }
    for (size_t i = 0; i < n && !rc; i++) rc = add_one(s, pc, in, p, i, now, out, err);
    /* durable on return: synchronous_commit is the server's (on by default) */
    if (!rc) rc = run_simple(s, pc, "COMMIT", "committing the add", err);
out:
    conn_put(s, pc);
    if (p)
        for (size_t i = 0; i < n; i++) {
            json_decref(p[i].meta);
            mnemo__free(p[i].meta_text);
        }
    mnemo__free(p);
    mnemo__free(vecs);
    mnemo__free(locks);
    return rc;
}

static int pg_update(mnemo_store *s, const char *id, const mnemo_memory_changes *u,
                     mnemo_error *err) {
    int rc = mnemo__check_changes(s, u, err);
    if (rc) return rc;
    if (s->read_only) return read_only(s, "changed", err);
    if (!id || !*id) return mnemo__fail(err, MNEMO_EINVAL, "id: is empty");
    double now = mnemo__store_now(s);
    json_t *meta = NULL;
    char *meta_text = NULL;
    float *vec = NULL;
    pg_conn *pc = NULL;
    PGresult *row = NULL;
    if (u->metadata && (rc = mnemo__metadata_parse(s, u->metadata, "", &meta, &meta_text, err)))
        return rc;
    if (u->text && !(vec = mnemo__malloc_array(s->dim, sizeof(float)))) {
        rc = no_memory(err);
        goto out;
    }
    if ((rc = conn_take(s, &pc, err)) || (rc = run_simple(s, pc, "BEGIN", "starting a write", err)))
        goto out;
    pg_params q = {0};
    mnemo__pg_par_text(&q, id);
    mnemo__pg_par_f64(&q, now);
    rc = q.failed ? no_memory(err) : run(s, pc, Q_ROW, NULL, &q, &row, "reading a memory", err);
    mnemo__pg_par_free(&q);
    if (rc) goto out;
    if (PQntuples(row) != 1) {
        rc = mnemo__fail(err, MNEMO_ENOENT, "no memory with id '%.64s'", id);
        goto out;
    }
    /* a new text is embedded with the prompt named, else the memory's own
     * (read under the row lock, so no other update changes it meanwhile) */
    const char *had = PQgetisnull(row, 0, 4) ? NULL : PQgetvalue(row, 0, 4);
    const char *prompt = u->prompt_name ? mnemo__recorded_prompt(u->prompt_name) : had;
    if (u->text) {
        const char *t = u->text;
        size_t tl = u->text_len;
        if ((rc = mnemo__store_embed(s, &t, &tl, 1, prompt ? prompt : "document", vec, err)))
            goto out;
    }
    double old_exp = PQgetisnull(row, 0, 3) ? 0 : strtod(PQgetvalue(row, 0, 3), NULL);
    double expires = u->ttl > 0                             ? now + u->ttl
                     : u->expires_at > 0                    ? u->expires_at
                     : u->expires_at < 0 || u->clear_expiry ? 0
                                                            : old_exp;
    const char *text = u->text ? u->text : PQgetvalue(row, 0, 1);
    size_t text_len = u->text ? u->text_len : (size_t)PQgetlength(row, 0, 1);
    char *old_meta = meta_text ? NULL : compact_json(PQgetvalue(row, 0, 2));
    const char *mt = meta_text ? meta_text : old_meta;
    mnemo__pg_par_text(&q, PQgetvalue(row, 0, 0));
    mnemo__pg_par_dup(&q, text, text_len);
    mnemo__pg_par_i64(&q, (int64_t)mnemo__text_hash(text, text_len));
    mnemo__pg_par_text(&q, mt);
    mnemo__pg_par_f64(&q, now);
    if (expires > 0)
        mnemo__pg_par_f64(&q, expires);
    else
        mnemo__pg_par_text(&q, NULL);
    if (vec)
        mnemo__pg_par_vec(&q, vec, s->dim);
    else
        mnemo__pg_par_text(&q, NULL);
    mnemo__pg_par_text(&q, prompt);
    PGresult *r;
    rc = q.failed || !mt ? no_memory(err)
                         : run(s, pc, Q_UPDATE, NULL, &q, &r, "updating a memory", err);
    mnemo__pg_par_free(&q);
    if (!rc) {
        PQclear(r);
        rc = history_add(s, pc, id, "updated", NULL, now, text, text_len, mt, err);
    }
    mnemo__free(old_meta);
    if (!rc) rc = run_simple(s, pc, "COMMIT", "committing the update", err);
out:
    PQclear(row);
    conn_put(s, pc);
    json_decref(meta);
    mnemo__free(meta_text);
    mnemo__free(vec);
    return rc;
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

static int pg_delete(mnemo_store *s, const char *id, mnemo_error *err) {
    if (s->read_only) return read_only(s, "deleted", err);
    if (!id || !*id) return mnemo__fail(err, MNEMO_EINVAL, "id: is empty");
    pg_params q = {0};
    mnemo__pg_par_text(&q, id);
    mnemo__pg_par_f64(&q, mnemo__store_now(s));
    size_t n = 0;
    int rc = run_delete(s, Q_DELETE, NULL, &q, &n, err);
    mnemo__pg_par_free(&q);
    if (!rc && n == 0) rc = mnemo__fail(err, MNEMO_ENOENT, "no memory with id '%.64s'", id);
    return rc;
}

static int pg_delete_where(mnemo_store *s, const mnemo_memory_scope *scope, const char *filter,
                           size_t *n_deleted, mnemo_error *err) {
    if (n_deleted) *n_deleted = 0;
    mnemo_memory_scope none = {0};
    if (!scope) scope = &none;
    mnemo_filter *f;
    int rc = mnemo__scope_check(scope, "", err);
    if (rc || (rc = mnemo__filter_parse(filter, &f, err))) return rc;
    if (s->read_only) {
        mnemo__filter_free(f);
        return read_only(s, "deleted", err);
    }
    pg_params q = {0};
    pg_sql sql = {0};
    mnemo__pg_par_f64(&q, mnemo__store_now(s));
    par_scope(&q, scope);
    mnemo__pg_sql_add(
        &sql, "WITH d AS (DELETE FROM mnemo_memories WHERE " LIVE(1) " AND " SCOPE(2, 3, 4, 5));
    rc = mnemo__pg_filter_sql(f, &sql, &q, err);
    mnemo__pg_sql_add(
        &sql,
        " RETURNING id, text, metadata) INSERT INTO mnemo_history(memory_id, event, reason, at, "
        "text, metadata) SELECT id, 'deleted', NULL, $1, text, metadata::text FROM d");
    size_t n = 0;
    if (!rc) rc = sql.failed ? no_memory(err) : run_delete(s, 0, sql.s, &q, &n, err);
    if (!rc && n_deleted) *n_deleted = n;
    mnemo__pg_sql_free(&sql);
    mnemo__pg_par_free(&q);
    mnemo__filter_free(f);
    return rc;
}

static int pg_sweep(mnemo_store *s, size_t *n_deleted, mnemo_error *err) {
    if (n_deleted) *n_deleted = 0;
    if (s->read_only) return MNEMO_OK;
    pg_params q = {0};
    mnemo__pg_par_f64(&q, mnemo__store_now(s));
    size_t n = 0;
    int rc = run_delete(s, Q_SWEEP, NULL, &q, &n, err);
    mnemo__pg_par_free(&q);
    if (!rc && n_deleted) *n_deleted = n;
    return rc;
}

/* ------------------------------------------------------------- reads */

typedef mnemo_hit hit;

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
static int vector_hits(mnemo_store *s, pg_conn *pc, const float *v, const mnemo_memory_scope *sc,
                       const mnemo_filter *f, double now, int force_exact, hit *out, size_t cap,
                       size_t *n, mnemo_error *err) {
    int rc = MNEMO_OK;
    for (int exact = force_exact ? 1 : 0; exact < 2 && !rc; exact++) {
        pg_params q = {0};
        pg_sql sql = {0};
        mnemo__pg_par_vec(&q, v, s->dim);
        mnemo__pg_par_f64(&q, now);
        par_scope(&q, sc);
        mnemo__pg_sql_add(
            &sql,
            "WITH c AS MATERIALIZED (SELECT seq, vector <#> $1::vector AS d FROM mnemo_memories "
            "WHERE " LIVE(2) " AND " SCOPE(3, 4, 5, 6));
        rc = mnemo__pg_filter_sql(f, &sql, &q, err);
        /* "+ 0" hides the ordering from the index: a sequential, exact scan */
        mnemo__pg_sql_add(
            &sql,
            " ORDER BY %svector <#> $1::vector%s LIMIT %zu) SELECT seq, -d FROM c ORDER BY d, seq",
            exact ? "(" : "", exact ? ") + 0" : "", cap);
        if (!rc) rc = sql.failed ? no_memory(err) : hits_query(s, pc, sql.s, &q, out, cap, n, err);
        mnemo__pg_sql_free(&sql);
        mnemo__pg_par_free(&q);
        if (!rc && *n == cap) break;
        if (!rc && !exact)
            mnemo__log(MNEMO_LOG_DEBUG, "store.pg_exact_scan", "found=%zu k=%zu", *n, cap);
    }
    return rc;
}

static int text_hits(mnemo_store *s, pg_conn *pc, const char *query, size_t qlen,
                     const mnemo_memory_scope *sc, const mnemo_filter *f, double now, hit *out,
                     size_t cap, size_t *n, mnemo_error *err) {
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
    mnemo__pg_par_f64(&q, now);
    par_scope(&q, sc);
    mnemo__pg_sql_add(
        &sql, "SELECT seq, ts_rank(tsv, tq) FROM mnemo_memories, to_tsquery('english', $1) tq "
              "WHERE tsv @@ tq AND " LIVE(2) " AND " SCOPE(3, 4, 5, 6));
    int rc = mnemo__pg_filter_sql(f, &sql, &q, err);
    mnemo__pg_sql_add(&sql, " ORDER BY 2 DESC, seq LIMIT %zu", cap);
    if (!rc) rc = sql.failed ? no_memory(err) : hits_query(s, pc, sql.s, &q, out, cap, n, err);
    mnemo__pg_sql_free(&sql);
    mnemo__pg_par_free(&q);
    mnemo__free(expr);
    return rc;
}

/* The rows of hits, in their order, with their scores. */
static int fetch(mnemo_store *s, pg_conn *pc, const hit *hits, size_t n, double now,
                 mnemo_memories **out, mnemo_error *err) {
    mnemo_memories *m = mnemo__calloc(1, sizeof *m);
    if (m) m->items = mnemo__calloc(n ? n : 1, sizeof *m->items);
    char *arr = mnemo__malloc(n * 22 + 3);
    int rc = !m || !m->items || !arr ? no_memory(err) : MNEMO_OK;
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
    if (rc) {
        mnemo_memories_free(m);
        return rc;
    }
    *out = m;
    return MNEMO_OK;
}

static int pg_search(mnemo_store *s, const mnemo_search_options *o, mnemo_memories **out,
                     mnemo_error *err) {
    /* the options were checked by mnemo__search_check (store_backend.c) */
    *out = NULL;
    size_t k = o->k ? o->k : mnemo_search_default_options().k;
    mnemo_filter *f;
    int rc = mnemo__filter_parse(o->filter, &f, err);
    if (rc) return rc;
    double now = mnemo__store_now(s);
    size_t depth = mnemo__search_depth(o, k);
    float *qv = mnemo__malloc_array(s->dim, sizeof(float));
    hit *vh = mnemo__malloc_array(depth, sizeof(hit)),
        *th = mnemo__malloc_array(depth, sizeof(hit));
    hit *fused = mnemo__malloc_array(depth * 2, sizeof(hit));
    size_t nv = 0, nt = 0, nf = 0;
    pg_conn *pc = NULL;
    if (!qv || !vh || !th || !fused) {
        rc = no_memory(err);
        goto out;
    }
    if (o->mode != MNEMO_SEARCH_TEXT && (rc = mnemo__query_vector(s, o, qv, err))) goto out;
    if ((rc = conn_take(s, &pc, err))) goto out;
    if (o->mode != MNEMO_SEARCH_TEXT &&
        (rc = vector_hits(s, pc, qv, &o->scope, f, now, o->exact, vh, depth, &nv, err)))
        goto out;
    if (o->mode != MNEMO_SEARCH_VECTOR &&
        (rc = text_hits(s, pc, o->query, o->query_len, &o->scope, f, now, th, depth, &nt, err)))
        goto out;
    nf = mnemo__search_ranked(o, k, vh, nv, th, nt, fused);
    rc = fetch(s, pc, fused, nf, now, out, err);
out:
    conn_put(s, pc);
    mnemo__filter_free(f);
    mnemo__free(qv);
    mnemo__free(vh);
    mnemo__free(th);
    mnemo__free(fused);
    return rc;
}

static int pg_get(mnemo_store *s, const char *id, mnemo_memories **out, mnemo_error *err) {
    *out = NULL;
    if (!id || !*id) return mnemo__fail(err, MNEMO_EINVAL, "id: is empty");
    pg_conn *pc = NULL;
    PGresult *r;
    pg_params q = {0};
    mnemo__pg_par_text(&q, id);
    mnemo__pg_par_f64(&q, mnemo__store_now(s));
    int rc = q.failed ? no_memory(err) : conn_take(s, &pc, err);
    if (!rc) rc = run(s, pc, Q_GET, NULL, &q, &r, "reading a memory", err);
    mnemo__pg_par_free(&q);
    conn_put(s, pc);
    if (rc) return rc;
    mnemo_memories *m = NULL;
    if (PQntuples(r) != 1) {
        rc = mnemo__fail(err, MNEMO_ENOENT, "no memory with id '%.64s'", id);
    } else {
        m = mnemo__calloc(1, sizeof *m);
        if (m) m->items = mnemo__calloc(1, sizeof *m->items);
        if (!m || !m->items || memory_from(r, 0, 0, &m->items[0]))
            rc = no_memory(err);
        else
            m->n = 1;
    }
    PQclear(r);
    if (rc) {
        mnemo_memories_free(m);
        return rc;
    }
    *out = m;
    return MNEMO_OK;
}

static int pg_list(mnemo_store *s, const mnemo_list_options *o, mnemo_memories **out,
                   mnemo_error *err) {
    *out = NULL;
    mnemo_list_options none = {0};
    if (!o) o = &none;
    size_t limit = o->limit ? o->limit : mnemo_list_default_options().limit;
    if (limit > MAX_LIST)
        return mnemo__fail(err, MNEMO_ERANGE, "limit: %zu is out of range 1..%d", limit, MAX_LIST);
    long long after = 0;
    if (o->cursor && *o->cursor) {
        char *end;
        errno = 0;
        after = strtoll(o->cursor, &end, 10);
        if (*end || errno || after < 0 || o->cursor[0] < '0' || o->cursor[0] > '9')
            return mnemo__fail(err, MNEMO_EINVAL, "cursor: '%.40s' is not a cursor this store gave",
                               o->cursor);
    }
    int rc = mnemo__scope_check(&o->scope, "", err);
    if (rc) return rc;
    mnemo_filter *f;
    if ((rc = mnemo__filter_parse(o->filter, &f, err))) return rc;
    pg_params q = {0};
    pg_sql sql = {0};
    mnemo__pg_par_i64(&q, after);
    mnemo__pg_par_f64(&q, mnemo__store_now(s));
    par_scope(&q, &o->scope);
    mnemo__pg_sql_add(&sql, "SELECT seq, " COLS " FROM mnemo_memories WHERE seq > $1 AND " LIVE(
                                2) " AND " SCOPE(3, 4, 5, 6));
    rc = mnemo__pg_filter_sql(f, &sql, &q, err);
    mnemo__pg_sql_add(&sql, " ORDER BY seq LIMIT %zu", limit + 1);
    pg_conn *pc = NULL;
    PGresult *r = NULL;
    mnemo_memories *m = NULL;
    if (!rc) rc = sql.failed ? no_memory(err) : conn_take(s, &pc, err);
    if (!rc) rc = run(s, pc, 0, sql.s, &q, &r, "listing memories", err);
    conn_put(s, pc);
    if (!rc) {
        m = mnemo__calloc(1, sizeof *m);
        if (m) m->items = mnemo__calloc(limit, sizeof *m->items);
        if (!m || !m->items) rc = no_memory(err);
    }
    int rows = rc ? 0 : PQntuples(r);
    for (int i = 0; i < rows && (size_t)i < limit && !rc; i++) {
        if (memory_from(r, i, 1, &m->items[m->n]))
            rc = no_memory(err);
        else
            m->n++;
    }
    if (!rc && (size_t)rows > limit) {
        const char *last = PQgetvalue(r, (int)limit - 1, 0);
        m->next_cursor = mnemo__strndup(last, strlen(last));
        if (!m->next_cursor) rc = no_memory(err);
    }
    PQclear(r);
    mnemo__pg_sql_free(&sql);
    mnemo__pg_par_free(&q);
    mnemo__filter_free(f);
    if (rc) {
        mnemo_memories_free(m);
        return rc;
    }
    *out = m;
    return MNEMO_OK;
}

static int pg_count(mnemo_store *s, const mnemo_memory_scope *scope, const char *filter, size_t *n,
                    mnemo_error *err) {
    *n = 0;
    mnemo_memory_scope none = {0};
    if (!scope) scope = &none;
    int rc = mnemo__scope_check(scope, "", err);
    if (rc) return rc;
    mnemo_filter *f;
    if ((rc = mnemo__filter_parse(filter, &f, err))) return rc;
    pg_params q = {0};
    pg_sql sql = {0};
    mnemo__pg_par_f64(&q, mnemo__store_now(s));
    par_scope(&q, scope);
    mnemo__pg_sql_add(
        &sql, "SELECT count(*) FROM mnemo_memories WHERE " LIVE(1) " AND " SCOPE(2, 3, 4, 5));
    rc = mnemo__pg_filter_sql(f, &sql, &q, err);
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
    mnemo__filter_free(f);
    return rc;
}

static int pg_history(mnemo_store *s, const char *id, mnemo_history **out, mnemo_error *err) {
    *out = NULL;
    if (!id || !*id) return mnemo__fail(err, MNEMO_EINVAL, "id: is empty");
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
    mnemo_history *h = mnemo__calloc(1, sizeof *h);
    if (h) h->items = mnemo__calloc(rows ? (size_t)rows : 1, sizeof *h->items);
    if (!h || !h->items) rc = no_memory(err);
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
    if (!rc && h->n == 0)
        rc = mnemo__fail(err, MNEMO_ENOENT, "no memory ever had the id '%.64s'", id);
    if (rc) {
        mnemo_history_free(h);
        return rc;
    }
    *out = h;
    return MNEMO_OK;
}

const mnemo_store_backend mnemo__pg_backend = {
    .name = "postgres",
    .close = pg_close,
    .sweep = pg_sweep,
    .add = pg_add,
    .update = pg_update,
    .remove = pg_delete,
    .remove_where = pg_delete_where,
    .search = pg_search,
    .get = pg_get,
    .list = pg_list,
    .count = pg_count,
    .history = pg_history,
};
