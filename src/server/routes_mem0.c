/*
 * routes_mem0.c — mem0's platform REST API, as mem0ai's MemoryClient calls
 * it (docs/http.md, "mem0 platform API"), on mnemo's memory store: ping, add,
 * search, list, get, update, delete, delete-all, history, batch update and
 * delete, entities. Every path ends with "/" (http.c sends a URL here when
 * mnemo__mem0_path says so; mnemo's own routes have no trailing slash).
 * mem0's filters (AND/OR/NOT, in, gte, ...) become one store call per branch
 * of their disjunctive normal form (mem0_filter.c), and the conditions the
 * store cannot evaluate (created_at, categories, ...) are applied to the rows
 * each returns. Errors are {"detail"}.
 * Not the store: every read and write goes through mnemo.h's memory API.
 */
#include "mem0.h"

#include <microhttpd.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define SCAN_CAP 100000       /* memories a list, delete or entity listing reads at most */
#define PAGE_SIZE_DEFAULT 100 /* mem0's defaults for get_all (page 1, page_size 100, at most 200) */
#define PAGE_SIZE_MAX 200
#define BATCH_MAX 1000 /* mem0's limit for batch_update / batch_delete */
#define ARG_SIZE \
    300 /* a path segment: an id, or an entity name (scope values are at most 256 bytes) */

/* ------------------------------------------------------------ replies */

static void fail(m0 *c, int status, const char *code, const char *fmt, ...) MNEMO_PRINTF(4, 5);
static void fail(m0 *c, int status, const char *code, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mnemo__reply_error(c->r, status, status >= 500 ? "server_error" : "invalid_request_error", NULL,
                       code, "%s", msg);
}

/* A store status as HTTP, as the native memory routes map it. */
static void store_fail(m0 *c, int rc, const mnemo_error *err) {
    switch (rc) {
    case MNEMO_ENOENT: fail(c, 404, "not_found", "%s", err->message); break;
    case MNEMO_ETOOBIG: fail(c, 413, "too_large", "%s", err->message); break;
    case MNEMO_EINVAL:
    case MNEMO_EUTF8:
    case MNEMO_ERANGE: fail(c, 400, "invalid_input", "%s", err->message); break;
    case MNEMO_EIO: fail(c, 503, "store_unavailable", "%s", err->message); break;
    case MNEMO_ENOMEM: fail(c, 503, "out_of_memory", "out of memory"); break;
    default: fail(c, 500, "internal_error", "%s", err->message);
    }
}

/* Answers v (stolen) with 200. */
static void reply(m0 *c, json_t *v) {
    char *text = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(v);
    if (!text) {
        fail(c, 503, "out_of_memory", "out of memory");
        return;
    }
    c->r->status = 200;
    c->r->content_type = "application/json";
    mnemo__jsonw_reset(&c->r->out);
    mnemo__jsonw_raw(&c->r->out, text, strlen(text));
    free(text);
}

/* The body as an object; an empty body is {}. NULL after replying 400. */
static json_t *body_json(m0 *c) {
    if (c->r->body_len == 0) return json_object();
    return mnemo__request_json(c->r);
}

/* --------------------------------------------------------- times, ids */

/* ISO-8601 in UTC with microseconds: "2026-12-06T21:56:12.123456+00:00". */
static json_t *iso_time(double t) {
    time_t s = (time_t)floor(t);
    long us = lround((t - (double)s) * 1e6);
    if (us > 999999) us = 999999;
    struct tm tm;
    char day[64], out[96];
    gmtime_r(&s, &tm);
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, sizeof out, "%s.%06ld+00:00", day, us);
    return json_string(out);
}

/* mem0's expiration_date D means the memory lives through day D (UTC):
 * expires_at is the next midnight, and D is shown back as the day of the
 * last second it lives. */
static json_t *expiration_date(double expires_at) {
    if (expires_at <= 0) return json_null();
    time_t s = (time_t)ceil(expires_at) - 1;
    struct tm tm;
    char out[16];
    gmtime_r(&s, &tm);
    strftime(out, sizeof out, "%Y-%m-%d", &tm);
    return json_string(out);
}

/* A random UUID (version 4) for event ids. */
static void new_uuid(char out[37]) {
    unsigned char b[16];
    char hex[MNEMO_MEMORY_ID_SIZE];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        mnemo__memory_new_id(hex); /* the store's ids are random too */
        for (int i = 0; i < 16; i++) {
            unsigned v;
            sscanf(hex + 2 * i, "%2x", &v);
            b[i] = (unsigned char)v;
        }
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

/* -------------------------------------------------- memories as mem0's */

/* app_id and categories live in mnemo's metadata under these keys; mem0's
 * objects show them as their own fields and leave them out of metadata. */
static const char *const RESERVED[] = {"app_id", "categories"};

static json_t *str_or_null(const char *s) { return s && *s ? json_string(s) : json_null(); }

/* The user's part of a metadata object (a new reference; null when empty),
 * and its app_id and categories (borrowed from meta). */
static json_t *split_meta(json_t *meta, json_t **app_id, json_t **categories) {
    json_t *a = json_object_get(meta, "app_id"), *k = json_object_get(meta, "categories");
    *app_id = json_is_string(a) ? a : NULL;
    *categories = json_is_array(k) ? k : NULL;
    json_t *user = json_is_object(meta) ? json_copy(meta) : json_object();
    for (size_t i = 0; i < sizeof RESERVED / sizeof RESERVED[0]; i++)
        json_object_del(user, RESERVED[i]);
    if (json_object_size(user) == 0) {
        json_decref(user);
        return json_null();
    }
    return user;
}

static json_t *memory_obj(const mnemo_memory *m, bool with_score) {
    json_t *meta = json_loads(m->metadata, 0, NULL), *app, *cats;
    json_t *user = split_meta(meta, &app, &cats);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(m->id));
    json_object_set_new(o, "memory", json_stringn(m->text, m->text_len));
    json_object_set_new(o, "user_id", str_or_null(m->user_id));
    json_object_set_new(o, "agent_id", str_or_null(m->agent_id));
    json_object_set_new(o, "app_id", app ? json_incref(app) : json_null());
    json_object_set_new(o, "run_id", str_or_null(m->session_id));
    json_object_set_new(o, "metadata", user);
    json_object_set_new(o, "categories", cats ? json_incref(cats) : json_array());
    json_object_set_new(o, "created_at", iso_time(m->created_at));
    json_object_set_new(o, "updated_at", iso_time(m->updated_at));
    json_object_set_new(o, "expiration_date", expiration_date(m->expires_at));
    if (with_score) json_object_set_new(o, "score", json_real(m->score));
    json_decref(meta);
    return o;
}

