/*
 * routes_tei.c — the routes of Hugging Face text-embeddings-inference, in its
 * shapes: `POST /embed` ({inputs, truncate, truncation_direction,
 * prompt_name, normalize, dimensions} -> [[f32]]), `POST /` (TEI's rule for
 * an embedding model: /embed; or /similarity when `inputs` is a
 * {source_sentence, sentences} object, as huggingface_hub's InferenceClient
 * sends both to its base URL), `POST /similarity` (-> [cosine per
 * sentence]), `POST /embed_all` (424: no per-token vectors, docs/http.md),
 * `POST /tokenize`, `POST /decode` and `GET /info`. Errors as TEI gives them
 * ({"error","error_type"}, 422 for validation). /health is in http.c.
 */
#include "server.h"

#include <math.h>
#include <string.h>

/* `truncation_direction` (absent: Right). 0, or -1 after replying. */
static int parse_direction(mnemo_request *r, json_t *dir, mnemo_embed_call *c) {
    bool right = json_is_string(dir) && !strcasecmp(json_string_value(dir), "right");
    c->truncate_left = json_is_string(dir) && !strcasecmp(json_string_value(dir), "left");
    if (dir && !json_is_null(dir) && !right && !c->truncate_left) {
        mnemo__reply_error(
            r, 400, "invalid_request_error", "truncation_direction", "invalid_input",
            "'truncation_direction' must be \"Right\" (the default: the first tokens "
            "and <eos>, as sentence-transformers) or \"Left\" (<bos> and the last "
            "tokens)");
        return -1;
    }
    return 0;
}

/* The fields of an /embed body into the call. 0, or -1 after replying. */
static int parse_embed(mnemo_request *r, json_t *root, mnemo_embed_call *c) {
    return parse_direction(r, json_object_get(root, "truncation_direction"), c) ||
                   mnemo__embed_parse_dim(r, json_object_get(root, "dimensions"), "dimensions",
                                          c) ||
                   mnemo__embed_parse_prompt(r, json_object_get(root, "prompt_name"), "prompt_name",
                                             json_object_get(root, "prompt"), "prompt", c) ||
                   mnemo__embed_parse_bool(r, json_object_get(root, "truncate"), "truncate",
                                           &c->truncate) ||
                   mnemo__embed_parse_bool(r, json_object_get(root, "normalize"), "normalize",
                                           &c->normalize) ||
                   mnemo__embed_parse_encodings(r, root, c) ||
                   mnemo__embed_parse_input(r, json_object_get(root, "inputs"), "inputs", true, c)
               ? -1
               : 0;
}

/* /embed of a parsed body; takes `root`. */
static void embed(mnemo_request *r, json_t *root) {
    mnemo_embed_call c;
    mnemo__embed_call_init(r, &c);
    if (parse_embed(r, root, &c) || mnemo__embed_run(r, &c)) goto out;
    mnemo_jsonw *w = &r->out;
    r->status = 200;
    mnemo__jsonw_char(w, '[');
    for (size_t i = 0; i < c.n; i++) {
        if (i) mnemo__jsonw_char(w, ',');
        mnemo__embed_write_vector(w, &c, i);
    }
    mnemo__jsonw_char(w, ']');
out:
    mnemo__embed_call_free(&c);
    json_decref(root);
}

void mnemo__route_tei_embed(mnemo_request *r) {
    json_t *root = mnemo__request_json(r);
    if (root) embed(r, root);
}

/* `inputs`' sentences, as one list: the source sentence first. NULL after
 * replying. */
