/*
 * tokenizer_json.c — reads a Hugging Face tokenizer.json (jansson) and builds
 * the tokenizer image (tokenizer_internal.h). Every field is checked for its
 * shape and range; anything of a kind the encoder does not implement is
 * refused with the JSON path of the field. Not the encoder: see
 * tokenizer_encode.c.
 */
#include "tokenizer_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Transient trie used while building; flattened into the image. */
typedef struct build_node {
    uint32_t first_child_edge; /* index into edges list, linked */
    int32_t token_id;
} build_node;
typedef struct build_edge {
    uint8_t byte;
    uint32_t child, next; /* next edge of the same parent, UINT32_MAX = end */
} build_edge;

typedef struct builder {
    mnemo_error *err;
    uint32_t n_ids;
    /* model vocab */
    const char **vocab_str; /* by id, NULL if none (points into jansson) */
    uint32_t *vocab_len;
    uint32_t n_vocab_strings;
    /* added tokens */
    const char **added_str;
    uint32_t *added_len;
    uint8_t *id_flags;
    uint32_t n_added;
    /* tables */
    uint32_t vocab_cap, *vocab_slots;
    uint32_t merge_cap, n_merges;
    tok_merge *merge_slots;
    build_node *nodes;
    uint32_t n_nodes, cap_nodes;
    build_edge *edges;
    uint32_t n_edges, cap_edges;
    tok_image_header h;
} builder;

static uint32_t pow2_at_least(uint64_t n) {
    uint64_t c = 16;
    while (c < n) c *= 2;
    return (uint32_t)c;
}

/* ------------------------------------------------------ small JSON helpers */

static int fail_type(builder *b, const char *path, const char *want) {
    return mnemo__fail(b->err, MNEMO_EFORMAT, "%s must be %s", path, want);
}

static const char *type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

/* Returns the string field `key` of `obj`, or NULL with an error set. */
static const char *get_string(builder *b, const json_t *obj, const char *key, const char *path,
                              size_t *len) {
    json_t *v = json_object_get(obj, key);
    if (!v || !json_is_string(v)) {
        mnemo__fail(b->err, MNEMO_EFORMAT, "%s.%s must be a string (found %s)", path, key,
                    v ? type_name(v) : "nothing");
        return NULL;
    }
    if (len) *len = json_string_length(v);
    return json_string_value(v);
}

static bool is_false_or_missing(const json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    return !v || json_is_false(v) || json_is_null(v);
}

static bool is_null_or_missing(const json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    return !v || json_is_null(v);
}

/* {"String": "x"} -> x. Regex patterns are refused. */
static int get_pattern(builder *b, const json_t *obj, const char *path, char *out,
                       uint32_t *out_len) {
    json_t *pat = json_object_get(obj, "pattern");
    if (!pat || !json_is_object(pat)) return fail_type(b, path, "an object with a \"pattern\"");
    json_t *s = json_object_get(pat, "String");
    if (!s) {
        if (json_object_get(pat, "Regex"))
            return mnemo__fail(b->err, MNEMO_EUNSUPPORTED,
                               "%s.pattern is a Regex; only String patterns are "
                               "implemented",
                               path);
        return fail_type(b, path, "a pattern {\"String\": ...}");
    }
    if (!json_is_string(s)) return fail_type(b, path, "a pattern whose String is a string");
    size_t n = json_string_length(s);
    if (n == 0 || n > TOK_MAX_PATTERN)
        return mnemo__fail(b->err, MNEMO_EUNSUPPORTED,
                           "%s.pattern is %zu bytes; 1..%u are supported", path, n,
                           TOK_MAX_PATTERN);
    memcpy(out, json_string_value(s), n);
    *out_len = (uint32_t)n;
    return MNEMO_OK;
}

static int get_content(builder *b, const json_t *obj, const char *path, char *out,
                       uint32_t *out_len) {
    size_t n;
    const char *s = get_string(b, obj, "content", path, &n);
    if (!s) return MNEMO_EFORMAT;
    if (n > TOK_MAX_PATTERN)
        return mnemo__fail(b->err, MNEMO_EUNSUPPORTED,
                           "%s.content is %zu bytes; at most %u are supported", path, n,
                           TOK_MAX_PATTERN);
    memcpy(out, s, n);
    *out_len = (uint32_t)n;
    return MNEMO_OK;
}

/* --------------------------------------------------------------- tables */

static uint32_t vocab_lookup(const builder *b, const char *s, size_t len) {
    uint32_t mask = b->vocab_cap - 1;
    uint32_t i = (uint32_t)mnemo__hash64(s, len, TOK_STRING_SEED) & mask;
    for (;;) {
        uint32_t v = b->vocab_slots[i];
        if (v == 0) return UINT32_MAX;
        uint32_t id = v - 1;
        if (b->vocab_len[id] == len && memcmp(b->vocab_str[id], s, len) == 0) return id;
        i = (i + 1) & mask;
    }
}

