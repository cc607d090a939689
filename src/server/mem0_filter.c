/*
 * mem0_filter.c — mem0's filters for routes_mem0.c (docs/http.md, "mem0
 * platform API"): a filter (AND / OR / NOT lists, field operators in, ne, gt, gte,
 * lt, lte, contains, icontains, "*") becomes branches of its disjunctive
 * normal form, each one store query (a scope and a metadata filter) plus the
 * conditions the store cannot evaluate, applied to the rows it returns
 * (mnemo__mem0_rows_match). Also mem0's times (mnemo__mem0_parse_time).
 * Nothing here answers HTTP: a bad filter leaves its message in c->why.
 */
#include "mem0.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_DEPTH 16 /* nesting of AND / OR / NOT */

const char mnemo__mem0_supported[] = "filters: an object (its fields ANDed), {\"AND\": [...]}, "
                                     "{\"OR\": [...]}, {\"NOT\": [...]}; fields "
                                     "user_id, agent_id, run_id (a value, \"*\", in, ne), app_id "
                                     "(a value, \"*\", in, ne), metadata ({key: a "
                                     "value, \"*\", in, ne, gt, gte, lt, lte}), categories (a "
                                     "value, \"*\", in, contains, icontains), "
                                     "created_at and updated_at (gt, gte, lt, lte, ne; a date or a "
                                     "Unix time), keywords (contains, icontains)";

static bool digits(const char *s, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* "YYYY-MM-DD", optionally "THH:MM:SS[.frac]" and "Z" or "+HH:MM"/"-HH:MM"
 * (no zone: UTC), as Unix seconds. */
bool mnemo__mem0_parse_time(const char *s, double *out, bool date_only) {
    int y, mo, d, h = 0, mi = 0, se = 0;
    if (strlen(s) < 10 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
        s[7] != '-' || !digits(s + 8, 2, &d) || mo < 1 || mo > 12 || d < 1 || d > 31)
        return false;
    const char *p = s + 10;
    double frac = 0, zone = 0;
    if (*p && date_only) return false;
    if (*p == 'T' || *p == ' ') {
        if (!digits(p + 1, 2, &h) || p[3] != ':' || !digits(p + 4, 2, &mi) || h > 23 || mi > 59)
            return false;
        p += 6;
        if (*p == ':') {
            if (!digits(p + 1, 2, &se) || se > 60) return false;
            p += 3;
            if (*p == '.') {
                double scale = 0.1;
                for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10) frac += (*p - '0') * scale;
            }
        }
        if (*p == 'Z')
            p++;
        else if (*p == '+' || *p == '-') {
            int zh, zm;
            if (!digits(p + 1, 2, &zh) || p[3] != ':' || !digits(p + 4, 2, &zm)) return false;
            zone = (zh * 3600.0 + zm * 60.0) * (*p == '+' ? 1 : -1);
            p += 6;
        }
    }
    if (*p) return false;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = se};
    time_t t = timegm(&tm);
    struct tm back;
    gmtime_r(&t, &back);
    if (back.tm_mday != d) return false; /* 2026-02-30 */
    *out = (double)t + frac - zone;
    return true;
}

/* ------------------------------------------------------------ filters */

/*
 * A mem0 filter becomes its disjunctive normal form: a JSON array of
 * branches, each an array of literals, NOT pushed down to the literals:
 *   {"k":"scope","f":"user_id","v":"alice"}      the store's scope (equality)
 *   {"k":"meta","m":FILTER,"e":true}             the store's metadata filter
 *                                                (e: it names an entity, app_id)
 *   {"k":"row","f":FIELD,"op":OP,"v":V,"n":NEG}  applied to the rows here
 * Every step keeps at most MAX_BRANCHES branches (else a 400).
 */
static json_t *dnf_true(void) { return json_pack("[[]]"); }
static json_t *dnf_false(void) { return json_array(); }
static json_t *dnf_lit(json_t *lit) { return json_pack("[[o]]", lit); }

static json_t *too_many(m0 *c) {
    snprintf(c->why, sizeof c->why,
             "filters: more than %d branches once ORs and 'in' lists are multiplied out (each "
             "branch is one "
             "store query): use fewer alternatives",
             MAX_BRANCHES);
    return NULL;
}

