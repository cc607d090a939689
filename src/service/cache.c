/*
 * cache.c — the embedding cache of service.h: a hash table with chaining
 * plus a doubly linked LRU list, one mutex, bounded in bytes, entries that
 * expire after a TTL. Values are full-width vectors; Matryoshka dimensions
 * are derived by the caller, so one entry serves every dimension.
 */
#include "service.h"

#include <pthread.h>
#include <string.h>

typedef struct entry {
    struct entry *hnext;       /* hash chain */
    struct entry *prev, *next; /* LRU list: head = most recent */
    uint64_t hash;
    double stored, used; /* put, and last get or put (the caller's clock) */
    uint32_t hits;       /* gets answered, kept across restarts by the cache file */
    bool warm;           /* loaded from the cache file */
    size_t n_tokens, key_len, bytes;
    float *vec;          /* width floats, right after the struct */
    unsigned char key[]; /* pieces as (u64 length, bytes)... */
} entry;

struct mnemo_cache {
    pthread_mutex_t mu;
    size_t max_bytes, width, n_buckets;
    double ttl;
    entry **buckets;
    entry *head, *tail;
    /* While a snapshot is read (pins > 0), removed entries are not freed but
     * kept on `deferred` (linked by hnext), so the snapshot may read their
     * keys and vectors, which never change once stored, without the lock. */
    int pins;
    entry *deferred;
    mnemo_cache_stats st;
};

int mnemo__cache_create(size_t max_bytes, double ttl, size_t width, mnemo_cache **out,
                        mnemo_error *err) {
    mnemo_cache *c = mnemo__calloc(1, sizeof *c);
    if (!c) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory for the cache");
    c->max_bytes = max_bytes;
    c->width = width;
    c->ttl = ttl;
    /* About one bucket per entry of ~4 KB: chains stay short at any size. */
    c->n_buckets = 64;
    while (c->n_buckets < max_bytes / 4096 && c->n_buckets < (1u << 24)) c->n_buckets *= 2;
    c->buckets = mnemo__calloc(c->n_buckets, sizeof *c->buckets);
    if (!c->buckets) {
        mnemo__free(c);
        return mnemo__fail(err, MNEMO_ENOMEM, "out of memory for the cache");
    }
    pthread_mutex_init(&c->mu, NULL);
    c->st.max_bytes = max_bytes;
    *out = c;
    return MNEMO_OK;
}

void mnemo__cache_free(mnemo_cache *c) {
    if (!c) return;
    for (entry *e = c->head, *n; e; e = n) {
        n = e->next;
        mnemo__free(e);
    }
    for (entry *e = c->deferred, *n; e; e = n) {
        n = e->hnext;
        mnemo__free(e);
    }
    mnemo__free(c->buckets);
    pthread_mutex_destroy(&c->mu);
    mnemo__free(c);
}

static size_t key_size(const mnemo_piece *key, size_t n) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += sizeof(uint64_t) + key[i].size;
    return total;
}

static uint64_t key_hash(const mnemo_piece *key, size_t n) {
    uint64_t h = 0x6d6e656d6fULL;
    for (size_t i = 0; i < n; i++) {
        uint64_t len = key[i].size;
        h = mnemo__hash64(&len, sizeof len, h);
        h = mnemo__hash64(key[i].data, key[i].size, h);
    }
    return h;
}

static bool key_equal(const entry *e, const mnemo_piece *key, size_t n) {
    const unsigned char *p = e->key, *end = e->key + e->key_len;
    for (size_t i = 0; i < n; i++) {
        uint64_t len;
        if ((size_t)(end - p) < sizeof len) return false;
        memcpy(&len, p, sizeof len);
        p += sizeof len;
        if (len != key[i].size || (size_t)(end - p) < len) return false;
        if (len && memcmp(p, key[i].data, len)) return false;
        p += len;
    }
    return p == end;
}

