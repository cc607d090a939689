/*
 * bench_store.c — the memory store at scale, on synthetic vectors (unit
 * vectors of the model's width with the low intrinsic dimension of real
 * embeddings, see draw(); added with their vector so the model is not what
 * is measured). Per size: add throughput without a graph (batches of 500,
 * synchronous normal), the reopen (index load) and the HNSW graph build,
 * memory per vector, one add at synchronous full with the graph in place,
 * then p50/p99 latency of k=10 vector searches, exact and HNSW, unfiltered
 * and with a metadata filter passing 10%, and the HNSW recall@10 against
 * exact on the same queries, at ef_search 64, 128 and 256 (* marks the
 * store's default); last the graph file's size, the close that writes it
 * and the reopen that loads it. Every recall is against the true top 10 by
 * f32 cosine, computed by the benchmark itself over every vector it added
 * (a blocked GEMM of the queries against each batch), so the int8 and
 * binary "exact" scans (approximate, then rescored) are measured too. With
 * binary index vectors there is no graph: the scan is measured at a few
 * candidate counts instead (* marks the store's default). The model only
 * gives the width (768 for EmbeddingGemma; run it on the real model folder)
 * and embeds nothing.
 * usage: bench_store MODEL_DIR WORK_DIR [N...]   (default 10000 100000)
 * env: BENCH_EF (ef_search), BENCH_EFC (ef_construction), BENCH_M (default: the store's, 256, 200, 32),
 *      BENCH_EFS (the ef_search values measured, "64,128,256"),
 *      BENCH_VECTORS=f32|int8|binary (the index vectors; BENCH_INT8=1 is int8),
 *      BENCH_GRAPH=0 (f32, int8: no graph, only the exact scan),
 *      BENCH_CANDS (binary: the candidate counts measured, "100,200,400,800,1600")
 */
#include "store/sqlite/sqlite.h"
#include "kernels/kernels.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static double urand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) * (1.0 / 9007199254740992.0);
}
static float gauss(void) {
    return (float)(sqrt(-2 * log(urand() + 1e-300)) * cos(6.283185307179586 * urand()));
}

/* Text embeddings occupy few directions of their 768 (intrinsic dimension
 * in the tens): the synthetic memories are one of 100 centers plus a point
 * of a shared 48-d subspace, plus a little noise in all 768. Isotropic noise
 * in 768-d instead has no near neighbours at all and measures nothing real. */
enum { CENTERS = 100, LATENT = 48 };
static float *centers, *basis;

static void draw(float *out, size_t dim) {
    const float *c = centers + (size_t)(urand() * CENTERS) % CENTERS * dim;
    float sd = (float)(0.1 / sqrt((double)dim));
    for (size_t d = 0; d < dim; d++) out[d] = c[d] + gauss() * sd;
    for (int l = 0; l < LATENT; l++) {
        float z = gauss() * (float)(1.0 / sqrt((double)LATENT));
        const float *b = basis + (size_t)l * dim;
        for (size_t d = 0; d < dim; d++) out[d] += z * b[d];
    }
    mnemo__unit_vector(out, dim, out);
}

static double rss_mb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    return (double)resident * (double)sysconf(_SC_PAGESIZE) / 1048576.0;
}

static size_t env_size(const char *name, size_t dflt) {
    const char *v = getenv(name);
    return v && *v ? (size_t)atol(v) : dflt;
}

/* The true top 10 of each query, over every vector added (f32 cosine): by
 * memory number (its text "synthetic memory N"), plain and among the tenth
 * (N % 10 == 0, the ones with the filter's metadata). */
enum { Q = 200, TOPK = 10 };
typedef struct truth {
    long id[2][Q][TOPK];
    float score[2][Q][TOPK];
    size_t n[2][Q];
} truth;

static void truth_push(truth *t, int f, int q, long id, float sc) {
    size_t n = t->n[f][q];
    if (n == TOPK && sc <= t->score[f][q][TOPK - 1]) return;
    size_t i = n < TOPK ? t->n[f][q]++ : TOPK - 1;
    while (i > 0 && t->score[f][q][i - 1] < sc) {
        t->score[f][q][i] = t->score[f][q][i - 1];
        t->id[f][q][i] = t->id[f][q][i - 1];
        i--;
    }
    t->score[f][q][i] = sc;
    t->id[f][q][i] = id;
}

