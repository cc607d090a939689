/*
 * cache_redis.c — the Redis tier of the embedding cache (service.h, hiredis):
 * the value format and its checks, a small pool of reader
 * connections, and one background thread that writes queued values
 * (pipelined) and reconnects with backoff while Redis is down. Fail-open by
 * design: nothing here fails a request; every error is a counted miss. Not
 * the local LRU (cache.c), which stays in front of this, nor the URL
 * (cache_redis_url.c).
 */
#include "service.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the Redis value format is written little-endian with memcpy: port pack/unpack first"
#endif

#define POOL_MAX 8        /* reader connections at most; more readers wait up to the timeout */
#define BACKOFF_FIRST 0.1 /* seconds before the first reconnect attempt */
#define BACKOFF_MAX 2.0   /* a Redis that stays down is probed this often */
#define WRITE_BATCH 64    /* SETs per pipelined round trip */
#define HEADER_BYTES 32
#define VALUE_MAGIC "MNEV"
#define VALUE_VERSION 1
#define DTYPE_F32 1

/* ------------------------------------------------------------ the state */

typedef struct conn {
    redisContext *c;
    unsigned generation; /* a connection from before the last outage is not reused */
} conn;

typedef struct write_item {
    size_t value_len;
    const unsigned char *value; /* points into data */
    char data[];                /* the key's name (KEY_NAME_LEN, NUL), the value, scratch */
} write_item;

struct mnemo_redis {
    mnemo_redis_url url;
    struct timeval tv, write_tv; /* write_tv: the writer's, longer (off the response path) */
    double timeout, ttl;
    size_t width, max_queue;
    char *fingerprint;
    uint64_t model_hash;
    pthread_mutex_t mu;
    pthread_cond_t wake;     /* the writer: work, stop or a reconnect due */
    pthread_cond_t returned; /* readers: a pooled connection came back */
    conn idle[POOL_MAX];
    size_t n_idle, n_open;
    unsigned generation;
    bool down, stop;
    double retry_at, backoff;
    write_item **queue; /* ring */
    size_t q_head, q_len;
    pthread_t writer;
    bool writer_started;
    mnemo_redis_stats st;
};

static double seconds_bounds[MNEMO_REDIS_N_BOUNDS] = MNEMO_REDIS_SECONDS_BOUNDS;

static void log_redis(mnemo_log_level level, const char *event, const char *what, const char *why) {
    char buf[256];
    mnemo__log(level, event, "what=%s error=%s", what,
               mnemo__log_quote(buf, sizeof buf, why ? why : "-"));
}

