/*
 * index.h — the in-memory vector index of a store, on its own: the entries
 * and their vectors (index.c), the HNSW graph over their int8 codes
 * (hnsw.c), its file (graph_file.c) and the search over both (nearest.c).
 * It knows nothing of the store's SQL or its other files: an entry carries
 * the fields a search filters on, and the rows' f32 vectors, when the index
 * keeps none, come through a callback the caller passes
 * (mnemo_index_vectors). Includes only core.h (mnemo.h's types) and jansson.
 */
#ifndef MNEMO_STORE_INDEX_H
#define MNEMO_STORE_INDEX_H

#include "../../core/core.h"

#include <jansson.h>
#include <stdint.h>

/* ------------------------------------------------ HNSW graph (hnsw.c) */

/* A search result or candidate: an index position (or a node id inside
 * hnsw.c) and its inner product with the query. */
typedef struct mnemo_hnsw_hit {
    size_t pos;
    float score;
} mnemo_hnsw_hit;

/* Non-zero when the entry at index position pos may be a result (scope,
 * expiry, filter); called for every node a search scores. */
typedef int (*mnemo_hnsw_accept)(void *ctx, size_t pos);

/* The index's int8 copy of its vectors, by index position: dim codes and
 * one scale each (x[i] ~ scale * code[i]; mnemo__quantize_i8). The graph
 * is walked and built on these alone. */
typedef struct mnemo_codes {
    const int8_t *codes;
    const float *scale;
} mnemo_codes;

/* Symmetric int8 with one scale per vector (its largest magnitude maps to
 * 127); returns the scale (0 for a zero or non-finite vector, codes 0). */
float mnemo__quantize_i8(const float *x, size_t dim, int8_t *out);

/* The graph over the index's vectors (see hnsw.c for the algorithm, the
 * deletion policy and the locking). Node ids are dense and reused. */
typedef struct mnemo_hnsw {
    size_t dim, m, m0, ef_construction;
    uint32_t n_nodes, cap; /* ids below n_nodes have been used */
    int64_t *pos;          /* node -> index position; -1: a free id */
    uint8_t *level;
    uint32_t *links0; /* per node a row of 1 + m0: the count, then the ids */
    uint32_t **upper; /* per node, levels 1..level, rows of 1 + m; NULL at level 0 */
    uint32_t *free_ids;
    size_t n_free, n_live;
    int64_t entry; /* the entry point; -1: empty */
    int max_level;
    uint64_t rng;
    mnemo_codes c; /* the index's codes, set by each call */
    int32_t (*dot_i8)(const int8_t *a, const int8_t *b, size_t n);
} mnemo_hnsw;

/* Errors: EINVAL (m outside 2..128, ef_construction 0, dim 0). */
int mnemo__hnsw_init(mnemo_hnsw *h, size_t dim, size_t m, size_t ef_construction, uint64_t seed);
void mnemo__hnsw_free(mnemo_hnsw *h);
/* Links the vector at index position pos in; *node receives its id. ENOMEM. */
int mnemo__hnsw_insert(mnemo_hnsw *h, mnemo_codes c, size_t pos, uint32_t *node);
/* Unlinks a node and repairs its neighbours' lists; its id is free after. */
void mnemo__hnsw_remove(mnemo_hnsw *h, mnemo_codes c, uint32_t node);
/* The node's entry moved to index position pos. */
void mnemo__hnsw_move(mnemo_hnsw *h, uint32_t node, size_t pos);
/* The best `cap` nodes that accept() passes, best first by their codes'
 * inner product with the query's (qc, qs from mnemo__quantize_i8), into out
 * (index positions), by a walk of beam width ef (raised to cap): a caller
 * passes cap >= ef to get the whole beam and rescore it. *complete is 0
 * when a filter passed so few that the walk gave up: search exactly then.
 * Reads only: searches may run concurrently. Errors: ENOMEM. */
int mnemo__hnsw_search(const mnemo_hnsw *h, mnemo_codes c, const int8_t *qc, float qs, size_t ef,
                       mnemo_hnsw_accept accept, void *accept_ctx, mnemo_hnsw_hit *out, size_t cap,
                       size_t *n_out, int *complete);
/* Room for n node ids without another allocation. Errors: ENOMEM. */
int mnemo__hnsw_reserve(mnemo_hnsw *h, uint32_t n);
/* Bytes the graph holds (links, ids, levels; not the index's codes). */
size_t mnemo__hnsw_bytes(const mnemo_hnsw *h);

