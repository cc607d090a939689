/*
 * pg.h — what the PostgreSQL backend's files share: a growing SQL text and
 * the list of bound parameters that goes with it (every value a request
 * brings is a parameter, never spliced into the SQL), and the translation
 * of a metadata filter to SQL (pg_filter.c). Only the files of postgres/ include it.
 */
#ifndef MNEMO_STORE_PG_H
#define MNEMO_STORE_PG_H

#include "../store.h"

#include <libpq-fe.h>

/* SQL text being built; on ENOMEM `failed` is set and appends stop. */
typedef struct pg_sql {
    char *s;
    size_t n, cap;
    int failed;
} pg_sql;

void mnemo__pg_sql_add(pg_sql *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mnemo__pg_sql_free(pg_sql *q);

/* Parameters $1..$n: text (or NULL for SQL NULL) or binary values. Values
 * added with _dup and _f64 are owned by the list; _text ones are borrowed. */
typedef struct pg_params {
    int n, cap, failed;
    const char **v;
    int *len, *fmt;
    char **own;
} pg_params;

/* Each returns the parameter's number ($n), or 0 once out of memory. */
int mnemo__pg_par_text(pg_params *p, const char *s);
int mnemo__pg_par_dup(pg_params *p, const char *s, size_t n);
int mnemo__pg_par_f64(pg_params *p, double x);
int mnemo__pg_par_i64(pg_params *p, int64_t x);
/* A vector in pgvector's binary form (int16 dim, int16 0, dim float4, all
 * big-endian); bind it as $n::vector. */
int mnemo__pg_par_vec(pg_params *p, const float *v, size_t dim);
void mnemo__pg_par_free(pg_params *p);

/* Appends " AND (condition)" for filter f (NULL: nothing) on the jsonb
 * column `metadata`, with every value a parameter in p. The condition
 * means what mnemo__filter_match() means (filter.c), through the SQL
 * function mnemo_meta() the schema creates for its dotted-path lookup.
 * Errors: ETOOBIG (more parameters than PostgreSQL takes), ENOMEM. */
int mnemo__pg_filter_sql(const mnemo_filter *f, pg_sql *q, pg_params *p, mnemo_error *err);

/* For `mnemo migrate` (pg_migrate.c), on the store's first connection:
 * a store at url with no schema check (close with mnemo__pg_close);
 * running SQL (NULL p: several statements allowed; *res to PQclear); the
 * schema created or migrated for width dim (inside the caller's
 * transaction, after mnemo__pg_lock_schema). Errors: EIO. */
int mnemo__pg_open_raw(const char *url, mnemo_store **out, mnemo_error *err);
/* Closes a store of this backend (its pool, then the core's part). */
void mnemo__pg_close(mnemo_store *s);
int mnemo__pg_exec(mnemo_store *s, const char *sql, const pg_params *p, PGresult **res,
                   const char *what, mnemo_error *err);
int mnemo__pg_lock_schema(mnemo_store *s, mnemo_error *err);
int mnemo__pg_schema(mnemo_store *s, size_t dim, mnemo_error *err);
/* mnemo_info's value of key (*out NULL when absent; mnemo__free it), and
 * setting one. */
int mnemo__pg_info_get(mnemo_store *s, const char *key, char **out, mnemo_error *err);
int mnemo__pg_info_put(mnemo_store *s, const char *key, const char *value, mnemo_error *err);
/* The model record of mnemo_info (store.h's model_get), and writing one
 * (the width is s->dim). */
int mnemo__pg_model_get(mnemo_store *s, mnemo_model_record *have, mnemo_error *err);
int mnemo__pg_model_put(mnemo_store *s, const char *name, const char *doc, const char *query,
                        const float *fp, mnemo_error *err);

/* For export (store.h's vector and namespaces). */
int mnemo__pg_memory_vector(mnemo_store *s, const char *id, float *out, mnemo_error *err);
int mnemo__pg_namespaces(mnemo_store *s, char ***out, size_t *n, mnemo_error *err);

#endif /* MNEMO_STORE_PG_H */
