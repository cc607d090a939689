/*
 * index.c — the in-memory vector index of a store: every live memory's
 * vector in one contiguous array with the fields the search filters on
 * (scope, expiry, metadata), the dot product the exact search runs, and the
 * upkeep of the HNSW graph (hnsw.c) over the vectors' int8 codes: which
 * entries are linked in, moves and removals. Not the search itself
 * (nearest.c), not the thread that builds the graph nor persistence (the
 * store that holds the index keeps the rows and rebuilds the index from
 * them at open: sqlite/open.c); the graph is loaded from its file
 * (graph_file.c) when the file matches the rows, else built again.
 *
 * The graph's life: none while the index holds fewer than graph_threshold
 * entries (exact search is fast enough there and a graph costs ~1 ms per
 * add); then BUILDING, while the owner's builder thread links the entries in
 * a few at a time (with the lock held for reading: exact searches go on) and
 * adds only append; then READY, where every add and vector change is linked
 * in at once and removals unlink. It never goes back (the graph is kept if
 * the index shrinks; nearest.c decides per search which path to take).
 */
#include "index.h"
#include "../../kernels/kernels.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

int mnemo__index_init(mnemo_index *ix, size_t dim, size_t graph_threshold, size_t m,
                      size_t ef_construction, size_t ef_search) {
    memset(ix, 0, sizeof *ix);
    ix->dim = dim;
    ix->graph_threshold = graph_threshold ? graph_threshold : MNEMO_GRAPH_THRESHOLD;
    ix->ef_search = ef_search ? ef_search : MNEMO_HNSW_EF_SEARCH;
    return mnemo__hnsw_init(&ix->graph, dim, m ? m : MNEMO_HNSW_M,
                            ef_construction ? ef_construction : MNEMO_HNSW_EF_CONSTRUCTION,
                            MNEMO_HNSW_SEED);
}

static void entry_clear(mnemo_index_entry *e) {
    mnemo__free(e->ns);
    mnemo__free(e->user_id);
    mnemo__free(e->agent_id);
    mnemo__free(e->session_id);
    json_decref(e->meta);
}

void mnemo__index_free(mnemo_index *ix) {
    for (size_t i = 0; i < ix->n; i++) entry_clear(&ix->entries[i]);
    mnemo__free(ix->entries);
    mnemo__free(ix->vectors);
    mnemo__free(ix->codes);
    mnemo__free(ix->code_scale);
    mnemo__free(ix->bits);
    mnemo__hnsw_free(&ix->graph);
    memset(ix, 0, sizeof *ix);
}

float mnemo__quantize_i8(const float *x, size_t dim, int8_t *out) {
    float mx = 0;
    for (size_t i = 0; i < dim; i++) mx = fmaxf(mx, fabsf(x[i]));
    if (!(mx > 0) || !isfinite(mx)) {
        memset(out, 0, dim);
        return 0;
    }
    float inv = 127.0f / mx;
    for (size_t i = 0; i < dim; i++)
        out[i] = (int8_t)lrintf(fminf(127.0f, fmaxf(-127.0f, x[i] * inv)));
    return mx / 127.0f;
}

mnemo_codes mnemo__index_codes(const mnemo_index *ix) {
    return (mnemo_codes){ix->codes, ix->code_scale};
}

void mnemo__binarize(const float *x, size_t dim, uint64_t *out) {
    size_t words = (dim + 63) / 64;
    memset(out, 0, words * sizeof *out);
    for (size_t d = 0; d < dim; d++)
        if (x[d] > 0) out[d / 64] |= 1ULL << (d % 64);
}

void mnemo__index_set_binary(mnemo_index *ix) {
    ix->binary_only = 1;
    ix->words = (ix->dim + 63) / 64;
    /* no graph: the scan of the bits is cheap next to the rows a search reads
     * after it, and the links would take more memory than the bits
     * (docs/memories.md, binary index vectors) */
    ix->graph_threshold = SIZE_MAX;
    if (!ix->binary_candidates) ix->binary_candidates = MNEMO_BINARY_CANDIDATES;
    ix->binary_per_result = MNEMO_BINARY_PER_RESULT;
}

