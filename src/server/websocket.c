/*
 * websocket.c — `GET /v1/embeddings/ws`: a WebSocket (RFC 6455) for a client
 * that sends many embedding requests over one connection. The handshake
 * (Sec-WebSocket-Accept), then on the upgraded socket: client frames
 * (masked; text; fragmented messages joined; ping/pong; close) read with the
 * body limit, each text message handled as a POST /v1/embeddings body and
 * answered with one text message (its response or error JSON), in order.
 * Not compression extensions, not binary messages (refused with 1003).
 * The frames themselves are read by websocket_frame.c, over bytes only.
 */
#include "server.h"
#include "websocket.h"

#include <errno.h>
#include <microhttpd.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

typedef struct ws {
    mnemo_request tmpl; /* ids, client, config of the upgrade request */
    int fd;
    unsigned char *buf; /* bytes received, not yet a whole frame */
    size_t len, cap;
    mnemo_ws_message msg; /* the message being assembled from fragments */
    unsigned long count;
} ws;

static bool send_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
        if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            if (poll(&pf, 1, 5000) <= 0) return false;
            continue;
        }
        if (k <= 0) return false;
        c += k;
        n -= (size_t)k;
    }
    return true;
}

/* One unmasked frame (servers do not mask). */
static bool send_frame(int fd, int opcode, const void *p, size_t n) {
    unsigned char h[10];
    size_t hl = mnemo__ws_frame_header(opcode, n, h);
    return send_all(fd, h, hl) && (n == 0 || send_all(fd, p, n));
}

static void send_close(int fd, unsigned code, const char *why) {
    unsigned char p[128] = {(unsigned char)(code >> 8), (unsigned char)code};
    size_t n = strlen(why) < sizeof p - 2 ? strlen(why) : sizeof p - 2;
    memcpy(p + 2, why, n);
    send_frame(fd, 0x8, p, n + 2);
}

/* Handles one text message as POST /v1/embeddings and sends the answer. */
static bool handle_message(ws *w) {
    mnemo_request r = w->tmpl;
    memset(&r.out, 0, sizeof r.out);
    snprintf(r.id, sizeof r.id, "%.30s-%lu", w->tmpl.id, ++w->count);
    r.t_start = mnemo__now();
    r.body = w->msg.text.p ? w->msg.text.p : "";
    r.body_len = w->msg.text.len;
    r.fd = w->fd;
    r.status = 0;
    int wait;
    mnemo_auth *auth = mnemo__server_auth(r.srv);
    if (!mnemo__rate_admit(auth, r.who, r.t_start, &wait)) {
        r.retry_after = wait;
        mnemo__reply_error(
            &r, 429, "rate_limit_error", NULL, "rate_limit_exceeded",
            "rate limit reached (--rate-limit-rpm / --rate-limit-tpm): retry in %d s", wait);
    } else {
        mnemo__route_openai_embeddings(&r);
        if (r.tokens) mnemo__rate_charge(auth, r.who, r.tokens, mnemo__now());
    }
    double total = mnemo__now() - r.t_start;
    mnemo__metrics_request(mnemo__server_metrics(r.srv), "/v1/embeddings/ws", r.status, total, &r);
    if (r.status >= 400 && r.reject_reason)
        mnemo__metrics_reject(mnemo__server_metrics(r.srv), r.reject_reason);
    mnemo__log(MNEMO_LOG_INFO, "ws.message",
               "id=%s client=%s status=%d inputs=%zu tokens=%zu ms=%.2f queue_ms=%.2f "
               "tokenize_ms=%.2f inference_ms=%.2f",
               r.id, r.client, r.status, r.inputs, r.tokens, total * 1e3, r.t_queue * 1e3,
               r.t_tokenize * 1e3, r.t_inference * 1e3);
    bool ok = r.status == 499 || (!r.out.failed && send_frame(w->fd, 0x1, r.out.p, r.out.len));
    mnemo__jsonw_free(&r.out);
    return ok && r.status != 499;
}

/* Handles the whole frames in w->buf. Returns false when the connection ends. */
static bool process_frames(ws *w, size_t max_message) {
    for (;;) {
        mnemo_ws_frame f;
        int rc = mnemo__ws_parse_frame(w->buf, w->len, max_message, &f);
        if (rc == MNEMO_WS_MORE) return true;
        if (rc == MNEMO_WS_FAIL) {
            send_close(w->fd, f.close_code, f.close_reason);
            return false;
        }
        unsigned char *p = w->buf + f.payload_at;
        mnemo__ws_unmask(p, f.payload_len, f.mask);
        unsigned code = 0;
        const char *why = "";
        bool keep = true;
        switch (mnemo__ws_take_frame(&w->msg, &f, p, max_message, &code, &why)) {
        case MNEMO_WS_TEXT: keep = handle_message(w); break;
        case MNEMO_WS_PING: keep = send_frame(w->fd, 0xA, p, f.payload_len); break;
        case MNEMO_WS_CLOSE: send_frame(w->fd, 0x8, p, f.payload_len >= 2 ? 2 : 0); return false;
        case MNEMO_WS_ERROR: send_close(w->fd, code, why); return false;
        default: break;
        }
        memmove(w->buf, w->buf + f.size, w->len - f.size);
        w->len -= f.size;
        if (!keep) return false;
    }
}

