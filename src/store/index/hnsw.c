/*
 * hnsw.c — the approximate vector index of a store: a hierarchical navigable
 * small-world graph (Malkov & Yashunin, "Efficient and robust approximate
 * nearest neighbor search using Hierarchical Navigable Small World graphs",
 * IEEE TPAMI 2018: Algorithm 1 INSERT, 2 SEARCH-LAYER, 4 the neighbour
 * heuristic, 5 K-NN-SEARCH), written from the paper, scored by the inner
 * product of the int8 codes of unit vectors (a quarter of f32's memory
 * traffic, which is what a walk over a large graph waits on). Not the
 * vectors nor their codes (index.c owns them; a node knows its entry's
 * position in the index), nor when to use the graph or the f32 rescoring of
 * what a walk found (nearest.c).
 *
 * Deletion: a removed node is unlinked and each node that linked to it from
 * the removed node's own lists gets its list re-chosen by the heuristic from
 * its old neighbours plus the removed node's (the "repair"). Links to it from
 * nodes it did not link back to stay behind as dangling ids, skipped by every
 * traversal until the id is reused (then they are one extra, harmless edge).
 * So nothing is ever returned for a removed node and no periodic rebuild is
 * needed for correctness; heavy churn only wears recall slowly, and the exact
 * fallback of nearest.c keeps the k-results promise regardless.
 *
 * Threads: searches only read and may run concurrently (each brings its own
 * scratch); insert and remove change the graph and need the caller's
 * exclusive lock (the store's index lock held for writing, or the one builder
 * thread while searches do not use the graph yet, see index.c).
 */
#include "index.h"
#include "../../kernels/kernels.h"

#include <math.h>
#include <string.h>

static uint32_t *links(const mnemo_hnsw *h, uint32_t node, int layer) {
    if (layer == 0) return h->links0 + (size_t)node * (h->m0 + 1);
    return h->upper[node] + (size_t)(layer - 1) * (h->m + 1);
}

/* A node's codes and scale: its index entry's (the graph has no vectors). */
static const int8_t *code(const mnemo_hnsw *h, uint32_t node) {
    return h->c.codes + (size_t)h->pos[node] * h->dim;
}

static float code_scale(const mnemo_hnsw *h, uint32_t node) { return h->c.scale[h->pos[node]]; }

/* The approximate inner products the graph is walked and built with: for
 * unit vectors of 768 within ~1e-3 of the true ones, far below what
 * separates a walk's candidates; a search's final order is the caller's
 * (nearest.c rescores the beam in f32). */
static float score_code(const mnemo_hnsw *h, uint32_t node, const int8_t *qc, float qs) {
    return qs * code_scale(h, node) * (float)h->dot_i8(code(h, node), qc, h->dim);
}

static float score_nodes(const mnemo_hnsw *h, uint32_t a, uint32_t b) {
    return code_scale(h, a) * code_scale(h, b) * (float)h->dot_i8(code(h, a), code(h, b), h->dim);
}

/* The next node's code on its way into the cache while this one is scored. */
static void prefetch_code(const mnemo_hnsw *h, uint32_t node) {
    const char *p = (const char *)code(h, node);
    for (size_t off = 0; off < h->dim; off += 64) __builtin_prefetch(p + off);
}

static int alive(const mnemo_hnsw *h, uint32_t node, int layer) {
    return h->pos[node] >= 0 && h->level[node] >= layer;
}

