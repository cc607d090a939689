/*
 * tokenizer.c — opening and closing a tokenizer, the binary cache beside the
 * JSON's content hash, and the small lookups of the public API. The cache
 * file is named by the hash and size of the tokenizer.json it came from, and
 * its header repeats both, so a changed JSON never meets a stale cache; a
 * damaged or foreign cache file is ignored and rebuilt.
 */
#include "tokenizer_internal.h"

#include <stdio.h>
#include <string.h>

static void cache_path(const char *dir, uint64_t hash, size_t size, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/tokenizer-%016llx-%zu.v%u.mtok", dir, (unsigned long long)hash, size,
             TOK_IMAGE_VERSION);
}

int mnemo_tokenizer_open(const char *path, const mnemo_tokenizer_options *opts,
                         mnemo_tokenizer **out, mnemo_error *err) {
    if (!path || !out) return mnemo__fail(err, MNEMO_EINVAL, "mnemo_tokenizer_open: NULL argument");
    *out = NULL;
    double t0 = mnemo__now();
    char json_path[4096];
    int n = mnemo__is_dir(path) ? snprintf(json_path, sizeof json_path, "%s/tokenizer.json", path)
                                : snprintf(json_path, sizeof json_path, "%s", path);
    if (n < 0 || (size_t)n >= sizeof json_path)
        return mnemo__fail(err, MNEMO_EINVAL, "tokenizer path is too long");
    mnemo_file_map json;
    int rc = mnemo__file_map(json_path, &json, err);
    if (rc) return rc;
    mnemo_tokenizer *tok = mnemo__calloc(1, sizeof *tok);
    if (!tok) {
        mnemo__file_unmap(&json);
        return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    }
    uint64_t hash = mnemo__hash64(json.data, json.size, TOK_STRING_SEED);
    char dir[4096], cpath[4200];
    bool use_cache = !(opts && opts->no_cache) &&
                     mnemo__cache_dir(opts ? opts->cache_dir : NULL, dir, sizeof dir);
    const char *source = "json";
    if (use_cache) {
        cache_path(dir, hash, json.size, cpath, sizeof cpath);
        mnemo_file_map map;
        mnemo_error cerr;
        if (mnemo__file_map(cpath, &map, &cerr) == MNEMO_OK) {
            if (mnemo__tok_attach(tok, map.data, map.size, &cerr) == MNEMO_OK &&
                tok->h->json_size == json.size && tok->h->json_hash == hash) {
                tok->image_map = map;
                source = "cache";
            } else {
                mnemo__log(MNEMO_LOG_WARN, "tokenizer.cache_rejected", "path=%s reason=\"%s\"",
                           cpath, cerr.message);
                mnemo__file_unmap(&map);
                memset(tok, 0, sizeof *tok);
            }
        }
    }
    if (!tok->h) {
        void *image;
        size_t size;
        rc = mnemo__tok_build_image(json.data, json.size, hash, &image, &size, err);
        if (rc == MNEMO_OK) {
            rc = mnemo__tok_attach(tok, image, size, err);
            if (rc) mnemo__free(image); /* a bug in the builder: it made a bad image */
        }
        if (rc) {
            if (rc != MNEMO_ENOMEM) mnemo__fail_prefix(err, "%s", json_path);
            mnemo__file_unmap(&json);
            mnemo__free(tok);
            return rc;
        }
        tok->owned_image = image;
        if (use_cache) {
            mnemo_error werr;
            if (mnemo__mkdirs(dir, &werr) != MNEMO_OK ||
                mnemo__file_write_atomic(cpath, image, size, &werr) != MNEMO_OK)
                mnemo__log(MNEMO_LOG_WARN, "tokenizer.cache_write_failed", "reason=\"%s\"",
                           werr.message);
        }
    }
    mnemo__file_unmap(&json);
    mnemo__log(MNEMO_LOG_INFO, "tokenizer.load", "path=%s source=%s ids=%u merges=%u ms=%.1f",
               json_path, source, tok->h->n_ids, tok->h->n_merges, (mnemo__now() - t0) * 1e3);
    *out = tok;
    return MNEMO_OK;
}

void mnemo_tokenizer_close(mnemo_tokenizer *tok) {
    if (!tok) return;
    mnemo__free(tok->owned_image);
    mnemo__file_unmap(&tok->image_map);
    mnemo__free(tok);
}

size_t mnemo_tokenizer_vocab_size(const mnemo_tokenizer *tok) { return tok->h->n_ids; }

size_t mnemo_tokenizer_num_special(const mnemo_tokenizer *tok) {
    return tok->h->n_pre + tok->h->n_post;
}

size_t mnemo_tokenizer_num_special_end(const mnemo_tokenizer *tok) { return tok->h->n_post; }

const char *mnemo_tokenizer_piece(const mnemo_tokenizer *tok, int32_t id, size_t *len) {
    if (id < 0 || (uint32_t)id >= tok->h->n_ids) return NULL;
    /* As HF's id_to_token: the added token's content first, then the model's. */
    if (tok->id_flags[id] & TOK_ID_ADDED) {
        if (len) *len = tok->added_off[id + 1] - tok->added_off[id];
        return tok->blob + tok->added_off[id];
    }
    if (tok->id_flags[id] & TOK_ID_IN_VOCAB) {
        if (len) *len = tok->str_off[id + 1] - tok->str_off[id];
        return tok->blob + tok->str_off[id];
    }
    return NULL;
}

int mnemo_tokenizer_is_special(const mnemo_tokenizer *tok, int32_t id) {
    return id >= 0 && (uint32_t)id < tok->h->n_ids && (tok->id_flags[id] & TOK_ID_SPECIAL);
}

int32_t mnemo_tokenizer_token_id(const mnemo_tokenizer *tok, const char *piece, size_t len) {
    /* added tokens first (exact match of the whole string), then the vocab */
    uint32_t node = 0;
    for (size_t k = 0; k < len && node != UINT32_MAX; k++)
        node = mnemo__tok_trie_child(tok, node, (uint8_t)piece[k]);
    if (len > 0 && node != UINT32_MAX && tok->trie_nodes[node].token_id >= 0)
        return tok->trie_nodes[node].token_id;
    return mnemo__tok_vocab_find(tok, piece, len);
}
