/*
 * embed.c — the embedding API of mnemo.h: a model (config + tokenizer +
 * engine) and contexts, and mnemo_embed(): prompt resolution, tokenizing
 * prompt + text as one string (as sentence-transformers does), truncation
 * that keeps <eos> last, packing inputs into forward passes by a token
 * budget, and Matryoshka dimensions (prefix + renormalize). Not the forward
 * pass (src/engine) and not the HTTP service (src/server).
 */
#include "../engine/engine.h"
#include "../kernels/kernels.h"
#include "../model/gguf.h"
#include "embed_internal.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_BATCH_TOKENS 4096

/* Tokens per forward pass at most (one longer sequence runs alone): a pass's
 * activations (~25 KB per token at int8) then stay in the caches between its
 * linear layers and per-token ops; 1,024 measured 3-5% faster than 4,096 and
 * the share outside the linear layers 4 points lower (docs/kernels.md,
 * "Forward passes of 1,024 tokens"). */
#define FORWARD_TOKENS 1024

struct mnemo_model {
    mnemo_model_config cfg;
    mnemo_tokenizer *tok;
    mnemo_engine *engine;
};

struct mnemo_context {
    const mnemo_model *model;
    mnemo_engine_ctx *ectx;
};

int mnemo_model_open(const char *dir, const mnemo_model_options *opts, mnemo_model **out,
                     mnemo_error *err) {
    if (!dir || !out) return mnemo__fail(err, MNEMO_EINVAL, "mnemo_model_open: NULL argument");
    *out = NULL;
    double t0 = mnemo__now();
    const char *precision_name = opts ? opts->precision : NULL; /* NULL: auto */
    int precision = mnemo__precision_parse(precision_name);
    if (precision < 0)
        return mnemo__fail(err, MNEMO_EINVAL,
                           "precision '%.20s' is not one of auto, file, f32, bf16, int8, q4",
                           precision_name ? precision_name : "");
    mnemo_model *m = mnemo__calloc(1, sizeof *m);
    if (!m) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    bool gguf = !mnemo__is_dir(dir);
    mnemo_gguf *g = NULL; /* opened once: the config and then the engine read it */
    int rc = gguf ? mnemo__gguf_open(dir, &g, err) : MNEMO_OK;
    if (!rc)
        rc = gguf ? mnemo__model_config_read_gguf(g, dir, &m->cfg, err)
                  : mnemo__model_config_read(dir, &m->cfg, err);
    if (rc) {
        mnemo__gguf_close(g);
        mnemo__free(m);
        return rc;
    }
    mnemo_tokenizer_options topts = {opts ? opts->cache_dir : NULL, opts ? opts->no_cache : 0};
    char tok_path[4200];
    snprintf(tok_path, sizeof tok_path, "%s/tokenizer.json", m->cfg.dir);
    const char *tpath = opts && opts->tokenizer ? opts->tokenizer : gguf ? tok_path : dir;
    rc = mnemo_tokenizer_open(tpath, &topts, &m->tok, err);
    if (rc && gguf && !(opts && opts->tokenizer) && rc == MNEMO_ENOENT)
        rc = mnemo__fail(err, MNEMO_ENOENT,
                         "%s: no tokenizer.json beside the GGUF file; mnemo tokenizes with the "
                         "model's tokenizer.json (not the GGUF's vocabulary): put it there or pass "
                         "--tokenizer PATH",
                         dir);
    if (!rc) {
        rc = mnemo__engine_open(&m->cfg, g, (mnemo_precision)precision,
                                opts ? opts->cache_dir : NULL, !(opts && opts->no_cache),
                                &m->engine, err);
        g = NULL; /* the engine's now */
    }
    mnemo__gguf_close(g);
    if (rc) {
        mnemo_model_close(m);
        return rc;
    }
    mnemo__log(MNEMO_LOG_INFO, "model.load",
               "dir=%s layers=%d hidden=%d dim=%d max_tokens=%d precision=%s kernels=%s ms=%.1f",
               dir, m->cfg.n_layers, m->cfg.hidden, m->cfg.output_dim, m->cfg.max_seq_length,
               mnemo__engine_precision(m->engine), mnemo__engine_kernels(m->engine),
               (mnemo__now() - t0) * 1e3);
    *out = m;
    return MNEMO_OK;
}

void mnemo_model_close(mnemo_model *m) {
    if (!m) return;
    mnemo__engine_close(m->engine);
    mnemo_tokenizer_close(m->tok);
    mnemo__model_config_free(&m->cfg);
    mnemo__free(m);
}

