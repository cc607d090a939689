/*
 * test_embed_service.c — the embed part's service layer (src/service/service.h):
 * the cache (LRU bound in bytes, TTL expiry, keys compared by pieces), the
 * batcher with a fake model (identical inputs computed once, deadlines, the
 * full queue refused at once, cancellation when the client goes away, one
 * request of many sequences not starving a short one, the token budget per
 * pass), and the service on the tiny model (vectors equal mnemo_embed's,
 * the second request is a cache hit); the cache file (hits kept, the most
 * used entries first within its size, another identity refused, a passed
 * deadline loading nothing, allocation failures while writing). The Redis tier's parts that need no
 * server (cache_redis.c included, for its static functions): URL forms, the
 * value format refusing every flipped byte, truncation, another key or model,
 * and fail-open with nothing listening (test_serve_redis.sh has the server).
 *
 * usage: test_embed_service TINY_MODEL_DIR
 */
#include "service/service.h"
#include "test.h"

#include "service/cache_redis.c"

#include <math.h>
#include <pthread.h>
#include <unistd.h>

static const char *tiny_model;

/* ---------------------------------------------------------------- cache */

static void put(mnemo_cache *c, const char *text, float v, double now) {
    float vec[4] = {v, v, v, v};
    mnemo_piece key[3] = {{"m", 1}, {"p", 1}, {text, strlen(text)}};
    mnemo__cache_put(c, key, 3, vec, 7, now);
}

static bool get(mnemo_cache *c, const char *text, double now, float *v) {
    float vec[4];
    size_t n = 0;
    mnemo_piece key[3] = {{"m", 1}, {"p", 1}, {text, strlen(text)}};
    bool hit = mnemo__cache_get(c, key, 3, now, vec, &n);
    if (hit && v) *v = vec[0];
    if (hit) CHECK(n == 7);
    return hit;
}

static void test_cache_lru_bytes(void) {
    mnemo_cache *c;
    mnemo_error err;
    /* measure one entry, then make a cache that holds exactly three */
    CHECK(mnemo__cache_create(1 << 20, 0, 4, &c, &err) == MNEMO_OK);
    put(c, "aaaa", 1, 0);
    mnemo_cache_stats st;
    mnemo__cache_stats(c, &st);
    size_t one = st.bytes;
    CHECK(one > 16 && st.entries == 1);
    mnemo__cache_free(c);
    CHECK(mnemo__cache_create(3 * one, 0, 4, &c, &err) == MNEMO_OK);
    put(c, "aaaa", 1, 0);
    put(c, "bbbb", 2, 0);
    put(c, "cccc", 3, 0);
    float v;
    CHECK(get(c, "aaaa", 0, &v) && v == 1); /* aaaa is now the most recent */
    put(c, "dddd", 4, 0);                   /* evicts the least recent: bbbb */
    mnemo__cache_stats(c, &st);
    CHECK(st.bytes <= 3 * one && st.entries == 3 && st.evictions == 1);
    CHECK(!get(c, "bbbb", 0, NULL));
    CHECK(get(c, "aaaa", 0, &v) && v == 1);
    CHECK(get(c, "cccc", 0, &v) && v == 3);
    CHECK(get(c, "dddd", 0, &v) && v == 4);
    put(c, "dddd", 5, 0); /* refresh replaces, no growth */
    mnemo__cache_stats(c, &st);
    CHECK(st.entries == 3 && get(c, "dddd", 0, &v) && v == 5);
    /* an entry larger than the whole cache is not stored */
    char big[4096];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    put(c, big, 9, 0);
    CHECK(!get(c, big, 0, NULL));
    mnemo__cache_stats(c, &st);
    CHECK(st.bytes <= 3 * one);
    mnemo__cache_free(c);
}

