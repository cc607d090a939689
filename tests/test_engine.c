/*
 * test_engine.c — the engine against sentence-transformers. Goldens made by
 * tests/fixtures/engine/make_goldens.py: for every text and prompt, the
 * reference's vector must be matched with cosine >= 0.99999 and every
 * component within 1e-4, at the full width and at Matryoshka prefixes, with
 * the same token count. Runs on the tiny random model (f32, bf16 and f16
 * weights) always, and on the real EmbeddingGemma when given its folder.
 * Also: batching does not change results, prompt names resolve to the
 * reference's prompt texts, truncation and its refusal, bad input, and
 * model folders the engine must refuse.
 *
 * usage: test_engine FIXTURES_ENGINE_DIR [REAL_MODEL_DIR [PRECISION | gguf GGUF_DIR]]
 */
#include "core/core.h"
#include "kernels/kernels.h"
#include "test.h"

#include <jansson.h>
#include <math.h>

/* f32 conformance: the bar. Lowered per case for reduced precisions
 * (bf16 weights: cosine >= 0.999, docs/model.md's promise). */
static double COS_MIN = 0.99999, DIFF_MAX = 1e-4;

static const char *fixtures, *real_model, *real_precision, *gguf_dir;
static char tmpdir[128];

typedef struct golden {
    char *text, *prompt;
    size_t len, n_tokens;
    int truncated;
    json_t *names;
    const float *vec;
    double bf16_cos; /* the reference's own bf16 run on the row (1 when unknown) */
} golden;

typedef struct golden_set {
    golden *rows;
    size_t n, dim;
    float *vecs;
} golden_set;

static int load_set(golden_set *g, const char *jsonl, const char *f32, size_t dim) {
    memset(g, 0, sizeof *g);
    g->dim = dim;
    FILE *f = fopen(jsonl, "r");
    if (!f) return -1;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *o = json_loads(line, JSON_ALLOW_NUL, NULL);
        if (!o) return -1;
        g->rows = realloc(g->rows, (g->n + 1) * sizeof *g->rows);
        golden *r = &g->rows[g->n++];
        json_t *t = json_object_get(o, "text"), *p = json_object_get(o, "prompt");
        r->len = json_string_length(t);
        r->text = malloc(r->len + 1);
        memcpy(r->text, json_string_value(t), r->len + 1);
        r->prompt = strdup(json_string_value(p));
        r->n_tokens = (size_t)json_integer_value(json_object_get(o, "n_tokens"));
        r->truncated = json_is_true(json_object_get(o, "truncated"));
        r->names = json_incref(json_object_get(o, "prompt_names"));
        r->bf16_cos = 1.0;
        json_decref(o);
    }
    free(line);
    fclose(f);
    FILE *b = fopen(f32, "rb");
    if (!b) return -1;
    g->vecs = malloc(g->n * dim * sizeof(float));
    size_t got = fread(g->vecs, sizeof(float), g->n * dim, b);
    fclose(b);
    if (got != g->n * dim) return -1;
    for (size_t i = 0; i < g->n; i++) g->rows[i].vec = g->vecs + i * dim;
    return 0;
}

static void free_set(golden_set *g) {
    for (size_t i = 0; i < g->n; i++) {
        free(g->rows[i].text);
        free(g->rows[i].prompt);
        json_decref(g->rows[i].names);
    }
    free(g->rows);
    free(g->vecs);
}

/* cosine and max |diff| of a against the golden's first d values, renormalized */
static void compare(const float *a, const float *golden_full, size_t d, double *cos_out,
                    double *diff_out) {
    double gn = 0, an = 0, dot = 0;
    for (size_t i = 0; i < d; i++) gn += (double)golden_full[i] * golden_full[i];
    gn = sqrt(gn);
    double maxd = 0;
    for (size_t i = 0; i < d; i++) {
        double gv = golden_full[i] / gn;
        dot += a[i] * gv;
        an += (double)a[i] * a[i];
        double df = fabs(a[i] - gv);
        if (df > maxd) maxd = df;
    }
    *cos_out = dot / sqrt(an);
    *diff_out = maxd;
}

typedef struct stats {
    double worst_cos, worst_diff;
    double worst_cos_usual; /* over the rows judged at COS_MIN itself */
    size_t compared, failed;
} stats;

/* The real set's real/bf16_cosine.json (make_goldens.py --only bf16): each
 * row's cosine under sentence-transformers' own bf16 run. */