/* A connection, authenticated and on its database; NULL (and *why) if not. */
static redisContext *connect_redis(mnemo_redis *r, char *why, size_t cap) {
    redisContext *c = r->url.socket_path ? redisConnectUnixWithTimeout(r->url.socket_path, r->tv)
                                         : redisConnectWithTimeout(r->url.host, r->url.port, r->tv);
    if (!c || c->err) {
        snprintf(why, cap, "%s", c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, r->tv);
    for (int step = 0; step < 3; step++) {
        const char *argv[3];
        size_t lens[3];
        int argc = 0;
        char db[24];
        if (step == 0 && r->url.password) {
            argv[argc++] = "AUTH";
            if (r->url.user) argv[argc++] = r->url.user;
            argv[argc++] = r->url.password;
        } else if (step == 1 && r->url.db) {
            snprintf(db, sizeof db, "%ld", r->url.db);
            argv[argc++] = "SELECT";
            argv[argc++] = db;
        } else if (step == 2) {
            argv[argc++] = "PING";
        } else {
            continue;
        }
        for (int i = 0; i < argc; i++) lens[i] = strlen(argv[i]);
        redisReply *rep = redisCommandArgv(c, argc, argv, lens);
        bool bad = !rep || rep->type == REDIS_REPLY_ERROR;
        if (bad) snprintf(why, cap, "%s: %s", argv[0], rep ? rep->str : c->errstr);
        if (rep) freeReplyObject(rep);
        if (bad) {
            redisFree(c);
            return NULL;
        }
    }
    return c;
}

/* Under mu: an error was seen; stop using Redis until the writer reconnects. */
static void mark_down(mnemo_redis *r, const char *what, const char *why) {
    if (r->down) return;
    r->down = true;
    r->st.up = false;
    r->generation++;
    for (size_t i = 0; i < r->n_idle; i++) redisFree(r->idle[i].c);
    r->n_open -= r->n_idle;
    r->n_idle = 0;
    r->backoff = BACKOFF_FIRST;
    r->retry_at = mnemo__now() + r->backoff;
    log_redis(MNEMO_LOG_WARN, "redis.down", what, why);
    pthread_cond_broadcast(&r->wake);
    pthread_cond_broadcast(&r->returned);
}

/* -------------------------------------------------------- the value format */

static size_t key_bytes(const mnemo_redis *r, const mnemo_piece *key, size_t n) {
    size_t total = 8 + strlen(r->fingerprint);
    for (size_t i = 0; i < n; i++) total += 8 + key[i].size;
    return total;
}

/* The fingerprint and pieces as (u64 length, bytes)... */
static void key_write(const mnemo_redis *r, const mnemo_piece *key, size_t n, unsigned char *p) {
    uint64_t len = strlen(r->fingerprint);
    memcpy(p, &len, 8);
    memcpy(p + 8, r->fingerprint, len);
    p += 8 + len;
    for (size_t i = 0; i < n; i++) {
        len = key[i].size;
        memcpy(p, &len, 8);
        if (len) memcpy(p + 8, key[i].data, len);
        p += 8 + len;
    }
}

/* MNEMO_REDIS_PREFIX + 32 hex digits of two independently seeded hashes. */
#define KEY_NAME_LEN (sizeof MNEMO_REDIS_PREFIX - 1 + 32)
static void key_name(const unsigned char *kb, size_t n, char out[KEY_NAME_LEN + 1]) {
    uint64_t a = mnemo__hash64(kb, n, 0x6d6e656d6f726431ULL),
             b = mnemo__hash64(kb, n, 0x9e3779b97f4a7c15ULL);
    snprintf(out, KEY_NAME_LEN + 1, MNEMO_REDIS_PREFIX "%016llx%016llx", (unsigned long long)a,
             (unsigned long long)b);
}

/* Over the header's first 28 bytes (the token count included), the key and
 * the vector: a value changed anywhere does not check out. */
static uint32_t value_checksum(const unsigned char *header, const unsigned char *kb, size_t klen,
                               const float *vec, size_t width, uint64_t model_hash) {
    uint64_t h = mnemo__hash64(header, HEADER_BYTES - 4, model_hash);
    h = mnemo__hash64(kb, klen, h);
    return (uint32_t)mnemo__hash64(vec, width * sizeof(float), h);
}

/* header: magic[4] version:u16 dtype:u16 dim:u32 tokens:u32 model:u64 keylen:u32 checksum:u32 */
static void value_write(const mnemo_redis *r, const unsigned char *kb, size_t klen,
                        const float *vec, size_t n_tokens, unsigned char *out) {
    uint16_t version = VALUE_VERSION, dtype = DTYPE_F32;
    uint32_t dim = (uint32_t)r->width, tokens = (uint32_t)n_tokens, kl = (uint32_t)klen;
    memcpy(out, VALUE_MAGIC, 4);
    memcpy(out + 4, &version, 2);
    memcpy(out + 6, &dtype, 2);
    memcpy(out + 8, &dim, 4);
    memcpy(out + 12, &tokens, 4);
    memcpy(out + 16, &r->model_hash, 8);
    memcpy(out + 24, &kl, 4);
    uint32_t sum = value_checksum(out, kb, klen, vec, r->width, r->model_hash);
    memcpy(out + 28, &sum, 4);
    memcpy(out + HEADER_BYTES, kb, klen);
    memcpy(out + HEADER_BYTES + klen, vec, r->width * sizeof(float));
}

/* Checks a value read back against the key it was read under. */
static bool value_read(const mnemo_redis *r, const unsigned char *kb, size_t klen, const char *v,
                       size_t vlen, float *vec, size_t *n_tokens) {
    size_t want;
    if (!mnemo__add_size(HEADER_BYTES + klen, r->width * sizeof(float), &want) || vlen != want)
        return false;
    uint16_t version, dtype;
    uint32_t dim, tokens, kl, sum;
    uint64_t model;
    memcpy(&version, v + 4, 2);
    memcpy(&dtype, v + 6, 2);
    memcpy(&dim, v + 8, 4);
    memcpy(&tokens, v + 12, 4);
    memcpy(&model, v + 16, 8);
    memcpy(&kl, v + 24, 4);
    memcpy(&sum, v + 28, 4);
    if (memcmp(v, VALUE_MAGIC, 4) || version != VALUE_VERSION || dtype != DTYPE_F32 ||
        dim != r->width || model != r->model_hash || kl != klen || tokens == 0 ||
        memcmp(v + HEADER_BYTES, kb, klen))
        return false;
    memcpy(vec, v + HEADER_BYTES + klen, r->width * sizeof(float));
    if (value_checksum((const unsigned char *)v, kb, klen, vec, r->width, r->model_hash) != sum)
        return false;
    *n_tokens = tokens;
    return true;
}

/* -------------------------------------------------------------- writer */

static void timespec_at(double t_mono, struct timespec *ts) {
    /* condvars here use CLOCK_MONOTONIC, as mnemo__now() does */
    ts->tv_sec = (time_t)t_mono;
    ts->tv_nsec = (long)((t_mono - (double)ts->tv_sec) * 1e9);
    if (ts->tv_nsec >= 1000000000L) ts->tv_sec++, ts->tv_nsec -= 1000000000L;
    if (ts->tv_nsec < 0) ts->tv_nsec = 0;
}

static void drop_queue(mnemo_redis *r) {
    while (r->q_len) {
        mnemo__free(r->queue[r->q_head]);
        r->q_head = (r->q_head + 1) % r->max_queue;
        r->q_len--;
        r->st.dropped++;
    }
}

/* Sends items[0..n) pipelined; false on a connection error (why set). */
static bool send_writes(mnemo_redis *r, redisContext *c, write_item **items, size_t n, size_t *ok,
                        char *why, size_t cap) {
    char ttl[32];
    snprintf(ttl, sizeof ttl, "%lld", (long long)(r->ttl > 0 ? (r->ttl < 1 ? 1 : r->ttl) : 0));
    *ok = 0;
    for (size_t i = 0; i < n; i++) {
        const char *argv[5] = {"SET", items[i]->data, (const char *)items[i]->value, "EX", ttl};
        size_t lens[5] = {3, KEY_NAME_LEN, items[i]->value_len, 2, strlen(ttl)};
        if (redisAppendCommandArgv(c, r->ttl > 0 ? 5 : 3, argv, lens) != REDIS_OK) {
            snprintf(why, cap, "%s", c->errstr);
            return false;
        }
    }
    for (size_t i = 0; i < n; i++) {
        redisReply *rep = NULL;
        if (redisGetReply(c, (void **)&rep) != REDIS_OK || !rep) {
            snprintf(why, cap, "%s", c->errstr);
            return false;
        }
        if (rep->type == REDIS_REPLY_ERROR) {
            pthread_mutex_lock(&r->mu);
            r->st.errors_set++;
            pthread_mutex_unlock(&r->mu);
        } else {
            (*ok)++;
        }
        freeReplyObject(rep);
    }
    return true;
}

static void *writer_main(void *arg) {
    mnemo_redis *r = arg;
    redisContext *c = NULL;
    unsigned gen = 0;
    char why[256];
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        if (r->down) {
            if (c) {
                redisFree(c);
                c = NULL;
            }
            double now = mnemo__now();
            if (now < r->retry_at) {
                struct timespec ts;
                timespec_at(r->retry_at, &ts);
                pthread_cond_timedwait(&r->wake, &r->mu, &ts);
                continue;
            }
            pthread_mutex_unlock(&r->mu);
            redisContext *fresh = connect_redis(r, why, sizeof why);
            pthread_mutex_lock(&r->mu);
            if (!fresh) {
                r->st.errors_connect++;
                r->backoff = r->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : r->backoff * 2;
                r->retry_at = mnemo__now() + r->backoff;
                continue;
            }
            c = fresh;
            redisSetTimeout(c, r->write_tv);
            gen = r->generation;
            r->down = false;
            r->st.up = true;
            r->st.reconnects++;
            drop_queue(r); /* what was queued while down was counted as it came */
            log_redis(MNEMO_LOG_INFO, "redis.up", "reconnect", NULL);
            continue;
        }
        if (!r->q_len) {
            pthread_cond_wait(&r->wake, &r->mu);
            continue;
        }
        write_item *items[WRITE_BATCH];
        size_t n = 0;
        while (r->q_len && n < WRITE_BATCH) {
            items[n++] = r->queue[r->q_head];
            r->q_head = (r->q_head + 1) % r->max_queue;
            r->q_len--;
        }
        if (c && gen != r->generation) { /* a reader saw an outage since we connected */
            redisFree(c);
            c = NULL;
        }
        pthread_mutex_unlock(&r->mu);
        size_t ok = 0;
        bool sent = false, connected = true;
        if (!c && (c = connect_redis(r, why, sizeof why))) redisSetTimeout(c, r->write_tv);
        if (!c)
            connected = false;
        else
            sent = send_writes(r, c, items, n, &ok, why, sizeof why);
        for (size_t i = 0; i < n; i++) mnemo__free(items[i]);
        pthread_mutex_lock(&r->mu);
        r->st.writes += ok;
        if (!sent) {
            if (c) redisFree(c);
            c = NULL;
            if (connected)
                r->st.errors_set++;
            else
                r->st.errors_connect++;
            r->st.dropped += n - ok;
            mark_down(r, connected ? "set" : "connect", why);
        } else {
            gen = r->generation;
        }
    }
    drop_queue(r);
    pthread_mutex_unlock(&r->mu);
    redisFree(c);
    return NULL;
}

