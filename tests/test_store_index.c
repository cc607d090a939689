/*
 * test_store_index.c — the approximate vector index of the store (hnsw.c and
 * its upkeep in index.c) and the search paths that use it (store_read.c):
 * recall@10 of the graph against an exact scan on clustered 768-d unit
 * vectors (a fixed seed) before and after deletions and vector changes; a
 * store past its graph threshold on a real SQLite file: filtered searches
 * give exactly k when k exist, deleted memories never come back, searches
 * run concurrently with adds and deletes, and a reopened store rebuilds the
 * same graph (the same results twice) and agrees with the one before; the
 * "exact" field of a JSON search; expired memories skipped, then swept out;
 * dedup on add with the graph (near copies merged, scopes kept apart); the
 * store tests again with int8 index vectors (candidates rescored from SQLite);
 * the graph file: loaded at open, rebuilt when damaged or stale; binary index
 * vectors (a Hamming scan rescored from SQLite) against the brute force.
 * usage: test_store_index TINY_MODEL_DIR WORK_DIR [N]   (N: graph test size, 20000)
 */
#include "store/sqlite/sqlite.h"
#include "test.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *work;
static mnemo_model *model;
static long graph_n = 20000;
static int int8_mode; /* the store tests again with index_int8 (vectors rescored from SQLite) */

static uint64_t rng_state = 0x243F6A8885A308D3ULL;
static double urand(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return (double)((z ^ (z >> 31)) >> 11) * (1.0 / 9007199254740992.0);
}
static double gauss(void) {
    return sqrt(-2 * log(urand() + 1e-300)) * cos(6.283185307179586 * urand());
}

/* Clustered unit vectors, the harder case for a graph than uniform noise of
 * the same width is not (uniform in 768-d has no neighbours to speak of):
 * centers, and around each a cloud as wide as the center is long. */
typedef struct clusters {
    float *centers;
    size_t n, dim;
} clusters;

static void clusters_init(clusters *c, size_t n, size_t dim) {
    c->n = n;
    c->dim = dim;
    c->centers = malloc(n * dim * sizeof(float));
    for (size_t i = 0; i < n * dim; i++) c->centers[i] = (float)gauss();
    for (size_t i = 0; i < n; i++)
        mnemo__unit_vector(c->centers + i * dim, dim, c->centers + i * dim);
}

static void clusters_draw(const clusters *c, float *out) {
    const float *ctr = c->centers + (size_t)(urand() * (double)c->n) % c->n * c->dim;
    double sd = 1.0 / sqrt((double)c->dim);
    for (size_t d = 0; d < c->dim; d++) out[d] = ctr[d] + (float)(gauss() * sd);
    mnemo__unit_vector(out, c->dim, out);
}

/* ------------------------------------------------------- graph alone */

static int accept_all(void *ctx, size_t pos) {
    (void)ctx;
    (void)pos;
    return 1;
}

static int accept_none(void *ctx, size_t pos) {
    (void)ctx;
    (void)pos;
    return 0;
}

static void exact_top(const mnemo_index *ix, const float *q, size_t k, int64_t *out) {
    double best[64];
    size_t n = 0;
    for (size_t i = 0; i < ix->n; i++) {
        double s = mnemo__dot(ix->vectors + i * ix->dim, q, ix->dim);
        if (n == k && s <= best[k - 1]) continue;
        size_t j = n < k ? n++ : k - 1;
        while (j > 0 && best[j - 1] < s) {
            best[j] = best[j - 1];
            out[j] = out[j - 1];
            j--;
        }
        best[j] = s;
        out[j] = ix->entries[i].seq;
    }
}

/* recall@10 of the graph over Q queries; checks every hit's position holds
 * the vector its score says (positions move on removal). */
static double graph_recall(const mnemo_index *ix, const clusters *c, int queries) {
    float *q = malloc(ix->dim * sizeof(float));
    int8_t *qc = malloc(ix->dim);
    size_t found = 0, total = 0;
    int bad_pos = 0;
    for (int t = 0; t < queries; t++) {
        clusters_draw(c, q);
        int64_t want[10];
        exact_top(ix, q, 10, want);
        mnemo_hnsw_hit got[10];
        size_t n;
        int complete;
        float qs = mnemo__quantize_i8(q, ix->dim, qc);
        CHECK(mnemo__hnsw_search(&ix->graph, mnemo__index_codes(ix), qc, qs, ix->ef_search,
                                 accept_all, NULL, got, 10, &n, &complete) == MNEMO_OK);
        CHECK(complete && n == 10);
        for (size_t i = 0; i < n; i++) {
            if (got[i].pos >= ix->n) {
                bad_pos++;
                continue;
            }
            /* the walk's score is the codes' at that position, and near the f32 one */
            if (fabsf(got[i].score - mnemo__index_score_i8(ix, got[i].pos, qc, qs)) > 1e-6f ||
                fabsf(got[i].score - mnemo__dot(ix->vectors + got[i].pos * ix->dim, q, ix->dim)) >
                    0.01f)
                bad_pos++;
            for (int j = 0; j < 10; j++) found += ix->entries[got[i].pos].seq == want[j];
        }
        total += 10;
    }
    CHECKF(bad_pos == 0, "%d hits at a position that does not hold their vector", bad_pos);
    free(q);
    free(qc);
    return (double)found / (double)total;
}

static int add_entry(mnemo_index *ix, int64_t seq, const float *v) {
    mnemo_index_entry e = {.seq = seq};
    e.ns = mnemo__strndup("default", 7);
    e.meta = json_object();
    int rc = mnemo__index_add(ix, &e, v);
    if (rc) {
        mnemo__free(e.ns);
        json_decref(e.meta);
    }
    return rc;
}