static json_t *dnf_or(m0 *c, json_t *a, json_t *b) {
    if (!a || !b) {
        json_decref(a);
        json_decref(b);
        return NULL;
    }
    json_array_extend(a, b);
    json_decref(b);
    if (json_array_size(a) > MAX_BRANCHES) {
        json_decref(a);
        return too_many(c);
    }
    return a;
}

static json_t *dnf_and(m0 *c, json_t *a, json_t *b) {
    if (!a || !b) {
        json_decref(a);
        json_decref(b);
        return NULL;
    }
    if (json_array_size(a) * json_array_size(b) > MAX_BRANCHES) {
        json_decref(a);
        json_decref(b);
        return too_many(c);
    }
    json_t *out = json_array();
    size_t i, j;
    json_t *x, *y;
    json_array_foreach(a, i, x) json_array_foreach(b, j, y) {
        json_t *conj = json_copy(x);
        json_array_extend(conj, y);
        json_array_append_new(out, conj);
    }
    json_decref(a);
    json_decref(b);
    return out;
}

static json_t *bad_filter(m0 *c, const char *fmt, ...) MNEMO_PRINTF(2, 3);
static json_t *bad_filter(m0 *c, const char *fmt, ...) {
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->why, sizeof c->why, "%s. Supported %s", msg, mnemo__mem0_supported);
    return NULL;
}

static json_t *row_lit(const char *f, const char *op, json_t *v, bool neg) {
    return dnf_lit(json_pack("{s:s,s:s,s:s,s:O,s:b}", "k", "row", "f", f, "op", op, "v",
                             v ? v : json_null(), "n", neg));
}

static bool all_strings(json_t *a) {
    size_t i;
    json_t *x;
    if (!json_is_array(a) || !json_array_size(a)) return false;
    json_array_foreach(a, i, x) if (!json_is_string(x)) return false;
    return true;
}

/* user_id, agent_id, run_id: equality is the store's scope; the rest rows. */
static json_t *entity_op(m0 *c, const char *f, const char *op, json_t *v, bool neg) {
    const char *scope_f = !strcmp(f, "run_id") ? "session_id" : f;
    if (!strcmp(op, "*")) return row_lit(f, "any", NULL, neg);
    if (!strcmp(op, "eq") || !strcmp(op, "ne")) {
        if (!json_is_string(v)) return bad_filter(c, "filters.%s: wants a string", f);
        bool eq = !strcmp(op, "eq") != neg;
        return eq ? dnf_lit(json_pack("{s:s,s:s,s:O}", "k", "scope", "f", scope_f, "v", v))
                  : row_lit(f, "ne", v, false);
    }
    if (!strcmp(op, "in")) {
        if (!all_strings(v))
            return bad_filter(c, "filters.%s.in: wants a non-empty array of strings", f);
        json_t *acc = neg ? dnf_true() : dnf_false();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            json_t *d = entity_op(c, f, "eq", x, neg);
            acc = neg ? dnf_and(c, acc, d) : dnf_or(c, acc, d);
            if (!acc) return NULL;
        }
        return acc;
    }
    return bad_filter(c, "filters.%s: the operator '%s' does not apply", f, op);
}

/* app_id: a metadata key of the store. */
static json_t *app_op(m0 *c, const char *op, json_t *v, bool neg) {
    json_t *m;
    bool positive = false;
    if (!strcmp(op, "*")) {
        m = json_pack("{s:{s:b}}", "app_id", "$exists", !neg);
    } else if (!strcmp(op, "eq") || !strcmp(op, "ne")) {
        if (!json_is_string(v)) return bad_filter(c, "filters.app_id: wants a string");
        positive = !strcmp(op, "eq") != neg;
        m = json_pack("{s:{s:O}}", "app_id", positive ? "$eq" : "$ne", v);
    } else if (!strcmp(op, "in")) {
        if (!all_strings(v))
            return bad_filter(c, "filters.app_id.in: wants a non-empty array of strings");
        positive = !neg;
        m = json_pack("{s:{s:O}}", "app_id", positive ? "$in" : "$nin", v);
    } else {
        return bad_filter(c, "filters.app_id: the operator '%s' does not apply", op);
    }
    return dnf_lit(json_pack("{s:s,s:o,s:b}", "k", "meta", "m", m, "e", positive));
}

