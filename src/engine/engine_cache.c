/*
 * engine_cache.c — the packed weights cached beside the model (in the cache
 * folder), so the next start maps them instead of packing 100 M weights
 * again. The file is named by the model folder's path, the sizes and
 * modification times of its weight files, the precision and the layout
 * version, and its header repeats them; each segment's size is checked
 * against what the loader asks for, in the same order. A damaged or stale
 * file is ignored and rewritten. Not for the tokenizer (its own cache).
 */
#include "engine_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PACK_MAGIC "MNEMOPAK"
#define PACK_VERSION 6u
#define MAX_SEGMENTS 4096

typedef struct pack_header {
    char magic[8];
    uint32_t version, precision;
    uint64_t key; /* hash of the sources' identity, see cache_key */
    uint64_t n_segments, total_size;
} pack_header;

static uint64_t cache_key(const mnemo_engine *e, const char *const *files, int n_files) {
    uint64_t h = mnemo__hash64(e->cfg.dir, strlen(e->cfg.dir), 0x5eed);
    /* the layout depends on the kernels: bf16 pairs for vdpbf16ps or for the
     * FMA, int8 quads for an 8-bit dot product */
    uint32_t layout[6] = {PACK_VERSION,
                          (uint32_t)e->precision,
                          MNEMO_PANEL,
                          e->kernels->gemm_packed_bf16_dp != NULL,
                          e->kernels->gemm_packed_u8 != NULL,
                          e->kernels->gemm_packed_bf16_pairs != NULL};
    h = mnemo__hash64(layout, sizeof layout, h);
    for (int i = 0; i < n_files; i++) {
        struct stat st;
        uint64_t id[4] = {0, 0, 0, 0};
        if (stat(files[i], &st) == 0) {
            id[0] = (uint64_t)st.st_size;
            id[1] = (uint64_t)st.st_mtim.tv_sec;
            id[2] = (uint64_t)st.st_mtim.tv_nsec;
            id[3] = (uint64_t)st.st_ino;
        }
        h = mnemo__hash64(id, sizeof id, h);
    }
    return h;
}

void mnemo__engine_cache_begin(mnemo_engine *e, const char *cache_dir) {
    char dir[4096];
    if (!mnemo__cache_dir(cache_dir, dir, sizeof dir)) return;
    char files[1 + MNEMO_MAX_DENSE][4400];
    const char *names[1 + MNEMO_MAX_DENSE];
    snprintf(files[0], sizeof files[0], "%s/model.safetensors", e->cfg.dir);
    if (e->cfg.gguf_path[0]) snprintf(files[0], sizeof files[0], "%s", e->cfg.gguf_path);
    names[0] = files[0];
    for (int i = 0; i < e->cfg.n_dense && !e->cfg.gguf_path[0]; i++) {
        snprintf(files[i + 1], sizeof files[i + 1], "%s/%s/model.safetensors", e->cfg.dir,
                 e->cfg.dense[i].dir);
        names[i + 1] = files[i + 1];
    }
    e->cache_key = cache_key(e, names, e->cfg.gguf_path[0] ? 1 : 1 + e->cfg.n_dense);
    snprintf(e->cache_path, sizeof e->cache_path, "%.4000s/packed/%016llx.mpak", dir,
             (unsigned long long)e->cache_key);
    mnemo_error err;
    mnemo_file_map map;
    if (mnemo__file_map(e->cache_path, &map, &err) != MNEMO_OK) {
        e->cache_writing = true;
        return;
    }
    const pack_header *h = (const pack_header *)map.data;
    bool ok = map.size >= sizeof *h && !memcmp(h->magic, PACK_MAGIC, 8) &&
              h->version == PACK_VERSION && h->precision == (uint32_t)e->precision &&
              h->key == e->cache_key && h->total_size == map.size &&
              h->n_segments <= MAX_SEGMENTS && sizeof *h + h->n_segments * 16 <= map.size;
    if (ok) {
        e->cache_map = map;
        e->cache_reading = true;
        e->cache_next = 0;
        return;
    }
    mnemo__log(MNEMO_LOG_WARN, "engine.cache_rejected", "path=%s", e->cache_path);
    mnemo__file_unmap(&map);
    e->cache_writing = true;
}

