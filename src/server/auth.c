/*
 * auth.c — API keys and rate limits of server.h: keys from --api-key and
 * --api-key-file, checked in constant time against every key (so neither
 * the position nor the length of a match leaks through timing), sent as
 * "Bearer KEY" or mem0's "Token KEY", each with its grant (a name, a role:
 * embed < read < write < admin, and the namespaces it may use), read again
 * on SIGHUP; and per-identity token buckets for requests and tokens per
 * minute.
 */
#include "server.h"

#include "../store/store_api.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define MAX_KEY_LEN 256
#define MAX_BUCKETS 4096  /* identities tracked at once; the least recently seen is forgotten */
#define MAX_NAMESPACES 64 /* per key */

typedef struct bucket {
    char who[80];
    double requests, tokens, last; /* tokens left in each bucket, and when refilled */
} bucket;

/* The keys of one reading of --api-key and --api-key-file. Never changed once
 * made; a reload (SIGHUP) makes a new one and keeps the old until the end, so
 * a request that holds a grant of it is never left with freed memory. */
typedef struct keyset {
    char **keys;
    mnemo_grant *grants;
    size_t n;
    struct keyset *older;
} keyset;

struct mnemo_auth {
    _Atomic(keyset *) current;
    char *key, *key_file; /* what to read again on reload */
    long rpm, tpm;
    pthread_mutex_t mu;
    bucket *buckets;
    size_t n_buckets;
};

static void keyset_free(keyset *ks) {
    while (ks) {
        keyset *older = ks->older;
        for (size_t i = 0; i < ks->n; i++) {
            /* keys are secrets: do not leave them in freed memory */
            volatile char *p = ks->keys[i];
            for (size_t k = 0; p && p[k]; k++) p[k] = 0;
            mnemo__free(ks->keys[i]);
            for (size_t k = 0; k < ks->grants[i].access.n_namespaces; k++)
                mnemo__free((void *)ks->grants[i].access.namespaces[k]);
            mnemo__free((void *)ks->grants[i].access.namespaces);
        }
        mnemo__free(ks->keys);
        mnemo__free(ks->grants);
        mnemo__free(ks);
        ks = older;
    }
}

static const char *const ROLES[] = {[MNEMO_ROLE_EMBED] = "embed",
                                    [MNEMO_ROLE_READ] = "read",
                                    [MNEMO_ROLE_WRITE] = "write",
                                    [MNEMO_ROLE_ADMIN] = "admin"};

const char *mnemo__role_name(mnemo_role r) {
    return r >= MNEMO_ROLE_EMBED && r <= MNEMO_ROLE_ADMIN ? ROLES[r] : "?";
}

/* namespaces=a,b,c (or *) into g; 0, or EINVAL with where. */
static int parse_namespaces(mnemo_grant *g, const char *v, size_t n, const char *where,
                            mnemo_error *err) {
    if (n == 1 && *v == '*') return MNEMO_OK; /* every namespace: namespaces stays NULL */
    const char **list = mnemo__calloc(MAX_NAMESPACES, sizeof *list);
    if (!list) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    g->access.namespaces = list;
    size_t k = 0;
    for (size_t i = 0; i <= n;) {
        size_t j = i;
        while (j < n && v[j] != ',') j++;
        if (j == i)
            return mnemo__fail(err, MNEMO_EINVAL, "%s: namespaces= has an empty name", where);
        if (k == MAX_NAMESPACES)
            return mnemo__fail(err, MNEMO_EINVAL, "%s: more than %d namespaces for one key", where,
                               MAX_NAMESPACES);
        mnemo_memory_scope sc = {.ns = NULL};
        char *ns = mnemo__strndup(v + i, j - i);
        if (!ns) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
        list[k++] = ns;
        g->access.n_namespaces = k;
        sc.ns = ns;
        mnemo_error e2;
        if (mnemo__scope_check(&sc, "", &e2))
            return mnemo__fail(err, MNEMO_EINVAL, "%s: namespace '%.60s': %s", where, ns,
                               e2.message);
        i = j + 1;
    }
    return MNEMO_OK;
}

/* One line of a key file: KEY [name=NAME] [namespaces=NS[,NS...]|*]
 * [role=embed|read|write|admin]; blank lines and # comments skipped. */
