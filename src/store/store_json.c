/*
 * store_json.c — the memory operations on JSON requests, the one place that
 * reads request bodies for the HTTP routes, `mnemo memory` and `mnemo mcp`:
 * field names and types are checked here (unknown fields refused, the bad
 * field named in `param`), then the C API in mnemo.h does the work. Not the
 * transport: callers read and write the bytes.
 */
#include "store.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct req_ctx {
    mnemo_error *err;
    char *param;
    size_t cap;
    const mnemo_access *acc; /* NULL: everything allowed */
} req_ctx;

static int bad(req_ctx *c, const char *param, int code, const char *fmt, ...) MNEMO_PRINTF(4, 5);
static int bad(req_ctx *c, const char *param, int code, const char *fmt, ...) {
    if (c->param && c->cap) snprintf(c->param, c->cap, "%s", param);
    if (c->err) {
        va_list ap;
        va_start(ap, fmt);
        c->err->code = code;
        vsnprintf(c->err->message, sizeof c->err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Passes a C API failure on, naming the field its message starts with. */
static int api_fail(req_ctx *c, int rc) {
    if (c->param && c->cap && c->err) {
        const char *m = c->err->message;
        size_t n = strspn(m, "abcdefghijklmnopqrstuvwxyz_0123456789[].");
        if (n && (m[n] == ':' || m[n] == ' ') && n < c->cap && n < 64) {
            memcpy(c->param, m, n);
            c->param[n] = 0;
        }
    }
    return rc;
}

static int only_fields(req_ctx *c, json_t *obj, const char *const *allowed, const char *where) {
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        int ok = 0;
        for (size_t i = 0; allowed[i] && !ok; i++) ok = !strcmp(key, allowed[i]);
        if (!ok) {
            char list[400] = "";
            size_t o = 0;
            for (size_t i = 0; allowed[i] && o < sizeof list - 40; i++)
                o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", allowed[i]);
            char p[128];
            snprintf(p, sizeof p, "%s%s", where, key);
            return bad(c, p, MNEMO_EINVAL, "%s%.60s: unknown field (the fields are: %s)", where,
                       key, list);
        }
    }
    return MNEMO_OK;
}

/* A string field: absent -> *out NULL. */
static int get_str(req_ctx *c, json_t *obj, const char *key, const char *where, const char **out,
                   size_t *len) {
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (len) *len = 0;
    if (!v || json_is_null(v)) return MNEMO_OK;
    char p[128];
    snprintf(p, sizeof p, "%s%s", where, key);
    if (!json_is_string(v)) return bad(c, p, MNEMO_EINVAL, "%s: must be a string", p);
    *out = json_string_value(v);
    size_t n = json_string_length(v);
    if (len)
        *len = n;
    else if (strlen(*out) != n)
        return bad(c, p, MNEMO_EINVAL, "%s: must not contain NUL characters", p);
    return MNEMO_OK;
}

static int get_num(req_ctx *c, json_t *obj, const char *key, const char *where, double *out,
                   int *has) {
    json_t *v = json_object_get(obj, key);
    *has = 0;
    if (!v || json_is_null(v)) return MNEMO_OK;
    char p[128];
    snprintf(p, sizeof p, "%s%s", where, key);
    if (!json_is_number(v)) return bad(c, p, MNEMO_EINVAL, "%s: must be a number", p);
    *out = json_number_value(v);
    *has = 1;
    return MNEMO_OK;
}

static int get_count(req_ctx *c, json_t *obj, const char *key, size_t max, size_t *out) {
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return MNEMO_OK;
    if (!json_is_integer(v)) return bad(c, key, MNEMO_EINVAL, "%s: must be an integer", key);
    json_int_t n = json_integer_value(v);
    if (n < 1 || (unsigned long long)n > max)
        return bad(c, key, MNEMO_ERANGE, "%s: %lld is out of range 1..%zu", key, (long long)n, max);
    *out = (size_t)n;
    return MNEMO_OK;
}

int mnemo__access_ns(const mnemo_access *a, const char *ns) {
    if (!a || !a->namespaces) return 1;
    if (!ns || !*ns) ns = "default";
    for (size_t i = 0; i < a->n_namespaces; i++) /* bytes as given: no case or Unicode folding */
        if (!strcmp(a->namespaces[i], ns)) return 1;
    return 0;
}

/* "a, b, c" of the grant's namespaces, for a refusal's message. */
static void ns_list(const mnemo_access *a, char *out, size_t cap) {
    size_t n = 0;
    out[0] = 0;
    for (size_t i = 0; i < a->n_namespaces && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s'%.60s'", i ? ", " : "", a->namespaces[i]);
}

static int get_scope(req_ctx *c, json_t *obj, const char *where, mnemo_memory_scope *sc) {
    int rc;
    if ((rc = get_str(c, obj, "namespace", where, &sc->ns, NULL)) ||
        (rc = get_str(c, obj, "user_id", where, &sc->user_id, NULL)) ||
        (rc = get_str(c, obj, "agent_id", where, &sc->agent_id, NULL)) ||
        (rc = get_str(c, obj, "session_id", where, &sc->session_id, NULL)))
        return rc;
    if (!mnemo__access_ns(c->acc, sc->ns)) {
        char allowed[300];
        ns_list(c->acc, allowed, sizeof allowed);
        char p[80];
        snprintf(p, sizeof p, "%snamespace", where);
        return bad(c, p, MNEMO_EDENIED,
                   "%snamespace: the key '%s' may use the namespaces %s, not '%.80s'", where,
                   c->acc->name ? c->acc->name : "", allowed,
                   sc->ns && *sc->ns ? sc->ns : "default");
    }
    return MNEMO_OK;
}

/* A memory id as the caller may see it: one outside its namespaces answers
 * exactly as an unknown id (the store's own message), so nothing tells the
 * two apart. */
int mnemo__memory_get_as(mnemo_store *s, const char *id, const mnemo_access *a,
                         mnemo_memories **out, mnemo_error *err) {
    int rc = mnemo_memory_get(s, id, out, err);
    if (!rc && !mnemo__access_ns(a, (*out)->items[0].ns)) {
        mnemo_memories_free(*out);
        *out = NULL;
        rc = mnemo__no_memory(err, id);
    }
    return rc;
}

static int visible_id(mnemo_store *s, req_ctx *c, const char *id) {
    if (!c->acc || !c->acc->namespaces) return MNEMO_OK;
    mnemo_memories *m = NULL;
    int rc = mnemo__memory_get_as(s, id, c->acc, &m, c->err);
    mnemo_memories_free(m);
    return rc ? api_fail(c, rc) : MNEMO_OK;
}

/* An object field as compact JSON text (*out NULL when absent; free()). */
static int get_object_text(req_ctx *c, json_t *obj, const char *key, const char *where,
                           char **out) {
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v)) return MNEMO_OK;
    char p[128];
    snprintf(p, sizeof p, "%s%s", where, key);
    if (!json_is_object(v)) return bad(c, p, MNEMO_EINVAL, "%s: must be a JSON object", p);
    *out = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    if (!*out) return bad(c, p, MNEMO_ENOMEM, "out of memory");
    return MNEMO_OK;
}

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

json_t *mnemo__memory_json(const mnemo_memory *m, int with_score) {
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(m->id));
    json_object_set_new(o, "text", json_stringn(m->text, m->text_len));
    json_t *meta = json_loads(m->metadata, 0, NULL);
    json_object_set_new(o, "metadata", meta ? meta : json_object());
    json_object_set_new(o, "namespace", json_string(m->ns));
    json_object_set_new(o, "user_id", str_or_null(m->user_id));
    json_object_set_new(o, "agent_id", str_or_null(m->agent_id));
    json_object_set_new(o, "session_id", str_or_null(m->session_id));
    json_object_set_new(o, "created_at", json_real(m->created_at));
    json_object_set_new(o, "updated_at", json_real(m->updated_at));
    json_object_set_new(o, "expires_at",
                        m->expires_at > 0 ? json_real(m->expires_at) : json_null());
    json_object_set_new(o, "prompt_name", str_or_null(m->prompt_name));
    if (with_score) json_object_set_new(o, "score", json_real(m->score));
    return o;
}

