/*
 * tokenizer_encode.c — text to ids, step for step as HF `tokenizers` does:
 *   1. split the raw text on added tokens (leftmost-longest match, before any
 *      normalization, as HF's AddedVocabulary does for normalized=false);
 *   2. normalize each other segment (Replace, e.g. " " -> "▁");
 *   3. pre-tokenize (Split on a string, MergedWithPrevious);
 *   4. BPE each piece: characters (or their <0xNN> bytes, or <unk>), then
 *      merges by rank, lowest first and leftmost among equals;
 *   5. the post-processor's ids around the result.
 * Not the loader (tokenizer_json.c) and not decoding (tokenizer_decode.c).
 */
#include "tokenizer_internal.h"

#include <stdint.h>
#include <string.h>

typedef struct sym {
    int32_t id;
    int32_t prev, next; /* neighbours in the word, -1 at the ends */
    int32_t alive;      /* 0 once merged into its left neighbour */
} sym;

typedef struct heap_item {
    uint64_t key; /* rank << 32 | position: the smallest pops first */
    uint32_t new_id;
} heap_item;

typedef struct encoder {
    const mnemo_tokenizer *tok;
    int32_t *out;
    size_t cap, n;
    char *norm;
    size_t norm_cap;
    sym *syms;
    size_t syms_cap;
    heap_item *heap;
    size_t heap_cap, heap_n;
} encoder;

static inline void emit(encoder *e, int32_t id) {
    if (e->n < e->cap) e->out[e->n] = id;
    e->n++;
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *q = mnemo__realloc(*p, c * elem);
    if (!q) return false;
    *p = q;
    *cap = c;
    return true;
}

/* ------------------------------------------------------------- the heap */

static inline void heap_push(encoder *e, uint64_t key, uint32_t new_id) {
    size_t i = e->heap_n++;
    heap_item *h = e->heap;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h[parent].key <= key) break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = (heap_item){key, new_id};
}

static inline heap_item heap_pop(encoder *e) {
    heap_item *h = e->heap;
    heap_item top = h[0];
    heap_item last = h[--e->heap_n];
    size_t n = e->heap_n, i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && h[c + 1].key < h[c].key) c++;
        if (last.key <= h[c].key) break;
        h[i] = h[c];
        i = c;
    }
    if (n > 0) h[i] = last;
    return top;
}

static inline void push_pair(encoder *e, int32_t pos) {
    const sym *s = e->syms;
    int32_t next = s[pos].next;
    if (next < 0) return;
    const tok_merge *m = mnemo__tok_merge_find(e->tok, (uint32_t)s[pos].id, (uint32_t)s[next].id);
    if (m) heap_push(e, ((uint64_t)m->rank << 32) | (uint32_t)pos, m->new_id);
}

/* ----------------------------------------------------------------- BPE */

static inline void add_sym(encoder *e, size_t *ns, int32_t id) {
    sym *s = &e->syms[*ns];
    s->id = id;
    s->prev = (int32_t)*ns - 1;
    s->next = (int32_t)*ns + 1;
    s->alive = 1;
    (*ns)++;
}

