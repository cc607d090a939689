/*
 * http.c — the HTTP server of server.h on libmicrohttpd: listening with
 * connection limits, per-address limits and timeouts; one thread per
 * connection that only parses, validates and waits (the batcher's worker runs
 * the model); reading bodies within the size limit; the route table (also
 * the list of every operation, mnemo__server_route, that the OpenAPI test
 * compares with openapi.json), API keys and rate limits; responses with
 * X-Request-Id and Server-Timing (and the console's page headers); one log
 * line and the metrics of every request; graceful stop. What each route does
 * is in routes_*.c and console.c.
 */
#include "server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct mnemo_server {
    mnemo_server_config cfg;
    struct MHD_Daemon *daemon;
    _Atomic(mnemo_service *) svc;
    _Atomic(struct mnemo_store *) store;
    _Atomic long in_flight;
    _Atomic bool stopping;
    _Atomic uint64_t next_id;
    uint64_t id_salt;
    double load_seconds;
    int port;
    mnemo_metrics *metrics;
    mnemo_auth *auth;
    mnemo_conn_gate *gate;
    double started; /* mnemo__now() at start, for /v1/status' uptime */
};

typedef void (*route_fn)(mnemo_request *r);

typedef struct route {
    const char *method, *path, *name;
    mnemo_api api;
    bool auth;        /* needs an API key when keys are configured */
    bool needs_model; /* 503 until the model is ready */
    route_fn fn;
    bool prefix; /* path and everything below it ("/v1/memories/ID"); method "*": any */
    bool (*match)(const char *url); /* else: which URLs are the row's (instead of path) */
    /* a row whose function dispatches by its own table of operations: that
     * table is the row's part of the route list (mnemo__server_route) */
    const mnemo_route_op *ops;
    const size_t *n_ops;
} route;

static void route_health(mnemo_request *r);
static void route_metrics(mnemo_request *r);
static void route_status(mnemo_request *r);