/* b vectors numbered first.. into the truth (y: Q x b scratch) */
static void truth_add(truth *t, const float *qv, const float *vecs, int b, long first, size_t dim,
                      float *y) {
    const mnemo_kernels *k = mnemo__kernels_best();
    for (int q = 0; q < Q; q++)
        for (int i = 0; i < b; i++)
            y[(size_t)q * (size_t)b + (size_t)i] =
                k->dot_f32(qv + (size_t)q * dim, vecs + (size_t)i * dim, dim);
    for (int q = 0; q < Q; q++)
        for (int i = 0; i < b; i++) {
            float sc = y[(size_t)q * (size_t)b + (size_t)i];
            truth_push(t, 0, q, first + i, sc);
            if ((first + i) % 10 == 0) truth_push(t, 1, q, first + i, sc);
        }
}

/* How many of a result's memories are in the truth's top 10. */
static size_t truth_agree(const truth *t, int f, int q, const mnemo_memories *r) {
    size_t a = 0;
    for (size_t i = 0; i < r->n; i++) {
        const char *num = strrchr(r->items[i].text, ' ');
        long id = num ? atol(num + 1) : -1;
        for (size_t j = 0; j < t->n[f][q]; j++) a += t->id[f][q][j] == id;
    }
    return a;
}

/* Q searches plain and Q filtered: the latencies (ms, sorted) into lat,
 * recall@10 against the truth into recall. */
