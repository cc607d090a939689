/*
 * metrics.c — the Prometheus metrics of server.h: counters and fixed-bucket
 * histograms updated by the HTTP threads and the batcher's worker under one
 * mutex, and their text exposition (format 0.0.4) for GET /metrics. Label
 * values are the server's own fixed strings (routes, reasons), never
 * request data.
 */
#include "../kernels/kernels.h"
#include "server.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define MAX_SERIES 128
#define MAX_BUCKETS 16

typedef struct histogram {
    const char *name, *help;
    size_t n_bounds;
    double bounds[MAX_BUCKETS];
    uint64_t counts[MAX_BUCKETS + 1]; /* the last: +Inf */
    double sum;
    uint64_t count;
} histogram;

typedef struct labelled {
    const char *a; /* route or reason */
    int status;
    uint64_t value;
} labelled;

enum {
    H_TOTAL,
    H_QUEUE,
    H_TOKENIZE,
    H_INFERENCE,
    H_BATCH_REQUESTS,
    H_BATCH_SEQS,
    H_BATCH_TOKENS,
    H_BATCH_SECONDS,
    N_HIST
};

struct mnemo_metrics {
    pthread_mutex_t mu;
    histogram h[N_HIST];
    labelled requests[MAX_SERIES], rejected[MAX_SERIES];
    size_t n_requests, n_rejected;
    uint64_t tokens_computed, tokens_requested, batches, embeddings;
};

#define SECONDS_BOUNDS \
    { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60 }
#define COUNT_BOUNDS \
    { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024 }
#define TOKEN_BOUNDS \
    { 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384 }

int mnemo__metrics_create(mnemo_metrics **out, mnemo_error *err) {
    mnemo_metrics *m = mnemo__calloc(1, sizeof *m);
    if (!m) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    pthread_mutex_init(&m->mu, NULL);
    static const struct {
        const char *name, *help;
        int kind;
    } defs[N_HIST] = {
        {"mnemo_request_duration_seconds", "Time from request start to response, every route.", 0},
        {"mnemo_request_queue_seconds", "Time an embedding request waited for the model.", 0},
        {"mnemo_request_tokenize_seconds",
         "Time an embedding request spent in cache lookup and tokenizing.", 0},
        {"mnemo_request_inference_seconds",
         "Time from a request's first sequence starting to its last done.", 0},
        {"mnemo_batch_requests", "Requests sharing one forward pass.", 1},
        {"mnemo_batch_sequences", "Sequences in one forward pass.", 1},
        {"mnemo_batch_tokens", "Tokens in one forward pass.", 2},
        {"mnemo_batch_seconds", "Duration of one forward pass.", 0},
    };
    static const double sec[] = SECONDS_BOUNDS, cnt[] = COUNT_BOUNDS, tok[] = TOKEN_BOUNDS;
    for (int i = 0; i < N_HIST; i++) {
        histogram *h = &m->h[i];
        h->name = defs[i].name;
        h->help = defs[i].help;
        const double *b = defs[i].kind == 0 ? sec : defs[i].kind == 1 ? cnt : tok;
        h->n_bounds = defs[i].kind == 0   ? sizeof sec / sizeof *sec
                      : defs[i].kind == 1 ? sizeof cnt / sizeof *cnt
                                          : sizeof tok / sizeof *tok;
        memcpy(h->bounds, b, h->n_bounds * sizeof *b);
    }
    *out = m;
    return MNEMO_OK;
}

void mnemo__metrics_free(mnemo_metrics *m) {
    if (!m) return;
    pthread_mutex_destroy(&m->mu);
    mnemo__free(m);
}

static void observe(histogram *h, double v) {
    size_t i = 0;
    while (i < h->n_bounds && v > h->bounds[i]) i++;
    h->counts[i]++;
    h->sum += v;
    h->count++;
}

static void count(labelled *set, size_t *n, const char *a, int status) {
    for (size_t i = 0; i < *n; i++)
        if (set[i].status == status && !strcmp(set[i].a, a)) {
            set[i].value++;
            return;
        }
    if (*n < MAX_SERIES) set[(*n)++] = (labelled){a, status, 1};
}