/* (one route per line: not reflowed) */
/* clang-format off */
static const route routes[] = {
    {"POST", "/v1/embeddings", "/v1/embeddings", MNEMO_API_OPENAI, true, true, mnemo__route_openai_embeddings, false, NULL, NULL, NULL},
    {"GET", "/v1/models", "/v1/models", MNEMO_API_OPENAI, true, false, mnemo__route_openai_models, false, NULL, NULL, NULL},
    {"POST", "/embed", "/embed", MNEMO_API_TEI, true, true, mnemo__route_tei_embed, false, NULL, NULL, NULL},
    {"POST", "/tokenize", "/tokenize", MNEMO_API_TEI, true, true, mnemo__route_tei_tokenize, false, NULL, NULL, NULL},
    {"POST", "/decode", "/decode", MNEMO_API_TEI, true, true, mnemo__route_tei_decode, false, NULL, NULL, NULL},
    {"GET", "/info", "/info", MNEMO_API_TEI, true, true, mnemo__route_tei_info, false, NULL, NULL, NULL},
    {"POST", "/similarity", "/similarity", MNEMO_API_TEI, true, true, mnemo__route_tei_similarity, false, NULL, NULL, NULL},
    {"POST", "/embed_all", "/embed_all", MNEMO_API_TEI, true, true, mnemo__route_tei_embed_all, false, NULL, NULL, NULL},
    /* TEI's POST /: /embed, or /similarity by the body (GET / is the console) */
    {"POST", "/", "/", MNEMO_API_TEI, true, true, mnemo__route_tei_root, false, NULL, NULL, NULL},
    {"GET", "/health", "/health", MNEMO_API_TEI, false, false, route_health, false, NULL, NULL, NULL},
    {"GET", "/metrics", "/metrics", MNEMO_API_PLAIN, false, false, route_metrics, false, NULL, NULL, NULL},
    {"POST", "/api/embed", "/api/embed", MNEMO_API_OLLAMA, true, true, mnemo__route_ollama_embed, false, NULL, NULL, NULL},
    {"POST", "/api/embeddings", "/api/embeddings", MNEMO_API_OLLAMA, true, true, mnemo__route_ollama_embeddings, false, NULL, NULL, NULL},
    {"GET", "/api/tags", "/api/tags", MNEMO_API_OLLAMA, true, true, mnemo__route_ollama_tags, false, NULL, NULL, NULL},
    {"POST", "/api/show", "/api/show", MNEMO_API_OLLAMA, true, true, mnemo__route_ollama_show, false, NULL, NULL, NULL},
    {"GET", "/api/ps", "/api/ps", MNEMO_API_OLLAMA, true, true, mnemo__route_ollama_ps, false, NULL, NULL, NULL},
    {"GET", "/api/version", "/api/version", MNEMO_API_OLLAMA, true, false, mnemo__route_ollama_version, false, NULL, NULL, NULL},
    {"GET", "/v1/embeddings/ws", "/v1/embeddings/ws", MNEMO_API_OPENAI, true, true, mnemo__route_websocket, false, NULL, NULL, NULL},
    /* mem0's platform API (routes_mem0.c, docs/http.md, "mem0 platform API"): every
     * URL under /v1/, /v2/ or /v3/ that ends in "/" (mnemo__mem0_path; mem0's
     * client always sends one, mnemo's own routes never do), so before
     * /v1/memories */
    {"*", "/v1/memories/", "mem0", MNEMO_API_MEM0, true, true, mnemo__route_mem0, true, mnemo__mem0_path, mnemo__mem0_ops, &mnemo__mem0_op_count},
    /* the memory routes: routes_memory.c maps method and path to operations */
    {"*", "/v1/memories", "/v1/memories", MNEMO_API_OPENAI, true, true, mnemo__route_memories, true, NULL, mnemo__memory_ops, &mnemo__memory_op_count},
    {"POST", "/mcp", "/mcp", MNEMO_API_OPENAI, true, true, mnemo__route_mcp, true, NULL, NULL, NULL}, /* and /mcp/{client}/http/{user} */
    {"POST", "/v1/admin/backup", "/v1/admin/backup", MNEMO_API_OPENAI, true, false, mnemo__route_backup, false, NULL, NULL, NULL},
    /* the console and the API reference (console.c; every file of assets.txt),
     * and the JSON of what the console's status tab shows: no key needed (no
     * data in the files; the status is /metrics' numbers) */
    {"GET", "/", "/", MNEMO_API_PLAIN, false, false, mnemo__route_console, false, NULL, NULL, NULL},
    {"GET", "/docs", "/docs", MNEMO_API_PLAIN, false, false, mnemo__route_console, false, NULL, NULL, NULL},
    {"GET", "/openapi.json", "/openapi.json", MNEMO_API_PLAIN, false, false, mnemo__route_console, false, NULL, NULL, NULL},
    {"GET", "/console/style.css", "/console", MNEMO_API_PLAIN, false, false, mnemo__route_console, false, NULL, NULL, NULL},
    {"GET", "/console/app.js", "/console", MNEMO_API_PLAIN, false, false, mnemo__route_console, false, NULL, NULL, NULL},
    {"GET", "/console/docs.js", "/console", MNEMO_API_PLAIN, false, false, mnemo__route_console, false, NULL, NULL, NULL},
    {"GET", "/console/dom.js", "/console", MNEMO_API_PLAIN, false, false, mnemo__route_console, false, NULL, NULL, NULL},
    {"GET", "/v1/status", "/v1/status", MNEMO_API_OPENAI, false, false, route_status, false, NULL, NULL, NULL},
};
/* clang-format on */

/* A row with its own table of operations contributes that table; any other
 * row is one operation. */
bool mnemo__server_route(size_t i, mnemo_route_op *out) {
    for (size_t k = 0; k < sizeof routes / sizeof routes[0]; k++) {
        const mnemo_route_op *table = routes[k].ops;
        size_t n = table ? *routes[k].n_ops : 1;
        if (i >= n) {
            i -= n;
            continue;
        }
        *out = table ? table[i] : (mnemo_route_op){routes[k].method, routes[k].path};
        return true;
    }
    return false;
}