/* {"metadata": {key: value or {op: value}}}: the store's metadata filter. */
static json_t *metadata_dnf(m0 *c, json_t *v, bool neg) {
    static const char *const ops[][2] = {{"eq", "$eq"},  {"ne", "$ne"},   {"in", "$in"},
                                         {"gt", "$gt"},  {"gte", "$gte"}, {"lt", "$lt"},
                                         {"lte", "$lte"}};
    if (!json_is_object(v) || !json_object_size(v))
        return bad_filter(c, "filters.metadata: wants a non-empty object of metadata keys");
    json_t *m = json_object();
    const char *key, *op;
    json_t *x, *arg;
    json_object_foreach(v, key, x) {
        if (key[0] == '$' || !key[0]) {
            json_decref(m);
            return bad_filter(c, "filters.metadata: '%.60s' is not a metadata key", key);
        }
        if (json_is_string(x) && !strcmp(json_string_value(x), "*")) {
            json_object_set_new(m, key, json_pack("{s:b}", "$exists", 1));
        } else if (json_is_object(x) && json_object_size(x)) {
            json_t *mo = json_object();
            json_object_foreach(x, op, arg) {
                size_t i = 0;
                while (i < sizeof ops / sizeof ops[0] && strcmp(ops[i][0], op)) i++;
                if (i == sizeof ops / sizeof ops[0]) {
                    json_decref(mo);
                    json_decref(m);
                    return bad_filter(
                        c, "filters.metadata.%.60s: the operator '%.40s' does not apply", key, op);
                }
                json_object_set(mo, ops[i][1], arg);
            }
            json_object_set_new(m, key, mo);
        } else if (json_is_string(x) || json_is_number(x) || json_is_boolean(x)) {
            json_object_set(m, key, x);
        } else {
            json_decref(m);
            return bad_filter(c, "filters.metadata.%.60s: wants a value or an operator object",
                              key);
        }
    }
    if (neg) m = json_pack("{s:o}", "$not", m);
    return dnf_lit(json_pack("{s:s,s:o,s:b}", "k", "meta", "m", m, "e", 0));
}

/* One field and one operator ("*" for the wildcard, "eq" for a plain value). */
static json_t *field_op(m0 *c, const char *f, const char *op, json_t *v, bool neg) {
    if (!strcmp(f, "user_id") || !strcmp(f, "agent_id") || !strcmp(f, "run_id"))
        return entity_op(c, f, op, v, neg);
    if (!strcmp(f, "app_id")) return app_op(c, op, v, neg);
    if (!strcmp(f, "categories")) {
        if (!strcmp(op, "*")) return row_lit(f, "any", NULL, neg);
        if (!strcmp(op, "eq") || !strcmp(op, "contains") || !strcmp(op, "icontains")) {
            if (!json_is_string(v))
                return bad_filter(c, "filters.categories.%s: wants a string", op);
            return row_lit(f, !strcmp(op, "icontains") ? "icontains" : "contains", v, neg);
        }
        if (!strcmp(op, "in")) {
            if (!all_strings(v))
                return bad_filter(c, "filters.categories.in: wants a non-empty array of strings");
            return row_lit(f, "in", v, neg);
        }
        return bad_filter(c, "filters.categories: the operator '%s' does not apply", op);
    }
    if (!strcmp(f, "created_at") || !strcmp(f, "updated_at")) {
        static const char *const cmp[] = {"eq", "ne", "gt", "gte", "lt", "lte"};
        size_t i = 0;
        while (i < sizeof cmp / sizeof cmp[0] && strcmp(cmp[i], op)) i++;
        if (i == sizeof cmp / sizeof cmp[0])
            return bad_filter(c, "filters.%s: the operator '%s' does not apply", f, op);
        double t;
        if (json_is_number(v))
            t = json_number_value(v);
        else if (!json_is_string(v) || !mnemo__mem0_parse_time(json_string_value(v), &t, false))
            return bad_filter(
                c, "filters.%s.%s: wants a date (YYYY-MM-DD), an ISO-8601 time or a Unix time", f,
                op);
        json_t *tv = json_real(t);
        json_t *d = row_lit(f, op, tv, neg);
        json_decref(tv);
        return d;
    }
    if (!strcmp(f, "keywords")) {
        if (!strcmp(op, "eq") || !strcmp(op, "contains") || !strcmp(op, "icontains")) {
            if (!json_is_string(v)) return bad_filter(c, "filters.keywords: wants a string");
            return row_lit(f, !strcmp(op, "contains") ? "contains" : "icontains", v, neg);
        }
        return bad_filter(c, "filters.keywords: the operator '%s' does not apply", op);
    }
    return bad_filter(c, "filters: the field '%.60s' is not supported", f);
}