json_t *mnemo__history_json(const mnemo_history *h) {
    json_t *data = json_array();
    for (size_t i = 0; i < h->n; i++) {
        const mnemo_history_event *e = &h->items[i];
        json_t *meta = e->metadata ? json_loads(e->metadata, 0, NULL) : NULL;
        json_array_append_new(data, json_pack("{s:s,s:o,s:f,s:o,s:o}", "event", e->event, "reason",
                                              str_or_null(e->reason), "at", e->at, "text",
                                              str_or_null(e->text), "metadata",
                                              meta ? meta : json_null()));
    }
    return data;
}

static json_t *list_json(const mnemo_memories *m, int with_score) {
    json_t *a = json_array();
    for (size_t i = 0; i < m->n; i++)
        json_array_append_new(a, mnemo__memory_json(&m->items[i], with_score));
    return a;
}

static const char *const memory_fields[] = {"text",     "metadata",    "namespace", "user_id",
                                            "agent_id", "session_id",  "ttl",       "expires_at",
                                            "vector",   "prompt_name", NULL};

/* An optional array of numbers as floats (*out NULL when absent; mnemo__free). */
static int get_vector(req_ctx *c, json_t *obj, const char *where, float **out, size_t *n) {
    json_t *v = json_object_get(obj, "vector");
    *out = NULL;
    *n = 0;
    if (!v || json_is_null(v)) return MNEMO_OK;
    char p[64];
    snprintf(p, sizeof p, "%svector", where);
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 65536)
        return bad(c, p, MNEMO_EINVAL, "%s: must be an array of numbers", p);
    *n = json_array_size(v);
    *out = mnemo__malloc_array(*n, sizeof(float));
    if (!*out) return bad(c, p, MNEMO_ENOMEM, "out of memory");
    for (size_t i = 0; i < *n; i++) {
        json_t *x = json_array_get(v, i);
        if (!json_is_number(x)) return bad(c, p, MNEMO_EINVAL, "%s[%zu]: must be a number", p, i);
        (*out)[i] = (float)json_number_value(x);
    }
    return MNEMO_OK;
}