size_t mnemo_model_dim(const mnemo_model *m) { return (size_t)m->cfg.output_dim; }
size_t mnemo_model_max_tokens(const mnemo_model *m) { return (size_t)m->cfg.max_seq_length; }
const mnemo_tokenizer *mnemo_model_tokenizer(const mnemo_model *m) { return m->tok; }
int mnemo_model_prompt_count(const mnemo_model *m) { return m->cfg.n_prompts; }
const char *mnemo_model_prompt_name(const mnemo_model *m, int i) {
    return i >= 0 && i < m->cfg.n_prompts ? m->cfg.prompt_names[i] : NULL;
}
const char *mnemo_model_prompt_text(const mnemo_model *m, const char *name) {
    return name ? mnemo__model_config_prompt(&m->cfg, name) : NULL;
}
size_t mnemo_model_linear_params(const mnemo_model *m) {
    const mnemo_model_config *c = &m->cfg;
    size_t H = (size_t)c->hidden, Q = (size_t)c->n_heads * c->head_dim,
           KV = (size_t)c->n_kv_heads * c->head_dim, I = (size_t)c->intermediate;
    return (size_t)c->n_layers * (H * (Q + 2 * KV) + Q * H + 3 * H * I);
}
const char *mnemo_model_precision(const mnemo_model *m) {
    return mnemo__engine_precision(m->engine);
}
const char *mnemo_model_kernels(const mnemo_model *m) { return mnemo__engine_kernels(m->engine); }
size_t mnemo_model_linear_mix(const mnemo_model *m, const char **instruction, size_t *params,
                              size_t cap) {
    return m && instruction && params
               ? mnemo__engine_linear_mix(m->engine, instruction, params, cap)
               : 0;
}
void mnemo_context_timing(const mnemo_context *c, double *linear_seconds, double *total_seconds) {
    double l = 0, t = 0;
    if (c) mnemo__engine_ctx_timing(c->ectx, &l, &t);
    if (linear_seconds) *linear_seconds = l;
    if (total_seconds) *total_seconds = t;
}

mnemo_tokenizer_options mnemo_tokenizer_default_options(void) {
    return (mnemo_tokenizer_options){0};
}

mnemo_model_options mnemo_model_default_options(void) {
    return (mnemo_model_options){.precision = "auto"};
}

mnemo_context_options mnemo_context_default_options(void) {
    return (mnemo_context_options){.n_threads = 0, .max_batch_tokens = DEFAULT_BATCH_TOKENS};
}

mnemo_embed_options mnemo_embed_default_options(void) { return (mnemo_embed_options){0}; }

int mnemo_context_create(const mnemo_model *m, const mnemo_context_options *opts,
                         mnemo_context **out, mnemo_error *err) {
    if (!m || !out) return mnemo__fail(err, MNEMO_EINVAL, "mnemo_context_create: NULL argument");
    mnemo_context *c = mnemo__calloc(1, sizeof *c);
    if (!c) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    c->model = m;
    size_t budget = opts && opts->max_batch_tokens ? opts->max_batch_tokens : DEFAULT_BATCH_TOKENS;
    int rc = mnemo__engine_ctx_create(m->engine, budget, opts ? opts->n_threads : 0, &c->ectx, err);
    if (rc) {
        mnemo__free(c);
        return rc;
    }
    *out = c;
    return MNEMO_OK;
}

void mnemo_context_free(mnemo_context *c) {
    if (!c) return;
    mnemo__engine_ctx_free(c->ectx);
    mnemo__free(c);
}

/* The prompt text to use, or an EINVAL naming the valid names. */
int mnemo_embed_prompt(const mnemo_model *m, const mnemo_embed_options *o, const char **text,
                       mnemo_error *err) {
    *text = "";
    if (o && o->prompt_text) {
        *text = o->prompt_text;
        return MNEMO_OK;
    }
    const char *name = o && o->prompt_name ? o->prompt_name : m->cfg.default_prompt_name;
    if (!name) return MNEMO_OK;
    const char *t = mnemo__model_config_prompt(&m->cfg, name);
    if (t) {
        *text = t;
        return MNEMO_OK;
    }
    char names[400] = "";
    for (int i = 0; i < m->cfg.n_prompts; i++) {
        size_t used = strlen(names);
        snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", m->cfg.prompt_names[i]);
    }
    return mnemo__fail(err, MNEMO_EINVAL, "unknown prompt name '%.60s'; this model has: %s", name,
                       m->cfg.n_prompts ? names : "no named prompts");
}

