/*
 * fuzz_serve_request.c — libFuzzer target: arbitrary bytes as the body of an
 * HTTP request to `mnemo serve`'s routes, run in-process against the tiny
 * model ($MNEMO_FUZZ_MODEL) through the real route handlers, validation,
 * service, batcher and model. The first byte picks the route. Every answer
 * must have a status of 200..599 and be valid JSON; nothing may crash, leak
 * or hang.
 */
#include "server/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static mnemo_model *model;
static mnemo_service *svc;
static mnemo_server_config cfg = {.host = "127.0.0.1",
                                  .model_name = "tiny",
                                  .max_inputs = 16,
                                  .max_input_chars = 512,
                                  .max_body = 1 << 16,
                                  .timeout = 10,
                                  .max_connections = 8,
                                  .max_batch_tokens = 256};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    const char *path = getenv("MNEMO_FUZZ_MODEL");
    mnemo_error err;
    mnemo_service_options so = {.model_id = "tiny",
                                .n_threads = 1,
                                .max_batch_tokens = 256,
                                .batch_window = 0,
                                .max_queue_tokens = 0,
                                .cache_bytes = 1 << 20,
                                .cache_ttl = 60};
    if (!path || mnemo_model_open(path, NULL, &model, &err) ||
        mnemo__service_open(model, &so, &svc, &err)) {
        fprintf(stderr, "set MNEMO_FUZZ_MODEL to the tiny model folder (%s)\n",
                path ? err.message : "unset");
        exit(2);
    }
    mnemo__log_set_level(MNEMO_LOG_OFF);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    static void (*const routes[])(mnemo_request *) = {
        mnemo__route_openai_embeddings, mnemo__route_tei_embed,      mnemo__route_tei_tokenize,
        mnemo__route_tei_decode,        mnemo__route_ollama_embed,   mnemo__route_tei_info,
        mnemo__route_tei_root,          mnemo__route_tei_similarity, mnemo__route_tei_embed_all,
        mnemo__route_ollama_embeddings, mnemo__route_ollama_show};
    static const mnemo_api apis[] = {MNEMO_API_OPENAI, MNEMO_API_TEI,    MNEMO_API_TEI,
                                     MNEMO_API_TEI,    MNEMO_API_OLLAMA, MNEMO_API_TEI,
                                     MNEMO_API_TEI,    MNEMO_API_TEI,    MNEMO_API_TEI,
                                     MNEMO_API_OLLAMA, MNEMO_API_OLLAMA};
    size_t pick = data[0] % (sizeof routes / sizeof routes[0]);
    mnemo_request r;
    memset(&r, 0, sizeof r);
    r.cfg = &cfg;
    r.svc = svc;
    r.api = apis[pick];
    r.fd = -1;
    r.body = (const char *)data + 1;
    r.body_len = size - 1;
    r.t_start = mnemo__now();
    snprintf(r.id, sizeof r.id, "fuzz");
    routes[pick](&r);
    if (r.status < 200 || r.status > 599) abort();
    if (!r.out.failed) {
        json_error_t je;
        json_t *v =
            json_loadb(r.out.p ? r.out.p : "", r.out.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        if (!v) {
            fprintf(stderr, "status %d, not JSON: %.*s\n", r.status, (int)r.out.len, r.out.p);
            abort();
        }
        json_decref(v);
    }
    mnemo__jsonw_free(&r.out);
    return 0;
}
