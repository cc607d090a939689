/*
 * pg_migrate.c — `mnemo migrate`: copies a SQLite store (DIR/memories.db)
 * into a PostgreSQL one without embedding anything again: every memory with
 * its id, text, vector, metadata, scope, times and expiry, the whole history,
 * and the model record (name, width, prompts, fingerprint). A target built
 * with another model is refused, and so is one that already holds memories
 * unless forced (then ids it has are skipped). One transaction: all or
 * nothing. Not the stores' own operations (the core, sqlite/, pg.c). It
 * reads the SQLite file with SQLite itself, not through the SQLite backend:
 * the source is a file at rest, maybe without the model to open it as a
 * store, and the copy wants its raw rows (vectors, history) as they are.
 */
#include "pg.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int sq_fail(mnemo_error *err, sqlite3 *db, const char *path) {
    return mnemo__fail(err, MNEMO_EIO, "%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
}

/* The source's store_info value of key (text), or NULL. */
static char *sq_info(sqlite3 *db, const char *key, const void **blob, int *n, sqlite3_stmt **keep) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT value FROM store_info WHERE key = ?1", -1, &st, NULL))
        return NULL;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    char *v = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        if (blob) {
            *blob = sqlite3_column_blob(st, 0);
            *n = sqlite3_column_bytes(st, 0);
            *keep = st;
            return NULL;
        }
        const unsigned char *t = sqlite3_column_text(st, 0);
        if (t) v = mnemo__strndup((const char *)t, (size_t)sqlite3_column_bytes(st, 0));
    }
    sqlite3_finalize(st);
    return v;
}

static int exec0(mnemo_store *s, const char *sql, const char *what, mnemo_error *err) {
    PGresult *r;
    int rc = mnemo__pg_exec(s, sql, NULL, &r, what, err);
    if (!rc) PQclear(r);
    return rc;
}

