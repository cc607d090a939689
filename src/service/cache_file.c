/*
 * cache_file.c — the embedding cache kept on disk (--cache-file), so a
 * restarted server answers the texts it served before without running the
 * model. A writer thread snapshots the cache (cache.c takes each entry's
 * address and counters under its lock and keeps the entries alive until the
 * write is done; keys and vectors are read outside it), orders them by use, and
 * writes the file through a temporary file, fsync and rename, every
 * `interval` seconds when the cache changed and once more at close; a
 * request never waits for it. At start the file is read before the server
 * says it is ready, the most used entries first, until a time budget, the
 * cache's size or the file's end.
 *
 * The file (host byte order; the magic's byte order is checked):
 *   header, 64 bytes: magic "MNEMOEMB", version u32, width u32, identity
 *     hash u64, entries u64, body bytes u64, identity length u32, 0 u32,
 *     0 u64, checksum u64 (of the 56 bytes before it and the identity)
 *   the identity: the model as its vectors depend on it (precision, shape,
 *     and a hash of the vector the loaded weights give a fixed probe text)
 *   records, most used first: key length u32, tokens u32, hits u32, 0 u32,
 *     last use f64 (Unix seconds), checksum u64 (of the 24 bytes before it,
 *     the key and the vector, seeded with the identity hash); the key (its
 *     pieces but the model id, each as u64 length + bytes); width floats.
 * A file of another model or precision, of another width, truncated, grown,
 * or whose header fails its checksum is ignored with a warning and replaced
 * at the next write. A record that fails its checksum (or whose key does not
 * parse) stops the loading there with a warning: the entries before it each
 * passed their own checksum, so no wrong vector is ever served.
 */
#include "service.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define FILE_MAGIC "MNEMOEMB"
#define FILE_VERSION 1u
#define HEADER_BYTES 64
#define RECORD_BYTES 32
#define MAX_IDENTITY 4096
#define MAX_KEY (64u << 20) /* the longest key read back: inputs are far shorter */
#define MAX_PIECES 8
#define DEFAULT_INTERVAL 60.0
/* An entry's order in the file: its hits, halved for every day since its
 * last use, so a text asked for often last month yields to one asked for
 * today a few times. */
#define HALF_LIFE (24.0 * 3600.0)

struct mnemo_cache_file {
    mnemo_cache *cache;
    char *path, *identity, *model_id;
    uint64_t identity_hash;
    size_t width, max_bytes;
    double interval;
    pthread_mutex_t mu;  /* guards stop and the stats */
    pthread_mutex_t wmu; /* held by a write, so two never overlap; /metrics never waits for it */
    pthread_cond_t cv;
    pthread_t thread;
    bool started, stop;
    uint64_t written_version; /* the cache's version at the last good write or load */
    bool have_written;
    mnemo_cache_file_stats st;
};

static double wall_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *dup_str(const char *s) { return mnemo__strndup(s, strlen(s)); }

int mnemo__cache_file_open(const mnemo_cache_file_options *o, mnemo_cache *cache,
                           mnemo_cache_file **out, mnemo_error *err) {
    *out = NULL;
    if (!o->path || !*o->path) return mnemo__fail(err, MNEMO_EINVAL, "cache file: no path");
    if (strlen(o->identity) > MAX_IDENTITY)
        return mnemo__fail(err, MNEMO_EINVAL, "cache file: the model identity is too long");
    mnemo_cache_file *f = mnemo__calloc(1, sizeof *f);
    if (!f) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    f->cache = cache;
    f->path = dup_str(o->path);
    f->identity = dup_str(o->identity);
    f->model_id = dup_str(o->model_id ? o->model_id : "");
    f->width = o->width;
    f->max_bytes = o->max_bytes;
    f->interval = o->interval > 0 ? o->interval : DEFAULT_INTERVAL;
    f->identity_hash = mnemo__hash64(f->identity, strlen(f->identity), 0x6361636865ULL);
    f->st.enabled = true;
    pthread_mutex_init(&f->mu, NULL);
    pthread_mutex_init(&f->wmu, NULL);
    pthread_cond_init(&f->cv, NULL);
    if (!f->path || !f->identity || !f->model_id) {
        mnemo__cache_file_close(f);
        return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    }
    *out = f;
    return MNEMO_OK;
}

