/*
 * routes_memory.c — the memory routes of `mnemo serve`, in the
 * OpenAI error shape: POST /v1/memories (add), POST /v1/memories/search,
 * GET /v1/memories (list; the query string carries namespace, user_id,
 * agent_id, session_id, limit, cursor and filter as JSON), GET
 * /v1/memories/count, POST /v1/memories/delete (by filter), GET, PATCH and
 * DELETE /v1/memories/{id}, GET /v1/memories/{id}/history, and POST /mcp
 * (MCP's Streamable HTTP transport answering with application/json).
 * Bodies are read and checked by the store's JSON layer (store_json.c),
 * the same code `mnemo memory` and `mnemo mcp` run; this file only maps
 * paths to operations and statuses to HTTP.
 *
 * Plugs into http.c with: the request's method and URL in mnemo_request
 * (`method`, `url`), the store in it (`store`, opened by cli/serve.c from
 * --data-dir beside the model), and two rows of the route table: the prefix
 * "/v1/memories" (any method: the table mnemo__memory_ops below dispatches,
 * and is listed as the server's routes) and POST "/mcp".
 */
#include "../store/store_api.h"
#include "server.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* A store status as HTTP: what the client should change (4xx) or retry (5xx). */
static void reply_status(mnemo_request *r, int rc, const mnemo_error *err, const char *param) {
    const char *p = param && *param ? param : NULL;
    switch (rc) {
    case MNEMO_ENOENT:
        mnemo__reply_error(r, 404, "invalid_request_error", p, "not_found", "%s", err->message);
        break;
    case MNEMO_ETOOBIG:
        mnemo__reply_error(r, 413, "invalid_request_error", p, "too_large", "%s", err->message);
        break;
    case MNEMO_EDENIED:
        mnemo__reply_error(r, 403, "permission_error", p, "forbidden", "%s", err->message);
        break;
    case MNEMO_EINVAL:
    case MNEMO_EUTF8:
    case MNEMO_ERANGE:
        mnemo__reply_error(r, 400, "invalid_request_error", p, "invalid_input", "%s", err->message);
        break;
    case MNEMO_EIO:
        /* disk full, read-only data folder: the store is unchanged; reads go on */
        mnemo__reply_error(r, 503, "server_error", NULL, "store_unavailable", "%s", err->message);
        break;
    default: mnemo__reply_error(r, 500, "server_error", NULL, "internal_error", "%s", err->message);
    }
}

static void reply_json(mnemo_request *r, int status, json_t *v) {
    char *text = json_dumps(v, JSON_COMPACT);
    if (!text) {
        mnemo__reply_error(r, 503, "server_error", NULL, "out_of_memory", "out of memory");
        return;
    }
    r->status = status;
    r->content_type = "application/json";
    mnemo__jsonw_reset(&r->out);
    mnemo__jsonw_raw(&r->out, text, strlen(text));
    free(text);
}

static void run(mnemo_request *r, const char *op, json_t *req) {
    json_t *resp = NULL;
    mnemo_error err = {0};
    char param[64];
    int rc = mnemo__store_json_as(r->store, op, req, r->grant ? &r->grant->access : NULL, &resp,
                                  &err, param, sizeof param);
    if (rc)
        reply_status(r, rc, &err, param);
    else
        reply_json(r, 200, resp);
    json_decref(resp);
}

/* The query string of GET /v1/memories and /count as a request object. */
static json_t *query_request(mnemo_request *r, int with_page) {
    static const char *const strings[] = {"namespace", "user_id", "agent_id", "session_id",
                                          "cursor"};
    json_t *req = json_object();
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        if (!with_page && !strcmp(strings[i], "cursor")) continue;
        const char *v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, strings[i]);
        if (v) json_object_set_new(req, strings[i], json_string(v));
    }
    const char *limit =
        with_page ? MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "limit") : NULL;
    if (limit) {
        char *end;
        long long n = strtoll(limit, &end, 10);
        if (*end || end == limit) {
            mnemo__reply_error(r, 400, "invalid_request_error", "limit", "invalid_input",
                               "limit: '%.40s' is not an integer", limit);
            json_decref(req);
            return NULL;
        }
        json_object_set_new(req, "limit", json_integer(n));
    }
    const char *filter = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "filter");
    if (filter) {
        json_error_t je;
        json_t *f = json_loads(filter, 0, &je);
        if (!f) {
            mnemo__reply_error(r, 400, "invalid_request_error", "filter", "invalid_input",
                               "filter: not valid JSON (%s)", je.text);
            json_decref(req);
            return NULL;
        }
        json_object_set_new(req, "filter", f);
    }
    return req;
}

/* The operations under /v1/memories, in the order they are matched: the
 * literal paths first, so /search is never taken for an id. They are also
 * the server's route list (mnemo__server_route) that the OpenAPI test checks. */