static int load_bf16_cosines(golden_set *g, const char *path) {
    json_t *o = json_load_file(path, 0, NULL);
    json_t *a = json_object_get(o, "cosine");
    int rc = json_array_size(a) == g->n ? 0 : -1;
    for (size_t i = 0; !rc && i < g->n; i++)
        g->rows[i].bf16_cos = json_number_value(json_array_get(a, i));
    json_decref(o);
    return rc;
}

/* A reduced precision's bar on one row: COS_MIN, except on an ill-conditioned
 * row, one where the reference's own bf16 run is already below int8's 0.995:
 * there any rounding moves the result a lot (row 48 of the real set: 0.98969
 * under sentence-transformers bf16, and mnemo's int8 anywhere in 0.987-0.9994
 * as rounding changes, even f32 attention summed in another order), and the
 * bar is that run's cosine less 0.01 (docs/model.md, "Ill-conditioned rows"). */
static double row_bar(const golden *r) {
    bool reduced = COS_MIN < 0.99999;
    return reduced && r->bf16_cos < 0.995 && r->bf16_cos - 0.01 < COS_MIN ? r->bf16_cos - 0.01
                                                                          : COS_MIN;
}

static void record(stats *s, double c, double d, size_t row, size_t dim, double bar) {
    if (s->compared == 0 || c < s->worst_cos) s->worst_cos = c;
    if (bar == COS_MIN && (s->worst_cos_usual == 0 || c < s->worst_cos_usual))
        s->worst_cos_usual = c;
    if (d > s->worst_diff) s->worst_diff = d;
    s->compared++;
    if (c < bar || d > DIFF_MAX) {
        if (s->failed < 8)
            fprintf(stderr, "  row %zu dim %zu: cosine %.7f, max diff %.2e\n", row, dim, c, d);
        s->failed++;
    }
}

/* Embeds every row (grouped by prompt, one call per group so batches pack
 * many sequences) and compares at the full width and at prefixes. */
static void check_goldens(mnemo_context *ctx, const mnemo_model *m, golden_set *g,
                          const size_t *dims, size_t n_dims, bool api_dims_all, const char *label) {
    size_t width = mnemo_model_dim(m);
    stats st = {0};
    size_t token_mismatch = 0;
    bool *done = calloc(g->n, 1);
    const char **texts = malloc(g->n * sizeof *texts);
    size_t *lens = malloc(g->n * sizeof *lens), *idx = malloc(g->n * sizeof *idx),
           *toks = malloc(g->n * sizeof *toks);
    float *out = malloc(g->n * width * sizeof(float));
    for (size_t first = 0; first < g->n; first++) {
        if (done[first]) continue;
        size_t k = 0;
        for (size_t i = first; i < g->n; i++)
            if (!done[i] && !strcmp(g->rows[i].prompt, g->rows[first].prompt)) {
                texts[k] = g->rows[i].text;
                lens[k] = g->rows[i].len;
                idx[k++] = i;
                done[i] = 1;
            }
        mnemo_embed_options o = {.prompt_text = g->rows[first].prompt};
        mnemo_error err;
        int rc = mnemo_embed(ctx, texts, lens, k, &o, out, toks, &err);
        CHECKF(rc == MNEMO_OK, "%s: %s", label, err.message);
        if (rc) continue;
        for (size_t j = 0; j < k; j++) {
            golden *r = &g->rows[idx[j]];
            if (toks[j] != r->n_tokens) {
                if (token_mismatch++ < 5)
                    fprintf(stderr, "  row %zu: %zu tokens, reference %zu\n", idx[j], toks[j],
                            r->n_tokens);
            }
            for (size_t di = 0; di < n_dims; di++) {
                size_t d = dims[di] ? dims[di] : width;
                float v[4096];
                memcpy(v, out + j * width, d * sizeof(float));
                double nn = 0;
                for (size_t q = 0; q < d; q++) nn += (double)v[q] * v[q];
                for (size_t q = 0; q < d; q++) v[q] = (float)(v[q] / sqrt(nn));
                double c, df;
                compare(v, r->vec, d, &c, &df);
                record(&st, c, df, idx[j], d, row_bar(r));
            }
            /* every name the reference lists for this prompt resolves to its text */
            size_t ni;
            json_t *nm;
            json_array_foreach(r->names, ni, nm) {
                if (mnemo_model_prompt_count(m) == 0) break; /* a GGUF file without prompts */
                const char *t = mnemo_model_prompt_text(m, json_string_value(nm));
                CHECKF(t && !strcmp(t, r->prompt), "%s: prompt name %s", label,
                       json_string_value(nm));
            }
        }
    }
    CHECKF(token_mismatch == 0, "%s: %zu rows with another token count", label, token_mismatch);
    CHECKF(st.failed == 0, "%s: %zu of %zu comparisons outside tolerance", label, st.failed,
           st.compared);
    fprintf(stderr,
            "  %s: %zu rows, %zu comparisons, worst cosine %.8f (%.8f on the rows not "
            "ill-conditioned), worst |diff| %.2e\n",
            label, g->n, st.compared, st.worst_cos, st.worst_cos_usual, st.worst_diff);

    /* The API's own dim path, and batch independence, on a few rows. */
    size_t sample = api_dims_all ? g->n : (g->n < 6 ? g->n : 6);
    for (size_t i = 0; i < sample; i++) {
        golden *r = &g->rows[i];
        const char *t = r->text;
        mnemo_embed_options o = {.prompt_text = r->prompt};
        float one[4096], part[4096];
        size_t tk;
        mnemo_error err;
        CHECK(mnemo_embed(ctx, &t, &r->len, 1, &o, one, &tk, &err) == MNEMO_OK);
        double c, df;
        compare(one, r->vec, width, &c, &df);
        CHECKF(c >= row_bar(r) && df <= DIFF_MAX, "%s row %zu alone: cosine %.7f", label, i, c);
        for (size_t di = 0; di < n_dims; di++) {
            if (!dims[di]) continue;
            o.dim = dims[di];
            CHECK(mnemo_embed(ctx, &t, &r->len, 1, &o, part, &tk, &err) == MNEMO_OK);
            compare(part, r->vec, dims[di], &c, &df);
            CHECKF(c >= row_bar(r) && df <= DIFF_MAX, "%s row %zu dim %zu: cosine %.7f", label, i,
                   dims[di], c);
            double n2 = 0;
            for (size_t q = 0; q < dims[di]; q++) n2 += (double)part[q] * part[q];
            CHECK(fabs(n2 - 1.0) < 1e-5);
        }
    }
    free(done), free(texts), free(lens), free(idx), free(toks), free(out);
}