static json_t *node_dnf(m0 *c, json_t *node, bool neg, int depth);

/* A list of filters combined (AND, or OR), under negation if neg. */
static json_t *list_dnf(m0 *c, const char *name, json_t *list, bool is_and, bool neg, int depth) {
    if (!json_is_array(list) || !json_array_size(list))
        return bad_filter(c, "filters.%s: wants a non-empty array of filters", name);
    bool and_ = is_and != neg; /* De Morgan */
    json_t *acc = and_ ? dnf_true() : dnf_false();
    size_t i;
    json_t *x;
    json_array_foreach(list, i, x) {
        json_t *d = node_dnf(c, x, neg, depth + 1);
        acc = and_ ? dnf_and(c, acc, d) : dnf_or(c, acc, d);
        if (!acc) return NULL;
    }
    return acc;
}

static json_t *node_dnf(m0 *c, json_t *node, bool neg, int depth) {
    if (depth > MAX_DEPTH) return bad_filter(c, "filters: nested deeper than %d", MAX_DEPTH);
    if (!json_is_object(node)) return bad_filter(c, "filters: each filter must be an object");
    json_t *acc = neg ? dnf_false() : dnf_true(); /* the keys of one object are ANDed */
    const char *key, *op;
    json_t *v, *arg;
    json_object_foreach(node, key, v) {
        json_t *d;
        if (!strcmp(key, "AND"))
            d = list_dnf(c, key, v, true, neg, depth);
        else if (!strcmp(key, "OR"))
            d = list_dnf(c, key, v, false, neg, depth);
        else if (!strcmp(key, "NOT"))
            d = list_dnf(c, key, v, false, !neg, depth); /* none of them */
        else if (!strcmp(key, "metadata"))
            d = metadata_dnf(c, v, neg);
        else if (json_is_object(v)) {
            if (!json_object_size(v))
                d = bad_filter(c, "filters.%.60s: an empty operator object", key);
            else {
                d = neg ? dnf_false() : dnf_true();
                json_object_foreach(v, op, arg) {
                    json_t *e = field_op(c, key, op, arg, neg);
                    d = neg ? dnf_or(c, d, e) : dnf_and(c, d, e);
                    if (!d) break;
                }
            }
        } else if (json_is_string(v) && !strcmp(json_string_value(v), "*")) {
            d = field_op(c, key, "*", v, neg);
        } else {
            d = field_op(c, key, "eq", v, neg);
        }
        acc = neg ? dnf_or(c, acc, d) : dnf_and(c, acc, d);
        if (!acc) return NULL;
    }
    return acc;
}

void mnemo__mem0_plan_free(plan *p) {
    for (size_t i = 0; i < p->n; i++) {
        free(p->b[i].filter);
        json_decref(p->b[i].rows);
    }
    json_decref(p->dnf);
    p->dnf = NULL;
    p->n = 0;
}

bool mnemo__mem0_plan(m0 *c, json_t *filters, plan *p) {
    memset(p, 0, sizeof *p);
    c->why[0] = 0;
    p->dnf = filters && !json_is_null(filters) ? node_dnf(c, filters, false, 0) : dnf_true();
    if (!p->dnf) {
        if (!c->why[0]) snprintf(c->why, sizeof c->why, "out of memory");
        return false;
    }
    size_t i, j;
    json_t *conj, *lit;
    json_array_foreach(p->dnf, i, conj) {
        branch *b = &p->b[p->n];
        memset(b, 0, sizeof *b);
        b->sc.ns = c->ns;
        json_t *metas = json_array();
        bool impossible = false;
        b->rows = json_array();
        json_array_foreach(conj, j, lit) {
            const char *k = json_string_value(json_object_get(lit, "k"));
            if (!strcmp(k, "scope")) {
                const char *f = json_string_value(json_object_get(lit, "f"));
                const char *v = json_string_value(json_object_get(lit, "v"));
                const char **slot = !strcmp(f, "user_id")    ? &b->sc.user_id
                                    : !strcmp(f, "agent_id") ? &b->sc.agent_id
                                                             : &b->sc.session_id;
                if (*slot && strcmp(*slot, v)) impossible = true;
                *slot = v;
                b->entity = true;
            } else if (!strcmp(k, "meta")) {
                json_array_append(metas, json_object_get(lit, "m"));
                if (json_is_true(json_object_get(lit, "e"))) b->entity = true;
            } else {
                json_array_append(b->rows, lit);
            }
        }
        if (json_array_size(metas) == 1)
            b->filter = json_dumps(json_array_get(metas, 0), JSON_COMPACT);
        else if (json_array_size(metas) > 1) {
            json_t *and_ = json_pack("{s:O}", "$and", metas);
            b->filter = json_dumps(and_, JSON_COMPACT);
            json_decref(and_);
        }
        json_decref(metas);
        mnemo_filter *mf = NULL;
        mnemo_error err = {0};
        if (b->filter && mnemo__filter_parse(b->filter, &mf, &err)) {
            p->n++;
            snprintf(c->why, sizeof c->why, "%s. Supported %s", err.message, mnemo__mem0_supported);
            mnemo__mem0_plan_free(p);
            return false;
        }
        mnemo__filter_free(mf);
        if (impossible) { /* user_id = a AND user_id = b: no store call */
            free(b->filter);
            json_decref(b->rows);
            continue;
        }
        p->n++;
    }
    return true;
}