static int op_add(mnemo_store *s, json_t *req, json_t **resp, req_ctx *c) {
    json_t *list = json_object_get(req, "memories");
    static const char *const top[] = {"memories", NULL};
    int rc;
    size_t n;
    if (list) {
        if ((rc = only_fields(c, req, top, ""))) return rc;
        if (!json_is_array(list))
            return bad(c, "memories", MNEMO_EINVAL, "memories: must be an array of objects");
        n = json_array_size(list);
        if (n == 0 || n > 1000)
            return bad(c, "memories", MNEMO_EINVAL, "memories: %zu given, want 1..1000", n);
    } else {
        n = 1;
    }
    mnemo_memory_input *in = mnemo__calloc(n, sizeof *in);
    char **metas = mnemo__calloc(n, sizeof *metas);
    mnemo_memory_added *out = mnemo__calloc(n, sizeof *out);
    float **vecs = mnemo__calloc(n, sizeof *vecs);
    if (!in || !metas || !out || !vecs) {
        rc = bad(c, "", MNEMO_ENOMEM, "out of memory");
        goto done;
    }
    rc = MNEMO_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        json_t *m = list ? json_array_get(list, i) : req;
        char where[48] = "";
        if (list) snprintf(where, sizeof where, "memories[%zu].", i);
        if (!json_is_object(m)) {
            rc = bad(c, "memories", MNEMO_EINVAL, "memories[%zu]: must be an object", i);
            break;
        }
        double ttl = 0, exp = 0;
        int has_ttl, has_exp;
        if ((rc = only_fields(c, m, memory_fields, where)) ||
            (rc = get_str(c, m, "text", where, &in[i].text, &in[i].text_len)) ||
            (rc = get_scope(c, m, where, &in[i].scope)) ||
            (rc = get_object_text(c, m, "metadata", where, &metas[i])) ||
            (rc = get_num(c, m, "ttl", where, &ttl, &has_ttl)) ||
            (rc = get_num(c, m, "expires_at", where, &exp, &has_exp)) ||
            (rc = get_vector(c, m, where, &vecs[i], &in[i].vector_dim)) ||
            (rc = get_str(c, m, "prompt_name", where, &in[i].prompt_name, NULL)))
            break;
        in[i].vector = vecs[i];
        if (!in[i].text) {
            char p[64];
            snprintf(p, sizeof p, "%stext", where);
            rc = bad(c, p, MNEMO_EINVAL, "%s: missing (the memory's text)", p);
            break;
        }
        if (has_ttl && !(ttl > 0)) {
            char p[64];
            snprintf(p, sizeof p, "%sttl", where);
            rc = bad(c, p, MNEMO_EINVAL, "%s: must be a positive number of seconds", p);
            break;
        }
        if (has_exp && !(exp > 0)) {
            char p[64];
            snprintf(p, sizeof p, "%sexpires_at", where);
            rc = bad(c, p, MNEMO_EINVAL, "%s: must be a Unix time in seconds", p);
            break;
        }
        in[i].metadata = metas[i];
        in[i].ttl = ttl;
        in[i].expires_at = exp;
    }
    if (!rc && (rc = mnemo_memory_add(s, in, n, out, c->err))) rc = api_fail(c, rc);
    if (!rc) {
        static const char *const events[] = {"added", "duplicate", "merged"};
        json_t *data = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *o = json_object();
            json_object_set_new(o, "id", json_string(out[i].id));
            json_object_set_new(o, "event", json_string(events[out[i].event]));
            json_array_append_new(data, o);
        }
        *resp = json_pack("{s:o}", "data", data);
    }