/* ------------------------------------------------------------- reading */

static void warn_ignored(mnemo_cache_file *f, const char *why) {
    char q[1024];
    mnemo__log(MNEMO_LOG_WARN, "cache_file.ignored",
               "path=%s reason=%s action=rebuilt_at_next_write",
               mnemo__log_quote(q, sizeof q, f->path), why);
    pthread_mutex_lock(&f->mu);
    f->st.rejected++;
    pthread_mutex_unlock(&f->mu);
}

static uint64_t header_checksum(const unsigned char *h, const char *identity, size_t n) {
    return mnemo__hash64(identity, n, mnemo__hash64(h, 56, 0x68656164ULL));
}

static uint64_t record_checksum(const mnemo_cache_file *f, const unsigned char *head,
                                const unsigned char *key, size_t key_len, const float *vec) {
    uint64_t h = mnemo__hash64(head, 24, f->identity_hash);
    h = mnemo__hash64(key, key_len, h);
    return mnemo__hash64(vec, f->width * sizeof(float), h);
}

/* The key's pieces after the model id: each (u64 length, bytes), the whole
 * key used. false when it does not parse. */
static bool parse_key(const unsigned char *k, size_t len, mnemo_piece *pieces, size_t *n) {
    size_t i = 0, at = 0;
    while (at < len) {
        uint64_t plen;
        if (i == MAX_PIECES - 1 || len - at < sizeof plen) return false;
        memcpy(&plen, k + at, sizeof plen);
        at += sizeof plen;
        if (plen > len - at) return false;
        pieces[i++] = (mnemo_piece){k + at, (size_t)plen};
        at += (size_t)plen;
    }
    *n = i;
    return i > 0;
}

static bool read_exact(FILE *fp, void *buf, size_t n) { return fread(buf, 1, n, fp) == n; }

