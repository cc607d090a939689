/*
 * embed_request.c — what every embedding route shares: reading `input` in
 * its accepted shapes (a string, strings, token ids, lists of token ids)
 * within the limits, the dimension, prompt and encoding fields, the call to
 * the service with the request's deadline and cancellation, the mapping of
 * its errors to HTTP statuses, and writing one vector (float JSON, base64,
 * or sentence-transformers' int8/uint8/binary/ubinary quantizations).
 * The response shapes are the routes'.
 */
#include "server.h"

#include <math.h>
#include <string.h>

void mnemo__embed_call_init(mnemo_request *r, mnemo_embed_call *c) {
    memset(c, 0, sizeof *c);
    c->truncate = true;
    c->normalize = true;
    c->width = c->dim = r->svc ? mnemo_model_dim(mnemo__service_model(r->svc)) : 0;
}

void mnemo__embed_call_free(mnemo_embed_call *c) {
    mnemo__free(c->inputs);
    mnemo__free(c->id_store);
    mnemo__free(c->vectors);
    mnemo__free(c->n_tokens);
    memset(c, 0, sizeof *c);
}

static size_t utf8_chars(const char *s, size_t n) {
    size_t chars = 0;
    for (size_t i = 0; i < n; i++) chars += ((unsigned char)s[i] & 0xC0) != 0x80;
    return chars;
}

static bool is_id_list(json_t *v) {
    if (!json_is_array(v) || json_array_size(v) == 0) return false;
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) if (!json_is_integer(x)) return false;
    return true;
}

int mnemo__embed_parse_input(mnemo_request *r, json_t *input, const char *param, bool allow_ids,
                             mnemo_embed_call *c) {
    const mnemo_server_config *cfg = r->cfg;
    if (!input || json_is_null(input)) {
        mnemo__reply_error(r, 400, "invalid_request_error", param, "missing_input",
                           "'%s' is required: a string or an array of strings%s", param,
                           allow_ids ? " (or of token ids)" : "");
        return -1;
    }
    json_t *one = NULL;
    size_t n;
    if (json_is_string(input) || is_id_list(input)) {
        one = input;
        n = 1;
    } else if (json_is_array(input)) {
        n = json_array_size(input);
        if (n == 0) {
            mnemo__reply_error(r, 400, "invalid_request_error", param, "empty_input",
                               "'%s' is an empty array: send at least one input", param);
            return -1;
        }
    } else {
        mnemo__reply_error(r, 400, "invalid_request_error", param, "invalid_input",
                           "'%s' must be a string or an array of strings%s, not %s", param,
                           allow_ids ? " (or of token ids)" : "",
                           json_is_object(input)   ? "an object"
                           : json_is_number(input) ? "a number"
                                                   : "a boolean");
        return -1;
    }
    if (n > cfg->max_inputs) {
        mnemo__reply_error(r, 400, "invalid_request_error", param, "too_many_inputs",
                           "'%s' has %zu inputs; at most %zu are taken per request "
                           "(--max-inputs): split it into several requests",
                           param, n, cfg->max_inputs);
        return -1;
    }
    c->inputs = mnemo__calloc(n, sizeof *c->inputs);
    size_t n_ids = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *v = one ? one : json_array_get(input, i);
        if (json_is_array(v)) n_ids += json_array_size(v);
    }
    c->id_store = n_ids ? mnemo__malloc_array(n_ids, sizeof(int64_t)) : NULL;
    if (!c->inputs || (n_ids && !c->id_store)) {
        mnemo__reply_error(r, 503, "server_error", NULL, "out_of_memory", "out of memory");
        return -1;
    }
    c->n = n;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *v = one ? one : json_array_get(input, i);
        mnemo_service_input *in = &c->inputs[i];
        if (json_is_string(v)) {
            in->text = json_string_value(v);
            in->len = json_string_length(v);
            size_t chars = utf8_chars(in->text, in->len);
            if (in->len == 0) {
                mnemo__reply_error(r, 400, "invalid_request_error", param, "empty_input",
                                   "'%s'[%zu] is an empty string: every input needs text", param,
                                   i);
                return -1;
            }
            if (chars > cfg->max_input_chars) {
                mnemo__reply_error(r, 400, "invalid_request_error", param, "input_too_long",
                                   "'%s'[%zu] has %zu characters; at most %zu are taken "
                                   "(--max-input-chars): shorten or split it",
                                   param, i, chars, cfg->max_input_chars);
                return -1;
            }
        } else if (allow_ids && is_id_list(v)) {
            size_t k = json_array_size(v);
            if (k > cfg->max_input_chars) {
                mnemo__reply_error(r, 400, "invalid_request_error", param, "input_too_long",
                                   "'%s'[%zu] has %zu token ids; at most %zu are taken "
                                   "(--max-input-chars)",
                                   param, i, k, cfg->max_input_chars);
                return -1;
            }
            in->ids = c->id_store + used;
            in->n_ids = k;
            for (size_t j = 0; j < k; j++)
                c->id_store[used++] = (int64_t)json_integer_value(json_array_get(v, j));
        } else {
            mnemo__reply_error(r, 400, "invalid_request_error", param, "invalid_input",
                               "'%s'[%zu] must be a %s, like the other inputs", param, i,
                               allow_ids ? "string or an array of token ids (integers)"
                                         : "non-empty string");
            return -1;
        }
    }
    r->inputs = n;
    return 0;
}