/* Compiles filters (NULL: everything) into branches (mem0_filter.c);
 * false after a 400 saying what is wrong and what is supported. */
static bool plan_make(m0 *c, json_t *filters, plan *p) {
    if (mnemo__mem0_plan(c, filters, p)) return true;
    fail(c, 400, "invalid_filter", "%s", c->why);
    return false;
}

/* ------------------------------------------------- reading the fields */

/* A field of the body: absent or null -> NULL; else it must have the type
 * (false after a 400 naming it). */
static bool field(m0 *c, json_t *body, const char *name, json_type type, json_t **out) {
    json_t *v = json_object_get(body, name);
    *out = NULL;
    if (!v || json_is_null(v)) return true;
    bool ok = type == JSON_TRUE   ? json_is_boolean(v)
              : type == JSON_REAL ? json_is_number(v)
                                  : json_typeof(v) == type;
    if (!ok) {
        static const char *const names[] = {"an object",     "an array", "a string",
                                            "an integer",    "a number", "true or false",
                                            "true or false", "null"};
        fail(c, 400, "invalid_input", "%s: must be %s", name, names[type]);
        return false;
    }
    *out = v;
    return true;
}

/* Joins the body's filters with its top-level metadata, categories,
 * start_date and end_date (which the client sends beside them), and entity
 * ids (which mem0's client refuses there, but a hand-written request may
 * send: never ignored): a new reference, or NULL for none. */
static json_t *joined_filters(json_t *body, json_t *filters) {
    static const char *const entity[] = {"user_id", "agent_id", "run_id", "app_id"};
    json_t *all = json_array();
    if (filters) json_array_append(all, filters);
    for (size_t i = 0; i < sizeof entity / sizeof entity[0]; i++) {
        json_t *v = json_object_get(body, entity[i]);
        if (v && !json_is_null(v)) json_array_append_new(all, json_pack("{s:O}", entity[i], v));
    }
    json_t *meta = json_object_get(body, "metadata"), *cats = json_object_get(body, "categories");
    json_t *start = json_object_get(body, "start_date"), *end = json_object_get(body, "end_date");
    if (meta && !json_is_null(meta))
        json_array_append_new(all, json_pack("{s:O}", "metadata", meta));
    if (cats && !json_is_null(cats))
        json_array_append_new(
            all, json_pack("{s:{s:O}}", "categories", json_is_array(cats) ? "in" : "eq", cats));
    if (start && !json_is_null(start))
        json_array_append_new(all, json_pack("{s:{s:O}}", "created_at", "gte", start));
    if (end && !json_is_null(end))
        json_array_append_new(all, json_pack("{s:{s:O}}", "created_at", "lte", end));
    json_t *out = NULL;
    if (json_array_size(all) == 1)
        out = json_incref(json_array_get(all, 0));
    else if (json_array_size(all) > 1)
        out = json_pack("{s:O}", "AND", all);
    json_decref(all);
    return out;
}

/* ---------------------------------------------------------------- ping */

static void op_ping(m0 *c, char args[][ARG_SIZE]) {
    (void)args;
    reply(c, json_pack("{s:s,s:s,s:s,s:n}", "status", "ok", "org_id", "mnemo", "project_id", c->ns,
                       "user_email"));
}

/* ----------------------------------------------------------------- add */

static void op_add(m0 *c, char args[][ARG_SIZE]) {
    (void)args;
    json_t *body = body_json(c);
    if (!body) return;
    json_t *messages = json_object_get(body, "messages"), *list = NULL, *filters, *meta, *infer,
           *exp, *cats;
    mnemo_memory_input *in = NULL;
    mnemo_memory_added *out = NULL;
    size_t n = 0, skipped = 0;
    const char *ids[4] = {0};
    static const char *const id_names[4] = {"user_id", "agent_id", "run_id", "app_id"};
    if (!field(c, body, "filters", JSON_OBJECT, &filters) ||
        !field(c, body, "metadata", JSON_OBJECT, &meta) ||
        !field(c, body, "infer", JSON_TRUE, &infer) ||
        !field(c, body, "expiration_date", JSON_STRING, &exp) ||
        !field(c, body, "categories", JSON_ARRAY, &cats))
        goto done;
    if (json_is_string(messages))
        list = json_pack("[{s:s,s:O}]", "role", "user", "content", messages);
    else if (json_is_object(messages))
        list = json_pack("[O]", messages);
    else if (json_is_array(messages))
        list = json_incref(messages);
    else {
        fail(c, 400, "invalid_input",
             "messages: must be a string, a {role, content} object or a list of them");
        goto done;
    }
    if (!json_array_size(list) || json_array_size(list) > BATCH_MAX) {
        fail(c, 400, "invalid_input", "messages: %zu given, want 1..%d", json_array_size(list),
             BATCH_MAX);
        goto done;
    }
    /* the entity ids, top-level or in filters (both: they must agree) */
    for (int k = 0; k < 4; k++) {
        json_t *top = json_object_get(body, id_names[k]),
               *inner = json_object_get(filters, id_names[k]);
        for (int w = 0; w < 2; w++) {
            json_t *v = w ? inner : top;
            if (!v || json_is_null(v)) continue;
            if (!json_is_string(v) || !json_string_length(v)) {
                fail(c, 400, "invalid_input", "%s%s: must be a non-empty string",
                     w ? "filters." : "", id_names[k]);
                goto done;
            }
            if (ids[k] && strcmp(ids[k], json_string_value(v))) {
                fail(c, 400, "invalid_input", "%s: '%.60s' at the top level and '%.60s' in filters",
                     id_names[k], ids[k], json_string_value(v));
                goto done;
            }
            ids[k] = json_string_value(v);
        }
    }
    size_t i;
    json_t *msg, *cat;
    json_array_foreach(cats, i, cat) if (!json_is_string(cat)) {
        fail(c, 400, "invalid_input", "categories[%zu]: must be a string", i);
        goto done;
    }
    for (size_t k = 0; meta && k < sizeof RESERVED / sizeof RESERVED[0]; k++)
        if (json_object_get(meta, RESERVED[k])) {
            fail(c, 400, "invalid_input",
                 "metadata.%s: reserved (mnemo keeps mem0's %s there): pass %s instead",
                 RESERVED[k], RESERVED[k], RESERVED[k]);
            goto done;
        }
    double expires_at = 0;
    if (exp) {
        if (!mnemo__mem0_parse_time(json_string_value(exp), &expires_at, true)) {
            fail(c, 400, "invalid_input", "expiration_date: '%.40s' is not a date YYYY-MM-DD",
                 json_string_value(exp));
            goto done;
        }
        expires_at += 86400; /* it lives through that day */
    }
    bool keep_all = infer && json_is_false(infer);
    size_t total = json_array_size(list);
    json_array_foreach(list, i, msg) {
        json_t *role = json_object_get(msg, "role"), *content = json_object_get(msg, "content");
        if (!json_is_object(msg) || !json_is_string(role) || !json_is_string(content)) {
            fail(c, 400, "invalid_input",
                 "messages[%zu]: must be an object with a string role and a string content", i);
            goto done;
        }
    }
    /* the metadata every memory of this add gets: the user's, app_id, categories */
    json_t *all_meta = meta ? json_copy(meta) : json_object();
    if (ids[3]) json_object_set_new(all_meta, "app_id", json_string(ids[3]));
    if (cats) json_object_set(all_meta, "categories", cats);
    char *meta_text = json_dumps(all_meta, JSON_COMPACT);
    json_decref(all_meta);
    in = mnemo__calloc(total, sizeof *in);
    out = mnemo__calloc(total, sizeof *out);
    if (!in || !out || !meta_text) {
        free(meta_text);
        fail(c, 503, "out_of_memory", "out of memory");
        goto done;
    }
    json_array_foreach(list, i, msg) {
        json_t *content = json_object_get(msg, "content");
        if (!keep_all && strcmp(json_string_value(json_object_get(msg, "role")), "user")) {
            skipped++;
            continue;
        }
        mnemo_memory_input *x = &in[n++];
        x->text = json_string_value(content);
        x->text_len = json_string_length(content);
        x->metadata = meta_text;
        x->scope = (mnemo_memory_scope){c->ns, ids[0], ids[1], ids[2]};
        x->expires_at = expires_at;
    }
    char event_id[37], message[300];
    new_uuid(event_id);
    if (keep_all)
        snprintf(message, sizeof message, "infer=false: stored the %zu messages as given", n);
    else
        snprintf(message, sizeof message,
                 "mnemo has no LLM to extract facts: with infer=true it stores the %zu user "
                 "messages as given "
                 "(%zu others skipped); pass infer=false to store every message",
                 n, skipped);
    json_t *results = json_array();
    if (n) {
        mnemo_error err = {0};
        int rc = mnemo_memory_add(c->r->store, in, n, out, &err);
        if (rc) {
            json_decref(results);
            store_fail(c, rc, &err);
            free(meta_text);
            goto done;
        }
        static const char *const events[] = {"ADD", "NOOP", "UPDATE"};
        for (size_t k = 0; k < n; k++)
            json_array_append_new(results,
                                  json_pack("{s:s,s:s%,s:s}", "id", out[k].id, "memory", in[k].text,
                                            in[k].text_len, "event", events[out[k].event]));
    }
    free(meta_text);
    reply(c, json_pack("{s:s,s:s,s:s,s:o}", "status", "SUCCEEDED", "event_id", event_id, "message",
                       message, "results", results));
done:
    mnemo__free(in);
    mnemo__free(out);
    json_decref(list);
    json_decref(body);
}

