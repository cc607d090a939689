/*
 * service.c — the embedding service of service.h: one request's path from
 * inputs to full-width vectors. Prompt resolution, cache lookup, tokenizing
 * on the caller's thread (so the worker only runs the model), the batcher
 * round trip with deadline and cancellation, and storing results in the
 * cache (local LRU first, then the Redis tier when there is one: a Redis hit
 * fills the local cache, a computed vector goes to both). Not HTTP:
 * src/server turns requests and responses into JSON.
 */
#include "service.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define IDS_PROMPT "\001ids" /* the cache key's prompt piece for token-id inputs */

struct mnemo_service {
    const mnemo_model *model;
    mnemo_context *ctx;
    mnemo_cache *cache;
    mnemo_redis *redis; /* NULL without --cache-redis */
    mnemo_batcher *batcher;
    mnemo_cache_file *file; /* NULL without --cache-file */
    double warm_deadline;
    char identity[256];
    char *model_id;
    size_t width, vocab, max_tokens;
    int32_t open_ids[8], close_ids[8]; /* what the post-processor puts around a sequence */
    size_t n_open, n_close;
    bool cache_on;                /* there is a cache (local, maybe Redis) to put vectors in */
    _Atomic uint64_t store_fills; /* vectors the memory store computed, put in the cache */
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
    s->cache_on = o->cache_bytes || o->redis_url;
    s->width = mnemo_model_dim(model);
    s->max_tokens = mnemo_model_max_tokens(model);
    const mnemo_tokenizer *tok = mnemo_model_tokenizer(model);
    s->vocab = mnemo_tokenizer_vocab_size(tok);
    s->model_id =
        mnemo__strndup(o->model_id ? o->model_id : "", strlen(o->model_id ? o->model_id : ""));
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
    if (!rc && o->redis_url) {
        /* What replicas must agree on to share vectors: the model's name,
         * its precision (int8 weights give slightly different vectors) and
         * its shape. Not the folder's path, which differs between machines. */
        char fp[512];
        snprintf(fp, sizeof fp, "%s|%s|dim=%zu|vocab=%zu|max=%zu",
                 o->redis_model ? o->redis_model : s->model_id, mnemo_model_precision(model),
                 s->width, s->vocab, s->max_tokens);
        mnemo_redis_options ro = {.url = o->redis_url,
                                  .timeout = o->redis_timeout,
                                  .ttl = o->cache_ttl,
                                  .width = s->width,
                                  .fingerprint = fp};
        rc = mnemo__redis_open(&ro, &s->redis, err);
    }
    if (!rc) {
        /* Warm up before the first request: page in weights, touch buffers. */
        int32_t *warm = NULL;
        size_t wl = 0;
        float *v = mnemo__malloc_array(s->width, sizeof(float));
        rc = v ? mnemo_embed_tokenize(model, "Hello, world.", 13, NULL, &warm, &wl, err)
               : mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
        if (!rc) rc = mnemo_embed_tokens(s->ctx, (const int32_t *const *)&warm, &wl, 1, 0, v, err);
        /* the probe's vector stands for the weights as loaded: any other
         * weights, precision or kernels give other bits */
        if (!rc)
            snprintf(
                s->identity, sizeof s->identity, "%s|dim=%zu|vocab=%zu|max=%zu|probe=%016llx",
                mnemo_model_precision(model), s->width, s->vocab, s->max_tokens,
                (unsigned long long)mnemo__hash64(v, s->width * sizeof(float), 0x70726f6265ULL));
        mnemo_free(warm);
        mnemo__free(v);
    }
    s->warm_deadline = mnemo__now() + (o->warm_budget > 0 ? o->warm_budget : 0);
    if (!rc && o->cache_file && o->cache_bytes) {
        mnemo_cache_file_options fo = {.path = o->cache_file,
                                       .max_bytes = o->cache_file_bytes,
                                       .interval = o->cache_file_interval,
                                       .identity = s->identity,
                                       .model_id = s->model_id,
                                       .width = s->width};
        rc = mnemo__cache_file_open(&fo, s->cache, &s->file, err);
        if (!rc) mnemo__cache_file_load(s->file, s->warm_deadline, NULL);
        if (!rc) rc = mnemo__cache_file_start(s->file, err);
    }
    if (!rc) {
        mnemo_batcher_options bo = {.width = s->width,
                                    .max_batch_tokens = budget,
                                    .window = o->batch_window,
                                    .max_queue_tokens = o->max_queue_tokens,
                                    .run = run_model,
                                    .run_arg = s->ctx,
                                    .observe = o->observe,
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
    mnemo__batcher_free(s->batcher);  /* first: its worker uses the context */
    mnemo__cache_file_close(s->file); /* the last write, once nothing is computed any more */
    mnemo_context_free(s->ctx);
    mnemo__cache_free(s->cache);
    mnemo__redis_close(s->redis);
    mnemo__free(s->model_id);
    mnemo__free(s);
}

const mnemo_model *mnemo__service_model(const mnemo_service *s) { return s->model; }
mnemo_cache *mnemo__service_cache(mnemo_service *s) { return s->cache; }
mnemo_redis *mnemo__service_redis(mnemo_service *s) { return s->redis; }
mnemo_batcher *mnemo__service_batcher(mnemo_service *s) { return s->batcher; }
mnemo_cache_file *mnemo__service_cache_file(mnemo_service *s) { return s->file; }
double mnemo__service_warm_deadline(const mnemo_service *s) { return s->warm_deadline; }
const char *mnemo__service_identity(const mnemo_service *s) { return s->identity; }

/* Token ids as given -> a complete sequence: range-checked, <bos>/<eos> added
 * when missing, truncated (or ETOOBIG). */
static int ids_sequence(mnemo_service *s, const mnemo_service_input *in, bool no_truncate,
                        bool left, int32_t **out, size_t *n_out, mnemo_error *err) {
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
            return mnemo__fail(err, MNEMO_ERANGE,
                               "token id %lld at position %zu is not in the "
                               "vocabulary (0..%zu)",
                               (long long)in->ids[i], i, s->vocab - 1);
        }
        ids[k++] = (int32_t)in->ids[i];
    }
    if (!has_close)
        for (size_t i = 0; i < s->n_close; i++) ids[k++] = s->close_ids[i];
    if (k > s->max_tokens && no_truncate) {
        mnemo__free(ids);
        return mnemo__fail(err, MNEMO_ETOOBIG,
                           "it has %zu tokens (<bos>/<eos> included); the model "
                           "takes at most %zu: shorten it or allow truncation",
                           k, s->max_tokens);
    }
    *n_out = mnemo__embed_truncate_side(s->model, ids, k, left);
    *out = ids;
    return MNEMO_OK;
}