void mnemo__metrics_request(mnemo_metrics *m, const char *route, int status, double total,
                            const mnemo_request *r) {
    pthread_mutex_lock(&m->mu);
    count(m->requests, &m->n_requests, route, status);
    observe(&m->h[H_TOTAL], total);
    if (r->embedded) {
        observe(&m->h[H_QUEUE], r->t_queue);
        observe(&m->h[H_TOKENIZE], r->t_tokenize);
        observe(&m->h[H_INFERENCE], r->t_inference);
        if (status == 200) {
            m->tokens_requested += r->tokens;
            m->embeddings += r->inputs;
        }
    }
    pthread_mutex_unlock(&m->mu);
}

void mnemo__metrics_reject(mnemo_metrics *m, const char *reason) {
    pthread_mutex_lock(&m->mu);
    count(m->rejected, &m->n_rejected, reason, 0);
    pthread_mutex_unlock(&m->mu);
}

void mnemo__metrics_batch(mnemo_metrics *m, size_t n_seqs, size_t n_tokens, size_t n_jobs,
                          double seconds) {
    pthread_mutex_lock(&m->mu);
    observe(&m->h[H_BATCH_REQUESTS], (double)n_jobs);
    observe(&m->h[H_BATCH_SEQS], (double)n_seqs);
    observe(&m->h[H_BATCH_TOKENS], (double)n_tokens);
    observe(&m->h[H_BATCH_SECONDS], seconds);
    m->tokens_computed += n_tokens;
    m->batches++;
    pthread_mutex_unlock(&m->mu);
}

