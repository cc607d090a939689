/*
 * bench_store.c — the memory store at scale, on synthetic vectors (random
 * vectors of the model's width, added with their vector so the model is not
 * what is measured): add throughput (batches of 500, synchronous normal and
 * full), then p50/p99 latency of an exact k=10 vector search over all of
 * them, unfiltered and with a metadata filter passing 10%. Prints one line
 * per size. The model only gives the width (768 for EmbeddingGemma; run it
 * on the real model folder) and embeds nothing. With a postgres:// URL for
 * WORK_DIR the PostgreSQL store is measured instead (its mnemo tables are
 * dropped before each size; search goes through the HNSW index, so it is
 * approximate there; "synchronous" does not apply).
 * usage: bench_store MODEL_DIR WORK_DIR|POSTGRES_URL [N...]   (default 10000 100000)
 */
#include "store/store.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static float frand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_store MODEL_DIR WORK_DIR [N...]\n");
        return 2;
    }
    mnemo__log_set_level(MNEMO_LOG_WARN);
    mnemo_model *model;
    mnemo_error err;
    mnemo_model_options mo = {.no_cache = 1};
    if (mnemo_model_open(argv[1], &mo, &model, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 2;
    }
    size_t dim = mnemo_model_dim(model);
    long sizes[8] = {10000, 100000};
    int n_sizes = 2;
    if (argc > 3) {
        n_sizes = 0;
        for (int i = 3; i < argc && n_sizes < 8; i++) sizes[n_sizes++] = atol(argv[i]);
    }
    printf("store benchmark: dim %zu, exact search k=10, %s\n", dim, mnemo_model_kernels(model));
    for (int si = 0; si < n_sizes; si++) {
        long n = sizes[si];
        char dir[1024], cmd[1100];
        snprintf(dir, sizeof dir, "%s/bench-store-%ld-%d", argv[2], n, (int)getpid());
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        const char *url = strncmp(argv[2], "postgres", 8) ? NULL : argv[2];
        if (url) {
            PGconn *c = PQconnectdb(url);
            PGresult *r = PQexec(c, "SET client_min_messages = warning; DROP TABLE IF EXISTS mnemo_memories, "
                                    "mnemo_history, mnemo_info; DROP FUNCTION IF EXISTS mnemo_meta");
            int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
            PQclear(r);
            PQfinish(c);
            if (!ok) return 2;
            snprintf(cmd, sizeof cmd, "true");
        }
        if (system(cmd)) return 2;
        mnemo_store_options so = {.data_dir = url ? NULL : dir, .url = url, .model = model, .model_name = "bench",
                                  .no_dedup = 1, .synchronous = url ? NULL : "normal", .sweep_seconds = -1};
        mnemo_store *s;
        if (mnemo_store_open(&so, &s, &err)) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        enum { BATCH = 500 };
        static mnemo_memory_input in[BATCH];
        static mnemo_memory_added out[BATCH];
        static char texts[BATCH][48];
        float *vecs = malloc((size_t)BATCH * dim * sizeof(float));
        double t0 = mnemo__now();
        for (long done = 0; done < n; done += BATCH) {
            int b = (int)(n - done < BATCH ? n - done : BATCH);
            for (int i = 0; i < b; i++) {
                for (size_t d = 0; d < dim; d++) vecs[(size_t)i * dim + d] = frand();
                snprintf(texts[i], sizeof texts[i], "synthetic memory %ld", done + i);
                in[i] = (mnemo_memory_input){.text = texts[i], .text_len = strlen(texts[i]),
                                             .metadata = (done + i) % 10 == 0 ? "{\"tenth\": true}" : NULL,
                                             .vector = vecs + (size_t)i * dim, .vector_dim = dim};
            }
            if (mnemo_memory_add(s, in, (size_t)b, out, &err)) {
                fprintf(stderr, "add: %s\n", err.message);
                return 1;
            }
        }
        double add_s = mnemo__now() - t0;
        /* a few adds of one memory at synchronous full: the per-add cost of durability */
        mnemo_store_close(s);
        so.synchronous = url ? NULL : "full";
        t0 = mnemo__now();
        if (mnemo_store_open(&so, &s, &err)) return 1;
        double open_s = mnemo__now() - t0;
        t0 = mnemo__now();
        for (int i = 0; i < 50; i++) {
            for (size_t d = 0; d < dim; d++) vecs[d] = frand();
            in[0] = (mnemo_memory_input){.text = "one more", .text_len = 8, .vector = vecs, .vector_dim = dim};
            if (mnemo_memory_add(s, in, 1, out, &err)) return 1;
        }
        double one_ms = (mnemo__now() - t0) / 50 * 1e3;
        enum { Q = 200 };
        double lat[Q], flat[Q];
        for (int f = 0; f < 2; f++) {
            for (int q = 0; q < Q; q++) {
                for (size_t d = 0; d < dim; d++) vecs[d] = frand();
                mnemo_search_options o = {.vector = vecs, .vector_dim = dim, .k = 10,
                                          .filter = f ? "{\"tenth\": true}" : NULL};
                mnemo_memories *m;
                double t = mnemo__now();
                if (mnemo_memory_search(s, &o, &m, &err)) {
                    fprintf(stderr, "search: %s\n", err.message);
                    return 1;
                }
                (f ? flat : lat)[q] = (mnemo__now() - t) * 1e3;
                mnemo_memories_free(m);
            }
        }
        qsort(lat, Q, sizeof(double), cmp_double);
        qsort(flat, Q, sizeof(double), cmp_double);
        printf("n=%-8ld add %.0f/s (batches of %d, synchronous normal); one add at synchronous full %.2f ms; "
               "open (index rebuild) %.2f s; search p50 %.2f ms p99 %.2f ms; filtered (10%%) p50 %.2f ms p99 %.2f ms\n",
               n, n / add_s, BATCH, one_ms, open_s, lat[Q / 2], lat[Q * 99 / 100], flat[Q / 2], flat[Q * 99 / 100]);
        fflush(stdout);
        mnemo_store_close(s);
        free(vecs);
        if (system(cmd)) return 2;
    }
    mnemo_model_close(model);
    return 0;
}