/* The entry at pos gets vec: its bits (binary_only), or its codes and the
 * f32 copy unless int8_only. */
static void store_vector(mnemo_index *ix, size_t pos, const float *vec) {
    if (ix->binary_only) {
        mnemo__binarize(vec, ix->dim, ix->bits + pos * ix->words);
        return;
    }
    if (ix->vectors) memcpy(ix->vectors + pos * ix->dim, vec, ix->dim * sizeof(float));
    ix->code_scale[pos] = mnemo__quantize_i8(vec, ix->dim, ix->codes + pos * ix->dim);
}

/* Room for cap entries: the entries, and the vectors in the index's form. */
static int index_grow(mnemo_index *ix, size_t cap) {
    size_t vbytes, cbytes, bbytes;
    if (!mnemo__mul_size(cap, ix->dim * sizeof(float), &vbytes) ||
        !mnemo__mul_size(cap, ix->dim, &cbytes) ||
        !mnemo__mul_size(cap, ix->words * sizeof(uint64_t), &bbytes))
        return MNEMO_ENOMEM;
    mnemo_index_entry *ne = mnemo__realloc(ix->entries, cap * sizeof *ne);
    if (!ne) return MNEMO_ENOMEM;
    ix->entries = ne;
    if (ix->binary_only) {
        uint64_t *nb = mnemo__realloc(ix->bits, bbytes);
        if (!nb) return MNEMO_ENOMEM;
        ix->bits = nb;
        ix->cap = cap;
        return MNEMO_OK;
    }
    if (!ix->int8_only) {
        float *nv = mnemo__realloc(ix->vectors, vbytes);
        if (!nv) return MNEMO_ENOMEM;
        ix->vectors = nv;
    }
    int8_t *nc = mnemo__realloc(ix->codes, cbytes);
    if (!nc) return MNEMO_ENOMEM;
    ix->codes = nc;
    float *ns = mnemo__realloc(ix->code_scale, cap * sizeof *ns);
    if (!ns) return MNEMO_ENOMEM;
    ix->code_scale = ns;
    ix->cap = cap;
    return MNEMO_OK;
}

int mnemo__index_add(mnemo_index *ix, mnemo_index_entry *e, const float *vec) {
    if (ix->n == ix->cap && index_grow(ix, ix->cap ? ix->cap * 2 : 256)) return MNEMO_ENOMEM;
    ix->entries[ix->n] = *e;
    ix->entries[ix->n].node = -1;
    store_vector(ix, ix->n, vec);
    if (ix->graph_state == MNEMO_GRAPH_READY) {
        uint32_t node;
        if (mnemo__hnsw_insert(&ix->graph, mnemo__index_codes(ix), ix->n, &node))
            return MNEMO_ENOMEM; /* e stays the caller's */
        ix->graph_changes++;
        ix->entries[ix->n].node = node;
    }
    ix->n++;
    memset(e, 0, sizeof *e);
    return MNEMO_OK;
}

/* A linear scan: ~0.1 ms per 100k entries, far below the cost of the row
 * write that precedes every call. */
long mnemo__index_find(const mnemo_index *ix, int64_t seq) {
    for (size_t i = 0; i < ix->n; i++)
        if (ix->entries[i].seq == seq) return (long)i;
    return -1;
}