size_t mnemo__embed_truncate_side(const mnemo_model *m, int32_t *ids, size_t n, bool left) {
    size_t max_tokens = (size_t)m->cfg.max_seq_length;
    if (n <= max_tokens) return n;
    size_t tail = mnemo_tokenizer_num_special_end(m->tok);
    size_t head = mnemo_tokenizer_num_special(m->tok) - tail;
    if (tail > n) tail = n;
    if (left && head + tail < max_tokens) {
        /* TEI's "Left": the post-processor's opening ids (<bos>), then the
         * last tokens, <eos> included */
        memmove(ids + head, ids + n - (max_tokens - head), (max_tokens - head) * sizeof(int32_t));
        return max_tokens;
    }
    /* As HF truncation: keep the first tokens, then the post-processor's
     * closing ids (<eos>), so the input still ends as the model expects. */
    memmove(ids + max_tokens - tail, ids + n - tail, tail * sizeof(int32_t));
    return max_tokens;
}

size_t mnemo__embed_truncate(const mnemo_model *m, int32_t *ids, size_t n) {
    return mnemo__embed_truncate_side(m, ids, n, false);
}

void mnemo__embed_matryoshka(const float *full, size_t width, size_t dim, float *out) {
    if (dim == 0 || dim > width) dim = width;
    if (out != full) memmove(out, full, dim * sizeof(float));
    if (dim < width) mnemo__l2_normalize(out, dim);
}

/* Tokenizes prompt + text with `joined` as the reusable join buffer. */
static int tokenize_one(const mnemo_model *m, const char *prompt, size_t plen, const char *text,
                        size_t len, mnemo_truncation mode, char **joined, size_t *joined_cap,
                        int32_t **ids_out, size_t *n_out, mnemo_error *err) {
    size_t bad, need;
    *ids_out = NULL;
    if (!text && len) return mnemo__fail(err, MNEMO_EINVAL, "text is NULL");
    if (!mnemo_utf8_valid(text, len, &bad))
        return mnemo__fail(err, MNEMO_EUTF8, "invalid UTF-8 at byte offset %zu", bad);
    if (!mnemo__add_size(plen, len, &need))
        return mnemo__fail(err, MNEMO_ETOOBIG, "text is too large");
    if (need > *joined_cap || !*joined) {
        char *p = mnemo__realloc(*joined, need + 1);
        if (!p) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
        *joined = p;
        *joined_cap = need;
    }
    if (plen) memcpy(*joined, prompt, plen);
    if (len) memcpy(*joined + plen, text, len);
    size_t cap = mnemo_tokenizer_max_ids(m->tok, need), count;
    int32_t *ids = mnemo__malloc_array(cap, sizeof(int32_t));
    if (!ids) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    int rc = mnemo_tokenizer_encode(m->tok, *joined, need, 0, ids, cap, &count, err);
    if (rc) {
        mnemo__free(ids);
        return rc;
    }
    size_t max_tokens = (size_t)m->cfg.max_seq_length;
    if (count > max_tokens && mode == MNEMO_TRUNCATE_REFUSE) {
        mnemo__free(ids);
        return mnemo__fail(err, MNEMO_ETOOBIG,
                           "it has %zu tokens (prompt and <bos>/<eos> included); the model takes "
                           "at most %zu: shorten it or allow truncation",
                           count, max_tokens);
    }
    *n_out = mnemo__embed_truncate_side(m, ids, count, mode == MNEMO_TRUNCATE_LEFT);
    *ids_out = ids;
    return MNEMO_OK;
}

static int checked_prompt(const mnemo_model *m, const mnemo_embed_options *opts,
                          const char **prompt, size_t *plen, mnemo_error *err) {
    int rc = mnemo_embed_prompt(m, opts, prompt, err);
    if (rc) return rc;
    size_t bad;
    *plen = strlen(*prompt);
    if (!mnemo_utf8_valid(*prompt, *plen, &bad))
        return mnemo__fail(err, MNEMO_EUTF8, "prompt: invalid UTF-8 at byte offset %zu", bad);
    return MNEMO_OK;
}

static mnemo_truncation mode_of(const mnemo_embed_options *o) {
    return o && o->no_truncate ? MNEMO_TRUNCATE_REFUSE : MNEMO_TRUNCATE_RIGHT;
}

int mnemo_embed_tokenize(const mnemo_model *m, const char *text, size_t len,
                         const mnemo_embed_options *opts, int32_t **ids, size_t *n,
                         mnemo_error *err) {
    return mnemo__embed_tokenize_mode(m, text, len, opts, mode_of(opts), ids, n, err);
}

int mnemo__embed_tokenize_mode(const mnemo_model *m, const char *text, size_t len,
                               const mnemo_embed_options *opts, mnemo_truncation mode,
                               int32_t **ids, size_t *n, mnemo_error *err) {
    if (!m || !ids || !n)
        return mnemo__fail(err, MNEMO_EINVAL, "mnemo_embed_tokenize: NULL argument");
    *ids = NULL;
    const char *prompt;
    size_t plen;
    int rc = checked_prompt(m, opts, &prompt, &plen, err);
    if (rc) return rc;
    char *joined = NULL;
    size_t joined_cap = 0;
    rc = tokenize_one(m, prompt, plen, text, len, mode, &joined, &joined_cap, ids, n, err);
    mnemo__free(joined);
    return rc;
}