static mnemo_model *open_model_at(const char *dir, const char *precision) {
    mnemo_model *m;
    mnemo_error err;
    mnemo_model_options mo = {.cache_dir = tmpdir, .precision = precision};
    int rc = mnemo_model_open(dir, &mo, &m, &err);
    CHECKF(rc == MNEMO_OK, "%s", err.message);
    return rc ? NULL : m;
}

static mnemo_model *open_model(const char *dir) { return open_model_at(dir, NULL); }

static void test_tiny_variants(void) {
    /* folder, --precision, goldens, the precision the model then runs at */
    const char *variants[][4] = {
        {"f32", "file", "f32", "f32"},  {"bf16", "file", "bf16", "bf16"},
        {"f16", "file", "f16", "f32"},  /* f16 is widened at load */
        {"f32", "bf16", "f32", "bf16"}, /* linear layers rounded to bf16 at load */
        {"bf16", "f32", "bf16", "f32"}, /* bf16 widened: exact */
        {"f32", "int8", "f32", "int8"}, /* int8 weights per row, int16 activations */
        {"f32", "q4", "f32", "q4"},     /* 4-bit blocks of 32, int16 activations */
    };
    for (int v = 0; v < 7; v++) {
        char dir[512], jsonl[512], bin[512];
        snprintf(dir, sizeof dir, "%s/tiny/model-%s", fixtures, variants[v][0]);
        snprintf(jsonl, sizeof jsonl, "%s/tiny/goldens.jsonl", fixtures);
        snprintf(bin, sizeof bin, "%s/tiny/goldens-%s.f32", fixtures, variants[v][2]);
        mnemo_model *m = open_model_at(dir, variants[v][1]);
        if (!m) continue;
        bool reduced = strcmp(variants[v][1], "f32") != 0 && strcmp(variants[v][1], "file") != 0;
        /* docs/model.md's bars: bf16 >= 0.999, int8 >= 0.995. 4 bits: the random tiny
         * model loses far more to them than the trained one (worst cosine 0.63
         * here; the real model's bar, 0.98, is checked on the real model): on it
         * this only shows the q4 path runs (also under the sanitizers) and
         * gives vectors that still point the golden way. */
        bool q4 = !strcmp(variants[v][1], "q4");
        COS_MIN = !reduced ? 0.99999 : !strcmp(variants[v][1], "bf16") ? 0.999 : q4 ? 0.5 : 0.995;
        /* reduced precision: the bar is the cosine; the components only catch a
         * wild value. int8 with the gate|up activations at u8 (VNNI tables):
         * measured 0.055 at dimension 8 on this random model. */
        DIFF_MAX = q4 ? 1.0 : !strcmp(variants[v][1], "int8") ? 0.1 : reduced ? 5e-2 : 1e-4;
        CHECKF(strcmp(mnemo_model_precision(m), variants[v][3]) == 0, "precision %s",
               mnemo_model_precision(m));
        golden_set g;
        CHECKF(load_set(&g, jsonl, bin, mnemo_model_dim(m)) == 0, "cannot read %s", jsonl);
        mnemo_context *ctx;
        mnemo_error err;
        /* a small token budget forces several packed passes per call */
        mnemo_context_options co = {.n_threads = 2, .max_batch_tokens = 64};
        CHECK(mnemo_context_create(m, &co, &ctx, &err) == MNEMO_OK);
        size_t dims[] = {0, 32, 16, 8};
        char label[64];
        snprintf(label, sizeof label, "tiny-%s%s%s", variants[v][0], variants[v][1] ? " as " : "",
                 variants[v][1] ? variants[v][1] : "");
        check_goldens(ctx, m, &g, dims, 4, true, label);
        mnemo_context_free(ctx);
        free_set(&g);
        mnemo_model_close(m);
    }
    COS_MIN = 0.99999;
    DIFF_MAX = 1e-4;
    /* auto (the default): int8 where the kernels make int8 the fastest, else the file's */
    const char *expect = mnemo__kernels_best()->prefer_int8 ? "int8" : "f32";
    const char *asked[] = {NULL, "auto"};
    for (int a = 0; a < 2; a++) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s/tiny/model-f32", fixtures);
        mnemo_model *m = open_model_at(dir, asked[a]);
        if (!m) continue;
        CHECKF(strcmp(mnemo_model_precision(m), expect) == 0, "auto chose %s on kernels %s, not %s",
               mnemo_model_precision(m), mnemo_model_kernels(m), expect);
        mnemo_model_close(m);
    }
}