static void on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra,
                       size_t extra_n, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh) {
    ws *w = cls;
    w->fd = sock;
    const mnemo_server_config *cfg = w->tmpl.cfg;
    size_t max_message = cfg->max_body;
    bool alive = true;
    if (extra_n) {
        w->buf = mnemo__malloc(extra_n);
        if (w->buf) {
            memcpy(w->buf, extra, extra_n);
            w->len = w->cap = extra_n;
            alive = process_frames(w, max_message);
        } else
            alive = false;
    }
    double idle_until = mnemo__now() + 4.0 * cfg->connection_timeout;
    while (alive) {
        if (mnemo__server_stopping(w->tmpl.srv)) {
            send_close(sock, 1001, "the server is shutting down");
            break;
        }
        struct pollfd pf = {.fd = sock, .events = POLLIN};
        int pr = poll(&pf, 1, 100);
        if (pr == 0) {
            if (mnemo__now() > idle_until) {
                send_close(sock, 1000, "idle too long");
                break;
            }
            continue;
        }
        if (pr < 0 && errno == EINTR) continue;
        if (pr < 0 || (pf.revents & (POLLERR | POLLNVAL))) break;
        if (w->cap - w->len < 16384) {
            size_t cap = w->cap ? w->cap * 2 : 65536;
            if (cap > max_message + 4096 + 16384) cap = max_message + 4096 + 16384;
            if (cap <= w->len) {
                send_close(sock, 1009, "message larger than --max-body-kb");
                break;
            }
            unsigned char *p = mnemo__realloc(w->buf, cap);
            if (!p) break;
            w->buf = p;
            w->cap = cap;
        }
        ssize_t k = recv(sock, w->buf + w->len, w->cap - w->len, 0);
        if (k < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (k <= 0) break;
        w->len += (size_t)k;
        idle_until = mnemo__now() + 4.0 * cfg->connection_timeout;
        alive = process_frames(w, max_message);
    }
    mnemo__free(w->buf);
    mnemo__jsonw_free(&w->msg.text);
    mnemo__free(w);
    MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

static bool header_has(mnemo_request *r, const char *name, const char *token) {
    const char *v = mnemo__request_header(r, name);
    if (!v) return false;
    for (const char *p = v; *p; p++)
        if (!strncasecmp(p, token, strlen(token))) return true;
    return false;
}

void mnemo__route_websocket(mnemo_request *r) {
    const char *key = mnemo__request_header(r, "Sec-WebSocket-Key");
    if (!header_has(r, "Upgrade", "websocket") || !header_has(r, "Connection", "upgrade") || !key ||
        strlen(key) != 24) {
        mnemo__reply_error(
            r, 400, "invalid_request_error", NULL, "not_websocket",
            "this route is a WebSocket (RFC 6455): send Upgrade: websocket, "
            "Connection: Upgrade, Sec-WebSocket-Version: 13 and a Sec-WebSocket-Key");
        return;
    }
    const char *version = mnemo__request_header(r, "Sec-WebSocket-Version");
    if (!version || strcmp(version, "13")) {
        mnemo__reply_error(r, 426, "invalid_request_error", NULL, "websocket_version",
                           "only WebSocket version 13 is spoken (Sec-WebSocket-Version: 13)");
        return;
    }
    char joined[64], accept[32];
    unsigned char digest[20];
    snprintf(joined, sizeof joined, "%s" WS_GUID, key);
    mnemo__sha1(joined, strlen(joined), digest);
    mnemo__base64_encode(digest, sizeof digest, accept);
    ws *w = mnemo__calloc(1, sizeof *w);
    struct MHD_Response *resp = w ? MHD_create_response_for_upgrade(on_upgrade, w) : NULL;
    if (!resp) {
        mnemo__free(w);
        mnemo__reply_error(r, 503, "server_error", NULL, "out_of_memory", "out of memory");
        return;
    }
    w->tmpl = *r;
    memset(&w->tmpl.out, 0, sizeof w->tmpl.out);
    w->tmpl.conn = NULL;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "websocket");
    MHD_add_response_header(resp, "Sec-WebSocket-Accept", accept);
    r->status = 101;
    r->stream_response = resp;
}