/* -------------------------------------------------------- search, list */

typedef struct hit {
    const mnemo_memory *m;
} hit;

static int by_score(const void *a, const void *b) {
    const mnemo_memory *x = ((const hit *)a)->m, *y = ((const hit *)b)->m;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return strcmp(x->id, y->id);
}

static int by_created(const void *a, const void *b) {
    const mnemo_memory *x = ((const hit *)a)->m, *y = ((const hit *)b)->m;
    if (x->created_at != y->created_at) return x->created_at < y->created_at ? -1 : 1;
    return strcmp(x->id, y->id);
}

static int by_id(const void *a, const void *b) {
    const mnemo_memory *x = ((const hit *)a)->m, *y = ((const hit *)b)->m;
    int d = strcmp(x->id, y->id);
    if (d) return d;
    return x->score != y->score ? (x->score > y->score ? -1 : 1)
                                : 0; /* the best score of an id first */
}

/* Results of several store calls, kept until the answer is written. */
typedef struct results {
    mnemo_memories **pages;
    size_t n_pages, cap_pages;
    hit *hits;
    size_t n, cap;
} results;

static bool results_add(results *rs, mnemo_memories *m, json_t *rows) {
    if (rs->n_pages == rs->cap_pages) {
        size_t cap = rs->cap_pages ? rs->cap_pages * 2 : 16;
        mnemo_memories **p = mnemo__realloc(rs->pages, cap * sizeof *p);
        if (!p) {
            mnemo_memories_free(m);
            return false;
        }
        rs->pages = p;
        rs->cap_pages = cap;
    }
    rs->pages[rs->n_pages++] = m;
    for (size_t i = 0; i < m->n; i++) {
        if (!mnemo__mem0_rows_match(rows, &m->items[i])) continue;
        if (rs->n == rs->cap) {
            size_t cap = rs->cap ? rs->cap * 2 : 64;
            hit *h = mnemo__realloc(rs->hits, cap * sizeof *h);
            if (!h) return false;
            rs->hits = h;
            rs->cap = cap;
        }
        rs->hits[rs->n++].m = &m->items[i];
    }
    return true;
}

/* Sorts by id and keeps one hit per id (its best score). */
static void results_unique(results *rs) {
    if (rs->n < 2) return;
    qsort(rs->hits, rs->n, sizeof *rs->hits, by_id);
    size_t w = 1;
    for (size_t i = 1; i < rs->n; i++)
        if (strcmp(rs->hits[i].m->id, rs->hits[w - 1].m->id)) rs->hits[w++] = rs->hits[i];
    rs->n = w;
}

static void results_free(results *rs) {
    for (size_t i = 0; i < rs->n_pages; i++) mnemo_memories_free(rs->pages[i]);
    mnemo__free(rs->pages);
    mnemo__free(rs->hits);
}