/* Ranking documents for each query: the order of the top 10 by the golden
 * scores must be ours too, except between scores closer than `tie` (2e-4 at
 * f32; at bf16 the weights keep 8 bits of mantissa and scores move by up to
 * ~1e-3, so pairs closer than 2e-3 are ties at that precision). Queries: rows
 * with the "query" prompt; documents: rows with the "document" prompt. */
static void check_retrieval_order(mnemo_context *ctx, golden_set *g, double tie) {
    size_t nq = 0, nd = 0, qi[256], di[256];
    for (size_t i = 0; i < g->n; i++) {
        json_t *names = g->rows[i].names;
        size_t k;
        json_t *nm;
        json_array_foreach(names, k, nm) {
            if (!strcmp(json_string_value(nm), "query") && nq < 256) qi[nq++] = i;
            if (!strcmp(json_string_value(nm), "document") && nd < 256) di[nd++] = i;
        }
    }
    if (nq == 0 || nd == 0) return;
    float *qv = malloc(nq * 768 * 4), *dv = malloc(nd * 768 * 4);
    const char *t[256];
    size_t l[256];
    mnemo_error err;
    for (int side = 0; side < 2; side++) {
        size_t n = side ? nd : nq, *idx = side ? di : qi;
        for (size_t i = 0; i < n; i++) {
            t[i] = g->rows[idx[i]].text;
            l[i] = g->rows[idx[i]].len;
        }
        mnemo_embed_options o = {.prompt_name = side ? "document" : "query"};
        CHECK(mnemo_embed(ctx, t, l, n, &o, side ? dv : qv, NULL, &err) == MNEMO_OK);
    }
    size_t flips = 0;
    for (size_t a = 0; a < nq; a++) {
        double gs[256], os[256];
        size_t order[256];
        for (size_t b = 0; b < nd; b++) {
            gs[b] = os[b] = 0;
            for (int d = 0; d < 768; d++) {
                gs[b] += (double)g->rows[qi[a]].vec[d] * g->rows[di[b]].vec[d];
                os[b] += (double)qv[a * 768 + d] * dv[b * 768 + d];
            }
            order[b] = b;
        }
        for (size_t i = 0; i < nd; i++) /* selection sort by golden score, top 10 */
            for (size_t j = i + 1; j < nd && i < 10; j++)
                if (gs[order[j]] > gs[order[i]]) {
                    size_t tmp = order[i];
                    order[i] = order[j];
                    order[j] = tmp;
                }
        for (size_t i = 0; i + 1 < 10 && i + 1 < nd; i++) {
            size_t x = order[i], y = order[i + 1];
            if (gs[x] - gs[y] >= tie && os[x] <= os[y]) flips++;
        }
    }
    CHECKF(flips == 0, "%zu order changes in the top 10 of %zu queries", flips, nq);
    fprintf(stderr, "  retrieval order: %zu queries x %zu documents, %zu changes in the top 10\n",
            nq, nd, flips);
    free(qv);
    free(dv);
}