void mnemo__index_remove(mnemo_index *ix, int64_t seq) {
    long p = mnemo__index_find(ix, seq);
    if (p < 0) return;
    /* unlinked while its vector is still there: the repair compares it */
    if (ix->entries[p].node >= 0) {
        mnemo__hnsw_remove(&ix->graph, mnemo__index_codes(ix), (uint32_t)ix->entries[p].node);
        ix->graph_changes++;
    }
    entry_clear(&ix->entries[p]);
    size_t last = ix->n - 1;
    if ((size_t)p != last) {
        ix->entries[p] = ix->entries[last];
        if (ix->vectors)
            memcpy(ix->vectors + (size_t)p * ix->dim, ix->vectors + last * ix->dim,
                   ix->dim * sizeof(float));
        if (ix->bits)
            memcpy(ix->bits + (size_t)p * ix->words, ix->bits + last * ix->words,
                   ix->words * sizeof(uint64_t));
        if (ix->codes) {
            memcpy(ix->codes + (size_t)p * ix->dim, ix->codes + last * ix->dim, ix->dim);
            ix->code_scale[p] = ix->code_scale[last];
        }
        if (ix->entries[p].node >= 0)
            mnemo__hnsw_move(&ix->graph, (uint32_t)ix->entries[p].node, (size_t)p);
        else if ((size_t)p < ix->build_cursor)
            ix->build_cursor = (size_t)p; /* the builder must come back */
    }
    ix->n--;
    if (ix->build_cursor > ix->n) ix->build_cursor = ix->n;
}

int mnemo__index_set_vector(mnemo_index *ix, size_t pos, const float *vec) {
    mnemo_index_entry *e = &ix->entries[pos];
    int linked = e->node >= 0;
    if (linked) mnemo__hnsw_remove(&ix->graph, mnemo__index_codes(ix), (uint32_t)e->node);
    e->node = -1;
    store_vector(ix, pos, vec);
    ix->graph_changes += linked;
    if (!linked) return MNEMO_OK; /* not in the graph yet: the builder links the new vector */
    uint32_t node;
    if (mnemo__hnsw_insert(&ix->graph, mnemo__index_codes(ix), pos, &node)) {
        mnemo__log(MNEMO_LOG_ERROR, "store.graph_oom", "seq=%lld", (long long)e->seq);
        return MNEMO_ENOMEM;
    }
    e->node = node;
    return MNEMO_OK;
}

int mnemo__index_graph_due(mnemo_index *ix) {
    if (ix->graph_state == MNEMO_GRAPH_NONE && ix->graph_threshold != SIZE_MAX &&
        ix->n >= ix->graph_threshold) {
        ix->graph_state = MNEMO_GRAPH_BUILDING;
        ix->build_cursor = 0;
    }
    return ix->graph_state == MNEMO_GRAPH_BUILDING;
}

int mnemo__index_build_step(mnemo_index *ix, size_t max) {
    for (size_t done = 0; ix->build_cursor < ix->n && done < max; ix->build_cursor++) {
        mnemo_index_entry *e = &ix->entries[ix->build_cursor];
        if (e->node >= 0) continue;
        uint32_t node;
        if (mnemo__hnsw_insert(&ix->graph, mnemo__index_codes(ix), ix->build_cursor, &node))
            return -1;
        e->node = node;
        done++;
    }
    return ix->build_cursor >= ix->n;
}

int mnemo__index_graph_ready(mnemo_index *ix) {
    if (ix->graph_state == MNEMO_GRAPH_BUILDING && ix->build_cursor >= ix->n)
        ix->graph_state = MNEMO_GRAPH_READY;
    return ix->graph_state == MNEMO_GRAPH_READY;
}

/* The kernels' dot product (AVX2 + FMA where the CPU has it, chosen once
 * at start): an exact scan and an HNSW walk are little else. */
float mnemo__dot(const float *a, const float *b, size_t n) {
    return mnemo__kernels_best()->dot_f32(a, b, n);
}

float mnemo__index_score_i8(const mnemo_index *ix, size_t pos, const int8_t *qc, float qs) {
    return qs * ix->code_scale[pos] *
           (float)mnemo__kernels_best()->dot_i8(ix->codes + pos * ix->dim, qc, ix->dim);
}

int mnemo__entry_live(const mnemo_index_entry *e, double now) {
    return !(e->expires_at && e->expires_at <= now);
}