int mnemo_embed_tokens(mnemo_context *c, const int32_t *const *ids, const size_t *lens, size_t n,
                       size_t dim, float *out, mnemo_error *err) {
    if (!c || (n && (!ids || !lens || !out)))
        return mnemo__fail(err, MNEMO_EINVAL, "mnemo_embed_tokens: NULL argument");
    const mnemo_model *m = c->model;
    size_t width = (size_t)m->cfg.output_dim, max_tokens = (size_t)m->cfg.max_seq_length;
    if (dim == 0) dim = width;
    if (dim > width)
        return mnemo__fail(err, MNEMO_EINVAL,
                           "dimension %zu is out of range: this model gives 1..%zu "
                           "(trained Matryoshka sizes: 768, 512, 256, 128)",
                           dim, width);
    for (size_t i = 0; i < n; i++)
        if (lens[i] == 0 || lens[i] > max_tokens || !ids[i])
            return mnemo__fail(err, MNEMO_EINVAL, "sequence %zu has %zu tokens; each needs 1..%zu",
                               i, lens[i], max_tokens);
    if (n == 0) return MNEMO_OK;
    float *full = dim == width ? out : mnemo__malloc_array(n ? n : 1, width * sizeof(float));
    if (!full) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory for %zu vectors", n);
    size_t budget = mnemo__engine_ctx_max_tokens(c->ectx);
    if (budget > FORWARD_TOKENS) budget = FORWARD_TOKENS;
    int rc = MNEMO_OK;
    /* Pack sequences in order into forward passes of at most `budget` tokens,
     * or one sequence alone when it is longer (the context holds it: its
     * capacity is at least the model's max). */
    for (size_t first = 0; rc == MNEMO_OK && first < n;) {
        size_t last = first, total = 0;
        while (last < n && (last == first || total + lens[last] <= budget)) total += lens[last++];
        rc = mnemo__engine_forward(c->ectx, ids + first, lens + first, last - first,
                                   full + first * width, err);
        first = last;
    }
    if (rc == MNEMO_OK && full != out)
        for (size_t i = 0; i < n; i++)
            mnemo__embed_matryoshka(full + i * width, width, dim, out + i * dim);
    if (full != out) mnemo__free(full);
    return rc;
}

int mnemo_embed(mnemo_context *c, const char *const *texts, const size_t *lens, size_t n,
                const mnemo_embed_options *opts, float *out, size_t *n_tokens, mnemo_error *err) {
    if (!c || (n && (!texts || !lens || !out)))
        return mnemo__fail(err, MNEMO_EINVAL, "mnemo_embed: NULL argument");
    const mnemo_model *m = c->model;
    size_t width = (size_t)m->cfg.output_dim, dim = opts && opts->dim ? opts->dim : width;
    if (dim > width)
        return mnemo__fail(err, MNEMO_EINVAL,
                           "dimension %zu is out of range: this model gives 1..%zu "
                           "(trained Matryoshka sizes: 768, 512, 256, 128)",
                           dim, width);
    const char *prompt;
    size_t plen;
    int rc = checked_prompt(m, opts, &prompt, &plen, err);
    if (rc) return rc;

    /* Tokenize everything first: errors are found before any compute. */
    int32_t **ids = mnemo__calloc(n ? n : 1, sizeof *ids);
    size_t *counts = mnemo__calloc(n ? n : 1, sizeof *counts);
    char *joined = NULL;
    size_t joined_cap = 0;
    if (!ids || !counts) {
        rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory for %zu texts", n);
        goto done;
    }
    for (size_t i = 0; i < n && rc == MNEMO_OK; i++) {
        rc = tokenize_one(m, prompt, plen, texts[i], lens[i], mode_of(opts), &joined, &joined_cap,
                          &ids[i], &counts[i], err);
        if (rc) mnemo__fail_prefix(err, "texts[%zu]", i);
    }
    if (rc == MNEMO_OK)
        rc = mnemo_embed_tokens(c, (const int32_t *const *)ids, counts, n, dim, out, err);
    if (rc == MNEMO_OK && n_tokens) memcpy(n_tokens, counts, n * sizeof *counts);
done:
    if (ids)
        for (size_t i = 0; i < n; i++) mnemo__free(ids[i]);
    mnemo__free(ids);
    mnemo__free(counts);
    mnemo__free(joined);
    return rc;
}