/* A body over --max-body-kb whose Content-Length is at most this is read and
 * dropped before its 413, so that the client reads the answer instead of a
 * reset; a larger one is answered at once and its connection closed. */
#define MNEMO_DISCARD_BODY_MAX (64ull << 20)

typedef struct conn_state {
    mnemo_request r;
    const route *rt;
    const char *method; /* MHD's, valid for the request */
    char *body;
    size_t len, cap;
    bool too_big, done;
    const char *over; /* the connection is over this limit: answered 503, closed */
    unsigned over_limit;
} conn_state;

/* ------------------------------------------------------------ helpers */

const char *mnemo__request_header(mnemo_request *r, const char *name) {
    return r->conn ? MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name) : NULL;
}

int mnemo__request_gone(void *arg) {
    mnemo_request *r = arg;
    int fd = r->fd;
    if (fd < 0) {
        const union MHD_ConnectionInfo *ci =
            r->conn ? MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD) : NULL;
        if (!ci) return 0;
        fd = ci->connect_fd;
    }
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) ? 1 : 0;
}

static const char *tei_error_type(int status) {
    switch (status) {
    case 401: return "Unauthorized";
    case 429: return "Overloaded";
    case 503: return "Unhealthy";
    case 500:
    case 504: return "Backend";
    default: return "Validation";
    }
}

/* Replaces each byte that starts no valid UTF-8 sequence with '?': messages
 * quote client bytes (a JSON parser's context, a cut-off name), and the
 * answer must stay valid JSON. */
static void make_utf8(char *s) {
    size_t n = strlen(s), bad, at = 0;
    while (at < n && !mnemo_utf8_valid(s + at, n - at, &bad)) {
        s[at + bad] = '?';
        at += bad + 1;
    }
}

void mnemo__reply_error(mnemo_request *r, int status, const char *type, const char *param,
                        const char *code, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    make_utf8(msg);
    char param_copy[128]; /* a field path may quote client bytes cut mid-character too */
    if (param) {
        snprintf(param_copy, sizeof param_copy, "%s", param);
        make_utf8(param_copy);
        param = param_copy;
    }
    if (r->api == MNEMO_API_TEI && status == 400) status = 422; /* TEI's validation status */
    r->status = status;
    r->reject_reason = code;
    r->content_type = "application/json";
    mnemo_jsonw *w = &r->out;
    mnemo__jsonw_reset(w);
    if (r->api == MNEMO_API_MEM0) { /* mem0's client reads only "detail" */
        MNEMO_JSONW_LIT(w, "{\"detail\":");
        mnemo__jsonw_string(w, msg, strlen(msg));
        mnemo__jsonw_char(w, '}');
    } else if (r->api == MNEMO_API_OPENAI || r->api == MNEMO_API_PLAIN) {
        MNEMO_JSONW_LIT(w, "{\"error\":{\"message\":");
        mnemo__jsonw_string(w, msg, strlen(msg));
        MNEMO_JSONW_LIT(w, ",\"type\":");
        mnemo__jsonw_string(w, type, strlen(type));
        MNEMO_JSONW_LIT(w, ",\"param\":");
        if (param)
            mnemo__jsonw_string(w, param, strlen(param));
        else
            MNEMO_JSONW_LIT(w, "null");
        MNEMO_JSONW_LIT(w, ",\"code\":");
        mnemo__jsonw_string(w, code, strlen(code));
        MNEMO_JSONW_LIT(w, "}}");
    } else {
        MNEMO_JSONW_LIT(w, "{\"error\":");
        mnemo__jsonw_string(w, msg, strlen(msg));
        if (r->api == MNEMO_API_TEI) {
            const char *t = tei_error_type(status);
            MNEMO_JSONW_LIT(w, ",\"error_type\":");
            mnemo__jsonw_string(w, t, strlen(t));
        }
        mnemo__jsonw_char(w, '}');
    }
}