static void test_graph_recall(void) {
    const size_t dim = 768;
    size_t n = (size_t)graph_n, first = n * 3 / 4;
    mnemo_index ix;
    CHECK(mnemo__index_init(&ix, dim, 1, 0, 0, 0) == MNEMO_OK);
    clusters c;
    clusters_init(&c, 64, dim);
    float *v = malloc(dim * sizeof(float));
    int8_t *qc = malloc(dim);
    /* three quarters built by the builder's steps, the rest linked on add */
    for (size_t i = 0; i < first; i++) {
        clusters_draw(&c, v);
        CHECK(add_entry(&ix, (int64_t)i + 1, v) == MNEMO_OK);
    }
    double t0 = mnemo__now();
    CHECK(mnemo__index_graph_due(&ix));
    int r;
    while ((r = mnemo__index_build_step(&ix, 1000)) == 0) {}
    CHECK(r == 1);
    CHECK(mnemo__index_graph_ready(&ix));
    for (size_t i = first; i < n; i++) {
        clusters_draw(&c, v);
        CHECK(add_entry(&ix, (int64_t)i + 1, v) == MNEMO_OK);
    }
    double build_s = mnemo__now() - t0;
    CHECK(ix.graph.n_live == ix.n);
    for (size_t i = 0; i < ix.n; i++) CHECK(ix.entries[i].node >= 0);
    double r0 = graph_recall(&ix, &c, 200);
    /* a fifth deleted, at random; a few vectors changed */
    for (size_t i = 0; i < n / 5; i++) mnemo__index_remove(&ix, (int64_t)(urand() * (double)n) + 1);
    size_t left = ix.n;
    CHECK(ix.graph.n_live == left);
    for (size_t i = 0; i < 100 && i < ix.n; i++) {
        size_t p = (size_t)(urand() * (double)ix.n);
        clusters_draw(&c, v);
        CHECK(mnemo__index_set_vector(&ix, p, v) == MNEMO_OK);
        /* the changed entry is its own nearest neighbour */
        mnemo_hnsw_hit h[1];
        size_t got;
        int complete;
        float qs = mnemo__quantize_i8(v, dim, qc);
        mnemo__hnsw_search(&ix.graph, mnemo__index_codes(&ix), qc, qs, ix.ef_search, accept_all,
                           NULL, h, 1, &got, &complete);
        CHECK(got == 1 && h[0].pos == p);
    }
    /* then more adds, reusing the freed node ids */
    for (size_t i = 0; i < n / 10; i++) {
        clusters_draw(&c, v);
        CHECK(add_entry(&ix, (int64_t)(n + i) + 1, v) == MNEMO_OK);
    }
    CHECK(ix.graph.n_live == ix.n);
    double r1 = graph_recall(&ix, &c, 200);
    fprintf(stderr,
            "  n=%zu dim=%zu: build %.1f s, recall@10 %.3f; after %zu deletes, 100 changes and %zu "
            "adds %.3f\n",
            n, dim, build_s, r0, n - left, n / 10, r1);
    CHECKF(r0 >= 0.95, "recall@10 %.3f < 0.95", r0);
    CHECKF(r1 >= 0.95, "recall@10 after deletes %.3f < 0.95", r1);
    /* a filter that passes nothing: nothing, after a walk of its budget */
    {
        mnemo_hnsw_hit h[10];
        size_t got;
        int complete;
        float qs = mnemo__quantize_i8(v, dim, qc);
        CHECK(mnemo__hnsw_search(&ix.graph, mnemo__index_codes(&ix), qc, qs, ix.ef_search,
                                 accept_none, NULL, h, 10, &got, &complete) == MNEMO_OK);
        CHECK(got == 0);
    }
    /* every node removed: an empty graph that searches to nothing */
    while (ix.n) mnemo__index_remove(&ix, ix.entries[ix.n - 1].seq);
    CHECK(ix.graph.n_live == 0 && ix.graph.entry == -1);
    free(v);
    free(qc);
    free(c.centers);
    mnemo__index_free(&ix);
}

/* ------------------------------------------------------ through a store */

static void fresh_dir(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/index-%s-%d", work, name, (int)getpid());
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", buf);
    if (system(cmd)) exit(2);
}

/* The options every store test opens with (the tiny model, no dedup, no
 * sweeper, this pass's index vectors); a test changes what it needs. */
static mnemo_store_options store_options(const char *dir, size_t threshold) {
    return (mnemo_store_options){.data_dir = dir,
                                 .model = model,
                                 .model_name = "tiny",
                                 .no_dedup = 1,
                                 .synchronous = "off",
                                 .sweep_seconds = -1,
                                 .index_threshold = threshold,
                                 .index_int8 = int8_mode};
}

static mnemo_store *open_with(const mnemo_store_options *o) {
    mnemo_store *s = NULL;
    mnemo_error err;
    int rc = mnemo_store_open(o, &s, &err);
    CHECKF(rc == MNEMO_OK, "open %s: %s", o->data_dir, err.message);
    return s;
}

static mnemo_store *open_store(const char *dir, size_t threshold) {
    mnemo_store_options o = store_options(dir, threshold);
    return open_with(&o);
}

/* n memories "memory I" with vectors drawn from c into vecs (n x dim). */
static void draw_memories(const clusters *c, int n, float *vecs, mnemo_memory_input *in,
                          char (*texts)[32]) {
    for (int i = 0; i < n; i++) {
        float *v = vecs + (size_t)i * c->dim;
        clusters_draw(c, v);
        snprintf(texts[i], sizeof texts[i], "memory %d", i);
        in[i] = (mnemo_memory_input){
            .text = texts[i], .text_len = strlen(texts[i]), .vector = v, .vector_dim = c->dim};
    }
}

#define STORE_N 3000
#define THRESHOLD 1000

static mnemo_memories *search(mnemo_store *s, const float *q, size_t k, const char *ns,
                              const char *filter, int exact) {
    mnemo_search_options o = {.vector = q,
                              .vector_dim = mnemo_store_dim(s),
                              .k = k,
                              .scope = {.ns = ns},
                              .filter = filter,
                              .exact = exact};
    mnemo_memories *m = NULL;
    mnemo_error err;
    int rc = mnemo_memory_search(s, &o, &m, &err);
    CHECKF(rc == MNEMO_OK, "search: %s", err.message);
    return m;
}

static size_t overlap(const mnemo_memories *a, const mnemo_memories *b) {
    size_t n = 0;
    for (size_t i = 0; i < a->n; i++)
        for (size_t j = 0; j < b->n; j++) n += !strcmp(a->items[i].id, b->items[j].id);
    return n;
}

static int same(const mnemo_memories *a, const mnemo_memories *b) {
    if (a->n != b->n) return 0;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->items[i].id, b->items[i].id)) return 0;
    return 1;
}

typedef struct searcher {
    mnemo_store *s;
    const clusters *c;
    int stop, searches, failures;
} searcher;