/* ---------------------------------------------------------------- API */

int mnemo__redis_open(const mnemo_redis_options *o, mnemo_redis **out, mnemo_error *err) {
    *out = NULL;
    mnemo_redis *r = mnemo__calloc(1, sizeof *r);
    if (!r) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    int rc = mnemo__redis_url_parse(o->url, &r->url, err);
    if (rc) {
        mnemo__free(r);
        return rc;
    }
    r->timeout = o->timeout > 0 ? o->timeout : 0.05;
    r->tv.tv_sec = (time_t)r->timeout;
    r->tv.tv_usec = (suseconds_t)((r->timeout - (double)r->tv.tv_sec) * 1e6);
    /* A pipeline of WRITE_BATCH values takes longer than one lookup, and
     * nobody waits for it: 10x the timeout, at least 0.5 s. */
    double wt = r->timeout * 10 > 0.5 ? r->timeout * 10 : 0.5;
    r->write_tv.tv_sec = (time_t)wt;
    r->write_tv.tv_usec = (suseconds_t)((wt - (double)r->write_tv.tv_sec) * 1e6);
    r->ttl = o->ttl;
    r->width = o->width;
    r->max_queue = o->max_queue ? o->max_queue : 4096;
    r->fingerprint = mnemo__strndup(o->fingerprint ? o->fingerprint : "",
                                    strlen(o->fingerprint ? o->fingerprint : ""));
    r->queue = mnemo__calloc(r->max_queue, sizeof *r->queue);
    if (!r->fingerprint || !r->queue) {
        mnemo__redis_close(r);
        return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    }
    r->model_hash = mnemo__hash64(r->fingerprint, strlen(r->fingerprint), 0x6d6e656d6fULL);
    r->st.enabled = true;
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->wake, &ca);
    pthread_cond_init(&r->returned, &ca);
    pthread_condattr_destroy(&ca);
    /* One connection now, for a log line that tells whether Redis is there;
     * it becomes the first pooled reader connection. */
    char why[256];
    redisContext *c = connect_redis(r, why, sizeof why);
    if (c) {
        r->idle[r->n_idle++] = (conn){c, 0};
        r->n_open = 1;
        r->st.up = true;
        log_redis(MNEMO_LOG_INFO, "redis.up", "open", NULL);
    } else {
        r->st.errors_connect++;
        r->down = true;
        r->backoff = BACKOFF_FIRST;
        r->retry_at = mnemo__now() + r->backoff;
        log_redis(MNEMO_LOG_WARN, "redis.down",
                  "open: serving without Redis, reconnecting in the background", why);
    }
    if (pthread_create(&r->writer, NULL, writer_main, r)) {
        mnemo__redis_close(r);
        return mnemo__fail(err, MNEMO_ENOMEM, "cannot start the Redis writer thread");
    }
    r->writer_started = true;
    *out = r;
    return MNEMO_OK;
}