int mnemo__embed_parse_dim(mnemo_request *r, json_t *v, const char *param, mnemo_embed_call *c) {
    size_t width = mnemo_model_dim(mnemo__service_model(r->svc));
    if (!v || json_is_null(v)) {
        c->dim = width;
        return 0;
    }
    json_int_t d = json_is_integer(v) ? json_integer_value(v) : -1;
    if (d < 1 || (size_t)d > width) {
        mnemo__reply_error(r, 400, "invalid_request_error", param, "invalid_dimensions",
                           "'%s' must be an integer 1..%zu (the trained Matryoshka sizes are "
                           "768, 512, 256, 128)",
                           param, width);
        return -1;
    }
    c->dim = (size_t)d;
    return 0;
}

int mnemo__embed_parse_prompt(mnemo_request *r, json_t *name, const char *name_param, json_t *text,
                              const char *text_param, mnemo_embed_call *c) {
    if (name && !json_is_null(name) && !json_is_string(name)) {
        mnemo__reply_error(r, 400, "invalid_request_error", name_param, "invalid_prompt",
                           "'%s' must be a string: a prompt name of the model", name_param);
        return -1;
    }
    if (text && !json_is_null(text) && !json_is_string(text)) {
        mnemo__reply_error(r, 400, "invalid_request_error", text_param, "invalid_prompt",
                           "'%s' must be a string: the prompt text to prepend", text_param);
        return -1;
    }
    c->prompt_name = json_is_string(name) ? json_string_value(name) : NULL;
    c->prompt_text = json_is_string(text) ? json_string_value(text) : NULL;
    if (c->prompt_text && strlen(c->prompt_text) != json_string_length(text)) {
        mnemo__reply_error(r, 400, "invalid_request_error", text_param, "invalid_prompt",
                           "'%s' must not contain NUL characters", text_param);
        return -1;
    }
    mnemo_embed_options eo = {c->prompt_name, c->prompt_text, 0, 0};
    const char *resolved;
    mnemo_error err;
    if (mnemo_embed_prompt(mnemo__service_model(r->svc), &eo, &resolved, &err)) {
        mnemo__reply_error(r, 400, "invalid_request_error", name_param, "unknown_prompt", "%s",
                           err.message);
        return -1;
    }
    return 0;
}