/* Tokenizes one pre-tokenized piece (valid UTF-8) with the BPE model. */
static int bpe_word(encoder *e, const char *w, size_t len) {
    const mnemo_tokenizer *tok = e->tok;
    const tok_image_header *h = tok->h;
    if (len == 0) return MNEMO_OK;
    if (h->flags & TOK_IGNORE_MERGES) {
        int32_t id = mnemo__tok_vocab_find(tok, w, len);
        if (id >= 0) {
            emit(e, id);
            return MNEMO_OK;
        }
    }
    /* Every byte yields at most one symbol. */
    if (!grow((void **)&e->syms, &e->syms_cap, len, sizeof(sym)) ||
        !grow((void **)&e->heap, &e->heap_cap, 3 * len, sizeof(heap_item)))
        return MNEMO_ENOMEM;
    size_t ns = 0;
    int32_t unk_pending = 0; /* HF keeps one pending <unk> so it can fuse runs */
    const uint8_t *u = (const uint8_t *)w;
    for (size_t i = 0; i < len;) {
        int L = mnemo__utf8_len(u[i]);
        int32_t id;
        if (L <= 3) {
            uint32_t cp =
                L == 1   ? u[i]
                : L == 2 ? ((u[i] & 0x1Fu) << 6) | (u[i + 1] & 0x3Fu)
                         : ((u[i] & 0x0Fu) << 12) | ((u[i + 1] & 0x3Fu) << 6) | (u[i + 2] & 0x3Fu);
            id = tok->bmp_ids[cp];
        } else {
            id = mnemo__tok_vocab_find(tok, w + i, (size_t)L);
        }
        if (id >= 0) {
            if (unk_pending) {
                add_sym(e, &ns, h->unk_id);
                unk_pending = 0;
            }
            add_sym(e, &ns, id);
        } else {
            bool bytes_ok = (h->flags & TOK_BYTE_FALLBACK) != 0;
            for (int k = 0; bytes_ok && k < L; k++) bytes_ok = h->byte_ids[u[i + k]] >= 0;
            if (bytes_ok) {
                /* As HF: byte tokens do not flush a pending <unk>. */
                for (int k = 0; k < L; k++) add_sym(e, &ns, h->byte_ids[u[i + k]]);
            } else if (h->unk_id >= 0) {
                if (unk_pending && !(h->flags & TOK_FUSE_UNK)) add_sym(e, &ns, h->unk_id);
                unk_pending = 1;
            }
            /* no unk token: HF drops the character */
        }
        i += (size_t)L;
    }
    if (unk_pending) add_sym(e, &ns, h->unk_id);
    if (ns == 0) return MNEMO_OK;
    sym *s = e->syms;
    s[ns - 1].next = -1;

    e->heap_n = 0;
    for (size_t i = 0; i + 1 < ns; i++) push_pair(e, (int32_t)i);
    while (e->heap_n > 0) {
        heap_item top = heap_pop(e);
        int32_t pos = (int32_t)(top.key & 0xFFFFFFFFu);
        if (!s[pos].alive || s[pos].next < 0) continue;
        int32_t right = s[pos].next;
        /* A stale entry: the pair at pos changed since it was pushed. */
        const tok_merge *m = mnemo__tok_merge_find(tok, (uint32_t)s[pos].id, (uint32_t)s[right].id);
        if (!m || m->new_id != top.new_id) continue;
        s[pos].id = (int32_t)top.new_id;
        s[right].alive = 0;
        s[pos].next = s[right].next;
        if (s[right].next >= 0) s[s[right].next].prev = pos;
        if (s[pos].prev >= 0) push_pair(e, s[pos].prev);
        push_pair(e, pos);
    }
    for (int32_t i = 0; i >= 0; i = s[i].next) emit(e, s[i].id);
    return MNEMO_OK;
}

/* --------------------------------------------- normalize + pre-tokenize */

static const char *find_pattern(const char *s, size_t len, const char *pat, size_t plen) {
    if (plen == 1) return memchr(s, pat[0], len);
    return memmem(s, len, pat, plen);
}

/* A raw segment between added tokens: normalize, split, BPE. */
static int encode_segment(encoder *e, const char *seg, size_t len) {
    const tok_image_header *h = e->tok->h;
    if (len == 0) return MNEMO_OK;
    const char *text = seg;
    size_t tlen = len;
    if (h->flags & TOK_HAS_NORMALIZER) {
        size_t plen = h->norm_pattern_len, clen = h->norm_content_len;
        size_t expand = clen > plen ? (clen + plen - 1) / plen : 1, need;
        if (!mnemo__mul_size(len, expand, &need) || !grow((void **)&e->norm, &e->norm_cap, need, 1))
            return MNEMO_ENOMEM;
        size_t o = 0;
        const char *p = seg, *end = seg + len;
        while (p < end) {
            const char *hit = find_pattern(p, (size_t)(end - p), h->norm_pattern, plen);
            size_t keep = hit ? (size_t)(hit - p) : (size_t)(end - p);
            memcpy(e->norm + o, p, keep);
            o += keep;
            if (!hit) break;
            memcpy(e->norm + o, h->norm_content, clen);
            o += clen;
            p = hit + plen;
        }
        text = e->norm;
        tlen = o;
    }
    if (!(h->flags & TOK_HAS_SPLIT)) return bpe_word(e, text, tlen);
    /* MergedWithPrevious: each piece ends with (and includes) a match. */
    const char *p = text, *end = text + tlen;
    while (p < end) {
        const char *hit =
            find_pattern(p, (size_t)(end - p), h->split_pattern, h->split_pattern_len);
        const char *stop = hit ? hit + h->split_pattern_len : end;
        int rc = bpe_word(e, p, (size_t)(stop - p));
        if (rc) return rc;
        p = stop;
    }
    return MNEMO_OK;
}