/* The cache key of one input: (model, prompt, text), or (model, a marker,
 * ids); and how it was truncated (only a text over the limit differs). */
static void cache_key(const mnemo_service *s, const mnemo_service_input *in, const char *prompt,
                      bool left, mnemo_piece key[4]) {
    const char *p = in->ids ? IDS_PROMPT : prompt;
    key[0] = (mnemo_piece){s->model_id, strlen(s->model_id)};
    key[1] = (mnemo_piece){p, strlen(p)};
    key[2] = in->ids ? (mnemo_piece){in->ids, in->n_ids * sizeof(int64_t)}
                     : (mnemo_piece){in->text, in->len};
    key[3] = (mnemo_piece){"L", left ? 1 : 0};
}

/* A computed vector into the cache: the local LRU and the Redis tier. */
static void put_computed(mnemo_service *s, const mnemo_service_input *in, const char *prompt,
                         bool left, const float *vec, size_t n_tokens, double now) {
    mnemo_piece key[4];
    cache_key(s, in, prompt, left, key);
    mnemo__cache_put(s->cache, key, 4, vec, n_tokens, now);
    mnemo__redis_put(s->redis, key + 1, 3, vec, n_tokens);
}

void mnemo__service_store_embedded(void *arg, const char *prompt_name, const char *const *texts,
                                   const size_t *lens, size_t n, const float *vecs, size_t dim,
                                   const size_t *n_tokens) {
    mnemo_service *s = arg;
    /* mnemo_embed's vectors for prompt_name, right-truncated: the very
     * entries a request for these texts with that prompt would compute */
    mnemo_embed_options eo = {.prompt_name = prompt_name};
    const char *prompt;
    if (!s->cache_on || dim != s->width || mnemo_embed_prompt(s->model, &eo, &prompt, NULL)) return;
    double now = mnemo__now();
    for (size_t i = 0; i < n; i++) {
        mnemo_service_input in = {.text = texts[i], .len = lens[i]};
        put_computed(s, &in, prompt, false, vecs + i * dim, n_tokens[i], now);
    }
    atomic_fetch_add(&s->store_fills, n);
}

uint64_t mnemo__service_store_fills(mnemo_service *s) { return atomic_load(&s->store_fills); }

struct mnemo_service_call;
static int redis_lookup(mnemo_service *s, struct mnemo_service_call *c, size_t n_missed,
                        mnemo_error *err);