static void vocab_insert(builder *b, uint32_t id) {
    uint32_t mask = b->vocab_cap - 1;
    uint32_t i =
        (uint32_t)mnemo__hash64(b->vocab_str[id], b->vocab_len[id], TOK_STRING_SEED) & mask;
    while (b->vocab_slots[i] != 0) i = (i + 1) & mask;
    b->vocab_slots[i] = id + 1;
}

/* HF builds its merge map by collecting (pair -> (rank, new_id)) into a hash
 * map, so when a pair is listed twice the later entry wins; so here. */
static void merge_insert(builder *b, uint32_t left, uint32_t right, uint32_t rank,
                         uint32_t new_id) {
    uint32_t mask = b->merge_cap - 1;
    uint32_t i = (uint32_t)tok_pair_hash(left, right) & mask;
    for (;;) {
        tok_merge *m = &b->merge_slots[i];
        if (m->left == UINT32_MAX) {
            *m = (tok_merge){left, right, rank, new_id};
            b->n_merges++;
            return;
        }
        if (m->left == left && m->right == right) {
            m->rank = rank;
            m->new_id = new_id;
            return;
        }
        i = (i + 1) & mask;
    }
}

/* ------------------------------------------------------------- sections */

static int parse_model_vocab(builder *b, const json_t *model) {
    json_t *vocab = json_object_get(model, "vocab");
    if (!vocab || !json_is_object(vocab)) return fail_type(b, "model.vocab", "an object");
    size_t n = json_object_size(vocab);
    if (n == 0 || n > TOK_MAX_IDS)
        return mnemo__fail(b->err, MNEMO_EFORMAT,
                           "model.vocab has %zu entries; 1..%u are supported", n, TOK_MAX_IDS);
    /* First pass: the largest id, so tables can be sized. */
    const char *key;
    size_t key_len;
    json_t *val;
    uint32_t max_id = 0;
    json_object_keylen_foreach((json_t *)vocab, key, key_len, val) {
        if (!json_is_integer(val))
            return mnemo__fail(b->err, MNEMO_EFORMAT,
                               "model.vocab[\"%.40s\"] must be an integer id "
                               "(found %s)",
                               key, type_name(val));
        json_int_t id = json_integer_value(val);
        if (id < 0 || id >= (json_int_t)TOK_MAX_IDS)
            return mnemo__fail(b->err, MNEMO_EFORMAT,
                               "model.vocab[\"%.40s\"] = %lld is out of range "
                               "(0..%u)",
                               key, (long long)id, TOK_MAX_IDS - 1);
        if (key_len == 0 || key_len > TOK_MAX_TOKEN_BYTES)
            return mnemo__fail(b->err, MNEMO_EFORMAT,
                               "model.vocab has a token of %zu bytes (id %lld); "
                               "1..%u are supported",
                               key_len, (long long)id, TOK_MAX_TOKEN_BYTES);
        if ((uint32_t)id > max_id) max_id = (uint32_t)id;
    }
    b->n_ids = max_id + 1;
    b->n_vocab_strings = (uint32_t)n;
    return MNEMO_OK;
}

static int fill_model_vocab(builder *b, const json_t *model) {
    json_t *vocab = json_object_get(model, "vocab");
    const char *key;
    size_t key_len;
    json_t *val;
    json_object_keylen_foreach((json_t *)vocab, key, key_len, val) {
        uint32_t id = (uint32_t)json_integer_value(val);
        if (b->vocab_str[id])
            return mnemo__fail(b->err, MNEMO_EFORMAT,
                               "model.vocab gives id %u to both \"%.40s\" and "
                               "\"%.40s\"",
                               id, b->vocab_str[id], key);
        b->vocab_str[id] = key;
        b->vocab_len[id] = (uint32_t)key_len;
        b->id_flags[id] |= TOK_ID_IN_VOCAB;
    }
    b->vocab_cap = pow2_at_least((uint64_t)b->n_vocab_strings * 2);
    b->vocab_slots = mnemo__calloc(b->vocab_cap, sizeof(uint32_t));
    if (!b->vocab_slots) return mnemo__fail(b->err, MNEMO_ENOMEM, "out of memory (vocab table)");
    for (uint32_t id = 0; id < b->n_ids; id++)
        if (b->vocab_str[id]) vocab_insert(b, id);
    return MNEMO_OK;
}