done:
    if (metas)
        for (size_t i = 0; i < n; i++) free(metas[i]);
    if (vecs)
        for (size_t i = 0; i < n; i++) mnemo__free(vecs[i]);
    mnemo__free(vecs);
    mnemo__free(metas);
    mnemo__free(in);
    mnemo__free(out);
    return rc;
}

static int op_search(mnemo_store *s, json_t *req, json_t **resp, req_ctx *c) {
    static const char *const fields[] = {"query",     "vector",   "k",          "namespace",
                                         "user_id",   "agent_id", "session_id", "filter",
                                         "min_score", "mode",     "exact",      NULL};
    mnemo_search_options o = {.k = 10};
    int rc, has;
    char *filter = NULL;
    float *vec = NULL;
    const char *mode = NULL;
    if ((rc = only_fields(c, req, fields, "")) ||
        (rc = get_str(c, req, "query", "", &o.query, &o.query_len)) ||
        (rc = get_count(c, req, "k", MNEMO_SEARCH_MAX_K, &o.k)) ||
        (rc = get_scope(c, req, "", &o.scope)) ||
        (rc = get_object_text(c, req, "filter", "", &filter)) ||
        (rc = get_num(c, req, "min_score", "", &o.min_score, &has)) ||
        (rc = get_str(c, req, "mode", "", &mode, NULL)))
        goto done;
    o.has_min_score = has;
    json_t *exact = json_object_get(req, "exact");
    if (exact && !json_is_null(exact)) {
        if (!json_is_boolean(exact)) {
            rc = bad(c, "exact", MNEMO_EINVAL, "exact: must be true or false");
            goto done;
        }
        o.exact = json_is_true(exact);
    }
    if (!mode || !strcmp(mode, "vector"))
        o.mode = MNEMO_SEARCH_VECTOR;
    else if (!strcmp(mode, "text"))
        o.mode = MNEMO_SEARCH_TEXT;
    else if (!strcmp(mode, "hybrid"))
        o.mode = MNEMO_SEARCH_HYBRID;
    else {
        rc = bad(c, "mode", MNEMO_EINVAL, "mode: '%.40s' is not vector, text or hybrid", mode);
        goto done;
    }
    json_t *v = json_object_get(req, "vector");
    if (v && !json_is_null(v)) {
        if (!json_is_array(v) || json_array_size(v) == 0) {
            rc = bad(c, "vector", MNEMO_EINVAL, "vector: must be an array of numbers");
            goto done;
        }
        size_t n = json_array_size(v);
        if (n != mnemo_store_dim(s)) {
            rc = bad(c, "vector", MNEMO_EINVAL, "vector: %zu values, the store's model gives %zu",
                     n, mnemo_store_dim(s));
            goto done;
        }
        vec = mnemo__malloc_array(n, sizeof(float));
        if (!vec) {
            rc = bad(c, "", MNEMO_ENOMEM, "out of memory");
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            json_t *x = json_array_get(v, i);
            if (!json_is_number(x)) {
                rc = bad(c, "vector", MNEMO_EINVAL, "vector[%zu]: must be a number", i);
                goto done;
            }
            vec[i] = (float)json_number_value(x);
        }
        o.vector = vec;
        o.vector_dim = n;
    }
    o.filter = filter;
    mnemo_memories *m;
    if ((rc = mnemo_memory_search(s, &o, &m, c->err))) {
        rc = api_fail(c, rc);
        goto done;
    }
    *resp = json_pack("{s:o}", "data", list_json(m, 1));
    mnemo_memories_free(m);
done:
    free(filter);
    mnemo__free(vec);
    return rc;
}

static int need_id(req_ctx *c, json_t *req, const char **id) {
    int rc = get_str(c, req, "id", "", id, NULL);
    if (!rc && (!*id || !**id)) rc = bad(c, "id", MNEMO_EINVAL, "id: missing");
    return rc;
}

