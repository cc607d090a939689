/*
 * server.h — the internal header of the server part: the HTTP server of
 * `mnemo serve` (libmicrohttpd, http.c), the request as routes see it, the
 * routes (OpenAI, TEI, Ollama: routes_*.c), the embedding request logic they
 * share (embed_request.c), API keys and rate limits (auth.c) and the
 * Prometheus metrics (metrics.c). The CLI calls only the mnemo__server_*
 * functions; the model runs in src/embed's service, never on HTTP threads.
 */
#ifndef MNEMO_SERVER_H
#define MNEMO_SERVER_H

#include "../core/jsonw.h"
#include "../service/service.h"
#include "../store/store_api.h"

#include <jansson.h>

/* A string literal into a JSON writer, its length counted by the compiler. */
#define MNEMO_JSONW_LIT(w, lit) mnemo__jsonw_raw((w), (lit), sizeof(lit) - 1)

/* ----------------------------------------------------------- the server */

typedef struct mnemo_server_config {
    const char *host;
    int port;
    const char *model_name; /* what clients send as "model" and see back */
    size_t max_inputs, max_input_chars, max_body;
    double timeout; /* seconds per request */
    unsigned max_connections, max_connections_per_ip, connection_timeout;
    const char *api_key, *api_key_file;
    long rate_rpm, rate_tpm;
    size_t max_batch_tokens; /* for /info */
    double started;          /* wall-clock seconds, for /v1/models "created" */
    const char *model_path;  /* --model: Ollama's /api/tags reads the weight files' sizes */
    const char *backup_dir;  /* --backup-dir: POST /v1/admin/backup writes there; NULL: off */
} mnemo_server_config;

typedef struct mnemo_server mnemo_server;

/* Starts listening (every route answers; embedding routes and /health say
 * 503 until mnemo__server_set_service). Errors: EINVAL (bad address or
 * settings), EIO (cannot listen; the message names the address). */
int mnemo__server_start(const mnemo_server_config *cfg, mnemo_server **out, mnemo_error *err);
/* The port actually listened on (for --port 0). */
int mnemo__server_port(const mnemo_server *s);
/* The model is loaded and warmed: serve it. load_seconds goes to /metrics. */
void mnemo__server_set_service(mnemo_server *s, mnemo_service *svc, double load_seconds);
/* The memory store the /v1/memories and /mcp routes use (call before
 * mnemo__server_set_service; NULL: those routes answer 503 saying to pass
 * --data-dir). The caller closes it after mnemo__server_stop. */
void mnemo__server_set_store(mnemo_server *s, struct mnemo_store *store);
/* The batch observer for the service (metrics of every forward pass). */
void mnemo__server_observe_batch(void *server, size_t n_seqs, size_t n_tokens, size_t n_jobs,
                                 double seconds);
/* For the WebSocket loop: the server is stopping; the server's parts. */
bool mnemo__server_stopping(const mnemo_server *s);
struct mnemo_auth *mnemo__server_auth(mnemo_server *s);
struct mnemo_metrics *mnemo__server_metrics(mnemo_server *s);
/* Graceful stop: no new connections, wait (up to max_wait s) for requests in
 * flight, then close every connection. The metrics stay until
 * mnemo__server_free: close the service (whose worker reports to them) in
 * between. */
void mnemo__server_stop(mnemo_server *s, double max_wait);
void mnemo__server_free(mnemo_server *s);

/* ---------------------------------------------------- a request, for routes */

/* MNEMO_API_MEM0: mem0's platform API (routes_mem0.c), errors {"detail"}. */
typedef enum {
    MNEMO_API_OPENAI,
    MNEMO_API_TEI,
    MNEMO_API_OLLAMA,
    MNEMO_API_PLAIN,
    MNEMO_API_MEM0
} mnemo_api;

struct mnemo_store;
typedef struct mnemo_request {
    mnemo_server *srv;
    const mnemo_server_config *cfg;
    mnemo_service *svc;        /* NULL until the model is ready */
    struct mnemo_store *store; /* the memory store (--data-dir), NULL without one */
    const char *method, *url;  /* libmicrohttpd's, valid for the request */
    const char *route;
    mnemo_api api;
    void *conn; /* struct MHD_Connection */
    const char *body;
    size_t body_len;
    char id[48], client[64], who[80]; /* who: the rate-limit identity */
    const struct mnemo_grant
        *grant; /* the key's, when keys are configured; NULL: no keys, all allowed */
    double t_start;
    /* the response */
    int status;
    mnemo_jsonw out;
    const char *content_type;
    int retry_after;           /* > 0: a Retry-After header */
    bool close_after;          /* Connection: close (a connection over a limit) */
    const char *reject_reason; /* for metrics: why a request was refused */
    /* for Server-Timing, the log line and metrics */
    double t_queue, t_tokenize, t_inference;
    size_t tokens, inputs;
    bool embedded;
    void *stream_response; /* a struct MHD_Response of a streamed body, instead of out */
    int fd;                /* >= 0: the socket to watch for the client leaving (WebSocket) */
    const char *etag;      /* console.c's files: ETag, and the browser headers */
    bool page_headers;     /* Cache-Control, Content-Security-Policy, nosniff, ... */
    char allow[64];        /* a 405's Allow header: the methods the path answers */
} mnemo_request;