static json_t *similarity_texts(mnemo_request *r, json_t *inputs) {
    json_t *source = json_object_get(inputs, "source_sentence");
    json_t *sentences = json_object_get(inputs, "sentences");
    if (!json_is_object(inputs) || !json_is_string(source) || !json_is_array(sentences)) {
        mnemo__reply_error(
            r, 400, "invalid_request_error", "inputs", "invalid_input",
            "'inputs' must be {\"source_sentence\": a string, \"sentences\": an array "
            "of strings}");
        return NULL;
    }
    if (json_array_size(sentences) == 0) {
        mnemo__reply_error(r, 400, "invalid_request_error", "inputs.sentences", "empty_input",
                           "'inputs.sentences' is an empty array: send at least one sentence to "
                           "compare with the source sentence");
        return NULL;
    }
    if (json_string_length(source) == 0) {
        mnemo__reply_error(
            r, 400, "invalid_request_error", "inputs.source_sentence", "empty_input",
            "'inputs.source_sentence' is an empty string: every sentence needs text");
        return NULL;
    }
    size_t i;
    json_t *v;
    json_array_foreach(sentences, i, v) if (!json_is_string(v) || json_string_length(v) == 0) {
        mnemo__reply_error(r, 400, "invalid_request_error", "inputs.sentences", "invalid_input",
                           "'inputs.sentences'[%zu] must be a non-empty string", i);
        return NULL;
    }
    json_t *all = json_array();
    if (!all || json_array_append(all, source)) goto oom;
    json_array_foreach(sentences, i, v) if (json_array_append(all, v)) goto oom;
    return all;
oom:
    json_decref(all);
    mnemo__reply_error(r, 503, "server_error", NULL, "out_of_memory", "out of memory");
    return NULL;
}

/*
 * TEI's /similarity: {"inputs": {"source_sentence", "sentences"},
 * "parameters": {"prompt_name", "truncate", "truncation_direction"}} (and
 * mnemo's "prompt" there) -> the cosine of the source sentence's vector with
 * each sentence's, in order. Takes `root`.
 */
static void similarity(mnemo_request *r, json_t *root) {
    mnemo_embed_call c;
    mnemo__embed_call_init(r, &c);
    json_t *texts = NULL, *params = json_object_get(root, "parameters");
    if (params && !json_is_null(params) && !json_is_object(params)) {
        mnemo__reply_error(r, 400, "invalid_request_error", "parameters", "invalid_type",
                           "'parameters' must be an object: prompt_name, truncate, "
                           "truncation_direction");
        goto out;
    }
    if (json_is_object(params) &&
        (parse_direction(r, json_object_get(params, "truncation_direction"), &c) ||
         mnemo__embed_parse_prompt(r, json_object_get(params, "prompt_name"),
                                   "parameters.prompt_name", json_object_get(params, "prompt"),
                                   "parameters.prompt", &c) ||
         mnemo__embed_parse_bool(r, json_object_get(params, "truncate"), "parameters.truncate",
                                 &c.truncate)))
        goto out;
    texts = similarity_texts(r, json_object_get(root, "inputs"));
    /* the limits (--max-inputs, --max-input-chars) count the source sentence as input 0 */
    if (!texts || mnemo__embed_parse_input(r, texts, "inputs", false, &c) ||
        mnemo__embed_run(r, &c))
        goto out;
    mnemo_jsonw *w = &r->out;
    const float *a = c.vectors;
    mnemo__jsonw_char(w, '[');
    for (size_t i = 1; i < c.n; i++) {
        const float *b = c.vectors + i * c.width;
        double dot = 0, na = 0, nb = 0;
        for (size_t d = 0; d < c.width; d++) {
            dot += (double)a[d] * b[d];
            na += (double)a[d] * a[d];
            nb += (double)b[d] * b[d];
        }
        if (i > 1) mnemo__jsonw_char(w, ',');
        mnemo__jsonw_float(w, na > 0 && nb > 0 ? (float)(dot / sqrt(na * nb)) : 0.0f);
    }
    mnemo__jsonw_char(w, ']');
    r->status = 200;
out:
    json_decref(texts);
    mnemo__embed_call_free(&c);
    json_decref(root);
}

void mnemo__route_tei_similarity(mnemo_request *r) {
    json_t *root = mnemo__request_json(r);
    if (root) similarity(r, root);
}