static int parse_merges(builder *b, const json_t *model) {
    json_t *merges = json_object_get(model, "merges");
    if (!merges || json_is_null(merges))
        merges = NULL;
    else if (!json_is_array(merges))
        return fail_type(b, "model.merges", "an array");
    size_t n = merges ? json_array_size(merges) : 0;
    if (n > TOK_MAX_MERGES)
        return mnemo__fail(b->err, MNEMO_EFORMAT,
                           "model.merges has %zu entries; at most %u are supported", n,
                           TOK_MAX_MERGES);
    b->merge_cap = pow2_at_least((uint64_t)n * 2);
    b->merge_slots = mnemo__malloc_array(b->merge_cap, sizeof(tok_merge));
    if (!b->merge_slots) return mnemo__fail(b->err, MNEMO_ENOMEM, "out of memory (merge table)");
    memset(b->merge_slots, 0xFF, (size_t)b->merge_cap * sizeof(tok_merge));
    char joined[2 * TOK_MAX_TOKEN_BYTES];
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(merges, i);
        const char *a, *c;
        size_t alen, clen;
        if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
            json_is_string(json_array_get(m, 1))) {
            a = json_string_value(json_array_get(m, 0));
            alen = json_string_length(json_array_get(m, 0));
            c = json_string_value(json_array_get(m, 1));
            clen = json_string_length(json_array_get(m, 1));
        } else if (json_is_string(m)) {
            /* The older "a b" form: exactly one space separates the pair. */
            const char *s = json_string_value(m);
            size_t len = json_string_length(m);
            const char *sp = memchr(s, ' ', len);
            if (!sp || memchr(sp + 1, ' ', len - (size_t)(sp + 1 - s)))
                return mnemo__fail(b->err, MNEMO_EFORMAT,
                                   "model.merges[%zu] \"%.60s\" is not two tokens "
                                   "separated by one space",
                                   i, s);
            a = s;
            alen = (size_t)(sp - s);
            c = sp + 1;
            clen = len - alen - 1;
        } else {
            return mnemo__fail(b->err, MNEMO_EFORMAT, "model.merges[%zu] is not a pair of strings",
                               i);
        }
        uint32_t ia = vocab_lookup(b, a, alen), ic = vocab_lookup(b, c, clen);
        if (ia == UINT32_MAX || ic == UINT32_MAX)
            return mnemo__fail(
                b->err, MNEMO_EFORMAT,
                "model.merges[%zu] names \"%.*s\", which is not in "
                "model.vocab",
                i, (int)(ia == UINT32_MAX ? (alen > 60 ? 60 : alen) : (clen > 60 ? 60 : clen)),
                ia == UINT32_MAX ? a : c);
        if (alen + clen > sizeof joined)
            return mnemo__fail(b->err, MNEMO_EFORMAT, "model.merges[%zu] is too long", i);
        memcpy(joined, a, alen);
        memcpy(joined + alen, c, clen);
        uint32_t inew = vocab_lookup(b, joined, alen + clen);
        if (inew == UINT32_MAX)
            return mnemo__fail(b->err, MNEMO_EFORMAT,
                               "model.merges[%zu] makes \"%.*s\", which is not in "
                               "model.vocab",
                               i, (int)((alen + clen) > 60 ? 60 : alen + clen), joined);
        merge_insert(b, ia, ic, (uint32_t)i, inew);
    }
    return MNEMO_OK;
}

static int parse_model(builder *b, const json_t *root) {
    json_t *model = json_object_get(root, "model");
    if (!model || !json_is_object(model)) return fail_type(b, "model", "an object");
    json_t *type = json_object_get(model, "type");
    if (!type || !json_is_string(type)) return fail_type(b, "model.type", "a string (\"BPE\")");
    if (strcmp(json_string_value(type), "BPE") != 0)
        return mnemo__fail(b->err, MNEMO_EUNSUPPORTED,
                           "model.type is \"%.40s\"; only \"BPE\" (Gemma / "
                           "SentencePiece-BPE) is implemented",
                           json_string_value(type));
    if (!is_null_or_missing(model, "dropout"))
        return mnemo__fail(b->err, MNEMO_EUNSUPPORTED,
                           "model.dropout is set; BPE dropout is not implemented "
                           "(set it to null)");
    const char *keys[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int k = 0; k < 2; k++) {
        json_t *v = json_object_get(model, keys[k]);
        if (v && !json_is_null(v) && !(json_is_string(v) && json_string_length(v) == 0))
            return mnemo__fail(b->err, MNEMO_EUNSUPPORTED, "model.%s is set; it is not implemented",
                               keys[k]);
    }
    if (json_is_true(json_object_get(model, "fuse_unk"))) b->h.flags |= TOK_FUSE_UNK;
    if (json_is_true(json_object_get(model, "byte_fallback"))) b->h.flags |= TOK_BYTE_FALLBACK;
    if (json_is_true(json_object_get(model, "ignore_merges"))) b->h.flags |= TOK_IGNORE_MERGES;
    return parse_model_vocab(b, model);
}