static void test_real_model(void) {
    char jsonl[512], bin[512], rp[512];
    snprintf(jsonl, sizeof jsonl, "%s/real/goldens.jsonl", fixtures);
    snprintf(bin, sizeof bin, "%s/real/goldens.f32", fixtures);
    snprintf(rp, sizeof rp, "%s/real/red_planet.json", fixtures);
    mnemo_model *m = open_model_at(real_model, real_precision);
    if (!m) return;
    CHECK(mnemo_model_dim(m) == 768 && mnemo_model_max_tokens(m) == 2048);
    bool reduced = real_precision && strcmp(real_precision, "f32") != 0;
    bool q4 = real_precision && !strcmp(real_precision, "q4");
    if (reduced) { /* docs/model.md's bars: bf16 >= 0.999, int8 >= 0.995; components not compared */
        COS_MIN = !strcmp(real_precision, "bf16") ? 0.999 : 0.995;
        /* q4 made here from the f32 weights (post-training, no calibration):
         * measured worst cosine 0.922 (a long Wikipedia text), mean 0.980 over
         * the golden set; block size 16 or min/max blocks reach only 0.940 /
         * 0.948. The 0.98 is for Google's QAT Q4_0 file, trained for 4
         * bits, whose blocks q4 keeps exactly (test_kernels: check_q4_exact);
         * that file cannot be fetched here. So this bar guards the PTQ path
         * against regressions; it is not the 0.98 bar. */
        if (q4) COS_MIN = 0.90;
        DIFF_MAX = 1.0;
    }
    golden_set g;
    CHECKF(load_set(&g, jsonl, bin, 768) == 0, "cannot read %s", jsonl);
    char bc[512];
    snprintf(bc, sizeof bc, "%s/real/bf16_cosine.json", fixtures);
    CHECKF(load_bf16_cosines(&g, bc) == 0, "cannot read %s", bc);
    mnemo_context *ctx;
    mnemo_error err;
    CHECK(mnemo_context_create(m, NULL, &ctx, &err) == MNEMO_OK);
    double t0 = mnemo__now();
    size_t dims[] = {0, 512, 256, 128};
    char label[64];
    snprintf(label, sizeof label, "embeddinggemma-300m %s",
             real_precision ? real_precision : "f32");
    check_goldens(ctx, m, &g, dims, 4, false, label);
    if (!real_precision || (strcmp(real_precision, "int8") != 0 && !q4))
        check_retrieval_order(ctx, &g, reduced ? 2e-3 : 2e-4);
    size_t tokens = 0;
    for (size_t i = 0; i < g.n; i++) tokens += g.rows[i].n_tokens;
    fprintf(stderr, "  %zu tokens in %.1f s\n", tokens, mnemo__now() - t0);

    /* the model card's check, with prompt names */
    json_t *red = json_load_file(rp, 0, NULL);
    CHECK(red != NULL);
    if (red) {
        const char *q = json_string_value(json_object_get(red, "query"));
        size_t ql = strlen(q);
        float qv[768], dv[4 * 768];
        mnemo_embed_options oq = {.prompt_name = "query"}, od = {.prompt_name = "document"};
        CHECK(mnemo_embed(ctx, &q, &ql, 1, &oq, qv, NULL, &err) == MNEMO_OK);
        const char *docs[4];
        size_t dl[4];
        json_t *da = json_object_get(red, "documents");
        for (size_t i = 0; i < 4; i++) {
            docs[i] = json_string_value(json_array_get(da, i));
            dl[i] = strlen(docs[i]);
        }
        CHECK(mnemo_embed(ctx, docs, dl, 4, &od, dv, NULL, &err) == MNEMO_OK);
        const double expect[4] = {0.3008, 0.6361, 0.4927, 0.4889}; /* ST 6.2, f32, CPU */
        double tol = q4 ? 0.03 : reduced ? 0.01 : 0.00005; /* 4 places at f32; q4 measured 0.021 */
        for (int i = 0; i < 4; i++) {
            double s = 0;
            for (int d = 0; d < 768; d++) s += (double)qv[d] * dv[i * 768 + d];
            fprintf(stderr, "  Red Planet document %d: %.4f (reference %.4f)\n", i, s, expect[i]);
            CHECKF(fabs(s - expect[i]) < tol, "Red Planet document %d: %.5f, expected %.4f", i, s,
                   expect[i]);
        }
        json_decref(red);
    }
    /* <image_soft_token> is a token without an embedding row */
    const char *img = "look: <image_soft_token>";
    size_t il = strlen(img);
    float v[768];
    CHECK(mnemo_embed(ctx, &img, &il, 1, NULL, v, NULL, &err) == MNEMO_ERANGE);
    CHECK(strstr(err.message, "262144") != NULL);
    mnemo_context_free(ctx);
    free_set(&g);
    mnemo_model_close(m);
}

