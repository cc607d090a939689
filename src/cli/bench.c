/*
 * bench.c — `mnemo bench`: the built-in benchmark for the loaded model and
 * precision. Prints the CPU and kernel path, the machine's FMA ceiling
 * (measured here), time from process start to first vector, batch throughput
 * (256 texts of ~128 tokens, 64 of ~512), one short query's p50/p99 latency,
 * the GFLOP/s the linear layers reached, and peak RSS. Texts are generated
 * deterministically. Peers are compared by bench/compare, not here.
 */
#include "../core/jsonw.h"
#include "../kernels/kernels.h"
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

extern double mnemo__cli_start;

static const char *const WORDS[] = {
    "memory",    "agent",     "search",    "vector",   "planet",  "river",     "language",
    "model",     "embedding", "retrieval", "question", "answer",  "document",  "summary",
    "history",   "science",   "music",     "garden",   "winter",  "harbor",    "engine",
    "library",   "kitchen",   "mountain",  "network",  "signal",  "the",       "of",
    "and",       "to",        "in",        "is",       "was",     "for",       "on",
    "that",      "with",      "as",        "by",       "at",      "from",      "which",
    "this",      "have",      "not",       "but",      "they",    "their",     "been",
    "would",     "who",       "when",      "there",    "can",     "also",      "into",
    "after",     "other",     "some",      "these",    "only",    "about",     "city",
    "water",     "light",     "system",    "people",   "market",  "policy",    "energy",
    "health",    "recipe",    "journey",   "museum",   "theory",  "planetary", "quickly",
    "carefully", "remember",  "discover",  "explain",  "measure", "compare",   "improve",
    "imagine",   "travel",    "build",     "Mars",     "Paris",   "Tokyo",     "Amazon",
    "Pacific",   "2024",      "42",        "3.14",     "C",       "Python",    "données",
    "mémoire",   "Straße",    "ciudad",    "память",   "記憶",    "検索",      "기억",
    "ذاكرة",     "स्मृति"};

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

/* A text of about `target` tokens (as the model counts them, <bos>/<eos> in). */
static char *make_text(const mnemo_tokenizer *tok, size_t target) {
    size_t cap = target * 16 + 64, len = 0;
    char *s = malloc(cap);
    int32_t *ids = malloc(mnemo_tokenizer_max_ids(tok, cap) * sizeof *ids);
    size_t n = 0;
    s[0] = 0;
    while (n < target) {
        for (int w = 0; w < 4; w++) {
            const char *word = WORDS[rng() % (sizeof WORDS / sizeof WORDS[0])];
            size_t wl = strlen(word);
            if (len + wl + 2 >= cap) break;
            if (len) s[len++] = ' ';
            memcpy(s + len, word, wl);
            len += wl;
            s[len] = 0;
        }
        if (mnemo_tokenizer_encode(tok, s, len, 0, ids, mnemo_tokenizer_max_ids(tok, cap), &n,
                                   NULL))
            break;
        if (len + 64 >= cap) break;
    }
    free(ids);
    return s;
}

typedef struct batch_result {
    size_t texts, tokens;
    double seconds;
    double linear_s, forward_s; /* of the forward passes: in the linear layers, in all */
} batch_result;