json_t *mnemo__request_json(mnemo_request *r) {
    size_t bad;
    if (!mnemo_utf8_valid(r->body, r->body_len, &bad)) {
        mnemo__reply_error(r, 400, "invalid_request_error", NULL, "invalid_utf8",
                           "the request body is not valid UTF-8 (byte offset %zu): send UTF-8 JSON",
                           bad);
        return NULL;
    }
    json_error_t je;
    json_t *root = json_loadb(r->body, r->body_len, JSON_ALLOW_NUL, &je);
    if (!root) {
        mnemo__reply_error(r, 400, "invalid_request_error", NULL, "invalid_json",
                           "the request body is not valid JSON (line %d, column %d: %s)", je.line,
                           je.column, je.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        mnemo__reply_error(r, 400, "invalid_request_error", NULL, "invalid_json",
                           "the request body must be a JSON object");
        return NULL;
    }
    return root;
}

/* ---------------------------------------------------- /health, /metrics */

static void route_health(mnemo_request *r) {
    if (!r->svc) {
        r->retry_after = 1;
        mnemo__reply_error(r, 503, "server_error", NULL, "not_ready",
                           "the model is loading; retry shortly");
        return;
    }
    r->status = 200;
    MNEMO_JSONW_LIT(&r->out, "{\"status\":\"ok\"}");
}

static mnemo_metrics_gauges gauges(mnemo_request *r) {
    mnemo_server *s = r->srv;
    mnemo_metrics_gauges g = {.in_flight = atomic_load(&s->in_flight),
                              .connections = mnemo__conn_gate_admitted(s->gate),
                              .ready = r->svc != NULL,
                              .model_load_seconds = s->load_seconds};
    if (r->svc) {
        mnemo__batcher_stats(mnemo__service_batcher(r->svc), &g.queue);
        mnemo__cache_stats(mnemo__service_cache(r->svc), &g.cache);
        g.store_fills = mnemo__service_store_fills(r->svc);
        mnemo__redis_stats(mnemo__service_redis(r->svc), &g.redis);
        mnemo__cache_file_stats(mnemo__service_cache_file(r->svc), &g.file);
    }
    return g;
}

static void route_metrics(mnemo_request *r) {
    mnemo_metrics_gauges g = gauges(r);
    r->status = 200;
    r->content_type = "text/plain; version=0.0.4; charset=utf-8";
    mnemo__metrics_render(r->srv->metrics, &g, &r->out);
}

static void route_status(mnemo_request *r) {
    mnemo_metrics_gauges g = gauges(r);
    const mnemo_model *m = r->svc ? mnemo__service_model(r->svc) : NULL;
    mnemo_status_info info = {.model_name = r->cfg->model_name,
                              .precision = m ? mnemo_model_precision(m) : NULL,
                              .kernels = m ? mnemo_model_kernels(m) : NULL,
                              .dimensions = m ? mnemo_model_dim(m) : 0,
                              .max_tokens = m ? mnemo_model_max_tokens(m) : 0,
                              .uptime = mnemo__now() - r->srv->started,
                              .store = r->store != NULL,
                              .keys = mnemo__auth_key_count(r->srv->auth) > 0};
    r->status = 200;
    mnemo__metrics_status(r->srv->metrics, &g, &info, &r->out);
}

/* --------------------------------------------------------- dispatching */

/* The row for method and url; else NULL, and when the path has rows for
 * other methods, their names in `allow` (for the 405's Allow header). */
static const route *find_route(const char *method, const char *url, char *allow, size_t cap) {
    allow[0] = '\0';
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        size_t n = strlen(routes[i].path);
        bool match = routes[i].match ? routes[i].match(url)
                                     : !strcmp(routes[i].path, url) ||
                                           (routes[i].prefix && !strncmp(routes[i].path, url, n) &&
                                            url[n] == '/');
        if (!match) continue;
        /* HEAD is GET without the body (RFC 9110 9.3.2; libmicrohttpd drops it):
         * Ollama's clients probe HEAD / for a running server */
        bool head = !strcmp(method, "HEAD") && !strcmp(routes[i].method, "GET");
        if (!strcmp(routes[i].method, method) || !strcmp(routes[i].method, "*") || head)
            return &routes[i];
        size_t k = strlen(allow);
        snprintf(allow + k, cap - k, "%s%s", k ? ", " : "", routes[i].method);
    }
    return NULL;
}

