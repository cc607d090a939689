/*
 * service.c — the embedding service of service.h: one request's path from
 * inputs to full-width vectors. Prompt resolution, cache lookup, tokenizing
 * on the caller's thread (so the worker only runs the model), the batcher
 * round trip with deadline and cancellation, and storing results in the
 * cache. Not HTTP: src/server turns requests and responses into JSON.
 */
#include "service.h"

#include <string.h>

#define IDS_PROMPT "\001ids" /* the cache key's prompt piece for token-id inputs */

struct mnemo_service {
    const mnemo_model *model;
    mnemo_context *ctx;
    mnemo_cache *cache;
    mnemo_batcher *batcher;
    char *model_id;
    size_t width, vocab, max_tokens;
    int32_t open_ids[8], close_ids[8]; /* what the post-processor puts around a sequence */
    size_t n_open, n_close;
};

static int run_model(void *arg, const int32_t *const *ids, const size_t *lens, size_t n, float *out,
                     mnemo_error *err) {
    return mnemo_embed_tokens(arg, ids, lens, n, 0, out, err);
}

int mnemo__service_open(const mnemo_model *model, const mnemo_service_options *o,
                        mnemo_service **out, mnemo_error *err) {
    mnemo_service *s = mnemo__calloc(1, sizeof *s);
    if (!s) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    s->model = model;
    s->width = mnemo_model_dim(model);
    s->max_tokens = mnemo_model_max_tokens(model);
    const mnemo_tokenizer *tok = mnemo_model_tokenizer(model);
    s->vocab = mnemo_tokenizer_vocab_size(tok);
    s->model_id = mnemo__strndup(o->model_id ? o->model_id : "", strlen(o->model_id ? o->model_id : ""));
    /* The special ids around a sequence: what encoding "" gives (<bos> <eos>). */
    int32_t specials[16];
    size_t n_specials = 0;
    int rc = s->model_id ? MNEMO_OK : mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    if (!rc) rc = mnemo_tokenizer_encode(tok, "", 0, 0, specials, 16, &n_specials, err);
    if (!rc) {
        s->n_close = mnemo_tokenizer_num_special_end(tok);
        if (s->n_close > n_specials || n_specials > 16) s->n_close = 0;
        s->n_open = n_specials - s->n_close;
        if (s->n_open > 8 || s->n_close > 8) s->n_open = s->n_close = 0;
        memcpy(s->open_ids, specials, s->n_open * sizeof(int32_t));
        memcpy(s->close_ids, specials + s->n_open, s->n_close * sizeof(int32_t));
    }
    size_t budget = o->max_batch_tokens > s->max_tokens ? o->max_batch_tokens : s->max_tokens;
    mnemo_context_options co = {.n_threads = o->n_threads, .max_batch_tokens = budget};
    if (!rc) rc = mnemo_context_create(model, &co, &s->ctx, err);
    if (!rc) rc = mnemo__cache_create(o->cache_bytes, o->cache_ttl, s->width, &s->cache, err);
    if (!rc) {
        /* Warm up before the first request: page in weights, touch buffers. */
        int32_t *warm = NULL;
        size_t wl = 0;
        float *v = mnemo__malloc_array(s->width, sizeof(float));
        rc = v ? mnemo_embed_tokenize(model, "Hello, world.", 13, NULL, &warm, &wl, err)
               : mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
        if (!rc) rc = mnemo_embed_tokens(s->ctx, (const int32_t *const *)&warm, &wl, 1, 0, v, err);
        mnemo_free(warm);
        mnemo__free(v);
    }
    if (!rc) {
        mnemo_batcher_options bo = {.width = s->width, .max_batch_tokens = budget,
                                    .window = o->batch_window, .max_queue_tokens = o->max_queue_tokens,
                                    .run = run_model, .run_arg = s->ctx, .observe = o->observe,
                                    .observe_arg = o->observe_arg};
        rc = mnemo__batcher_create(&bo, &s->batcher, err);
    }
    if (rc) {
        mnemo__service_close(s);
        return rc;
    }
    *out = s;
    return MNEMO_OK;
}

void mnemo__service_close(mnemo_service *s) {
    if (!s) return;
    mnemo__batcher_free(s->batcher); /* first: its worker uses the context */
    mnemo_context_free(s->ctx);
    mnemo__cache_free(s->cache);
    mnemo__free(s->model_id);
    mnemo__free(s);
}

const mnemo_model *mnemo__service_model(const mnemo_service *s) { return s->model; }
mnemo_cache *mnemo__service_cache(mnemo_service *s) { return s->cache; }
mnemo_batcher *mnemo__service_batcher(mnemo_service *s) { return s->batcher; }

/* Token ids as given -> a complete sequence: range-checked, <bos>/<eos> added
 * when missing, truncated (or ETOOBIG). */
