/*
 * filter.c — metadata filters: parsing and validating the JSON form
 * documented in mnemo.h ($eq $ne $in $nin $gt $gte $lt $lte $exists $and
 * $or $not), and evaluating one against a memory's metadata object. Not the
 * search itself (the SQLite backend calls mnemo__filter_match per candidate).
 */
#include "store.h"

#include <math.h>
#include <string.h>

#define MAX_DEPTH 32

static int check_node(json_t *v, const char *path, int depth, mnemo_error *err);

static int is_scalar(const json_t *v) {
    return json_is_string(v) || json_is_number(v) || json_is_boolean(v) || json_is_null(v);
}

static int check_ops(json_t *ops, const char *path, mnemo_error *err) {
    const char *op;
    json_t *arg;
    if (json_object_size(ops) == 0)
        return mnemo__fail(err, MNEMO_EINVAL, "filter %s: an empty operator object", path);
    json_object_foreach(ops, op, arg) {
        if (!strcmp(op, "$eq") || !strcmp(op, "$ne")) {
            if (!is_scalar(arg))
                return mnemo__fail(err, MNEMO_EINVAL,
                                   "filter %s.%s: wants a string, number, boolean or null", path,
                                   op);
        } else if (!strcmp(op, "$in") || !strcmp(op, "$nin")) {
            if (!json_is_array(arg))
                return mnemo__fail(err, MNEMO_EINVAL, "filter %s.%s: wants an array of values",
                                   path, op);
            size_t i;
            json_t *x;
            json_array_foreach(arg, i, x) if (!is_scalar(x)) return mnemo__fail(
                err, MNEMO_EINVAL, "filter %s.%s[%zu]: wants a string, number, boolean or null",
                path, op, i);
        } else if (!strcmp(op, "$gt") || !strcmp(op, "$gte") || !strcmp(op, "$lt") ||
                   !strcmp(op, "$lte")) {
            if (!json_is_number(arg) && !json_is_string(arg))
                return mnemo__fail(err, MNEMO_EINVAL, "filter %s.%s: wants a number or a string",
                                   path, op);
        } else if (!strcmp(op, "$exists")) {
            if (!json_is_boolean(arg))
                return mnemo__fail(err, MNEMO_EINVAL, "filter %s.$exists: wants true or false",
                                   path);
        } else {
            return mnemo__fail(
                err, MNEMO_EINVAL,
                "filter %s: unknown operator '%s' (use $eq $ne $in $nin $gt $gte $lt "
                "$lte $exists)",
                path, op);
        }
    }
    return MNEMO_OK;
}

static int check_node(json_t *v, const char *path, int depth, mnemo_error *err) {
    if (depth > MAX_DEPTH)
        return mnemo__fail(err, MNEMO_EINVAL, "filter %s: nested deeper than %d", path, MAX_DEPTH);
    if (!json_is_object(v))
        return mnemo__fail(err, MNEMO_EINVAL, "filter %s: wants an object", path);
    const char *key;
    json_t *arg;
    char sub[256];
    json_object_foreach(v, key, arg) {
        if (!strcmp(key, "$and") || !strcmp(key, "$or")) {
            if (!json_is_array(arg) || json_array_size(arg) == 0)
                return mnemo__fail(err, MNEMO_EINVAL,
                                   "filter %s.%s: wants a non-empty array of filters", path, key);
            size_t i;
            json_t *x;
            json_array_foreach(arg, i, x) {
                snprintf(sub, sizeof sub, "%s.%s[%zu]", path, key, i);
                int rc = check_node(x, sub, depth + 1, err);
                if (rc) return rc;
            }
        } else if (!strcmp(key, "$not")) {
            snprintf(sub, sizeof sub, "%s.$not", path);
            int rc = check_node(arg, sub, depth + 1, err);
            if (rc) return rc;
        } else if (key[0] == '$') {
            return mnemo__fail(
                err, MNEMO_EINVAL,
                "filter %s: unknown operator '%s' here (use $and $or $not, or a field name)", path,
                key);
        } else if (key[0] == 0) {
            return mnemo__fail(err, MNEMO_EINVAL, "filter %s: an empty field name", path);
        } else if (json_is_object(arg)) {
            snprintf(sub, sizeof sub, "%s.%s", path, key);
            int rc = check_ops(arg, sub, err);
            if (rc) return rc;
        } else if (!is_scalar(arg)) {
            return mnemo__fail(
                err, MNEMO_EINVAL,
                "filter %s.%s: wants a value or an operator object such as {\"$in\": [...]}", path,
                key);
        }
    }
    return MNEMO_OK;
}

