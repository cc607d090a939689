/*
 * tokenizer_decode.c — ids back to text through the tokenizer.json decoder
 * chain, as HF `tokenizers` decode() does: each id becomes its token string
 * (added content first, then the model vocab), special tokens are dropped on
 * request, then each decoder step rewrites the list of strings (Replace per
 * string; ByteFallback turns runs of <0xNN> into their bytes, or one U+FFFD
 * per byte when the run is not valid UTF-8; Fuse joins), and the result is
 * concatenated. With no decoder, strings are joined with spaces.
 */
#include "tokenizer_internal.h"

#include <stdio.h>
#include <string.h>

/* A list of strings living in one growing arena. */
typedef struct piece {
    size_t off, len;
} piece;

typedef struct arena {
    char *p;
    size_t len, cap;
} arena;

/* Makes room for n more bytes; pointers into the arena move. */
static bool arena_reserve(arena *a, size_t n) {
    if (a->len + n > a->cap) {
        size_t c = a->cap ? a->cap : 256;
        while (c < a->len + n) c *= 2;
        char *q = mnemo__realloc(a->p, c);
        if (!q) return false;
        a->p = q;
        a->cap = c;
    }
    return true;
}

static bool arena_put(arena *a, const char *s, size_t n) {
    if (n == 0) return true; /* s may be NULL (an empty arena) */
    if (!arena_reserve(a, n)) return false;
    memcpy(a->p + a->len, s, n);
    a->len += n;
    return true;
}

/* The byte of a "<0xNN>" token, or -1. Like HF: exactly 6 bytes, "<0x",
 * two characters that Rust's u8::from_str_radix(.., 16) accepts, ">". */
static int byte_token(const char *s, size_t len) {
    if (len != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    int v = 0, start = 3;
    if (s[3] == '+') start = 4; /* from_str_radix accepts a leading '+' */
    for (int i = start; i < 5; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

static bool replace_all(arena *a, const char *s, size_t len, const char *pat, size_t plen,
                        const char *rep, size_t rlen) {
    const char *p = s, *end = s + len;
    while (p < end) {
        const char *hit =
            plen <= (size_t)(end - p) ? memmem(p, (size_t)(end - p), pat, plen) : NULL;
        size_t keep = hit ? (size_t)(hit - p) : (size_t)(end - p);
        if (!arena_put(a, p, keep)) return false;
        if (!hit) break;
        if (!arena_put(a, rep, rlen)) return false;
        p = hit + plen;
    }
    return true;
}

int mnemo_tokenizer_decode(const mnemo_tokenizer *tok, const int32_t *ids, size_t n, unsigned flags,
                           char **text, size_t *len, mnemo_error *err) {
    if (!tok || (!ids && n) || !text || !len)
        return mnemo__fail(err, MNEMO_EINVAL, "mnemo_tokenizer_decode: NULL argument");
    const tok_image_header *h = tok->h;
    arena a = {0};
    piece *list = NULL, *next = NULL;
    size_t count = 0;
    int rc = MNEMO_ENOMEM;
    list = mnemo__malloc_array(n ? n : 1, sizeof(piece));
    next = mnemo__malloc_array(n ? n : 1, sizeof(piece));   /* no step makes the list longer */
    if (!list || !next || !arena_reserve(&a, 64)) goto out; /* a.p is never NULL below */
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || (uint32_t)id >= h->n_ids ||
            !(tok->id_flags[id] & (TOK_ID_ADDED | TOK_ID_IN_VOCAB))) {
            rc = mnemo__fail(err, MNEMO_ERANGE,
                             "ids[%zu] = %d is not an id of this tokenizer (valid ids are 0..%u)",
                             i, id, h->n_ids - 1);
            goto out;
        }
        if ((flags & MNEMO_DECODE_SKIP_SPECIAL) && (tok->id_flags[id] & TOK_ID_SPECIAL)) continue;
        size_t len_i;
        const char *s = mnemo_tokenizer_piece(tok, id, &len_i);
        list[count].off = a.len;
        list[count].len = len_i;
        if (!arena_put(&a, s, len_i)) goto out;
        count++;
    }
    if (!(h->flags & TOK_HAS_DECODER)) {
        arena joined = {0};
        if (!arena_reserve(&joined, 64)) goto out;
        for (size_t i = 0; i < count; i++) {
            if ((i && !arena_put(&joined, " ", 1)) ||
                !arena_put(&joined, a.p + list[i].off, list[i].len)) {
                mnemo__free(joined.p);
                goto out;
            }
        }
        mnemo__free(a.p);
        a = joined;
        count = 1;
        list[0] = (piece){0, a.len};
        if (n == 0) count = 0;
    }
    for (uint32_t k = 0; k < h->n_decoder_ops; k++) {
        size_t nn = 0;
        if (h->decoder_ops[k] == TOK_DEC_REPLACE) {
            for (size_t i = 0; i < count; i++) {
                size_t src_len = list[i].len, plen = h->dec_pattern_len[k];
                size_t rlen = h->dec_content_len[k];
                /* Reserve the worst case first, so the source stays put. */
                if (!arena_reserve(&a, src_len + (src_len / plen + 1) * rlen)) goto out;
                size_t off = a.len;
                if (!replace_all(&a, a.p + list[i].off, src_len, h->dec_pattern[k], plen,
                                 h->dec_content[k], rlen))
                    goto out;
                next[nn++] = (piece){off, a.len - off};
            }
        } else if (h->decoder_ops[k] == TOK_DEC_BYTE_FALLBACK) {
            size_t i = 0;
            while (i < count) {
                if (byte_token(a.p + list[i].off, list[i].len) < 0) {
                    next[nn++] = list[i++];
                    continue;
                }
                size_t start = i, off = a.len;
                for (; i < count; i++) {
                    int b = byte_token(a.p + list[i].off, list[i].len);
                    if (b < 0) break;
                    char c = (char)b;
                    if (!arena_put(&a, &c, 1)) goto out;
                }
                size_t nb = i - start;
                if (mnemo_utf8_valid(a.p + off, nb, NULL)) {
                    next[nn++] = (piece){off, nb};
                } else {
                    a.len = off;
                    for (size_t r = 0; r < nb; r++) {
                        size_t o2 = a.len;
                        if (!arena_put(&a, "\xEF\xBF\xBD", 3)) goto out;
                        next[nn++] = (piece){o2, 3};
                    }
                }
            }
        } else { /* TOK_DEC_FUSE */
            size_t off = a.len;
            for (size_t i = 0; i < count; i++) {
                size_t src_off = list[i].off, src_len = list[i].len;
                if (!arena_reserve(&a, src_len)) goto out;
                if (src_len) memcpy(a.p + a.len, a.p + src_off, src_len);
                a.len += src_len;
            }
            next[nn++] = (piece){off, a.len - off};
        }
        piece *t = list;
        list = next;
        next = t;
        count = nn;
    }
    {
        arena outbuf = {0};
        for (size_t i = 0; i < count; i++)
            if (!arena_put(&outbuf, a.p + list[i].off, list[i].len)) {
                mnemo__free(outbuf.p);
                goto out;
            }
        if (!arena_put(&outbuf, "", 1)) {
            mnemo__free(outbuf.p);
            goto out;
        }
        *text = outbuf.p;
        *len = outbuf.len - 1;
        rc = MNEMO_OK;
    }
out:
    if (rc == MNEMO_ENOMEM) mnemo__fail(err, rc, "out of memory while decoding %zu ids", n);
    mnemo__free(a.p);
    mnemo__free(list);
    mnemo__free(next);
    return rc;
}