void mnemo__route_tei_root(mnemo_request *r) {
    json_t *root = mnemo__request_json(r);
    if (!root) return;
    json_t *inputs = json_object_get(root, "inputs");
    if (json_is_object(inputs))
        similarity(r, root);
    else
        embed(r, root);
}

/* No per-token vectors for now (docs/http.md, "TEI routes"). The body is
 * checked as /embed's (422 for what /embed would refuse); then TEI's answer
 * for what its backend cannot do: error_type "Backend", 424 (its router's
 * ErrorType -> StatusCode map). A 4xx: mnemo keeps 5xx for its own failures. */
void mnemo__route_tei_embed_all(mnemo_request *r) {
    json_t *root = mnemo__request_json(r);
    if (!root) return;
    mnemo_embed_call c;
    mnemo__embed_call_init(r, &c);
    int bad = parse_embed(r, root, &c);
    mnemo__embed_call_free(&c);
    json_decref(root);
    if (bad) return;
    static const char msg[] =
        "{\"error\":\"/embed_all (one vector per token) is not implemented by mnemo: POST /embed "
        "or POST / give one pooled vector per input\",\"error_type\":\"Backend\"}";
    r->status = 424;
    r->reject_reason = "not_implemented";
    mnemo__jsonw_reset(&r->out);
    MNEMO_JSONW_LIT(&r->out, msg);
}

/* One token as TEI shows it: id, text (the token's piece), special, and
 * start/stop byte offsets into prompt + input (0, 0 for special tokens). */
static void write_token(mnemo_jsonw *w, const mnemo_tokenizer *tok, int32_t id, size_t *offset) {
    size_t plen = 0;
    const char *piece = mnemo_tokenizer_piece(tok, id, &plen);
    bool special = mnemo_tokenizer_is_special(tok, id) != 0;
    size_t bytes = 0; /* its length in the text: "▁" is one space, "<0xNN>" one byte */
    if (!special && piece) {
        if (plen == 6 && !strncmp(piece, "<0x", 3) && piece[5] == '>')
            bytes = 1;
        else
            for (size_t i = 0; i < plen; i++)
                if (i + 2 < plen && !memcmp(piece + i, "\xe2\x96\x81", 3)) {
                    bytes++;
                    i += 2;
                } else {
                    bytes++;
                }
    }
    MNEMO_JSONW_LIT(w, "{\"id\":");
    mnemo__jsonw_int(w, id);
    MNEMO_JSONW_LIT(w, ",\"text\":");
    mnemo__jsonw_string(w, piece ? piece : "", piece ? plen : 0);
    if (special)
        MNEMO_JSONW_LIT(w, ",\"special\":true,\"start\":0,\"stop\":0}");
    else {
        MNEMO_JSONW_LIT(w, ",\"special\":false,\"start\":");
        mnemo__jsonw_int(w, (long long)*offset);
        MNEMO_JSONW_LIT(w, ",\"stop\":");
        mnemo__jsonw_int(w, (long long)(*offset + bytes));
        mnemo__jsonw_char(w, '}');
        *offset += bytes;
    }
}