/* One live memory, as the search needs it. Strings owned by the entry. */
typedef struct mnemo_index_entry {
    int64_t seq; /* the row's INTEGER PRIMARY KEY */
    char id[MNEMO_MEMORY_ID_SIZE];
    uint64_t text_hash;
    char *ns, *user_id, *agent_id, *session_id;
    double expires_at; /* 0: never */
    json_t *meta;      /* owned reference */
    int64_t node;      /* its HNSW node; -1: not in the graph (yet) */
} mnemo_index_entry;

/* Where the graph of an index stands. */
typedef enum mnemo_graph_state {
    MNEMO_GRAPH_NONE = 0, /* no graph: every search is exact */
    MNEMO_GRAPH_BUILDING, /* the builder links entries in; searches are exact */
    MNEMO_GRAPH_READY     /* every entry is in the graph; adds link in at once */
} mnemo_graph_state;

/* Entries and their vectors in one contiguous array (n * dim floats), so an
 * exact search is one pass over memory, and the same vectors in int8 (the
 * graph's, and the exact scan's when int8_only). Removal moves the last
 * entry into the hole. The HNSW graph over the codes is built once the
 * index holds graph_threshold entries (index.c). int8_only: no f32 array
 * (a quarter of the memory per vector); searches rescore their candidates
 * with the rows' f32 vectors instead, which the caller's mnemo_index_vectors
 * reads back (nearest.c). binary_only: neither f32 nor int8, only the signs
 * (mnemo__binarize; words 64-bit words per vector), no graph
 * (graph_threshold SIZE_MAX); a search scans them by Hamming distance and
 * rescores the best the same way. Guarded by its owner's index lock. */
typedef struct mnemo_index {
    mnemo_index_entry *entries;
    float *vectors; /* NULL when int8_only or binary_only */
    int8_t *codes;  /* n * dim; NULL when binary_only */
    float *code_scale;
    int int8_only;
    int binary_only;
    uint64_t *bits;           /* binary_only: n * words */
    size_t words;             /* binary_only: dim / 64 rounded up */
    size_t binary_candidates; /* binary_only: the fewest candidates a search rescores */
    size_t binary_per_result; /* binary_only: and at least this many per result asked for */
    size_t n, cap, dim;
    mnemo_hnsw graph;
    mnemo_graph_state graph_state;
    size_t graph_threshold; /* live entries from which searches use the graph */
    size_t ef_search;
    size_t build_cursor; /* BUILDING: every entry below it is in the graph */
    uint64_t
        graph_changes; /* links made or removed once READY (graph_file.c saves when it moved) */
} mnemo_index;

/* A binary index's search rescores max(MNEMO_BINARY_PER_RESULT * k,
 * MNEMO_BINARY_CANDIDATES) candidates, the best by Hamming distance
 * (docs/memories.md, "binary index vectors": bench_store's recall@10
 * against exact at 100k and 1M chose them). */
#define MNEMO_BINARY_CANDIDATES 400
#define MNEMO_BINARY_PER_RESULT 40
/* Packs the signs of x (bit d of word d / 64: x[d] > 0) into out, words of
 * dim / 64 rounded up, the bits past dim 0. */
void mnemo__binarize(const float *x, size_t dim, uint64_t *out);

/* The defaults of the graph (docs/memories.md: the approximate index). */
#define MNEMO_GRAPH_THRESHOLD 20000
/* M 32, ef_construction 200: bench_store at 1M (768-d, 100 clusters in a
 * 48-d subspace), recall@10 against exact 0.923 at ef_search 128, 0.976 at
 * 256, 0.996 at 512 (p50 2.0 / 2.7 / 5.8 ms against the scan's 148 ms); the
 * M 16 / 100 used before gave 0.748 at 128 and 0.818 at 256. */
#define MNEMO_HNSW_M 32
#define MNEMO_HNSW_EF_CONSTRUCTION 200
#define MNEMO_HNSW_EF_SEARCH 256
#define MNEMO_HNSW_SEED 0x6D6E656D6F484E53ULL
#define MNEMO_HNSW_MAX_LEVEL \
    24 /* no node above it; with M = 32 a level above 5 has odds below 1e-7 */

/* Before the first add: the index keeps only the signs of its vectors
 * (binary_only; no graph, ever). */
void mnemo__index_set_binary(mnemo_index *ix);
/* An empty index; the graph parameters are 0 for their defaults, and a
 * threshold of SIZE_MAX never builds a graph. Errors: EINVAL (m). */