static void test_options_and_errors(void) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/tiny/model-f32", fixtures);
    mnemo_model *m = open_model(dir);
    if (!m) return;
    mnemo_context *ctx;
    mnemo_error err;
    CHECK(mnemo_context_create(m, NULL, &ctx, &err) == MNEMO_OK);
    const char *t = "hello world";
    size_t l = strlen(t), tk;
    float v[64], w[64];
    mnemo_embed_options o = {.prompt_name = "nope"};
    CHECK(mnemo_embed(ctx, &t, &l, 1, &o, v, NULL, &err) == MNEMO_EINVAL);
    CHECKF(strstr(err.message, "nope") && strstr(err.message, "query") &&
               strstr(err.message, "document"),
           "%s", err.message);
    o = (mnemo_embed_options){.dim = 65};
    CHECK(mnemo_embed(ctx, &t, &l, 1, &o, v, NULL, &err) == MNEMO_EINVAL);
    const char *bad = "ok \xC3\x28";
    size_t bl = strlen(bad);
    CHECK(mnemo_embed(ctx, &bad, &bl, 1, NULL, v, NULL, &err) == MNEMO_EUTF8);
    CHECKF(strstr(err.message, "offset 3") != NULL, "%s", err.message);
    /* a prompt name and its text give the same vector; a custom text wins */
    o = (mnemo_embed_options){.prompt_name = "query"};
    CHECK(mnemo_embed(ctx, &t, &l, 1, &o, v, NULL, &err) == MNEMO_OK);
    o = (mnemo_embed_options){.prompt_text = mnemo_model_prompt_text(m, "query"),
                              .prompt_name = "document"};
    CHECK(mnemo_embed(ctx, &t, &l, 1, &o, w, NULL, &err) == MNEMO_OK);
    CHECK(memcmp(v, w, sizeof v) == 0);
    /* long input: truncated to max tokens with <eos> last, or refused */
    char longtext[4000];
    for (size_t i = 0; i < sizeof longtext - 1; i++) longtext[i] = "abc def "[i % 8];
    longtext[sizeof longtext - 1] = 0;
    const char *lt = longtext;
    size_t ll = strlen(longtext);
    CHECK(mnemo_embed(ctx, &lt, &ll, 1, NULL, v, &tk, &err) == MNEMO_OK);
    CHECK(tk == mnemo_model_max_tokens(m));
    o = (mnemo_embed_options){.no_truncate = 1};
    CHECK(mnemo_embed(ctx, &lt, &ll, 1, &o, v, &tk, &err) == MNEMO_ETOOBIG);
    CHECKF(strstr(err.message, "at most") != NULL, "%s", err.message);
    /* an unknown precision */
    mnemo_model *m2 = NULL;
    mnemo_model_options bad_p = {.precision = "f8"};
    CHECK(mnemo_model_open(dir, &bad_p, &m2, &err) == MNEMO_EINVAL);
    CHECK(strstr(err.message, "f8") && strstr(err.message, "bf16"));
    /* zero texts is fine */
    CHECK(mnemo_embed(ctx, NULL, NULL, 0, NULL, NULL, NULL, &err) == MNEMO_OK);
    mnemo_context_free(ctx);
    mnemo_model_close(m);
}

/* The packed-weight cache: a second open maps it and gives the same vectors
 * bit for bit; a damaged file is ignored, removed and rewritten. */