static void test_cache_ttl_and_keys(void) {
    mnemo_cache *c;
    mnemo_error err;
    CHECK(mnemo__cache_create(1 << 20, 10, 4, &c, &err) == MNEMO_OK);
    put(c, "t", 1, 100);
    CHECK(get(c, "t", 109.9, NULL));
    CHECK(!get(c, "t", 110.0, NULL)); /* expired at ttl */
    mnemo_cache_stats st;
    mnemo__cache_stats(c, &st);
    CHECK(st.expirations == 1 && st.entries == 0 && st.bytes == 0);
    /* pieces are compared one by one: ("ab","c") is not ("a","bc") */
    float vec[4] = {1, 2, 3, 4}, out[4];
    mnemo_piece k1[2] = {{"ab", 2}, {"c", 1}}, k2[2] = {{"a", 1}, {"bc", 2}};
    mnemo__cache_put(c, k1, 2, vec, 3, 0);
    CHECK(mnemo__cache_get(c, k1, 2, 1, out, NULL) && out[3] == 4);
    CHECK(!mnemo__cache_get(c, k2, 2, 1, out, NULL));
    mnemo__cache_free(c);
    /* size 0: a cache that stores nothing */
    CHECK(mnemo__cache_create(0, 0, 4, &c, &err) == MNEMO_OK);
    put(c, "x", 1, 0);
    CHECK(!get(c, "x", 0, NULL));
    mnemo__cache_free(c);
}

/* ---------------------------------------------------------- cache file */

/* A cache of width 4 on `path` with `identity`, loaded. */
static mnemo_cache *file_cache(const char *path, const char *identity, size_t max_bytes,
                               mnemo_cache_file **f, size_t *loaded) {
    mnemo_cache *c;
    mnemo_error err;
    CHECK(mnemo__cache_create(1 << 20, 0, 4, &c, &err) == MNEMO_OK);
    mnemo_cache_file_options o = {
        .path = path, .max_bytes = max_bytes, .identity = identity, .model_id = "m", .width = 4};
    CHECK(mnemo__cache_file_open(&o, c, f, &err) == MNEMO_OK);
    mnemo__cache_file_load(*f, mnemo__now() + 10, loaded);
    return c;
}

static void test_cache_file(void) {
    char path[] = "/tmp/mnemo-cache-file-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    unlink(path);
    mnemo_cache_file *f;
    mnemo_error err;
    size_t loaded;
    mnemo_cache *c = file_cache(path, "id1", 1 << 20, &f, &loaded);
    CHECK(loaded == 0);
    put(c, "a", 1, 0);
    put(c, "b", 2, 0);
    put(c, "c", 3, 0);
    for (int i = 0; i < 5; i++) CHECK(get(c, "c", 0, NULL));
    CHECK(get(c, "b", 0, NULL));
    CHECK(mnemo__cache_file_write(f, &err) == MNEMO_OK);
    mnemo_cache_file_stats fs;
    mnemo__cache_file_stats(f, &fs);
    CHECK(fs.writes == 1 && fs.file_entries == 3);
    CHECK(mnemo__cache_file_write(f, &err) == MNEMO_OK); /* nothing changed: no write */
    mnemo__cache_file_stats(f, &fs);
    CHECK(fs.writes == 1);
    /* every allocation of a write failing in turn: an error, never a crash or a leak */
    put(c, "d", 4, 0);
    for (long n = 1; n <= 8; n++) {
        mnemo__alloc_fail_after(n);
        int rc = mnemo__cache_file_write(f, &err);
        mnemo__alloc_fail_after(0);
        CHECK(rc == MNEMO_OK || rc == MNEMO_ENOMEM);
    }
    mnemo__cache_file_close(f);
    mnemo__cache_free(c);

    /* the same identity: everything back, with its hits */
    c = file_cache(path, "id1", 1 << 20, &f, &loaded);
    CHECK(loaded == 4);
    mnemo_cache_stats st;
    mnemo__cache_stats(c, &st);
    CHECK(st.warm_loaded == 4 && st.entries == 4);
    float v;
    CHECK(get(c, "c", 0, &v) && v == 3);
    CHECK(get(c, "d", 0, &v) && v == 4);
    mnemo__cache_stats(c, &st);
    CHECK(st.warm_hits == 2);
    mnemo__cache_file_close(f);
    mnemo__cache_free(c);

    /* a file with room for one entry holds the most used one (c) */
    c = file_cache(path, "id1", 64 + 3 + 32 + 18 + 16, &f, &loaded);
    CHECK(get(c, "a", 0, NULL)); /* a change, so the close writes the small file */
    mnemo__cache_file_close(f);
    mnemo__cache_free(c);
    c = file_cache(path, "id1", 1 << 20, &f, &loaded);
    CHECKF(loaded == 1, "loaded %zu", loaded);
    CHECK(get(c, "c", 0, NULL) && !get(c, "b", 0, NULL));
    mnemo__cache_file_close(f);
    mnemo__cache_free(c);

    /* another identity: nothing loaded, counted */
    c = file_cache(path, "id2", 1 << 20, &f, &loaded);
    mnemo__cache_file_stats(f, &fs);
    CHECK(loaded == 0 && fs.rejected == 1);
    mnemo__cache_file_close(f);
    mnemo__cache_free(c);
    /* a deadline already passed loads nothing */
    c = file_cache(path, "id1", 1 << 20, &f, &loaded);
    mnemo__cache_file_close(f);
    mnemo__cache_free(c);
    CHECK(mnemo__cache_create(1 << 20, 0, 4, &c, &err) == MNEMO_OK);
    mnemo_cache_file_options o = {
        .path = path, .max_bytes = 1 << 20, .identity = "id1", .model_id = "m", .width = 4};
    CHECK(mnemo__cache_file_open(&o, c, &f, &err) == MNEMO_OK);
    mnemo__cache_file_load(f, mnemo__now() - 1, &loaded);
    CHECK(loaded == 0);
    mnemo__cache_file_close(f);
    mnemo__cache_free(c);
    unlink(path);
}

