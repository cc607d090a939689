/*
 * bench_tokenizer.c — tokenizer speed, single thread: load time from the JSON
 * (no cache) and from the binary cache, and encode throughput over a JSONL
 * file of texts (one JSON string per line). Prints one JSON object on stdout
 * for bench/tokenizer_vs_hf.py. Not a test: it asserts nothing.
 *
 * usage: bench_tokenizer TOKENIZER_JSON TEXTS_JSONL [MIN_SECONDS]
 */
#include "core/core.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s TOKENIZER_JSON TEXTS_JSONL [MIN_SECONDS]\n", argv[0]);
        return 2;
    }
    double min_seconds = argc > 3 ? atof(argv[3]) : 2.0;
    mnemo__log_set_level(MNEMO_LOG_WARN);
    mnemo_error err;
    mnemo_tokenizer *tok;
    char cache[] = "/tmp/mnemo-bench-tok-XXXXXX";
    if (!mkdtemp(cache)) return 1;
    mnemo_tokenizer_options nocache = {.no_cache = 1}, withcache = {.cache_dir = cache};
    double t0 = mnemo__now();
    if (mnemo_tokenizer_open(argv[1], &nocache, &tok, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    double load_json = mnemo__now() - t0;
    mnemo_tokenizer_close(tok);
    if (mnemo_tokenizer_open(argv[1], &withcache, &tok, &err)) return 1; /* writes the cache */
    mnemo_tokenizer_close(tok);
    t0 = mnemo__now();
    if (mnemo_tokenizer_open(argv[1], &withcache, &tok, &err)) return 1;
    double load_cache = mnemo__now() - t0;

    FILE *f = fopen(argv[2], "r");
    if (!f) return 1;
    char **texts = NULL;
    size_t *lens = NULL, n = 0, cap = 0, bytes = 0, max_len = 0;
    char *line = NULL;
    size_t lcap = 0;
    while (getline(&line, &lcap, f) > 0) {
        json_t *v = json_loads(line, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        if (!v || !json_is_string(v)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            texts = realloc(texts, cap * sizeof *texts);
            lens = realloc(lens, cap * sizeof *lens);
        }
        lens[n] = json_string_length(v);
        texts[n] = malloc(lens[n] + 1);
        memcpy(texts[n], json_string_value(v), lens[n]);
        bytes += lens[n];
        if (lens[n] > max_len) max_len = lens[n];
        n++;
        json_decref(v);
    }
    fclose(f);
    free(line);
    int32_t *ids = malloc(mnemo_tokenizer_max_ids(tok, max_len) * sizeof *ids);
    size_t total_ids = 0, rounds = 0;
    t0 = mnemo__now();
    double elapsed;
    do {
        for (size_t i = 0; i < n; i++) {
            size_t k;
            mnemo_tokenizer_encode(tok, texts[i], lens[i], 0, ids,
                                   mnemo_tokenizer_max_ids(tok, lens[i]), &k, &err);
            total_ids += k;
        }
        rounds++;
        elapsed = mnemo__now() - t0;
    } while (elapsed < min_seconds);
    printf("{\"load_json_s\": %.4f, \"load_cache_s\": %.4f, \"texts\": %zu, \"bytes\": %zu, "
           "\"rounds\": %zu, \"seconds\": %.4f, \"mb_per_s\": %.3f, \"texts_per_s\": %.1f, "
           "\"ids_per_text\": %.6f}\n",
           load_json, load_cache, n, bytes, rounds, elapsed, (double)bytes * rounds / elapsed / 1e6,
           (double)n * rounds / elapsed, (double)total_ids / ((double)n * rounds));
    for (size_t i = 0; i < n; i++) free(texts[i]);
    free(texts);
    free(lens);
    free(ids);
    mnemo_tokenizer_close(tok);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", cache);
    return system(cmd) == 0 ? 0 : 1;
}