void mnemo__route_tei_tokenize(mnemo_request *r) {
    json_t *root = mnemo__request_json(r);
    if (!root) return;
    mnemo_embed_call c;
    mnemo__embed_call_init(r, &c);
    bool add_special = true;
    char *joined = NULL;
    int32_t *ids = NULL;
    if (mnemo__embed_parse_bool(r, json_object_get(root, "add_special_tokens"),
                                "add_special_tokens", &add_special) ||
        mnemo__embed_parse_prompt(r, json_object_get(root, "prompt_name"), "prompt_name",
                                  json_object_get(root, "prompt"), "prompt", &c) ||
        mnemo__embed_parse_input(r, json_object_get(root, "inputs"), "inputs", false, &c))
        goto out;
    const mnemo_model *m = mnemo__service_model(r->svc);
    const mnemo_tokenizer *tok = mnemo_model_tokenizer(m);
    mnemo_embed_options eo = {c.prompt_name, c.prompt_text, 0, 0};
    const char *prompt = "";
    if (c.prompt_name || c.prompt_text) mnemo_embed_prompt(m, &eo, &prompt, NULL);
    size_t plen = strlen(prompt);
    mnemo_jsonw *w = &r->out;
    mnemo__jsonw_char(w, '[');
    for (size_t i = 0; i < c.n; i++) {
        size_t len = plen + c.inputs[i].len, n_ids;
        char *p = mnemo__realloc(joined, len + 1);
        size_t cap = mnemo_tokenizer_max_ids(tok, len);
        int32_t *q = p ? mnemo__realloc(ids, cap * sizeof *ids) : NULL;
        if (p) joined = p;
        if (q) ids = q;
        if (!p || !q) {
            mnemo__reply_error(r, 503, "server_error", NULL, "out_of_memory", "out of memory");
            goto out;
        }
        memcpy(joined, prompt, plen);
        memcpy(joined + plen, c.inputs[i].text, c.inputs[i].len);
        mnemo_error err;
        if (mnemo_tokenizer_encode(tok, joined, len, add_special ? 0 : MNEMO_ENCODE_NO_SPECIAL, ids,
                                   cap, &n_ids, &err)) {
            mnemo__reply_error(r, 400, "invalid_request_error", "inputs", "invalid_input",
                               "inputs[%zu]: %s", i, err.message);
            goto out;
        }
        r->tokens += n_ids;
        if (i) mnemo__jsonw_char(w, ',');
        mnemo__jsonw_char(w, '[');
        size_t offset = 0;
        for (size_t k = 0; k < n_ids; k++) {
            if (k) mnemo__jsonw_char(w, ',');
            write_token(w, tok, ids[k], &offset);
        }
        mnemo__jsonw_char(w, ']');
    }
    mnemo__jsonw_char(w, ']');
    r->status = 200;
out:
    mnemo__free(joined);
    mnemo__free(ids);
    mnemo__embed_call_free(&c);
    json_decref(root);
}

void mnemo__route_tei_decode(mnemo_request *r) {
    json_t *root = mnemo__request_json(r);
    if (!root) return;
    bool skip = true;
    json_t *ids = json_object_get(root, "ids");
    int32_t *buf = NULL;
    if (mnemo__embed_parse_bool(r, json_object_get(root, "skip_special_tokens"),
                                "skip_special_tokens", &skip))
        goto out;
    bool nested =
        json_is_array(ids) && json_array_size(ids) && json_is_array(json_array_get(ids, 0));
    size_t n = nested ? json_array_size(ids) : 1;
    if (!json_is_array(ids) || n > r->cfg->max_inputs) {
        mnemo__reply_error(r, 400, "invalid_request_error", "ids", "invalid_input",
                           "'ids' must be an array of token ids or of such arrays (at most %zu, "
                           "--max-inputs)",
                           r->cfg->max_inputs);
        goto out;
    }
    const mnemo_tokenizer *tok = mnemo_model_tokenizer(mnemo__service_model(r->svc));
    mnemo_jsonw *w = &r->out;
    mnemo__jsonw_char(w, '[');
    for (size_t i = 0; i < n; i++) {
        json_t *list = nested ? json_array_get(ids, i) : ids;
        size_t k = json_is_array(list) ? json_array_size(list) : 0;
        int32_t *p = mnemo__realloc(buf, (k ? k : 1) * sizeof *buf);
        if (!p) {
            mnemo__reply_error(r, 503, "server_error", NULL, "out_of_memory", "out of memory");
            goto out;
        }
        buf = p;
        for (size_t j = 0; j < k; j++) {
            json_t *x = json_array_get(list, j);
            json_int_t v = json_is_integer(x) ? json_integer_value(x) : -1;
            if (!json_is_integer(x) || v < 0 || v > INT32_MAX) {
                mnemo__reply_error(r, 400, "invalid_request_error", "ids", "invalid_input",
                                   "ids[%zu][%zu] is not a token id (a non-negative integer)", i,
                                   j);
                goto out;
            }
            buf[j] = (int32_t)v;
        }
        if (!json_is_array(list)) {
            mnemo__reply_error(r, 400, "invalid_request_error", "ids", "invalid_input",
                               "ids[%zu] is not an array of token ids", i);
            goto out;
        }
        char *text;
        size_t len;
        mnemo_error err;
        if (mnemo_tokenizer_decode(tok, buf, k, skip ? MNEMO_DECODE_SKIP_SPECIAL : 0, &text, &len,
                                   &err)) {
            mnemo__reply_error(r, 400, "invalid_request_error", "ids", "invalid_input",
                               "ids[%zu]: %s", i, err.message);
            goto out;
        }
        if (i) mnemo__jsonw_char(w, ',');
        mnemo__jsonw_string(w, text, len);
        mnemo_free(text);
    }
    mnemo__jsonw_char(w, ']');
    r->status = 200;
out:
    mnemo__free(buf);
    json_decref(root);
}