static int respond_memory(mnemo_store *s, const char *id, json_t **resp, req_ctx *c) {
    mnemo_memories *m;
    int rc = mnemo_memory_get(s, id, &m, c->err);
    if (rc) return api_fail(c, rc);
    *resp = mnemo__memory_json(&m->items[0], 0);
    mnemo_memories_free(m);
    return MNEMO_OK;
}

static int op_get(mnemo_store *s, json_t *req, json_t **resp, req_ctx *c) {
    static const char *const fields[] = {"id", NULL};
    const char *id;
    int rc = only_fields(c, req, fields, "");
    if (!rc) rc = need_id(c, req, &id);
    if (!rc) rc = visible_id(s, c, id);
    if (!rc) rc = respond_memory(s, id, resp, c);
    return rc;
}

static int op_update(mnemo_store *s, json_t *req, json_t **resp, req_ctx *c) {
    static const char *const fields[] = {"id",         "text",        "metadata", "ttl",
                                         "expires_at", "prompt_name", NULL};
    const char *id;
    mnemo_memory_changes u = {0};
    char *meta = NULL;
    int has_ttl, has_exp;
    int rc = only_fields(c, req, fields, "");
    if (!rc) rc = need_id(c, req, &id);
    if (!rc) rc = get_str(c, req, "text", "", &u.text, &u.text_len);
    if (!rc) rc = get_str(c, req, "prompt_name", "", &u.prompt_name, NULL);
    if (!rc) rc = get_object_text(c, req, "metadata", "", &meta);
    if (!rc) rc = get_num(c, req, "ttl", "", &u.ttl, &has_ttl);
    if (!rc) rc = get_num(c, req, "expires_at", "", &u.expires_at, &has_exp);
    if (!rc && has_ttl && !(u.ttl > 0))
        rc = bad(c, "ttl", MNEMO_EINVAL, "ttl: must be a positive number of seconds");
    if (!rc && has_exp && !(u.expires_at > 0))
        rc = bad(c, "expires_at", MNEMO_EINVAL,
                 "expires_at: must be a Unix time in seconds, or null for never");
    /* "expires_at": null clears the expiry */
    json_t *e = json_object_get(req, "expires_at");
    if (!rc && e && json_is_null(e)) u.clear_expiry = 1;
    u.metadata = meta;
    if (!rc) rc = visible_id(s, c, id);
    if (!rc && (rc = mnemo_memory_update(s, id, &u, c->err))) rc = api_fail(c, rc);
    if (!rc) rc = respond_memory(s, id, resp, c);
    free(meta);
    return rc;
}

static int op_delete(mnemo_store *s, json_t *req, json_t **resp, req_ctx *c) {
    static const char *const fields[] = {"id",       "filter",     "namespace", "user_id",
                                         "agent_id", "session_id", NULL};
    int rc = only_fields(c, req, fields, "");
    if (rc) return rc;
    const char *id;
    if ((rc = get_str(c, req, "id", "", &id, NULL))) return rc;
    if (id) {
        if (json_object_size(req) != 1)
            return bad(c, "id", MNEMO_EINVAL,
                       "id: delete by id takes no other fields (or use filter and the scope)");
        if ((rc = visible_id(s, c, id))) return rc;
        if ((rc = mnemo_memory_delete(s, id, c->err))) return api_fail(c, rc);
        *resp = json_pack("{s:s,s:b}", "id", id, "deleted", 1);
        return MNEMO_OK;
    }
    json_t *f = json_object_get(req, "filter");
    if (!f || json_is_null(f)) /* null is no filter, not {} (which deletes the whole scope) */
        return bad(
            c, "filter", MNEMO_EINVAL,
            "filter: missing (give an id, or a filter: {} deletes every memory of the scope)");
    mnemo_memory_scope sc = {0};
    char *filter = NULL;
    size_t n = 0;
    if (!(rc = get_scope(c, req, "", &sc)) &&
        !(rc = get_object_text(c, req, "filter", "", &filter))) {
        if ((rc = mnemo_memory_delete_where(s, &sc, filter, &n, c->err)))
            rc = api_fail(c, rc);
        else
            *resp = json_pack("{s:I}", "deleted", (json_int_t)n);
    }
    free(filter);
    return rc;
}

