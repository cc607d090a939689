/*
 * tokenizer_image.c — checks a tokenizer image (built in memory or read from
 * the cache folder) and points a handle's tables into it. Every size, offset,
 * id and table invariant is checked here, once, so the encoder can index
 * without checks. Also the shared table lookups.
 */
#include "tokenizer_internal.h"

#include <string.h>

static int bad(mnemo_error *err, const char *what) {
    return mnemo__fail(err, MNEMO_EFORMAT, "tokenizer image: %s", what);
}

static bool id_ok(const tok_image_header *h, int32_t id) {
    return id == -1 || (id >= 0 && (uint32_t)id < h->n_ids);
}

int mnemo__tok_attach(mnemo_tokenizer *tok, const void *image, size_t size, mnemo_error *err) {
    const uint8_t *img = image;
    if (size < sizeof(tok_image_header)) return bad(err, "shorter than its header");
    const tok_image_header *h = image;
    if (memcmp(h->magic, TOK_IMAGE_MAGIC, 8) != 0) return bad(err, "wrong magic");
    if (h->version != TOK_IMAGE_VERSION) return bad(err, "other format version");
    if (h->endian_check != TOK_ENDIAN_CHECK) return bad(err, "other byte order");
    if (h->total_size != size) return bad(err, "size differs from the header's");
    if (h->n_ids == 0 || h->n_ids > TOK_MAX_IDS) return bad(err, "id count out of range");
    if (h->vocab_cap < 16 || (h->vocab_cap & (h->vocab_cap - 1)) || h->vocab_cap > (1u << 28))
        return bad(err, "vocab table size is not a power of two");
    if (h->merge_cap < 16 || (h->merge_cap & (h->merge_cap - 1)) || h->merge_cap > (1u << 28))
        return bad(err, "merge table size is not a power of two");
    if (h->n_pre > TOK_MAX_SPECIAL_AROUND || h->n_post > TOK_MAX_SPECIAL_AROUND)
        return bad(err, "too many post-processor ids");
    if (h->norm_pattern_len > TOK_MAX_PATTERN || h->norm_content_len > TOK_MAX_PATTERN ||
        h->split_pattern_len > TOK_MAX_PATTERN || h->n_decoder_ops > TOK_MAX_DECODER_OPS)
        return bad(err, "pattern or decoder field out of range");
    if ((h->flags & TOK_HAS_NORMALIZER) && h->norm_pattern_len == 0)
        return bad(err, "empty normalizer pattern");
    if ((h->flags & TOK_HAS_SPLIT) && h->split_pattern_len == 0)
        return bad(err, "empty split pattern");
    for (uint32_t k = 0; k < h->n_decoder_ops; k++) {
        uint32_t op = h->decoder_ops[k];
        if (op != TOK_DEC_REPLACE && op != TOK_DEC_BYTE_FALLBACK && op != TOK_DEC_FUSE)
            return bad(err, "unknown decoder step");
        if (op == TOK_DEC_REPLACE &&
            (h->dec_pattern_len[k] == 0 || h->dec_pattern_len[k] > TOK_MAX_PATTERN ||
             h->dec_content_len[k] > TOK_MAX_PATTERN))
            return bad(err, "decoder pattern out of range");
    }
    if (!id_ok(h, h->unk_id)) return bad(err, "unk id out of range");
    for (int i = 0; i < 256; i++)
        if (!id_ok(h, h->byte_ids[i])) return bad(err, "byte-fallback id out of range");
    for (uint32_t i = 0; i < h->n_pre; i++)
        if (h->pre_ids[i] < 0 || !id_ok(h, h->pre_ids[i]))
            return bad(err, "special id out of range");
    for (uint32_t i = 0; i < h->n_post; i++)
        if (h->post_ids[i] < 0 || !id_ok(h, h->post_ids[i]))
            return bad(err, "special id out of range");

    size_t expect[TOK_SEC_COUNT] = {
        [TOK_SEC_BLOB] = (size_t)h->sections[TOK_SEC_BLOB].size, /* checked below */
        [TOK_SEC_STR_OFF] = ((size_t)h->n_ids + 1) * 4,
        [TOK_SEC_ADDED_OFF] = ((size_t)h->n_ids + 1) * 4,
        [TOK_SEC_ID_FLAGS] = h->n_ids,
        [TOK_SEC_VOCAB_SLOTS] = (size_t)h->vocab_cap * 4,
        [TOK_SEC_MERGE_SLOTS] = (size_t)h->merge_cap * sizeof(tok_merge),
        [TOK_SEC_BMP_IDS] = 65536 * 4,
        [TOK_SEC_TRIE_NODES] = (size_t)h->n_trie_nodes * sizeof(tok_trie_node),
        [TOK_SEC_TRIE_EDGES] = (size_t)h->n_trie_edges * sizeof(tok_trie_edge),
    };
    for (int s = 0; s < TOK_SEC_COUNT; s++) {
        uint64_t off = h->sections[s].offset, sz = h->sections[s].size;
        if (off % 64 != 0 || off < sizeof(tok_image_header) || off > size || sz > size - off)
            return bad(err, "a section lies outside the file");
        if (sz != expect[s]) return bad(err, "a section has the wrong size");
    }
    size_t hdr = (sizeof(tok_image_header) + 63) & ~(size_t)63;
    if (mnemo__hash64(img + hdr, size - hdr, TOK_STRING_SEED) != h->body_hash)
        return bad(err, "checksum mismatch (the file is damaged)");

#define SEC(s, T) ((const T *)(img + h->sections[s].offset))
    const char *blob = SEC(TOK_SEC_BLOB, char);
    size_t blob_size = h->sections[TOK_SEC_BLOB].size;
    const uint32_t *str_off = SEC(TOK_SEC_STR_OFF, uint32_t);
    const uint32_t *added_off = SEC(TOK_SEC_ADDED_OFF, uint32_t);
    if (str_off[0] != 0 || added_off[0] != str_off[h->n_ids] || added_off[h->n_ids] > blob_size)
        return bad(err, "string offsets out of range");
    for (uint32_t i = 0; i < h->n_ids; i++) {
        if (str_off[i + 1] < str_off[i] || str_off[i + 1] - str_off[i] > TOK_MAX_TOKEN_BYTES ||
            added_off[i + 1] < added_off[i] ||
            added_off[i + 1] - added_off[i] > TOK_MAX_TOKEN_BYTES)
            return bad(err, "string offsets not increasing");
    }
    const uint8_t *flags = SEC(TOK_SEC_ID_FLAGS, uint8_t);
    const uint32_t *vslots = SEC(TOK_SEC_VOCAB_SLOTS, uint32_t);
    uint32_t empty = 0;
    for (uint32_t i = 0; i < h->vocab_cap; i++) {
        if (vslots[i] == 0)
            empty++;
        else if (vslots[i] > h->n_ids || !(flags[vslots[i] - 1] & TOK_ID_IN_VOCAB))
            return bad(err, "vocab table names a bad id");
    }
    if (empty == 0) return bad(err, "vocab table is full");
    const tok_merge *mslots = SEC(TOK_SEC_MERGE_SLOTS, tok_merge);
    empty = 0;
    for (uint32_t i = 0; i < h->merge_cap; i++) {
        if (mslots[i].left == UINT32_MAX)
            empty++;
        else if (mslots[i].left >= h->n_ids || mslots[i].right >= h->n_ids ||
                 mslots[i].new_id >= h->n_ids)
            return bad(err, "merge table names a bad id");
    }
    if (empty == 0) return bad(err, "merge table is full");
    const int32_t *bmp = SEC(TOK_SEC_BMP_IDS, int32_t);
    for (int i = 0; i < 65536; i++)
        if (!id_ok(h, bmp[i])) return bad(err, "character table names a bad id");
    const tok_trie_node *nodes = SEC(TOK_SEC_TRIE_NODES, tok_trie_node);
    const tok_trie_edge *edges = SEC(TOK_SEC_TRIE_EDGES, tok_trie_edge);
    if (h->n_trie_nodes == 0) return bad(err, "no trie root");
    for (uint32_t i = 0; i < h->n_trie_nodes; i++) {
        if (nodes[i].first_edge > h->n_trie_edges ||
            nodes[i].n_edges > h->n_trie_edges - nodes[i].first_edge ||
            !id_ok(h, nodes[i].token_id))
            return bad(err, "trie node out of range");
    }
    for (uint32_t i = 0; i < h->n_trie_edges; i++)
        if (edges[i].byte > 255 || edges[i].child >= h->n_trie_nodes)
            return bad(err, "trie edge out of range");

    memset(tok, 0, sizeof *tok);
    tok->h = h;
    tok->blob = blob;
    tok->blob_size = blob_size;
    tok->str_off = str_off;
    tok->added_off = added_off;
    tok->id_flags = flags;
    tok->vocab_slots = vslots;
    tok->merge_slots = mslots;
    tok->bmp_ids = bmp;
    tok->trie_nodes = nodes;
    tok->trie_edges = edges;
    for (uint32_t e = 0; e < nodes[0].n_edges; e++)
        tok->trie_first_byte[edges[nodes[0].first_edge + e].byte] = 1;
#undef SEC
    return MNEMO_OK;
}