/* A snapshot's entries stay readable while the cache evicts and replaces
 * them (ASan would see a read of freed memory), and are freed after. */
static void test_cache_snapshot_pins(void) {
    mnemo_cache *c;
    mnemo_error err;
    CHECK(mnemo__cache_create(1 << 20, 0, 4, &c, &err) == MNEMO_OK);
    put(c, "aaaa", 1, 0);
    mnemo_cache_stats st;
    mnemo__cache_stats(c, &st);
    size_t one = st.bytes;
    mnemo__cache_free(c);
    CHECK(mnemo__cache_create(2 * one, 0, 4, &c, &err) == MNEMO_OK);
    put(c, "aaaa", 1, 0);
    put(c, "bbbb", 2, 0);
    mnemo_cache_snapshot snap;
    CHECK(mnemo__cache_snapshot(c, 2, &snap) == MNEMO_OK && snap.n == 2);
    put(c, "cccc", 3, 0); /* evicts aaaa */
    put(c, "bbbb", 5, 0); /* replaces bbbb */
    put(c, "dddd", 4, 0); /* evicts cccc */
    float sum = 0;
    for (size_t i = 0; i < snap.n; i++) {
        CHECK(snap.items[i].key_len == 8 + 4);
        sum += snap.items[i].vec[0] + snap.items[i].vec[3];
    }
    CHECK(sum == 2 * (1 + 2));
    mnemo__cache_snapshot_free(&snap);
    float v;
    CHECK(get(c, "bbbb", 0, &v) && v == 5);
    CHECK(get(c, "dddd", 0, &v) && v == 4);
    CHECK(!get(c, "aaaa", 0, NULL) && !get(c, "cccc", 0, NULL));
    mnemo__cache_free(c);
}

/* -------------------------------------------------------------- batcher */

typedef struct fake {
    pthread_mutex_t mu;
    size_t calls, seqs, max_tokens_seen;
    double sleep_s;
    int32_t order[256]; /* first id of each sequence run, in order */
    size_t n_order;
} fake;

static int fake_run(void *arg, const int32_t *const *ids, const size_t *lens, size_t n, float *out,
                    mnemo_error *err) {
    fake *f = arg;
    size_t tokens = 0;
    for (size_t i = 0; i < n; i++) {
        tokens += lens[i];
        out[i * 2] = (float)ids[i][0];
        out[i * 2 + 1] = (float)lens[i];
    }
    pthread_mutex_lock(&f->mu);
    f->calls++;
    f->seqs += n;
    if (tokens > f->max_tokens_seen) f->max_tokens_seen = tokens;
    for (size_t i = 0; i < n && f->n_order < 256; i++) f->order[f->n_order++] = ids[i][0];
    pthread_mutex_unlock(&f->mu);
    if (f->sleep_s > 0) usleep((useconds_t)(f->sleep_s * 1e6));
    return MNEMO_OK;
}