struct mnemo_service_call {
    mnemo_service *s;
    const mnemo_service_request *q;
    mnemo_service_result *r;
    const char *prompt;
    int32_t **ids; /* the sequences sent to the model, n_pending of them */
    size_t *lens, *where, n_pending;
    bool *hit, *seen; /* hit[i]: input i came from the cache; seen[k]: pending k arrived */
    float *vecs;
    mnemo_batch_job *job;
    bool first, finished, ok;
};

void mnemo__service_end(mnemo_service_call *c) {
    if (!c) return;
    mnemo_service *s = c->s;
    if (c->job) mnemo__batcher_cancel(s->batcher, c->job);
    if (c->ok) {
        double now = mnemo__now();
        for (size_t k = 0; k < c->n_pending; k++)
            put_computed(s, &c->q->inputs[c->where[k]], c->prompt, c->q->truncate_left,
                         c->vecs + k * s->width, c->r->n_tokens[c->where[k]], now);
    }
    if (c->ids)
        for (size_t k = 0; k < c->n_pending; k++) mnemo_free(c->ids[k]);
    mnemo__free(c->ids);
    mnemo__free(c->lens);
    mnemo__free(c->where);
    mnemo__free(c->hit);
    mnemo__free(c->seen);
    mnemo__free(c->vecs);
    mnemo__free(c);
}

/* The local misses c->where[0..n_missed) looked up in Redis in one round
 * trip; hits are marked and fill the local cache. */
static int redis_lookup(mnemo_service *s, mnemo_service_call *c, size_t n_missed,
                        mnemo_error *err) {
    const mnemo_service_request *q = c->q;
    mnemo_service_result *r = c->r;
    mnemo_piece *pieces = mnemo__malloc_array(n_missed, 4 * sizeof *pieces);
    const mnemo_piece **keys = mnemo__malloc_array(n_missed, sizeof *keys);
    float **outs = mnemo__malloc_array(n_missed, sizeof *outs);
    size_t *tokens = mnemo__malloc_array(n_missed, sizeof *tokens);
    bool *found = mnemo__malloc_array(n_missed, sizeof *found);
    int rc = MNEMO_OK;
    if (!pieces || !keys || !outs || !tokens || !found) {
        rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory for %zu inputs", n_missed);
        goto done;
    }
    for (size_t k = 0; k < n_missed; k++) {
        size_t i = c->where[k];
        cache_key(s, &q->inputs[i], c->prompt, q->truncate_left, pieces + 4 * k);
        keys[k] = pieces + 4 * k + 1; /* the fingerprint stands for the model id */
        outs[k] = r->vectors + i * s->width;
    }
    mnemo__redis_get(s->redis, keys, 3, n_missed, outs, tokens, found);
    double now = mnemo__now();
    for (size_t k = 0; k < n_missed; k++) {
        if (!found[k]) continue;
        size_t i = c->where[k];
        c->hit[i] = true;
        r->n_tokens[i] = tokens[k];
        r->cache_hits++;
        r->total_tokens += tokens[k];
        mnemo__cache_put(s->cache, pieces + 4 * k, 4, outs[k], tokens[k], now);
    }
done:
    mnemo__free(pieces);
    mnemo__free(keys);
    mnemo__free(outs);
    mnemo__free(tokens);
    mnemo__free(found);
    return rc;
}