static int run_queries(mnemo_store *s, const float *qv, size_t dim, int exact, const truth *t,
                       double lat[2][Q], double recall[2]) {
    mnemo_error err;
    for (int f = 0; f < 2; f++) {
        size_t agree = 0, total = 0;
        for (int q = 0; q < Q; q++) {
            mnemo_search_options o = {.vector = qv + (size_t)q * dim,
                                      .vector_dim = dim,
                                      .k = TOPK,
                                      .exact = exact,
                                      .filter = f ? "{\"tenth\": true}" : NULL};
            mnemo_memories *r;
            double t0 = mnemo__now();
            if (mnemo_memory_search(s, &o, &r, &err)) {
                fprintf(stderr, "search: %s\n", err.message);
                return 1;
            }
            lat[f][q] = (mnemo__now() - t0) * 1e3;
            agree += truth_agree(t, f, q, r);
            total += t->n[f][q];
            mnemo_memories_free(r);
        }
        recall[f] = total ? (double)agree / (double)total : 0;
        qsort(lat[f], Q, sizeof(double), cmp_double);
    }
    return 0;
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
    size_t ef = env_size("BENCH_EF", 0), efc = env_size("BENCH_EFC", 0), m = env_size("BENCH_M", 0);
    const char *vectors = getenv("BENCH_VECTORS");
    if (!vectors || !*vectors) vectors = env_size("BENCH_INT8", 0) ? "int8" : "f32";
    if (strcmp(vectors, "f32") && strcmp(vectors, "int8") && strcmp(vectors, "binary")) {
        fprintf(stderr, "BENCH_VECTORS '%s' is not f32, int8 or binary\n", vectors);
        return 2;
    }
    int int8 = !strcmp(vectors, "int8"), binary = !strcmp(vectors, "binary");
    int graph = !binary && env_size("BENCH_GRAPH", 1) != 0;
    /* bytes of one vector in the index: f32, int8 codes and their scale, or the bits */
    size_t vec_bytes = binary ? (dim + 63) / 64 * 8
                       : int8 ? dim + sizeof(float)
                              : dim * sizeof(float);
    centers = malloc((size_t)CENTERS * dim * sizeof(float));
    for (size_t i = 0; i < (size_t)CENTERS * dim; i++) centers[i] = gauss();
    for (int c = 0; c < CENTERS; c++)
        mnemo__unit_vector(centers + (size_t)c * dim, dim, centers + (size_t)c * dim);
    basis = malloc((size_t)LATENT * dim * sizeof(float));
    for (size_t i = 0; i < (size_t)LATENT * dim; i++) basis[i] = gauss();
    for (int l = 0; l < LATENT; l++)
        mnemo__unit_vector(basis + (size_t)l * dim, dim, basis + (size_t)l * dim);
    printf("store benchmark: dim %zu, k=10, clustered synthetic vectors, HNSW M %zu "
           "ef_construction %zu ef_search %zu, "
           "index vectors %s, %s\n",
           dim, m ? m : MNEMO_HNSW_M, efc ? efc : MNEMO_HNSW_EF_CONSTRUCTION,
           ef ? ef : MNEMO_HNSW_EF_SEARCH, vectors, mnemo_model_kernels(model));
    for (int si = 0; si < n_sizes; si++) {
        long n = sizes[si];
        char dir[1024], cmd[1100];
        snprintf(dir, sizeof dir, "%s/bench-store-%ld-%d", argv[2], n, (int)getpid());
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd)) return 2;
        /* the adds without a graph: what SQLite and the array cost */
        mnemo_store_options so = {.data_dir = dir,
                                  .model = model,
                                  .model_name = "bench",
                                  .no_dedup = 1,
                                  .synchronous = "normal",
                                  .sweep_seconds = -1,
                                  .index_threshold = SIZE_MAX,
                                  .hnsw_m = m,
                                  .hnsw_ef_construction = efc,
                                  .hnsw_ef_search = ef,
                                  .index_int8 = int8,
                                  .index_binary = binary};
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
        /* the queries first, so the truth is gathered as the memories are added */
        float *qv = malloc((size_t)Q * dim * sizeof(float)),
              *y = malloc((size_t)Q * BATCH * sizeof(float));
        for (int q = 0; q < Q; q++) draw(qv + (size_t)q * dim, dim);
        truth *tr = calloc(1, sizeof *tr);
        double t_truth = 0;
        double t0 = mnemo__now();
        for (long done = 0; done < n; done += BATCH) {
            int b = (int)(n - done < BATCH ? n - done : BATCH);
            for (int i = 0; i < b; i++) {
                draw(vecs + (size_t)i * dim, dim);
                snprintf(texts[i], sizeof texts[i], "synthetic memory %ld", done + i);
                in[i] = (mnemo_memory_input){.text = texts[i],
                                             .text_len = strlen(texts[i]),
                                             .metadata =
                                                 (done + i) % 10 == 0 ? "{\"tenth\": true}" : NULL,
                                             .vector = vecs + (size_t)i * dim,
                                             .vector_dim = dim};
            }
            if (mnemo_memory_add(s, in, (size_t)b, out, &err)) {
                fprintf(stderr, "add: %s\n", err.message);
                return 1;
            }
            double tt = mnemo__now();
            truth_add(tr, qv, vecs, b, done, dim, y);
            t_truth += mnemo__now() - tt;
        }
        double add_s = mnemo__now() - t0 - t_truth;
        mnemo_store_close(s);
        /* reopened with a graph at every size (threshold 1), synchronous full */
        so.synchronous = "full";
        so.index_threshold = 1;
        double rss0 = rss_mb();
        t0 = mnemo__now();
        if (mnemo_store_open(&so, &s, &err)) return 1;
        double open_s = mnemo__now() - t0;
        double rss1 = rss_mb();
        t0 = mnemo__now();
        if (!graph) {
            /* no graph: the adds as the others make them, then the scan alone */
            for (int i = 0; i < 50; i++) {
                draw(vecs, dim);
                snprintf(texts[0], sizeof texts[0], "synthetic memory %ld", n + i);
                in[0] =
                    (mnemo_memory_input){.text = texts[0],
                                         .text_len = strlen(texts[0]),
                                         .metadata = (n + i) % 10 == 0 ? "{\"tenth\": true}" : NULL,
                                         .vector = vecs,
                                         .vector_dim = dim};
                if (mnemo_memory_add(s, in, 1, out, &err)) return 1;
                truth_add(tr, qv, vecs, 1, n + i, dim, y);
            }
            printf(
                "n=%-8ld add %.0f/s (batches of %d, synchronous normal); open (index load) %.2f s; "
                "%zu B a vector in the index; memory per memory %.0f B (index RSS after the "
                "load)\n",
                n, n / add_s, BATCH, open_s, vec_bytes, (rss1 - rss0) * 1048576.0 / n);
            static double lat[2][Q];
            double recall[2];
            if (run_queries(s, qv, dim, 1, tr, lat, recall)) return 1;
            printf("           %s scan p50/p99 ms: %.2f/%.2f recall@10 %.3f; filtered 10%% "
                   "%.2f/%.2f recall@10 %.3f\n",
                   binary ? "binary (Hamming + rescore)"
                   : int8 ? "int8 (+ rescore)"
                          : "exact f32",
                   lat[0][Q / 2], lat[0][Q * 99 / 100], recall[0], lat[1][Q / 2],
                   lat[1][Q * 99 / 100], recall[1]);
            if (binary) {
                /* the Hamming pass alone (what a graph could save): every entry's distance to each query */
                uint64_t *qb = malloc(mnemo__sqlite_db(s)->index.words * sizeof(uint64_t));
                uint32_t *dist = malloc(mnemo__sqlite_db(s)->index.n * sizeof(uint32_t));
                double scan[Q];
                for (int q = 0; q < Q; q++) {
                    mnemo__binarize(qv + (size_t)q * dim, dim, qb);
                    double t1 = mnemo__now();
                    mnemo__kernels_best()->hamming(qb, mnemo__sqlite_db(s)->index.bits,
                                                   mnemo__sqlite_db(s)->index.words,
                                                   mnemo__sqlite_db(s)->index.n, dist);
                    scan[q] = (mnemo__now() - t1) * 1e3;
                }
                qsort(scan, Q, sizeof(double), cmp_double);
                printf("           Hamming distances alone (%s kernels, %zu B x %zu): p50/p99 ms "
                       "%.2f/%.2f\n",
                       mnemo__kernels_best()->name, mnemo__sqlite_db(s)->index.words * 8,
                       mnemo__sqlite_db(s)->index.n, scan[Q / 2], scan[Q * 99 / 100]);
                free(qb);
                free(dist);
                /* the candidate counts: BENCH_CANDS, else 100 .. 1600; the store's default added */
                size_t cands[9] = {100, 200, 400, 800, 1600}, n_cands = 5,
                       dflt = mnemo__sqlite_db(s)->index.binary_candidates;
                const char *env = getenv("BENCH_CANDS");
                if (env && *env) {
                    n_cands = 0;
                    char list[256];
                    snprintf(list, sizeof list, "%s", env);
                    for (char *t = strtok(list, ", "); t && n_cands < 8; t = strtok(NULL, ", "))
                        if (atol(t) > 0) cands[n_cands++] = (size_t)atol(t);
                }
                int have = 0;
                for (size_t c = 0; c < n_cands; c++) have |= cands[c] == dflt;
                if (!have) cands[n_cands++] = dflt;
                size_t per = mnemo__sqlite_db(s)->index.binary_per_result;
                mnemo__sqlite_db(s)->index.binary_per_result =
                    0; /* the count alone (no search runs meanwhile) */
                for (size_t c = 0; c < n_cands; c++) {
                    mnemo__sqlite_db(s)->index.binary_candidates = cands[c];
                    if (run_queries(s, qv, dim, 0, tr, lat, recall)) return 1;
                    printf("           binary candidates %-5zu%s p50/p99 ms: %.2f/%.2f recall@10 "
                           "%.3f; filtered 10%% "
                           "%.2f/%.2f recall@10 %.3f\n",
                           cands[c], cands[c] == dflt ? "*" : " ", lat[0][Q / 2],
                           lat[0][Q * 99 / 100], recall[0], lat[1][Q / 2], lat[1][Q * 99 / 100],
                           recall[1]);
                }
                mnemo__sqlite_db(s)->index.binary_candidates = dflt;
                mnemo__sqlite_db(s)->index.binary_per_result = per;
            }
            fflush(stdout);
            mnemo_store_close(s);
            free(vecs);
            free(qv);
            free(y);
            free(tr);
            if (system(cmd)) return 2;
            continue;
        }
        if (!mnemo__store_graph_wait(s)) {
            fprintf(stderr, "no graph was built\n");
            return 1;
        }
        double build_s = mnemo__now() - t0;
        double rss2 = rss_mb();
        size_t graph_bytes = mnemo__hnsw_bytes(&mnemo__sqlite_db(s)->index.graph);
        t0 = mnemo__now();
        for (int i = 0; i < 50; i++) {
            draw(vecs, dim);
            snprintf(texts[0], sizeof texts[0], "synthetic memory %ld", n + i);
            in[0] = (mnemo_memory_input){.text = texts[0],
                                         .text_len = strlen(texts[0]),
                                         .metadata = (n + i) % 10 == 0 ? "{\"tenth\": true}" : NULL,
                                         .vector = vecs,
                                         .vector_dim = dim};
            if (mnemo_memory_add(s, in, 1, out, &err)) return 1;
            double tt = mnemo__now();
            truth_add(tr, qv, vecs, 1, n + i, dim, y);
            t0 += mnemo__now() - tt; /* the truth is not the add's time */
        }
        double one_ms = (mnemo__now() - t0) / 50 * 1e3;
        printf("n=%-8ld add %.0f/s (batches of %d, synchronous normal, no graph); open (index "
               "load) %.2f s; "
               "graph build %.1f s (%.0f/s); memory per vector %.0f B (index %.0f + graph %.0f; "
               "graph links %.0f B); "
               "one add at synchronous full with the graph %.2f ms; %zu B a vector in the index\n",
               n, n / add_s, BATCH, open_s, build_s, n / (build_s > 0 ? build_s : 1e-9),
               (rss2 - rss0) * 1048576.0 / n, (rss1 - rss0) * 1048576.0 / n,
               (rss2 - rss1) * 1048576.0 / n, (double)graph_bytes / n, one_ms, vec_bytes);
        /* the same queries exact, then by the graph at a few beam widths */
        static double lat[2][Q];
        double recall[2];
        if (run_queries(s, qv, dim, 1, tr, lat, recall)) return 1;
        printf("           %s p50/p99 ms: %.2f/%.2f recall@10 %.3f, filtered 10%% %.2f/%.2f "
               "recall@10 %.3f\n",
               int8 ? "exact search (int8 scan + rescore)" : "exact search", lat[0][Q / 2],
               lat[0][Q * 99 / 100], recall[0], lat[1][Q / 2], lat[1][Q * 99 / 100], recall[1]);
        /* the beam widths to try: BENCH_EFS="64,128,..." (up to 8), else 64, 128, 256; the store's
         * default is added when it is not among them */
        size_t ef_default = mnemo__sqlite_db(s)->index.ef_search, efs[9] = {64, 128, 256},
               n_efs = 3;
        const char *efs_env = getenv("BENCH_EFS");
        if (efs_env && *efs_env) {
            n_efs = 0;
            char list[256];
            snprintf(list, sizeof list, "%s", efs_env);
            for (char *t = strtok(list, ", "); t && n_efs < 8; t = strtok(NULL, ", "))
                if (atol(t) > 0) efs[n_efs++] = (size_t)atol(t);
        }
        int have_default = 0;
        for (size_t e = 0; e < n_efs; e++) have_default |= efs[e] == ef_default;
        if (!have_default) efs[n_efs++] = ef_default;
        for (size_t e = 0; e < n_efs; e++) {
            mnemo__sqlite_db(s)->index.ef_search = efs[e]; /* no search runs meanwhile */
            if (run_queries(s, qv, dim, 0, tr, lat, recall)) return 1;
            printf("           hnsw ef_search %-3zu%s p50/p99 ms: %.2f/%.2f recall@10 %.3f; "
                   "filtered 10%% %.2f/%.2f "
                   "recall@10 %.3f (%d queries)\n",
                   efs[e], efs[e] == ef_default ? "*" : " ", lat[0][Q / 2], lat[0][Q * 99 / 100],
                   recall[0], lat[1][Q / 2], lat[1][Q * 99 / 100], recall[1], Q);
        }
        free(qv);
        free(y);
        free(tr);
        /* the graph file: written at close (the 50 adds changed the graph), loaded at the next open */
        t0 = mnemo__now();
        mnemo_store_close(s);
        double close_s = mnemo__now() - t0;
        t0 = mnemo__now();
        if (mnemo_store_open(&so, &s, &err)) return 1;
        int ready = mnemo__store_graph_wait(s);
        double reopen_s = mnemo__now() - t0;
        char gpath[1100];
        snprintf(gpath, sizeof gpath, "%s/graph.hnsw", dir);
        FILE *gf = fopen(gpath, "rb");
        long gbytes = 0;
        if (gf) {
            fseek(gf, 0, SEEK_END);
            gbytes = ftell(gf);
            fclose(gf);
        }
        printf("           graph file %.0f MB: close (writing it) %.2f s; reopen to a ready graph "
               "%.2f s (%s)\n",
               gbytes / 1048576.0, close_s, reopen_s,
               !ready                              ? "no graph"
               : mnemo__sqlite_db(s)->graph_loaded ? "loaded from the file"
                                                   : "rebuilt");
        fflush(stdout);
        mnemo_store_close(s);
        free(vecs);
        if (system(cmd)) return 2;
    }
    free(centers);
    free(basis);
    mnemo_model_close(model);
    return 0;
}