/* A request header's value, or NULL. */
const char *mnemo__request_header(mnemo_request *r, const char *name);
/* For the service: non-zero once the client has closed its connection. */
int mnemo__request_gone(void *request);
/* An error response in the route's API's shape: OpenAI
 * {"error":{"message","type","param","code"}}, TEI {"error","error_type"}
 * (400 becomes TEI's 422), Ollama {"error"}, mem0 {"detail"}. `code` also names the reason in
 * the rejected-requests metric. */
void mnemo__reply_error(mnemo_request *r, int status, const char *type, const char *param,
                        const char *code, const char *fmt, ...) MNEMO_PRINTF(6, 7);
/* The request body as JSON of an object, or NULL after replying 400. */
/* routes_memory.c: every method under /v1/memories, and POST /mcp. */
void mnemo__route_memories(mnemo_request *r);
void mnemo__route_mcp(mnemo_request *r);
/* POST /v1/admin/backup: a backup of the SQLite store into a new folder
 * under --backup-dir. */
void mnemo__route_backup(mnemo_request *r);
json_t *mnemo__request_json(mnemo_request *r);
/* routes_mem0.c: mem0's platform API (docs/http.md, "mem0 platform API"); http.c
 * sends it every URL for which mnemo__mem0_path is true (a path under /v1/,
 * /v2/ or /v3/ ending in "/"). */
void mnemo__route_mem0(mnemo_request *r);
bool mnemo__mem0_path(const char *url);

/* -------------------------------------------------------------- the routes */

void mnemo__route_openai_embeddings(mnemo_request *r);
void mnemo__route_openai_models(mnemo_request *r);
void mnemo__route_tei_embed(mnemo_request *r);
void mnemo__route_tei_tokenize(mnemo_request *r);
void mnemo__route_tei_decode(mnemo_request *r);
void mnemo__route_tei_info(mnemo_request *r);
void mnemo__route_ollama_embed(mnemo_request *r);
/* routes_tei.c: POST / (/embed, or /similarity by the body's shape),
 * /similarity, and /embed_all (424) */
void mnemo__route_tei_root(mnemo_request *r);
void mnemo__route_tei_similarity(mnemo_request *r);
void mnemo__route_tei_embed_all(mnemo_request *r);
/* routes_ollama.c: POST /api/embeddings, GET /api/tags, POST /api/show,
 * GET /api/version, GET /api/ps */
void mnemo__route_ollama_embeddings(mnemo_request *r);
void mnemo__route_ollama_tags(mnemo_request *r);
void mnemo__route_ollama_show(mnemo_request *r);
void mnemo__route_ollama_version(mnemo_request *r);
void mnemo__route_ollama_ps(mnemo_request *r);
void mnemo__route_websocket(mnemo_request *r);

/* ------------------------------------------- the shared embedding request */

typedef enum {
    MNEMO_ENC_FLOAT,
    MNEMO_ENC_BASE64,
    MNEMO_ENC_INT8,
    MNEMO_ENC_UINT8,
    MNEMO_ENC_BINARY,
    MNEMO_ENC_UBINARY
} mnemo_encoding;

typedef struct mnemo_embed_call {
    mnemo_service_input *inputs;
    size_t n;
    int64_t *id_store;                     /* backing of token-id inputs */
    const char *prompt_name, *prompt_text; /* borrowed from the request JSON */
    bool truncate, normalize, truncate_left;
    size_t width, dim; /* dim: 1..width */
    mnemo_encoding encoding;
    float *vectors; /* n * width, after mnemo__embed_run */
    size_t *n_tokens;
    mnemo_service_result res;
} mnemo_embed_call;

/* Each returns 0, or -1 after replying with the error. */
void mnemo__embed_call_init(mnemo_request *r, mnemo_embed_call *c);
int mnemo__embed_parse_input(mnemo_request *r, json_t *input, const char *param, bool allow_ids,
                             mnemo_embed_call *c);