static int parse_added_tokens(builder *b, const json_t *root, uint32_t *max_id) {
    json_t *added = json_object_get(root, "added_tokens");
    if (!added || json_is_null(added)) return MNEMO_OK;
    if (!json_is_array(added)) return fail_type(b, "added_tokens", "an array");
    size_t n = json_array_size(added);
    if (n > TOK_MAX_IDS)
        return mnemo__fail(b->err, MNEMO_EFORMAT, "added_tokens has %zu entries", n);
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(added, i);
        char path[48];
        snprintf(path, sizeof path, "added_tokens[%zu]", i);
        if (!json_is_object(t)) return fail_type(b, path, "an object");
        json_t *id = json_object_get(t, "id");
        if (!id || !json_is_integer(id)) {
            snprintf(path, sizeof path, "added_tokens[%zu].id", i);
            return fail_type(b, path, "an integer");
        }
        json_int_t v = json_integer_value(id);
        if (v < 0 || v >= (json_int_t)TOK_MAX_IDS)
            return mnemo__fail(b->err, MNEMO_EFORMAT,
                               "added_tokens[%zu].id = %lld is out of range "
                               "(0..%u)",
                               i, (long long)v, TOK_MAX_IDS - 1);
        size_t len;
        const char *content = get_string(b, t, "content", path, &len);
        if (!content) return MNEMO_EFORMAT;
        if (len == 0 || len > TOK_MAX_TOKEN_BYTES)
            return mnemo__fail(b->err, MNEMO_EFORMAT,
                               "added_tokens[%zu].content is %zu bytes; 1..%u are "
                               "supported",
                               i, len, TOK_MAX_TOKEN_BYTES);
        const char *flags[] = {"single_word", "lstrip", "rstrip", "normalized"};
        for (int f = 0; f < 4; f++)
            if (!is_false_or_missing(t, flags[f]))
                return mnemo__fail(b->err, MNEMO_EUNSUPPORTED,
                                   "added_tokens[%zu] (\"%.40s\") has %s = true; "
                                   "only false is implemented",
                                   i, content, flags[f]);
        if ((uint32_t)v > *max_id) *max_id = (uint32_t)v;
    }
    return MNEMO_OK;
}

static uint32_t trie_new_node(builder *b) {
    if (b->n_nodes == b->cap_nodes) {
        uint32_t cap = b->cap_nodes ? b->cap_nodes * 2 : 256;
        build_node *p = mnemo__realloc(b->nodes, (size_t)cap * sizeof *p);
        if (!p) return UINT32_MAX;
        b->nodes = p;
        b->cap_nodes = cap;
    }
    b->nodes[b->n_nodes] = (build_node){UINT32_MAX, -1};
    return b->n_nodes++;
}

static int trie_insert(builder *b, const char *s, size_t len, uint32_t id, size_t index) {
    uint32_t node = 0;
    for (size_t k = 0; k < len; k++) {
        uint8_t c = (uint8_t)s[k];
        uint32_t e = b->nodes[node].first_child_edge;
        while (e != UINT32_MAX && b->edges[e].byte != c) e = b->edges[e].next;
        if (e == UINT32_MAX) {
            uint32_t child = trie_new_node(b);
            if (child == UINT32_MAX) return MNEMO_ENOMEM;
            if (b->n_edges == b->cap_edges) {
                uint32_t cap = b->cap_edges ? b->cap_edges * 2 : 256;
                build_edge *p = mnemo__realloc(b->edges, (size_t)cap * sizeof *p);
                if (!p) return MNEMO_ENOMEM;
                b->edges = p;
                b->cap_edges = cap;
            }
            e = b->n_edges++;
            b->edges[e] = (build_edge){c, child, b->nodes[node].first_child_edge};
            b->nodes[node].first_child_edge = e;
        }
        node = b->edges[e].child;
    }
    if (b->nodes[node].token_id >= 0)
        return mnemo__fail(b->err, MNEMO_EFORMAT,
                           "added_tokens[%zu] repeats the content \"%.40s\" of id "
                           "%d",
                           index, s, b->nodes[node].token_id);
    b->nodes[node].token_id = (int32_t)id;
    return MNEMO_OK;
}

static int fill_added_tokens(builder *b, const json_t *root) {
    json_t *added = json_object_get(root, "added_tokens");
    if (trie_new_node(b) == UINT32_MAX) return mnemo__fail(b->err, MNEMO_ENOMEM, "out of memory");
    if (!added || json_is_null(added)) return MNEMO_OK;
    for (size_t i = 0; i < json_array_size(added); i++) {
        json_t *t = json_array_get(added, i);
        uint32_t id = (uint32_t)json_integer_value(json_object_get(t, "id"));
        json_t *c = json_object_get(t, "content");
        if (b->added_str[id])
            return mnemo__fail(b->err, MNEMO_EFORMAT, "added_tokens[%zu] repeats id %u", i, id);
        b->added_str[id] = json_string_value(c);
        b->added_len[id] = (uint32_t)json_string_length(c);
        b->id_flags[id] |= TOK_ID_ADDED;
        if (json_is_true(json_object_get(t, "special"))) b->id_flags[id] |= TOK_ID_SPECIAL;
        b->n_added++;
        int rc = trie_insert(b, b->added_str[id], b->added_len[id], id, i);
        if (rc == MNEMO_ENOMEM) return mnemo__fail(b->err, MNEMO_ENOMEM, "out of memory (trie)");
        if (rc) return rc;
    }
    return MNEMO_OK;
}