int mnemo__service_begin(mnemo_service *s, const mnemo_service_request *q, mnemo_service_result *r,
                         mnemo_service_call **out, mnemo_error *err) {
    *out = NULL;
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
    size_t n = q->n, one = n ? n : 1;
    mnemo_service_call *c = mnemo__calloc(1, sizeof *c);
    if (!c) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    *c = (mnemo_service_call){.s = s, .q = q, .r = r, .prompt = prompt, .first = true};
    c->ids = mnemo__calloc(one, sizeof *c->ids);
    c->lens = mnemo__calloc(one, sizeof *c->lens);
    c->where = mnemo__calloc(one, sizeof *c->where);
    c->hit = mnemo__calloc(one, sizeof *c->hit);
    c->seen = mnemo__calloc(one, sizeof *c->seen);
    if (!c->ids || !c->lens || !c->where || !c->hit || !c->seen) {
        rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory for %zu inputs", n);
        goto fail;
    }
    size_t n_missed = 0; /* local misses, listed in where[] for the Redis lookup */
    for (size_t i = 0; i < n; i++) {
        const mnemo_service_input *in = &q->inputs[i];
        if (in->ids && explicit_prompt) {
            r->bad_index = i;
            rc = mnemo__fail(err, MNEMO_EINVAL,
                             "input[%zu]: a task prompt cannot be applied to "
                             "token ids: send text, or tokenize prompt + text yourself",
                             i);
            goto fail;
        }
        mnemo_piece key[4];
        cache_key(s, in, prompt, q->truncate_left, key);
        if (mnemo__cache_get(s->cache, key, 4, t0, r->vectors + i * s->width, &r->n_tokens[i])) {
            c->hit[i] = true;
            r->cache_hits++;
            r->total_tokens += r->n_tokens[i];
        } else {
            c->where[n_missed++] = i;
        }
    }
    if (s->redis && n_missed && (rc = redis_lookup(s, c, n_missed, err))) goto fail;
    for (size_t i = 0; i < n; i++) {
        const mnemo_service_input *in = &q->inputs[i];
        if (c->hit[i]) continue;
        size_t len = 0;
        int32_t *seq = NULL;
        mnemo_truncation mode = q->no_truncate     ? MNEMO_TRUNCATE_REFUSE
                                : q->truncate_left ? MNEMO_TRUNCATE_LEFT
                                                   : MNEMO_TRUNCATE_RIGHT;
        rc = in->ids ? ids_sequence(s, in, q->no_truncate, q->truncate_left, &seq, &len, err)
                     : mnemo__embed_tokenize_mode(s->model, in->text, in->len, &eo, mode, &seq,
                                                  &len, err);
        if (rc) {
            r->bad_index = i;
            mnemo__fail_prefix(err, "input[%zu]", i);
            goto fail;
        }
        c->ids[c->n_pending] = seq;
        c->lens[c->n_pending] = len;
        c->where[c->n_pending++] = i;
        r->n_tokens[i] = len;
        r->total_tokens += len;
    }
    r->tokenize = mnemo__now() - t0;
    r->computed = c->n_pending;
    if (c->n_pending) {
        c->vecs = mnemo__malloc_array(c->n_pending, s->width * sizeof(float));
        if (!c->vecs) {
            rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory for %zu vectors", c->n_pending);
            goto fail;
        }
        rc = mnemo__batcher_submit(s->batcher, (const int32_t *const *)c->ids, c->lens,
                                   c->n_pending, c->vecs, q->deadline, &c->job, err);
        if (rc) goto fail;
    }
    *out = c;
    return MNEMO_OK;
fail:
    mnemo__service_end(c);
    return rc;
}

int mnemo__service_next(mnemo_service_call *c, size_t *done, size_t *n_done, bool *finished,
                        mnemo_error *err) {
    mnemo_service *s = c->s;
    *n_done = 0;
    *finished = c->finished;
    if (c->finished) return MNEMO_OK;
    if (c->first) {
        c->first = false;
        for (size_t i = 0; i < c->q->n; i++)
            if (c->hit[i]) done[(*n_done)++] = i;
        if (!c->job) c->finished = c->ok = true;
        if (*n_done || c->finished) {
            *finished = c->finished;
            return MNEMO_OK;
        }
    }
    mnemo_batch_timing tm = {0};
    size_t n_new = 0;
    bool over = false;
    int rc = mnemo__batcher_wait_some(s->batcher, c->job, c->q->gone, c->q->gone_arg, c->seen,
                                      &n_new, &over, &tm, err);
    for (size_t k = 0; k < c->n_pending && n_new; k++) {
        size_t i = c->where[k];
        if (!c->seen[k] || c->hit[i]) continue; /* hit[] marks what was reported */
        c->hit[i] = true;
        memcpy(c->r->vectors + i * s->width, c->vecs + k * s->width, s->width * sizeof(float));
        done[(*n_done)++] = i;
    }
    if (over) {
        c->job = NULL; /* freed by the batcher */
        c->finished = true;
        c->ok = rc == MNEMO_OK;
        c->r->queue = tm.queue;
        c->r->inference = tm.inference;
        c->r->started = tm.started;
    }
    *finished = c->finished;
    return rc;
}

int mnemo__service_embed(mnemo_service *s, const mnemo_service_request *q, mnemo_service_result *r,
                         mnemo_error *err) {
    mnemo_service_call *c;
    int rc = mnemo__service_begin(s, q, r, &c, err);
    if (rc) return rc;
    size_t *done = mnemo__malloc_array(q->n ? q->n : 1, sizeof *done), n_done;
    bool finished = false;
    if (!done) rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    while (!rc && !finished) rc = mnemo__service_next(c, done, &n_done, &finished, err);
    mnemo__free(done);
    mnemo__service_end(c);
    return rc;
}