static mnemo_batcher *make_batcher(fake *f, size_t budget, size_t queue, double window) {
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    mnemo_batcher_options o = {.width = 2,
                               .max_batch_tokens = budget,
                               .window = window,
                               .max_queue_tokens = queue,
                               .run = fake_run,
                               .run_arg = f};
    mnemo_batcher *b = NULL;
    mnemo_error err;
    CHECK(mnemo__batcher_create(&o, &b, &err) == MNEMO_OK);
    return b;
}

typedef struct submitter {
    mnemo_batcher *b;
    int32_t seq[4];
    size_t len;
    float out[2];
    int rc;
} submitter;

static void *submit_one(void *arg) {
    submitter *s = arg;
    const int32_t *p = s->seq;
    mnemo_batch_job *job;
    mnemo_error err;
    s->rc = mnemo__batcher_submit(s->b, &p, &s->len, 1, s->out, mnemo__now() + 10, &job, &err);
    if (!s->rc) s->rc = mnemo__batcher_wait(s->b, job, NULL, NULL, NULL, &err);
    return NULL;
}

static void test_batcher_dedup(void) {
    fake f;
    mnemo_batcher *b = make_batcher(&f, 64, 0, 0.05); /* a window long enough to gather all */
    submitter s[8];
    pthread_t t[8];
    for (int i = 0; i < 8; i++) {
        s[i] = (submitter){.b = b, .seq = {i % 2 ? 5 : 9, 1, 1}, .len = 3};
        pthread_create(&t[i], NULL, submit_one, &s[i]);
    }
    for (int i = 0; i < 8; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 8; i++) CHECK(s[i].rc == MNEMO_OK && s[i].out[0] == (i % 2 ? 5 : 9));
    CHECKF(f.seqs == 2, "8 requests of 2 distinct inputs ran %zu sequences", f.seqs);
    /* the same input twice in one job is also computed once */
    int32_t a[2] = {7, 7};
    const int32_t *ids[3] = {a, a, a};
    size_t lens[3] = {2, 2, 2};
    float out[6];
    mnemo_batch_job *job;
    mnemo_error err;
    CHECK(mnemo__batcher_submit(b, ids, lens, 3, out, mnemo__now() + 5, &job, &err) == MNEMO_OK);
    CHECK(mnemo__batcher_wait(b, job, NULL, NULL, NULL, &err) == MNEMO_OK);
    CHECK(f.seqs == 3 && out[0] == 7 && out[2] == 7 && out[4] == 7);
    mnemo__batcher_free(b);
}

static void test_batcher_deadline_and_full_queue(void) {
    fake f;
    mnemo_batcher *b = make_batcher(&f, 16, 10, 0);
    f.sleep_s = 0.3;
    int32_t x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const int32_t *p = x;
    size_t len = 8;
    float out1[2], out2[2], out3[2];
    mnemo_batch_job *j1, *j2, *j3;
    mnemo_error err;
    CHECK(mnemo__batcher_submit(b, &p, &len, 1, out1, mnemo__now() + 5, &j1, &err) == MNEMO_OK);
    usleep(50000); /* j1 is running now; the queue is empty */
    int32_t y[8] = {9, 2, 3, 4, 5, 6, 7, 8};
    const int32_t *q = y;
    double t0 = mnemo__now();
    CHECK(mnemo__batcher_submit(b, &q, &len, 1, out2, t0 + 0.1, &j2, &err) == MNEMO_OK);
    /* 8 queued + 8 more > 10: refused at once */
    int32_t z[8] = {10, 2, 3, 4, 5, 6, 7, 8};
    const int32_t *r = z;
    double t1 = mnemo__now();
    CHECK(mnemo__batcher_submit(b, &r, &len, 1, out3, t1 + 5, &j3, &err) == MNEMO_EBUSY);
    CHECK(mnemo__now() - t1 < 0.05 && strstr(err.message, "max-queue-tokens"));
    CHECK(mnemo__batcher_retry_after(b) >= 1);
    mnemo_batch_timing tm;
    CHECK(mnemo__batcher_wait(b, j2, NULL, NULL, &tm, &err) == MNEMO_ETIMEDOUT);
    double waited = mnemo__now() - t0;
    CHECKF(waited >= 0.09 && waited < 0.2, "deadline 0.1 s, waited %.3f", waited);
    CHECK(!tm.started); /* still queued: the server says 503, not 504 */
    CHECK(mnemo__batcher_wait(b, j1, NULL, NULL, &tm, &err) == MNEMO_OK && tm.started);
    usleep(350000);
    CHECKF(f.seqs == 1, "the timed-out job's sequence was dropped, not run (%zu runs)", f.seqs);
    mnemo_batcher_stats st;
    mnemo__batcher_stats(b, &st);
    CHECK(st.queued_tokens == 0 && st.waiting_jobs == 0);
    mnemo__batcher_free(b);
}