static void printf_w(mnemo_jsonw *w, const char *fmt, ...) MNEMO_PRINTF(2, 3);
static void printf_w(mnemo_jsonw *w, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0) mnemo__jsonw_raw(w, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static void scalar(mnemo_jsonw *w, const char *name, const char *type, const char *help, double v) {
    printf_w(w, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
}

static void write_histogram(mnemo_jsonw *w, const histogram *h) {
    printf_w(w, "# HELP %s %s\n# TYPE %s histogram\n", h->name, h->help, h->name);
    uint64_t cum = 0;
    for (size_t i = 0; i < h->n_bounds; i++) {
        cum += h->counts[i];
        printf_w(w, "%s_bucket{le=\"%g\"} %llu\n", h->name, h->bounds[i], (unsigned long long)cum);
    }
    cum += h->counts[h->n_bounds];
    printf_w(w, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.17g\n%s_count %llu\n", h->name,
             (unsigned long long)cum, h->name, h->sum, h->name, (unsigned long long)h->count);
}

/* The Redis tier's series (--cache-redis), from its own counters. */
static void write_redis(mnemo_jsonw *w, const mnemo_redis_stats *r) {
    scalar(w, "mnemo_cache_redis_up", "gauge",
           "1 while Redis answers (0: down, reconnecting in the background).", r->up ? 1 : 0);
    scalar(w, "mnemo_cache_redis_hits_total", "counter", "Local cache misses answered by Redis.",
           (double)r->hits);
    scalar(w, "mnemo_cache_redis_misses_total", "counter",
           "Redis lookups without a usable value (absent, invalid, skipped or failed).",
           (double)r->misses);
    scalar(w, "mnemo_cache_redis_invalid_total", "counter",
           "Redis values refused by their header or checksum (treated as misses).",
           (double)r->invalid);
    scalar(w, "mnemo_cache_redis_skipped_total", "counter",
           "Redis lookups not sent: Redis down (backing off) or no free connection in time.",
           (double)r->skipped);
    printf_w(w,
             "# HELP mnemo_cache_redis_errors_total Redis errors, by operation (each one a miss or "
             "a dropped write).\n"
             "# TYPE mnemo_cache_redis_errors_total counter\n"
             "mnemo_cache_redis_errors_total{op=\"connect\"} %llu\n"
             "mnemo_cache_redis_errors_total{op=\"get\"} %llu\n"
             "mnemo_cache_redis_errors_total{op=\"set\"} %llu\n",
             (unsigned long long)r->errors_connect, (unsigned long long)r->errors_get,
             (unsigned long long)r->errors_set);
    scalar(w, "mnemo_cache_redis_writes_total", "counter", "Vectors written to Redis.",
           (double)r->writes);
    scalar(w, "mnemo_cache_redis_writes_dropped_total", "counter",
           "Vectors not written to Redis: queue full or Redis down.", (double)r->dropped);
    scalar(w, "mnemo_cache_redis_reconnects_total", "counter",
           "Reconnections after Redis was down.", (double)r->reconnects);
    scalar(w, "mnemo_cache_redis_queue", "gauge", "Writes waiting for the Redis writer.",
           (double)r->queued);
    histogram h = {.name = "mnemo_cache_redis_seconds",
                   .help = "One Redis lookup round trip (MGET).",
                   .n_bounds = MNEMO_REDIS_N_BOUNDS,
                   .bounds = MNEMO_REDIS_SECONDS_BOUNDS,
                   .sum = r->seconds_sum};
    for (size_t i = 0; i <= MNEMO_REDIS_N_BOUNDS; i++) {
        h.counts[i] = r->seconds_counts[i];
        h.count += r->seconds_counts[i];
    }
    write_histogram(w, &h);
}

/* The cache file's series (--cache-file): what the start loaded and what
 * those entries answered since, and the file's last size. */
static void write_cache_file(mnemo_jsonw *w, const mnemo_metrics_gauges *g) {
    const mnemo_cache_file_stats *f = &g->file;
    scalar(w, "mnemo_cache_warm_loaded", "gauge",
           "Cache entries loaded from --cache-file at start.", (double)g->cache.warm_loaded);
    scalar(w, "mnemo_cache_warm_hits_total", "counter",
           "Cache hits answered by entries loaded from --cache-file.", (double)g->cache.warm_hits);
    scalar(w, "mnemo_cache_file_bytes", "gauge", "Size of the cache file last read or written.",
           (double)f->file_bytes);
    scalar(w, "mnemo_cache_file_entries", "gauge",
           "Entries in the cache file last read or written.", (double)f->file_entries);
    scalar(w, "mnemo_cache_file_writes_total", "counter",
           "Cache file writes (temporary file, fsync, rename).", (double)f->writes);
    scalar(w, "mnemo_cache_file_write_errors_total", "counter", "Cache file writes that failed.",
           (double)f->write_errors);
    scalar(w, "mnemo_cache_file_rejected_total", "counter",
           "Cache files (or records) ignored: another model or precision, truncated or corrupt.",
           (double)f->rejected);
    scalar(w, "mnemo_cache_file_load_seconds", "gauge",
           "Time the start spent reading the cache file.", f->load_seconds);
}

void mnemo__metrics_render(mnemo_metrics *m, const mnemo_metrics_gauges *g, mnemo_jsonw *w) {
    pthread_mutex_lock(&m->mu);
    printf_w(w, "# HELP mnemo_requests_total HTTP requests answered, by route and status.\n"
                "# TYPE mnemo_requests_total counter\n");
    for (size_t i = 0; i < m->n_requests; i++)
        printf_w(w, "mnemo_requests_total{route=\"%s\",status=\"%d\"} %llu\n", m->requests[i].a,
                 m->requests[i].status, (unsigned long long)m->requests[i].value);
    printf_w(w, "# HELP mnemo_requests_rejected_total Requests refused, by reason.\n"
                "# TYPE mnemo_requests_rejected_total counter\n");
    for (size_t i = 0; i < m->n_rejected; i++)
        printf_w(w, "mnemo_requests_rejected_total{reason=\"%s\"} %llu\n", m->rejected[i].a,
                 (unsigned long long)m->rejected[i].value);
    for (int i = 0; i < N_HIST; i++) write_histogram(w, &m->h[i]);
    scalar(w, "mnemo_tokens_computed_total", "counter", "Tokens run through the model.",
           (double)m->tokens_computed);
    scalar(w, "mnemo_tokens_requested_total", "counter",
           "Tokens of answered embedding inputs, cache hits included.",
           (double)m->tokens_requested);
    scalar(w, "mnemo_embeddings_total", "counter", "Embeddings returned.", (double)m->embeddings);
    scalar(w, "mnemo_batches_total", "counter", "Forward passes run.", (double)m->batches);
    pthread_mutex_unlock(&m->mu);
    scalar(w, "mnemo_cache_hits_total", "counter", "Embedding cache hits.", (double)g->cache.hits);
    scalar(w, "mnemo_cache_misses_total", "counter", "Embedding cache misses.",
           (double)g->cache.misses);
    scalar(w, "mnemo_cache_evictions_total", "counter",
           "Cache entries evicted to stay in --cache-mb.", (double)g->cache.evictions);
    scalar(w, "mnemo_cache_expirations_total", "counter",
           "Cache entries dropped after --cache-ttl.", (double)g->cache.expirations);
    scalar(w, "mnemo_cache_bytes", "gauge", "Bytes held by the embedding cache.",
           (double)g->cache.bytes);
    scalar(w, "mnemo_cache_entries", "gauge", "Entries in the embedding cache.",
           (double)g->cache.entries);
    scalar(w, "mnemo_cache_store_fills_total", "counter",
           "Vectors the memory store computed (memories added or updated, text searches), put "
           "in the embedding cache.",
           (double)g->store_fills);
    if (g->file.enabled) write_cache_file(w, g);
    if (g->redis.enabled) write_redis(w, &g->redis);
    scalar(w, "mnemo_queue_sequences", "gauge", "Sequences waiting for the model.",
           (double)g->queue.queued_seqs);
    scalar(w, "mnemo_queue_tokens", "gauge", "Tokens waiting for the model.",
           (double)g->queue.queued_tokens);
    scalar(w, "mnemo_queue_requests", "gauge", "Requests waiting for the model.",
           (double)g->queue.waiting_jobs);
    scalar(w, "mnemo_requests_in_flight", "gauge", "HTTP requests being handled.",
           (double)g->in_flight);
    scalar(w, "mnemo_connections_open", "gauge",
           "Client connections admitted by --max-connections and --max-connections-per-ip.",
           (double)g->connections);
    scalar(w, "mnemo_model_load_seconds", "gauge", "Time to load and warm the model.",
           g->model_load_seconds);
    scalar(w, "mnemo_ready", "gauge", "1 once the model is loaded and warmed.", g->ready ? 1 : 0);
}

/* ------------------------------------------------ GET /v1/status (JSON) */

/* The q-quantile of a histogram, interpolated linearly inside its bucket (as
 * Prometheus' histogram_quantile does); the last finite bound when it falls
 * in +Inf; 0 when empty. */
static double quantile(const histogram *h, double q) {
    if (!h->count) return 0;
    double rank = q * (double)h->count, below = 0;
    for (size_t i = 0; i <= h->n_bounds; i++) {
        double c = (double)h->counts[i];
        if (below + c >= rank && c > 0) {
            if (i == h->n_bounds) return h->bounds[h->n_bounds - 1];
            double lo = i ? h->bounds[i - 1] : 0, hi = h->bounds[i];
            return lo + (hi - lo) * (rank - below) / c;
        }
        below += c;
    }
    return h->bounds[h->n_bounds - 1];
}

static void json_str_or_null(mnemo_jsonw *w, const char *s) {
    if (s)
        mnemo__jsonw_string(w, s, strlen(s));
    else
        MNEMO_JSONW_LIT(w, "null");
}

void mnemo__metrics_status(mnemo_metrics *m, const mnemo_metrics_gauges *g,
                           const mnemo_status_info *info, mnemo_jsonw *w) {
    printf_w(w, "{\"object\":\"status\",\"ready\":%s", g->ready ? "true" : "false");
    MNEMO_JSONW_LIT(w, ",\"version\":\"" MNEMO_VERSION_STRING "\",\"model\":");
    json_str_or_null(w, info->model_name);
    MNEMO_JSONW_LIT(w, ",\"precision\":");
    json_str_or_null(w, info->precision);
    MNEMO_JSONW_LIT(w, ",\"dimensions\":");
    mnemo__jsonw_int(w, (long long)info->dimensions);
    MNEMO_JSONW_LIT(w, ",\"max_input_tokens\":");
    mnemo__jsonw_int(w, (long long)info->max_tokens);
    MNEMO_JSONW_LIT(w, ",\"kernels\":{\"active\":");
    json_str_or_null(w, info->kernels);
    MNEMO_JSONW_LIT(w, ",\"available\":[");
    size_t n_var;
    const mnemo_kernels *const *var = mnemo__kernels_variants(&n_var);
    for (size_t i = 0; i < n_var; i++) {
        if (i) mnemo__jsonw_char(w, ',');
        mnemo__jsonw_string(w, var[i]->name, strlen(var[i]->name));
    }
    MNEMO_JSONW_LIT(w, "],\"cpu\":");
    json_str_or_null(w, mnemo__cpu_description());
    printf_w(w,
             "},\"store\":%s,\"api_keys\":%s,\"uptime_seconds\":%.3f,\"model_load_seconds\":%.3f",
             info->store ? "true" : "false", info->keys ? "true" : "false", info->uptime,
             g->model_load_seconds);
    pthread_mutex_lock(&m->mu);
    uint64_t total = 0, by_class[6] = {0};
    for (size_t i = 0; i < m->n_requests; i++) {
        total += m->requests[i].value;
        int c = m->requests[i].status / 100;
        by_class[c >= 1 && c <= 5 ? c : 0] += m->requests[i].value;
    }
    printf_w(w,
             ",\"requests\":{\"total\":%llu,\"2xx\":%llu,\"3xx\":%llu,\"4xx\":%llu,\"5xx\":%llu,"
             "\"by_route\":[",
             (unsigned long long)total, (unsigned long long)by_class[2],
             (unsigned long long)by_class[3], (unsigned long long)by_class[4],
             (unsigned long long)by_class[5]);
    for (size_t i = 0; i < m->n_requests; i++) {
        if (i) mnemo__jsonw_char(w, ',');
        MNEMO_JSONW_LIT(w, "{\"route\":");
        mnemo__jsonw_string(w, m->requests[i].a, strlen(m->requests[i].a));
        printf_w(w, ",\"status\":%d,\"count\":%llu}", m->requests[i].status,
                 (unsigned long long)m->requests[i].value);
    }
    const histogram *h = &m->h[H_TOTAL];
    printf_w(w,
             "]},\"latency_seconds\":{\"count\":%llu,\"mean\":%.6f,\"p50\":%.6f,\"p90\":%.6f,"
             "\"p99\":%.6f}",
             (unsigned long long)h->count, h->count ? h->sum / (double)h->count : 0.0,
             quantile(h, 0.5), quantile(h, 0.9), quantile(h, 0.99));
    printf_w(w, ",\"embeddings_total\":%llu,\"tokens_computed_total\":%llu,\"batches_total\":%llu",
             (unsigned long long)m->embeddings, (unsigned long long)m->tokens_computed,
             (unsigned long long)m->batches);
    pthread_mutex_unlock(&m->mu);
    uint64_t lookups = g->cache.hits + g->cache.misses;
    printf_w(w,
             ",\"cache\":{\"hits\":%llu,\"misses\":%llu,\"hit_rate\":%.6f,\"entries\":%llu,"
             "\"bytes\":%llu}",
             (unsigned long long)g->cache.hits, (unsigned long long)g->cache.misses,
             lookups ? (double)g->cache.hits / (double)lookups : 0.0,
             (unsigned long long)g->cache.entries, (unsigned long long)g->cache.bytes);
    printf_w(w,
             ",\"queue\":{\"requests\":%llu,\"sequences\":%llu,\"tokens\":%llu},\"in_flight\":%ld}",
             (unsigned long long)g->queue.waiting_jobs, (unsigned long long)g->queue.queued_seqs,
             (unsigned long long)g->queue.queued_tokens, g->in_flight);
}
