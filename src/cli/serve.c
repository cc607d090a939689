/*
 * serve.c — `mnemo serve`: checks the settings, prints them, starts the HTTP
 * server (which answers 503 until the model is ready), loads and warms the
 * model, serves until SIGTERM or SIGINT, then stops gracefully (no new
 * connections, requests in flight finished) and exits 0. The server itself
 * is src/server; the batching and cache are src/embed's service.
 */
#include "../server/server.h"
#include "cli.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Prints every setting of `serve` with its value (API keys and a store
 * URL's password masked). */
static void print_settings(const mnemo_settings *s) {
    size_t n;
    const mnemo_setting_info *t = mnemo__settings_table(&n);
    fprintf(stderr, "mnemo serve: settings:");
    for (size_t i = 0; i < n; i++) {
        if (!(t[i].commands & MNEMO_CMD_SERVE)) continue;
        const char *field = (const char *)s + t[i].offset;
        if (t[i].type == MNEMO_SETTING_STRING) {
            const char *v;
            memcpy(&v, field, sizeof v);
            /* a Redis URL may carry a password: shown without it; a store
             * URL's password is masked: USER:***@HOST */
            bool secret = !strcmp(t[i].flag, "api-key") ||
                          (!strcmp(t[i].flag, "cache-redis") && v && strchr(v, '@'));
            const char *at = v && !strcmp(t[i].flag, "store") ? strchr(v, '@') : NULL;
            const char *colon = at ? strchr(v, ':') : NULL;
            if (colon && colon[1] == '/') colon = memchr(colon + 3, ':', (size_t)(at - colon - 3));
            if (at && colon && colon < at)
                fprintf(stderr, " %s=%.*s:***%s", t[i].flag, (int)(colon - v), v, at);
            else
                fprintf(stderr, " %s=%s", t[i].flag, !v ? "(none)" : secret ? "(set)" : v);
        } else if (t[i].type == MNEMO_SETTING_INT) {
            long v;
            memcpy(&v, field, sizeof v);
            fprintf(stderr, " %s=%ld", t[i].flag, v);
        } else {
            int v;
            memcpy(&v, field, sizeof v);
            fprintf(stderr, " %s=%s", t[i].flag, v ? "true" : "false");
        }
    }
    fputc('\n', stderr);
}

/* The model's name as clients see it: the folder's (or file's) base name. */
static void model_name(const char *path, char *buf, size_t cap) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    size_t start = n;
    while (start > 0 && path[start - 1] != '/') start--;
    size_t len = n - start;
    if (len > 5 && !strncmp(path + start + len - 5, ".gguf", 5)) len -= 5;
    snprintf(buf, cap, "%.*s", (int)len, path + start);
}