static int gone_after(void *arg) { return mnemo__now() > *(double *)arg; }

static void test_batcher_cancel(void) {
    fake f;
    mnemo_batcher *b = make_batcher(&f, 16, 0, 0);
    f.sleep_s = 0.3;
    int32_t x[4] = {1, 1, 1, 1}, y[4] = {2, 2, 2, 2};
    const int32_t *p = x, *q = y;
    size_t len = 4;
    float o1[2], o2[2];
    mnemo_batch_job *j1, *j2;
    mnemo_error err;
    CHECK(mnemo__batcher_submit(b, &p, &len, 1, o1, mnemo__now() + 5, &j1, &err) == MNEMO_OK);
    usleep(50000);
    CHECK(mnemo__batcher_submit(b, &q, &len, 1, o2, mnemo__now() + 5, &j2, &err) == MNEMO_OK);
    double at = mnemo__now() + 0.05;
    CHECK(mnemo__batcher_wait(b, j2, gone_after, &at, NULL, &err) == MNEMO_ECANCELED);
    CHECK(mnemo__now() - at < 0.1);
    CHECK(mnemo__batcher_wait(b, j1, NULL, NULL, NULL, &err) == MNEMO_OK);
    usleep(350000);
    CHECKF(f.seqs == 1, "the cancelled sequence did not run (%zu runs)", f.seqs);
    mnemo__batcher_free(b);
}

/* A request of many sequences queued first; a short one after it runs in
 * the first pass that has room, not after all of them. */
static void test_batcher_fairness_and_budget(void) {
    fake f;
    mnemo_batcher *b = make_batcher(&f, 16, 0, 0);
    f.sleep_s = 0.05;
    int32_t blocker[2] = {99, 1};
    const int32_t *bp = blocker;
    size_t bl = 2;
    float bo[2];
    mnemo_batch_job *jb, *jl, *js;
    mnemo_error err;
    /* keep the worker busy while the two jobs queue up */
    CHECK(mnemo__batcher_submit(b, &bp, &bl, 1, bo, mnemo__now() + 5, &jb, &err) == MNEMO_OK);
    usleep(10000);
    int32_t longs[10][8];
    const int32_t *lp[10];
    size_t ll[10];
    float lo[20];
    for (int i = 0; i < 10; i++) {
        for (int k = 0; k < 8; k++) longs[i][k] = 100 + i;
        lp[i] = longs[i];
        ll[i] = 8;
    }
    CHECK(mnemo__batcher_submit(b, lp, ll, 10, lo, mnemo__now() + 5, &jl, &err) == MNEMO_OK);
    int32_t shrt[2] = {7, 7};
    const int32_t *sp = shrt;
    size_t sl = 2;
    float so[2];
    CHECK(mnemo__batcher_submit(b, &sp, &sl, 1, so, mnemo__now() + 5, &js, &err) == MNEMO_OK);
    CHECK(mnemo__batcher_wait(b, js, NULL, NULL, NULL, &err) == MNEMO_OK);
    CHECK(mnemo__batcher_wait(b, jl, NULL, NULL, NULL, &err) == MNEMO_OK);
    CHECK(mnemo__batcher_wait(b, jb, NULL, NULL, NULL, &err) == MNEMO_OK);
    size_t pos = 0;
    while (pos < f.n_order && f.order[pos] != 7) pos++;
    CHECKF(pos <= 3, "the short sequence ran at position %zu of %zu", pos, f.n_order);
    CHECKF(f.max_tokens_seen <= 16, "a pass had %zu tokens, budget 16", f.max_tokens_seen);
    for (int i = 0; i < 10; i++) CHECK(lo[2 * i] == 100 + i && lo[2 * i + 1] == 8);
    /* a sequence over the budget is refused */
    int32_t huge[17] = {0};
    const int32_t *hp = huge;
    size_t hl = 17;
    CHECK(mnemo__batcher_submit(b, &hp, &hl, 1, lo, mnemo__now() + 5, &jl, &err) == MNEMO_EINVAL);
    mnemo__batcher_free(b);
}