static void test_weight_cache(void) {
    char dir[512], cache[300], cmd[700];
    snprintf(dir, sizeof dir, "%s/tiny/model-f32", fixtures);
    snprintf(cache, sizeof cache, "%s/wcache", tmpdir);
    const char *precisions[] = {"f32", "int8", "bf16"};
    for (int p = 0; p < 3; p++) {
        float v[4][64];
        /* 0 writes the cache, 1 maps it, 2 meets a damaged one (removed), 3 writes it again */
        for (int round = 0; round < 4; round++) {
            if (round == 2) { /* damage: flip bytes in the middle of every cache file */
                snprintf(
                    cmd, sizeof cmd,
                    "for f in %s/packed/*.mpak; do printf 'XXXXXXXX' | dd of=\"$f\" bs=1 seek=64 "
                    "conv=notrunc status=none; done",
                    cache);
                CHECK(system(cmd) == 0);
            }
            mnemo_model *m;
            mnemo_error err;
            mnemo_model_options mo = {.cache_dir = cache, .precision = precisions[p]};
            CHECKF(mnemo_model_open(dir, &mo, &m, &err) == MNEMO_OK, "%s", err.message);
            mnemo_context *ctx;
            CHECK(mnemo_context_create(m, NULL, &ctx, &err) == MNEMO_OK);
            const char *t = "the cache must not change a thing";
            size_t l = strlen(t);
            CHECK(mnemo_embed(ctx, &t, &l, 1, NULL, v[round], NULL, &err) == MNEMO_OK);
            mnemo_context_free(ctx);
            mnemo_model_close(m);
        }
        CHECKF(memcmp(v[0], v[1], sizeof v[0]) == 0, "%s: cached weights give other vectors",
               precisions[p]);
        CHECKF(memcmp(v[0], v[2], sizeof v[0]) == 0, "%s: a damaged cache changed the vectors",
               precisions[p]);
        CHECKF(memcmp(v[0], v[3], sizeof v[0]) == 0, "%s: the rewritten cache differs",
               precisions[p]);
    }
    snprintf(cmd, sizeof cmd, "test $(ls %s/packed/*.mpak | wc -l) -eq 3", cache);
    CHECK(system(cmd) == 0);
}

/* Replaces the first `from` with `to` in a file. */
static bool edit_file(const char *path, const char *from, const char *to) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    char *buf = malloc(1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    buf[n] = 0;
    char *hit = strstr(buf, from);
    bool ok = hit != NULL;
    if (ok && (f = fopen(path, "wb"))) {
        fwrite(buf, 1, (size_t)(hit - buf), f);
        fputs(to, f);
        fputs(hit + strlen(from), f);
        fclose(f);
    }
    free(buf);
    return ok;
}

/* A copy of the tiny model with one file edited must be refused, naming it. */
static void refuse_variant(const char *file, const char *from, const char *to, int code,
                           const char *part) {
    char cmd[1024], path[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s/m && cp -r %s/tiny/model-f32 %s/m", tmpdir, fixtures,
             tmpdir);
    CHECK(system(cmd) == 0);
    snprintf(path, sizeof path, "%s/m/%s", tmpdir, file);
    CHECKF(edit_file(path, from, to), "could not edit %s", file);
    char dir[256];
    snprintf(dir, sizeof dir, "%s/m", tmpdir);
    mnemo_model *m = NULL;
    mnemo_error err = {0};
    int rc = mnemo_model_open(dir, NULL, &m, &err);
    CHECKF(rc == code, "%s: %s -> %s gave %s (%s)", file, from, to, mnemo_status_name(rc),
           err.message);
    if (rc) CHECKF(strstr(err.message, part) != NULL, "message '%s' lacks '%s'", err.message, part);
    mnemo_model_close(m);
}

static void test_refused_folders(void) {
    refuse_variant("config.json", "\"gemma3_text\"", "\"llama\"", MNEMO_EUNSUPPORTED, "model_type");
    refuse_variant("config.json", "\"use_bidirectional_attention\": true",
                   "\"use_bidirectional_attention\": false", MNEMO_EUNSUPPORTED, "bidirectional");
    refuse_variant("config.json", "\"intermediate_size\": 96", "\"intermediate_size\": 80",
                   MNEMO_EFORMAT, "shape");
    refuse_variant("config.json", "\"hidden_size\": 64", "\"hidden_size\": 48", MNEMO_EFORMAT,
                   "word_embedding_dimension");
    refuse_variant("config.json", "\"rope_type\": \"default\"", "\"rope_type\": \"yarn\"",
                   MNEMO_EUNSUPPORTED, "rope_type");
    refuse_variant("config.json", "\"sliding_attention\",", "\"chunked_attention\",",
                   MNEMO_EUNSUPPORTED, "layer_types");
    refuse_variant("config.json", "\"num_hidden_layers\": 6", "\"num_hidden_layers\": 7",
                   MNEMO_EFORMAT, "layer_types");
    refuse_variant("1_Pooling/config.json", "\"pooling_mode_cls_token\": false",
                   "\"pooling_mode_cls_token\": true", MNEMO_EUNSUPPORTED,
                   "pooling_mode_cls_token");
    refuse_variant("modules.json", "sentence_transformers.models.Normalize",
                   "sentence_transformers.models.LayerNorm", MNEMO_EUNSUPPORTED, "modules.json");
    refuse_variant("modules.json", "\"2_Dense\"", "\"../2_Dense\"", MNEMO_EFORMAT, "modules.json");
    refuse_variant("2_Dense/config.json", "\"in_features\": 64", "\"in_features\": 65",
                   MNEMO_EFORMAT, "in_features");
    refuse_variant("config.json", "{", "[", MNEMO_EFORMAT, "config.json");
    /* a missing weights file */
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "rm -rf %s/m && cp -r %s/tiny/model-f32 %s/m && rm %s/m/model.safetensors", tmpdir,
             fixtures, tmpdir, tmpdir);
    CHECK(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "%s/m", tmpdir);
    mnemo_model *m = NULL;
    mnemo_error err;
    CHECK(mnemo_model_open(cmd, NULL, &m, &err) == MNEMO_ENOENT);
    CHECK(strstr(err.message, "model.safetensors") != NULL);
    CHECK(mnemo_model_open("/nonexistent/model", NULL, &m, &err) == MNEMO_ENOENT);
}