static void op_search(m0 *c, char args[][ARG_SIZE]) {
    (void)args;
    json_t *body = body_json(c);
    if (!body) return;
    json_t *query, *filters, *top_k, *threshold, *keyword, *joined = NULL, *ignored;
    plan p = {0};
    results rs = {0};
    if (!field(c, body, "query", JSON_STRING, &query) ||
        !field(c, body, "filters", JSON_OBJECT, &filters) ||
        !field(c, body, "top_k", JSON_INTEGER, &top_k) ||
        !field(c, body, "threshold", JSON_REAL, &threshold) ||
        !field(c, body, "keyword_search", JSON_TRUE, &keyword) ||
        !field(c, body, "rerank", JSON_TRUE, &ignored) ||
        !field(c, body, "metadata", JSON_OBJECT, &ignored) ||
        !field(c, body, "fields", JSON_ARRAY, &ignored))
        goto done;
    if (!query || !json_string_length(query)) {
        fail(c, 400, "invalid_input", "query: missing (the text to search for)");
        goto done;
    }
    size_t k = top_k ? (size_t)json_integer_value(top_k) : 10;
    if (top_k &&
        (json_integer_value(top_k) < 1 || json_integer_value(top_k) > MNEMO_SEARCH_MAX_K)) {
        fail(c, 400, "invalid_input", "top_k: %lld is out of range 1..%d",
             (long long)json_integer_value(top_k), MNEMO_SEARCH_MAX_K);
        goto done;
    }
    joined = joined_filters(body, filters);
    if (!plan_make(c, joined, &p)) goto done;
    for (size_t b = 0; b < p.n; b++) {
        /* with conditions on the rows, rank deeper and cut after them */
        size_t depth = json_array_size(p.b[b].rows) ? MNEMO_SEARCH_MAX_K : k;
        mnemo_search_options o = {.query = json_string_value(query),
                                  .query_len = json_string_length(query),
                                  .k = depth,
                                  .scope = p.b[b].sc,
                                  .filter = p.b[b].filter,
                                  .mode = json_is_true(keyword) ? MNEMO_SEARCH_HYBRID
                                                                : MNEMO_SEARCH_VECTOR};
        if (threshold) {
            o.min_score = json_number_value(threshold);
            o.has_min_score = 1;
        }
        mnemo_memories *m;
        mnemo_error err = {0};
        int rc = mnemo_memory_search(c->r->store, &o, &m, &err);
        if (rc) {
            store_fail(c, rc, &err);
            goto done;
        }
        if (!results_add(&rs, m, p.b[b].rows)) {
            fail(c, 503, "out_of_memory", "out of memory");
            goto done;
        }
    }
    results_unique(&rs);
    if (rs.n > 1) qsort(rs.hits, rs.n, sizeof *rs.hits, by_score);
    json_t *list = json_array();
    for (size_t i = 0; i < rs.n && i < k; i++)
        json_array_append_new(list, memory_obj(rs.hits[i].m, true));
    reply(c, json_pack("{s:o}", "results", list));
done:
    results_free(&rs);
    mnemo__mem0_plan_free(&p);
    json_decref(joined);
    json_decref(body);
}

/* Every memory of the plan's branches that passes its rows, unique, in
 * rs (at most SCAN_CAP read); false after replying. */
static bool gather(m0 *c, plan *p, results *rs) {
    size_t scanned = 0;
    for (size_t b = 0; b < p->n; b++) {
        char *cursor = NULL;
        do {
            mnemo_list_options o = {
                .scope = p->b[b].sc, .filter = p->b[b].filter, .limit = 1000, .cursor = cursor};
            mnemo_memories *m;
            mnemo_error err = {0};
            int rc = mnemo_memory_list(c->r->store, &o, &m, &err);
            free(cursor);
            cursor = NULL;
            if (rc) {
                store_fail(c, rc, &err);
                return false;
            }
            scanned += m->n;
            if (m->next_cursor && !(cursor = strdup(m->next_cursor))) {
                mnemo_memories_free(m);
                fail(c, 503, "out_of_memory", "out of memory");
                return false;
            }
            if (!results_add(rs, m, p->b[b].rows)) {
                free(cursor);
                fail(c, 503, "out_of_memory", "out of memory");
                return false;
            }
            if (scanned > SCAN_CAP) {
                free(cursor);
                fail(c, 413, "too_many",
                     "more than %d memories match the entity ids and metadata: narrow the filters "
                     "(mnemo reads at most %d for one mem0 list, delete or entity listing)",
                     SCAN_CAP, SCAN_CAP);
                return false;
            }
        } while (cursor);
    }
    results_unique(rs);
    return true;
}

/* A positive integer query parameter (dflt when absent); -1 after a 400. */
static long query_int(m0 *c, const char *name, long dflt, long max) {
    const char *v = MHD_lookup_connection_value(c->r->conn, MHD_GET_ARGUMENT_KIND, name);
    if (!v) return dflt;
    char *end;
    long n = strtol(v, &end, 10);
    if (*v < '0' || *v > '9' || *end || n < 1 || n > max) {
        fail(c, 400, "invalid_input", "%s: '%.40s' is not an integer in 1..%ld", name, v, max);
        return -1;
    }
    return n;
}