/* -------------------------------------------------------------- service */

static void test_service_tiny(void) {
    mnemo_model *m;
    mnemo_context *ctx;
    mnemo_error err;
    if (mnemo_model_open(tiny_model, NULL, &m, &err)) {
        CHECKF(0, "%s", err.message);
        return;
    }
    CHECK(mnemo_context_create(m, NULL, &ctx, &err) == MNEMO_OK);
    mnemo_service_options o = {.model_id = "tiny",
                               .n_threads = 1,
                               .max_batch_tokens = 256,
                               .batch_window = 0.001,
                               .cache_bytes = 1 << 20,
                               .cache_ttl = 60};
    mnemo_service *s;
    CHECK(mnemo__service_open(m, &o, &s, &err) == MNEMO_OK);
    const char *texts[3] = {"hello world", "a second text", "hello world"};
    size_t lens[3] = {11, 13, 11}, width = mnemo_model_dim(m), ntok[3], ntok2[3];
    float *want = malloc(3 * width * sizeof(float)), *got = malloc(3 * width * sizeof(float));
    mnemo_embed_options eo = {.prompt_name = "query"};
    CHECK(mnemo_embed(ctx, texts, lens, 3, &eo, want, ntok, &err) == MNEMO_OK);
    mnemo_service_input in[3];
    for (int i = 0; i < 3; i++) in[i] = (mnemo_service_input){texts[i], lens[i], NULL, 0};
    mnemo_service_request q = {
        .inputs = in, .n = 3, .prompt_name = "query", .deadline = mnemo__now() + 10};
    mnemo_service_result r = {.vectors = got, .n_tokens = ntok2};
    CHECK(mnemo__service_embed(s, &q, &r, &err) == MNEMO_OK);
    double maxdiff = 0;
    for (size_t i = 0; i < 3 * width; i++) maxdiff = fmax(maxdiff, fabs(got[i] - want[i]));
    CHECKF(maxdiff < 1e-6, "service vs mnemo_embed: max difference %g", maxdiff);
    CHECK(ntok2[0] == ntok[0] && ntok2[1] == ntok[1] &&
          r.total_tokens == ntok[0] + ntok[1] + ntok[2]);
    CHECK(r.cache_hits == 0);
    memset(got, 0, 3 * width * sizeof(float));
    CHECK(mnemo__service_embed(s, &q, &r, &err) == MNEMO_OK);
    CHECK(r.cache_hits == 3 && r.computed == 0 && got[0] == want[0]);
    /* errors name the input */
    mnemo_service_input badin[2] = {{"ok", 2, NULL, 0}, {"\xff", 1, NULL, 0}};
    q.inputs = badin;
    q.n = 2;
    CHECK(mnemo__service_embed(s, &q, &r, &err) == MNEMO_EUTF8);
    CHECK(r.bad_index == 1 && strstr(err.message, "input[1]"));
    /* token ids: the ids of a text give the text's vector */
    int32_t *ids;
    size_t n_ids;
    CHECK(mnemo_embed_tokenize(m, "hello world", 11, NULL, &ids, &n_ids, &err) == MNEMO_OK);
    int64_t ids64[64];
    for (size_t i = 0; i < n_ids; i++) ids64[i] = ids[i];
    mnemo_free(ids);
    float plain[64];
    eo.prompt_name = NULL;
    CHECK(mnemo_embed(ctx, texts, lens, 1, &eo, plain, NULL, &err) == MNEMO_OK);
    mnemo_service_input idin = {NULL, 0, ids64 + 1, n_ids - 2}; /* without <bos>/<eos>: added */
    q = (mnemo_service_request){.inputs = &idin, .n = 1, .deadline = mnemo__now() + 10};
    CHECK(mnemo__service_embed(s, &q, &r, &err) == MNEMO_OK);
    maxdiff = 0;
    for (size_t i = 0; i < width && width <= 64; i++)
        maxdiff = fmax(maxdiff, fabs(got[i] - plain[i]));
    CHECKF(maxdiff < 1e-6, "ids vs text: %g", maxdiff);
    mnemo__service_close(s);
    mnemo_context_free(ctx);
    mnemo_model_close(m);
    free(want);
    free(got);
}

