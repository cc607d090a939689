/*
 * graph_file.c — the HNSW graph of an index kept on disk across
 * restarts (DATA_DIR/graph.hnsw), so that opening a large store does not
 * rebuild the graph (20 min at a million memories on one core). The file is
 * a cache: the rows the index is loaded from (SQLite's) stay the truth, and
 * any doubt means a rebuild.
 *
 * Layout (native byte order and widths, x86-64 little-endian; a file from
 * another layout fails the magic or the sizes and is rebuilt):
 *   header   magic "MNHNSW01", u32 version, u32 dim, u32 m, u32 ef_construction,
 *            u32 n_nodes, u32 n_live, u32 n_free, i32 max_level, i64 entry,
 *            u64 rng, u64 content (below)
 *   nodes    per node id < n_nodes: i64 seq (-1: a free id), u8 level,
 *            the level-0 row (1 + 2m u32: count, ids), level rows of 1 + m
 *   free     n_free u32 ids
 *   trailer  u64 checksum of everything before it (mnemo__hash64 chained)
 *
 * A node is stored by its memory's seq, not its index position (positions
 * move when a memory is deleted; a load orders by seq). The file is used
 * only when its graph parameters equal the store's, every count, level, link
 * and id is in range, the checksum holds, every memory loaded maps to
 * exactly one live node and back, and `content` — the sum over memories of
 * a hash of (seq, int8 codes, scale) — equals the loaded index's: so a
 * store changed after the save (a write after the last clean close, a
 * SIGKILL, an expiry between close and open, another model precision) is
 * rebuilt. Saved by the builder once a build is complete and at close,
 * through a temporary file, fsync and rename (a crash mid-save leaves the
 * old file or none).
 */
#include "index.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAGIC "MNHNSW01"
#define VERSION 1u

typedef struct file_header {
    char magic[8];
    uint32_t version, dim, m, ef_construction, n_nodes, n_live, n_free;
    int32_t max_level;
    int64_t entry;
    uint64_t rng, content;
} file_header;

_Static_assert(sizeof(file_header) == MNEMO_GRAPH_FILE_HEADER, "the graph file header's size");

typedef struct hashed_file {
    FILE *f;
    uint64_t h;
    int failed;
} hashed_file;

static void put(hashed_file *w, const void *p, size_t n) {
    if (w->failed || n == 0) return;
    if (fwrite(p, 1, n, w->f) != n) w->failed = 1;
    w->h = mnemo__hash64(p, n, w->h);
}

static int get(hashed_file *r, void *p, size_t n) {
    if (r->failed) return 0;
    if (n == 0) return 1; /* as put(): nothing hashed */
    if (fread(p, 1, n, r->f) != n) {
        r->failed = 1;
        return 0;
    }
    r->h = mnemo__hash64(p, n, r->h);
    return 1;
}

/* The hash of one memory's identity and vector codes; summed, the order of
 * the index does not matter. */
static uint64_t entry_hash(const mnemo_index *ix, size_t pos) {
    uint64_t h = mnemo__hash64(&ix->entries[pos].seq, sizeof(int64_t), 0x67726170686e7377ULL);
    h = mnemo__hash64(&ix->code_scale[pos], sizeof(float), h);
    return mnemo__hash64(ix->codes + pos * ix->dim, ix->dim, h);
}

static uint64_t content_hash(const mnemo_index *ix) {
    uint64_t sum = 0;
    for (size_t i = 0; i < ix->n; i++) sum += entry_hash(ix, i);
    return sum;
}

static char *tmp_path(const char *path) {
    size_t plen = strlen(path);
    char *tmp = mnemo__malloc(plen + 5);
    if (tmp) {
        memcpy(tmp, path, plen);
        memcpy(tmp + plen, ".tmp", 5);
    }
    return tmp;
}