void mnemo__cache_file_load(mnemo_cache_file *f, double deadline, size_t *loaded_out) {
    size_t loaded = 0;
    if (loaded_out) *loaded_out = 0;
    if (!f) return;
    double t0 = mnemo__now();
    char q[1024];
    struct stat sb;
    if (stat(f->path, &sb) != 0) {
        if (errno != ENOENT)
            warn_ignored(f, strerror(errno));
        else
            mnemo__log(MNEMO_LOG_INFO, "cache_file.absent", "path=%s",
                       mnemo__log_quote(q, sizeof q, f->path));
        return;
    }
    if (!S_ISREG(sb.st_mode)) {
        warn_ignored(f, "\"not a regular file\"");
        return;
    }
    FILE *fp = fopen(f->path, "rb");
    if (!fp) {
        warn_ignored(f, strerror(errno));
        return;
    }
    unsigned char h[HEADER_BYTES], rec[RECORD_BYTES];
    char identity[MAX_IDENTITY + 1];
    unsigned char *buf = NULL;
    uint32_t version, width, id_len;
    uint64_t id_hash, n_entries, body, checksum;
    uint64_t size = (uint64_t)sb.st_size;
    if (size < HEADER_BYTES || !read_exact(fp, h, sizeof h)) {
        warn_ignored(f, size ? "\"shorter than its header\"" : "\"empty\"");
        goto done;
    }
    memcpy(&version, h + 8, 4);
    memcpy(&width, h + 12, 4);
    memcpy(&id_hash, h + 16, 8);
    memcpy(&n_entries, h + 24, 8);
    memcpy(&body, h + 32, 8);
    memcpy(&id_len, h + 40, 4);
    memcpy(&checksum, h + 56, 8);
    if (memcmp(h, FILE_MAGIC, 8)) {
        warn_ignored(f, "\"not a mnemo cache file (magic)\"");
        goto done;
    }
    if (version != FILE_VERSION) {
        warn_ignored(f, "\"another format version\"");
        goto done;
    }
    if (id_len > MAX_IDENTITY || id_len > size - HEADER_BYTES ||
        !read_exact(fp, identity, id_len)) {
        warn_ignored(f, "\"truncated or corrupt header\"");
        goto done;
    }
    identity[id_len] = '\0';
    if (header_checksum(h, identity, id_len) != checksum) {
        warn_ignored(f, "\"corrupt header (checksum)\"");
        goto done;
    }
    if (strcmp(identity, f->identity) || id_hash != f->identity_hash || width != f->width) {
        char a[MAX_IDENTITY + 64], b[MAX_IDENTITY + 64];
        mnemo__log(MNEMO_LOG_WARN, "cache_file.ignored",
                   "path=%s reason=\"another model or precision\" file_model=%s model=%s "
                   "action=rebuilt_at_next_write",
                   mnemo__log_quote(q, sizeof q, f->path), mnemo__log_quote(a, sizeof a, identity),
                   mnemo__log_quote(b, sizeof b, f->identity));
        pthread_mutex_lock(&f->mu);
        f->st.rejected++;
        pthread_mutex_unlock(&f->mu);
        goto done;
    }
    /* the sizes: the header's count of bytes must be the file's */
    uint64_t rec_min = RECORD_BYTES + (uint64_t)width * sizeof(float);
    if (body != size - HEADER_BYTES - id_len || n_entries > body / rec_min) {
        warn_ignored(f, "\"truncated or corrupt (its size is not the header's)\"");
        goto done;
    }
    size_t vbytes = f->width * sizeof(float);
    size_t cap = 4096 + vbytes;
    buf = mnemo__malloc(cap);
    if (!buf) goto done;
    double now = mnemo__now(), wall = wall_now();
    uint64_t left = body, i = 0;
    const char *stopped = NULL;
    for (; i < n_entries; i++) {
        if (mnemo__now() > deadline) {
            stopped = "budget";
            break;
        }
        uint32_t key_len, n_tokens, hits;
        double last;
        uint64_t sum;
        if (left < rec_min || !read_exact(fp, rec, sizeof rec)) goto bad_record;
        memcpy(&key_len, rec, 4);
        memcpy(&n_tokens, rec + 4, 4);
        memcpy(&hits, rec + 8, 4);
        memcpy(&last, rec + 16, 8);
        memcpy(&sum, rec + 24, 8);
        if (key_len > MAX_KEY || key_len > left - rec_min) goto bad_record;
        if (key_len + vbytes > cap) {
            unsigned char *nb = mnemo__realloc(buf, key_len + vbytes);
            if (!nb) {
                stopped = "out_of_memory";
                break;
            }
            buf = nb;
            cap = key_len + vbytes;
        }
        /* the vector first in the buffer, so it is aligned for the float reads */
        float *vec = (float *)(void *)buf;
        unsigned char *key = buf + vbytes;
        if (!read_exact(fp, key, key_len) || !read_exact(fp, vec, vbytes)) goto bad_record;
        left -= rec_min + key_len;
        if (record_checksum(f, rec, key, key_len, vec) != sum) goto bad_record;
        mnemo_piece pieces[MAX_PIECES];
        size_t n_pieces;
        pieces[0] = (mnemo_piece){f->model_id, strlen(f->model_id)};
        if (!parse_key(key, key_len, pieces + 1, &n_pieces)) goto bad_record;
        double age = isfinite(last) && last < wall ? wall - last : 0;
        int rc =
            mnemo__cache_load(f->cache, pieces, n_pieces + 1, vec, n_tokens, hits, now - age, now);
        if (rc < 0) {
            stopped = "cache_full";
            break;
        }
        if (rc == 0) loaded++;
        continue;
    bad_record:
        mnemo__log(MNEMO_LOG_WARN, "cache_file.corrupt",
                   "path=%s record=%llu reason=\"a record fails its checksum or size\" "
                   "loaded_before=%zu action=rebuilt_at_next_write",
                   mnemo__log_quote(q, sizeof q, f->path), (unsigned long long)i, loaded);
        pthread_mutex_lock(&f->mu);
        f->st.rejected++;
        pthread_mutex_unlock(&f->mu);
        goto done;
    }
    mnemo__log(MNEMO_LOG_INFO, "cache_file.loaded", "path=%s entries=%zu of=%llu ms=%.1f%s%s",
               mnemo__log_quote(q, sizeof q, f->path), loaded, (unsigned long long)n_entries,
               (mnemo__now() - t0) * 1e3, stopped ? " stopped=" : "", stopped ? stopped : "");
    if (stopped && !strcmp(stopped, "budget"))
        mnemo__log(MNEMO_LOG_WARN, "cache_file.budget",
                   "path=%s loaded=%zu of=%llu reason=\"--warm-budget-ms reached\"",
                   mnemo__log_quote(q, sizeof q, f->path), loaded, (unsigned long long)n_entries);
    /* a good file that nothing changes afterwards need not be written again */
    pthread_mutex_lock(&f->wmu);
    f->written_version = mnemo__cache_version(f->cache);
    f->have_written = true;
    pthread_mutex_unlock(&f->wmu);
    pthread_mutex_lock(&f->mu);
    f->st.file_bytes = (size_t)size;
    f->st.file_entries = (size_t)n_entries;
    pthread_mutex_unlock(&f->mu);
done:
    mnemo__free(buf);
    fclose(fp);
    pthread_mutex_lock(&f->mu);
    f->st.load_seconds = mnemo__now() - t0;
    pthread_mutex_unlock(&f->mu);
    if (loaded_out) *loaded_out = loaded;
}