void mnemo__route_tei_info(mnemo_request *r) {
    const mnemo_model *m = mnemo__service_model(r->svc);
    const mnemo_server_config *cfg = r->cfg;
    mnemo_jsonw *w = &r->out;
    const char *prec = mnemo_model_precision(m);
    MNEMO_JSONW_LIT(w, "{\"model_id\":");
    mnemo__jsonw_string(w, cfg->model_name, strlen(cfg->model_name));
    MNEMO_JSONW_LIT(w, ",\"model_sha\":null,\"model_dtype\":");
    mnemo__jsonw_string(w, prec, strlen(prec));
    MNEMO_JSONW_LIT(w, ",\"model_type\":{\"embedding\":{\"pooling\":\"mean\"}},"
                       "\"max_concurrent_requests\":");
    mnemo__jsonw_int(w, cfg->max_connections);
    MNEMO_JSONW_LIT(w, ",\"max_input_length\":");
    mnemo__jsonw_int(w, (long long)mnemo_model_max_tokens(m));
    MNEMO_JSONW_LIT(w, ",\"max_batch_tokens\":");
    mnemo__jsonw_int(w, (long long)cfg->max_batch_tokens);
    MNEMO_JSONW_LIT(w, ",\"max_batch_requests\":null,\"max_client_batch_size\":");
    mnemo__jsonw_int(w, (long long)cfg->max_inputs);
    MNEMO_JSONW_LIT(w, ",\"auto_truncate\":true,\"tokenization_workers\":");
    mnemo__jsonw_int(w, cfg->max_connections);
    MNEMO_JSONW_LIT(w,
                    ",\"version\":\"" MNEMO_VERSION_STRING "\",\"sha\":null,\"docker_label\":null,"
                    "\"dimensions\":");
    mnemo__jsonw_int(w, (long long)mnemo_model_dim(m));
    MNEMO_JSONW_LIT(w, ",\"kernels\":");
    mnemo__jsonw_string(w, mnemo_model_kernels(m), strlen(mnemo_model_kernels(m)));
    MNEMO_JSONW_LIT(w, ",\"prompts\":{");
    for (int i = 0; i < mnemo_model_prompt_count(m); i++) {
        const char *name = mnemo_model_prompt_name(m, i), *text = mnemo_model_prompt_text(m, name);
        if (i) mnemo__jsonw_char(w, ',');
        mnemo__jsonw_string(w, name, strlen(name));
        mnemo__jsonw_char(w, ':');
        mnemo__jsonw_string(w, text, strlen(text));
    }
    MNEMO_JSONW_LIT(w, "}}");
    r->status = 200;
}