static int add_line(keyset *ks, const char *line, size_t len, const char *where, mnemo_error *err) {
    const char *p = line, *end = line + len;
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) end--;
    if (p == end || *p == '#') return MNEMO_OK;
    const char *k = p;
    while (p < end && *p != ' ' && *p != '\t') p++;
    size_t kn = (size_t)(p - k);
    if (kn > MAX_KEY_LEN)
        return mnemo__fail(err, MNEMO_EINVAL, "%s: an API key is longer than %d bytes", where,
                           MAX_KEY_LEN);
    char **keys = mnemo__realloc(ks->keys, (ks->n + 1) * sizeof *keys);
    if (keys) ks->keys = keys;
    mnemo_grant *grants = keys ? mnemo__realloc(ks->grants, (ks->n + 1) * sizeof *grants) : NULL;
    if (!grants) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    ks->grants = grants;
    mnemo_grant *g = &grants[ks->n];
    *g = (mnemo_grant){.role = MNEMO_ROLE_ADMIN};
    if (!(ks->keys[ks->n] = mnemo__strndup(k, kn)))
        return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    ks->n++;
    snprintf(g->name, sizeof g->name, "key%zu", ks->n);
    bool named = false, role = false, spaces = false;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t')) p++;
        if (p == end) break;
        const char *a = p;
        while (p < end && *p != ' ' && *p != '\t') p++;
        const char *eq = memchr(a, '=', (size_t)(p - a));
        size_t an = eq ? (size_t)(eq - a) : 0, vn = eq ? (size_t)(p - eq - 1) : 0;
        const char *v = eq ? eq + 1 : NULL;
        if (eq && an == 4 && !memcmp(a, "name", 4) && !named && vn && vn < sizeof g->name) {
            memcpy(g->name, v, vn);
            g->name[vn] = 0;
            named = true;
        } else if (eq && an == 10 && !memcmp(a, "namespaces", 10) && !spaces) {
            int rc = parse_namespaces(g, v, vn, where, err);
            if (rc) return rc;
            spaces = true;
        } else if (eq && an == 4 && !memcmp(a, "role", 4) && !role) {
            int r = 0;
            for (int i = MNEMO_ROLE_EMBED; i <= MNEMO_ROLE_ADMIN; i++)
                if (strlen(ROLES[i]) == vn && !memcmp(v, ROLES[i], vn)) r = i;
            if (!r)
                return mnemo__fail(err, MNEMO_EINVAL,
                                   "%s: role '%.*s' is not embed, read, write or admin", where,
                                   (int)vn, v);
            g->role = (mnemo_role)r;
            role = true;
        } else {
            return mnemo__fail(
                err, MNEMO_EINVAL,
                "%s: '%.*s' is not name=NAME (1..%zu bytes), namespaces=NS[,NS...] or *, or "
                "role=embed|read|write|admin (each at most once; a key has no spaces)",
                where, (int)(p - a > 60 ? 60 : p - a), a, sizeof g->name - 1);
        }
    }
    g->access.can_read = g->role >= MNEMO_ROLE_READ;
    g->access.can_write = g->role >= MNEMO_ROLE_WRITE;
    return MNEMO_OK;
}