/* --cache-redis URLs: every form docs/operations.md documents, and refusals that
 * name the flag (the server itself is test_serve_redis.sh's). */
static void test_redis_url(void) {
    mnemo_redis_url u;
    mnemo_error err;
    CHECK(mnemo__redis_url_parse("redis://127.0.0.1", &u, &err) == MNEMO_OK);
    CHECK(!strcmp(u.host, "127.0.0.1") && u.port == 6379 && u.db == 0 && !u.password &&
          !u.socket_path);
    mnemo__redis_url_free(&u);
    CHECK(mnemo__redis_url_parse("redis://:p%40ss@cache.local:6380/3", &u, &err) == MNEMO_OK);
    CHECK(!strcmp(u.host, "cache.local") && u.port == 6380 && u.db == 3 && !u.user &&
          !strcmp(u.password, "p@ss"));
    mnemo__redis_url_free(&u);
    CHECK(mnemo__redis_url_parse("redis://alice:pw@[::1]:7000/", &u, &err) == MNEMO_OK);
    CHECK(!strcmp(u.host, "::1") && u.port == 7000 && !strcmp(u.user, "alice") &&
          !strcmp(u.password, "pw"));
    mnemo__redis_url_free(&u);
    CHECK(mnemo__redis_url_parse("redis://[fe80::1%25eth0]:6380", &u, &err) == MNEMO_OK);
    CHECK(!strcmp(u.host, "fe80::1%eth0") && u.port == 6380);
    mnemo__redis_url_free(&u);
    CHECK(mnemo__redis_url_parse("unix:///run/redis/redis.sock?db=2", &u, &err) == MNEMO_OK);
    CHECK(!u.host && !strcmp(u.socket_path, "/run/redis/redis.sock") && u.db == 2);
    mnemo__redis_url_free(&u);
    CHECK(mnemo__redis_url_parse("redis+unix://:secret@/tmp/r.sock", &u, &err) == MNEMO_OK);
    CHECK(!strcmp(u.socket_path, "/tmp/r.sock") && !strcmp(u.password, "secret"));
    mnemo__redis_url_free(&u);
    CHECK(mnemo__redis_url_parse("unix:///tmp/a@b.sock", &u, &err) == MNEMO_OK);
    CHECK(!strcmp(u.socket_path, "/tmp/a@b.sock") && !u.password);
    mnemo__redis_url_free(&u);
    const char *bad[] = {"",
                         "redis://",
                         "redis://h:0",
                         "redis://h:65536",
                         "redis://h:x",
                         "redis://h/1/2",
                         "redis://[::1",
                         "redis://[::1/0]",
                         "redis://[fe80::1%2f]/2",
                         "redis://[fe80::1%00]",
                         "redis://[::1 ]",
                         "redis://user@h",
                         "rediss://h",
                         "http://h",
                         "unix://",
                         "unix://rel.sock",
                         "unix:///?db=3",
                         "unix:///s?db=x",
                         "unix:///s?timeout=1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECKF(mnemo__redis_url_parse(bad[i], &u, &err) == MNEMO_EINVAL, "%s", bad[i]);
        CHECKF(strstr(err.message, "--cache-redis") && strstr(err.message, "expected redis://"),
               "%s", err.message);
        CHECK(!u.host && !u.socket_path && !u.password);
    }
}

/* A value written for one key reads back only under that key and model,
 * whole and unchanged. */