static int run_batch(mnemo_context *ctx, const mnemo_model *m, size_t n, size_t target,
                     batch_result *r, mnemo_error *err) {
    char **texts = malloc(n * sizeof *texts);
    size_t *lens = malloc(n * sizeof *lens), *toks = malloc(n * sizeof *toks);
    float *out = malloc(n * mnemo_model_dim(m) * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        texts[i] = make_text(mnemo_model_tokenizer(m), target);
        lens[i] = strlen(texts[i]);
    }
    double l0, f0, l1, f1;
    mnemo_context_timing(ctx, &l0, &f0);
    double t0 = mnemo__now();
    int rc = mnemo_embed(ctx, (const char *const *)texts, lens, n, NULL, out, toks, err);
    r->seconds = mnemo__now() - t0;
    mnemo_context_timing(ctx, &l1, &f1);
    r->linear_s = l1 - l0;
    r->forward_s = f1 - f0;
    r->texts = n;
    r->tokens = 0;
    for (size_t i = 0; i < n; i++) {
        r->tokens += toks[i];
        free(texts[i]);
    }
    free(texts), free(lens), free(toks), free(out);
    return rc;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int mnemo__cmd_bench(const mnemo_settings *s, int argc, char **argv) {
    (void)argv;
    if (argc > 0) {
        mnemo__cli_error("bench", "takes no arguments (see mnemo help bench)");
        return 2;
    }
    if (!s->model) {
        mnemo__cli_error("bench", "no model: pass --model DIR or set MNEMO_MODEL");
        return 2;
    }
    mnemo_error err;
    mnemo_model *m;
    mnemo_model_options mo = {.cache_dir = s->cache_dir,
                              .no_cache = s->no_cache,
                              .precision = s->precision,
                              .tokenizer = s->tokenizer};
    int rc = mnemo_model_open(s->model, &mo, &m, &err);
    if (rc) {
        mnemo__cli_error("bench", "%s", err.message);
        return rc == MNEMO_EINVAL ? 2 : 1;
    }
    mnemo_context *ctx;
    mnemo_context_options co = {.n_threads = (int)s->threads};
    if (mnemo_context_create(m, &co, &ctx, &err)) {
        mnemo__cli_error("bench", "%s", err.message);
        mnemo_model_close(m);
        return 1;
    }
    const char *query = "Which planet is known as the Red Planet?";
    size_t qlen = strlen(query), qtok = 0;
    float *qv = malloc(mnemo_model_dim(m) * sizeof(float));
    mnemo_embed_options qo = {.prompt_name = mnemo_model_prompt_text(m, "query") ? "query" : NULL};
    rc = mnemo_embed(ctx, &query, &qlen, 1, &qo, qv, &qtok, &err);
    double first_vector = mnemo__now() - mnemo__cli_start;
    int threads = (int)(s->threads > 0 ? s->threads : mnemo__cpu_count());
    double peak1 = mnemo__fma_peak_gflops(1),
           peakn = threads > 1 ? mnemo__fma_peak_gflops(threads) : peak1;
    /* the linear layers' peak: each group of matrices at its instruction's
     * peak, combined as the time they would take (a weighted harmonic mean) */
    const char *mix_ins[8];
    size_t mix_params[8], n_mix = mnemo_model_linear_mix(m, mix_ins, mix_params, 8), all_params = 0;
    double mix_peak[8], mix_time = 0;
    for (size_t i = 0; i < n_mix; i++) {
        mix_peak[i] = mnemo__instruction_peak_gops(mix_ins[i], threads);
        all_params += mix_params[i];
        mix_time += mix_peak[i] > 0 ? (double)mix_params[i] / mix_peak[i] : 0;
    }
    double ppeak = mix_time > 0 ? (double)all_params / mix_time : 0;

    size_t n128 = s->quick ? 16 : 256, n512 = s->quick ? 4 : 64, runs = s->quick ? 10 : 50;
    batch_result b128 = {0}, b512 = {0};
    if (!rc) rc = run_batch(ctx, m, n128, 128, &b128, &err);
    if (!rc) rc = run_batch(ctx, m, n512, 512, &b512, &err);
    double lat[200];
    for (size_t i = 0; !rc && i < runs; i++) {
        double t0 = mnemo__now();
        rc = mnemo_embed(ctx, &query, &qlen, 1, &qo, qv, &qtok, &err);
        lat[i] = (mnemo__now() - t0) * 1e3;
    }
    if (rc) {
        mnemo__cli_error("bench", "%s", err.message);
        mnemo_context_free(ctx);
        mnemo_model_close(m);
        free(qv);
        return 1;
    }
    qsort(lat, runs, sizeof lat[0], cmp_double);
    double p50 = lat[runs / 2], p99 = lat[(size_t)((double)(runs - 1) * 0.99)];
    /* FLOPs of the linear layers per token (2 per weight); attention excluded */
    double flop_token = 2.0 * mnemo_model_linear_params(m);
    double tps128 = b128.tokens / b128.seconds, tps512 = b512.tokens / b512.seconds;
    /* the query's compute bound: its tokens' linear FLOPs at the peak of the
     * instruction its precision runs on (a query's p50 should be within 2x of it) */
    char instr[160] = "";
    for (size_t i = 0; i < n_mix; i++)
        snprintf(instr + strlen(instr), sizeof instr - strlen(instr), "%s%.0f%% %s", i ? ", " : "",
                 100.0 * (double)mix_params[i] / (double)all_params, mix_ins[i]);
    double lin128 = b128.linear_s > 0 ? b128.tokens * flop_token / b128.linear_s / 1e9 : 0;
    double lin512 = b512.linear_s > 0 ? b512.tokens * flop_token / b512.linear_s / 1e9 : 0;
    double other128 = b128.forward_s > 0 ? 1.0 - b128.linear_s / b128.forward_s : 0;
    double other512 = b512.forward_s > 0 ? 1.0 - b512.linear_s / b512.forward_s : 0;
    double bound_ms = ppeak > 0 ? (double)qtok * flop_token / (ppeak * 1e9) * 1e3 : 0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss_mb = (double)ru.ru_maxrss / 1024.0;
    if (s->json) {
        printf("{\"cpu\": \"%s\", \"kernels\": \"%s\", \"precision\": \"%s\", \"threads\": %d, "
               "\"fma_peak_gflops_1\": %.1f, \"fma_peak_gflops\": %.1f, \"first_vector_s\": %.3f, "
               "\"batch128\": {\"texts\": %zu, \"tokens\": %zu, \"seconds\": %.3f, "
               "\"tokens_per_s\": %.1f}, "
               "\"batch512\": {\"texts\": %zu, \"tokens\": %zu, \"seconds\": %.3f, "
               "\"tokens_per_s\": %.1f}, "
               "\"query_tokens\": %zu, \"query_p50_ms\": %.2f, \"query_p99_ms\": %.2f, "
               "\"linear_gflops_128\": %.1f, \"peak_rss_mb\": %.1f, \"precision_peak_gops\": %.1f, "
               "\"precision_instruction\": \"%s\", \"query_bound_ms\": %.2f, "
               "\"linear_gops_running_128\": %.1f, \"linear_gops_running_512\": %.1f, "
               "\"linear_peak_fraction_128\": %.3f, \"outside_linear_share_128\": %.3f, "
               "\"outside_linear_share_512\": %.3f}\n",
               mnemo__cpu_description(), mnemo_model_kernels(m), mnemo_model_precision(m), threads,
               peak1, peakn, first_vector, b128.texts, b128.tokens, b128.seconds, tps128,
               b512.texts, b512.tokens, b512.seconds, tps512, qtok, p50, p99,
               tps128 * flop_token / 1e9, rss_mb, ppeak, instr, bound_ms, lin128, lin512,
               ppeak > 0 ? lin128 / ppeak : 0, other128, other512);
    } else {
        printf("mnemo bench: %s, precision %s, kernels %s, %d threads%s\n", s->model,
               mnemo_model_precision(m), mnemo_model_kernels(m), threads,
               s->quick ? " (--quick: a smoke test, not a measurement)" : "");
        printf("cpu:                  %s\n", mnemo__cpu_description());
        printf("f32 FMA peak:         %.1f GFLOP/s on 1 thread, %.1f on %d\n", peak1, peakn,
               threads);
        printf("start to first vector %.3f s (load, pack, one query)\n", first_vector);
        printf("batch ~128 tokens:    %zu texts, %zu tokens in %.2f s = %.1f tokens/s\n",
               b128.texts, b128.tokens, b128.seconds, tps128);
        printf("batch ~512 tokens:    %zu texts, %zu tokens in %.2f s = %.1f tokens/s\n",
               b512.texts, b512.tokens, b512.seconds, tps512);
        printf("query (%zu tokens):    p50 %.1f ms, p99 %.1f ms over %zu runs\n", qtok, p50, p99,
               runs);
        for (size_t i = 0; i < n_mix; i++)
            printf("instruction peak:     %-9s %7.1f GOP/s on %d threads (%.0f%% of the linear "
                   "weights)\n",
                   mix_ins[i], mix_peak[i], threads,
                   100.0 * (double)mix_params[i] / (double)all_params);
        printf("linear peak:          %.1f GOP/s (those peaks weighted by the weights each "
               "multiplies); "
               "query compute bound %.1f ms, p50 = %.1fx of it\n",
               ppeak, bound_ms, bound_ms > 0 ? p50 / bound_ms : 0);
        printf(
            "linear layers:        %.1f GOP/s while running at ~128 tokens = %.0f%% of the linear "
            "peak; %.1f at ~512 = %.0f%% (%.0f MFLOP per token)\n",
            lin128, ppeak > 0 ? 100.0 * lin128 / ppeak : 0, lin512,
            ppeak > 0 ? 100.0 * lin512 / ppeak : 0, flop_token / 1e6);
        printf("outside linear:       %.0f%% of a forward pass at ~128 tokens, %.0f%% at ~512 "
               "(attention, norms, activations, quantizing, pooling, the Dense head)\n",
               100.0 * other128, 100.0 * other512);
        printf("peak RSS:             %.0f MB\n", rss_mb);
    }
    free(qv);
    mnemo_context_free(ctx);
    mnemo_model_close(m);
    return 0;
}
