/*
 * routes_memory.c — the memory routes of `mnemo serve` (issue 7), in the
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
 * Plugs into http.c (serve branch) with: the request's method and URL in
 * mnemo_request (`method`, `url`), the store in it (`store`, opened by
 * cli/serve.c from --data-dir beside the model), and two rows of the route
 * table matched by prefix: "/v1/memories" and "/mcp", any method.
 */
#include "../store/store.h"
#include "server.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

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
    case MNEMO_EINVAL:
    case MNEMO_EUTF8:
    case MNEMO_ERANGE:
        mnemo__reply_error(r, 400, "invalid_request_error", p, "invalid_input", "%s", err->message);
        break;
    case MNEMO_EIO:
        /* disk full, read-only data folder: the store is unchanged; reads go on */
        mnemo__reply_error(r, 503, "server_error", NULL, "store_unavailable", "%s", err->message);
        break;
    default:
        mnemo__reply_error(r, 500, "server_error", NULL, "internal_error", "%s", err->message);
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
    int rc = mnemo__store_json(r->store, op, req, &resp, &err, param, sizeof param);
    if (rc) reply_status(r, rc, &err, param);
    else reply_json(r, 200, resp);
    json_decref(resp);
}

/* The query string of GET /v1/memories and /count as a request object. */
static json_t *query_request(mnemo_request *r, int with_page) {
    static const char *const strings[] = {"namespace", "user_id", "agent_id", "session_id", "cursor"};
    json_t *req = json_object();
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        if (!with_page && !strcmp(strings[i], "cursor")) continue;
        const char *v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, strings[i]);
        if (v) json_object_set_new(req, strings[i], json_string(v));
    }
    const char *limit = with_page ? MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "limit") : NULL;
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

void mnemo__route_memories(mnemo_request *r) {
    if (!r->store) {
        mnemo__reply_error(r, 503, "server_error", NULL, "no_store",
                           "the memory routes need a store: start mnemo serve with --data-dir DIR or --store URL");
        return;
    }
    const char *m = r->method, *path = r->url + strlen("/v1/memories");
    json_t *req = NULL;
    if (!*path || !strcmp(path, "/")) {
        if (!strcmp(m, "POST")) {
            if ((req = mnemo__request_json(r))) run(r, "add", req);
        } else if (!strcmp(m, "GET")) {
            if ((req = query_request(r, 1))) run(r, "list", req);
        } else {
            mnemo__reply_error(r, 405, "invalid_request_error", NULL, "method_not_allowed",
                               "%s /v1/memories: use POST to add, GET to list", m);
        }
    } else if (!strcmp(path, "/search") || !strcmp(path, "/delete")) {
        if (strcmp(m, "POST"))
            mnemo__reply_error(r, 405, "invalid_request_error", NULL, "method_not_allowed",
                               "%s /v1/memories%s: use POST", m, path);
        else if ((req = mnemo__request_json(r)))
            run(r, path[1] == 's' ? "search" : "delete", req);
    } else if (!strcmp(path, "/count")) {
        if (strcmp(m, "GET"))
            mnemo__reply_error(r, 405, "invalid_request_error", NULL, "method_not_allowed",
                               "%s /v1/memories/count: use GET", m);
        else if ((req = query_request(r, 0)))
            run(r, "count", req);
    } else {
        /* /{id} or /{id}/history */
        const char *id = path + 1;
        const char *slash = strchr(id, '/');
        size_t n = slash ? (size_t)(slash - id) : strlen(id);
        char idbuf[MNEMO_MEMORY_ID_SIZE + 8];
        if (n == 0 || n >= sizeof idbuf || (slash && strcmp(slash, "/history"))) {
            mnemo__reply_error(r, 404, "invalid_request_error", NULL, "not_found",
                               "no route %s /v1/memories%s (a memory id is 32 hex digits)", m, path);
            return;
        }
        memcpy(idbuf, id, n);
        idbuf[n] = 0;
        if (slash) {
            if (strcmp(m, "GET")) {
                mnemo__reply_error(r, 405, "invalid_request_error", NULL, "method_not_allowed",
                                   "%s /v1/memories/{id}/history: use GET", m);
                return;
            }
            req = json_pack("{s:s}", "id", idbuf);
            run(r, "history", req);
        } else if (!strcmp(m, "GET") || !strcmp(m, "DELETE")) {
            req = json_pack("{s:s}", "id", idbuf);
            run(r, m[0] == 'G' ? "get" : "delete", req);
        } else if (!strcmp(m, "PATCH")) {
            if ((req = mnemo__request_json(r))) {
                if (json_object_get(req, "id")) {
                    mnemo__reply_error(r, 400, "invalid_request_error", "id", "invalid_input",
                                       "id: is in the path; the body holds text, metadata, ttl or expires_at");
                } else {
                    json_object_set_new(req, "id", json_string(idbuf));
                    run(r, "update", req);
                }
            }
        } else {
            mnemo__reply_error(r, 405, "invalid_request_error", NULL, "method_not_allowed",
                               "%s /v1/memories/{id}: use GET, PATCH or DELETE", m);
        }
    }
    json_decref(req);
}

/* MCP over HTTP: one JSON-RPC message (or batch) per POST, the answer as
 * application/json; a notification or response gets 202 and no body. */
void mnemo__route_mcp(mnemo_request *r) {
    if (!r->store) {
        mnemo__reply_error(r, 503, "server_error", NULL, "no_store", "/mcp needs a store: start mnemo serve with --data-dir DIR or --store URL");
        return;
    }
    if (strcmp(r->method, "POST")) {
        mnemo__reply_error(r, 405, "invalid_request_error", NULL, "method_not_allowed",
                           "%s /mcp: this server answers POST with application/json (no SSE stream)", r->method);
        return;
    }
    json_error_t je;
    json_t *msg = json_loadb(r->body ? r->body : "", r->body_len, JSON_REJECT_DUPLICATES, &je);
    json_t *out;
    if (!msg) {
        out = json_pack("{s:s,s:n,s:{s:i,s:s}}", "jsonrpc", "2.0", "id", "error", "code", -32700, "message",
                        je.text);
    } else if (json_is_array(msg)) {
        out = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(msg, i, x) {
            json_t *a = mnemo__mcp_handle(r->store, x);
            if (a) json_array_append_new(out, a);
        }
        if (!json_array_size(out)) {
            json_decref(out);
            out = NULL;
        }
    } else {
        out = mnemo__mcp_handle(r->store, msg);
    }
    json_decref(msg);
    if (!out) {
        r->status = 202;
        mnemo__jsonw_reset(&r->out);
        return;
    }
    reply_json(r, 200, out);
    json_decref(out);
}