enum memory_arg { ARG_BODY, ARG_QUERY_PAGE, ARG_QUERY, ARG_ID, ARG_ID_BODY };
static const struct memory_op {
    const char *op;
    enum memory_arg arg;
} memory_op_args[] = {
    {"add", ARG_BODY},       {"list", ARG_QUERY_PAGE}, {"search", ARG_BODY},
    {"delete", ARG_BODY},    {"count", ARG_QUERY},     {"get", ARG_ID},
    {"update", ARG_ID_BODY}, {"delete", ARG_ID},       {"history", ARG_ID},
};
const mnemo_route_op mnemo__memory_ops[] = {
    {"POST", "/v1/memories"},
    {"GET", "/v1/memories"},
    {"POST", "/v1/memories/search"},
    {"POST", "/v1/memories/delete"},
    {"GET", "/v1/memories/count"},
    {"GET", "/v1/memories/{id}"},
    {"PATCH", "/v1/memories/{id}"},
    {"DELETE", "/v1/memories/{id}"},
    {"GET", "/v1/memories/{id}/history"},
};
const size_t mnemo__memory_op_count = sizeof mnemo__memory_ops / sizeof mnemo__memory_ops[0];
_Static_assert(sizeof memory_op_args / sizeof memory_op_args[0] ==
                   sizeof mnemo__memory_ops / sizeof mnemo__memory_ops[0],
               "one argument kind per memory operation");

/* `url` against a path template whose "{id}" takes one segment (copied to
 * id, at most cap - 1 bytes); a trailing "/" on the URL is ignored. */
static bool path_match(const char *tmpl, const char *url, char *id, size_t cap) {
    while (*tmpl) {
        if (!strncmp(tmpl, "{id}", 4)) {
            size_t n = strcspn(url, "/");
            if (n == 0 || n >= cap) return false;
            memcpy(id, url, n);
            id[n] = 0;
            url += n;
            tmpl += 4;
        } else if (*tmpl++ != *url++) {
            return false;
        }
    }
    return !*url || !strcmp(url, "/");
}

void mnemo__route_memories(mnemo_request *r) {
    if (!r->store) {
        mnemo__reply_error(
            r, 503, "server_error", NULL, "no_store",
            "the memory routes need a store: start mnemo serve with --data-dir DIR or --store URL");
        return;
    }
    char id[MNEMO_MEMORY_ID_SIZE + 8], *allowed = r->allow; /* also the 405's Allow header */
    allowed[0] = '\0';
    const char *tmpl = NULL;
    size_t k = mnemo__memory_op_count;
    for (int pass = 0; pass < 2 && !tmpl; pass++) /* the literal paths, then the templates */
        for (size_t i = 0; i < mnemo__memory_op_count; i++) {
            const mnemo_route_op *o = &mnemo__memory_ops[i];
            if ((strchr(o->path, '{') != NULL) != pass || (tmpl && strcmp(tmpl, o->path)) ||
                !path_match(o->path, r->url, id, sizeof id))
                continue;
            tmpl = o->path;
            if (!strcmp(o->method, r->method)) k = i;
            size_t n = strlen(allowed);
            snprintf(allowed + n, sizeof r->allow - n, "%s%s", n ? ", " : "", o->method);
        }
    if (!tmpl) {
        mnemo__reply_error(r, 404, "invalid_request_error", NULL, "not_found",
                           "no route %s %s (a memory id is 32 hex digits)", r->method, r->url);
        return;
    }
    if (k == mnemo__memory_op_count) {
        mnemo__reply_error(r, 405, "invalid_request_error", NULL, "method_not_allowed",
                           "%s %s: use %s", r->method, tmpl, allowed);
        return;
    }
    json_t *req = NULL;
    switch (memory_op_args[k].arg) {
    case ARG_BODY: req = mnemo__request_json(r); break;
    case ARG_QUERY_PAGE: req = query_request(r, 1); break;
    case ARG_QUERY: req = query_request(r, 0); break;
    case ARG_ID: req = json_pack("{s:s}", "id", id); break;
    case ARG_ID_BODY:
        if (!(req = mnemo__request_json(r))) break;
        if (json_object_get(req, "id")) {
            mnemo__reply_error(
                r, 400, "invalid_request_error", "id", "invalid_input",
                "id: is in the path; the body holds text, metadata, ttl or expires_at");
            json_decref(req);
            return;
        }
        json_object_set_new(req, "id", json_string(id));
        break;
    }
    if (req)
        run(r, memory_op_args[k].op, req);
    else if (!r->status)
        mnemo__reply_error(r, 503, "server_error", NULL, "out_of_memory", "out of memory");
    json_decref(req);
}

/* MCP over HTTP: one JSON-RPC message (or batch) per POST (http.c answers
 * other methods 405: no SSE stream), the answer as application/json; a
 * notification or response gets 202 and no body. */