void mnemo__redis_close(mnemo_redis *r) {
    if (!r) return;
    if (r->writer_started) {
        pthread_mutex_lock(&r->mu);
        r->stop = true;
        pthread_cond_broadcast(&r->wake);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->writer, NULL);
    }
    if (r->queue) {
        for (size_t i = 0; i < r->q_len; i++) mnemo__free(r->queue[(r->q_head + i) % r->max_queue]);
    }
    for (size_t i = 0; i < r->n_idle; i++) redisFree(r->idle[i].c);
    if (r->st.enabled) {
        pthread_cond_destroy(&r->wake);
        pthread_cond_destroy(&r->returned);
        pthread_mutex_destroy(&r->mu);
    }
    mnemo__redis_url_free(&r->url);
    mnemo__free(r->queue);
    mnemo__free(r->fingerprint);
    mnemo__free(r);
}

/* Under mu: a pooled connection (connecting one when the pool has room),
 * waiting up to the timeout for one to come back; false: give up (a miss). */
static bool take_conn(mnemo_redis *r, conn *out, bool *fresh) {
    *fresh = false;
    double until = mnemo__now() + r->timeout;
    for (;;) {
        if (r->down || r->stop) return false;
        if (r->n_idle) {
            *out = r->idle[--r->n_idle];
            return true;
        }
        if (r->n_open < POOL_MAX) {
            r->n_open++;
            *out = (conn){NULL, r->generation};
            *fresh = true;
            return true;
        }
        struct timespec ts;
        timespec_at(until, &ts);
        if (pthread_cond_timedwait(&r->returned, &r->mu, &ts) == ETIMEDOUT) return false;
    }
}