static json_t *page_url(m0 *c, long page, long size) {
    const char *host = mnemo__request_header(c->r, "Host");
    /* a host name, address or [v6] and a port; anything else: a relative URL */
    if (host &&
        (!*host || strlen(host) > 200 ||
         host[strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]")]))
        host = NULL;
    char url[400];
    snprintf(url, sizeof url, "%s%.200s/v3/memories/?page=%ld&page_size=%ld", host ? "http://" : "",
             host ? host : "", page, size);
    return json_string(url);
}

static void op_list(m0 *c, char args[][ARG_SIZE]) {
    (void)args;
    long page = query_int(c, "page", 1, 1000000000L),
         size = page < 0 ? -1 : query_int(c, "page_size", PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX);
    if (page < 0 || size < 0) return;
    json_t *body = body_json(c);
    if (!body) return;
    json_t *filters, *joined = NULL, *ignored;
    plan p = {0};
    results rs = {0};
    if (!field(c, body, "filters", JSON_OBJECT, &filters) ||
        !field(c, body, "metadata", JSON_OBJECT, &ignored) ||
        !field(c, body, "start_date", JSON_STRING, &ignored) ||
        !field(c, body, "end_date", JSON_STRING, &ignored))
        goto done;
    joined = joined_filters(body, filters);
    if (!plan_make(c, joined, &p) || !gather(c, &p, &rs)) goto done;
    if (rs.n > 1) qsort(rs.hits, rs.n, sizeof *rs.hits, by_created);
    json_t *list = json_array();
    size_t from = (size_t)(page - 1) * (size_t)size;
    for (size_t i = from; i < rs.n && i < from + (size_t)size; i++)
        json_array_append_new(list, memory_obj(rs.hits[i].m, false));
    reply(c, json_pack("{s:I,s:o,s:o,s:o}", "count", (json_int_t)rs.n, "next",
                       from + (size_t)size < rs.n ? page_url(c, page + 1, size) : json_null(),
                       "previous", page > 1 ? page_url(c, page - 1, size) : json_null(), "results",
                       list));
done:
    results_free(&rs);
    mnemo__mem0_plan_free(&p);
    json_decref(joined);
    json_decref(body);
}

/* mnemo_memory_get as the caller's key may see it (store_api.h). */
static int get_visible(m0 *c, const char *id, mnemo_memories **m, mnemo_error *err) {
    return mnemo__memory_get_as(c->r->store, id, c->r->grant ? &c->r->grant->access : NULL, m, err);
}

/* A delete or history of id only when get_visible finds it; false after replying. */
static bool visible(m0 *c, const char *id) {
    if (!c->r->grant || !c->r->grant->access.namespaces) return true;
    mnemo_memories *m = NULL;
    mnemo_error err = {0};
    int rc = get_visible(c, id, &m, &err);
    mnemo_memories_free(m);
    if (rc) store_fail(c, rc, &err);
    return rc == 0;
}

/* ------------------------------------------------ one memory by its id */

static void op_get(m0 *c, char args[][ARG_SIZE]) {
    mnemo_memories *m;
    mnemo_error err = {0};
    int rc = get_visible(c, args[0], &m, &err);
    if (rc) {
        store_fail(c, rc, &err);
        return;
    }
    reply(c, memory_obj(&m->items[0], false));
    mnemo_memories_free(m);
}

/* The metadata of an update: the user's new object, with the memory's own
 * app_id and categories kept (JSON text to free(), or NULL after a 400). */
static char *update_meta(m0 *c, const mnemo_memory *m, json_t *meta, const char *where) {
    for (size_t k = 0; k < sizeof RESERVED / sizeof RESERVED[0]; k++)
        if (json_object_get(meta, RESERVED[k])) {
            fail(c, 400, "invalid_input", "%smetadata.%s: reserved (mnemo keeps mem0's %s there)",
                 where, RESERVED[k], RESERVED[k]);
            return NULL;
        }
    json_t *old = json_loads(m->metadata, 0, NULL), *app, *cats,
           *user = split_meta(old, &app, &cats);
    json_t *merged = json_copy(meta);
    if (app) json_object_set(merged, "app_id", app);
    if (cats) json_object_set(merged, "categories", cats);
    char *text = json_dumps(merged, JSON_COMPACT);
    json_decref(merged);
    json_decref(user);
    json_decref(old);
    if (!text) fail(c, 503, "out_of_memory", "out of memory");
    return text;
}

/* Applies text / metadata / expiry to one memory; false after replying. */
static bool update_one(m0 *c, const char *id, json_t *text, json_t *meta, json_t *exp, bool has_exp,
                       const char *where) {
    mnemo_memories *m;
    mnemo_error err = {0};
    int rc = get_visible(c, id, &m, &err);
    if (rc) {
        store_fail(c, rc, &err);
        return false;
    }
    mnemo_memory_changes u = {0};
    char *meta_text = NULL;
    if (text) {
        u.text = json_string_value(text);
        u.text_len = json_string_length(text);
    }
    if (meta && !(meta_text = update_meta(c, &m->items[0], meta, where))) {
        mnemo_memories_free(m);
        return false;
    }
    u.metadata = meta_text;
    if (has_exp) {
        if (!exp)
            u.clear_expiry = 1; /* null: never expires */
        else if (!mnemo__mem0_parse_time(json_string_value(exp), &u.expires_at, true)) {
            fail(c, 400, "invalid_input", "%sexpiration_date: '%.40s' is not a date YYYY-MM-DD",
                 where, json_string_value(exp));
            free(meta_text);
            mnemo_memories_free(m);
            return false;
        } else {
            u.expires_at += 86400;
        }
    }
    mnemo_memories_free(m);
    rc = mnemo_memory_update(c->r->store, id, &u, &err);
    free(meta_text);
    if (rc) store_fail(c, rc, &err);
    return rc == 0;
}

static void op_update(m0 *c, char args[][ARG_SIZE]) {
    json_t *body = body_json(c);
    if (!body) return;
    json_t *text, *meta, *exp; /* timestamp: mnemo keeps its own times (ignored) */
    if (field(c, body, "text", JSON_STRING, &text) &&
        field(c, body, "metadata", JSON_OBJECT, &meta) &&
        field(c, body, "expiration_date", JSON_STRING, &exp)) {
        bool has_exp = json_object_get(body, "expiration_date") != NULL;
        if (!text && !meta && !has_exp) {
            /* an unknown id is still a 404 */
            mnemo_memories *m;
            mnemo_error err = {0};
            int rc = get_visible(c, args[0], &m, &err);
            if (rc)
                store_fail(c, rc, &err);
            else {
                mnemo_memories_free(m);
                fail(c, 400, "invalid_input",
                     "nothing to change: give text, metadata or expiration_date");
            }
        } else if (update_one(c, args[0], text, meta, exp, has_exp, "")) {
            op_get(c, args);
        }
    }
    json_decref(body);
}

static void op_delete(m0 *c, char args[][ARG_SIZE]) {
    if (!visible(c, args[0])) return;
    mnemo_error err = {0};
    int rc = mnemo_memory_delete(c->r->store, args[0], &err);
    if (rc)
        store_fail(c, rc, &err);
    else
        reply(c, json_pack("{s:s}", "message", "Memory deleted successfully!"));
}

static void op_history(m0 *c, char args[][ARG_SIZE]) {
    if (!visible(c, args[0])) return;
    mnemo_history *h;
    mnemo_error err = {0};
    int rc = mnemo_memory_history(c->r->store, args[0], &h, &err);
    if (rc) {
        store_fail(c, rc, &err);
        return;
    }
    /* the scope is the memory's (a deleted memory's is gone: null) */
    mnemo_memories *m = NULL;
    rc = get_visible(c, args[0], &m, &err);
    if (rc && rc != MNEMO_ENOENT) {
        mnemo_history_free(h);
        store_fail(c, rc, &err);
        return;
    }
    const mnemo_memory *mm = rc ? NULL : &m->items[0];
    json_t *list = json_array();
    const char *before = NULL;
    for (size_t i = 0; i < h->n; i++) {
        const mnemo_history_event *e = &h->items[i];
        const char *ev = !strcmp(e->event, "added")     ? "ADD"
                         : !strcmp(e->event, "deleted") ? "DELETE"
                                                        : "UPDATE";
        json_t *meta = e->metadata ? json_loads(e->metadata, 0, NULL) : NULL, *app, *cats;
        json_t *user = split_meta(meta, &app, &cats);
        char id[MNEMO_MEMORY_ID_SIZE + 24];
        snprintf(id, sizeof id, "%s-%zu", args[0], i + 1);
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(id));
        json_object_set_new(o, "memory_id", json_string(args[0]));
        json_object_set_new(o, "input", json_array());
        bool del = ev[0] == 'D';
        json_object_set_new(o, "old_memory", del ? str_or_null(e->text) : str_or_null(before));
        json_object_set_new(o, "new_memory", del ? json_null() : str_or_null(e->text));
        json_object_set_new(o, "user_id", str_or_null(mm ? mm->user_id : NULL));
        json_object_set_new(o, "agent_id", str_or_null(mm ? mm->agent_id : NULL));
        json_object_set_new(o, "app_id", app ? json_incref(app) : json_null());
        json_object_set_new(o, "run_id", str_or_null(mm ? mm->session_id : NULL));
        json_object_set_new(o, "event", json_string(ev));
        json_object_set_new(o, "metadata", user);
        json_object_set_new(o, "categories", cats ? json_incref(cats) : json_array());
        json_object_set_new(o, "created_at", iso_time(e->at));
        json_object_set_new(o, "updated_at", iso_time(e->at));
        if (e->reason) json_object_set_new(o, "reason", json_string(e->reason));
        json_array_append_new(list, o);
        json_decref(meta);
        if (e->text) before = e->text;
    }
    reply(c, list);
    mnemo_memories_free(m);
    mnemo_history_free(h);
}

/* ----------------------------------------------------- delete many */

/* "{'user_id': 'alice'}" (Python's repr, which the client sends as
 * filters= on delete_all) as JSON text: single-quoted strings double-
 * quoted, True/False/None as JSON's. A malloc'd string to free(). */
static char *python_repr_to_json(const char *s) {
    size_t n = strlen(s), o = 0;
    char *out = malloc(2 * n + 1);
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        char q = s[i];
        if (q == '\'' || q == '"') {
            out[o++] = '"';
            for (i++; i < n && s[i] != q; i++) {
                if (s[i] == '\\' && i + 1 < n) {
                    if (s[i + 1] == '\'')
                        out[o++] = '\'';
                    else {
                        out[o++] = '\\';
                        out[o++] = s[i + 1];
                    }
                    i++;
                } else if (s[i] == '"') {
                    out[o++] = '\\';
                    out[o++] = '"';
                } else {
                    out[o++] = s[i];
                }
            }
            out[o++] = '"';
        } else if (!strncmp(s + i, "True", 4)) {
            memcpy(out + o, "true", 4), o += 4, i += 3;
        } else if (!strncmp(s + i, "False", 5)) {
            memcpy(out + o, "false", 5), o += 5, i += 4;
        } else if (!strncmp(s + i, "None", 4)) {
            memcpy(out + o, "null", 4), o += 4, i += 3;
        } else {
            out[o++] = q;
        }
    }
    out[o] = 0;
    return out;
}