static void lru_unlink(mnemo_cache *c, entry *e) {
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_front(mnemo_cache *c, entry *e) {
    e->prev = NULL;
    e->next = c->head;
    if (c->head) c->head->prev = e;
    c->head = e;
    if (!c->tail) c->tail = e;
}

static void remove_entry(mnemo_cache *c, entry *e) {
    entry **pp = &c->buckets[e->hash & (c->n_buckets - 1)];
    while (*pp && *pp != e) pp = &(*pp)->hnext;
    if (*pp) *pp = e->hnext;
    lru_unlink(c, e);
    c->st.entries--;
    c->st.bytes -= e->bytes;
    if (c->pins) {
        e->hnext = c->deferred;
        c->deferred = e;
    } else {
        mnemo__free(e);
    }
}

static entry *find(mnemo_cache *c, const mnemo_piece *key, size_t n, uint64_t h) {
    for (entry *e = c->buckets[h & (c->n_buckets - 1)]; e; e = e->hnext)
        if (e->hash == h && key_equal(e, key, n)) return e;
    return NULL;
}

static bool expired(const mnemo_cache *c, const entry *e, double now) {
    return c->ttl > 0 && now - e->stored >= c->ttl;
}

bool mnemo__cache_get(mnemo_cache *c, const mnemo_piece *key, size_t n_pieces, double now,
                      float *vec, size_t *n_tokens) {
    if (!c) return false;
    uint64_t h = key_hash(key, n_pieces);
    pthread_mutex_lock(&c->mu);
    entry *e = c->max_bytes ? find(c, key, n_pieces, h) : NULL;
    if (e && expired(c, e, now)) {
        remove_entry(c, e);
        c->st.expirations++;
        e = NULL;
    }
    if (e) {
        memcpy(vec, e->vec, c->width * sizeof(float));
        if (n_tokens) *n_tokens = e->n_tokens;
        lru_unlink(c, e);
        lru_push_front(c, e);
        c->st.hits++;
        if (e->hits < UINT32_MAX) e->hits++;
        e->used = now;
        if (e->warm) c->st.warm_hits++;
    } else {
        c->st.misses++;
    }
    pthread_mutex_unlock(&c->mu);
    return e != NULL;
}

/* A new entry holding the key and the vector (not in the table yet); NULL
 * when it would not fit in max_bytes or memory is short. */
static entry *new_entry(mnemo_cache *c, const mnemo_piece *key, size_t n_pieces, const float *vec,
                        size_t n_tokens, double now) {
    size_t klen = key_size(key, n_pieces);
    /* key bytes padded so the vector after them is aligned */
    size_t kpad = (klen + 15) & ~(size_t)15, bytes;
    if (!mnemo__add_size(sizeof(entry) + kpad, c->width * sizeof(float), &bytes) ||
        bytes > c->max_bytes)
        return NULL;
    entry *e = mnemo__malloc(bytes);
    if (!e) return NULL; /* a cache that cannot grow just misses */
    memset(e, 0, sizeof *e);
    e->hash = key_hash(key, n_pieces);
    e->stored = e->used = now;
    e->n_tokens = n_tokens;
    e->key_len = klen;
    e->bytes = bytes;
    unsigned char *p = e->key;
    for (size_t i = 0; i < n_pieces; i++) {
        uint64_t len = key[i].size;
        memcpy(p, &len, sizeof len);
        p += sizeof len;
        if (len) memcpy(p, key[i].data, len);
        p += len;
    }
    e->vec = (float *)(void *)(e->key + kpad);
    memcpy(e->vec, vec, c->width * sizeof(float));
    return e;
}

static void link_entry(mnemo_cache *c, entry *e) {
    entry **bucket = &c->buckets[e->hash & (c->n_buckets - 1)];
    e->hnext = *bucket;
    *bucket = e;
    c->st.entries++;
    c->st.bytes += e->bytes;
}

void mnemo__cache_put(mnemo_cache *c, const mnemo_piece *key, size_t n_pieces, const float *vec,
                      size_t n_tokens, double now) {
    if (!c || !c->max_bytes) return;
    entry *e = new_entry(c, key, n_pieces, vec, n_tokens, now);
    if (!e) return;
    pthread_mutex_lock(&c->mu);
    entry *old = find(c, key, n_pieces, e->hash);
    if (old) {
        e->hits = old->hits; /* a refresh keeps how often the text was asked for */
        e->warm = old->warm;
        remove_entry(c, old);
    }
    while (c->tail && c->st.bytes + e->bytes > c->max_bytes) {
        remove_entry(c, c->tail);
        c->st.evictions++;
    }
    link_entry(c, e);
    lru_push_front(c, e);
    c->st.inserts++;
    pthread_mutex_unlock(&c->mu);
}

int mnemo__cache_load(mnemo_cache *c, const mnemo_piece *key, size_t n_pieces, const float *vec,
                      size_t n_tokens, uint32_t hits, double used, double now) {
    if (!c || !c->max_bytes) return -1;
    entry *e = new_entry(c, key, n_pieces, vec, n_tokens, now);
    if (!e) return -1;
    e->hits = hits;
    e->used = used;
    e->warm = true;
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    if (find(c, key, n_pieces, e->hash)) {
        rc = 1; /* already there (a repeated key): the cache's own wins */
    } else if (c->st.bytes + e->bytes > c->max_bytes) {
        rc = -1;
    } else {
        link_entry(c, e);
        /* at the tail: the file lists the most used first, and a loaded
         * entry must not push out the ones loaded before it */
        e->prev = c->tail;
        e->next = NULL;
        if (c->tail)
            c->tail->next = e;
        else
            c->head = e;
        c->tail = e;
        c->st.warm_loaded++;
    }
    pthread_mutex_unlock(&c->mu);
    if (rc) mnemo__free(e);
    return rc;
}

int mnemo__cache_snapshot(mnemo_cache *c, size_t skip_pieces, mnemo_cache_snapshot *out) {
    memset(out, 0, sizeof *out);
    if (!c || !c->max_bytes) return MNEMO_OK;
    /* Sized first and allocated outside the lock; under it, only each
     * entry's address and counters are taken (entries added in between wait
     * for the next snapshot), and the entries are pinned until
     * mnemo__cache_snapshot_free: no key or vector is copied under the lock. */
    pthread_mutex_lock(&c->mu);
    size_t n = c->st.entries;
    pthread_mutex_unlock(&c->mu);
    if (!n) return MNEMO_OK;
    out->items = mnemo__malloc_array(n, sizeof *out->items);
    if (!out->items) return MNEMO_ENOMEM;
    out->cache = c;
    pthread_mutex_lock(&c->mu);
    for (entry *e = c->head; e && out->n < n; e = e->next) {
        /* skip the leading pieces (the model id: the file names the model once) */
        const unsigned char *k = e->key, *end = e->key + e->key_len;
        bool ok = true;
        for (size_t i = 0; i < skip_pieces && ok; i++) {
            uint64_t len;
            if ((size_t)(end - k) < sizeof len) {
                ok = false;
                break;
            }
            memcpy(&len, k, sizeof len);
            if ((size_t)(end - k) - sizeof len < len)
                ok = false;
            else
                k += sizeof len + len;
        }
        if (!ok) continue;
        out->items[out->n++] = (mnemo_cache_item){.key = k,
                                                  .key_len = (size_t)(end - k),
                                                  .n_tokens = e->n_tokens,
                                                  .vec = e->vec,
                                                  .hits = e->hits,
                                                  .used = e->used};
    }
    c->pins++;
    out->version = c->st.inserts + c->st.hits + c->st.evictions + c->st.expirations;
    pthread_mutex_unlock(&c->mu);
    return MNEMO_OK;
}

void mnemo__cache_snapshot_free(mnemo_cache_snapshot *s) {
    mnemo_cache *c = s->cache;
    if (c) {
        entry *dead = NULL;
        pthread_mutex_lock(&c->mu);
        if (--c->pins == 0) {
            dead = c->deferred;
            c->deferred = NULL;
        }
        pthread_mutex_unlock(&c->mu);
        for (entry *e = dead, *n; e; e = n) { /* freed outside the lock */
            n = e->hnext;
            mnemo__free(e);
        }
    }
    mnemo__free(s->items);
    memset(s, 0, sizeof *s);
}

uint64_t mnemo__cache_version(mnemo_cache *c) {
    if (!c) return 0;
    pthread_mutex_lock(&c->mu);
    uint64_t v = c->st.inserts + c->st.hits + c->st.evictions + c->st.expirations;
    pthread_mutex_unlock(&c->mu);
    return v;
}

void mnemo__cache_stats(mnemo_cache *c, mnemo_cache_stats *out) {
    memset(out, 0, sizeof *out);
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    *out = c->st;
    pthread_mutex_unlock(&c->mu);
}
