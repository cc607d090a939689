/*
 * pg_filter.c — building SQL for the PostgreSQL backend: a growing SQL
 * text, the bound parameters that go with it, and the translation of a
 * metadata filter (filter.c's JSON form) into a condition on the jsonb
 * `metadata` column with every value bound as a parameter. Not the queries
 * themselves (pg.c).
 */
#include "pg.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_PARAMS 60000 /* PostgreSQL's wire protocol takes at most 65535 */
#define MAX_PART 256     /* filter.c's lookup(): a longer path part finds nothing */

void mnemo__pg_sql_add(pg_sql *q, const char *fmt, ...) {
    if (q->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = q->cap - q->n;
        int w = vsnprintf(q->s ? q->s + q->n : NULL, q->s ? room : 0, fmt, ap);
        va_end(ap);
        if (w < 0) {
            q->failed = 1;
            return;
        }
        if (q->s && (size_t)w < room) {
            q->n += (size_t)w;
            return;
        }
        size_t nc = (q->cap ? q->cap * 2 : 512) + (size_t)w;
        char *ns = mnemo__realloc(q->s, nc);
        if (!ns) {
            q->failed = 1;
            return;
        }
        q->s = ns;
        q->cap = nc;
    }
}

void mnemo__pg_sql_free(pg_sql *q) {
    mnemo__free(q->s);
    memset(q, 0, sizeof *q);
}

static int par_push(pg_params *p, const char *v, int len, int fmt, char *own) {
    if (p->failed) {
        mnemo__free(own);
        return 0;
    }
    if (p->n == p->cap) {
        int nc = p->cap ? p->cap * 2 : 16;
        const char **nv = mnemo__realloc(p->v, (size_t)nc * sizeof *nv);
        if (nv) p->v = nv;
        int *nl = nv ? mnemo__realloc(p->len, (size_t)nc * sizeof *nl) : NULL;
        if (nl) p->len = nl;
        int *nf = nl ? mnemo__realloc(p->fmt, (size_t)nc * sizeof *nf) : NULL;
        if (nf) p->fmt = nf;
        char **no = nf ? mnemo__realloc(p->own, (size_t)nc * sizeof *no) : NULL;
        if (no) p->own = no;
        if (!no) {
            p->failed = 1;
            mnemo__free(own);
            return 0;
        }
        p->cap = nc;
    }
    p->v[p->n] = v;
    p->len[p->n] = len;
    p->fmt[p->n] = fmt;
    p->own[p->n] = own;
    return ++p->n;
}

int mnemo__pg_par_text(pg_params *p, const char *s) { return par_push(p, s, 0, 0, NULL); }

int mnemo__pg_par_dup(pg_params *p, const char *s, size_t n) {
    char *c = mnemo__strndup(s, n);
    if (!c) {
        p->failed = 1;
        return 0;
    }
    return par_push(p, c, 0, 0, c);
}

int mnemo__pg_par_f64(pg_params *p, double x) {
    char b[40];
    snprintf(b, sizeof b, "%.17g", x);
    return mnemo__pg_par_dup(p, b, strlen(b));
}

int mnemo__pg_par_i64(pg_params *p, int64_t x) {
    char b[32];
    snprintf(b, sizeof b, "%lld", (long long)x);
    return mnemo__pg_par_dup(p, b, strlen(b));
}

int mnemo__pg_par_vec(pg_params *p, const float *v, size_t dim) {
    size_t n = 4 + 4 * dim;
    unsigned char *b = mnemo__malloc(n);
    if (!b) {
        p->failed = 1;
        return 0;
    }
    b[0] = (unsigned char)(dim >> 8);
    b[1] = (unsigned char)dim;
    b[2] = b[3] = 0;
    for (size_t i = 0; i < dim; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        b[4 + 4 * i] = (unsigned char)(u >> 24);
        b[5 + 4 * i] = (unsigned char)(u >> 16);
        b[6 + 4 * i] = (unsigned char)(u >> 8);
        b[7 + 4 * i] = (unsigned char)u;
    }
    return par_push(p, (const char *)b, (int)n, 1, (char *)b);
}

void mnemo__pg_par_free(pg_params *p) {
    for (int i = 0; i < p->n; i++) mnemo__free(p->own[i]);
    mnemo__free(p->v);
    mnemo__free(p->len);
    mnemo__free(p->fmt);
    mnemo__free(p->own);
    memset(p, 0, sizeof *p);
}

/* ---------------------------------------------------------- filters */

/* A JSON value as a parameter (its compact text). */
static int par_json(pg_params *p, const json_t *v) {
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!t) {
        p->failed = 1;
        return 0;
    }
    int i = mnemo__pg_par_dup(p, t, strlen(t));
    free(t);
    return i;
}

/* The field's value as a jsonb expression: mnemo_meta(metadata, key, path)
 * with path the dotted parts as a text[] literal (NULL without a dot), as
 * filter.c's lookup() splits them; NULL::jsonb when a part is too long for
 * lookup() to find anything. Written into buf. */