/* Under mu: a connection back to the pool (or closed, if from before an outage). */
static void give_conn(mnemo_redis *r, conn c) {
    if (c.generation != r->generation || r->down || r->n_idle >= POOL_MAX) {
        redisFree(c.c);
        r->n_open--;
    } else {
        r->idle[r->n_idle++] = c;
    }
    pthread_cond_signal(&r->returned);
}

void mnemo__redis_get(mnemo_redis *r, const mnemo_piece *const *keys, size_t n_pieces, size_t n,
                      float *const *vecs, size_t *n_tokens, bool *found) {
    for (size_t i = 0; i < n; i++) found[i] = false;
    if (!r || !n) return;
    /* one allocation: n key encodings, n names, the argv */
    size_t *klen = mnemo__malloc_array(n, sizeof *klen), total = 0;
    if (!klen) return;
    for (size_t i = 0; i < n; i++) {
        klen[i] = key_bytes(r, keys[i], n_pieces);
        if (!mnemo__add_size(total, klen[i], &total)) {
            mnemo__free(klen);
            return;
        }
    }
    unsigned char *kb = mnemo__malloc(total ? total : 1);
    char *names = mnemo__malloc_array(n, KEY_NAME_LEN + 1);
    const char **argv = mnemo__malloc_array(n + 1, sizeof *argv);
    size_t *lens = mnemo__malloc_array(n + 1, sizeof *lens);
    size_t *koff = mnemo__malloc_array(n, sizeof *koff);
    if (!kb || !names || !argv || !lens || !koff) goto done;
    argv[0] = "MGET";
    lens[0] = 4;
    for (size_t i = 0, off = 0; i < n; i++) {
        koff[i] = off;
        key_write(r, keys[i], n_pieces, kb + off);
        key_name(kb + off, klen[i], names + i * (KEY_NAME_LEN + 1));
        argv[i + 1] = names + i * (KEY_NAME_LEN + 1);
        lens[i + 1] = KEY_NAME_LEN;
        off += klen[i];
    }
    pthread_mutex_lock(&r->mu);
    conn c;
    bool fresh;
    if (!take_conn(r, &c, &fresh)) {
        r->st.skipped += n;
        r->st.misses += n;
        pthread_mutex_unlock(&r->mu);
        goto done;
    }
    pthread_mutex_unlock(&r->mu);
    char why[256] = "";
    double t0 = mnemo__now();
    if (fresh && !(c.c = connect_redis(r, why, sizeof why))) {
        pthread_mutex_lock(&r->mu);
        r->n_open--;
        r->st.errors_connect++;
        r->st.misses += n;
        mark_down(r, "connect", why);
        pthread_cond_signal(&r->returned);
        pthread_mutex_unlock(&r->mu);
        goto done;
    }
    redisReply *rep = redisCommandArgv(c.c, (int)(n + 1), argv, lens);
    double seconds = mnemo__now() - t0;
    size_t hits = 0, invalid = 0;
    bool broken = !rep;
    if (broken) snprintf(why, sizeof why, "%s", c.c->errstr);
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == n) {
        for (size_t i = 0; i < n; i++) {
            const redisReply *e = rep->element[i];
            if (e->type != REDIS_REPLY_STRING) continue;
            if (value_read(r, kb + koff[i], klen[i], e->str, e->len, vecs[i], &n_tokens[i])) {
                found[i] = true;
                hits++;
            } else {
                invalid++;
            }
        }
    }
    bool error_reply = rep && !(rep->type == REDIS_REPLY_ARRAY && rep->elements == n);
    if (rep) freeReplyObject(rep);
    pthread_mutex_lock(&r->mu);
    size_t b = 0;
    while (b < MNEMO_REDIS_N_BOUNDS && seconds > seconds_bounds[b]) b++;
    r->st.seconds_counts[b]++;
    r->st.seconds_sum += seconds;
    r->st.hits += hits;
    r->st.misses += n - hits;
    r->st.invalid += invalid;
    if (broken || error_reply) r->st.errors_get++;
    if (broken) {
        redisFree(c.c);
        r->n_open--;
        mark_down(r, "get", why);
        pthread_cond_signal(&r->returned);
    } else {
        give_conn(r, c);
    }
    pthread_mutex_unlock(&r->mu);
