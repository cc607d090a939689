/*
 * auth.c — API keys and rate limits of server.h: keys from --api-key and
 * --api-key-file, checked in constant time against every key (so neither
 * the position nor the length of a match leaks through timing), sent as
 * "Bearer KEY" or mem0's "Token KEY"; and per-
 * identity token buckets for requests and tokens per minute. Not
 * authorization beyond "has a valid key".
 */
#include "server.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define MAX_KEY_LEN 256
#define MAX_BUCKETS 4096 /* identities tracked at once; the least recently seen is forgotten */

typedef struct bucket {
    char who[80];
    double requests, tokens, last; /* tokens left in each bucket, and when refilled */
} bucket;

struct mnemo_auth {
    char **keys;
    size_t n_keys;
    long rpm, tpm;
    pthread_mutex_t mu;
    bucket *buckets;
    size_t n_buckets;
};

static int add_key(mnemo_auth *a, const char *k, size_t n, mnemo_error *err) {
    while (n && (k[n - 1] == ' ' || k[n - 1] == '\t' || k[n - 1] == '\r')) n--;
    while (n && (*k == ' ' || *k == '\t')) k++, n--;
    if (n == 0 || *k == '#') return MNEMO_OK;
    if (n > MAX_KEY_LEN)
        return mnemo__fail(err, MNEMO_EINVAL, "an API key is longer than %d bytes", MAX_KEY_LEN);
    char **p = mnemo__realloc(a->keys, (a->n_keys + 1) * sizeof *p);
    if (!p) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    a->keys = p;
    if (!(a->keys[a->n_keys] = mnemo__strndup(k, n))) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    a->n_keys++;
    return MNEMO_OK;
}

int mnemo__auth_create(const char *key, const char *key_file, long rpm, long tpm, mnemo_auth **out,
                       mnemo_error *err) {
    if (rpm < 0 || tpm < 0)
        return mnemo__fail(err, MNEMO_EINVAL, "--rate-limit-rpm and --rate-limit-tpm must be >= 0");
    mnemo_auth *a = mnemo__calloc(1, sizeof *a);
    if (!a) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    a->rpm = rpm;
    a->tpm = tpm;
    pthread_mutex_init(&a->mu, NULL);
    int rc = key ? add_key(a, key, strlen(key), err) : MNEMO_OK;
    if (!rc && key_file) {
        FILE *f = fopen(key_file, "r");
        if (!f) rc = mnemo__fail(err, MNEMO_ENOENT, "--api-key-file %s: cannot open it", key_file);
        char line[MAX_KEY_LEN + 64];
        while (!rc && fgets(line, sizeof line, f)) {
            size_t n = strcspn(line, "\n");
            rc = add_key(a, line, n, err);
        }
        if (!rc && a->n_keys == 0)
            rc = mnemo__fail(err, MNEMO_EINVAL, "--api-key-file %s holds no key (one per line)", key_file);
        if (f) fclose(f);
    }
    if (!rc && (rpm || tpm) && !(a->buckets = mnemo__calloc(MAX_BUCKETS, sizeof *a->buckets)))
        rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    if (rc) {
        mnemo__auth_free(a);
        return rc;
    }
    *out = a;
    return MNEMO_OK;
}

void mnemo__auth_free(mnemo_auth *a) {
    if (!a) return;
    for (size_t i = 0; i < a->n_keys; i++) {
        /* keys are secrets: do not leave them in freed memory */
        volatile char *p = a->keys[i];
        for (size_t k = 0; p[k]; k++) p[k] = 0;
        mnemo__free(a->keys[i]);
    }
    mnemo__free(a->keys);
    mnemo__free(a->buckets);
    pthread_mutex_destroy(&a->mu);
    mnemo__free(a);
}

size_t mnemo__auth_key_count(const mnemo_auth *a) { return a ? a->n_keys : 0; }

/* Compares the whole of both strings up to MAX_KEY_LEN whatever they hold. */
static int equal_constant_time(const char *a, size_t na, const char *b, size_t nb) {
    unsigned diff = (unsigned)(na ^ nb);
    for (size_t i = 0; i < MAX_KEY_LEN; i++) {
        unsigned char x = i < na ? (unsigned char)a[i] : 0, y = i < nb ? (unsigned char)b[i] : 0;
        diff |= (unsigned)(x ^ y);
    }
    return diff == 0;
}

int mnemo__auth_check(const mnemo_auth *a, const char *authorization, char *who, size_t cap) {
    /* "Token KEY" is how mem0's client sends its key (docs/http.md, "mem0 platform API") */
    const char *k;
    if (authorization && !strncasecmp(authorization, "Bearer ", 7)) k = authorization + 7;
    else if (authorization && !strncasecmp(authorization, "Token ", 6)) k = authorization + 6;
    else return 0;
    while (*k == ' ') k++;
    size_t n = strlen(k);
    if (n > MAX_KEY_LEN) return 0;
    int found = 0;
    size_t which = 0;
    for (size_t i = 0; i < a->n_keys; i++) { /* no early exit */
        int eq = equal_constant_time(a->keys[i], strlen(a->keys[i]), k, n);
        which = eq && !found ? i : which;
        found |= eq;
    }
    if (found) snprintf(who, cap, "key%zu", which + 1);
    return found;
}

/* The bucket of `who`, created full (or the least recently seen one reused). */
static bucket *find_bucket(mnemo_auth *a, const char *who, double now) {
    size_t oldest = 0;
    for (size_t i = 0; i < a->n_buckets; i++) {
        if (!strcmp(a->buckets[i].who, who)) return &a->buckets[i];
        if (a->buckets[i].last < a->buckets[oldest].last) oldest = i;
    }
    bucket *b = a->n_buckets < MAX_BUCKETS ? &a->buckets[a->n_buckets++] : &a->buckets[oldest];
    snprintf(b->who, sizeof b->who, "%s", who);
    b->requests = (double)a->rpm;
    b->tokens = (double)a->tpm;
    b->last = now;
    return b;
}

static void refill(const mnemo_auth *a, bucket *b, double now) {
    double dt = now - b->last;
    b->last = now;
    b->requests += dt * (double)a->rpm / 60;
    if (b->requests > (double)a->rpm) b->requests = (double)a->rpm;
    b->tokens += dt * (double)a->tpm / 60;
    if (b->tokens > (double)a->tpm) b->tokens = (double)a->tpm;
}

int mnemo__rate_admit(mnemo_auth *a, const char *who, double now, int *retry_after) {
    if (!a->rpm && !a->tpm) return 1;
    pthread_mutex_lock(&a->mu);
    bucket *b = find_bucket(a, who, now);
    refill(a, b, now);
    double wait = 0;
    if (a->rpm && b->requests < 1) wait = (1 - b->requests) * 60 / (double)a->rpm;
    /* tokens are charged after the request (its count is known then): a
     * bucket in debt waits until it is positive again */
    if (a->tpm && b->tokens <= 0) {
        double w = (1 - b->tokens) * 60 / (double)a->tpm;
        if (w > wait) wait = w;
    }
    int ok = wait == 0;
    if (ok && a->rpm) b->requests -= 1;
    pthread_mutex_unlock(&a->mu);
    *retry_after = ok ? 0 : (int)wait + 1;
    return ok;
}

void mnemo__rate_charge(mnemo_auth *a, const char *who, size_t tokens, double now) {
    if (!a->tpm) return;
    pthread_mutex_lock(&a->mu);
    bucket *b = find_bucket(a, who, now);
    refill(a, b, now);
    b->tokens -= (double)tokens;
    pthread_mutex_unlock(&a->mu);
}
