/*
 * model_config_gguf.c — the model config from a GGUF file made by llama.cpp's
 * convert_hf_to_gguf.py for EmbeddingGemma (general.architecture
 * "gemma-embedding", converted with --sentence-transformers-dense-modules).
 * What the file records is read; what it does not record is filled in as
 * llama.cpp's models/gemma-embedding.cpp assumes (checked there, llama.cpp
 * as vendored in llama-cpp-python 0.3.36):
 *   - layer il uses the sliding window when il % 6 < 5 (no pattern key);
 *   - the window is symmetric: |i - j| <= sliding_window / 2 (the key holds 512);
 *   - attention scale 1/sqrt(key_length) (no query_pre_attn_scalar key);
 *   - the Dense layers are identity without bias, and the output is L2
 *     normalized (the ST modules' settings are not recorded).
 * Prompts come from a config_sentence_transformers.json beside the file, if
 * any (the GGUF has none); the tokenizer is read by the caller from a
 * tokenizer.json, not from the GGUF's SentencePiece vocabulary.
 */
#include "gguf.h"
#include "model_config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int get_u32_key(const mnemo_gguf *g, const char *arch, const char *suffix, uint32_t lo,
                       uint32_t hi, int *out, mnemo_error *err) {
    char key[160];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int64_t v;
    int rc = mnemo__gguf_get_int(g, key, &v, err);
    if (rc) return rc;
    if (v < (int64_t)lo || v > (int64_t)hi)
        return mnemo__fail(err, MNEMO_EUNSUPPORTED, "%s: %s = %lld is outside %u..%u",
                           mnemo__gguf_path(g), key, (long long)v, lo, hi);
    *out = (int)v;
    return MNEMO_OK;
}

static int get_f32_key(const mnemo_gguf *g, const char *arch, const char *suffix, float *out,
                       mnemo_error *err) {
    char key[160];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return mnemo__gguf_get_f32(g, key, out, err);
}

int mnemo__model_config_read_gguf(const mnemo_gguf *g, const char *path, mnemo_model_config *c,
                                  mnemo_error *err) {
    memset(c, 0, sizeof *c);
    if (strlen(path) >= sizeof c->gguf_path) return mnemo__fail(err, MNEMO_EINVAL, "path too long");
    snprintf(c->gguf_path, sizeof c->gguf_path, "%s", path);
    snprintf(c->dir, sizeof c->dir, "%s", path);
    char *slash = strrchr(c->dir, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(c->dir, sizeof c->dir, ".");
    int rc;
    mnemo_gguf_str arch;
    const char *a = "gemma-embedding";
    if ((rc = mnemo__gguf_get_str(g, "general.architecture", &arch, err))) goto out;
    if (!mnemo__gguf_str_eq(arch, a)) {
        rc = mnemo__fail(err, MNEMO_EUNSUPPORTED,
                         "%s: general.architecture is \"%.*s\"; only \"gemma-embedding\" "
                         "(EmbeddingGemma, from llama.cpp's converter) is implemented",
                         path, (int)(arch.len > 40 ? 40 : arch.len), arch.data);
        goto out;
    }
    int window = 0, pooling = 0, ctx_len = 0;
    if ((rc = get_u32_key(g, a, "embedding_length", 8, 16384, &c->hidden, err)) ||
        (rc = get_u32_key(g, a, "block_count", 1, MNEMO_MAX_LAYERS, &c->n_layers, err)) ||
        (rc = get_u32_key(g, a, "attention.head_count", 1, 256, &c->n_heads, err)) ||
        (rc = get_u32_key(g, a, "attention.head_count_kv", 1, 256, &c->n_kv_heads, err)) ||
        (rc = get_u32_key(g, a, "attention.key_length", 2, 1024, &c->head_dim, err)) ||
        (rc = get_u32_key(g, a, "feed_forward_length", 1, 65536, &c->intermediate, err)) ||
        (rc = get_u32_key(g, a, "context_length", 2, 1 << 20, &ctx_len, err)) ||
        (rc = get_u32_key(g, a, "attention.sliding_window", 1, 1 << 20, &window, err)) ||
        (rc = get_u32_key(g, a, "pooling_type", 0, 10, &pooling, err)) ||
        (rc = get_f32_key(g, a, "attention.layer_norm_rms_epsilon", &c->rms_eps, err)) ||
        (rc = get_f32_key(g, a, "rope.freq_base", &c->rope_theta_full, err)) ||
        (rc = get_f32_key(g, a, "rope.freq_base_swa", &c->rope_theta_sliding, err))) {
        if (err) mnemo__fail_prefix(err, "%s", path);
        goto out;
    }
    if (pooling != 1) {
        rc = mnemo__fail(err, MNEMO_EUNSUPPORTED,
                         "%s: %s.pooling_type is %d; only 1 (mean) is implemented", path, a,
                         pooling);
        goto out;
    }
    if (c->head_dim % 2 || c->n_heads % c->n_kv_heads) {
        rc = mnemo__fail(err, MNEMO_EUNSUPPORTED, "%s: head sizes are not supported", path);
        goto out;
    }
    const mnemo_gguf_tensor *emb = mnemo__gguf_tensor_find(g, "token_embd.weight");
    if (!emb || emb->n_dims != 2 || emb->ne[0] != c->hidden) {
        rc = mnemo__fail(err, MNEMO_EFORMAT,
                         "%s: tensor token_embd.weight is missing or not [%d, vocab]", path,
                         c->hidden);
        goto out;
    }
    c->vocab_size = (int)emb->ne[1];
    c->max_positions = ctx_len;
    c->max_seq_length = ctx_len;
    c->attn_scale = 1.0f / sqrtf((float)c->head_dim);
    c->sliding_radius = window / 2;
    for (int l = 0; l < c->n_layers; l++) c->layer_full[l] = (l % 6) == 5;
    /* the Dense layers, when the converter kept them */
    int d_in, d_out;
    for (int i = 2; i <= 3; i++) {
        char in_key[64], out_key[64];
        snprintf(in_key, sizeof in_key, "dense_%d_feat_in", i);
        snprintf(out_key, sizeof out_key, "dense_%d_feat_out", i);
        mnemo_error ignore;
        if (get_u32_key(g, a, in_key, 1, 65536, &d_in, &ignore) ||
            get_u32_key(g, a, out_key, 1, 65536, &d_out, &ignore))
            break;
        mnemo_dense_config *d = &c->dense[c->n_dense++];
        d->in_features = d_in;
        d->out_features = d_out;
        d->bias = false;
        d->activation = MNEMO_ACT_IDENTITY;
        snprintf(d->dir, sizeof d->dir, "dense_%d", i);
    }
    if (c->n_dense == 0)
        mnemo__log(MNEMO_LOG_WARN, "model.gguf_no_dense",
                   "path=%s note=\"converted without --sentence-transformers-dense-modules: the "
                   "vectors will not match sentence-transformers\"",
                   path);
    c->normalize = true;
    c->output_dim = c->n_dense ? c->dense[c->n_dense - 1].out_features : c->hidden;
    rc = mnemo__model_config_read_prompts(c->dir, c, err);
out:
    if (rc) mnemo__model_config_free(c);
    return rc;
}