done:
    mnemo__free(klen);
    mnemo__free(kb);
    mnemo__free(names);
    mnemo__free(argv);
    mnemo__free(lens);
    mnemo__free(koff);
}

void mnemo__redis_put(mnemo_redis *r, const mnemo_piece *key, size_t n_pieces, const float *vec,
                      size_t n_tokens) {
    if (!r || n_tokens == 0 || n_tokens > UINT32_MAX) return;
    size_t klen = key_bytes(r, key, n_pieces), vlen, total;
    if (klen > UINT32_MAX ||
        !mnemo__add_size(HEADER_BYTES + klen, r->width * sizeof(float), &vlen) ||
        !mnemo__add_size(sizeof(write_item) + KEY_NAME_LEN + 1, vlen, &total) ||
        !mnemo__add_size(total, klen, &total))
        return;
    pthread_mutex_lock(&r->mu);
    bool room = !r->down && r->q_len < r->max_queue;
    if (!room) r->st.dropped++;
    pthread_mutex_unlock(&r->mu);
    if (!room) return;
    write_item *it = mnemo__malloc(total);
    if (!it) return;
    unsigned char *value = (unsigned char *)it->data + KEY_NAME_LEN + 1, *kb = value + vlen;
    key_write(r, key, n_pieces, kb);
    key_name(kb, klen, it->data);
    value_write(r, kb, klen, vec, n_tokens, value);
    it->value = value;
    it->value_len = vlen;
    pthread_mutex_lock(&r->mu);
    if (r->down || r->q_len >= r->max_queue) {
        r->st.dropped++;
        pthread_mutex_unlock(&r->mu);
        mnemo__free(it);
        return;
    }
    r->queue[(r->q_head + r->q_len) % r->max_queue] = it;
    r->q_len++;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->mu);
}

void mnemo__redis_stats(mnemo_redis *r, mnemo_redis_stats *out) {
    memset(out, 0, sizeof *out);
    if (!r) return;
    pthread_mutex_lock(&r->mu);
    *out = r->st;
    out->queued = r->q_len;
    pthread_mutex_unlock(&r->mu);
}