/* Reads --api-key and --api-key-file into a new key set. */
static int read_keys(const char *key, const char *key_file, keyset **out, mnemo_error *err) {
    keyset *ks = mnemo__calloc(1, sizeof *ks);
    if (!ks) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    int rc = MNEMO_OK;
    if (key) {
        size_t n = strlen(key);
        if (n > MAX_KEY_LEN)
            rc = mnemo__fail(err, MNEMO_EINVAL, "--api-key is longer than %d bytes", MAX_KEY_LEN);
        else if (strpbrk(key, " \t"))
            rc = mnemo__fail(err, MNEMO_EINVAL, "--api-key: a key has no spaces");
        else
            rc = add_line(ks, key, n, "--api-key", err);
    }
    if (!rc && key_file) {
        FILE *f = fopen(key_file, "r");
        if (!f) rc = mnemo__fail(err, MNEMO_ENOENT, "--api-key-file %s: cannot open it", key_file);
        char line[4096], where[300];
        for (int no = 1; !rc && f && fgets(line, sizeof line, f); no++) {
            size_t n = strcspn(line, "\n");
            snprintf(where, sizeof where, "--api-key-file %.200s line %d", key_file, no);
            if (n == sizeof line - 1 && line[n - 1] != '\n')
                rc = mnemo__fail(err, MNEMO_EINVAL, "%s: longer than %zu bytes", where,
                                 sizeof line - 2);
            else
                rc = add_line(ks, line, n, where, err);
        }
        if (!rc && ks->n == (key ? 1u : 0u))
            rc = mnemo__fail(err, MNEMO_EINVAL, "--api-key-file %s holds no key (one per line)",
                             key_file);
        if (f) fclose(f);
    }
    if (rc) {
        keyset_free(ks);
        return rc;
    }
    /* the grants array moved as it grew: names point into it only now */
    for (size_t i = 0; i < ks->n; i++) ks->grants[i].access.name = ks->grants[i].name;
    *out = ks;
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
    keyset *ks = NULL;
    int rc = read_keys(key, key_file, &ks, err);
    if (!rc) atomic_store(&a->current, ks);
    if (!rc && ((key && !(a->key = mnemo__strndup(key, strlen(key)))) ||
                (key_file && !(a->key_file = mnemo__strndup(key_file, strlen(key_file))))))
        rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    if (!rc && (rpm || tpm) && !(a->buckets = mnemo__calloc(MAX_BUCKETS, sizeof *a->buckets)))
        rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    if (rc) {
        mnemo__auth_free(a);
        return rc;
    }
    *out = a;
    return MNEMO_OK;
}

int mnemo__auth_reload(mnemo_auth *a, mnemo_error *err) {
    if (!a->key_file) return MNEMO_OK; /* --api-key alone: nothing to read again */
    keyset *ks = NULL;
    int rc = read_keys(a->key, a->key_file, &ks, err);
    if (rc) return rc; /* the keys in force stay */
    pthread_mutex_lock(&a->mu);
    ks->older = atomic_load(&a->current);
    atomic_store(&a->current, ks);
    pthread_mutex_unlock(&a->mu);
    return MNEMO_OK;
}

void mnemo__auth_free(mnemo_auth *a) {
    if (!a) return;
    keyset_free(atomic_load(&a->current));
    if (a->key) {
        volatile char *p = a->key;
        for (size_t k = 0; p[k]; k++) p[k] = 0;
    }
    mnemo__free(a->key);
    mnemo__free(a->key_file);
    mnemo__free(a->buckets);
    pthread_mutex_destroy(&a->mu);
    mnemo__free(a);
}

size_t mnemo__auth_key_count(const mnemo_auth *a) {
    keyset *ks = a ? atomic_load(&((mnemo_auth *)a)->current) : NULL;
    return ks ? ks->n : 0;
}

/* Compares the whole of both strings up to MAX_KEY_LEN whatever they hold. */
static int equal_constant_time(const char *a, size_t na, const char *b, size_t nb) {
    unsigned diff = (unsigned)(na ^ nb);
    for (size_t i = 0; i < MAX_KEY_LEN; i++) {
        unsigned char x = i < na ? (unsigned char)a[i] : 0, y = i < nb ? (unsigned char)b[i] : 0;
        diff |= (unsigned)(x ^ y);
    }
    return diff == 0;
}

const mnemo_grant *mnemo__auth_check(const mnemo_auth *a, const char *authorization) {
    /* "Token KEY" is how mem0's client sends its key (docs/http.md, "mem0 platform API") */
    const char *k;
    if (authorization && !strncasecmp(authorization, "Bearer ", 7))
        k = authorization + 7;
    else if (authorization && !strncasecmp(authorization, "Token ", 6))
        k = authorization + 6;
    else
        return NULL;
    while (*k == ' ') k++;
    size_t n = strlen(k);
    if (n > MAX_KEY_LEN) return NULL;
    keyset *ks = atomic_load(&((mnemo_auth *)a)->current);
    int found = 0;
    size_t which = 0;
    for (size_t i = 0; i < ks->n; i++) { /* no early exit */
        int eq = equal_constant_time(ks->keys[i], strlen(ks->keys[i]), k, n);
        which = eq && !found ? i : which;
        found |= eq;
    }
    return found ? &ks->grants[which] : NULL;
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