static int parse_normalizer(builder *b, const json_t *root) {
    json_t *n = json_object_get(root, "normalizer");
    if (!n || json_is_null(n)) return MNEMO_OK;
    if (!json_is_object(n)) return fail_type(b, "normalizer", "an object or null");
    size_t len;
    const char *type = get_string(b, n, "type", "normalizer", &len);
    if (!type) return MNEMO_EFORMAT;
    if (strcmp(type, "Replace") != 0)
        return mnemo__fail(b->err, MNEMO_EUNSUPPORTED,
                           "normalizer.type is \"%.40s\"; only \"Replace\" is "
                           "implemented",
                           type);
    int rc = get_pattern(b, n, "normalizer", b->h.norm_pattern, &b->h.norm_pattern_len);
    if (rc) return rc;
    rc = get_content(b, n, "normalizer", b->h.norm_content, &b->h.norm_content_len);
    if (rc) return rc;
    b->h.flags |= TOK_HAS_NORMALIZER;
    return MNEMO_OK;
}

static int parse_pre_tokenizer(builder *b, const json_t *root) {
    json_t *p = json_object_get(root, "pre_tokenizer");
    if (!p || json_is_null(p)) return MNEMO_OK;
    if (!json_is_object(p)) return fail_type(b, "pre_tokenizer", "an object or null");
    const char *type = get_string(b, p, "type", "pre_tokenizer", NULL);
    if (!type) return MNEMO_EFORMAT;
    if (strcmp(type, "Split") != 0)
        return mnemo__fail(b->err, MNEMO_EUNSUPPORTED,
                           "pre_tokenizer.type is \"%.40s\"; only \"Split\" is "
                           "implemented",
                           type);
    const char *behavior = get_string(b, p, "behavior", "pre_tokenizer", NULL);
    if (!behavior) return MNEMO_EFORMAT;
    if (strcmp(behavior, "MergedWithPrevious") != 0)
        return mnemo__fail(b->err, MNEMO_EUNSUPPORTED,
                           "pre_tokenizer.behavior is \"%.40s\"; only "
                           "\"MergedWithPrevious\" is implemented",
                           behavior);
    if (!is_false_or_missing(p, "invert"))
        return mnemo__fail(b->err, MNEMO_EUNSUPPORTED,
                           "pre_tokenizer.invert = true is not implemented");
    int rc = get_pattern(b, p, "pre_tokenizer", b->h.split_pattern, &b->h.split_pattern_len);
    if (rc) return rc;
    b->h.flags |= TOK_HAS_SPLIT;
    return MNEMO_OK;
}