static void *search_loop(void *arg) {
    searcher *w = arg;
    float q[1024];
    uint64_t local = 0x1234567ULL;
    while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
        const float *ctr = w->c->centers + (size_t)(local++ % w->c->n) * w->c->dim;
        memcpy(q, ctr, w->c->dim * sizeof(float));
        mnemo_search_options o = {.vector = q, .vector_dim = w->c->dim, .k = 10};
        mnemo_memories *m = NULL;
        mnemo_error err;
        /* fewer than 10 is possible here: a hit deleted between the walk
         * and the row read is left out (the deletes run meanwhile) */
        /* two searchers share w: their counts are atomic */
        if (mnemo_memory_search(w->s, &o, &m, &err) || m->n == 0)
            __atomic_fetch_add(&w->failures, 1, __ATOMIC_RELAXED);
        mnemo_memories_free(m);
        __atomic_fetch_add(&w->searches, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void test_store_graph(void) {
    char dir[512];
    fresh_dir(dir, sizeof dir, "store");
    mnemo_store *s = open_store(dir, THRESHOLD);
    if (!s) return;
    size_t dim = mnemo_store_dim(s);
    CHECK(mnemo__store_graph_wait(s) == 0); /* empty: no graph due */
    clusters c;
    clusters_init(&c, 16, dim);
    float *vecs = malloc((size_t)STORE_N * dim * sizeof(float));
    static mnemo_memory_input in[STORE_N];
    static mnemo_memory_added out[STORE_N];
    static char texts[STORE_N][32];
    size_t rare_default = 0, tenth_default = 0;
    draw_memories(&c, STORE_N, vecs, in, texts);
    for (int i = 0; i < STORE_N; i++) {
        int rare = i % 500 == 0, tenth = i % 10 == 0;
        const char *ns = i % 3 == 0 ? "other" : NULL;
        rare_default += rare && !ns;
        tenth_default += tenth && !ns;
        in[i].metadata = rare    ? "{\"rare\": true, \"tenth\": true}"
                         : tenth ? "{\"tenth\": true}"
                                 : NULL;
        in[i].scope.ns = ns;
    }
    mnemo_error err;
    /* the first 1500 before the graph exists (the builder links them), the
     * rest after it is built (linked on add) */
    for (int i = 0; i < STORE_N; i += 500) { /* an add takes at most 1000 */
        int rc = mnemo_memory_add(s, in + i, 500, out + i, &err);
        CHECKF(rc == MNEMO_OK, "add: %s", err.message);
        if (rc) {
            mnemo_store_close(s);
            return;
        }
        if (i == 1000) CHECK(mnemo__store_graph_wait(s) == 1);
    }
    CHECK(mnemo__sqlite_db(s)->index.graph_state == MNEMO_GRAPH_READY &&
          mnemo__sqlite_db(s)->index.graph.n_live == mnemo__sqlite_db(s)->index.n);

    float q[1024];
    size_t hit = 0, total = 0;
    int short_results = 0, wrong_filter = 0, exact_wrong = 0;
    for (int t = 0; t < 50; t++) {
        clusters_draw(&c, q);
        mnemo_memories *a = search(s, q, 10, NULL, NULL, 0), *e = search(s, q, 10, NULL, NULL, 1);
        if (!a || !e) break;
        short_results += a->n != 10 || e->n != 10;
        hit += overlap(a, e);
        total += 10;
        /* the exact search is the brute force over the inputs (default namespace: i % 3 != 0),
         * with the f32 scores, in both index modes */
        {
            int best[10];
            double bs[10];
            size_t nb = 0;
            for (int i = 0; i < STORE_N; i++) {
                if (i % 3 == 0) continue;
                double sc = 0;
                for (size_t d = 0; d < dim; d++) sc += (double)vecs[(size_t)i * dim + d] * q[d];
                if (nb == 10 && sc <= bs[9]) continue;
                size_t j = nb < 10 ? nb++ : 9;
                while (j > 0 && bs[j - 1] < sc) {
                    bs[j] = bs[j - 1];
                    best[j] = best[j - 1];
                    j--;
                }
                bs[j] = sc;
                best[j] = i;
            }
            for (size_t j = 0; j < e->n && j < nb; j++) {
                exact_wrong += atoi(e->items[j].text + 7) != best[j];
                exact_wrong += fabs(e->items[j].score - bs[j]) > 1e-4;
            }
        }
        mnemo_memories_free(a);
        mnemo_memories_free(e);
        /* a filter passing 10%: exactly k, all passing */
        mnemo_memories *f = search(s, q, 10, NULL, "{\"tenth\": true}", 0);
        if (!f) break;
        short_results += f->n != 10;
        for (size_t i = 0; i < f->n; i++) wrong_filter += !strstr(f->items[i].metadata, "tenth");
        mnemo_memories_free(f);
        /* a filter passing 4 of 3000: all 4, not fewer */
        f = search(s, q, 10, NULL, "{\"rare\": true}", 0);
        if (!f) break;
        CHECKF(f->n == rare_default, "rare: %zu results, %zu exist", f->n, rare_default);
        for (size_t i = 0; i < f->n; i++) wrong_filter += !strstr(f->items[i].metadata, "rare");
        mnemo_memories_free(f);
        /* a scope of a third: exactly k there */
        f = search(s, q, 10, "other", NULL, 0);
        if (!f) break;
        short_results += f->n != 10;
        for (size_t i = 0; i < f->n; i++) wrong_filter += strcmp(f->items[i].ns, "other") != 0;
        mnemo_memories_free(f);
    }
    CHECK(short_results == 0);
    CHECK(wrong_filter == 0);
    CHECKF(exact_wrong == 0, "%d exact results not the brute force's (id or score)", exact_wrong);
    double recall = total ? (double)hit / (double)total : 0;
    fprintf(stderr, "  store n=%d dim=%zu: recall@10 vs exact %.3f (tenth in default: %zu)\n",
            STORE_N, dim, recall, tenth_default);
    CHECKF(recall >= 0.95, "store recall@10 %.3f < 0.95", recall);

    /* deleted memories never come back, even for their own vector */
    searcher w = {.s = s, .c = &c};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, search_loop, &w);
    int returned_deleted = 0;
    for (int i = 1; i < STORE_N; i += 10)
        CHECK(mnemo_memory_delete(s, out[i].id, &err) == MNEMO_OK);
    mnemo_memory_scope other = {.ns = "other"};
    size_t n_del = 0;
    CHECK(mnemo_memory_delete_where(s, &other, "{\"tenth\": true}", &n_del, &err) == MNEMO_OK);
    CHECK(n_del == 100);
    /* more adds while the searchers run */
    static mnemo_memory_input in2[200];
    static mnemo_memory_added out2[200];
    for (int i = 0; i < 200; i++) {
        in2[i] = in[i];
        in2[i].metadata = NULL;
        in2[i].scope = (mnemo_memory_scope){0};
    }
    CHECKF(mnemo_memory_add(s, in2, 200, out2, &err) == MNEMO_OK, "add: %s", err.message);
    __atomic_store_n(&w.stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    CHECKF(w.failures == 0, "%d of %d concurrent searches failed or were empty", w.failures,
           w.searches);
    for (int i = 1; i < STORE_N; i += 10) {
        mnemo_memories *m =
            search(s, vecs + (size_t)i * dim, 10, i % 3 == 0 ? "other" : NULL, NULL, 0);
        if (!m) break;
        for (size_t j = 0; j < m->n; j++) returned_deleted += !strcmp(m->items[j].id, out[i].id);
        mnemo_memories_free(m);
    }
    for (int i = 0; i < STORE_N; i += 30) { /* the other namespace's tenth, deleted by filter */
        mnemo_memories *m = search(s, vecs + (size_t)i * dim, 10, "other", NULL, 0);
        if (!m) break;
        for (size_t j = 0; j < m->n; j++)
            returned_deleted += strstr(m->items[j].metadata, "tenth") != NULL;
        mnemo_memories_free(m);
    }
    CHECKF(returned_deleted == 0, "%d deleted memories were returned", returned_deleted);
    CHECK(mnemo__sqlite_db(s)->index.graph.n_live == mnemo__sqlite_db(s)->index.n);

    /* reopened: the graph is rebuilt from SQLite, the same way each time */
    enum { RQ = 20 };
    mnemo_memories *before[RQ], *exact_before[RQ], *after[RQ];
    float rq[RQ][1024];
    for (int t = 0; t < RQ; t++) {
        clusters_draw(&c, rq[t]);
        before[t] = search(s, rq[t], 10, NULL, NULL, 0);
        exact_before[t] = search(s, rq[t], 10, NULL, NULL, 1);
    }
    mnemo_store_close(s);
    s = open_store(dir, THRESHOLD);
    if (!s) return;
    CHECK(mnemo__store_graph_wait(s) == 1);
    CHECKF(mnemo__sqlite_db(s)->graph_loaded, "the graph saved at close was not loaded");
    size_t agree = 0;
    int exact_same = 1;
    for (int t = 0; t < RQ; t++) {
        after[t] = search(s, rq[t], 10, NULL, NULL, 0);
        mnemo_memories *e = search(s, rq[t], 10, NULL, NULL, 1);
        agree += overlap(before[t], after[t]);
        exact_same &= same(e, exact_before[t]);
        mnemo_memories_free(e);
    }
    CHECK(exact_same);
    CHECKF(agree >= RQ * 10 * 95 / 100, "reopened: %zu of %d results as before", agree, RQ * 10);
    mnemo_store_close(s);
    s = open_store(dir, THRESHOLD);
    if (!s) return;
    CHECK(mnemo__store_graph_wait(s) == 1);
    int identical = 1;
    char exact_first[MNEMO_MEMORY_ID_SIZE] = "";
    if (exact_before[0] && exact_before[0]->n)
        memcpy(exact_first, exact_before[0]->items[0].id, sizeof exact_first);
    for (int t = 0; t < RQ; t++) {
        mnemo_memories *again = search(s, rq[t], 10, NULL, NULL, 0);
        identical &= again && same(again, after[t]);
        mnemo_memories_free(again);
        mnemo_memories_free(before[t]);
        mnemo_memories_free(exact_before[t]);
        mnemo_memories_free(after[t]);
    }
    CHECKF(identical, "two rebuilds of the same rows gave different results");
    mnemo_store_close(s);
    /* "exact" in a JSON request: a boolean, or refused naming the field */
    s = open_store(dir, THRESHOLD);
    if (s) {
        CHECK(mnemo__store_graph_wait(s) == 1);
        json_t *vec = json_array();
        for (size_t d = 0; d < dim; d++) json_array_append_new(vec, json_real(rq[0][d]));
        json_t *req = json_pack("{s:O, s:i, s:b}", "vector", vec, "k", 10, "exact", 1),
               *resp = NULL;
        char param[64] = "";
        CHECKF(mnemo__store_json(s, "search", req, &resp, &err, param, sizeof param) == MNEMO_OK,
               "%s", err.message);
        json_t *data = resp ? json_object_get(resp, "data") : NULL;
        CHECK(json_array_size(data) == 10);
        if (data && *exact_first && json_array_size(data) == 10)
            CHECK(!strcmp(json_string_value(json_object_get(json_array_get(data, 0), "id")),
                          exact_first));
        json_decref(resp);
        resp = NULL;
        json_object_set_new(req, "exact", json_string("yes"));
        int rc = mnemo__store_json(s, "search", req, &resp, &err, param, sizeof param);
        CHECK(rc == MNEMO_EINVAL && !strcmp(param, "exact") &&
              strstr(err.message, "true or false"));
        json_decref(resp);
        json_decref(req);
        json_decref(vec);
        mnemo_store_close(s);
    }
    /* a threshold of SIZE_MAX: no graph, ever */
    s = open_store(dir, SIZE_MAX);
    if (s) {
        CHECK(mnemo__store_graph_wait(s) == 0 &&
              mnemo__sqlite_db(s)->index.graph_state == MNEMO_GRAPH_NONE);
        mnemo_memories *m = search(s, rq[0], 10, NULL, NULL, 0);
        CHECK(m && m->n == 10);
        mnemo_memories_free(m);
        mnemo_store_close(s);
    }
    free(vecs);
    free(c.centers);
}

static double fake_now = 1.8e9;
static double fake_clock(void *ctx) {
    (void)ctx;
    return fake_now;
}

/* Expired memories are skipped by the walk at once and unlinked by the sweep. */
static void test_store_graph_expiry(void) {
    char dir[512];
    fresh_dir(dir, sizeof dir, "expiry");
    mnemo_store_options o = store_options(dir, 200);
    o.clock = fake_clock;
    mnemo_store *s = open_with(&o);
    mnemo_error err;
    if (!s) return;
    size_t dim = mnemo_store_dim(s);
    clusters c;
    clusters_init(&c, 8, dim);
    enum { N = 400 };
    float *vecs = malloc((size_t)N * dim * sizeof(float));
    static mnemo_memory_input in[N];
    static mnemo_memory_added out[N];
    static char texts[N][32];
    draw_memories(&c, N, vecs, in, texts);
    for (int i = 0; i < N; i += 4) in[i].ttl = 10;
    CHECKF(mnemo_memory_add(s, in, N, out, &err) == MNEMO_OK, "add: %s", err.message);
    CHECK(mnemo__store_graph_wait(s) == 1);
    fake_now += 20;
    int returned_expired = 0, short_results = 0;
    for (int i = 0; i < N; i += 4) {
        mnemo_memories *m = search(s, vecs + (size_t)i * dim, 10, NULL, NULL, 0);
        if (!m) break;
        short_results += m->n != 10;
        for (size_t j = 0; j < m->n; j++) {
            int at = atoi(m->items[j].text + 7);
            returned_expired += at % 4 == 0;
        }
        mnemo_memories_free(m);
    }
    CHECKF(returned_expired == 0, "%d expired memories returned", returned_expired);
    CHECK(short_results == 0);
    size_t swept = 0;
    CHECK(mnemo_store_sweep(s, &swept, &err) == MNEMO_OK);
    CHECK(swept == N / 4);
    CHECK(mnemo__sqlite_db(s)->index.n == N - N / 4 &&
          mnemo__sqlite_db(s)->index.graph.n_live == mnemo__sqlite_db(s)->index.n);
    mnemo_store_close(s);
    free(vecs);
    free(c.centers);
}

/* Dedup with the graph in place (the near-duplicate found by a walk in the
 * input's scope): a near copy of a memory merges into that memory, the same
 * text is a duplicate, the same near copy in another scope is a new memory,
 * a far vector is new; each merge target is the exact nearest. */
static void test_store_graph_dedup(void) {
    char dir[512];
    fresh_dir(dir, sizeof dir, "dedup");
    mnemo_store_options o = store_options(dir, 300);
    o.no_dedup = 0;
    mnemo_store *s = open_with(&o);
    mnemo_error err;
    if (!s) return;
    size_t dim = mnemo_store_dim(s);
    clusters c;
    clusters_init(&c, 8, dim);
    enum { N = 600, PROBES = 60 };
    float *vecs = malloc((size_t)N * dim * sizeof(float)), *near = malloc(dim * sizeof(float));
    static mnemo_memory_input in[N];
    static mnemo_memory_added out[N];
    static char texts[N][32];
    draw_memories(&c, N, vecs, in, texts);
    for (int i = 0; i < N; i++) in[i].scope.ns = "a";
    /* the clouds are wide: no two draws are near duplicates of each other */
    CHECKF(mnemo_memory_add(s, in, N, out, &err) == MNEMO_OK, "add: %s", err.message);
    size_t added = 0;
    for (int i = 0; i < N; i++) added += out[i].event == MNEMO_MEMORY_ADDED;
    CHECKF(added == N, "%zu of %d added", added, N);
    CHECK(mnemo__store_graph_wait(s) == 1);
    int merged_right = 0, dup_right = 0, other_scope_new = 0, far_new = 0;
    for (int p = 0; p < PROBES; p++) {
        int i = p * 10, j = p * 10 + 5; /* i merged into, j repeated: never the same memory */
        for (size_t d = 0; d < dim; d++)
            near[d] = vecs[(size_t)i * dim + d] + (float)(gauss() * 0.02 / sqrt((double)dim));
        mnemo__unit_vector(near, dim, near);
        char t[48];
        snprintf(t, sizeof t, "near copy %d", p);
        mnemo_memory_input x = {.text = t,
                                .text_len = strlen(t),
                                .scope = {.ns = "a"},
                                .vector = near,
                                .vector_dim = dim};
        mnemo_memory_added r;
        CHECKF(mnemo_memory_add(s, &x, 1, &r, &err) == MNEMO_OK, "add: %s", err.message);
        merged_right += r.event == MNEMO_MEMORY_MERGED && !strcmp(r.id, out[i].id);
        x.scope.ns = "b";
        snprintf(t, sizeof t, "near copy %d in b", p);
        x.text_len = strlen(t);
        CHECKF(mnemo_memory_add(s, &x, 1, &r, &err) == MNEMO_OK, "add: %s", err.message);
        other_scope_new += r.event == MNEMO_MEMORY_ADDED;
        mnemo_memory_input y = {.text = texts[j],
                                .text_len = strlen(texts[j]),
                                .scope = {.ns = "a"},
                                .vector = vecs + (size_t)((j + 1) % N) * dim,
                                .vector_dim = dim};
        CHECKF(mnemo_memory_add(s, &y, 1, &r, &err) == MNEMO_OK, "add: %s", err.message);
        dup_right += r.event == MNEMO_MEMORY_DUPLICATE && !strcmp(r.id, out[j].id);
        clusters_draw(&c, near);
        for (size_t d = 0; d < dim; d++) near[d] = -near[d]; /* opposite every cloud */
        snprintf(t, sizeof t, "far %d", p);
        mnemo_memory_input z = {.text = t,
                                .text_len = strlen(t),
                                .scope = {.ns = "a"},
                                .vector = near,
                                .vector_dim = dim};
        CHECKF(mnemo_memory_add(s, &z, 1, &r, &err) == MNEMO_OK, "add: %s", err.message);
        far_new += r.event == MNEMO_MEMORY_ADDED;
    }
    CHECKF(merged_right == PROBES, "%d of %d near copies merged into their memory", merged_right,
           PROBES);
    CHECKF(dup_right == PROBES, "%d of %d repeated texts found as duplicates", dup_right, PROBES);
    CHECKF(other_scope_new == PROBES, "%d of %d near copies in another scope added",
           other_scope_new, PROBES);
    CHECKF(far_new == PROBES, "%d of %d far vectors added", far_new, PROBES);
    size_t count = 0;
    mnemo_memory_scope a = {.ns = "a"};
    CHECK(mnemo_memory_count(s, &a, NULL, &count, &err) == MNEMO_OK);
    CHECKF(count == N + PROBES, "namespace a holds %zu, want %d", count, N + PROBES);
    mnemo_store_close(s);
    free(vecs);
    free(near);
    free(c.centers);
}

/* The brute force over the inputs: the best k of vecs (n x dim) by f32
 * cosine with q among the i that keep(i) passes, into best (indices) and
 * bs (scores); how many. */
static size_t brute_top(const float *vecs, int n, size_t dim, const float *q, int (*keep)(int),
                        size_t k, int *best, double *bs) {
    size_t nb = 0;
    for (int i = 0; i < n; i++) {
        if (!keep(i)) continue;
        double sc = 0;
        for (size_t d = 0; d < dim; d++) sc += (double)vecs[(size_t)i * dim + d] * q[d];
        if (nb == k && sc <= bs[k - 1]) continue;
        size_t j = nb < k ? nb++ : k - 1;
        while (j > 0 && bs[j - 1] < sc) {
            bs[j] = bs[j - 1];
            best[j] = best[j - 1];
            j--;
        }
        bs[j] = sc;
        best[j] = i;
    }
    return nb;
}

/* the binary test's memories: namespace "other" for i % 3 == 0, a ttl that
 * runs out for i % 7 == 3 (never a rare or tenth one), "tenth" metadata for
 * i % 10 == 0 and "rare" for i % 500 == 0 */
static int bin_expires(int i) { return i % 7 == 3 && i % 10 != 0; }
static int bin_default_live(int i) { return i % 3 != 0 && !bin_expires(i); }
static int bin_default_tenth(int i) { return bin_default_live(i) && i % 10 == 0; }
static int bin_deleted(int i) { return i % 10 == 1 || (i % 3 == 0 && i % 10 == 0); }
static int bin_default_kept(int i) { return bin_default_live(i) && !bin_deleted(i); }

/* Checks a search's results against the brute force over the inputs (their
 * text is "memory I"): the scores are the f32 cosines of the memories'
 * vectors, best first; returns how many of the brute force's ids it has. */
static size_t binary_check(const mnemo_memories *m, const float *vecs, size_t dim, const float *q,
                           int (*keep)(int), size_t k, int *bad_score, int *bad_keep) {
    int best[128];
    double bs[128];
    size_t nb = brute_top(vecs, STORE_N, dim, q, keep, k, best, bs), found = 0;
    if (m->n != nb) (*bad_keep)++;
    for (size_t i = 0; i < m->n; i++) {
        int at = atoi(m->items[i].text + 7);
        double sc = 0;
        for (size_t d = 0; d < dim; d++) sc += (double)vecs[(size_t)at * dim + d] * q[d];
        *bad_score +=
            fabs(m->items[i].score - sc) > 1e-5 || (i && m->items[i].score > m->items[i - 1].score);
        *bad_keep += !keep(at);
        for (size_t j = 0; j < nb; j++) found += best[j] == at;
    }
    return found;
}

/* The binary index (index_binary): only the signs in memory, no graph at any
 * size, a Hamming scan rescored from SQLite. recall@10 against the brute
 * force (unfiltered, filtered, in a scope), the scores of the results equal
 * to the f32 cosines and best first, exactly k when k pass, expired and
 * deleted memories never returned, a reopen (the bits rebuilt from SQLite)
 * answering the same, and the refusals (PostgreSQL, int8 with binary). */
static void test_store_binary(void) {
    char dir[512];
    fresh_dir(dir, sizeof dir, "binary");
    mnemo_store_options o = store_options(dir, THRESHOLD);
    o.index_int8 = 0;
    o.index_binary = 1;
    o.clock = fake_clock;
    mnemo_store *s = open_with(&o);
    if (!s) return;
    size_t dim = mnemo_store_dim(s);
    CHECK(mnemo__sqlite_db(s)->index.binary_only && !mnemo__sqlite_db(s)->index.vectors &&
          !mnemo__sqlite_db(s)->index.codes && mnemo__sqlite_db(s)->index.words == (dim + 63) / 64);
    clusters c;
    clusters_init(&c, 16, dim);
    float *vecs = malloc((size_t)STORE_N * dim * sizeof(float));
    static mnemo_memory_input in[STORE_N];
    static mnemo_memory_added out[STORE_N];
    static char texts[STORE_N][32];
    size_t rare_default = 0;
    draw_memories(&c, STORE_N, vecs, in, texts);
    for (int i = 0; i < STORE_N; i++) {
        int rare = i % 500 == 0, tenth = i % 10 == 0;
        in[i].metadata = rare    ? "{\"rare\": true, \"tenth\": true}"
                         : tenth ? "{\"tenth\": true}"
                                 : NULL;
        in[i].scope.ns = i % 3 == 0 ? "other" : NULL;
        in[i].ttl = bin_expires(i) ? 10 : 0;
        rare_default += rare && bin_default_live(i);
    }
    mnemo_error err;
    for (int i = 0; i < STORE_N; i += 500)
        CHECKF(mnemo_memory_add(s, in + i, 500, out + i, &err) == MNEMO_OK, "add: %s", err.message);
    /* past the graph threshold, and still no graph */
    CHECK(mnemo__store_graph_wait(s) == 0 &&
          mnemo__sqlite_db(s)->index.graph_state == MNEMO_GRAPH_NONE &&
          mnemo__sqlite_db(s)->index.n == STORE_N);
    CHECK(mnemo__sqlite_db(s)->index.bits && !mnemo__sqlite_db(s)->index.vectors &&
          !mnemo__sqlite_db(s)->index.codes);
    fake_now += 20; /* the ttl ones expire */

    float q[1024];
    size_t found[3] = {0, 0, 0}, total[3] = {0, 0, 0};
    int bad_score = 0, bad_keep = 0, exact_differs = 0;
    for (int t = 0; t < 50; t++) {
        clusters_draw(&c, q);
        mnemo_memories *a = search(s, q, 10, NULL, NULL, 0), *e = search(s, q, 10, NULL, NULL, 1);
        if (!a || !e) break;
        found[0] += binary_check(a, vecs, dim, q, bin_default_live, 10, &bad_score, &bad_keep);
        total[0] += 10;
        exact_differs += !same(a, e); /* "exact" changes nothing: there is no graph to leave */
        mnemo_memories_free(a);
        mnemo_memories_free(e);
        mnemo_memories *f = search(s, q, 10, NULL, "{\"tenth\": true}", 0);
        if (!f) break;
        found[1] += binary_check(f, vecs, dim, q, bin_default_tenth, 10, &bad_score, &bad_keep);
        total[1] += 10;
        mnemo_memories_free(f);
        f = search(s, q, 10, NULL, "{\"rare\": true}", 0);
        if (!f) break;
        CHECKF(f->n == rare_default, "rare: %zu results, %zu exist", f->n, rare_default);
        mnemo_memories_free(f);
        f = search(s, q, 10, "other", NULL, 0);
        if (!f) break;
        bad_keep += f->n != 10;
        for (size_t i = 0; i < f->n; i++) bad_keep += strcmp(f->items[i].ns, "other") != 0;
        mnemo_memories_free(f);
        /* k = 100: the candidates grow with k (40 per result) */
        f = search(s, q, 100, NULL, NULL, 0);
        if (!f) break;
        found[2] += binary_check(f, vecs, dim, q, bin_default_live, 100, &bad_score, &bad_keep);
        total[2] += 100;
        mnemo_memories_free(f);
    }
    CHECKF(bad_score == 0, "%d results with a score not their f32 cosine or out of order",
           bad_score);
    CHECKF(bad_keep == 0, "%d results short, expired or outside the scope or filter", bad_keep);
    CHECK(exact_differs == 0);
    double recall[3];
    for (int i = 0; i < 3; i++) recall[i] = total[i] ? (double)found[i] / (double)total[i] : 0;
    fprintf(stderr,
            "  binary n=%d dim=%zu (%zu bytes a vector): recall@10 %.3f, filtered 10%% %.3f, "
            "recall@100 %.3f\n",
            STORE_N, dim, mnemo__sqlite_db(s)->index.words * 8, recall[0], recall[1], recall[2]);
    CHECKF(recall[0] >= 0.95, "binary recall@10 %.3f < 0.95", recall[0]);
    CHECKF(recall[1] >= 0.95, "binary filtered recall@10 %.3f < 0.95", recall[1]);
    CHECKF(recall[2] >= 0.95, "binary recall@100 %.3f < 0.95", recall[2]);

    /* deleted memories never come back, even for their own vector */
    for (int i = 1; i < STORE_N; i += 10) {
        int rc = mnemo_memory_delete(s, out[i].id, &err);
        CHECKF(rc == MNEMO_OK || (rc == MNEMO_ENOENT && bin_expires(i)), "delete %d: %s", i,
               err.message);
    }
    mnemo_memory_scope other = {.ns = "other"};
    size_t n_del = 0;
    CHECK(mnemo_memory_delete_where(s, &other, "{\"tenth\": true}", &n_del, &err) == MNEMO_OK);
    CHECK(n_del == 100);
    int returned_deleted = 0;
    for (int i = 0; i < STORE_N; i++) {
        if (!bin_deleted(i)) continue;
        mnemo_memories *m =
            search(s, vecs + (size_t)i * dim, 10, i % 3 == 0 ? "other" : NULL, NULL, 0);
        if (!m) break;
        for (size_t j = 0; j < m->n; j++)
            returned_deleted += bin_deleted(atoi(m->items[j].text + 7));
        mnemo_memories_free(m);
    }
    CHECKF(returned_deleted == 0, "%d deleted memories were returned", returned_deleted);
    /* after the deletes (entries moved into the holes): still the brute force's */
    size_t found_after = 0;
    enum { RQ = 20 };
    float rq[RQ][1024];
    mnemo_memories *before[RQ];
    for (int t = 0; t < RQ; t++) {
        clusters_draw(&c, rq[t]);
        before[t] = search(s, rq[t], 10, NULL, NULL, 0);
        if (before[t])
            found_after += binary_check(before[t], vecs, dim, rq[t], bin_default_kept, 10,
                                        &bad_score, &bad_keep);
    }
    CHECKF(found_after >= RQ * 10 * 95 / 100, "after deletes: recall@10 %.3f",
           found_after / (double)(RQ * 10));
    CHECK(bad_score == 0 && bad_keep == 0);
    /* a swept store and a reopened one (bits rebuilt from the rows) answer the same */
    size_t swept = 0;
    CHECK(mnemo_store_sweep(s, &swept, &err) == MNEMO_OK && swept > 0);
    mnemo_store_close(s);
    s = open_with(&o);
    if (s) {
        CHECK(mnemo__sqlite_db(s)->index.binary_only &&
              mnemo__sqlite_db(s)->index.graph_state == MNEMO_GRAPH_NONE);
        int identical = 1;
        for (int t = 0; t < RQ; t++) {
            mnemo_memories *again = search(s, rq[t], 10, NULL, NULL, 0);
            identical &= again && before[t] && same(again, before[t]);
            for (size_t i = 0; identical && i < again->n; i++)
                identical &= again->items[i].score == before[t]->items[i].score;
            mnemo_memories_free(again);
        }
        CHECKF(identical, "the reopened binary store answers differently");
        mnemo_store_close(s);
    }
    for (int t = 0; t < RQ; t++) mnemo_memories_free(before[t]);
    /* the refusals, before any connection is tried */
    mnemo_store_options pg = {
        .url = "postgres://nobody@127.0.0.1:1/none", .model = model, .index_binary = 1};
    s = NULL;
    CHECK(mnemo_store_open(&pg, &s, &err) == MNEMO_EINVAL && strstr(err.message, "binary") && !s);
    mnemo_store_options both = o;
    both.index_int8 = 1;
    CHECK(mnemo_store_open(&both, &s, &err) == MNEMO_EINVAL && strstr(err.message, "both") && !s);
    free(vecs);
    free(c.centers);
}

static mnemo_memories *search_k(mnemo_store *s, const float *q) {
    return search(s, q, 10, NULL, NULL, 0);
}

static void file_edit(const char *path, long at, int truncate_there) {
    FILE *f = fopen(path, "r+b");
    CHECKF(f != NULL, "open %s", path);
    if (!f) return;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    if (truncate_there) {
        fclose(f);
        CHECK(truncate(path, at < size ? at : size / 2) == 0);
        return;
    }
    long pos = at < size ? at : size / 2;
    fseek(f, pos, SEEK_SET);
    int c = fgetc(f);
    fseek(f, pos, SEEK_SET);
    fputc(c ^ 0x5A, f);
    fclose(f);
}

/* The graph kept on disk: loaded at the next open (the same results), and
 * rebuilt, never trusted, when the file is damaged (a flipped byte, cut
 * short, garbage), the memories changed since it was written, or the
 * graph parameters differ. */
static void test_store_graph_file(void) {
    char dir[512], path[600];
    fresh_dir(dir, sizeof dir, "file");
    snprintf(path, sizeof path, "%s/graph.hnsw", dir);
    mnemo_store *s = open_store(dir, 200);
    if (!s) return;
    size_t dim = mnemo_store_dim(s);
    clusters c;
    clusters_init(&c, 8, dim);
    enum { N = 800, Q = 10 };
    float *vecs = malloc((size_t)(N + 10) * dim * sizeof(float)), q[Q][1024];
    static mnemo_memory_input in[N];
    static mnemo_memory_added out[N];
    static char texts[N + 10][32];
    draw_memories(&c, N, vecs, in, texts);
    for (int i = N; i < N + 10; i++) clusters_draw(&c, vecs + (size_t)i * dim);
    mnemo_error err;
    CHECKF(mnemo_memory_add(s, in, N, out, &err) == MNEMO_OK, "add: %s", err.message);
    CHECK(mnemo__store_graph_wait(s) == 1);
    CHECK(!mnemo__sqlite_db(s)->graph_loaded);
    /* some deletes after the build: free ids in the saved graph */
    for (int i = 0; i < N; i += 7) CHECK(mnemo_memory_delete(s, out[i].id, &err) == MNEMO_OK);
    mnemo_memories *before[Q];
    for (int t = 0; t < Q; t++) {
        clusters_draw(&c, q[t]);
        before[t] = search_k(s, q[t]);
    }
    mnemo_store_close(s);
    CHECKF(access(path, F_OK) == 0, "no %s after close", path);
    /* loaded: the same graph, the same results; and it goes on working */
    s = open_store(dir, 200);
    if (!s) return;
    CHECK(mnemo__sqlite_db(s)->graph_loaded && mnemo__store_graph_wait(s) == 1);
    int same_results = 1;
    for (int t = 0; t < Q; t++) {
        mnemo_memories *m = search_k(s, q[t]);
        same_results &= m && before[t] && same(m, before[t]);
        mnemo_memories_free(m);
    }
    CHECKF(same_results, "the loaded graph gave other results than the saved one");
    mnemo_memory_input one = {
        .text = "one more", .text_len = 8, .vector = vecs + (size_t)N * dim, .vector_dim = dim};
    mnemo_memory_added added;
    CHECK(mnemo_memory_add(s, &one, 1, &added, &err) == MNEMO_OK);
    mnemo_memories *m = search_k(s, vecs + (size_t)N * dim);
    CHECK(m && m->n == 10 && !strcmp(m->items[0].id, added.id));
    mnemo_memories_free(m);
    mnemo_store_close(s);
    /* damaged files: each rebuilt (not loaded), the search still right */
    for (int damage = 0; damage < 4; damage++) {
        if (damage == 0)
            file_edit(path, 4000, 0); /* a flipped byte in the nodes */
        else if (damage == 1)
            file_edit(path, 2000, 1); /* cut short */
        else if (damage == 2)
            file_edit(path, 20, 0); /* in the header's counts */
        else {
            FILE *f = fopen(path, "wb");
            for (int i = 0; f && i < 5000; i++) fputc((int)(urand() * 256), f);
            if (f) fclose(f);
        }
        s = open_store(dir, 200);
        if (!s) return;
        CHECKF(!mnemo__sqlite_db(s)->graph_loaded, "damage %d: the graph file was loaded", damage);
        CHECK(mnemo__store_graph_wait(s) == 1);
        m = search_k(s, vecs + (size_t)N * dim);
        CHECKF(m && m->n == 10 && !strcmp(m->items[0].id, added.id),
               "damage %d: search after the rebuild", damage);
        mnemo_memories_free(m);
        mnemo_store_close(s);
    }
    /* the rebuilt graph was saved: loaded again */
    s = open_store(dir, 200);
    if (!s) return;
    CHECK(mnemo__sqlite_db(s)->graph_loaded);
    mnemo_store_close(s);
    /* memories changed while no graph was kept (a store opened without one): rebuilt */
    s = open_store(dir, SIZE_MAX);
    if (!s) return;
    mnemo_memory_input more[9];
    mnemo_memory_added more_out[9];
    for (int i = 0; i < 9; i++) {
        snprintf(texts[N + 1 + i], sizeof texts[0], "later %d", i);
        more[i] = (mnemo_memory_input){.text = texts[N + 1 + i],
                                       .text_len = strlen(texts[N + 1 + i]),
                                       .vector = vecs + (size_t)(N + 1 + i) * dim,
                                       .vector_dim = dim};
    }
    CHECK(mnemo_memory_add(s, more, 9, more_out, &err) == MNEMO_OK);
    mnemo_store_close(s);
    s = open_store(dir, 200);
    if (!s) return;
    CHECKF(!mnemo__sqlite_db(s)->graph_loaded, "a graph of other memories was loaded");
    CHECK(mnemo__store_graph_wait(s) == 1);
    m = search_k(s, vecs + (size_t)(N + 5) * dim);
    CHECK(m && m->n == 10 && !strcmp(m->items[0].id, more_out[4].id));
    mnemo_memories_free(m);
    mnemo_store_close(s);
    /* other graph parameters: rebuilt */
    mnemo_store_options o = store_options(dir, 200);
    o.hnsw_m = 8;
    if ((s = open_with(&o))) {
        CHECK(!mnemo__sqlite_db(s)->graph_loaded && mnemo__store_graph_wait(s) == 1);
        mnemo_store_close(s);
    }
    for (int t = 0; t < Q; t++) mnemo_memories_free(before[t]);
    free(vecs);
    free(c.centers);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_store_index TINY_MODEL_DIR WORK_DIR [N]\n");
        return 2;
    }
    work = argv[2];
    if (argc > 3) graph_n = atol(argv[3]);
    if (graph_n < 1000) graph_n = 1000;
    mnemo__log_set_level(getenv("TEST_LOG") ? MNEMO_LOG_INFO : MNEMO_LOG_WARN);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", work);
    if (system(cmd)) return 2;
    mnemo_error err;
    mnemo_model_options mo = {.no_cache = 1};
    if (mnemo_model_open(argv[1], &mo, &model, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 2;
    }
    RUN(test_graph_recall);
    RUN(test_store_graph);
    RUN(test_store_graph_expiry);
    RUN(test_store_graph_dedup);
    RUN(test_store_graph_file);
    int8_mode = 1;
    RUN(test_store_graph);
    RUN(test_store_graph_expiry);
    RUN(test_store_graph_dedup);
    RUN(test_store_graph_file);
    int8_mode = 0;
    RUN(test_store_binary);
    mnemo_model_close(model);
    return test_finish();
}