int mnemo__embed_parse_dim(mnemo_request *r, json_t *v, const char *param, mnemo_embed_call *c);
int mnemo__embed_parse_prompt(mnemo_request *r, json_t *name, const char *name_param, json_t *text,
                              const char *text_param, mnemo_embed_call *c);
int mnemo__embed_parse_bool(mnemo_request *r, json_t *v, const char *param, bool *out);
int mnemo__embed_parse_encoding(mnemo_request *r, json_t *v, const char *param,
                                mnemo_embed_call *c);
/* `embedding_types` (one type) if given, else `encoding_format`. */
int mnemo__embed_parse_encodings(mnemo_request *r, json_t *root, mnemo_embed_call *c);
/* Runs the call through the service; maps its errors to HTTP statuses. */
int mnemo__embed_run(mnemo_request *r, mnemo_embed_call *c);
/* Replies with the HTTP status and message for a service error `rc`. */
void mnemo__embed_report(mnemo_request *r, const mnemo_embed_call *c, int rc,
                         const mnemo_error *err);
/* Streams the call as NDJSON (Accept: application/x-ndjson): one line
 * {"object":"embedding","index","embedding"} per input as soon as its pass
 * is done (cache hits first), then {"object":"usage","model","usage"}; an
 * error after the start is a last line {"error":{...}}. On success (0) the
 * stream owns `root` (one reference) and the call; on -1 (replied with the
 * error) the caller still does. */
int mnemo__embed_stream(mnemo_request *r, json_t *root, mnemo_embed_call *c);
/* Writes vector i as the call's encoding asks (JSON array, or base64 string). */
void mnemo__embed_write_vector(mnemo_jsonw *w, const mnemo_embed_call *c, size_t i);
void mnemo__embed_call_free(mnemo_embed_call *c);
/* `model` absent, or the served name (Ollama's "NAME:latest" too); else 404. */
int mnemo__embed_check_model(mnemo_request *r, json_t *v, const char *param);

/* ------------------------------------------------------- auth and limits */

typedef struct mnemo_auth mnemo_auth;
/* Roles, each allowing what the ones below it do: embed (the embedding
 * routes), read (memories: search, get, list, count, history), write (add,
 * update, delete), admin (backups). */
typedef enum {
    MNEMO_ROLE_EMBED = 1,
    MNEMO_ROLE_READ,
    MNEMO_ROLE_WRITE,
    MNEMO_ROLE_ADMIN
} mnemo_role;
/* What one key may do: its name (logs, metrics and messages name a key by
 * it, never by the key), role and namespaces, as the store checks them. */
typedef struct mnemo_grant {
    char name[64];
    mnemo_role role;
    mnemo_access access;
} mnemo_grant;
const char *mnemo__role_name(mnemo_role r);
/* --api-key (every namespace, admin) and --api-key-file, whose lines are
 * KEY [name=NAME] [namespaces=NS[,NS...]|*] [role=embed|read|write|admin]
 * (a plain KEY: every namespace, admin). */
int mnemo__auth_create(const char *key, const char *key_file, long rpm, long tpm, mnemo_auth **out,
                       mnemo_error *err);
/* Reads --api-key-file again (SIGHUP): the new keys answer from the next
 * request on; on an error the keys in force stay, and err says why. Grants
 * handed out before stay valid until mnemo__auth_free. */
int mnemo__auth_reload(mnemo_auth *a, mnemo_error *err);
void mnemo__auth_free(mnemo_auth *a);
size_t mnemo__auth_key_count(const mnemo_auth *a);
/* The grant of the key in `authorization` ("Bearer K", or "Token K" as
 * mem0's client sends it), compared in constant time against every key; NULL
 * when no key matches. */
const mnemo_grant *mnemo__auth_check(const mnemo_auth *a, const char *authorization);
/* 1 when `who` may make a request now (and takes it from its bucket); else
 * 0 and the seconds to wait in *retry_after. */
int mnemo__rate_admit(mnemo_auth *a, const char *who, double now, int *retry_after);
/* Charges the tokens a request used to `who`'s token bucket. */
void mnemo__rate_charge(mnemo_auth *a, const char *who, size_t tokens, double now);

/* The connection limits (conn_gate.c): a connection over one is accepted
 * and answered 503 with Retry-After, then closed, instead of reset. */
typedef struct mnemo_conn_gate mnemo_conn_gate;
typedef struct mnemo_conn_ticket mnemo_conn_ticket;
struct sockaddr;
int mnemo__conn_gate_create(unsigned max_total, unsigned max_per_ip, mnemo_conn_gate **out,
                            mnemo_error *err);