int mnemo__index_init(mnemo_index *ix, size_t dim, size_t graph_threshold, size_t m,
                      size_t ef_construction, size_t ef_search);
void mnemo__index_free(mnemo_index *ix);
/* Takes ownership of e's strings and meta; copies vec (f32 unless
 * int8_only or binary_only, and its codes or its bits). Errors: ENOMEM. */
int mnemo__index_add(mnemo_index *ix, mnemo_index_entry *e, const float *vec);
/* Position of seq, or -1. */
long mnemo__index_find(const mnemo_index *ix, int64_t seq);
void mnemo__index_remove(mnemo_index *ix, int64_t seq);
/* A new vector for the entry at pos (a merge or an update re-embedded it):
 * copied into the array and re-linked in the graph. Errors: ENOMEM (the
 * entry then left the graph; searches fall back to exact for it only if the
 * graph is rebuilt, so the store logs it). */
int mnemo__index_set_vector(mnemo_index *ix, size_t pos, const float *vec);
/* With the index lock held for reading by the one builder thread: links up
 * to max entries into the graph. Returns 1 when every entry is in it (then
 * take the lock for writing and call mnemo__index_graph_ready). */
int mnemo__index_build_step(mnemo_index *ix, size_t max);
/* Under the write lock: READY if the build is complete (returns 1). */
int mnemo__index_graph_ready(mnemo_index *ix);
/* Under the write lock: NONE -> BUILDING once the index is big enough
 * (returns 1 when a build is due, i.e. BUILDING). */
int mnemo__index_graph_due(mnemo_index *ix);
/* The bytes of a graph file's header (graph_file.c; the fuzz target's). */
#define MNEMO_GRAPH_FILE_HEADER 64
/* graph_file.c: the READY graph of ix to path (a temporary file, fsync,
 * rename). Errors: EINVAL (no complete graph), EIO (logged). */
int mnemo__graph_save(const mnemo_index *ix, const char *path);
/* The two halves of a save: the file written as path.tmp (under the index
 * lock), then made durable and put in place (no lock needed). */
int mnemo__graph_write(const mnemo_index *ix, const char *path);
int mnemo__graph_commit(const char *path);
/* Right after the index is loaded (in seq order, no graph yet): the graph
 * from path, READY, if the file is whole and matches the memories exactly;
 * returns 1. Else 0 with the reason in why, and the index as it was. */
int mnemo__graph_load(mnemo_index *ix, const char *path, char *why, size_t why_len);
/* Dot product of two vectors of n floats (unit vectors: the cosine). */
float mnemo__dot(const float *a, const float *b, size_t n);
/* The index's codes for the graph calls. */
mnemo_codes mnemo__index_codes(const mnemo_index *ix);
/* The approximate inner product of the entry at pos with a quantized query. */
float mnemo__index_score_i8(const mnemo_index *ix, size_t pos, const int8_t *qc, float qs);
/* Non-zero when e has not expired at now. */
int mnemo__entry_live(const mnemo_index_entry *e, double now);

/* Fills the f32 vectors of rows seqs[0..n) into vecs (n * dim, row i at
 * i * dim) from where the rows are kept; found[i] 0 for a row that is gone
 * (deleted since the index was read) or whose vector is not dim floats.
 * Errors: EIO, ENOMEM. The rescoring of an int8_only or binary_only index. */
typedef int (*mnemo_index_vectors)(void *ctx, const int64_t *seqs, size_t n, float *vecs,
                                   unsigned char *found);

/*
 * The vector search (nearest.c), under the index lock held for reading by
 * the caller: the best cap entries by f32 inner product with q among those
 * pre() passes (cheap: scope, expiry; checked before an entry is scored) and
 * post() (NULL: all; a metadata filter, checked only for an entry good
 * enough to enter the list), into top as (index position, score), best
 * first; *n. A walk of the graph unless exact or the graph is not READY,
 * rescored in f32; the exact scan when the walk finds fewer than cap. An
 * int8_only index scans and walks its codes and rescores its candidates
 * with the rows' f32 vectors that vectors() fills; a binary_only one scans
 * its bits (exact changes nothing) and rescores the same way. Errors:
 * ENOMEM, and those of vectors().
 */
int mnemo__index_nearest(const mnemo_index *ix, const float *q, int exact, mnemo_hnsw_accept pre,
                         mnemo_hnsw_accept post, void *ctx, mnemo_index_vectors vectors,
                         void *vectors_ctx, mnemo_hnsw_hit *top, size_t cap, size_t *n);

#endif /* MNEMO_STORE_INDEX_H */
