/*
 * nearest.c — the vector search of the index: an exact scan of its f32
 * vectors (or of its int8 codes, or the Hamming distances of its bits, and
 * the best few rescored), or a walk of its HNSW graph rescored in f32, with
 * the caller's scope, expiry and filter checks applied while candidates are
 * ranked. The rows' f32 vectors an int8_only or binary_only index does not
 * keep come through the caller's mnemo_index_vectors callback, so nothing
 * here knows where rows are stored. Not which path a store's search takes
 * around it (the store's read flow) nor the fusion with text search.
 */
#include "index.h"
#include "../../kernels/kernels.h"

#include <stdlib.h>
#include <string.h>

/* Keeps the best `cap` (position, score) pairs, best first. */
static void top_push_pos(mnemo_hnsw_hit *top, size_t *n, size_t cap, size_t pos, double score) {
    if (*n == cap && score <= top[cap - 1].score) return;
    size_t i = *n < cap ? (*n)++ : cap - 1;
    while (i > 0 && top[i - 1].score < score) {
        top[i] = top[i - 1];
        i--;
    }
    top[i] = (mnemo_hnsw_hit){pos, (float)score};
}

static int cmp_hit_desc(const void *a, const void *b) {
    float x = ((const mnemo_hnsw_hit *)a)->score, y = ((const mnemo_hnsw_hit *)b)->score;
    return x < y ? 1 : x > y ? -1 : 0;
}

/*
 * The f32 inner products of n candidates (index positions) with q, sorted
 * best first; returns how many remain. From the index's array, or for an
 * int8_only or binary_only index from the rows' vectors that vectors()
 * fills (a row deleted since the index was read is left out; one whose
 * vector changed meanwhile gets its new vector's score).
 */
static int rescore(const mnemo_index *ix, mnemo_index_vectors vectors, void *vctx, const float *q,
                   mnemo_hnsw_hit *h, size_t *n_io) {
    size_t kept = 0, n = *n_io;
    int rc = MNEMO_OK;
    if (ix->vectors) {
        for (size_t i = 0; i < n; i++)
            h[i].score = mnemo__dot(ix->vectors + h[i].pos * ix->dim, q, ix->dim);
        kept = n;
    } else {
        size_t m = n ? n : 1;
        int64_t *seqs = mnemo__malloc_array(m, sizeof *seqs);
        float *v = mnemo__malloc_array(m, ix->dim * sizeof(float));
        unsigned char *found = mnemo__calloc(m, 1);
        if (!seqs || !v || !found) {
            rc = MNEMO_ENOMEM;
        } else {
            for (size_t i = 0; i < n; i++) seqs[i] = ix->entries[h[i].pos].seq;
            rc = vectors ? vectors(vctx, seqs, n, v, found) : MNEMO_EIO;
        }
        for (size_t i = 0; i < n && !rc; i++)
            if (found[i])
                h[kept++] = (mnemo_hnsw_hit){h[i].pos, mnemo__dot(v + i * ix->dim, q, ix->dim)};
        mnemo__free(seqs);
        mnemo__free(v);
        mnemo__free(found);
    }
    qsort(h, kept, sizeof *h, cmp_hit_desc);
    *n_io = kept;
    return rc;
}

typedef struct both_ctx {
    mnemo_hnsw_accept pre, post;
    void *ctx;
} both_ctx;

static int accept_both(void *ctx, size_t pos) {
    const both_ctx *b = ctx;
    return b->pre(b->ctx, pos) && (!b->post || b->post(b->ctx, pos));
}

/* How many approximate candidates an int8_only exact scan rescores for cap. */
static size_t rescore_depth(size_t cap) { return cap * 4 + 32; }

/* A max-heap of candidates by Hamming distance (the worst on top), so the
 * scan keeps the best `cap` with one comparison for most entries. */
typedef struct far_heap {
    uint32_t *d;
    size_t *pos;
    size_t n, cap;
} far_heap;

static void far_push(far_heap *h, uint32_t d, size_t pos) {
    size_t i;
    if (h->n < h->cap) {
        i = h->n++;
        while (i > 0 && h->d[(i - 1) / 2] < d) {
            h->d[i] = h->d[(i - 1) / 2];
            h->pos[i] = h->pos[(i - 1) / 2];
            i = (i - 1) / 2;
        }
    } else { /* replace the top, sift down */
        i = 0;
        for (;;) {
            size_t c = 2 * i + 1;
            if (c >= h->n) break;
            if (c + 1 < h->n && h->d[c + 1] > h->d[c]) c++;
            if (h->d[c] <= d) break;
            h->d[i] = h->d[c];
            h->pos[i] = h->pos[c];
            i = c;
        }
    }
    h->d[i] = d;
    h->pos[i] = pos;
}

/*
 * The binary index's search: the Hamming distance of every entry's bits to
 * the query's (the kernels' hamming, a block of entries per call), the
 * nearest max(binary_per_result * cap, binary_candidates) that pre()
 * and post() pass kept (the distance first: it is cheaper than the scope's
 * string compares, and most entries fail it), then rescored with their f32
 * vectors from vectors(). Always this flat scan: no graph.
 */