/* A query parameter holding JSON (or Python's repr of a dict): NULL when
 * absent; false after a 400. */
static bool query_json(m0 *c, const char *name, json_t **out) {
    *out = NULL;
    const char *v = MHD_lookup_connection_value(c->r->conn, MHD_GET_ARGUMENT_KIND, name);
    if (!v) return true;
    json_t *j = json_loads(v, 0, NULL);
    if (!j) {
        char *t = python_repr_to_json(v);
        j = t ? json_loads(t, 0, NULL) : NULL;
        free(t);
    }
    if (!json_is_object(j)) {
        json_decref(j);
        fail(c, 400, "invalid_input", "%s: not a JSON object (nor a Python dict): '%.80s'", name,
             v);
        return false;
    }
    *out = j;
    return true;
}

/* Deletes what every branch of the plan selects (entity ids, app_id and
 * metadata only); the count, or -1 after replying. */
static long delete_plan(m0 *c, plan *p) {
    for (size_t b = 0; b < p->n; b++) {
        if (json_array_size(p->b[b].rows)) {
            fail(c, 400, "invalid_filter",
                 "delete_all takes entity ids (user_id, agent_id, run_id, app_id, with in, "
                 "OR) and metadata; not categories, created_at, updated_at, keywords, ne or \"*\" "
                 "on an id");
            return -1;
        }
        if (!p->b[b].entity) {
            fail(c, 400, "invalid_filter",
                 "delete_all needs an entity: user_id, agent_id, run_id or app_id (in every "
                 "OR branch); nothing was deleted");
            return -1;
        }
    }
    long total = 0;
    for (size_t b = 0; b < p->n; b++) {
        size_t n = 0;
        mnemo_error err = {0};
        int rc = mnemo_memory_delete_where(c->r->store, &p->b[b].sc, p->b[b].filter, &n, &err);
        if (rc) {
            store_fail(c, rc, &err);
            return -1;
        }
        total += (long)n;
    }
    return total;
}

static void op_delete_all(m0 *c, char args[][ARG_SIZE]) {
    (void)args;
    static const char *const names[] = {"user_id", "agent_id", "run_id", "app_id"};
    json_t *all = json_array(), *filters, *meta;
    plan p = {0};
    for (size_t i = 0; i < 4; i++) {
        const char *v = MHD_lookup_connection_value(c->r->conn, MHD_GET_ARGUMENT_KIND, names[i]);
        json_t *one = v && *v ? json_pack("{s:s}", names[i], v) : NULL;
        if (v && *v && !one) { /* never drop a condition: that would delete more */
            fail(c, 400, "invalid_input", "%s: not valid UTF-8", names[i]);
            json_decref(all);
            return;
        }
        if (one) json_array_append_new(all, one);
    }
    if (query_json(c, "filters", &filters) && query_json(c, "metadata", &meta)) {
        if (filters) json_array_append_new(all, filters);
        if (meta) json_array_append_new(all, json_pack("{s:o}", "metadata", meta));
        json_t *f = json_pack("{s:O}", "AND", all);
        if (!json_array_size(all)) {
            fail(c, 400, "invalid_filter",
                 "delete_all needs an entity: user_id, agent_id, run_id or app_id (query "
                 "parameters, or filters=); nothing was deleted");
        } else if (plan_make(c, f, &p)) {
            long n = delete_plan(c, &p);
            if (n >= 0)
                reply(c, json_pack("{s:s,s:I}", "message", "Memories deleted successfully!",
                                   "deleted", (json_int_t)n));
        }
        json_decref(f);
    }
    mnemo__mem0_plan_free(&p);
    json_decref(all);
}

/* ----------------------------------------------------------- batches */

/* The memories list of a batch body, every item's memory_id existing;
 * NULL after replying. */