int32_t mnemo__tok_vocab_find(const mnemo_tokenizer *tok, const char *s, size_t len) {
    uint32_t mask = tok->h->vocab_cap - 1;
    uint32_t i = (uint32_t)mnemo__hash64(s, len, TOK_STRING_SEED) & mask;
    for (;;) {
        uint32_t v = tok->vocab_slots[i];
        if (v == 0) return -1;
        uint32_t id = v - 1;
        uint32_t off = tok->str_off[id];
        if (tok->str_off[id + 1] - off == len && memcmp(tok->blob + off, s, len) == 0)
            return (int32_t)id;
        i = (i + 1) & mask;
    }
}

const tok_merge *mnemo__tok_merge_find(const mnemo_tokenizer *tok, uint32_t left, uint32_t right) {
    uint32_t mask = tok->h->merge_cap - 1;
    uint32_t i = (uint32_t)tok_pair_hash(left, right) & mask;
    for (;;) {
        const tok_merge *m = &tok->merge_slots[i];
        if (m->left == left && m->right == right) return m;
        if (m->left == UINT32_MAX) return NULL;
        i = (i + 1) & mask;
    }
}

uint32_t mnemo__tok_trie_child(const mnemo_tokenizer *tok, uint32_t node, uint8_t byte) {
    const tok_trie_node *nd = &tok->trie_nodes[node];
    const tok_trie_edge *ed = tok->trie_edges + nd->first_edge;
    uint32_t lo = 0, hi = nd->n_edges;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (ed[mid].byte < byte)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < nd->n_edges && ed[lo].byte == byte ? ed[lo].child : UINT32_MAX;
}