static void test_redis_value_format(void) {
    mnemo_redis r = {.width = 8, .fingerprint = (char *)"fp|f32|dim=8", .model_hash = 42};
    const mnemo_piece key[3] = {{"p", 1}, {"hello", 5}, {"L", 0}},
                      other[3] = {{"p", 1}, {"hellp", 5}, {"L", 0}};
    size_t klen = key_bytes(&r, key, 3), vlen = HEADER_BYTES + klen + 8 * sizeof(float);
    unsigned char kb[256], ko[256], v[512];
    CHECK(klen <= sizeof kb && vlen <= sizeof v);
    key_write(&r, key, 3, kb);
    key_write(&r, other, 3, ko);
    float vec[8] = {0.5f, -0.5f, 0.25f, 0, 0, 0, 0, 0.625f}, out[8];
    value_write(&r, kb, klen, vec, 7, v);
    size_t tokens = 0;
    CHECK(value_read(&r, kb, klen, (const char *)v, vlen, out, &tokens) && tokens == 7 &&
          !memcmp(out, vec, sizeof vec));
    char n1[KEY_NAME_LEN + 1], n2[KEY_NAME_LEN + 1];
    key_name(kb, klen, n1);
    key_name(ko, klen, n2);
    CHECK(strlen(n1) == KEY_NAME_LEN &&
          !strncmp(n1, MNEMO_REDIS_PREFIX, strlen(MNEMO_REDIS_PREFIX)) && strcmp(n1, n2));
    CHECK(!value_read(&r, ko, klen, (const char *)v, vlen, out, &tokens)); /* another text */
    for (size_t i = 0; i < vlen; i++) { /* every flipped byte: header, key or vector */
        v[i] ^= 0x10;
        CHECKF(!value_read(&r, kb, klen, (const char *)v, vlen, out, &tokens), "byte %zu", i);
        v[i] ^= 0x10;
    }
    for (size_t n = 0; n < vlen; n++)
        CHECKF(!value_read(&r, kb, klen, (const char *)v, n, out, &tokens), "%zu bytes", n);
    CHECK(!value_read(&r, kb, klen, (const char *)v, vlen + 1, out, &tokens));
    r.model_hash = 43; /* another model */
    CHECK(!value_read(&r, kb, klen, (const char *)v, vlen, out, &tokens));
    r.model_hash = 42;
    r.width = 4; /* another width */
    CHECK(!value_read(&r, kb, klen, (const char *)v, HEADER_BYTES + klen + 4 * sizeof(float), out,
                      &tokens));
}

/* Nothing listening: open succeeds, lookups miss at once (skipped while
 * backing off), writes are dropped, close frees everything. */
static void test_redis_fail_open(void) {
    mnemo_redis *r;
    mnemo_error err;
    mnemo_redis_options o = {
        .url = "redis://127.0.0.1:1", .timeout = 0.02, .ttl = 10, .width = 4, .fingerprint = "fp"};
    CHECK(mnemo__redis_open(&o, &r, &err) == MNEMO_OK);
    const mnemo_piece k[1] = {{"x", 1}};
    const mnemo_piece *keys[2] = {k, k};
    float a[4], b[4], v[4] = {1, 0, 0, 0};
    float *outs[2] = {a, b};
    size_t tokens[2];
    bool found[2] = {true, true};
    double t0 = mnemo__now();
    mnemo__redis_get(r, keys, 1, 2, outs, tokens, found);
    CHECK(!found[0] && !found[1] && mnemo__now() - t0 < 0.5);
    mnemo__redis_put(r, k, 1, v, 3);
    mnemo_redis_stats st;
    mnemo__redis_stats(r, &st);
    CHECK(st.enabled && !st.up && st.errors_connect >= 1 && st.skipped == 2 && st.misses == 2 &&
          st.dropped == 1 && st.hits == 0);
    mnemo__redis_close(r);
    mnemo__redis_stats(NULL, &st);
    CHECK(!st.enabled);
    CHECK(mnemo__redis_open(&(mnemo_redis_options){.url = "redis://h:0"}, &r, &err) ==
          MNEMO_EINVAL);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_embed_service TINY_MODEL_DIR\n");
        return 2;
    }
    tiny_model = argv[1];
    mnemo__log_set_level(MNEMO_LOG_WARN);
    RUN(test_cache_lru_bytes);
    RUN(test_cache_ttl_and_keys);
    RUN(test_cache_file);
    RUN(test_cache_snapshot_pins);
    RUN(test_redis_url);
    RUN(test_redis_value_format);
    RUN(test_redis_fail_open);
    RUN(test_batcher_dedup);
    RUN(test_batcher_deadline_and_full_queue);
    RUN(test_batcher_cancel);
    RUN(test_batcher_fairness_and_budget);
    RUN(test_service_tiny);
    return test_finish();
}