static int parse_post_processor(builder *b, const json_t *root) {
    json_t *p = json_object_get(root, "post_processor");
    if (!p || json_is_null(p)) return MNEMO_OK;
    if (!json_is_object(p)) return fail_type(b, "post_processor", "an object or null");
    const char *type = get_string(b, p, "type", "post_processor", NULL);
    if (!type) return MNEMO_EFORMAT;
    if (strcmp(type, "TemplateProcessing") != 0)
        return mnemo__fail(b->err, MNEMO_EUNSUPPORTED,
                           "post_processor.type is \"%.40s\"; only "
                           "\"TemplateProcessing\" is implemented",
                           type);
    json_t *single = json_object_get(p, "single");
    json_t *specials = json_object_get(p, "special_tokens");
    if (!single || !json_is_array(single)) return fail_type(b, "post_processor.single", "an array");
    if (specials && !json_is_object(specials))
        return fail_type(b, "post_processor.special_tokens", "an object");
    bool seen_sequence = false;
    for (size_t i = 0; i < json_array_size(single); i++) {
        json_t *item = json_array_get(single, i);
        json_t *seq = json_is_object(item) ? json_object_get(item, "Sequence") : NULL;
        json_t *sp = json_is_object(item) ? json_object_get(item, "SpecialToken") : NULL;
        if (seq) {
            json_t *sid = json_is_object(seq) ? json_object_get(seq, "id") : NULL;
            if (seen_sequence || !sid || !json_is_string(sid) ||
                strcmp(json_string_value(sid), "A") != 0)
                return mnemo__fail(b->err, MNEMO_EUNSUPPORTED,
                                   "post_processor.single[%zu]: only one Sequence "
                                   "\"A\" is implemented",
                                   i);
            seen_sequence = true;
            continue;
        }
        json_t *name = sp && json_is_object(sp) ? json_object_get(sp, "id") : NULL;
        if (!name || !json_is_string(name))
            return mnemo__fail(b->err, MNEMO_EFORMAT,
                               "post_processor.single[%zu] must be a Sequence or "
                               "a SpecialToken with a string id",
                               i);
        json_t *entry = specials ? json_object_get(specials, json_string_value(name)) : NULL;
        json_t *ids = entry && json_is_object(entry) ? json_object_get(entry, "ids") : NULL;
        if (!ids || !json_is_array(ids))
            return mnemo__fail(b->err, MNEMO_EFORMAT,
                               "post_processor.special_tokens has no ids for "
                               "\"%.40s\"",
                               json_string_value(name));
        for (size_t k = 0; k < json_array_size(ids); k++) {
            json_t *idv = json_array_get(ids, k);
            json_int_t id = json_is_integer(idv) ? json_integer_value(idv) : -1;
            if (id < 0 || id >= (json_int_t)b->n_ids)
                return mnemo__fail(b->err, MNEMO_EFORMAT,
                                   "post_processor.special_tokens[\"%.40s\"].ids[%zu] "
                                   "is not an id of this tokenizer",
                                   json_string_value(name), k);
            uint32_t *n = seen_sequence ? &b->h.n_post : &b->h.n_pre;
            int32_t *arr = seen_sequence ? b->h.post_ids : b->h.pre_ids;
            if (*n >= TOK_MAX_SPECIAL_AROUND)
                return mnemo__fail(b->err, MNEMO_EUNSUPPORTED,
                                   "post_processor adds more than %u tokens on one "
                                   "side",
                                   TOK_MAX_SPECIAL_AROUND);
            arr[(*n)++] = (int32_t)id;
        }
    }
    if (!seen_sequence)
        return mnemo__fail(b->err, MNEMO_EFORMAT, "post_processor.single has no Sequence \"A\"");
    return MNEMO_OK;
}

static int parse_decoder_step(builder *b, const json_t *d, const char *path) {
    if (!json_is_object(d)) return fail_type(b, path, "an object");
    const char *type = get_string(b, d, "type", path, NULL);
    if (!type) return MNEMO_EFORMAT;
    uint32_t k = b->h.n_decoder_ops;
    if (k >= TOK_MAX_DECODER_OPS)
        return mnemo__fail(b->err, MNEMO_EUNSUPPORTED, "decoder has too many steps");
    if (!strcmp(type, "Replace")) {
        int rc = get_pattern(b, d, path, b->h.dec_pattern[k], &b->h.dec_pattern_len[k]);
        if (rc) return rc;
        rc = get_content(b, d, path, b->h.dec_content[k], &b->h.dec_content_len[k]);
        if (rc) return rc;
        b->h.decoder_ops[k] = TOK_DEC_REPLACE;
    } else if (!strcmp(type, "ByteFallback")) {
        b->h.decoder_ops[k] = TOK_DEC_BYTE_FALLBACK;
    } else if (!strcmp(type, "Fuse")) {
        b->h.decoder_ops[k] = TOK_DEC_FUSE;
    } else {
        return mnemo__fail(b->err, MNEMO_EUNSUPPORTED,
                           "%s.type is \"%.40s\"; only Replace, ByteFallback and "
                           "Fuse are implemented",
                           path, type);
    }
    b->h.n_decoder_ops++;
    return MNEMO_OK;
}

static int parse_decoder(builder *b, const json_t *root) {
    json_t *d = json_object_get(root, "decoder");
    if (!d || json_is_null(d)) return MNEMO_OK; /* HF then joins tokens with spaces */
    b->h.flags |= TOK_HAS_DECODER;
    if (!json_is_object(d)) return fail_type(b, "decoder", "an object or null");
    json_t *type = json_object_get(d, "type");
    if (type && json_is_string(type) && !strcmp(json_string_value(type), "Sequence")) {
        json_t *steps = json_object_get(d, "decoders");
        if (!steps || !json_is_array(steps)) return fail_type(b, "decoder.decoders", "an array");
        for (size_t i = 0; i < json_array_size(steps); i++) {
            char path[48];
            snprintf(path, sizeof path, "decoder.decoders[%zu]", i);
            int rc = parse_decoder_step(b, json_array_get(steps, i), path);
            if (rc) return rc;
        }
        return MNEMO_OK;
    }
    return parse_decoder_step(b, d, "decoder");
}

/* ------------------------------------------------------------ the image */

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