static int ids_sequence(mnemo_service *s, const mnemo_service_input *in, bool no_truncate,
                        int32_t **out, size_t *n_out, mnemo_error *err) {
    size_t n = in->n_ids;
    if (n == 0) return mnemo__fail(err, MNEMO_EINVAL, "an empty list of token ids");
    bool has_open = s->n_open && in->ids[0] == s->open_ids[0];
    bool has_close = s->n_close && in->ids[n - 1] == s->close_ids[s->n_close - 1];
    size_t total = n + (has_open ? 0 : s->n_open) + (has_close ? 0 : s->n_close);
    int32_t *ids = mnemo__malloc_array(total, sizeof(int32_t));
    if (!ids) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    size_t k = 0;
    if (!has_open)
        for (size_t i = 0; i < s->n_open; i++) ids[k++] = s->open_ids[i];
    for (size_t i = 0; i < n; i++) {
        if (in->ids[i] < 0 || (uint64_t)in->ids[i] >= s->vocab) {
            mnemo__free(ids);
            return mnemo__fail(err, MNEMO_ERANGE, "token id %lld at position %zu is not in the "
                               "vocabulary (0..%zu)", (long long)in->ids[i], i, s->vocab - 1);
        }
        ids[k++] = (int32_t)in->ids[i];
    }
    if (!has_close)
        for (size_t i = 0; i < s->n_close; i++) ids[k++] = s->close_ids[i];
    if (k > s->max_tokens && no_truncate) {
        mnemo__free(ids);
        return mnemo__fail(err, MNEMO_ETOOBIG, "it has %zu tokens (<bos>/<eos> included); the model "
                           "takes at most %zu: shorten it or allow truncation", k, s->max_tokens);
    }
    *n_out = mnemo__embed_truncate(s->model, ids, k);
    *out = ids;
    return MNEMO_OK;
}

/* The cache key of one input: (model, prompt, text), or (model, a marker, ids). */
static void cache_key(const mnemo_service *s, const mnemo_service_input *in, const char *prompt,
                      mnemo_piece key[3]) {
    const char *p = in->ids ? IDS_PROMPT : prompt;
    key[0] = (mnemo_piece){s->model_id, strlen(s->model_id)};
    key[1] = (mnemo_piece){p, strlen(p)};
    key[2] = in->ids ? (mnemo_piece){in->ids, in->n_ids * sizeof(int64_t)}
                     : (mnemo_piece){in->text, in->len};
}

int mnemo__service_embed(mnemo_service *s, const mnemo_service_request *q, mnemo_service_result *r,
                         mnemo_error *err) {
    double t0 = mnemo__now();
    mnemo_embed_options eo = {q->prompt_name, q->prompt_text, 0, q->no_truncate};
    bool explicit_prompt = q->prompt_name || q->prompt_text;
    const char *prompt;
    int rc = mnemo_embed_prompt(s->model, &eo, &prompt, err);
    if (rc) return rc;
    r->total_tokens = r->cache_hits = r->computed = 0;
    r->tokenize = r->queue = r->inference = 0;
    r->started = false;
    r->bad_index = 0;
    size_t n = q->n, n_pending = 0;
    int32_t **ids = mnemo__calloc(n ? n : 1, sizeof *ids);
    size_t *lens = mnemo__calloc(n ? n : 1, sizeof *lens);
    size_t *where = mnemo__calloc(n ? n : 1, sizeof *where);
    float *vecs = NULL;
    if (!ids || !lens || !where) {
        rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory for %zu inputs", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const mnemo_service_input *in = &q->inputs[i];
        if (in->ids && explicit_prompt) {
            r->bad_index = i;
            rc = mnemo__fail(err, MNEMO_EINVAL, "input[%zu]: a task prompt cannot be applied to "
                             "token ids: send text, or tokenize prompt + text yourself", i);
            goto done;
        }
        mnemo_piece key[3];
        cache_key(s, in, prompt, key);
        if (mnemo__cache_get(s->cache, key, 3, t0, r->vectors + i * s->width, &r->n_tokens[i])) {
            r->cache_hits++;
            r->total_tokens += r->n_tokens[i];
            continue;
        }
        size_t len = 0;
        int32_t *seq = NULL;
        rc = in->ids ? ids_sequence(s, in, q->no_truncate, &seq, &len, err)
                     : mnemo_embed_tokenize(s->model, in->text, in->len, &eo, &seq, &len, err);
        if (rc) {
            r->bad_index = i;
            mnemo__fail_prefix(err, "input[%zu]", i);
            goto done;
        }
        ids[n_pending] = seq;
        lens[n_pending] = len;
        where[n_pending++] = i;
        r->n_tokens[i] = len;
        r->total_tokens += len;
    }
    double t1 = mnemo__now();
    r->tokenize = t1 - t0;
    r->computed = n_pending;
    if (n_pending) {
        vecs = mnemo__malloc_array(n_pending, s->width * sizeof(float));
        if (!vecs) {
            rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory for %zu vectors", n_pending);
            goto done;
        }
        mnemo_batch_job *job;
        rc = mnemo__batcher_submit(s->batcher, (const int32_t *const *)ids, lens, n_pending, vecs,
                                   q->deadline, &job, err);
        if (rc) goto done;
        mnemo_batch_timing tm;
        rc = mnemo__batcher_wait(s->batcher, job, q->gone, q->gone_arg, &tm, err);
        r->queue = tm.queue;
        r->inference = tm.inference;
        r->started = tm.started;
        if (rc) goto done;
        double now = mnemo__now();
        for (size_t k = 0; k < n_pending; k++) {
            size_t i = where[k];
            const mnemo_service_input *in = &q->inputs[i];
            memcpy(r->vectors + i * s->width, vecs + k * s->width, s->width * sizeof(float));
            mnemo_piece key[3];
            cache_key(s, in, prompt, key);
            mnemo__cache_put(s->cache, key, 3, vecs + k * s->width, r->n_tokens[i], now);
        }
    }
done:
    if (ids)
        for (size_t k = 0; k < n_pending; k++) mnemo_free(ids[k]);
    mnemo__free(ids);
    mnemo__free(lens);
    mnemo__free(where);
    mnemo__free(vecs);
    return rc;
}