int mnemo__graph_write(const mnemo_index *ix, const char *path) {
    const mnemo_hnsw *h = &ix->graph;
    if (ix->graph_state != MNEMO_GRAPH_READY || h->n_live != ix->n) return MNEMO_EINVAL;
    char *tmp = tmp_path(path);
    if (!tmp) return MNEMO_ENOMEM;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        if (fd >= 0) close(fd);
        mnemo__log(MNEMO_LOG_WARN, "store.graph_save_failed", "path=%s reason=\"%s\"", tmp,
                   strerror(errno));
        mnemo__free(tmp);
        return MNEMO_EIO;
    }
    file_header hd;
    memset(&hd, 0, sizeof hd);
    memcpy(hd.magic, MAGIC, 8);
    hd.version = VERSION;
    hd.dim = (uint32_t)ix->dim;
    hd.m = (uint32_t)h->m;
    hd.ef_construction = (uint32_t)h->ef_construction;
    hd.n_nodes = h->n_nodes;
    hd.n_live = (uint32_t)h->n_live;
    hd.n_free = (uint32_t)h->n_free;
    hd.max_level = h->max_level;
    hd.entry = h->entry;
    hd.rng = h->rng;
    hd.content = content_hash(ix);
    hashed_file w = {f, 0, 0};
    put(&w, &hd, sizeof hd);
    for (uint32_t node = 0; node < h->n_nodes && !w.failed; node++) {
        int64_t seq = h->pos[node] >= 0 ? ix->entries[h->pos[node]].seq : -1;
        uint8_t level = h->pos[node] >= 0 ? h->level[node] : 0;
        put(&w, &seq, sizeof seq);
        put(&w, &level, 1);
        if (seq < 0) continue;
        put(&w, h->links0 + (size_t)node * (h->m0 + 1), (h->m0 + 1) * sizeof(uint32_t));
        if (level) put(&w, h->upper[node], (size_t)level * (h->m + 1) * sizeof(uint32_t));
    }
    put(&w, h->free_ids, h->n_free * sizeof(uint32_t));
    uint64_t sum = w.h;
    if (!w.failed && fwrite(&sum, sizeof sum, 1, f) != 1) w.failed = 1;
    if (fclose(f) != 0) w.failed = 1;
    if (w.failed) {
        mnemo__log(MNEMO_LOG_WARN, "store.graph_save_failed", "path=%s reason=\"%s\"", tmp,
                   strerror(errno));
        unlink(tmp);
    }
    mnemo__free(tmp);
    return w.failed ? MNEMO_EIO : MNEMO_OK;
}

int mnemo__graph_commit(const char *path) {
    char *tmp = tmp_path(path);
    if (!tmp) return MNEMO_ENOMEM;
    mnemo_error err;
    int rc = mnemo__file_commit(tmp, path, &err);
    if (rc)
        mnemo__log(MNEMO_LOG_WARN, "store.graph_save_failed", "path=%s reason=\"%s\"", path,
                   err.message);
    mnemo__free(tmp);
    return rc;
}

int mnemo__graph_save(const mnemo_index *ix, const char *path) {
    int rc = mnemo__graph_write(ix, path);
    return rc ? rc : mnemo__graph_commit(path);
}