/* Checks the target's model record against the source's, or writes it. */
static int model_record(mnemo_store *s, sqlite3 *db, const char *path, mnemo_error *err) {
    char *name = sq_info(db, "model_name", NULL, NULL, NULL),
         *dim = sq_info(db, "dim", NULL, NULL, NULL);
    char *doc = sq_info(db, "prompt_document", NULL, NULL, NULL),
         *query = sq_info(db, "prompt_query", NULL, NULL, NULL);
    const void *blob = NULL;
    int blob_n = 0;
    sqlite3_stmt *keep = NULL;
    sq_info(db, "fingerprint", &blob, &blob_n, &keep);
    mnemo_model_record have = {0};
    float *fp = NULL;
    int rc = MNEMO_OK;
    size_t width = dim ? (size_t)strtoul(dim, NULL, 10) : 0;
    if (!name || !dim || !doc || !query || width == 0 || width > 65536 ||
        (size_t)blob_n != width * sizeof(float)) {
        rc = mnemo__fail(err, MNEMO_EFORMAT,
                         "%s: no complete model record in store_info (is it a mnemo store?)", path);
        goto out;
    }
    fp = mnemo__malloc_array(width, sizeof(float));
    if (!fp) {
        rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(fp, blob, width * sizeof(float));
    snprintf(s->model_name, sizeof s->model_name, "%s", name);
    s->dim = width;
    if ((rc = mnemo__pg_model_get(s, &have, err))) goto out;
    if (!have.dim) {
        if (!(rc = mnemo__pg_schema(s, width, err)))
            rc = mnemo__pg_model_put(s, name, doc, query, fp, err);
        goto out;
    }
    snprintf(have.where, sizeof have.where, "the target PostgreSQL store");
    if (!(rc = mnemo__model_compare(s, &have, doc, query, fp, err)))
        rc = mnemo__pg_schema(s, width, err); /* a migration of an older schema, if any */
out:
    sqlite3_finalize(keep);
    mnemo__free(name);
    mnemo__free(dim);
    mnemo__free(doc);
    mnemo__free(query);
    mnemo__model_record_clear(&have);
    mnemo__free(fp);
    return rc;
}

static void par_col(pg_params *p, sqlite3_stmt *st, int c) {
    if (sqlite3_column_type(st, c) == SQLITE_NULL)
        mnemo__pg_par_text(p, NULL);
    else
        mnemo__pg_par_dup(p, (const char *)sqlite3_column_text(st, c),
                          (size_t)sqlite3_column_bytes(st, c));
}

static int copy_memories(mnemo_store *s, sqlite3 *db, const char *path, int version,
                         mnemo_migrate_report *rep, mnemo_error *err) {
    sqlite3_stmt *st;
    /* a version 1 store has no prompt_name column: all "document" (NULL) */
    if (sqlite3_prepare_v2(
            db,
            version >= 2 ? "SELECT id, text, text_hash, metadata, namespace, user_id, agent_id, "
                           "session_id, created_at, updated_at, expires_at, vector, prompt_name "
                           "FROM memories ORDER BY seq"
                         : "SELECT id, text, text_hash, metadata, namespace, user_id, agent_id, "
                           "session_id, created_at, updated_at, expires_at, vector, NULL "
                           "FROM memories ORDER BY seq",
            -1, &st, NULL))
        return sq_fail(err, db, path);
    float *vec = mnemo__malloc_array(s->dim, sizeof(float));
    int rc = vec ? MNEMO_OK : mnemo__fail(err, MNEMO_ENOMEM, "out of memory"), src;
    while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW) {
        if ((size_t)sqlite3_column_bytes(st, 11) != s->dim * sizeof(float)) {
            rc = mnemo__fail(err, MNEMO_EFORMAT, "%s: memory %s has a vector of %d bytes, want %zu",
                             path, sqlite3_column_text(st, 0), sqlite3_column_bytes(st, 11),
                             s->dim * sizeof(float));
            break;
        }
        memcpy(vec, sqlite3_column_blob(st, 11), s->dim * sizeof(float));
        pg_params p = {0};
        for (int c = 0; c < 2; c++) par_col(&p, st, c);
        mnemo__pg_par_i64(&p, sqlite3_column_int64(st, 2));
        for (int c = 3; c < 8; c++) par_col(&p, st, c);
        mnemo__pg_par_f64(&p, sqlite3_column_double(st, 8));
        mnemo__pg_par_f64(&p, sqlite3_column_double(st, 9));
        if (sqlite3_column_type(st, 10) == SQLITE_NULL)
            mnemo__pg_par_text(&p, NULL);
        else
            mnemo__pg_par_f64(&p, sqlite3_column_double(st, 10));
        mnemo__pg_par_vec(&p, vec, s->dim);
        par_col(&p, st, 12);
        PGresult *r;
        rc = p.failed ? mnemo__fail(err, MNEMO_ENOMEM, "out of memory")
                      : mnemo__pg_exec(s,
                                       "INSERT INTO mnemo_memories(id, text, text_hash, metadata, "
                                       "namespace, user_id, "
                                       "agent_id, session_id, created_at, updated_at, expires_at, "
                                       "vector, prompt_name) "
                                       "VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9, $10, "
                                       "$11, $12::vector, $13) "
                                       "ON CONFLICT (id) DO NOTHING",
                                       &p, &r, "copying a memory", err);
        mnemo__pg_par_free(&p);
        if (rc) break;
        if (atoi(PQcmdTuples(r)) == 1)
            rep->memories++;
        else
            rep->skipped++;
        PQclear(r);
    }
    if (!rc && src != SQLITE_DONE) rc = sq_fail(err, db, path);
    sqlite3_finalize(st);
    mnemo__free(vec);
    return rc;
}