static json_t *batch_items(m0 *c, json_t *body, bool update) {
    json_t *list = json_object_get(body, "memories"), *x;
    if (!json_is_array(list) || !json_array_size(list) || json_array_size(list) > BATCH_MAX) {
        fail(c, 400, "invalid_input", "memories: must be a list of 1..%d objects with memory_id",
             BATCH_MAX);
        return NULL;
    }
    size_t i;
    json_array_foreach(list, i, x) {
        json_t *id = json_object_get(x, "memory_id"), *text = json_object_get(x, "text"),
               *meta = json_object_get(x, "metadata");
        if (!json_is_object(x) || !json_is_string(id)) {
            fail(c, 400, "invalid_input", "memories[%zu].memory_id: must be a string", i);
            return NULL;
        }
        if (update && ((text && !json_is_null(text) && !json_is_string(text)) ||
                       (meta && !json_is_null(meta) && !json_is_object(meta)))) {
            fail(c, 400, "invalid_input",
                 "memories[%zu]: text must be a string and metadata an object", i);
            return NULL;
        }
        if (update && !json_is_string(text) && !json_is_object(meta)) {
            fail(c, 400, "invalid_input", "memories[%zu]: nothing to change: give text or metadata",
                 i);
            return NULL;
        }
        for (size_t j = 0; j < i; j++)
            if (json_equal(json_object_get(json_array_get(list, j), "memory_id"), id)) {
                fail(c, 400, "invalid_input", "memories[%zu].memory_id: listed twice (also at %zu)",
                     i, j);
                return NULL;
            }
        mnemo_memories *m;
        mnemo_error err = {0};
        int rc = get_visible(c, json_string_value(id), &m, &err);
        if (rc) {
            if (rc == MNEMO_ENOENT)
                fail(c, 404, "not_found",
                     "memories[%zu].memory_id: no memory '%.40s'; nothing was changed", i,
                     json_string_value(id));
            else
                store_fail(c, rc, &err);
            return NULL;
        }
        if (update && json_is_object(meta)) {
            char *t = update_meta(c, &m->items[0], meta, "");
            free(t);
            if (!t) {
                mnemo_memories_free(m);
                return NULL;
            }
        }
        mnemo_memories_free(m);
    }
    return list;
}

static void op_batch_update(m0 *c, char args[][ARG_SIZE]) {
    (void)args;
    json_t *body = body_json(c), *list, *x;
    if (!body) return;
    if ((list = batch_items(c, body, true))) {
        size_t i, done = 0;
        json_array_foreach(list, i, x) {
            char where[48];
            snprintf(where, sizeof where, "memories[%zu].", i);
            json_t *text = json_object_get(x, "text"), *meta = json_object_get(x, "metadata");
            if (!update_one(c, json_string_value(json_object_get(x, "memory_id")),
                            json_is_string(text) ? text : NULL, json_is_object(meta) ? meta : NULL,
                            NULL, false, where))
                break;
            done++;
        }
        if (done == json_array_size(list)) {
            char msg[80];
            snprintf(msg, sizeof msg, "Successfully updated %zu memories", done);
            reply(c, json_pack("{s:s}", "message", msg));
        }
    }
    json_decref(body);
}

static void op_batch_delete(m0 *c, char args[][ARG_SIZE]) {
    (void)args;
    json_t *body = body_json(c), *list, *x;
    if (!body) return;
    if ((list = batch_items(c, body, false))) {
        size_t i, done = 0;
        json_array_foreach(list, i, x) {
            mnemo_error err = {0};
            int rc = mnemo_memory_delete(c->r->store,
                                         json_string_value(json_object_get(x, "memory_id")), &err);
            if (rc) {
                store_fail(c, rc, &err);
                break;
            }
            done++;
        }
        if (done == json_array_size(list)) {
            char msg[80];
            snprintf(msg, sizeof msg, "Successfully deleted %zu memories", done);
            reply(c, json_pack("{s:s}", "message", msg));
        }
    }
    json_decref(body);
}

/* ---------------------------------------------------------- entities */

/* mem0's entity types and where mnemo keeps them. */
static const char *const TYPES[] = {"user", "agent", "app", "run"};

typedef struct entity_row {
    int type;
    const char *name;
    double created, updated;
} entity_row;

static int by_entity(const void *a, const void *b) {
    const entity_row *x = a, *y = b;
    if (x->type != y->type) return x->type - y->type;
    return strcmp(x->name, y->name);
}

static void op_entities(m0 *c, char args[][ARG_SIZE]) {
    (void)args;
    plan p = {0};
    results rs = {0};
    entity_row *rows = NULL;
    json_t **metas = NULL;
    if (!plan_make(c, NULL, &p) || !gather(c, &p, &rs)) goto done;
    rows = mnemo__calloc(rs.n * 4 + 1, sizeof *rows);
    metas = mnemo__calloc(rs.n + 1, sizeof *metas);
    if (!rows || !metas) {
        fail(c, 503, "out_of_memory", "out of memory");
        goto done;
    }
    size_t n = 0;
    for (size_t i = 0; i < rs.n; i++) {
        const mnemo_memory *m = rs.hits[i].m;
        metas[i] = json_loads(m->metadata, 0, NULL);
        const char *app = json_string_value(json_object_get(metas[i], "app_id"));
        const char *names[4] = {m->user_id, m->agent_id, app, m->session_id};
        for (int t = 0; t < 4; t++)
            if (names[t] && *names[t])
                rows[n++] = (entity_row){t, names[t], m->created_at, m->updated_at};
    }
    qsort(rows, n, sizeof *rows, by_entity);
    json_t *list = json_array();
    json_int_t totals[4] = {0};
    for (size_t i = 0; i < n;) {
        size_t j = i;
        double created = rows[i].created, updated = rows[i].updated;
        while (j < n && !by_entity(&rows[i], &rows[j])) {
            created = fmin(created, rows[j].created);
            updated = fmax(updated, rows[j].updated);
            j++;
        }
        totals[rows[i].type]++;
        json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:s,s:n,s:I,s:o,s:o}", "id",
                                              rows[i].name, "name", rows[i].name, "type",
                                              TYPES[rows[i].type], "owner", "mnemo", "metadata",
                                              "total_memories", (json_int_t)(j - i), "created_at",
                                              iso_time(created), "updated_at", iso_time(updated)));
        i = j;
    }
    reply(c,
          json_pack("{s:I,s:n,s:n,s:o,s:I,s:I,s:I,s:I}", "count", (json_int_t)json_array_size(list),
                    "next", "previous", "results", list, "total_users", totals[0], "total_agents",
                    totals[1], "total_apps", totals[2], "total_runs", totals[3]));
done:
    for (size_t i = 0; metas && i < rs.n; i++) json_decref(metas[i]);
    mnemo__free(metas);
    mnemo__free(rows);
    results_free(&rs);
    mnemo__mem0_plan_free(&p);
}