int mnemo__embed_parse_bool(mnemo_request *r, json_t *v, const char *param, bool *out) {
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v)) {
        mnemo__reply_error(r, 400, "invalid_request_error", param, "invalid_type",
                           "'%s' must be true or false", param);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

int mnemo__embed_parse_encoding(mnemo_request *r, json_t *v, const char *param,
                                mnemo_embed_call *c) {
    static const char *const names[] = {"float", "base64", "int8", "uint8", "binary", "ubinary"};
    c->encoding = MNEMO_ENC_FLOAT;
    if (!v || json_is_null(v)) return 0;
    for (size_t i = 0; json_is_string(v) && i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(json_string_value(v), names[i])) {
            c->encoding = (mnemo_encoding)i;
            return 0;
        }
    mnemo__reply_error(r, 400, "invalid_request_error", param, "invalid_encoding_format",
                       "'%s' must be one of float, base64, int8, uint8, binary, ubinary", param);
    return -1;
}

int mnemo__embed_parse_encodings(mnemo_request *r, json_t *root, mnemo_embed_call *c) {
    json_t *format = json_object_get(root, "encoding_format");
    json_t *types = json_object_get(root, "embedding_types");
    /* encoding_format is checked even when embedding_types is there too */
    if (mnemo__embed_parse_encoding(r, format, "encoding_format", c)) return -1;
    if (!types || json_is_null(types)) return 0;
    mnemo_encoding from_format = c->encoding;
    /* Cohere-style embedding_types: one type, as a string or a one-element list */
    if (json_is_array(types) && json_array_size(types) == 1) types = json_array_get(types, 0);
    if (!json_is_string(types)) {
        mnemo__reply_error(r, 400, "invalid_request_error", "embedding_types",
                           "invalid_encoding_format",
                           "'embedding_types' must be one type (a string or a list of one) of "
                           "float, base64, int8, uint8, binary, ubinary");
        return -1;
    }
    if (mnemo__embed_parse_encoding(r, types, "embedding_types", c)) return -1;
    if (format && !json_is_null(format) && c->encoding != from_format) {
        mnemo__reply_error(
            r, 400, "invalid_request_error", "embedding_types", "invalid_encoding_format",
            "'encoding_format' and 'embedding_types' name different types: give one of them");
        return -1;
    }
    return 0;
}

int mnemo__embed_run(mnemo_request *r, mnemo_embed_call *c) {
    size_t width = mnemo_model_dim(mnemo__service_model(r->svc));
    c->vectors = mnemo__malloc_array(c->n, width * sizeof(float));
    c->n_tokens = mnemo__calloc(c->n, sizeof *c->n_tokens);
    if (!c->vectors || !c->n_tokens) {
        mnemo__reply_error(r, 503, "server_error", NULL, "out_of_memory", "out of memory");
        return -1;
    }
    c->res.vectors = c->vectors;
    c->res.n_tokens = c->n_tokens;
    mnemo_service_request q = {.inputs = c->inputs,
                               .n = c->n,
                               .prompt_name = c->prompt_name,
                               .prompt_text = c->prompt_text,
                               .no_truncate = !c->truncate,
                               .truncate_left = c->truncate_left,
                               .deadline = r->t_start + r->cfg->timeout,
                               .gone = mnemo__request_gone,
                               .gone_arg = r};
    mnemo_error err;
    int rc = mnemo__service_embed(r->svc, &q, &c->res, &err);
    r->t_queue = c->res.queue;
    r->t_tokenize = c->res.tokenize;
    r->t_inference = c->res.inference;
    r->embedded = true;
    if (rc == MNEMO_OK) {
        r->tokens = c->res.total_tokens;
        return 0;
    }
    mnemo__embed_report(r, c, rc, &err);
    return -1;
}

void mnemo__embed_report(mnemo_request *r, const mnemo_embed_call *c, int rc,
                         const mnemo_error *e) {
    const mnemo_error err = *e;
    switch (rc) {
    case MNEMO_EINVAL:
    case MNEMO_EUTF8:
    case MNEMO_ERANGE:
        mnemo__reply_error(r, 400, "invalid_request_error", "input", "invalid_input", "%s",
                           err.message);
        break;
    case MNEMO_ETOOBIG:
        mnemo__reply_error(r, r->api == MNEMO_API_TEI ? 413 : 400, "invalid_request_error", "input",
                           "input_too_long", "%s", err.message);
        break;
    case MNEMO_EBUSY:
        r->retry_after = mnemo__batcher_retry_after(mnemo__service_batcher(r->svc));
        mnemo__reply_error(r, 429, "rate_limit_error", NULL, "queue_full", "%s", err.message);
        break;
    case MNEMO_ETIMEDOUT:
        r->retry_after = mnemo__batcher_retry_after(mnemo__service_batcher(r->svc));
        mnemo__reply_error(r, c->res.started ? 504 : 503, "server_error", NULL, "timeout", "%s",
                           err.message);
        break;
    case MNEMO_ECANCELED:
        r->status = 499; /* nginx's "client closed request": nothing is sent */
        r->reject_reason = "client_closed";
        break;
    case MNEMO_ENOMEM:
        r->retry_after = 1;
        mnemo__reply_error(r, 503, "server_error", NULL, "out_of_memory", "%s", err.message);
        break;
    default: mnemo__reply_error(r, 500, "server_error", NULL, "internal_error", "%s", err.message);
    }
}

/* ------------------------------------------------------------ encodings */

static void write_base64(mnemo_jsonw *w, const unsigned char *p, size_t n) {
    char chunk[65]; /* 48 bytes at a time */
    mnemo__jsonw_char(w, '"');
    for (size_t i = 0; i < n; i += 48)
        mnemo__jsonw_raw(w, chunk, mnemo__base64_encode(p + i, n - i < 48 ? n - i : 48, chunk));
    mnemo__jsonw_char(w, '"');
}

/*
 * int8/uint8 as sentence-transformers' quantize_embeddings: value ->
 * (value - start) / step, step = (max - min) / 255, as uint8 (int8: minus
 * 128). ST takes min/max per dimension from calibration embeddings; mnemo
 * uses one fixed range for every dimension, [-c, c] with c = 4 / sqrt(dim)
 * (four standard deviations of a component of a random unit vector, so a
 * value outside is rare), clipped there instead of wrapping.
 */
static void write_quantized(mnemo_jsonw *w, const float *v, size_t dim, mnemo_encoding e) {
    mnemo__jsonw_char(w, '[');
    if (e == MNEMO_ENC_INT8 || e == MNEMO_ENC_UINT8) {
        double c = 4.0 / sqrt((double)dim);
        if (c > 1) c = 1;
        double step = 2 * c / 255;
        for (size_t d = 0; d < dim; d++) {
            double q = floor(((double)v[d] + c) / step);
            long u = q < 0 ? 0 : q > 255 ? 255 : (long)q;
            if (d) mnemo__jsonw_char(w, ',');
            mnemo__jsonw_int(w, e == MNEMO_ENC_INT8 ? u - 128 : u);
        }
    } else { /* binary: numpy packbits(v > 0), big-endian bit order; binary = ubinary - 128 */
        for (size_t b = 0; b < (dim + 7) / 8; b++) {
            unsigned byte = 0;
            for (size_t k = 0; k < 8; k++) {
                size_t d = b * 8 + k;
                if (d < dim && v[d] > 0) byte |= 0x80u >> k;
            }
            if (b) mnemo__jsonw_char(w, ',');
            mnemo__jsonw_int(w, e == MNEMO_ENC_BINARY ? (long long)byte - 128 : (long long)byte);
        }
    }
    mnemo__jsonw_char(w, ']');
}

void mnemo__embed_write_vector(mnemo_jsonw *w, const mnemo_embed_call *c, size_t i) {
    float stack[1024], *v = c->width <= 1024 ? stack : mnemo__malloc_array(c->width, sizeof(float));
    if (!v) {
        w->failed = true;
        return;
    }
    const float *full = c->vectors + i * c->width;
    if (c->normalize)
        mnemo__embed_matryoshka(full, c->width, c->dim, v);
    else
        memcpy(v, full, c->dim * sizeof(float));
    if (c->encoding == MNEMO_ENC_FLOAT) {
        mnemo__jsonw_char(w, '[');
        for (size_t d = 0; d < c->dim; d++) {
            if (d) mnemo__jsonw_char(w, ',');
            mnemo__jsonw_float(w, v[d]);
        }
        mnemo__jsonw_char(w, ']');
    } else if (c->encoding == MNEMO_ENC_BASE64) {
        /* OpenAI's base64: the float32 values' little-endian bytes */
        unsigned char *bytes = (unsigned char *)v;
        for (size_t d = 0; d < c->dim; d++) {
            uint32_t u;
            memcpy(&u, &v[d], 4);
            bytes[4 * d] = (unsigned char)u;
            bytes[4 * d + 1] = (unsigned char)(u >> 8);
            bytes[4 * d + 2] = (unsigned char)(u >> 16);
            bytes[4 * d + 3] = (unsigned char)(u >> 24);
        }
        write_base64(w, bytes, c->dim * 4);
    } else {
        write_quantized(w, v, c->dim, c->encoding);
    }
    if (v != stack) mnemo__free(v);
}

int mnemo__embed_check_model(mnemo_request *r, json_t *v, const char *param) {
    if (!v || json_is_null(v)) return 0;
    const char *name = r->cfg->model_name;
    if (json_is_string(v)) {
        const char *m = json_string_value(v);
        size_t n = strlen(name);
        /* Ollama's clients add a tag: "name:latest" */
        if (!strcmp(m, name) || (!strncmp(m, name, n) && !strcmp(m + n, ":latest"))) return 0;
    }
    char got[80];
    snprintf(got, sizeof got, "%s", json_is_string(v) ? json_string_value(v) : "(not a string)");
    mnemo__reply_error(
        r, 404, "invalid_request_error", param, "model_not_found",
        "The model '%s' does not exist: this server serves '%s' (see GET /v1/models)", got, name);
    return -1;
}