/* GGUF files converted by llama.cpp's convert_hf_to_gguf.py from the same
 * weights: each against the sentence-transformers goldens (every 6th row), at
 * the bar of its precision, with the model's tokenizer.json. */
static void test_gguf_files(void) {
    const char *types[] = {"f32", "f16", "bf16", "q8_0", "q4_0"};
    const double cos_min[] = {0.99999, 0.9999, 0.999, 0.995, 0.98};
    char tok[512], jsonl[512], bin[512];
    snprintf(tok, sizeof tok, "%s/tokenizer.json", real_model);
    snprintf(jsonl, sizeof jsonl, "%s/real/goldens.jsonl", fixtures);
    snprintf(bin, sizeof bin, "%s/real/goldens.f32", fixtures);
    golden_set all;
    CHECKF(load_set(&all, jsonl, bin, 768) == 0, "cannot read %s", jsonl);
    char bc[512];
    snprintf(bc, sizeof bc, "%s/real/bf16_cosine.json", fixtures);
    CHECKF(load_bf16_cosines(&all, bc) == 0, "cannot read %s", bc);
    golden_set g = all; /* every 3rd row */
    g.rows = malloc(all.n * sizeof *g.rows);
    g.n = 0;
    for (size_t i = 0; i < all.n; i += 6) g.rows[g.n++] = all.rows[i];
    int found = 0;
    for (int t = 0; t < 5; t++) {
        char path[512];
        snprintf(path, sizeof path, "%s/embeddinggemma-300m-%s.gguf", gguf_dir, types[t]);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        fclose(f);
        found++;
        mnemo_model *m;
        mnemo_error err;
        /* the file's own: f32/f16/bf16 as stored, Q8_0 at int8, Q4_0 at q4 */
        mnemo_model_options mo = {.cache_dir = tmpdir, .tokenizer = tok, .precision = "file"};
        int rc = mnemo_model_open(path, &mo, &m, &err);
        CHECKF(rc == MNEMO_OK, "%s: %s", path, err.message);
        if (rc) continue;
        CHECK(mnemo_model_dim(m) == 768);
        mnemo_context *ctx;
        CHECK(mnemo_context_create(m, NULL, &ctx, &err) == MNEMO_OK);
        COS_MIN = cos_min[t];
        DIFF_MAX = t == 0 ? 1e-4 : 1.0;
        size_t dims[] = {0, 256};
        char label[64];
        snprintf(label, sizeof label, "gguf %s (runs at %s)", types[t], mnemo_model_precision(m));
        check_goldens(ctx, m, &g, dims, 2, false, label);
        mnemo_context_free(ctx);
        mnemo_model_close(m);
    }
    COS_MIN = 0.99999;
    DIFF_MAX = 1e-4;
    CHECKF(found >= 1, "no GGUF files in %s", gguf_dir);
    free(g.rows);
    free_set(&all);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s FIXTURES_ENGINE_DIR [REAL_MODEL_DIR]\n", argv[0]);
        return 2;
    }
    fixtures = argv[1];
    real_model = argc > 2 ? argv[2] : NULL;
    real_precision = argc > 3 ? argv[3] : NULL;
    if (real_precision && !strcmp(real_precision, "gguf")) {
        gguf_dir = argc > 4 ? argv[4] : NULL;
        real_precision = NULL;
        if (!gguf_dir) return 2;
    }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mnemo-test-engine-XXXXXX");
    if (!mkdtemp(tmpdir)) return 2;
    if (gguf_dir) {
        RUN(test_gguf_files);
    } else if (real_model) {
        RUN(test_real_model);
    } else {
        RUN(test_tiny_variants);
        RUN(test_options_and_errors);
        RUN(test_weight_cache);
        RUN(test_refused_folders);
    }
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return test_finish();
}