static int write_image(builder *b, void **image, size_t *size) {
    size_t blob_size = 0;
    for (uint32_t id = 0; id < b->n_ids; id++) blob_size += b->vocab_len[id] + b->added_len[id];
    if (blob_size > UINT32_MAX)
        return mnemo__fail(b->err, MNEMO_EFORMAT, "token strings are too large");
    /* Trie: flatten with each node's edges contiguous and sorted by byte. */
    size_t sizes[TOK_SEC_COUNT] = {
        [TOK_SEC_BLOB] = blob_size,
        [TOK_SEC_STR_OFF] = ((size_t)b->n_ids + 1) * 4,
        [TOK_SEC_ADDED_OFF] = ((size_t)b->n_ids + 1) * 4,
        [TOK_SEC_ID_FLAGS] = b->n_ids,
        [TOK_SEC_VOCAB_SLOTS] = (size_t)b->vocab_cap * 4,
        [TOK_SEC_MERGE_SLOTS] = (size_t)b->merge_cap * sizeof(tok_merge),
        [TOK_SEC_BMP_IDS] = 65536 * 4,
        [TOK_SEC_TRIE_NODES] = (size_t)b->n_nodes * sizeof(tok_trie_node),
        [TOK_SEC_TRIE_EDGES] = (size_t)b->n_edges * sizeof(tok_trie_edge),
    };
    size_t total = align64(sizeof(tok_image_header));
    for (int s = 0; s < TOK_SEC_COUNT; s++) {
        b->h.sections[s].offset = total;
        b->h.sections[s].size = sizes[s];
        total += align64(sizes[s]);
    }
    uint8_t *img = mnemo__calloc(1, total);
    if (!img) return mnemo__fail(b->err, MNEMO_ENOMEM, "out of memory (%zu-byte image)", total);
#define SEC(s, T) ((T *)(img + b->h.sections[s].offset))
    char *blob = SEC(TOK_SEC_BLOB, char);
    uint32_t *str_off = SEC(TOK_SEC_STR_OFF, uint32_t);
    uint32_t *added_off = SEC(TOK_SEC_ADDED_OFF, uint32_t);
    size_t o = 0;
    for (uint32_t id = 0; id < b->n_ids; id++) {
        str_off[id] = (uint32_t)o;
        if (b->vocab_len[id]) memcpy(blob + o, b->vocab_str[id], b->vocab_len[id]);
        o += b->vocab_len[id];
    }
    str_off[b->n_ids] = (uint32_t)o;
    for (uint32_t id = 0; id < b->n_ids; id++) {
        added_off[id] = (uint32_t)o;
        if (b->added_len[id]) memcpy(blob + o, b->added_str[id], b->added_len[id]);
        o += b->added_len[id];
    }
    added_off[b->n_ids] = (uint32_t)o;
    memcpy(SEC(TOK_SEC_ID_FLAGS, uint8_t), b->id_flags, b->n_ids);
    memcpy(SEC(TOK_SEC_VOCAB_SLOTS, uint32_t), b->vocab_slots, sizes[TOK_SEC_VOCAB_SLOTS]);
    memcpy(SEC(TOK_SEC_MERGE_SLOTS, tok_merge), b->merge_slots, sizes[TOK_SEC_MERGE_SLOTS]);
    int32_t *bmp = SEC(TOK_SEC_BMP_IDS, int32_t);
    for (int i = 0; i < 65536; i++) bmp[i] = -1;
    for (uint32_t id = 0; id < b->n_ids; id++) {
        const uint8_t *s = (const uint8_t *)b->vocab_str[id];
        uint32_t len = b->vocab_len[id];
        if (!s || len == 0 || len > 3 || (uint32_t)mnemo__utf8_len(s[0]) != len) continue;
        uint32_t cp = len == 1   ? s[0]
                      : len == 2 ? ((s[0] & 0x1Fu) << 6) | (s[1] & 0x3Fu)
                                 : ((s[0] & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
        if (cp < 65536) bmp[cp] = (int32_t)id;
    }
    tok_trie_node *nodes = SEC(TOK_SEC_TRIE_NODES, tok_trie_node);
    tok_trie_edge *edges = SEC(TOK_SEC_TRIE_EDGES, tok_trie_edge);
    uint32_t ne = 0;
    for (uint32_t n = 0; n < b->n_nodes; n++) {
        nodes[n].first_edge = ne;
        nodes[n].token_id = b->nodes[n].token_id;
        uint32_t start = ne;
        for (uint32_t e = b->nodes[n].first_child_edge; e != UINT32_MAX; e = b->edges[e].next) {
            /* insertion sort by byte: nodes have few edges */
            uint32_t k = ne++;
            while (k > start && edges[k - 1].byte > b->edges[e].byte) {
                edges[k] = edges[k - 1];
                k--;
            }
            edges[k] = (tok_trie_edge){b->edges[e].byte, b->edges[e].child};
        }
        nodes[n].n_edges = ne - start;
    }
#undef SEC
    tok_image_header *h = &b->h;
    memcpy(h->magic, TOK_IMAGE_MAGIC, 8);
    h->version = TOK_IMAGE_VERSION;
    h->endian_check = TOK_ENDIAN_CHECK;
    h->total_size = total;
    h->n_ids = b->n_ids;
    h->n_vocab_strings = b->n_vocab_strings;
    h->vocab_cap = b->vocab_cap;
    h->merge_cap = b->merge_cap;
    h->n_merges = b->n_merges;
    h->n_added = b->n_added;
    h->n_trie_nodes = b->n_nodes;
    h->n_trie_edges = b->n_edges;
    memcpy(img, h, sizeof *h);
    size_t hdr = align64(sizeof(tok_image_header));
    uint64_t body_hash = mnemo__hash64(img + hdr, total - hdr, TOK_STRING_SEED);
    memcpy(img + offsetof(tok_image_header, body_hash), &body_hash, sizeof body_hash);
    *image = img;
    *size = total;
    return MNEMO_OK;
}

int mnemo__tok_build_image(const uint8_t *json, size_t json_size, uint64_t json_hash, void **image,
                           size_t *size, mnemo_error *err) {
    builder b;
    memset(&b, 0, sizeof b);
    b.err = err;
    b.h.unk_id = -1;
    b.h.json_size = json_size;
    b.h.json_hash = json_hash;
    for (int i = 0; i < 256; i++) b.h.byte_ids[i] = -1;

    json_error_t jerr;
    json_t *root =
        json_loadb((const char *)json, json_size, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!root)
        return mnemo__fail(err, MNEMO_EFORMAT, "line %d, column %d: %s", jerr.line, jerr.column,
                           jerr.text);
    int rc;
    if (!json_is_object(root)) {
        rc = fail_type(&b, "the top level", "an object");
        goto done;
    }
    if (!is_null_or_missing(root, "truncation")) {
        rc = mnemo__fail(err, MNEMO_EUNSUPPORTED,
                         "truncation is set; mnemo truncates by itself, so set "
                         "\"truncation\": null");
        goto done;
    }
    /* "padding" only shapes batches of several texts; encode of one text is
     * unaffected, so it is ignored. */
    if ((rc = parse_model(&b, root))) goto done;
    uint32_t max_id = b.n_ids - 1;
    if ((rc = parse_added_tokens(&b, root, &max_id))) goto done;
    b.n_ids = max_id + 1;
    b.vocab_str = mnemo__calloc(b.n_ids, sizeof(char *));
    b.vocab_len = mnemo__calloc(b.n_ids, sizeof(uint32_t));
    b.added_str = mnemo__calloc(b.n_ids, sizeof(char *));
    b.added_len = mnemo__calloc(b.n_ids, sizeof(uint32_t));
    b.id_flags = mnemo__calloc(b.n_ids, 1);
    if (!b.vocab_str || !b.vocab_len || !b.added_str || !b.added_len || !b.id_flags) {
        rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory (%u ids)", b.n_ids);
        goto done;
    }
    json_t *model = json_object_get(root, "model");
    if ((rc = fill_model_vocab(&b, model))) goto done;
    if ((rc = parse_merges(&b, model))) goto done;
    if ((rc = fill_added_tokens(&b, root))) goto done;
    json_t *unk = json_object_get(model, "unk_token");
    if (unk && !json_is_null(unk)) {
        if (!json_is_string(unk)) {
            rc = fail_type(&b, "model.unk_token", "a string or null");
            goto done;
        }
        uint32_t id = vocab_lookup(&b, json_string_value(unk), json_string_length(unk));
        if (id == UINT32_MAX) {
            rc = mnemo__fail(err, MNEMO_EFORMAT, "model.unk_token \"%.40s\" is not in model.vocab",
                             json_string_value(unk));
            goto done;
        }
        b.h.unk_id = (int32_t)id;
    }
    for (int i = 0; i < 256; i++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", i);
        uint32_t id = vocab_lookup(&b, name, 6);
        b.h.byte_ids[i] = id == UINT32_MAX ? -1 : (int32_t)id;
    }
    if ((rc = parse_normalizer(&b, root))) goto done;
    if ((rc = parse_pre_tokenizer(&b, root))) goto done;
    if ((rc = parse_post_processor(&b, root))) goto done;
    if ((rc = parse_decoder(&b, root))) goto done;
    rc = write_image(&b, image, size);
done:
    json_decref(root);
    mnemo__free(b.vocab_str);
    mnemo__free(b.vocab_len);
    mnemo__free(b.added_str);
    mnemo__free(b.added_len);
    mnemo__free(b.id_flags);
    mnemo__free(b.vocab_slots);
    mnemo__free(b.merge_slots);
    mnemo__free(b.nodes);
    mnemo__free(b.edges);
    return rc;
}