int mnemo__filter_from_json(json_t *v, mnemo_filter **out, mnemo_error *err) {
    *out = NULL;
    if (!v || json_is_null(v)) return MNEMO_OK;
    int rc = check_node(v, "$", 0, err);
    if (rc) return rc;
    mnemo_filter *f = mnemo__calloc(1, sizeof *f);
    if (!f) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    f->root = json_incref(v);
    *out = f;
    return MNEMO_OK;
}

int mnemo__filter_parse(const char *text, mnemo_filter **out, mnemo_error *err) {
    *out = NULL;
    if (!text || !*text) return MNEMO_OK;
    json_error_t je;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!v) return mnemo__fail(err, MNEMO_EINVAL, "filter: not valid JSON: %s", je.text);
    int rc = mnemo__filter_from_json(v, out, err);
    json_decref(v);
    return rc;
}

void mnemo__filter_free(mnemo_filter *f) {
    if (!f) return;
    json_decref(f->root);
    mnemo__free(f);
}

/* The value at a dotted path ("a.b.c"), or NULL. */
static const json_t *lookup(const json_t *meta, const char *path) {
    const json_t *v = json_object_get(meta, path); /* a key with dots wins */
    if (v || !strchr(path, '.')) return v;
    char part[256];
    const char *p = path;
    v = meta;
    while (v && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof part || !json_is_object(v)) return NULL;
        memcpy(part, p, n);
        part[n] = 0;
        v = json_object_get(v, part);
        p = dot ? dot + 1 : p + n;
    }
    return v;
}

static int values_equal(const json_t *a, const json_t *b) {
    if (json_is_number(a) && json_is_number(b)) return json_number_value(a) == json_number_value(b);
    return json_equal(a, b);
}

/* -1, 0, 1, or 2 when a and b are not comparable (different kinds). */
static int compare(const json_t *a, const json_t *b) {
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (json_is_string(a) && json_is_string(b)) {
        int c = strcmp(json_string_value(a), json_string_value(b));
        return c < 0 ? -1 : c > 0;
    }
    return 2;
}

static int in_array(const json_t *v, const json_t *arr) {
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x) if (values_equal(v, x)) return 1;
    return 0;
}

static int match_ops(const json_t *v, json_t *ops) {
    const char *op;
    json_t *arg;
    json_object_foreach(ops, op, arg) {
        int ok;
        if (!strcmp(op, "$eq"))
            ok = v && values_equal(v, arg);
        else if (!strcmp(op, "$ne"))
            ok = !v || !values_equal(v, arg);
        else if (!strcmp(op, "$in"))
            ok = v && in_array(v, arg);
        else if (!strcmp(op, "$nin"))
            ok = !v || !in_array(v, arg);
        else if (!strcmp(op, "$exists"))
            ok = (v != NULL) == json_is_true(arg);
        else {
            int c = v ? compare(v, arg) : 2;
            if (c == 2)
                ok = 0;
            else if (!strcmp(op, "$gt"))
                ok = c > 0;
            else if (!strcmp(op, "$gte"))
                ok = c >= 0;
            else if (!strcmp(op, "$lt"))
                ok = c < 0;
            else
                ok = c <= 0;
        }
        if (!ok) return 0;
    }
    return 1;
}

static int match_node(json_t *f, const json_t *meta) {
    const char *key;
    json_t *arg;
    json_object_foreach(f, key, arg) {
        int ok;
        if (!strcmp(key, "$and") || !strcmp(key, "$or")) {
            int any = 0, all = 1;
            size_t i;
            json_t *x;
            json_array_foreach(arg, i, x) {
                if (match_node(x, meta))
                    any = 1;
                else
                    all = 0;
            }
            ok = key[1] == 'a' ? all : any;
        } else if (!strcmp(key, "$not")) {
            ok = !match_node(arg, meta);
        } else {
            const json_t *v = lookup(meta, key);
            ok = json_is_object(arg) ? match_ops(v, arg) : (v && values_equal(v, arg));
        }
        if (!ok) return 0;
    }
    return 1;
}

int mnemo__filter_match(const mnemo_filter *f, const json_t *meta) {
    return !f || match_node(f->root, meta);
}