static void fill_ids(mnemo_server *s, mnemo_request *r, const mnemo_conn_ticket *ticket) {
    const char *given = mnemo__request_header(r, "X-Request-Id");
    bool ok = given && *given && strlen(given) < sizeof r->id;
    for (const char *p = given; ok && *p; p++)
        ok = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
             *p == '-' || *p == '_' || *p == '.';
    if (ok)
        snprintf(r->id, sizeof r->id, "%s", given);
    else
        snprintf(r->id, sizeof r->id, "%016llx",
                 (unsigned long long)(s->id_salt ^
                                      (atomic_fetch_add(&s->next_id, 1) * 0x9E3779B97F4A7C15ULL)));
    /* the address as the connection's ticket has it (formatted once per connection) */
    const char *client = mnemo__conn_ticket_client(ticket);
    if (client) {
        snprintf(r->client, sizeof r->client, "%s", client);
    } else {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        mnemo__client_address(ci ? ci->client_addr : NULL, r->client, sizeof r->client);
    }
    snprintf(r->who, sizeof r->who, "ip:%s", r->client);
}

/* Auth, rate limit, readiness; then the route. */
static void dispatch(mnemo_server *s, conn_state *st) {
    mnemo_request *r = &st->r;
    const route *rt = st->rt;
    if (rt->auth && mnemo__auth_key_count(s->auth)) {
        const char *h = mnemo__request_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
        if ((r->grant = mnemo__auth_check(s->auth, h)))
            snprintf(r->who, sizeof r->who, "key:%s",
                     r->grant->name); /* the key's name, never the key */
        if (!r->grant) {
            const char *scheme =
                r->api == MNEMO_API_MEM0 ? "Token" : "Bearer"; /* mem0's client sends Token */
            mnemo__reply_error(r, 401, "invalid_request_error", NULL, "invalid_api_key",
                               h ? "the API key is not valid: send 'Authorization: %s KEY' "
                                   "with a key the server was started with"
                                 : "an API key is required: send 'Authorization: %s KEY'",
                               scheme);
            return;
        }
    }
    int wait;
    if (rt->auth && !mnemo__rate_admit(s->auth, r->who, mnemo__now(), &wait)) {
        r->retry_after = wait;
        mnemo__reply_error(
            r, 429, "rate_limit_error", NULL, "rate_limit_exceeded",
            "rate limit reached (--rate-limit-rpm / --rate-limit-tpm): retry in %d s", wait);
        return;
    }
    if (rt->needs_model && !r->svc) {
        r->retry_after = 1;
        mnemo__reply_error(
            r, 503, "server_error", NULL, "not_ready",
            "the model is loading; retry shortly (GET /health says when it is ready)");
        return;
    }
    rt->fn(r);
    if (rt->auth && r->tokens) mnemo__rate_charge(s->auth, r->who, r->tokens, mnemo__now());
}

static void free_buffer(void *p) { mnemo__free(p); }

/* The console's pages and files: revalidate each load (the ETag makes that a
 * 304), and let them load nothing from anywhere else (no CDN, no inline
 * script; the page works with no internet). */
static void add_page_headers(struct MHD_Response *resp) {
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'none'; script-src 'self'; style-src 'self'; "
                            "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                            "form-action 'none'; frame-ancestors 'none'");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
}

