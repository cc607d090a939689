/*
 * stream.c — NDJSON streaming of an embedding request (Accept:
 * application/x-ndjson): a chunked response whose reader, on the
 * connection's own thread, waits for the next results of the request's
 * forward passes (mnemo__service_next) and writes one line per embedding as
 * it arrives. Not the parsing (embed_request.c) nor the WebSocket route.
 */
#include "server.h"

#include <microhttpd.h>
#include <string.h>

typedef struct stream {
    mnemo_request *r; /* valid while MHD calls the reader: the request is in progress */
    json_t *root;
    mnemo_embed_call c;
    mnemo_service_request q;
    mnemo_service_call *call;
    size_t *done;
    mnemo_jsonw buf;
    size_t pos;
    bool finished, ended;
} stream;

static void write_line(stream *st, size_t i) {
    mnemo_jsonw *w = &st->buf;
    MNEMO_JSONW_LIT(w, "{\"object\":\"embedding\",\"index\":");
    mnemo__jsonw_int(w, (long long)i);
    MNEMO_JSONW_LIT(w, ",\"embedding\":");
    mnemo__embed_write_vector(w, &st->c, i);
    MNEMO_JSONW_LIT(w, "}\n");
}

static void write_end(stream *st) {
    mnemo_jsonw *w = &st->buf;
    const char *name = st->r->cfg->model_name;
    MNEMO_JSONW_LIT(w, "{\"object\":\"usage\",\"model\":");
    mnemo__jsonw_string(w, name, strlen(name));
    MNEMO_JSONW_LIT(w, ",\"usage\":{\"prompt_tokens\":");
    mnemo__jsonw_int(w, (long long)st->c.res.total_tokens);
    MNEMO_JSONW_LIT(w, ",\"total_tokens\":");
    mnemo__jsonw_int(w, (long long)st->c.res.total_tokens);
    MNEMO_JSONW_LIT(w, "}}\n");
}

static void write_error(stream *st, int rc, const mnemo_error *err) {
    mnemo_jsonw *w = &st->buf;
    const char *code = rc == MNEMO_ETIMEDOUT ? "timeout" : "internal_error";
    MNEMO_JSONW_LIT(w, "{\"error\":{\"message\":");
    mnemo__jsonw_string(w, err->message, strlen(err->message));
    MNEMO_JSONW_LIT(w, ",\"type\":\"server_error\",\"param\":null,\"code\":");
    mnemo__jsonw_string(w, code, strlen(code));
    MNEMO_JSONW_LIT(w, "}}\n");
}

static ssize_t reader(void *cls, uint64_t offset, char *out, size_t max) {
    stream *st = cls;
    while (st->pos == st->buf.len) {
        if (st->ended) return MHD_CONTENT_READER_END_OF_STREAM;
        mnemo__jsonw_reset(&st->buf);
        st->pos = 0;
        if (st->finished) {
            write_end(st);
            st->ended = true;
            continue;
        }
        /* Blocking here is allowed: one thread per connection. */
        size_t n = 0;
        bool finished = false;
        mnemo_error err;
        int rc = mnemo__service_next(st->call, st->done, &n, &finished, &err);
        for (size_t k = 0; k < n; k++) write_line(st, st->done[k]);
        st->finished = finished;
        if (rc == MNEMO_ECANCELED) return MHD_CONTENT_READER_END_WITH_ERROR;
        if (rc) {
            write_error(st, rc, &err);
            st->ended = true;
        }
        if (st->buf.failed) return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = st->buf.len - st->pos;
    if (n > max) n = max;
    memcpy(out, st->buf.p + st->pos, n);
    st->pos += n;
    return (ssize_t)n;
}

static void stream_free(void *cls) {
    stream *st = cls;
    mnemo__service_end(st->call); /* drops what is unfinished if the client left */
    mnemo__embed_call_free(&st->c);
    json_decref(st->root);
    mnemo__jsonw_free(&st->buf);
    mnemo__free(st->done);
    mnemo__free(st);
}

int mnemo__embed_stream(mnemo_request *r, json_t *root, mnemo_embed_call *c) {
    size_t width = c->width;
    stream *st = mnemo__calloc(1, sizeof *st);
    float *vectors = mnemo__malloc_array(c->n, width * sizeof(float));
    size_t *n_tokens = mnemo__calloc(c->n, sizeof *n_tokens),
           *done = mnemo__calloc(c->n, sizeof *done);
    if (!st || !vectors || !n_tokens || !done) {
        mnemo__free(st);
        mnemo__free(vectors);
        mnemo__free(n_tokens);
        mnemo__free(done);
        mnemo__reply_error(r, 503, "server_error", NULL, "out_of_memory", "out of memory");
        return -1;
    }
    st->r = r;
    st->c = *c;
    st->c.vectors = st->c.res.vectors = vectors;
    st->c.n_tokens = st->c.res.n_tokens = n_tokens;
    st->done = done;
    st->q = (mnemo_service_request){.inputs = st->c.inputs,
                                    .n = st->c.n,
                                    .prompt_name = st->c.prompt_name,
                                    .prompt_text = st->c.prompt_text,
                                    .no_truncate = !st->c.truncate,
                                    .truncate_left = st->c.truncate_left,
                                    .deadline = r->t_start + r->cfg->timeout,
                                    .gone = mnemo__request_gone,
                                    .gone_arg = r};
    mnemo_error err;
    int rc = mnemo__service_begin(r->svc, &st->q, &st->c.res, &st->call, &err);
    r->embedded = true;
    if (rc) {
        /* the same errors as a whole response: the caller keeps root and c */
        mnemo__free(vectors);
        mnemo__free(n_tokens);
        mnemo__free(done);
        mnemo__free(st);
        c->vectors = NULL;
        mnemo__embed_report(r, c, rc, &err);
        return -1;
    }
    r->t_tokenize = st->c.res.tokenize;
    r->tokens = st->c.res.total_tokens;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, reader, st, stream_free);
    if (!resp) {
        stream_free(st); /* frees root and the call's parts: the caller must not */
        memset(c, 0, sizeof *c);
        mnemo__reply_error(r, 503, "server_error", NULL, "out_of_memory", "out of memory");
        return -1;
    }
    st->root = root;
    memset(c, 0, sizeof *c);
    r->status = 200;
    r->content_type = "application/x-ndjson";
    r->stream_response = resp;
    return 0;
}