/* The next cached segment if it has exactly `bytes`; NULL otherwise (and the
 * cache is then abandoned: the loader packs from the source instead). */
const void *mnemo__engine_cache_take(mnemo_engine *e, size_t bytes) {
    if (!e->cache_reading) return NULL;
    const pack_header *h = (const pack_header *)e->cache_map.data;
    const uint64_t *table = (const uint64_t *)(e->cache_map.data + sizeof *h);
    if (e->cache_next >= h->n_segments) goto stale;
    uint64_t off = table[2 * e->cache_next], size = table[2 * e->cache_next + 1];
    if (size != bytes || off % 64 || off > e->cache_map.size || size > e->cache_map.size - off)
        goto stale;
    e->cache_next++;
    return e->cache_map.data + off;
stale:
    mnemo__log(MNEMO_LOG_WARN, "engine.cache_stale", "path=%s segment=%zu", e->cache_path,
               e->cache_next);
    unlink(e->cache_path); /* the next start writes a good one */
    e->cache_reading = false;
    e->cache_failed = true;
    return NULL;
}

/* Records a freshly packed segment for the file written at the end. */
void mnemo__engine_cache_note(mnemo_engine *e, const void *data, size_t bytes) {
    if (!e->cache_writing || e->n_segments >= MAX_SEGMENTS) {
        e->cache_writing = false;
        return;
    }
    e->segments[e->n_segments].data = data;
    e->segments[e->n_segments].size = bytes;
    e->n_segments++;
}

void mnemo__engine_cache_finish(mnemo_engine *e) {
    if (e->cache_reading && !e->cache_failed) {
        const pack_header *h = (const pack_header *)e->cache_map.data;
        if (e->cache_next == h->n_segments) {
            mnemo__log(MNEMO_LOG_INFO, "engine.cache_used", "path=%s segments=%zu", e->cache_path,
                       e->cache_next);
            return;
        }
    }
    if (!e->cache_writing || e->cache_failed || e->n_segments == 0) return;
    size_t head = (sizeof(pack_header) + e->n_segments * 16 + 63) & ~(size_t)63;
    size_t total = head;
    for (size_t i = 0; i < e->n_segments; i++) total += (e->segments[i].size + 63) & ~(size_t)63;
    /* header + table in one small buffer; the segments are written from where they live */
    uint8_t *buf = mnemo__calloc(1, head);
    mnemo_piece *pieces = mnemo__malloc_array(1 + 2 * e->n_segments, sizeof(mnemo_piece));
    if (!buf || !pieces) {
        mnemo__free(buf);
        mnemo__free(pieces);
        return;
    }
    pack_header *h = (pack_header *)buf;
    memcpy(h->magic, PACK_MAGIC, 8);
    h->version = PACK_VERSION;
    h->precision = (uint32_t)e->precision;
    h->key = e->cache_key;
    h->n_segments = e->n_segments;
    h->total_size = total;
    uint64_t *table = (uint64_t *)(buf + sizeof *h);
    size_t off = head, np = 0;
    pieces[np++] = (mnemo_piece){buf, head};
    for (size_t i = 0; i < e->n_segments; i++) {
        size_t size = e->segments[i].size, padded = (size + 63) & ~(size_t)63;
        table[2 * i] = off;
        table[2 * i + 1] = size;
        pieces[np++] = (mnemo_piece){e->segments[i].data, size};
        if (padded > size) pieces[np++] = (mnemo_piece){NULL, padded - size};
        off += padded;
    }
    char dir[sizeof e->cache_path];
    memcpy(dir, e->cache_path, sizeof dir);
    char *slash = strrchr(dir, '/');
    mnemo_error err;
    if (slash) *slash = 0;
    if (mnemo__mkdirs(dir, &err) ||
        mnemo__file_write_atomic_pieces(e->cache_path, pieces, np, &err))
        mnemo__log(MNEMO_LOG_WARN, "engine.cache_write_failed", "reason=\"%s\"", err.message);
    else
        mnemo__log(MNEMO_LOG_INFO, "engine.cache_written", "path=%s bytes=%zu", e->cache_path,
                   total);
    mnemo__free(buf);
    mnemo__free(pieces);
}