static int nearest_binary(const mnemo_index *ix, const float *q, mnemo_hnsw_accept pre,
                          mnemo_hnsw_accept post, void *ctx, mnemo_index_vectors vectors,
                          void *vctx, mnemo_hnsw_hit *top, size_t cap, size_t *n) {
    enum { BLOCK = 256 };
    size_t depth = ix->binary_per_result && cap > SIZE_MAX / ix->binary_per_result
                       ? SIZE_MAX
                       : cap * ix->binary_per_result;
    if (depth < ix->binary_candidates) depth = ix->binary_candidates;
    if (depth < cap) depth = cap;
    if (depth > ix->n) depth = ix->n;
    far_heap h = {.d = mnemo__malloc_array(depth, sizeof(uint32_t)),
                  .pos = mnemo__malloc_array(depth, sizeof(size_t)),
                  .cap = depth};
    uint64_t *qb = mnemo__malloc_array(ix->words, sizeof(uint64_t));
    uint32_t dist[BLOCK];
    int rc = MNEMO_OK;
    if (!h.d || !h.pos || !qb) rc = MNEMO_ENOMEM;
    void (*hamming)(const uint64_t *, const uint64_t *, size_t, size_t, uint32_t *) =
        mnemo__kernels_best()->hamming;
    if (!rc) mnemo__binarize(q, ix->dim, qb);
    for (size_t base = 0; !rc && base < ix->n; base += BLOCK) {
        size_t m = ix->n - base < BLOCK ? ix->n - base : BLOCK;
        hamming(qb, ix->bits + base * ix->words, ix->words, m, dist);
        for (size_t j = 0; j < m; j++) {
            if (h.n == h.cap && dist[j] >= h.d[0]) continue;
            size_t i = base + j;
            if (!pre(ctx, i) || (post && !post(ctx, i))) continue;
            far_push(&h, dist[j], i);
        }
    }
    mnemo_hnsw_hit *cand = rc ? NULL : mnemo__malloc_array(h.n ? h.n : 1, sizeof *cand);
    if (!rc && !cand) rc = MNEMO_ENOMEM;
    if (!rc) {
        size_t nc = h.n;
        for (size_t i = 0; i < nc; i++) cand[i] = (mnemo_hnsw_hit){h.pos[i], 0};
        rc = rescore(ix, vectors, vctx, q, cand, &nc);
        *n = nc < cap ? nc : cap;
        memcpy(top, cand, *n * sizeof *top);
    }
    mnemo__free(cand);
    mnemo__free(h.d);
    mnemo__free(h.pos);
    mnemo__free(qb);
    return rc;
}

int mnemo__index_nearest(const mnemo_index *ix, const float *q, int exact, mnemo_hnsw_accept pre,
                         mnemo_hnsw_accept post, void *ctx, mnemo_index_vectors vectors, void *vctx,
                         mnemo_hnsw_hit *top, size_t cap, size_t *n) {
    *n = 0;
    if (cap == 0 || ix->n == 0) return MNEMO_OK;
    if (ix->binary_only) return nearest_binary(ix, q, pre, post, ctx, vectors, vctx, top, cap, n);
    int use_graph = !exact && ix->graph_state == MNEMO_GRAPH_READY && ix->n >= ix->graph_threshold;
    /* the query's codes, for what ranks by codes: the walk, an int8 index's scan */
    int8_t *qc = NULL;
    float qs = 0;
    if (use_graph || ix->int8_only) {
        if (!(qc = mnemo__malloc(ix->dim))) return MNEMO_ENOMEM;
        qs = mnemo__quantize_i8(q, ix->dim, qc);
    }
    if (use_graph) {
        size_t want = ix->ef_search > cap ? ix->ef_search : cap;
        mnemo_hnsw_hit *gh = mnemo__malloc_array(want, sizeof *gh);
        both_ctx b = {pre, post, ctx};
        size_t ng = 0;
        int complete = 0;
        if (gh &&
            !mnemo__hnsw_search(&ix->graph, mnemo__index_codes(ix), qc, qs, ix->ef_search,
                                accept_both, &b, gh, want, &ng, &complete) &&
            complete && ng >= cap) {
            /* the beam comes best first by the codes; only its head is read back */
            if (ix->int8_only && ng > rescore_depth(cap)) ng = rescore_depth(cap);
            int rc = rescore(ix, vectors, vctx, q, gh, &ng);
            *n = ng < cap ? ng : cap;
            memcpy(top, gh, *n * sizeof *top);
            mnemo__free(gh);
            mnemo__free(qc);
            return rc;
        }
        mnemo__free(gh); /* out of memory in the walk too: the scan needs none */
    }
    /* the exact scan: f32, or int8 codes and the best few rescored */
    size_t depth = ix->int8_only ? rescore_depth(cap) : cap;
    mnemo_hnsw_hit *cand = ix->int8_only ? mnemo__malloc_array(depth, sizeof *cand) : top;
    if (!cand) {
        mnemo__free(qc);
        return MNEMO_ENOMEM;
    }
    size_t nc = 0;
    for (size_t i = 0; i < ix->n; i++) {
        if (!pre(ctx, i)) continue;
        double score = !ix->int8_only ? mnemo__dot(ix->vectors + i * ix->dim, q, ix->dim)
                                      : mnemo__index_score_i8(ix, i, qc, qs);
        if (nc == depth && score <= cand[depth - 1].score) continue; /* cheap before the filter */
        if (post && !post(ctx, i)) continue;
        top_push_pos(cand, &nc, depth, i, score);
    }
    int rc = MNEMO_OK;
    if (!ix->int8_only) {
        *n = nc;
    } else {
        rc = rescore(ix, vectors, vctx, q, cand, &nc);
        *n = nc < cap ? nc : cap;
        memcpy(top, cand, *n * sizeof *top);
        mnemo__free(cand);
    }
    mnemo__free(qc);
    return rc;
}