static void lookup_sql(const char *key, pg_params *p, char *buf, size_t cap) {
    int k = mnemo__pg_par_text(p, key);
    if (!strchr(key, '.')) {
        snprintf(buf, cap, "mnemo_meta(metadata, $%d, NULL)", k);
        return;
    }
    size_t kl = strlen(key);
    char *arr = mnemo__malloc(kl * 2 + 8);
    if (!arr) {
        p->failed = 1;
        snprintf(buf, cap, "NULL::jsonb");
        return;
    }
    size_t o = 0;
    arr[o++] = '{';
    const char *s = key;
    int first = 1;
    while (*s) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        if (n >= MAX_PART) {
            mnemo__free(arr);
            snprintf(buf, cap, "NULL::jsonb");
            return;
        }
        if (!first) arr[o++] = ',';
        first = 0;
        arr[o++] = '"';
        for (size_t i = 0; i < n; i++) {
            if (s[i] == '"' || s[i] == '\\') arr[o++] = '\\';
            arr[o++] = s[i];
        }
        arr[o++] = '"';
        s = dot ? dot + 1 : s + n;
    }
    arr[o++] = '}';
    int a = mnemo__pg_par_dup(p, arr, o);
    mnemo__free(arr);
    snprintf(buf, cap, "mnemo_meta(metadata, $%d, $%d::text[])", k, a);
}

static void ops_sql(const char *x, json_t *ops, pg_sql *q, pg_params *p) {
    const char *op;
    json_t *arg;
    int first = 1;
    mnemo__pg_sql_add(q, "(");
    json_object_foreach(ops, op, arg) {
        if (!first) mnemo__pg_sql_add(q, " AND ");
        first = 0;
        if (!strcmp(op, "$eq")) {
            mnemo__pg_sql_add(q, "COALESCE(%s = $%d::jsonb, false)", x, par_json(p, arg));
        } else if (!strcmp(op, "$ne")) {
            mnemo__pg_sql_add(q, "NOT COALESCE(%s = $%d::jsonb, false)", x, par_json(p, arg));
        } else if (!strcmp(op, "$in") || !strcmp(op, "$nin")) {
            mnemo__pg_sql_add(
                q, "%sEXISTS (SELECT 1 FROM jsonb_array_elements($%d::jsonb) e WHERE e = %s)",
                op[1] == 'n' ? "NOT " : "", par_json(p, arg), x);
        } else if (!strcmp(op, "$exists")) {
            mnemo__pg_sql_add(q, "((%s) IS NOT NULL) = $%d::boolean", x,
                              mnemo__pg_par_text(p, json_is_true(arg) ? "true" : "false"));
        } else {
            const char *cmp = !strcmp(op, "$gt")    ? ">"
                              : !strcmp(op, "$gte") ? ">="
                              : !strcmp(op, "$lt")  ? "<"
                                                    : "<=";
            /* filter.c compares numbers as doubles and strings by bytes
             * (strcmp: the "C" collation); other kinds never match */
            if (json_is_number(arg))
                mnemo__pg_sql_add(
                    q,
                    "COALESCE(jsonb_typeof(%s) = 'number' AND (%s)::float8 %s $%d::float8, false)",
                    x, x, cmp, mnemo__pg_par_f64(p, json_number_value(arg)));
            else
                mnemo__pg_sql_add(
                    q,
                    "COALESCE(jsonb_typeof(%s) = 'string' AND ((%s) #>> '{}') COLLATE \"C\" %s "
                    "($%d::text) COLLATE \"C\", false)",
                    x, x, cmp, mnemo__pg_par_text(p, json_string_value(arg)));
        }
    }
    mnemo__pg_sql_add(q, ")");
}

static void node_sql(json_t *f, pg_sql *q, pg_params *p) {
    const char *key;
    json_t *arg;
    int first = 1;
    mnemo__pg_sql_add(q, "(");
    json_object_foreach(f, key, arg) {
        if (!first) mnemo__pg_sql_add(q, " AND ");
        first = 0;
        if (!strcmp(key, "$and") || !strcmp(key, "$or")) {
            size_t i;
            json_t *x;
            mnemo__pg_sql_add(q, "(");
            json_array_foreach(arg, i, x) {
                if (i) mnemo__pg_sql_add(q, key[1] == 'a' ? " AND " : " OR ");
                node_sql(x, q, p);
            }
            mnemo__pg_sql_add(q, ")");
        } else if (!strcmp(key, "$not")) {
            mnemo__pg_sql_add(q, "NOT ");
            node_sql(arg, q, p);
        } else {
            char x[128];
            lookup_sql(key, p, x, sizeof x);
            if (json_is_object(arg))
                ops_sql(x, arg, q, p);
            else
                mnemo__pg_sql_add(q, "COALESCE(%s = $%d::jsonb, false)", x, par_json(p, arg));
        }
    }
    if (first) mnemo__pg_sql_add(q, "TRUE");
    mnemo__pg_sql_add(q, ")");
}

int mnemo__pg_filter_sql(const mnemo_filter *f, pg_sql *q, pg_params *p, mnemo_error *err) {
    if (!f) return MNEMO_OK;
    mnemo__pg_sql_add(q, " AND ");
    node_sql(f->root, q, p);
    if (q->failed || p->failed) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    if (p->n > MAX_PARAMS)
        return mnemo__fail(err, MNEMO_ETOOBIG, "filter: %d values, at most %d", p->n, MAX_PARAMS);
    return MNEMO_OK;
}
