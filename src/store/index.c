/*
 * index.c — the in-memory vector index of a store: every live memory's
 * vector in one contiguous array with the fields the search filters on
 * (scope, expiry, metadata), and the dot product the exact search runs. Not
 * the search itself (store_read.c) nor persistence (the rows are in SQLite;
 * the index is rebuilt from them at open).
 */
#include "store.h"

#include <math.h>
#include <string.h>

void mnemo__index_init(mnemo_index *ix, size_t dim) {
    memset(ix, 0, sizeof *ix);
    ix->dim = dim;
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
    memset(ix, 0, sizeof *ix);
}

int mnemo__index_add(mnemo_index *ix, mnemo_index_entry *e, const float *vec) {
    if (ix->n == ix->cap) {
        size_t cap = ix->cap ? ix->cap * 2 : 256, vbytes;
        if (!mnemo__mul_size(cap, ix->dim * sizeof(float), &vbytes)) return MNEMO_ENOMEM;
        mnemo_index_entry *ne = mnemo__realloc(ix->entries, cap * sizeof *ne);
        if (!ne) return MNEMO_ENOMEM;
        ix->entries = ne;
        float *nv = mnemo__realloc(ix->vectors, vbytes);
        if (!nv) return MNEMO_ENOMEM;
        ix->vectors = nv;
        ix->cap = cap;
    }
    ix->entries[ix->n] = *e;
    memcpy(ix->vectors + ix->n * ix->dim, vec, ix->dim * sizeof(float));
    ix->n++;
    memset(e, 0, sizeof *e);
    return MNEMO_OK;
}

/* A linear scan: ~0.1 ms per 100k entries, far below the cost of the SQLite
 * write that precedes every call. */
long mnemo__index_find(const mnemo_index *ix, int64_t seq) {
    for (size_t i = 0; i < ix->n; i++)
        if (ix->entries[i].seq == seq) return (long)i;
    return -1;
}

void mnemo__index_remove(mnemo_index *ix, int64_t seq) {
    long p = mnemo__index_find(ix, seq);
    if (p < 0) return;
    entry_clear(&ix->entries[p]);
    size_t last = ix->n - 1;
    if ((size_t)p != last) {
        ix->entries[p] = ix->entries[last];
        memcpy(ix->vectors + (size_t)p * ix->dim, ix->vectors + last * ix->dim, ix->dim * sizeof(float));
    }
    ix->n--;
}

/* Eight independent partial sums: the compiler keeps them in vector
 * registers (no -ffast-math needed, since the order of additions is fixed
 * by the source), which is what makes the exact scan run at memory speed. */
float mnemo__dot(const float *a, const float *b, size_t n) {
    float s[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) s[j] += a[i + j] * b[i + j];
    float t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    for (; i < n; i++) t += a[i] * b[i];
    return t;
}

static int field_match(const char *have, const char *want) {
    return !want || !*want || (have && !strcmp(have, want));
}

static int field_equal(const char *have, const char *want) {
    if (!want || !*want) return !have;
    return have && !strcmp(have, want);
}

int mnemo__scope_match(const mnemo_index_entry *e, const mnemo_memory_scope *s) {
    return !strcmp(e->ns, mnemo__scope_ns(s)) && field_match(e->user_id, s->user_id) &&
           field_match(e->agent_id, s->agent_id) && field_match(e->session_id, s->session_id);
}

int mnemo__scope_equal(const mnemo_index_entry *e, const mnemo_memory_scope *s) {
    return !strcmp(e->ns, mnemo__scope_ns(s)) && field_equal(e->user_id, s->user_id) &&
           field_equal(e->agent_id, s->agent_id) && field_equal(e->session_id, s->session_id);
}

bool mnemo__unit_vector(const float *v, size_t n, float *out) {
    double norm = 0;
    for (size_t i = 0; i < n; i++) norm += (double)v[i] * v[i];
    if (!(norm > 0) || !isfinite(norm)) return false;
    double inv = 1.0 / sqrt(norm);
    for (size_t i = 0; i < n; i++) out[i] = (float)(v[i] * inv);
    return true;
}