void mnemo__route_mcp(mnemo_request *r) {
    if (!r->store) {
        mnemo__reply_error(
            r, 503, "server_error", NULL, "no_store",
            "/mcp needs a store: start mnemo serve with --data-dir DIR or --store URL");
        return;
    }
    /* OpenMemory's URL, /mcp/{client}/http/{user}: its tools see that user's
     * memories and record the client as agent_id */
    char client[128] = "", user[128] = "";
    mnemo_mcp_user who = {NULL, NULL, r->grant ? &r->grant->access : NULL};
    if (strcmp(r->url, "/mcp")) {
        const char *a = r->url + 5, *b = strchr(a, '/');
        const char *c = b && !strncmp(b, "/http/", 6) ? b + 6 : NULL;
        size_t na = b ? (size_t)(b - a) : 0, nc = c ? strlen(c) : 0;
        if (!c || !na || !nc || na >= sizeof client || nc >= sizeof user || strchr(c, '/')) {
            mnemo__reply_error(
                r, 404, "invalid_request_error", NULL, "not_found",
                "no route POST %.200s: MCP answers at /mcp, and at /mcp/{client}/http/{user_id} "
                "for OpenMemory's clients",
                r->url);
            return;
        }
        memcpy(client, a, na);
        memcpy(user, c, nc);
        who.client = client;
        who.user_id = user;
    }
    json_error_t je;
    json_t *msg = json_loadb(r->body ? r->body : "", r->body_len, JSON_REJECT_DUPLICATES, &je);
    json_t *out;
    int status = 200;
    if (!msg) { /* Streamable HTTP: a body that is no JSON-RPC message gets 400, with the JSON-RPC error */
        status = 400;
        out = json_pack("{s:s,s:n,s:{s:i,s:s}}", "jsonrpc", "2.0", "id", "error", "code", -32700,
                        "message", je.text);
    } else if (json_is_array(msg)) {
        out = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(msg, i, x) {
            json_t *a = mnemo__mcp_handle_as(r->store, x, &who);
            if (a) json_array_append_new(out, a);
        }
        if (!json_array_size(out)) {
            json_decref(out);
            out = NULL;
        }
    } else {
        out = mnemo__mcp_handle_as(r->store, msg, &who);
    }
    json_decref(msg);
    if (!out) {
        r->status = 202;
        mnemo__jsonw_reset(&r->out);
        return;
    }
    reply_json(r, status, out);
    json_decref(out);
}

void mnemo__route_backup(mnemo_request *r) {
    if (!r->store) {
        mnemo__reply_error(r, 503, "server_error", NULL, "no_store",
                           "a backup needs a store: start mnemo serve with --data-dir DIR");
        return;
    }
    if (r->grant && r->grant->role < MNEMO_ROLE_ADMIN) {
        mnemo__reply_error(r, 403, "permission_error", NULL, "forbidden",
                           "the key '%s' may not take backups (role %s; backups need role=admin)",
                           r->grant->name, mnemo__role_name(r->grant->role));
        return;
    }
    if (!r->cfg->backup_dir) {
        mnemo__reply_error(
            r, 400, "invalid_request_error", NULL, "backups_off",
            "backups are off: start mnemo serve with --backup-dir DIR (each backup is a new "
            "folder in it), or run mnemo memory backup --data-dir DIR OUT");
        return;
    }
    /* backup-20261207T013501.123Z, and -2, -3 ... if two land in one millisecond */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[64], dir[4096];
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
    struct stat sb;
    int n = snprintf(dir, sizeof dir, "%s/backup-%s.%03ldZ", r->cfg->backup_dir, stamp,
                     ts.tv_nsec / 1000000);
    for (int i = 2; n > 0 && (size_t)n < sizeof dir && stat(dir, &sb) == 0 && i < 100; i++)
        n = snprintf(dir, sizeof dir, "%s/backup-%s.%03ldZ-%d", r->cfg->backup_dir, stamp,
                     ts.tv_nsec / 1000000, i);
    if (n < 0 || (size_t)n >= sizeof dir) {
        mnemo__reply_error(r, 500, "server_error", NULL, "backup_failed",
                           "--backup-dir is too long a path");
        return;
    }
    mnemo_backup_report rep;
    mnemo_error err;
    int rc = mnemo__store_backup(r->store, dir, &rep, &err);
    if (rc == MNEMO_EUNSUPPORTED) {
        mnemo__reply_error(r, 400, "invalid_request_error", NULL, "not_supported", "%s",
                           err.message);
        return;
    }
    if (rc) {
        mnemo__reply_error(r, 500, "server_error", NULL, "backup_failed", "%s", err.message);
        return;
    }
    json_t *o = mnemo__backup_json(dir, &rep);
    reply_json(r, 200, o);
    json_decref(o);
}