/* Position of seq in an index loaded in seq order (ascending), or -1. */
static long find_sorted(const mnemo_index *ix, int64_t seq) {
    size_t lo = 0, hi = ix->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->entries[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ix->n && ix->entries[lo].seq == seq ? (long)lo : -1;
}

#define REJECT(...)                          \
    do {                                     \
        snprintf(why, why_len, __VA_ARGS__); \
        goto reject;                         \
    } while (0)

int mnemo__graph_load(mnemo_index *ix, const char *path, char *why, size_t why_len) {
    mnemo_hnsw *h = &ix->graph;
    FILE *f = fopen(path, "rbe");
    if (!f) {
        snprintf(why, why_len, "%s", errno == ENOENT ? "no graph file" : strerror(errno));
        return 0;
    }
    uint8_t *mapped = NULL;
    hashed_file r = {f, 0, 0};
    file_header hd;
    if (!get(&r, &hd, sizeof hd)) REJECT("a short header");
    if (memcmp(hd.magic, MAGIC, 8) || hd.version != VERSION)
        REJECT("not a version %u graph file", VERSION);
    if (ix->graph_state != MNEMO_GRAPH_NONE || h->n_nodes) REJECT("the index has a graph already");
    if (hd.dim != ix->dim || hd.m != h->m || hd.ef_construction != h->ef_construction)
        REJECT("built with dim %u M %u ef_construction %u, the store has %zu %zu %zu", hd.dim, hd.m,
               hd.ef_construction, ix->dim, h->m, h->ef_construction);
    if (hd.n_live != ix->n) REJECT("%u memories in the graph, %zu in the store", hd.n_live, ix->n);
    if ((uint64_t)hd.n_live + hd.n_free != hd.n_nodes) REJECT("node counts that do not add up");
    if (hd.max_level < 0 || hd.max_level > MNEMO_HNSW_MAX_LEVEL)
        REJECT("a top level of %d", hd.max_level);
    if (hd.n_live ? hd.entry < 0 || hd.entry >= (int64_t)hd.n_nodes : hd.entry != -1)
        REJECT("a bad entry point");
    if (hd.content != content_hash(ix)) REJECT("memories changed since it was saved");
    if (hd.n_free > 4 * (uint64_t)hd.n_live + 4096)
        REJECT("%u free ids for %u nodes", hd.n_free, hd.n_live);
    if (mnemo__hnsw_reserve(h, hd.n_nodes)) REJECT("out of memory");
    mapped = mnemo__calloc(ix->n + 1, 1);
    if (!mapped) REJECT("out of memory");
    for (uint32_t node = 0; node < hd.n_nodes; node++) {
        int64_t seq;
        uint8_t level;
        if (!get(&r, &seq, sizeof seq) || !get(&r, &level, 1)) REJECT("cut short at node %u", node);
        h->upper[node] = NULL;
        h->links0[(size_t)node * (h->m0 + 1)] = 0;
        h->n_nodes = node + 1;
        if (seq < 0) {
            h->pos[node] = -1;
            h->level[node] = 0;
            continue;
        }
        long pos = find_sorted(ix, seq);
        if (pos < 0 || mapped[pos])
            REJECT("node %u is memory %lld, %s", node, (long long)seq,
                   pos < 0 ? "not in the store" : "twice");
        if (level > MNEMO_HNSW_MAX_LEVEL || level > hd.max_level)
            REJECT("node %u at level %u", node, level);
        mapped[pos] = 1;
        h->pos[node] = pos;
        h->level[node] = level;
        ix->entries[pos].node = node;
        uint32_t *row = h->links0 + (size_t)node * (h->m0 + 1);
        if (!get(&r, row, (h->m0 + 1) * sizeof(uint32_t))) REJECT("cut short at node %u", node);
        if (row[0] > h->m0) REJECT("node %u with %u links", node, row[0]);
        if (level) {
            h->upper[node] = mnemo__calloc((size_t)level * (h->m + 1), sizeof(uint32_t));
            if (!h->upper[node]) REJECT("out of memory");
            if (!get(&r, h->upper[node], (size_t)level * (h->m + 1) * sizeof(uint32_t)))
                REJECT("cut short at node %u", node);
            for (int l = 0; l < level; l++)
                if (h->upper[node][(size_t)l * (h->m + 1)] > h->m)
                    REJECT("node %u with too many links", node);
        }
    }
    /* every link in range (a link to a free id is allowed: hnsw.c skips it) */
    for (uint32_t node = 0; node < hd.n_nodes; node++) {
        if (h->pos[node] < 0) continue;
        for (int l = 0; l <= h->level[node]; l++) {
            const uint32_t *row = l == 0 ? h->links0 + (size_t)node * (h->m0 + 1)
                                         : h->upper[node] + (size_t)(l - 1) * (h->m + 1);
            for (uint32_t i = 1; i <= row[0]; i++)
                if (row[i] >= hd.n_nodes)
                    REJECT("node %u links to %u of %u", node, row[i], hd.n_nodes);
        }
    }
    if (!get(&r, h->free_ids, (size_t)hd.n_free * sizeof(uint32_t)))
        REJECT("cut short in the free list");
    for (uint32_t i = 0; i < hd.n_free; i++)
        if (h->free_ids[i] >= hd.n_nodes || h->pos[h->free_ids[i]] >= 0) REJECT("a bad free id");
    uint64_t sum_want = r.h, sum;
    if (fread(&sum, sizeof sum, 1, f) != 1 || sum != sum_want)
        REJECT("a checksum that does not match");
    if (fgetc(f) != EOF) REJECT("bytes after the end");
    if (hd.n_live && (h->pos[hd.entry] < 0 || h->level[hd.entry] != hd.max_level))
        REJECT("a bad entry point");
    h->n_free = hd.n_free;
    h->n_live = hd.n_live;
    h->entry = hd.entry;
    h->max_level = hd.max_level;
    h->rng = hd.rng;
    ix->graph_state = MNEMO_GRAPH_READY;
    ix->build_cursor = ix->n;
    mnemo__free(mapped);
    fclose(f);
    return 1;
reject:
    mnemo__free(mapped);
    fclose(f);
    /* back to an empty graph of the same parameters (rng untouched so far): the caller builds one */
    {
        size_t dim = h->dim, m = h->m, efc = h->ef_construction;
        uint64_t rng = h->rng;
        mnemo__hnsw_free(h);
        mnemo__hnsw_init(h, dim, m, efc, rng);
    }
    for (size_t i = 0; i < ix->n; i++) ix->entries[i].node = -1;
    return 0;
}