static bool icontains(const char *hay, size_t n, const char *needle) {
    size_t m = strlen(needle);
    if (m == 0) return true;
    for (size_t i = 0; i + m <= n; i++) {
        size_t k = 0;
        while (k < m && tolower((unsigned char)hay[i + k]) == tolower((unsigned char)needle[k]))
            k++;
        if (k == m) return true;
    }
    return false;
}

static bool contains(const char *hay, size_t n, const char *needle) {
    return memmem(hay, n, needle, strlen(needle)) != NULL;
}

/* The row conditions of a branch on one memory. */
bool mnemo__mem0_rows_match(json_t *rows, const mnemo_memory *m) {
    if (!json_array_size(rows)) return true;
    json_t *meta = NULL, *lit;
    size_t i;
    bool all = true;
    json_array_foreach(rows, i, lit) {
        const char *f = json_string_value(json_object_get(lit, "f"));
        const char *op = json_string_value(json_object_get(lit, "op"));
        json_t *v = json_object_get(lit, "v");
        bool ok = false;
        if (!strcmp(f, "user_id") || !strcmp(f, "agent_id") || !strcmp(f, "run_id")) {
            const char *x = f[0] == 'u' ? m->user_id : f[0] == 'a' ? m->agent_id : m->session_id;
            bool set = x && *x;
            ok = !strcmp(op, "any") ? set : !set || strcmp(x, json_string_value(v)); /* ne */
        } else if (!strcmp(f, "created_at") || !strcmp(f, "updated_at")) {
            double t = f[0] == 'c' ? m->created_at : m->updated_at, x = json_number_value(v);
            bool same = fabs(t - x) < 1e-3;
            ok = !strcmp(op, "eq")    ? same
                 : !strcmp(op, "ne")  ? !same
                 : !strcmp(op, "gt")  ? t > x
                 : !strcmp(op, "gte") ? t >= x || same
                 : !strcmp(op, "lt")  ? t < x
                                      : t <= x || same;
        } else if (!strcmp(f, "keywords")) {
            const char *s = json_string_value(v);
            ok = !strcmp(op, "contains") ? contains(m->text, m->text_len, s)
                                         : icontains(m->text, m->text_len, s);
        } else { /* categories */
            if (!meta) meta = json_loads(m->metadata, 0, NULL);
            json_t *cats = json_object_get(meta, "categories"), *x;
            size_t k;
            if (!strcmp(op, "any")) ok = json_is_array(cats) && json_array_size(cats) > 0;
            json_array_foreach(cats, k, x) {
                const char *s = json_string_value(x);
                if (!s || ok) continue;
                if (!strcmp(op, "contains"))
                    ok = !strcmp(s, json_string_value(v));
                else if (!strcmp(op, "icontains"))
                    ok = icontains(s, strlen(s), json_string_value(v));
                else if (!strcmp(op, "in")) {
                    size_t q;
                    json_t *y;
                    json_array_foreach(v, q, y) ok = ok || !strcmp(s, json_string_value(y));
                }
            }
        }
        if (json_is_true(json_object_get(lit, "n"))) ok = !ok;
        if (!ok) {
            all = false;
            break;
        }
    }
    json_decref(meta);
    return all;
}