/* Queues the response with its headers, logs the request, counts it. */
static enum MHD_Result respond(mnemo_server *s, conn_state *st) {
    mnemo_request *r = &st->r;
    st->done = true;
    double total = mnemo__now() - r->t_start;
    enum MHD_Result ret = MHD_NO;
    if (r->status != 499) {
        if (r->out.failed) {
            mnemo__jsonw_reset(&r->out);
            r->status = 503;
            MNEMO_JSONW_LIT(&r->out, "{\"error\":\"out of memory\"}");
        }
        struct MHD_Response *resp = r->stream_response;
        if (!resp) {
            resp = MHD_create_response_from_buffer_with_free_callback(r->out.len, r->out.p,
                                                                      free_buffer);
            if (resp) {
                r->out.p = NULL; /* the response owns it now */
                r->out.len = r->out.cap = 0;
            }
        }
        if (resp) {
            char timing[200], num[16];
            snprintf(timing, sizeof timing,
                     "queue;dur=%.2f, tokenize;dur=%.2f, inference;dur=%.2f, total;dur=%.2f",
                     r->t_queue * 1e3, r->t_tokenize * 1e3, r->t_inference * 1e3, total * 1e3);
            if (r->status != 101)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                        r->content_type ? r->content_type : "application/json");
            MHD_add_response_header(resp, "X-Request-Id", r->id);
            MHD_add_response_header(resp, "Server-Timing", timing);
            if (r->retry_after > 0) {
                snprintf(num, sizeof num, "%d", r->retry_after);
                MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, num);
            }
            if (r->close_after) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
            if (r->etag) MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, r->etag);
            if (r->page_headers) add_page_headers(resp);
            if (r->status == 401)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
            if (r->status == 405 && r->allow[0])
                MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
            ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
            MHD_destroy_response(resp);
        }
    }
    const char *route_name = st->rt ? st->rt->name : "other";
    mnemo__metrics_request(s->metrics, route_name, r->status, total, r);
    if (r->status >= 400 && r->reject_reason) mnemo__metrics_reject(s->metrics, r->reject_reason);
    const char *trace = mnemo__request_header(r, "traceparent");
    char tq[128];
    mnemo__log(r->status >= 500 && r->status != 503 ? MNEMO_LOG_WARN : MNEMO_LOG_INFO,
               "http.request",
               "id=%s client=%s key=%s method=%s route=%s status=%d inputs=%zu tokens=%zu ms=%.2f "
               "queue_ms=%.2f tokenize_ms=%.2f inference_ms=%.2f%s%s",
               r->id, r->client, r->grant ? r->grant->name : "-", st->method, route_name, r->status,
               r->inputs, r->tokens, total * 1e3, r->t_queue * 1e3, r->t_tokenize * 1e3,
               r->t_inference * 1e3, trace ? " traceparent=" : "",
               trace ? mnemo__log_quote(tq, sizeof tq, trace) : "");
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
    mnemo_server *s = cls;
    conn_state *st = *con_cls;
    if (!st) {
        st = mnemo__calloc(1, sizeof *st);
        if (!st) return MHD_NO;
        *con_cls = st;
        atomic_fetch_add(&s->in_flight, 1);
        mnemo_request *r = &st->r;
        r->srv = s;
        r->cfg = &s->cfg;
        r->conn = conn;
        r->t_start = mnemo__now();
        r->svc = atomic_load(&s->svc);
        r->store = atomic_load(&s->store);
        r->method = method;
        r->url = url;
        r->api = MNEMO_API_PLAIN;
        r->fd = -1;
        st->method = method;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        const mnemo_conn_ticket *ticket = ci ? ci->socket_context : NULL;
        fill_ids(s, r, ticket);
        st->over = mnemo__conn_ticket_over(ticket, &st->over_limit);
        if (st->over)
            return MHD_YES; /* answered once its body is read: closing on unread bytes resets */
        st->rt = find_route(method, url, r->allow, sizeof r->allow);
        if (st->rt) r->api = st->rt->api;
        if (!st->rt) {
            /* under /api/, Ollama's clients expect Ollama's {"error"} */
            if (!strncmp(url, "/api/", 5)) r->api = MNEMO_API_OLLAMA;
            if (r->allow[0]) {
                mnemo__reply_error(r, 405, "invalid_request_error", NULL, "method_not_allowed",
                                   "%s is not allowed on %s", method, url);
                r->status = 405;
            } else {
                mnemo__reply_error(
                    r, 404, "invalid_request_error", NULL, "not_found",
                    "no route %s %s (routes: POST /v1/embeddings, GET /v1/models, "
                    "POST /embed, /similarity, /embed_all, /, /tokenize, /decode, GET /info, "
                    "/health, /metrics, "
                    "POST /api/embed, /api/embeddings, /api/show, GET /api/tags, /api/ps, "
                    "/api/version, "
                    "GET /v1/embeddings/ws, /v1/memories, POST /mcp, /v1/admin/backup, GET "
                    "/v1/status; "
                    "the console at GET /, the reference at /docs and /openapi.json)",
                    method, url);
            }
            return respond(s, st);
        }
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;
        if (declared > s->cfg.max_body && declared <= MNEMO_DISCARD_BODY_MAX) {
            /* read and dropped, then answered 413 below: a client that writes
             * its whole body before reading gets the answer, not a reset */
            st->too_big = true;
        } else if (declared > s->cfg.max_body) {
            /* too large to read through: answered now, and the connection closes */
            mnemo__reply_error(r, 413, "invalid_request_error", NULL, "payload_too_large",
                               "the request body has %s bytes; the limit is %zu (--max-body-kb): "
                               "send fewer or shorter inputs",
                               cl, s->cfg.max_body);
            return respond(s, st);
        }
        return MHD_YES;
    }
    if (st->done) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (st->over || st->too_big || st->len + n > s->cfg.max_body) {
            st->too_big = true;
            return MHD_YES;
        }
        if (st->len + n > st->cap) {
            size_t cap = st->cap ? st->cap : 4096;
            while (cap < st->len + n) cap *= 2;
            if (cap > s->cfg.max_body) cap = s->cfg.max_body;
            char *p = mnemo__realloc(st->body, cap);
            if (!p) return MHD_NO;
            st->body = p;
            st->cap = cap;
        }
        memcpy(st->body + st->len, upload_data, n);
        st->len += n;
        return MHD_YES;
    }
    mnemo_request *r = &st->r;
    if (st->over) {
        r->retry_after = 1;
        r->close_after = true;
        mnemo__reply_error(r, 503, "server_error", NULL, "too_many_connections",
                           "too many open connections%s (%u, %s): retry after %d s, or reuse "
                           "fewer connections",
                           strcmp(st->over, "--max-connections") ? " from this address" : "",
                           st->over_limit, st->over, r->retry_after);
        return respond(s, st);
    }
    if (st->too_big) {
        mnemo__reply_error(r, 413, "invalid_request_error", NULL, "payload_too_large",
                           "the request body is larger than %zu bytes (--max-body-kb): send fewer "
                           "or shorter inputs",
                           s->cfg.max_body);
        return respond(s, st);
    }
    r->body = st->body ? st->body : "";
    r->body_len = st->len;
    dispatch(s, st);
    return respond(s, st);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    mnemo_server *s = cls;
    conn_state *st = *con_cls;
    if (!st) return;
    mnemo__jsonw_free(&st->r.out);
    mnemo__free(st->body);
    mnemo__free(st);
    *con_cls = NULL;
    atomic_fetch_sub(&s->in_flight, 1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = '\0';
    char q[600];
    mnemo__log(MNEMO_LOG_DEBUG, "http.mhd", "message=%s", mnemo__log_quote(q, sizeof q, msg));
}

