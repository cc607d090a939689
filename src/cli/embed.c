/*
 * embed.c — `mnemo embed`: texts in (JSON string lines on stdin, or
 * arguments), one JSON array of floats per text out, in order; `null` and a
 * message naming the line for a bad one. Lines are embedded in batches so
 * the engine packs them into few forward passes. A progress line on stderr
 * when stderr is a terminal.
 */
#include "../core/jsonw.h"
#include "cli.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH_TEXTS 64
#define BATCH_BYTES (256 * 1024)

typedef struct pending {
    long line_no;
    char *text; /* NULL: a bad line, already reported */
    size_t len;
} pending;

typedef struct embed_run {
    const mnemo_settings *s;
    mnemo_model *model;
    mnemo_context *ctx;
    mnemo_embed_options opts;
    size_t dim;
    pending batch[BATCH_TEXTS];
    size_t n, bytes;
    mnemo_jsonw out;
    int bad;
    long done_texts, done_tokens;
    double t0;
    bool progress;
} embed_run;

static void report(embed_run *r, long line_no, const char *fmt, ...) MNEMO_PRINTF(3, 4);
static void report(embed_run *r, long line_no, const char *fmt, ...) {
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->progress) fputs("\r\033[K", stderr);
    fprintf(stderr, "mnemo embed: line %ld: %s\n", line_no, msg);
    r->bad++;
}

static void write_vector(embed_run *r, const float *v) {
    mnemo__jsonw_reset(&r->out);
    mnemo__jsonw_char(&r->out, '[');
    for (size_t d = 0; d < r->dim; d++) {
        if (d) mnemo__jsonw_char(&r->out, ',');
        mnemo__jsonw_float(&r->out, v[d]);
    }
    mnemo__jsonw_raw(&r->out, "]\n", 2);
    fwrite(r->out.p, 1, r->out.len, stdout);
}

static void flush(embed_run *r) {
    if (r->n == 0) return;
    const char *texts[BATCH_TEXTS];
    size_t lens[BATCH_TEXTS], toks[BATCH_TEXTS], idx[BATCH_TEXTS], k = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->batch[i].text) {
            texts[k] = r->batch[i].text;
            lens[k] = r->batch[i].len;
            idx[k++] = i;
        }
    float *vecs = malloc((k ? k : 1) * r->dim * sizeof(float));
    bool *ok = calloc(r->n, sizeof(bool));
    mnemo_error err;
    if (vecs && ok && k > 0) {
        if (mnemo_embed(r->ctx, texts, lens, k, &r->opts, vecs, toks, &err) == MNEMO_OK) {
            for (size_t j = 0; j < k; j++) {
                ok[idx[j]] = true;
                r->done_tokens += (long)toks[j];
            }
        } else {
            /* find the bad input(s): embed one by one */
            for (size_t j = 0; j < k; j++) {
                if (mnemo_embed(r->ctx, texts + j, lens + j, 1, &r->opts, vecs + j * r->dim,
                                toks + j, &err) == MNEMO_OK) {
                    ok[idx[j]] = true;
                    r->done_tokens += (long)toks[j];
                } else {
                    const char *m =
                        strncmp(err.message, "texts[0]: ", 10) ? err.message : err.message + 10;
                    report(r, r->batch[idx[j]].line_no, "%s", m);
                }
            }
        }
    } else if (k > 0) {
        for (size_t j = 0; j < k; j++) report(r, r->batch[idx[j]].line_no, "out of memory");
    }
    size_t j = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (r->batch[i].text && ok[i])
            write_vector(r, vecs + j * r->dim);
        else
            fputs("null\n", stdout);
        if (r->batch[i].text) j++;
        free(r->batch[i].text);
    }
    fflush(stdout);
    r->done_texts += (long)k;
    if (r->progress) {
        double el = mnemo__now() - r->t0;
        fprintf(stderr, "\r\033[Kembedded %ld texts, %ld tokens, %.0f tokens/s", r->done_texts,
                r->done_tokens, el > 0 ? (double)r->done_tokens / el : 0.0);
    }
    free(vecs);
    free(ok);
    r->n = 0;
    r->bytes = 0;
}