static void op_entity_delete(m0 *c, char args[][ARG_SIZE]) {
    int t = 0;
    while (t < 4 && strcmp(TYPES[t], args[0])) t++;
    if (t == 4) {
        fail(c, 400, "invalid_input", "entity type '%.40s': use user, agent, app or run", args[0]);
        return;
    }
    static const char *const fields[] = {"user_id", "agent_id", "app_id", "run_id"};
    /* as an "in" list, so a name such as "*" is a name, not the wildcard */
    json_t *f = json_pack("{s:{s:[s]}}", fields[t], "in", args[1]);
    plan p = {0};
    if (!f)
        fail(c, 400, "invalid_input", "the entity name is not valid UTF-8");
    else if (plan_make(c, f, &p)) {
        long n = delete_plan(c, &p);
        if (n == 0)
            fail(c, 404, "not_found", "%s '%.80s' has no memories in namespace '%.80s'", TYPES[t],
                 args[1], c->ns);
        else if (n > 0)
            reply(c, json_pack("{s:s,s:I}", "message", "Entity deleted successfully.", "deleted",
                               (json_int_t)n));
    }
    mnemo__mem0_plan_free(&p);
    json_decref(f);
}

/* ------------------------------------------------------- dispatching */

typedef void (*op_fn)(m0 *c, char args[][ARG_SIZE]);

/* The operations, literal paths first (so "/v1/memories/" is never taken
 * for an id); also the server's route list (mnemo__server_route). */
const mnemo_route_op mnemo__mem0_ops[] = {
    {"GET", "/v1/ping/"},
    {"POST", "/v3/memories/add/"},
    {"POST", "/v3/memories/search/"},
    {"POST", "/v3/memories/"},
    {"DELETE", "/v1/memories/"},
    {"PUT", "/v1/batch/"},
    {"DELETE", "/v1/batch/"},
    {"GET", "/v1/entities/"},
    {"GET", "/v1/memories/{id}/"},
    {"PUT", "/v1/memories/{id}/"},
    {"DELETE", "/v1/memories/{id}/"},
    {"GET", "/v1/memories/{id}/history/"},
    {"DELETE", "/v2/entities/{type}/{name}/"},
};
/* What each operation does with the store, for a key's grant: nothing
 * (ping), reads, or writes (the role it needs). */
typedef enum { USES_NONE, USES_READ, USES_WRITE } mem0_use;
/* clang-format off */
static const struct {
    op_fn fn;
    mem0_use use;
} mem0_fns[] = {
    {op_ping, USES_NONE},         {op_add, USES_WRITE},          {op_search, USES_READ},
    {op_list, USES_READ},         {op_delete_all, USES_WRITE},   {op_batch_update, USES_WRITE},
    {op_batch_delete, USES_WRITE}, {op_entities, USES_READ},     {op_get, USES_READ},
    {op_update, USES_WRITE},      {op_delete, USES_WRITE},       {op_history, USES_READ},
    {op_entity_delete, USES_WRITE},
};
/* clang-format on */
const size_t mnemo__mem0_op_count = sizeof mnemo__mem0_ops / sizeof mnemo__mem0_ops[0];
_Static_assert(sizeof mem0_fns / sizeof mem0_fns[0] ==
                   sizeof mnemo__mem0_ops / sizeof mnemo__mem0_ops[0],
               "one function per mem0 operation");

bool mnemo__mem0_path(const char *url) {
    size_t n = strlen(url);
    return n > 4 && url[n - 1] == '/' &&
           (!strncmp(url, "/v1/", 4) || !strncmp(url, "/v2/", 4) || !strncmp(url, "/v3/", 4));
}

/* url against a template whose "{...}" each take one non-empty segment
 * (into args). */
static bool path_match(const char *tmpl, const char *url, char args[][ARG_SIZE], int max) {
    int k = 0;
    while (*tmpl) {
        if (*tmpl == '{') {
            size_t n = strcspn(url, "/");
            if (n == 0 || n >= ARG_SIZE || k == max) return false;
            memcpy(args[k], url, n);
            args[k++][n] = 0;
            url += n;
            tmpl = strchr(tmpl, '}') + 1;
        } else if (*tmpl++ != *url++) {
            return false;
        }
    }
    return !*url;
}

void mnemo__route_mem0(mnemo_request *r) {
    m0 c = {.r = r};
    if (!r->store) {
        fail(&c, 503, "no_store",
             "mem0's routes need a store: start mnemo serve with --data-dir DIR or --store URL");
        return;
    }
    const char *ns = mnemo__request_header(r, "X-Mnemo-Namespace");
    c.ns = ns && *ns ? ns : "default";
    mnemo_memory_scope sc = {.ns = c.ns};
    mnemo_error err = {0};
    int rc = mnemo__scope_check(&sc, "X-Mnemo-Namespace: ", &err);
    if (rc) {
        store_fail(&c, rc, &err);
        return;
    }
    char args[2][ARG_SIZE];
    char *allowed = r->allow; /* also the 405's Allow header */
    allowed[0] = 0;
    const char *tmpl = NULL;
    size_t k = mnemo__mem0_op_count;
    for (size_t i = 0; i < mnemo__mem0_op_count; i++) {
        const mnemo_route_op *o = &mnemo__mem0_ops[i];
        if ((tmpl && strcmp(tmpl, o->path)) || !path_match(o->path, r->url, args, 2)) continue;
        tmpl = o->path;
        /* HEAD is GET without the body (http.c's rule for every GET route) */
        if (!strcmp(o->method, r->method) ||
            (!strcmp(r->method, "HEAD") && !strcmp(o->method, "GET")))
            k = i;
        size_t n = strlen(allowed);
        snprintf(allowed + n, sizeof r->allow - n, "%s%s", n ? ", " : "", o->method);
    }
    if (!tmpl) {
        fail(&c, 404, "not_found",
             "mnemo serves these of mem0's platform routes: GET /v1/ping/, POST /v3/memories/add/, "
             "/v3/memories/search/, /v3/memories/, GET|PUT|DELETE /v1/memories/{id}/, GET "
             "/v1/memories/{id}/history/, DELETE /v1/memories/, PUT|DELETE /v1/batch/, GET "
             "/v1/entities/, DELETE "
             "/v2/entities/{type}/{name}/; not %s %s",
             r->method, r->url);
        return;
    }
    if (k == mnemo__mem0_op_count) {
        fail(&c, 405, "method_not_allowed", "%s %s: use %s", r->method, tmpl, allowed);
        return;
    }
    /* the key's grant: its namespaces, and reading or changing memories */
    const mnemo_grant *g = r->grant;
    bool writes = mem0_fns[k].use == USES_WRITE;
    if (g && mem0_fns[k].use != USES_NONE) {
        if (!mnemo__access_ns(&g->access, c.ns)) {
            fail(&c, 403, "forbidden",
                 "X-Mnemo-Namespace: the key '%s' may not use namespace '%.80s'", g->name, c.ns);
            return;
        }
        if (writes ? !g->access.can_write : !g->access.can_read) {
            fail(&c, 403, "forbidden", "the key '%s' may not %s memories (role %s)", g->name,
                 writes ? "change" : "read", mnemo__role_name(g->role));
            return;
        }
    }
    mem0_fns[k].fn(&c, args);
}
