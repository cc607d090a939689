/*
 * tokenizer_internal.h — the tokenizer part's private layout, shared by its
 * files: the "image" (one contiguous, position-independent block holding every
 * table the encoder needs, which is also the binary cache written beside the
 * JSON's hash), and the handle that points into it. Other parts use mnemo.h.
 *
 * Why an image: parsing the 33 MB tokenizer.json takes most of a second; the
 * image is built once, written to the cache folder, and later loads are an
 * mmap plus a bounds check of every table (the cache is a file: nothing in
 * it is trusted).
 */
#ifndef MNEMO_TOKENIZER_INTERNAL_H
#define MNEMO_TOKENIZER_INTERNAL_H

#include "../core/core.h"

#define TOK_IMAGE_MAGIC "MNEMOTOK"
#define TOK_IMAGE_VERSION 3u
#define TOK_ENDIAN_CHECK 0x01020304u

/* Limits that keep a hostile file from asking for absurd memory. The real
 * Gemma 3 file has 262,144 ids, 514,906 merges and tokens up to ~100 bytes. */
#define TOK_MAX_IDS (1u << 24)
#define TOK_MAX_MERGES (1u << 24)
#define TOK_MAX_TOKEN_BYTES 4096u
#define TOK_MAX_SPECIAL_AROUND 8u /* ids the post-processor adds before/after */
#define TOK_MAX_PATTERN 32u       /* normalizer/pre-tokenizer/decoder strings */
#define TOK_MAX_DECODER_OPS 8u

/* Per-id flags. */
#define TOK_ID_IN_VOCAB 1u /* the BPE model's vocab has a string for this id */
#define TOK_ID_ADDED 2u    /* an added token */
#define TOK_ID_SPECIAL 4u  /* a special added token */

/* Header flags. */
#define TOK_FUSE_UNK 1u
#define TOK_BYTE_FALLBACK 2u
#define TOK_IGNORE_MERGES 4u
#define TOK_HAS_NORMALIZER 8u
#define TOK_HAS_SPLIT 16u
#define TOK_HAS_DECODER 32u

enum tok_decoder_op { TOK_DEC_REPLACE = 1, TOK_DEC_BYTE_FALLBACK = 2, TOK_DEC_FUSE = 3 };

enum tok_section {
    TOK_SEC_BLOB,        /* char: model vocab strings, then added-token contents */
    TOK_SEC_STR_OFF,     /* uint32[n_ids+1]: id -> its model string in BLOB */
    TOK_SEC_ADDED_OFF,   /* uint32[n_ids+1]: id -> its added content in BLOB (empty if none) */
    TOK_SEC_ID_FLAGS,    /* uint8[n_ids] */
    TOK_SEC_VOCAB_SLOTS, /* uint32[vocab_cap]: id+1 of a model string, 0 = empty */
    TOK_SEC_MERGE_SLOTS, /* tok_merge[merge_cap] */
    TOK_SEC_BMP_IDS,     /* int32[65536]: id of the token that is exactly code point cp */
    TOK_SEC_TRIE_NODES,  /* tok_trie_node[n_trie_nodes]; node 0 is the root */
    TOK_SEC_TRIE_EDGES,  /* tok_trie_edge[n_trie_edges], each node's edges sorted by byte */
    TOK_SEC_COUNT
};

typedef struct tok_merge {
    uint32_t left, right; /* left == UINT32_MAX marks an empty slot */
    uint32_t rank, new_id;
} tok_merge;

typedef struct tok_trie_node {
    uint32_t first_edge, n_edges;
    int32_t token_id; /* -1: no added token ends here */
} tok_trie_node;

typedef struct tok_trie_edge {
    uint32_t byte; /* 0..255 */
    uint32_t child;
} tok_trie_edge;

typedef struct tok_section_ref {
    uint64_t offset, size;
} tok_section_ref;

typedef struct tok_image_header {
    char magic[8];
    uint32_t version, endian_check;
    uint64_t json_size, json_hash; /* the tokenizer.json this image was built from */
    uint64_t body_hash;            /* hash of everything after the header */
    uint64_t total_size;
    uint32_t n_ids, n_vocab_strings, vocab_cap, merge_cap, n_merges, n_added;
    uint32_t n_trie_nodes, n_trie_edges;
    int32_t unk_id; /* -1: none */
    uint32_t flags;
    int32_t byte_ids[256]; /* id of "<0xNN>" or -1 */
    uint32_t n_pre, n_post;
    int32_t pre_ids[TOK_MAX_SPECIAL_AROUND], post_ids[TOK_MAX_SPECIAL_AROUND];
    uint32_t norm_pattern_len, norm_content_len, split_pattern_len;
    char norm_pattern[TOK_MAX_PATTERN], norm_content[TOK_MAX_PATTERN];
    char split_pattern[TOK_MAX_PATTERN];
    uint32_t n_decoder_ops;
    uint32_t decoder_ops[TOK_MAX_DECODER_OPS];
    uint32_t dec_pattern_len[TOK_MAX_DECODER_OPS], dec_content_len[TOK_MAX_DECODER_OPS];
    char dec_pattern[TOK_MAX_DECODER_OPS][TOK_MAX_PATTERN];
    char dec_content[TOK_MAX_DECODER_OPS][TOK_MAX_PATTERN];
    tok_section_ref sections[TOK_SEC_COUNT];
} tok_image_header;

struct mnemo_tokenizer {
    const tok_image_header *h;
    const char *blob;
    size_t blob_size;
    const uint32_t *str_off, *added_off;
    const uint8_t *id_flags;
    const uint32_t *vocab_slots;
    const tok_merge *merge_slots;
    const int32_t *bmp_ids;
    const tok_trie_node *trie_nodes;
    const tok_trie_edge *trie_edges;
    uint8_t trie_first_byte[256]; /* non-zero: some added token starts with this byte */
    /* Backing storage: exactly one of these is set. */
    void *owned_image;
    mnemo_file_map image_map;
};

/* Builds an image from the bytes of a tokenizer.json. On success *image is a
 * malloc'ed block of *size bytes. */
int mnemo__tok_build_image(const uint8_t *json, size_t json_size, uint64_t json_hash, void **image,
                           size_t *size, mnemo_error *err);

/* Points `tok`'s tables into an image after checking every size, offset, id
 * and table invariant. `image` must stay alive while tok is used. */
int mnemo__tok_attach(mnemo_tokenizer *tok, const void *image, size_t size, mnemo_error *err);

/* Lookups shared by the encoder and decoder. */
int32_t mnemo__tok_vocab_find(const mnemo_tokenizer *tok, const char *s, size_t len);
const tok_merge *mnemo__tok_merge_find(const mnemo_tokenizer *tok, uint32_t left, uint32_t right);
/* The added-token trie's child of `node` by `byte` (edges are sorted), or UINT32_MAX. */
uint32_t mnemo__tok_trie_child(const mnemo_tokenizer *tok, uint32_t node, uint8_t byte);

static inline uint64_t tok_pair_hash(uint32_t a, uint32_t b) {
    uint64_t x = ((uint64_t)a << 32) | b;
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ull;
    x ^= x >> 27;
    x *= 0x81dadef4bc2dd44dull;
    x ^= x >> 33;
    return x;
}

#define TOK_STRING_SEED 0x6d6e656d6f746f6bull /* "mnemotok" */

#endif /* MNEMO_TOKENIZER_INTERNAL_H */