/* ------------------------------------------------------------- writing */

typedef struct scored {
    double score;
    size_t i;
} scored;

static int by_score(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* One write of the whole cache, if it changed since the last one. Called
 * with f->wmu held (the file's lock, not the cache's: requests never wait
 * for it). */
static int write_locked(mnemo_cache_file *f, mnemo_error *err) {
    uint64_t version = mnemo__cache_version(f->cache);
    if (f->have_written && version == f->written_version) return MNEMO_OK;
    mnemo_cache_snapshot snap;
    double ts = mnemo__now();
    if (mnemo__cache_snapshot(f->cache, 1, &snap))
        return mnemo__fail(err, MNEMO_ENOMEM, "cache file: out of memory for a snapshot");
    double now = mnemo__now(), wall = wall_now(), snap_ms = (now - ts) * 1e3;
    size_t n = snap.n, vbytes = f->width * sizeof(float), id_len = strlen(f->identity);
    scored *order = mnemo__malloc_array(n ? n : 1, sizeof *order);
    unsigned char *heads = mnemo__malloc_array(n ? n : 1, RECORD_BYTES);
    mnemo_piece *pieces = mnemo__malloc_array(3 * n + 2, sizeof *pieces);
    int rc = MNEMO_OK;
    if (!order || !heads || !pieces) {
        rc = mnemo__fail(err, MNEMO_ENOMEM, "cache file: out of memory for %zu entries", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        double age = now - snap.items[i].used;
        if (age < 0) age = 0;
        order[i] = (scored){((double)snap.items[i].hits + 1.0) * exp2(-age / HALF_LIFE), i};
    }
    qsort(order, n, sizeof *order, by_score);
    unsigned char h[HEADER_BYTES] = {0};
    size_t total = HEADER_BYTES + id_len, k = 2;
    uint64_t count = 0;
    for (size_t j = 0; j < n; j++) {
        const mnemo_cache_item *it = &snap.items[order[j].i];
        size_t rec = RECORD_BYTES + it->key_len + vbytes;
        if (it->key_len > MAX_KEY || it->n_tokens > UINT32_MAX) continue;
        if (rec > f->max_bytes || total > f->max_bytes - rec) break; /* the rest is less used */
        unsigned char *r = heads + count * RECORD_BYTES;
        uint32_t key_len = (uint32_t)it->key_len, n_tokens = (uint32_t)it->n_tokens, zero = 0;
        double last = wall - (now - it->used);
        memcpy(r, &key_len, 4);
        memcpy(r + 4, &n_tokens, 4);
        memcpy(r + 8, &it->hits, 4);
        memcpy(r + 12, &zero, 4);
        memcpy(r + 16, &last, 8);
        uint64_t sum = record_checksum(f, r, it->key, it->key_len, it->vec);
        memcpy(r + 24, &sum, 8);
        pieces[k++] = (mnemo_piece){r, RECORD_BYTES};
        pieces[k++] = (mnemo_piece){it->key, it->key_len};
        pieces[k++] = (mnemo_piece){it->vec, vbytes};
        total += rec;
        count++;
    }
    uint32_t version_field = FILE_VERSION, width = (uint32_t)f->width, idl = (uint32_t)id_len;
    uint64_t body = total - HEADER_BYTES - id_len;
    memcpy(h, FILE_MAGIC, 8);
    memcpy(h + 8, &version_field, 4);
    memcpy(h + 12, &width, 4);
    memcpy(h + 16, &f->identity_hash, 8);
    memcpy(h + 24, &count, 8);
    memcpy(h + 32, &body, 8);
    memcpy(h + 40, &idl, 4);
    uint64_t hsum = header_checksum(h, f->identity, id_len);
    memcpy(h + 56, &hsum, 8);
    pieces[0] = (mnemo_piece){h, HEADER_BYTES};
    pieces[1] = (mnemo_piece){f->identity, id_len};
    double t0 = mnemo__now();
    rc = mnemo__file_write_atomic_pieces(f->path, pieces, k, err);
    if (!rc) {
        f->written_version = snap.version;
        f->have_written = true;
        pthread_mutex_lock(&f->mu);
        f->st.writes++;
        f->st.file_bytes = total;
        f->st.file_entries = (size_t)count;
        pthread_mutex_unlock(&f->mu);
        char q[1024];
        mnemo__log(MNEMO_LOG_DEBUG, "cache_file.written",
                   "path=%s entries=%llu bytes=%zu snapshot_ms=%.2f write_ms=%.1f",
                   mnemo__log_quote(q, sizeof q, f->path), (unsigned long long)count, total,
                   snap_ms, (mnemo__now() - t0) * 1e3);
    }
done:
    if (rc) {
        pthread_mutex_lock(&f->mu);
        f->st.write_errors++;
        pthread_mutex_unlock(&f->mu);
    }
    mnemo__free(order);
    mnemo__free(heads);
    mnemo__free(pieces);
    mnemo__cache_snapshot_free(&snap);
    return rc;
}

int mnemo__cache_file_write(mnemo_cache_file *f, mnemo_error *err) {
    if (!f) return MNEMO_OK;
    pthread_mutex_lock(&f->wmu);
    int rc = write_locked(f, err);
    pthread_mutex_unlock(&f->wmu);
    return rc;
}

static void write_logged(mnemo_cache_file *f) {
    mnemo_error err;
    if (mnemo__cache_file_write(f, &err)) {
        char q[1024], m[1024];
        mnemo__log(MNEMO_LOG_WARN, "cache_file.write_failed", "path=%s error=%s",
                   mnemo__log_quote(q, sizeof q, f->path),
                   mnemo__log_quote(m, sizeof m, err.message));
    }
}

static void *writer(void *arg) {
    mnemo_cache_file *f = arg;
    pthread_mutex_lock(&f->mu);
    while (!f->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double t = (double)ts.tv_nsec * 1e-9 + f->interval;
        ts.tv_sec += (time_t)t;
        ts.tv_nsec = (long)((t - (double)(time_t)t) * 1e9);
        pthread_cond_timedwait(&f->cv, &f->mu, &ts);
        if (f->stop) break;
        pthread_mutex_unlock(&f->mu);
        write_logged(f);
        pthread_mutex_lock(&f->mu);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

int mnemo__cache_file_start(mnemo_cache_file *f, mnemo_error *err) {
    if (!f || f->started) return MNEMO_OK;
    if (pthread_create(&f->thread, NULL, writer, f))
        return mnemo__fail(err, MNEMO_ENOMEM, "cache file: cannot start its writer thread");
    f->started = true;
    return MNEMO_OK;
}

void mnemo__cache_file_close(mnemo_cache_file *f) {
    if (!f) return;
    if (f->started) {
        pthread_mutex_lock(&f->mu);
        f->stop = true;
        pthread_cond_signal(&f->cv);
        pthread_mutex_unlock(&f->mu);
        pthread_join(f->thread, NULL);
    }
    /* the last write: what was served since the previous one */
    write_logged(f);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    pthread_mutex_destroy(&f->wmu);
    mnemo__free(f->path);
    mnemo__free(f->identity);
    mnemo__free(f->model_id);
    mnemo__free(f);
}

void mnemo__cache_file_stats(mnemo_cache_file *f, mnemo_cache_file_stats *out) {
    memset(out, 0, sizeof *out);
    if (!f) return;
    pthread_mutex_lock(&f->mu);
    *out = f->st;
    pthread_mutex_unlock(&f->mu);
}
