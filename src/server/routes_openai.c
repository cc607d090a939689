/*
 * routes_openai.c — the OpenAI-compatible routes, `POST /v1/embeddings` and
 * `GET /v1/models`, in OpenAI's request and response shapes (what the
 * official clients and LangChain's OpenAIEmbeddings send and parse), plus
 * mnemo's fields `task` / `prompt` / `truncate`; and Ollama's
 * `POST /api/embed`. Parsing of inputs and the model run are embed_request.c's.
 */
#include "server.h"

#include <string.h>

static void write_usage(mnemo_jsonw *w, size_t tokens) {
    MNEMO_JSONW_LIT(w, "\"usage\":{\"prompt_tokens\":");
    mnemo__jsonw_int(w, (long long)tokens);
    MNEMO_JSONW_LIT(w, ",\"total_tokens\":");
    mnemo__jsonw_int(w, (long long)tokens);
    mnemo__jsonw_char(w, '}');
}

/* The fields OpenAI's and Ollama's requests share (model, dimensions, task,
 * prompt, truncate, input). 0, or -1 after replying. */
static int parse_common(mnemo_request *r, json_t *root, bool allow_ids, mnemo_embed_call *c) {
    return mnemo__embed_check_model(r, json_object_get(root, "model"), "model") ||
                   mnemo__embed_parse_dim(r, json_object_get(root, "dimensions"), "dimensions",
                                          c) ||
                   mnemo__embed_parse_prompt(r, json_object_get(root, "task"), "task",
                                             json_object_get(root, "prompt"), "prompt", c) ||
                   mnemo__embed_parse_bool(r, json_object_get(root, "truncate"), "truncate",
                                           &c->truncate) ||
                   mnemo__embed_parse_input(r, json_object_get(root, "input"), "input", allow_ids,
                                            c)
               ? -1
               : 0;
}

void mnemo__route_openai_embeddings(mnemo_request *r) {
    json_t *root = mnemo__request_json(r);
    if (!root) return;
    mnemo_embed_call c;
    mnemo__embed_call_init(r, &c);
    json_t *user = json_object_get(root, "user");
    if (user && !json_is_string(user) && !json_is_null(user)) {
        mnemo__reply_error(r, 400, "invalid_request_error", "user", "invalid_type",
                           "'user' must be a string");
        goto out;
    }
    if (mnemo__embed_parse_encodings(r, root, &c) || parse_common(r, root, true, &c)) goto out;
    const char *accept = mnemo__request_header(r, "Accept");
    if (accept && strstr(accept, "application/x-ndjson")) {
        /* one line per embedding as its pass finishes; the stream owns root and c now */
        if (mnemo__embed_stream(r, root, &c) == 0) return;
        goto out;
    }
    if (mnemo__embed_run(r, &c)) goto out;
    mnemo_jsonw *w = &r->out;
    r->status = 200;
    MNEMO_JSONW_LIT(w, "{\"object\":\"list\",\"data\":[");
    for (size_t i = 0; i < c.n; i++) {
        if (i) mnemo__jsonw_char(w, ',');
        MNEMO_JSONW_LIT(w, "{\"object\":\"embedding\",\"index\":");
        mnemo__jsonw_int(w, (long long)i);
        MNEMO_JSONW_LIT(w, ",\"embedding\":");
        mnemo__embed_write_vector(w, &c, i);
        mnemo__jsonw_char(w, '}');
    }
    MNEMO_JSONW_LIT(w, "],\"model\":");
    mnemo__jsonw_string(w, r->cfg->model_name, strlen(r->cfg->model_name));
    mnemo__jsonw_char(w, ',');
    write_usage(w, c.res.total_tokens);
    mnemo__jsonw_char(w, '}');
out:
    mnemo__embed_call_free(&c);
    json_decref(root);
}

void mnemo__route_openai_models(mnemo_request *r) {
    mnemo_jsonw *w = &r->out;
    r->status = 200;
    MNEMO_JSONW_LIT(w, "{\"object\":\"list\",\"data\":[{\"id\":");
    mnemo__jsonw_string(w, r->cfg->model_name, strlen(r->cfg->model_name));
    MNEMO_JSONW_LIT(w, ",\"object\":\"model\",\"created\":");
    mnemo__jsonw_int(w, (long long)r->cfg->started);
    MNEMO_JSONW_LIT(w, ",\"owned_by\":\"mnemo\"}]}");
}

void mnemo__route_ollama_embed(mnemo_request *r) {
    json_t *root = mnemo__request_json(r);
    if (!root) return;
    mnemo_embed_call c;
    mnemo__embed_call_init(r, &c);
    if (parse_common(r, root, false, &c) || mnemo__embed_run(r, &c)) goto out;
    mnemo_jsonw *w = &r->out;
    r->status = 200;
    MNEMO_JSONW_LIT(w, "{\"model\":");
    mnemo__jsonw_string(w, r->cfg->model_name, strlen(r->cfg->model_name));
    MNEMO_JSONW_LIT(w, ",\"embeddings\":[");
    for (size_t i = 0; i < c.n; i++) {
        if (i) mnemo__jsonw_char(w, ',');
        mnemo__embed_write_vector(w, &c, i);
    }
    MNEMO_JSONW_LIT(w, "],\"total_duration\":");
    mnemo__jsonw_int(w, (long long)((mnemo__now() - r->t_start) * 1e9));
    MNEMO_JSONW_LIT(w, ",\"load_duration\":0,\"prompt_eval_count\":");
    mnemo__jsonw_int(w, (long long)c.res.total_tokens);
    mnemo__jsonw_char(w, '}');
out:
    mnemo__embed_call_free(&c);
    json_decref(root);
}