static int copy_history(mnemo_store *s, sqlite3 *db, const char *path, mnemo_migrate_report *rep,
                        mnemo_error *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(
            db, "SELECT memory_id, event, reason, at, text, metadata FROM history ORDER BY seq", -1,
            &st, NULL))
        return sq_fail(err, db, path);
    int rc = MNEMO_OK, src;
    while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW) {
        pg_params p = {0};
        for (int c = 0; c < 3; c++) par_col(&p, st, c);
        mnemo__pg_par_f64(&p, sqlite3_column_double(st, 3));
        for (int c = 4; c < 6; c++) par_col(&p, st, c);
        PGresult *r;
        /* a forced second run does not repeat the events of an id the
         * target had before it began */
        rc = p.failed
                 ? mnemo__fail(err, MNEMO_ENOMEM, "out of memory")
                 : mnemo__pg_exec(
                       s,
                       "INSERT INTO mnemo_history(memory_id, event, reason, at, text, metadata) "
                       "SELECT $1::text, $2::text, $3::text, $4::float8, $5::text, $6::text "
                       "WHERE NOT EXISTS (SELECT 1 FROM mnemo_had WHERE memory_id = $1::text)",
                       &p, &r, "copying the history", err);
        mnemo__pg_par_free(&p);
        if (rc) break;
        rep->history += (size_t)atoi(PQcmdTuples(r));
        PQclear(r);
    }
    if (!rc && src != SQLITE_DONE) rc = sq_fail(err, db, path);
    sqlite3_finalize(st);
    return rc;
}

int mnemo__store_migrate(const char *from, const char *to, int force, mnemo_migrate_report *rep,
                         mnemo_error *err) {
    memset(rep, 0, sizeof *rep);
    if (!from || !to)
        return mnemo__fail(err, MNEMO_EINVAL, "give --from sqlite:DIR and --to postgres://...");
    if (!strncmp(from, "sqlite:", 7)) from += 7;
    if (strncmp(to, "postgres://", 11) && strncmp(to, "postgresql://", 13))
        return mnemo__fail(err, MNEMO_EINVAL,
                           "--to '%.200s': want a PostgreSQL URL (postgres://USER@HOST:PORT/DB)",
                           to);
    char path[4200];
    snprintf(path, sizeof path, "%s/memories.db", from);
    if (access(path, R_OK) != 0)
        return mnemo__fail(err, MNEMO_ENOENT, "--from: %s is not a readable mnemo store (no %s)",
                           from, path);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL)) {
        int rc = sq_fail(err, db, path);
        sqlite3_close(db);
        return rc;
    }
    sqlite3_busy_timeout(db, 10000);
    int version = 0;
    sqlite3_stmt *vs;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &vs, NULL) == SQLITE_OK) {
        if (sqlite3_step(vs) == SQLITE_ROW) version = sqlite3_column_int(vs, 0);
        sqlite3_finalize(vs);
    }
    if (version < 1 || version > 2) {
        sqlite3_close(db);
        return mnemo__fail(err, MNEMO_EFORMAT,
                           "%s: schema version %d is not one this mnemo migrates (1 or 2)", path,
                           version);
    }
    mnemo_store *s = NULL;
    int rc = mnemo__pg_open_raw(to, &s, err);
    /* the source stays still while it is read: one read transaction */
    if (!rc && sqlite3_exec(db, "BEGIN", NULL, NULL, NULL)) rc = sq_fail(err, db, path);
    if (!rc) {
        rc = exec0(s, "BEGIN", "starting the copy", err);
        if (!rc) rc = mnemo__pg_lock_schema(s, err);
        if (!rc) rc = model_record(s, db, path, err);
        PGresult *r;
        if (!rc && !(rc = mnemo__pg_exec(s, "SELECT count(*) FROM mnemo_memories", NULL, &r,
                                         "counting", err))) {
            long have = atol(PQgetvalue(r, 0, 0));
            PQclear(r);
            if (have && !force)
                rc = mnemo__fail(
                    err, MNEMO_EINVAL,
                    "the target already holds %ld memories: pass --force to add these to them "
                    "(ids it has are skipped)",
                    have);
        }
        if (!rc)
            rc = exec0(s,
                       "CREATE TEMP TABLE mnemo_had ON COMMIT DROP AS SELECT DISTINCT memory_id "
                       "FROM mnemo_history",
                       "reading the target's history", err);
        if (!rc) rc = copy_memories(s, db, path, version, rep, err);
        if (!rc) rc = copy_history(s, db, path, rep, err);
        if (!rc) rc = exec0(s, "COMMIT", "committing the copy", err);
        if (rc) memset(rep, 0, sizeof *rep);
    }
    mnemo__pg_close(s);
    sqlite3_close(db);
    return rc;
}