void mnemo__conn_gate_free(mnemo_conn_gate *g);
/* A connection from addr starts; NULL only when out of memory (then it is
 * treated as admitted). Hand the ticket to _leave when it closes. */
mnemo_conn_ticket *mnemo__conn_gate_enter(mnemo_conn_gate *g, const struct sockaddr *addr);
void mnemo__conn_gate_leave(mnemo_conn_gate *g, mnemo_conn_ticket *t);
/* The flag of the limit the connection is over ("--max-connections", ...)
 * and the limit, or NULL when it was admitted. */
const char *mnemo__conn_ticket_over(const mnemo_conn_ticket *t, unsigned *limit);
/* The client's address as text ("?" when unknown), formatted once when the
 * connection starts; NULL without a ticket. */
const char *mnemo__conn_ticket_client(const mnemo_conn_ticket *t);
/* A socket address's IP as text ("?" for another family or NULL). */
void mnemo__client_address(const struct sockaddr *sa, char *out, size_t cap);
/* Connections admitted now. */
unsigned mnemo__conn_gate_admitted(mnemo_conn_gate *g);
/* Connections accepted beyond --max-connections to be answered 503 (half as
 * many again, at least 32); past that libmicrohttpd closes them at accept. */
#define MNEMO_CONN_SPARE(max) ((max) / 2 > 32 ? (max) / 2 : 32)

/* ------------------------------------------------------------- metrics */

typedef struct mnemo_metrics mnemo_metrics;
int mnemo__metrics_create(mnemo_metrics **out, mnemo_error *err);
void mnemo__metrics_free(mnemo_metrics *m);
void mnemo__metrics_request(mnemo_metrics *m, const char *route, int status, double total,
                            const mnemo_request *r);
void mnemo__metrics_reject(mnemo_metrics *m, const char *reason);
void mnemo__metrics_batch(mnemo_metrics *m, size_t n_seqs, size_t n_tokens, size_t n_jobs,
                          double seconds);

typedef struct mnemo_metrics_gauges {
    long in_flight;
    unsigned connections; /* admitted by the connection limits */
    bool ready;
    double model_load_seconds;
    mnemo_batcher_stats queue;
    mnemo_cache_stats cache;
    uint64_t store_fills;        /* vectors the memory store put in the cache */
    mnemo_redis_stats redis;     /* enabled false without --cache-redis: not rendered */
    mnemo_cache_file_stats file; /* enabled false without --cache-file: not rendered */
} mnemo_metrics_gauges;
/* The Prometheus text exposition (version 0.0.4) of everything. */
void mnemo__metrics_render(mnemo_metrics *m, const mnemo_metrics_gauges *g, mnemo_jsonw *out);

/* ------------------------------------- the route list, console and status */

/* One operation the server answers: the method and its OpenAPI path
 * template ("/v1/memories/{id}"). */
typedef struct mnemo_route_op {
    const char *method, *path;
} mnemo_route_op;
/* Every operation, from the tables that dispatch them (http.c's routes and
 * routes_memory.c's operations): i = 0, 1, ... until it returns false. The
 * route-coverage test compares this list with openapi.json. */
bool mnemo__server_route(size_t i, mnemo_route_op *out);
/* routes_memory.c's operations under /v1/memories, which it dispatches. */
extern const mnemo_route_op mnemo__memory_ops[];
extern const size_t mnemo__memory_op_count;
/* routes_mem0.c's operations, which it dispatches. */
extern const mnemo_route_op mnemo__mem0_ops[];
extern const size_t mnemo__mem0_op_count;

/* The console's files, embedded at build time (cmake/embed_assets.cmake
 * from src/server/console/assets.txt). data[size] is a NUL. */
typedef struct mnemo_asset {
    const char *url, *content_type;
    const unsigned char *data;
    size_t size;
    const char *etag; /* quoted, as the header carries it */
} mnemo_asset;
extern const mnemo_asset mnemo__assets[];
extern const size_t mnemo__asset_count;
/* The asset at `url`, or NULL. */
const mnemo_asset *mnemo__asset_find(const char *url);
/* console.c: GET of an asset (200, or 304 for a matching If-None-Match). */
void mnemo__route_console(mnemo_request *r);
/* GET /v1/status: metrics.c's JSON of the numbers the console shows. */
typedef struct mnemo_status_info {
    const char *model_name, *precision, *kernels;
    size_t dimensions, max_tokens;
    double uptime;
    bool store, keys;
} mnemo_status_info;
void mnemo__metrics_status(mnemo_metrics *m, const mnemo_metrics_gauges *g,
                           const mnemo_status_info *info, mnemo_jsonw *out);

#endif