static int check(const mnemo_settings *s) {
    struct {
        const char *flag;
        long v, lo, hi;
    } r[] = {
        {"port", s->port, 0, 65535},
        {"max-batch-tokens", s->max_batch_tokens, 1, 1 << 20},
        {"batch-window-ms", s->batch_window_ms, 0, 10000},
        {"max-queue-tokens", s->max_queue_tokens, 0, 1L << 30},
        {"timeout", s->timeout, 1, 86400},
        {"cache-mb", s->cache_mb, 0, 1 << 20},
        {"cache-ttl", s->cache_ttl, 0, 1L << 30},
        {"max-inputs", s->max_inputs, 1, 1 << 20},
        {"max-input-chars", s->max_input_chars, 1, 1 << 24},
        {"max-body-kb", s->max_body_kb, 1, 1 << 22},
        {"max-connections", s->max_connections, 1, 100000},
        {"max-connections-per-ip", s->max_connections_per_ip, 0, 100000},
        {"connection-timeout", s->connection_timeout, 1, 86400},
        {"rate-limit-rpm", s->rate_limit_rpm, 0, 1L << 30},
        {"rate-limit-tpm", s->rate_limit_tpm, 0, 1L << 40},
        {"threads", s->threads, 0, 4096},
        {"load-delay-ms", s->load_delay_ms, 0, 600000},
        {"cache-redis-timeout-ms", s->cache_redis_timeout_ms, 1, 60000},
        {"cache-file-mb", s->cache_file_mb, 1, 1 << 20},
        {"cache-file-interval", s->cache_file_interval, 1, 86400},
        {"warm-budget-ms", s->warm_budget_ms, 0, 3600000},
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        if (r[i].v < r[i].lo || r[i].v > r[i].hi) {
            mnemo__cli_error("serve", "--%s %ld is out of range %ld..%ld", r[i].flag, r[i].v,
                             r[i].lo, r[i].hi);
            return 2;
        }
    if (s->cache_redis) { /* a URL that cannot work is a startup error, not a silent miss */
        mnemo_redis_url u;
        mnemo_error err;
        if (mnemo__redis_url_parse(s->cache_redis, &u, &err)) {
            mnemo__cli_error("serve", "%s", err.message);
            return 2;
        }
        mnemo__redis_url_free(&u);
    }
    return 0;
}

/* --warm FILE: the texts embedded before the server says it is ready, so
 * the first requests for them are cache hits. */
#define WARM_BATCH 16
typedef struct warm_batch {
    mnemo_service_input in[WARM_BATCH];
    char *texts[WARM_BATCH];
    char *prompt; /* NULL: none, as a request without one */
    size_t n;
} warm_batch;

typedef struct warm_counts {
    size_t texts, hits, computed, skipped;
    bool out_of_time;
} warm_counts;

static int warm_run(mnemo_service *svc, const mnemo_service_input *in, size_t n, const char *prompt,
                    double deadline, float *vecs, size_t *tokens, warm_counts *wc) {
    mnemo_service_request q = {.inputs = in, .n = n, .prompt_name = prompt, .deadline = deadline};
    mnemo_service_result r = {.vectors = vecs, .n_tokens = tokens};
    mnemo_error err;
    int rc = mnemo__service_embed(svc, &q, &r, &err);
    if (!rc) {
        wc->hits += r.cache_hits;
        wc->computed += r.computed;
    }
    return rc;
}

/* Embeds a batch of one prompt; a batch refused for one bad input is done
 * one input at a time, skipping the bad ones. false once out of time. */
static bool warm_flush(mnemo_service *svc, warm_batch *b, double deadline, float *vecs,
                       size_t *tokens, warm_counts *wc) {
    bool go_on = true;
    if (b->n && mnemo__now() < deadline) {
        int rc = warm_run(svc, b->in, b->n, b->prompt, deadline, vecs, tokens, wc);
        if (rc == MNEMO_ETIMEDOUT) {
            go_on = false;
        } else if (rc) {
            for (size_t i = 0; i < b->n && go_on; i++) {
                rc = warm_run(svc, &b->in[i], 1, b->prompt, deadline, vecs, tokens, wc);
                if (rc == MNEMO_ETIMEDOUT)
                    go_on = false;
                else if (rc)
                    wc->skipped++;
            }
        }
    } else if (b->n) {
        go_on = false;
    }
    for (size_t i = 0; i < b->n; i++) free(b->texts[i]);
    free(b->prompt);
    b->prompt = NULL;
    b->n = 0;
    return go_on;
}

static void warm_texts(mnemo_service *svc, const char *path, double deadline) {
    double t0 = mnemo__now();
    FILE *fp = fopen(path, "r");
    if (!fp) {
        mnemo__log(MNEMO_LOG_WARN, "warm.unreadable", "path=%s error=\"%s\"", path,
                   strerror(errno));
        return;
    }
    size_t width = mnemo_model_dim(mnemo__service_model(svc));
    float *vecs = mnemo__malloc_array(WARM_BATCH, width * sizeof(float));
    size_t tokens[WARM_BATCH];
    warm_batch b = {.n = 0};
    warm_counts wc = {0};
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t len;
    bool go_on = vecs != NULL;
    while (go_on && (len = getline(&line, &cap, fp)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (len == 0) continue;
        char *text = NULL, *prompt = NULL;
        if (line[0] == '{') { /* {"text": ..., "prompt_name": ...} */
            json_error_t je;
            json_t *o = json_loadb(line, (size_t)len, 0, &je);
            json_t *t = json_object_get(o, "text"), *p = json_object_get(o, "prompt_name");
            if (json_is_string(t) && (!p || json_is_null(p) || json_is_string(p))) {
                text = strndup(json_string_value(t), json_string_length(t));
                if (json_is_string(p)) prompt = strdup(json_string_value(p));
            } else {
                mnemo__log(MNEMO_LOG_WARN, "warm.bad_line",
                           "path=%s line=%zu reason=\"not a JSON "
                           "object with a string text (and prompt_name)\"",
                           path, lineno);
                wc.skipped++;
            }
            json_decref(o);
            if (!text) continue;
        } else {
            text = strndup(line, (size_t)len);
        }
        if (!text) {
            free(prompt);
            break;
        }
        wc.texts++;
        bool same = (!prompt && !b.prompt) || (prompt && b.prompt && !strcmp(prompt, b.prompt));
        if (b.n == WARM_BATCH || (b.n && !same))
            go_on = warm_flush(svc, &b, deadline, vecs, tokens, &wc);
        if (b.n == 0) {
            free(b.prompt);
            b.prompt = prompt;
            prompt = NULL;
        }
        free(prompt);
        b.texts[b.n] = text;
        b.in[b.n] = (mnemo_service_input){.text = text, .len = strlen(text)};
        b.n++;
    }
    if (go_on)
        go_on = warm_flush(svc, &b, deadline, vecs, tokens, &wc);
    else
        warm_flush(svc, &b, 0, vecs, tokens, &wc); /* frees what is left */
    free(line);
    fclose(fp);
    mnemo__free(vecs);
    mnemo__log(go_on ? MNEMO_LOG_INFO : MNEMO_LOG_WARN, "warm.done",
               "path=%s texts=%zu cached_already=%zu embedded=%zu skipped=%zu ms=%.1f%s", path,
               wc.texts, wc.hits, wc.computed, wc.skipped, (mnemo__now() - t0) * 1e3,
               go_on ? "" : " stopped=\"--warm-budget-ms reached (the rest is not warmed)\"");
}

/* The server whose API keys SIGHUP reads again (once it is listening). */
static mnemo_server *hup_server;

/* Waits up to `seconds` for SIGTERM/SIGINT (blocked, so taken here only),
 * and returns it; 0 when the time passed or SIGHUP came (which reads the
 * --api-key-file again: new and revoked keys count from the next request,
 * connections stay open). */
static int wait_signal(const sigset_t *set, double seconds) {
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    int sig = sigtimedwait(set, NULL, &ts);
    if (sig == SIGHUP) {
        mnemo_error err;
        mnemo_auth *auth = hup_server ? mnemo__server_auth(hup_server) : NULL;
        if (auth && mnemo__auth_reload(auth, &err))
            mnemo__log(MNEMO_LOG_ERROR, "auth.reload_failed",
                       "reason=\"%s\" action=\"the keys in force stay\"", err.message);
        else if (auth)
            mnemo__log(MNEMO_LOG_INFO, "auth.reloaded", "keys=%zu", mnemo__auth_key_count(auth));
        return 0;
    }
    return sig > 0 ? sig : 0;
}

int mnemo__cmd_serve(const mnemo_settings *s, int argc, char **argv) {
    if (argc > 0) {
        mnemo__cli_error("serve",
                         "unexpected argument '%s' (options are spelled --name VALUE; see "
                         "mnemo help serve)",
                         argv[0]);
        return 2;
    }
    if (!s->model) {
        mnemo__cli_error("serve", "no model: pass --model DIR (a sentence-transformers folder such "
                                  "as google/embeddinggemma-300m) or set MNEMO_MODEL");
        return 2;
    }
    if (check(s)) return 2;
    char name[256];
    model_name(s->model, name, sizeof name);
    mnemo_server_config cfg = {.host = s->host,
                               .port = (int)s->port,
                               .model_name = s->served_model_name ? s->served_model_name : name,
                               .max_inputs = (size_t)s->max_inputs,
                               .max_input_chars = (size_t)s->max_input_chars,
                               .max_body = (size_t)s->max_body_kb * 1024,
                               .timeout = (double)s->timeout,
                               .max_connections = (unsigned)s->max_connections,
                               .max_connections_per_ip = (unsigned)s->max_connections_per_ip,
                               .connection_timeout = (unsigned)s->connection_timeout,
                               .api_key = s->api_key,
                               .api_key_file = s->api_key_file,
                               .rate_rpm = s->rate_limit_rpm,
                               .rate_tpm = s->rate_limit_tpm,
                               .max_batch_tokens = (size_t)s->max_batch_tokens,
                               .started = (double)time(NULL),
                               .model_path = s->model,
                               .backup_dir = s->backup_dir};
    print_settings(s);

    /* SIGTERM/SIGINT/SIGHUP are taken by wait_signal only: blocked before any
     * thread starts, so every thread inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    mnemo_error err;
    mnemo_server *srv;
    if (mnemo__server_start(&cfg, &srv, &err)) {
        mnemo__cli_error("serve", "%s", err.message);
        return err.code == MNEMO_EINVAL ? 2 : 1;
    }
    hup_server = srv;
    bool v6 = strchr(s->host, ':') != NULL;
    fprintf(stderr, "mnemo serve: listening on http://%s%s%s:%d (model '%s' loading)\n",
            v6 ? "[" : "", s->host, v6 ? "]" : "", mnemo__server_port(srv), cfg.model_name);
    int sig = s->load_delay_ms ? wait_signal(&set, (double)s->load_delay_ms / 1e3) : 0;
    mnemo_model *model = NULL;
    mnemo_service *svc = NULL;
    mnemo_store *store = NULL;
    int rc = 0;
    double t0 = mnemo__now();
    if (!sig) {
        mnemo_model_options mo = {.cache_dir = s->cache_dir,
                                  .no_cache = s->no_cache,
                                  .precision = s->precision,
                                  .tokenizer = s->tokenizer};
        mnemo_service_options so = {.model_id = s->model,
                                    .n_threads = (int)s->threads,
                                    .max_batch_tokens = (size_t)s->max_batch_tokens,
                                    .batch_window = (double)s->batch_window_ms / 1e3,
                                    .max_queue_tokens = (size_t)s->max_queue_tokens,
                                    .cache_bytes = (size_t)s->cache_mb << 20,
                                    .cache_ttl = (double)s->cache_ttl,
                                    .redis_url = s->cache_redis,
                                    .redis_timeout = (double)s->cache_redis_timeout_ms / 1e3,
                                    .redis_model = cfg.model_name,
                                    .cache_file = s->cache_file,
                                    .cache_file_bytes = (size_t)s->cache_file_mb << 20,
                                    .cache_file_interval = (double)s->cache_file_interval,
                                    .warm_budget = (double)s->warm_budget_ms / 1e3,
                                    .observe = mnemo__server_observe_batch,
                                    .observe_arg = srv};
        if (mnemo_model_open(s->model, &mo, &model, &err) ||
            mnemo__service_open(model, &so, &svc, &err)) {
            mnemo__cli_error("serve", "%s", err.message);
            rc = err.code == MNEMO_EINVAL ? 2 : 1;
        }
        /* the memory routes, when there is a data folder or a store URL (the
         * store records the model by the folder's name, as mnemo memory does);
         * the vectors it computes fill the embedding cache */
        if (!rc && (s->data_dir || s->store))
            rc = mnemo__cli_store_with(s, "serve", model, name, svc, &store);
        /* the cache file was loaded by the service (first: the texts served
         * most); --warm's texts fill the rest of the same budget */
        if (!rc && s->warm && !s->cache_mb)
            mnemo__log(MNEMO_LOG_WARN, "warm.skipped", "reason=\"--cache-mb 0: no cache to warm\"");
        else if (!rc && s->warm)
            warm_texts(svc, s->warm, mnemo__service_warm_deadline(svc));
    }
    if (!sig && !rc) {
        double load = mnemo__now() - t0;
        mnemo__server_set_store(srv, store);
        mnemo__server_set_service(srv, svc, load);
        fprintf(stderr, "mnemo serve: ready: model loaded and warmed in %.2f s (%s, %s kernels)\n",
                load, mnemo_model_precision(model), mnemo_model_kernels(model));
        while (!(sig = wait_signal(&set, 1.0))) {}
    }
    if (sig)
        fprintf(stderr, "mnemo serve: %s: finishing requests in flight, then exiting\n",
                sig == SIGTERM ? "SIGTERM" : "SIGINT");
    mnemo__server_stop(srv, cfg.timeout + 5);
    mnemo_store_close(store);  /* it fills the service's cache: before it */
    mnemo__service_close(svc); /* its worker reports to the server's metrics: before them */
    mnemo__server_free(srv);
    mnemo_model_close(model);
    if (sig) fprintf(stderr, "mnemo serve: stopped\n");
    return rc;
}