static void add(embed_run *r, long line_no, char *text, size_t len) {
    r->batch[r->n++] = (pending){line_no, text, len};
    r->bytes += len;
    if (r->n == BATCH_TEXTS || r->bytes >= BATCH_BYTES) flush(r);
}

static void handle_line(void *ctx, long line_no, const char *line, size_t len) {
    embed_run *r = ctx;
    char why[600];
    json_t *v = mnemo__cli_parse_line(line, len, JSON_STRING, why, sizeof why);
    if (!v) {
        report(r, line_no, "%s", why);
        add(r, line_no, NULL, 0);
        return;
    }
    size_t n = json_string_length(v);
    char *copy = malloc(n + 1);
    if (copy) memcpy(copy, json_string_value(v), n);
    json_decref(v);
    if (!copy) report(r, line_no, "out of memory");
    add(r, line_no, copy, n);
}

int mnemo__cmd_embed(const mnemo_settings *s, int argc, char **argv) {
    if (!s->model) {
        mnemo__cli_error("embed", "no model: pass --model DIR (a sentence-transformers folder such "
                                  "as google/embeddinggemma-300m) or set MNEMO_MODEL");
        return 2;
    }
    if (s->dim < 0 || s->threads < 0) {
        mnemo__cli_error("embed", "--dim and --threads must not be negative");
        return 2;
    }
    embed_run r = {.s = s};
    mnemo_error err;
    mnemo_model_options mo = {.cache_dir = s->cache_dir,
                              .no_cache = s->no_cache,
                              .precision = s->precision,
                              .tokenizer = s->tokenizer};
    int orc = mnemo_model_open(s->model, &mo, &r.model, &err);
    if (orc) {
        mnemo__cli_error("embed", "%s", err.message);
        return orc == MNEMO_EINVAL ? 2 : 1;
    }
    int rc = 0;
    size_t width = mnemo_model_dim(r.model);
    r.dim = s->dim ? (size_t)s->dim : width;
    r.opts = (mnemo_embed_options){s->prompt, s->prompt_text, r.dim, s->no_truncate};
    /* Check the options once, on an empty input, so a bad one stops at once. */
    const char *probe = "";
    size_t probe_len = 0;
    float *tmp = malloc(width * sizeof(float));
    mnemo_context_options co = {.n_threads = (int)s->threads};
    if (mnemo_context_create(r.model, &co, &r.ctx, &err) ||
        mnemo_embed(r.ctx, &probe, &probe_len, 0, &r.opts, tmp, NULL, &err) ||
        (r.dim > width &&
         mnemo__fail(&err, MNEMO_EINVAL, "--dim %zu is out of range 1..%zu", r.dim, width))) {
        mnemo__cli_error("embed", "%s", err.message);
        rc = 2;
        goto out;
    }
    if (!s->prompt_text && s->prompt && !mnemo_model_prompt_text(r.model, s->prompt)) {
        /* an unknown name: let mnemo_embed say which names exist */
        size_t l = 1;
        const char *x = "x";
        mnemo_embed(r.ctx, &x, &l, 1, &r.opts, tmp, NULL, &err);
        mnemo__cli_error("embed", "%s", err.message);
        rc = 2;
        goto out;
    }
    r.progress = isatty(2) && argc == 0;
    r.t0 = mnemo__now();
    if (argc > 0) {
        for (int i = 0; i < argc; i++) {
            size_t len = strlen(argv[i]);
            char *copy = malloc(len + 1);
            if (copy) memcpy(copy, argv[i], len + 1);
            add(&r, i + 1, copy, len);
        }
    } else {
        mnemo__cli_each_line(stdin, handle_line, &r);
    }
    flush(&r);
    if (r.progress) fputs("\n", stderr);
    rc = r.bad ? 1 : 0;
out:
    free(tmp);
    mnemo__jsonw_free(&r.out);
    mnemo_context_free(r.ctx);
    mnemo_model_close(r.model);
    return rc;
}