/* Each connection's start and end, for the limits (conn_gate.c). */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    mnemo_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        *socket_context = mnemo__conn_gate_enter(s->gate, ci ? ci->client_addr : NULL);
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        mnemo__conn_gate_leave(s->gate, *socket_context);
        *socket_context = NULL;
    }
}

/* ------------------------------------------------------ start and stop */

int mnemo__server_start(const mnemo_server_config *cfg, mnemo_server **out, mnemo_error *err) {
    if (cfg->port < 0 || cfg->port > 65535)
        return mnemo__fail(err, MNEMO_EINVAL, "--port %d is not a TCP port (0..65535)", cfg->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
                    *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", cfg->port);
    int g = getaddrinfo(cfg->host, port, &hints, &ai);
    if (g || !ai)
        return mnemo__fail(err, MNEMO_EINVAL, "--host '%s' is not an address to listen on (%s)",
                           cfg->host, gai_strerror(g));
    mnemo_server *s = mnemo__calloc(1, sizeof *s);
    if (!s) {
        freeaddrinfo(ai);
        return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    }
    s->cfg = *cfg;
    s->started = mnemo__now();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    s->id_salt = mnemo__hash64(&ts, sizeof ts, (uint64_t)getpid());
    int rc = mnemo__metrics_create(&s->metrics, err);
    if (!rc)
        rc = mnemo__auth_create(cfg->api_key, cfg->api_key_file, cfg->rate_rpm, cfg->rate_tpm,
                                &s->auth, err);
    if (!rc)
        rc = mnemo__conn_gate_create(cfg->max_connections, cfg->max_connections_per_ip, &s->gate,
                                     err);
    if (rc) {
        freeaddrinfo(ai);
        mnemo__auth_free(s->auth);
        mnemo__metrics_free(s->metrics);
        mnemo__free(s);
        return rc;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ERROR_LOG | MHD_USE_ITC | MHD_USE_POLL | MHD_ALLOW_UPGRADE;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    s->daemon = MHD_start_daemon(
        flags, (uint16_t)cfg->port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        /* the limits are the gate's; libmicrohttpd's own, higher, leaves room to
         * answer the connections over them (beyond it, it closes at accept) */
        MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)cfg->max_connections + MNEMO_CONN_SPARE(cfg->max_connections),
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)cfg->connection_timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->daemon) {
        mnemo__conn_gate_free(s->gate);
        mnemo__auth_free(s->auth);
        mnemo__metrics_free(s->metrics);
        mnemo__free(s);
        return mnemo__fail(err, MNEMO_EIO,
                           "cannot listen on %s port %d (in use, or not an address "
                           "of this machine): choose another --host or --port",
                           cfg->host, cfg->port);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : cfg->port;
    *out = s;
    return MNEMO_OK;
}

int mnemo__server_port(const mnemo_server *s) { return s->port; }

void mnemo__server_set_store(mnemo_server *s, struct mnemo_store *store) {
    atomic_store(&s->store, store);
}

void mnemo__server_set_service(mnemo_server *s, mnemo_service *svc, double load_seconds) {
    s->load_seconds = load_seconds;
    atomic_store(&s->svc, svc);
}

void mnemo__server_observe_batch(void *server, size_t n_seqs, size_t n_tokens, size_t n_jobs,
                                 double seconds) {
    mnemo_server *s = server;
    mnemo__metrics_batch(s->metrics, n_seqs, n_tokens, n_jobs, seconds);
}

bool mnemo__server_stopping(const mnemo_server *s) { return atomic_load(&s->stopping); }
mnemo_auth *mnemo__server_auth(mnemo_server *s) { return s->auth; }
mnemo_metrics *mnemo__server_metrics(mnemo_server *s) { return s->metrics; }

void mnemo__server_stop(mnemo_server *s, double max_wait) {
    if (!s || !s->daemon) return;
    atomic_store(&s->stopping, true);
    MHD_socket l = MHD_quiesce_daemon(s->daemon);
    double until = mnemo__now() + max_wait;
    while (atomic_load(&s->in_flight) > 0 && mnemo__now() < until) usleep(10000);
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    if (l != MHD_INVALID_SOCKET) close(l);
}

void mnemo__server_free(mnemo_server *s) {
    if (!s) return;
    if (s->daemon) mnemo__server_stop(s, 0);
    mnemo__conn_gate_free(s->gate);
    mnemo__auth_free(s->auth);
    mnemo__metrics_free(s->metrics);
    mnemo__free(s);
}