/* Longest added token starting at s[0..len), or -1. */
static int32_t match_added(const mnemo_tokenizer *tok, const uint8_t *s, size_t len,
                           size_t *match_len) {
    uint32_t node = 0;
    int32_t best = -1;
    for (size_t k = 0; k < len; k++) {
        node = mnemo__tok_trie_child(tok, node, s[k]);
        if (node == UINT32_MAX) break;
        if (tok->trie_nodes[node].token_id >= 0) {
            best = tok->trie_nodes[node].token_id;
            *match_len = k + 1;
        }
    }
    return best;
}

size_t mnemo_tokenizer_max_ids(const mnemo_tokenizer *tok, size_t len) {
    const tok_image_header *h = tok->h;
    size_t expand = 1;
    if ((h->flags & TOK_HAS_NORMALIZER) && h->norm_content_len > h->norm_pattern_len)
        expand = (h->norm_content_len + h->norm_pattern_len - 1) / h->norm_pattern_len;
    size_t n;
    if (!mnemo__mul_size(len, expand, &n) || !mnemo__add_size(n, h->n_pre + h->n_post, &n))
        return SIZE_MAX;
    return n;
}

int mnemo_tokenizer_encode(const mnemo_tokenizer *tok, const char *text, size_t len, unsigned flags,
                           int32_t *ids, size_t cap, size_t *n_ids, mnemo_error *err) {
    if (!tok || (!text && len) || (!ids && cap) || !n_ids)
        return mnemo__fail(err, MNEMO_EINVAL, "mnemo_tokenizer_encode: NULL argument");
    if (len > INT32_MAX)
        return mnemo__fail(err, MNEMO_ETOOBIG,
                           "text of %zu bytes is too large to encode (at most "
                           "2 GiB)",
                           len);
    size_t bad;
    if (!mnemo_utf8_valid(text, len, &bad))
        return mnemo__fail(err, MNEMO_EUTF8, "invalid UTF-8 at byte offset %zu (byte 0x%02X)", bad,
                           (unsigned)(uint8_t)text[bad]);
    encoder e = {.tok = tok, .out = ids, .cap = cap};
    const tok_image_header *h = tok->h;
    bool special = !(flags & MNEMO_ENCODE_NO_SPECIAL);
    if (special)
        for (uint32_t i = 0; i < h->n_pre; i++) emit(&e, h->pre_ids[i]);
    int rc = MNEMO_OK;
    const uint8_t *u = (const uint8_t *)text;
    size_t seg = 0, i = 0;
    while (i < len && rc == MNEMO_OK) {
        if (!tok->trie_first_byte[u[i]]) {
            i++;
            continue;
        }
        size_t mlen = 0;
        int32_t id = match_added(tok, u + i, len - i, &mlen);
        if (id < 0) {
            i++;
            continue;
        }
        rc = encode_segment(&e, text + seg, i - seg);
        emit(&e, id);
        i += mlen;
        seg = i;
    }
    if (rc == MNEMO_OK) rc = encode_segment(&e, text + seg, len - seg);
    if (rc == MNEMO_OK && special)
        for (uint32_t k = 0; k < h->n_post; k++) emit(&e, h->post_ids[k]);
    mnemo__free(e.norm);
    mnemo__free(e.syms);
    mnemo__free(e.heap);
    if (rc == MNEMO_ENOMEM)
        return mnemo__fail(err, rc, "out of memory while encoding %zu bytes", len);
    *n_ids = e.n;
    if (e.n > cap)
        return mnemo__fail(err, MNEMO_EBUFFER, "%zu ids do not fit in a buffer of %zu", e.n, cap);
    return MNEMO_OK;
}