static int op_list(mnemo_store *s, json_t *req, json_t **resp, req_ctx *c, int count_only) {
    static const char *const fields[] = {"namespace", "user_id", "agent_id", "session_id",
                                         "filter",    "limit",   "cursor",   NULL};
    static const char *const count_fields[] = {"namespace",  "user_id", "agent_id",
                                               "session_id", "filter",  NULL};
    mnemo_list_options o = {.limit = 100};
    char *filter = NULL;
    int rc = only_fields(c, req, count_only ? count_fields : fields, "");
    if (!rc) rc = get_scope(c, req, "", &o.scope);
    if (!rc) rc = get_object_text(c, req, "filter", "", &filter);
    if (!rc) rc = get_count(c, req, "limit", 1000, &o.limit);
    if (!rc) rc = get_str(c, req, "cursor", "", &o.cursor, NULL);
    o.filter = filter;
    if (!rc && count_only) {
        size_t n;
        if ((rc = mnemo_memory_count(s, &o.scope, filter, &n, c->err)))
            rc = api_fail(c, rc);
        else
            *resp = json_pack("{s:I}", "count", (json_int_t)n);
    } else if (!rc) {
        mnemo_memories *m;
        if ((rc = mnemo_memory_list(s, &o, &m, c->err)))
            rc = api_fail(c, rc);
        else {
            *resp = json_pack("{s:o,s:o}", "data", list_json(m, 0), "next_cursor",
                              str_or_null(m->next_cursor));
            mnemo_memories_free(m);
        }
    }
    free(filter);
    return rc;
}

static int op_history(mnemo_store *s, json_t *req, json_t **resp, req_ctx *c) {
    static const char *const fields[] = {"id", NULL};
    const char *id;
    int rc = only_fields(c, req, fields, "");
    if (!rc) rc = need_id(c, req, &id);
    if (rc) return rc;
    /* a grant limited to namespaces sees the history of a memory that is
     * there and in them; a deleted one's namespace is not kept with it */
    if (c->acc && c->acc->namespaces && (rc = visible_id(s, c, id))) {
        if (rc == MNEMO_ENOENT) {
            rc = mnemo__never_memory(c->err, id);
            if (c->param && c->cap) c->param[0] = 0;
        }
        return rc;
    }
    mnemo_history *h;
    if ((rc = mnemo_memory_history(s, id, &h, c->err))) return api_fail(c, rc);
    *resp = json_pack("{s:s,s:o}", "id", id, "data", mnemo__history_json(h));
    mnemo_history_free(h);
    return MNEMO_OK;
}

int mnemo__store_json(mnemo_store *s, const char *op, json_t *req, json_t **resp, mnemo_error *err,
                      char *param, size_t cap) {
    return mnemo__store_json_as(s, op, req, NULL, resp, err, param, cap);
}

int mnemo__store_json_as(mnemo_store *s, const char *op, json_t *req, const mnemo_access *acc,
                         json_t **resp, mnemo_error *err, char *param, size_t cap) {
    req_ctx c = {err, param, cap, acc};
    *resp = NULL;
    if (param && cap) param[0] = 0;
    if (!json_is_object(req)) return bad(&c, "", MNEMO_EINVAL, "the request must be a JSON object");
    bool writes = !strcmp(op, "add") || !strcmp(op, "update") || !strcmp(op, "delete");
    if (acc && (writes ? !acc->can_write : !acc->can_read))
        return bad(&c, "", MNEMO_EDENIED, "the key '%s' may not %s memories (its role allows %s)",
                   acc->name ? acc->name : "", writes ? "change" : "read",
                   acc->can_read ? "reading them" : "embeddings only");
    int rc;
    if (!strcmp(op, "add"))
        rc = op_add(s, req, resp, &c);
    else if (!strcmp(op, "search"))
        rc = op_search(s, req, resp, &c);
    else if (!strcmp(op, "get"))
        rc = op_get(s, req, resp, &c);
    else if (!strcmp(op, "update"))
        rc = op_update(s, req, resp, &c);
    else if (!strcmp(op, "delete"))
        rc = op_delete(s, req, resp, &c);
    else if (!strcmp(op, "list"))
        rc = op_list(s, req, resp, &c, 0);
    else if (!strcmp(op, "count"))
        rc = op_list(s, req, resp, &c, 1);
    else if (!strcmp(op, "history"))
        rc = op_history(s, req, resp, &c);
    else
        rc = bad(&c, "", MNEMO_EINVAL, "unknown memory operation '%.40s'", op);
    if (!rc && !*resp) rc = bad(&c, "", MNEMO_ENOMEM, "out of memory");
    return rc;
}