/* splitmix64: a seeded, deterministic stream, so one build order gives one graph */
static uint64_t next_random(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* The paper's level: floor(-ln(U) * mL) with mL = 1 / ln(M). */
static int random_level(mnemo_hnsw *h) {
    double u = ((next_random(&h->rng) >> 11) + 1) * (1.0 / 9007199254740993.0); /* (0, 1] */
    int l = (int)floor(-log(u) / log((double)h->m));
    return l > MNEMO_HNSW_MAX_LEVEL ? MNEMO_HNSW_MAX_LEVEL : l;
}

/* ------------------------------------------------------------ heaps */

/* A binary max-heap of (key, node); a min-heap is the same with key = -score. */
typedef struct heap {
    mnemo_hnsw_hit *a; /* pos holds the node id here */
    size_t n, cap;
} heap;

static int heap_push(heap *hp, float key, uint32_t node) {
    if (hp->n == hp->cap) {
        size_t cap = hp->cap ? hp->cap * 2 : 256;
        mnemo_hnsw_hit *na = mnemo__realloc(hp->a, cap * sizeof *na);
        if (!na) return MNEMO_ENOMEM;
        hp->a = na;
        hp->cap = cap;
    }
    size_t i = hp->n++;
    while (i > 0 && hp->a[(i - 1) / 2].score < key) {
        hp->a[i] = hp->a[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    hp->a[i] = (mnemo_hnsw_hit){node, key};
    return MNEMO_OK;
}

static mnemo_hnsw_hit heap_pop(heap *hp) {
    mnemo_hnsw_hit top = hp->a[0], last = hp->a[--hp->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= hp->n) break;
        if (c + 1 < hp->n && hp->a[c + 1].score > hp->a[c].score) c++;
        if (hp->a[c].score <= last.score) break;
        hp->a[i] = hp->a[c];
        i = c;
    }
    if (hp->n) hp->a[i] = last;
    return top;
}

/* ------------------------------------------------------- layer search */

/* What one SEARCH-LAYER call needs besides the graph. */
typedef struct layer_search {
    heap cand;  /* candidates to expand, best first (key = score) */
    heap found; /* the ef nearest accepted so far (key = -score: worst on top) */
    uint64_t *seen;
    /* query-time filtering (layer 0 only): found keeps only the nodes that
     * accept() passes; NULL passes all (inserts) */
    mnemo_hnsw_accept accept;
    void *accept_ctx;
    size_t budget, n_scored;
    int out_of_budget;
} layer_search;

static int seen_test_set(uint64_t *seen, uint32_t node) {
    uint64_t bit = 1ULL << (node & 63);
    if (seen[node >> 6] & bit) return 1;
    seen[node >> 6] |= bit;
    return 0;
}

static int accepted(const mnemo_hnsw *h, const layer_search *ls, uint32_t node) {
    return !ls->accept || ls->accept(ls->accept_ctx, (size_t)h->pos[node]);
}

/* Scores node e and pushes it where it belongs. found.a[0] is read only
 * when found holds ef >= 1 nodes (every caller passes ef >= 1); gcc's
 * analyzer does not carry that bound into here and warns of a NULL heap. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-null-dereference"
#endif
static int visit(const mnemo_hnsw *h, layer_search *ls, const int8_t *qc, float qs, uint32_t e,
                 size_t ef) {
    float s = score_code(h, e, qc, qs);
    ls->n_scored++;
    if (ls->found.n >= ef && s <= -ls->found.a[0].score) return MNEMO_OK;
    if (heap_push(&ls->cand, s, e)) return MNEMO_ENOMEM;
    if (accepted(h, ls, e)) {
        if (heap_push(&ls->found, -s, e)) return MNEMO_ENOMEM;
        if (ls->found.n > ef) heap_pop(&ls->found);
    }
    return MNEMO_OK;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/*
 * Algorithm 2 from the entry points already pushed into ls->cand/found: the
 * ef nearest to q in `layer` end up in ls->found. With a filter, the walk
 * goes through every node but only accepted ones enter found, and the
 * stopping rule compares with the worst of those (so a filter passing a
 * tenth walks about ten times as far). Past the budget of scored nodes the
 * walk stops with out_of_budget: the caller scans exactly instead.
 */
static int search_layer(const mnemo_hnsw *h, layer_search *ls, const int8_t *qc, float qs,
                        size_t ef, int layer) {
    while (ls->cand.n) {
        mnemo_hnsw_hit c = heap_pop(&ls->cand);
        if (ls->found.n >= ef && c.score < -ls->found.a[0].score) break;
        if (ls->budget && ls->n_scored >= ls->budget) {
            ls->out_of_budget = 1;
            break;
        }
        const uint32_t *l = links(h, (uint32_t)c.pos, layer);
        for (uint32_t i = 1; i <= l[0]; i++) {
            uint32_t e = l[i];
            if (i < l[0]) prefetch_code(h, l[i + 1]);
            if (!alive(h, e, layer) || seen_test_set(ls->seen, e)) continue;
            if (visit(h, ls, qc, qs, e, ef)) return MNEMO_ENOMEM;
        }
    }
    return MNEMO_OK;
}

/* Greedy descent (ef = 1) through one upper layer. */
static uint32_t greedy(const mnemo_hnsw *h, const int8_t *qc, float qs, uint32_t cur,
                       float *cur_score, int layer) {
    for (int changed = 1; changed;) {
        changed = 0;
        const uint32_t *l = links(h, cur, layer);
        for (uint32_t i = 1; i <= l[0]; i++) {
            if (!alive(h, l[i], layer)) continue;
            float s = score_code(h, l[i], qc, qs);
            if (s > *cur_score) {
                *cur_score = s;
                cur = l[i];
                changed = 1;
            }
        }
    }
    return cur;
}

static int ls_init(const mnemo_hnsw *h, layer_search *ls) {
    memset(ls, 0, sizeof *ls);
    ls->seen = mnemo__calloc(((size_t)h->n_nodes + 63) / 64 + 1, sizeof(uint64_t));
    return ls->seen ? MNEMO_OK : MNEMO_ENOMEM;
}

static void ls_free(layer_search *ls) {
    mnemo__free(ls->cand.a);
    mnemo__free(ls->found.a);
    mnemo__free(ls->seen);
}

/* Restarts ls for another layer from the nodes in found: only they are
 * seen (a node scored and dropped above may be near on this layer). */
static int ls_restart(const mnemo_hnsw *h, layer_search *ls, uint32_t self) {
    ls->cand.n = 0;
    memset(ls->seen, 0, (((size_t)h->n_nodes + 63) / 64 + 1) * sizeof(uint64_t));
    seen_test_set(ls->seen, self);
    for (size_t i = 0; i < ls->found.n; i++) {
        seen_test_set(ls->seen, (uint32_t)ls->found.a[i].pos);
        if (heap_push(&ls->cand, -ls->found.a[i].score, (uint32_t)ls->found.a[i].pos))
            return MNEMO_ENOMEM;
    }
    return MNEMO_OK;
}

/* found's nodes as a list, best first (empties found). */
static size_t drain_sorted(layer_search *ls, mnemo_hnsw_hit *out) {
    size_t n = ls->found.n;
    for (size_t i = n; i-- > 0;) {
        mnemo_hnsw_hit x = heap_pop(&ls->found);
        out[i] = (mnemo_hnsw_hit){x.pos, -x.score};
    }
    return n;
}

/* ------------------------------------------------ neighbour selection */

/*
 * Algorithm 4 (without extending candidates or keeping pruned ones): walks
 * the candidates best first and keeps one only when it is nearer to the base
 * than to every one kept so far, up to max. cand: (node, score to the base),
 * best first. Writes the kept nodes into the row `out` (count first).
 */
static void select_neighbors(const mnemo_hnsw *h, const mnemo_hnsw_hit *cand, size_t n, size_t max,
                             uint32_t *out) {
    uint32_t kept = 0;
    for (size_t i = 0; i < n && kept < max; i++) {
        uint32_t e = (uint32_t)cand[i].pos;
        int good = 1;
        for (uint32_t j = 1; j <= kept && good; j++)
            if (score_nodes(h, e, out[j]) > cand[i].score) good = 0;
        if (good) out[++kept] = e;
    }
    out[0] = kept;
}

static void sort_hits(mnemo_hnsw_hit *a, size_t n) {
    for (size_t i = 1; i < n; i++) {
        mnemo_hnsw_hit x = a[i];
        size_t j = i;
        while (j > 0 && a[j - 1].score < x.score) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = x;
    }
}

/* Re-chooses node's list at layer from its current links plus `extra`
 * (n_extra ids), dropping `drop` and the dead. scratch holds m0 + n_extra + 2. */
static void reselect(mnemo_hnsw *h, uint32_t node, int layer, const uint32_t *extra, size_t n_extra,
                     int64_t drop, mnemo_hnsw_hit *scratch) {
    uint32_t *l = links(h, node, layer);
    size_t max = layer ? h->m : h->m0, n = 0;
    for (int pass = 0; pass < 2; pass++) {
        const uint32_t *src = pass ? extra : l + 1;
        size_t cnt = pass ? n_extra : l[0];
        for (size_t i = 0; i < cnt; i++) {
            uint32_t e = src[i];
            if (e == node || (int64_t)e == drop || !alive(h, e, layer)) continue;
            int dup = 0;
            for (size_t j = 0; j < n && !dup; j++) dup = scratch[j].pos == e;
            if (!dup) scratch[n++] = (mnemo_hnsw_hit){e, score_nodes(h, e, node)};
        }
    }
    sort_hits(scratch, n);
    select_neighbors(h, scratch, n, max, l);
}

/* ------------------------------------------------------------- public */

int mnemo__hnsw_init(mnemo_hnsw *h, size_t dim, size_t m, size_t ef_construction, uint64_t seed) {
    memset(h, 0, sizeof *h);
    if (m < 2 || m > 128 || ef_construction < 1 || dim == 0) return MNEMO_EINVAL;
    h->dim = dim;
    h->m = m;
    h->m0 = 2 * m; /* the paper's Mmax0 = 2M */
    h->ef_construction = ef_construction;
    h->rng = seed;
    h->entry = -1;
    h->dot_i8 = mnemo__kernels_best()->dot_i8;
    return MNEMO_OK;
}

void mnemo__hnsw_free(mnemo_hnsw *h) {
    for (uint32_t i = 0; i < h->n_nodes; i++) mnemo__free(h->upper[i]);
    mnemo__free(h->upper);
    mnemo__free(h->links0);
    mnemo__free(h->pos);
    mnemo__free(h->level);
    mnemo__free(h->free_ids);
    memset(h, 0, sizeof *h);
    h->entry = -1;
}

size_t mnemo__hnsw_bytes(const mnemo_hnsw *h) {
    size_t b = (size_t)h->cap * ((h->m0 + 1) * sizeof(uint32_t) + sizeof *h->pos + 1 +
                                 sizeof(uint32_t *) + sizeof(uint32_t));
    for (uint32_t i = 0; i < h->n_nodes; i++)
        if (h->pos[i] >= 0) b += (size_t)h->level[i] * (h->m + 1) * sizeof(uint32_t);
    return b;
}

static int grow(mnemo_hnsw *h) {
    if (h->cap >= UINT32_MAX / 2) return MNEMO_ENOMEM;
    uint32_t cap = h->cap ? h->cap * 2 : 1024;
    size_t row = h->m0 + 1, bytes;
    if (!mnemo__mul_size(cap, row * sizeof(uint32_t), &bytes)) return MNEMO_ENOMEM;
    uint32_t *l0 = mnemo__realloc(h->links0, bytes);
    if (!l0) return MNEMO_ENOMEM;
    h->links0 = l0;
    int64_t *pos = mnemo__realloc(h->pos, cap * sizeof *pos);
    if (!pos) return MNEMO_ENOMEM;
    h->pos = pos;
    uint8_t *lv = mnemo__realloc(h->level, cap);
    if (!lv) return MNEMO_ENOMEM;
    h->level = lv;
    uint32_t **up = mnemo__realloc(h->upper, cap * sizeof *up);
    if (!up) return MNEMO_ENOMEM;
    h->upper = up;
    uint32_t *fr = mnemo__realloc(h->free_ids, cap * sizeof *fr);
    if (!fr) return MNEMO_ENOMEM;
    h->free_ids = fr;
    h->cap = cap;
    return MNEMO_OK;
}

int mnemo__hnsw_reserve(mnemo_hnsw *h, uint32_t n) {
    while (h->cap < n)
        if (grow(h)) return MNEMO_ENOMEM;
    return MNEMO_OK;
}

/* A node id for a new node (a freed one first), its rows empty. */
static int new_node(mnemo_hnsw *h, int level, uint32_t *out) {
    uint32_t node;
    if (h->n_free) {
        node = h->free_ids[h->n_free - 1];
    } else {
        if (h->n_nodes == h->cap && grow(h)) return MNEMO_ENOMEM;
        node = h->n_nodes;
    }
    uint32_t *up = NULL;
    if (level > 0) {
        up = mnemo__calloc((size_t)level * (h->m + 1), sizeof(uint32_t));
        if (!up) return MNEMO_ENOMEM;
    }
    if (h->n_free)
        h->n_free--;
    else
        h->upper[h->n_nodes++] = NULL;
    h->upper[node] = up;
    h->level[node] = (uint8_t)level;
    h->links0[(size_t)node * (h->m0 + 1)] = 0;
    *out = node;
    return MNEMO_OK;
}

int mnemo__hnsw_insert(mnemo_hnsw *h, mnemo_codes c, size_t pos, uint32_t *out) {
    h->c = c;
    int level = random_level(h);
    uint32_t node;
    int rc = new_node(h, level, &node);
    if (rc) return rc;
    h->pos[node] = (int64_t)pos;
    h->n_live++;
    *out = node;
    const int8_t *qc = code(h, node);
    float qs = code_scale(h, node);
    if (h->entry < 0) {
        h->entry = node;
        h->max_level = level;
        return MNEMO_OK;
    }
    uint32_t ep = (uint32_t)h->entry;
    float ep_score = score_code(h, ep, qc, qs);
    for (int lc = h->max_level; lc > level; lc--) ep = greedy(h, qc, qs, ep, &ep_score, lc);
    layer_search ls;
    mnemo_hnsw_hit *w = NULL, *scratch = NULL;
    size_t wcap = h->ef_construction + 1;
    if ((rc = ls_init(h, &ls))) return rc;
    w = mnemo__malloc_array(wcap, sizeof *w);
    scratch = mnemo__malloc_array(h->m0 + wcap + 2, sizeof *scratch);
    if (!w || !scratch) rc = MNEMO_ENOMEM;
    if (!rc) rc = heap_push(&ls.found, -ep_score, ep);
    for (int lc = level < h->max_level ? level : h->max_level; lc >= 0 && !rc; lc--) {
        if ((rc = ls_restart(h, &ls, node)) ||
            (rc = search_layer(h, &ls, qc, qs, h->ef_construction, lc)))
            break;
        size_t nw = drain_sorted(&ls, w);
        uint32_t *mine = links(h, node, lc);
        select_neighbors(h, w, nw, h->m, mine);
        /* connect back; an overfull neighbour re-chooses its list */
        for (uint32_t i = 1; i <= mine[0]; i++) {
            uint32_t e = mine[i], *el = links(h, e, lc);
            size_t max = lc ? h->m : h->m0;
            if (el[0] < max)
                el[++el[0]] = node;
            else
                reselect(h, e, lc, &node, 1, -1, scratch);
        }
        /* W is the next layer's entry set */
        for (size_t i = 0; i < nw && !rc; i++)
            rc = heap_push(&ls.found, -w[i].score, (uint32_t)w[i].pos);
    }
    if (!rc && level > h->max_level) {
        h->entry = node;
        h->max_level = level;
    }
    ls_free(&ls);
    mnemo__free(w);
    mnemo__free(scratch);
    if (rc) mnemo__hnsw_remove(h, c, node); /* ENOMEM half way: take the node out again */
    return rc;
}

void mnemo__hnsw_remove(mnemo_hnsw *h, mnemo_codes c, uint32_t node) {
    h->c = c;
    if (node >= h->n_nodes || h->pos[node] < 0) return;
    /* The scratch of a repair: a neighbour's list plus the removed node's. */
    mnemo_hnsw_hit scratch[2 * (2 * 128 + 1) + 2];
    for (int lc = h->level[node]; lc >= 0; lc--) {
        const uint32_t *mine = links(h, node, lc);
        for (uint32_t i = 1; i <= mine[0]; i++) {
            uint32_t x = mine[i];
            if (x == node || !alive(h, x, lc)) continue;
            uint32_t *xl = links(h, x, lc);
            int links_back = 0;
            for (uint32_t j = 1; j <= xl[0] && !links_back; j++) links_back = xl[j] == node;
            if (links_back) reselect(h, x, lc, mine + 1, mine[0], node, scratch);
        }
    }
    h->pos[node] = -1;
    h->n_live--;
    mnemo__free(h->upper[node]);
    h->upper[node] = NULL;
    h->links0[(size_t)node * (h->m0 + 1)] = 0;
    h->free_ids[h->n_free++] = node;
    if (h->entry == (int64_t)node) {
        /* a new entry point: a live node of the highest level */
        h->entry = -1;
        h->max_level = 0;
        for (uint32_t i = 0; i < h->n_nodes; i++)
            if (h->pos[i] >= 0 && (h->entry < 0 || h->level[i] > h->max_level)) {
                h->entry = i;
                h->max_level = h->level[i];
            }
    }
    h->level[node] = 0;
}

void mnemo__hnsw_move(mnemo_hnsw *h, uint32_t node, size_t pos) { h->pos[node] = (int64_t)pos; }

int mnemo__hnsw_search(const mnemo_hnsw *h, mnemo_codes c, const int8_t *qc, float qs, size_t ef,
                       mnemo_hnsw_accept accept, void *accept_ctx, mnemo_hnsw_hit *out, size_t cap,
                       size_t *n_out, int *complete) {
    *n_out = 0;
    *complete = 1;
    if (h->entry < 0 || cap == 0) return MNEMO_OK;
    if (ef < cap) ef = cap;
    /* const: the graph is only read; the codes pointer is per call */
    mnemo_hnsw view = *h;
    view.c = c;
    layer_search ls;
    int rc = ls_init(&view, &ls);
    if (rc) return rc;
    uint32_t ep = (uint32_t)view.entry;
    float ep_score = score_code(&view, ep, qc, qs);
    for (int lc = view.max_level; lc > 0; lc--) ep = greedy(&view, qc, qs, ep, &ep_score, lc);
    ls.accept = accept;
    ls.accept_ctx = accept_ctx;
    /* A filter that passes few nodes makes the walk go on; past this many
     * scored nodes an exact scan of the passing entries is cheaper. */
    ls.budget = 20 * ef * view.m0;
    seen_test_set(ls.seen, ep);
    rc = visit(&view, &ls, qc, qs, ep, ef);
    if (!rc) rc = search_layer(&view, &ls, qc, qs, ef, 0);
    if (!rc) {
        while (ls.found.n > cap) heap_pop(&ls.found);
        *n_out = ls.found.n;
        for (size_t i = ls.found.n; i-- > 0;) {
            mnemo_hnsw_hit x = heap_pop(&ls.found);
            out[i] = (mnemo_hnsw_hit){(size_t)view.pos[x.pos], -x.score};
        }
    }
    *complete = !ls.out_of_budget;
    ls_free(&ls);
    return rc;
}
