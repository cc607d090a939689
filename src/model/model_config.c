/*
 * model_config.c — reads the JSON files of a sentence-transformers model
 * folder into mnemo_model_config, refusing (with the file and field named)
 * whatever the EmbeddingGemma engine does not implement. Facts from
 * transformers' Gemma3 config: with use_bidirectional_attention the sliding
 * window becomes sliding_window // 2 + 1 (exclusive), i.e. |i - j| <= sliding_window // 2.
 */
#include "model_config.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct reader {
    const char *file; /* for messages, relative to the model folder */
    json_t *root;
    mnemo_error *err;
} reader;

static int open_json(reader *r, const char *dir, const char *file, bool required,
                     mnemo_error *err) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    r->file = file;
    r->err = err;
    r->root = NULL;
    mnemo_file_map map;
    mnemo_error ferr;
    int rc = mnemo__file_map(path, &map, &ferr);
    if (rc) {
        if (!required && rc == MNEMO_ENOENT) return MNEMO_OK;
        return mnemo__fail(err, rc, "%s: %s is missing or unreadable (%s)", dir, file,
                           ferr.message);
    }
    json_error_t jerr;
    r->root = json_loadb((const char *)map.data, map.size, JSON_REJECT_DUPLICATES, &jerr);
    mnemo__file_unmap(&map);
    if (!r->root)
        return mnemo__fail(err, MNEMO_EFORMAT, "%s: line %d: %s", file, jerr.line, jerr.text);
    return MNEMO_OK;
}

static int bad(reader *r, int code, const char *field, const char *what) {
    return mnemo__fail(r->err, code, "%s: %s %s", r->file, field, what);
}

/* An integer field in [lo, hi]. */
static int get_int(reader *r, json_t *obj, const char *key, long lo, long hi, int *out) {
    json_t *v = json_object_get(obj, key);
    if (!v || !json_is_integer(v)) return bad(r, MNEMO_EFORMAT, key, "must be an integer");
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return mnemo__fail(r->err, MNEMO_EUNSUPPORTED, "%s: %s = %lld is outside %ld..%ld", r->file,
                           key, (long long)x, lo, hi);
    *out = (int)x;
    return MNEMO_OK;
}

static int get_num(reader *r, json_t *obj, const char *key, double *out) {
    json_t *v = json_object_get(obj, key);
    if (!v || !json_is_number(v)) return bad(r, MNEMO_EFORMAT, key, "must be a number");
    *out = json_number_value(v);
    return MNEMO_OK;
}

static bool is_null_or_missing(json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    return !v || json_is_null(v);
}

static bool str_is(json_t *v, const char *s) {
    return v && json_is_string(v) && !strcmp(json_string_value(v), s);
}

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* Rope thetas: transformers 4.x writes rope_theta + rope_local_base_freq;
 * 5.x writes rope_parameters per layer type. */
static int read_rope(reader *r, mnemo_model_config *c) {
    json_t *root = r->root;
    json_t *params = json_object_get(root, "rope_parameters");
    if (params && json_is_object(params)) {
        const char *types[2] = {"full_attention", "sliding_attention"};
        float *dst[2] = {&c->rope_theta_full, &c->rope_theta_sliding};
        for (int i = 0; i < 2; i++) {
            json_t *p = json_object_get(params, types[i]);
            if (!p || !json_is_object(p))
                return mnemo__fail(r->err, MNEMO_EFORMAT,
                                   "%s: rope_parameters.%s must be an object", r->file, types[i]);
            json_t *t = json_object_get(p, "rope_type");
            if (t && !str_is(t, "default"))
                return mnemo__fail(r->err, MNEMO_EUNSUPPORTED,
                                   "%s: rope_parameters.%s.rope_type is not \"default\"; RoPE "
                                   "scaling is not implemented",
                                   r->file, types[i]);
            double th = 0;
            int rc = get_num(r, p, "rope_theta", &th);
            if (rc) return rc;
            *dst[i] = (float)th;
        }
    } else {
        if (!is_null_or_missing(root, "rope_scaling"))
            return bad(r, MNEMO_EUNSUPPORTED, "rope_scaling",
                       "is set; RoPE scaling is not implemented");
        double full = 0, local = 0;
        int rc = get_num(r, root, "rope_theta", &full);
        if (rc) return rc;
        rc = get_num(r, root, "rope_local_base_freq", &local);
        if (rc) return rc;
        c->rope_theta_full = (float)full;
        c->rope_theta_sliding = (float)local;
    }
    if (!(c->rope_theta_full > 1.0f) || !(c->rope_theta_sliding > 1.0f))
        return bad(r, MNEMO_EFORMAT, "rope theta", "must be greater than 1");
    return MNEMO_OK;
}

static int read_backbone(const char *dir, mnemo_model_config *c, mnemo_error *err) {
    reader r;
    int rc = open_json(&r, dir, "config.json", true, err);
    if (rc) return rc;
    json_t *root = r.root;
    if (!json_is_object(root)) {
        rc = bad(&r, MNEMO_EFORMAT, "the top level", "must be an object");
        goto out;
    }
    if (!str_is(json_object_get(root, "model_type"), "gemma3_text")) {
        rc = mnemo__fail(err, MNEMO_EUNSUPPORTED,
                         "config.json: model_type must be \"gemma3_text\" (EmbeddingGemma); other "
                         "architectures are not implemented");
        goto out;
    }
    if (!json_is_true(json_object_get(root, "use_bidirectional_attention"))) {
        rc = bad(&r, MNEMO_EUNSUPPORTED, "use_bidirectional_attention",
                 "must be true: causal (decoder) attention is not implemented");
        goto out;
    }
    json_t *act = json_object_get(root, "hidden_activation");
    if (!str_is(act, "gelu_pytorch_tanh") && !str_is(act, "gelu_tanh")) {
        rc = bad(&r, MNEMO_EUNSUPPORTED, "hidden_activation", "must be gelu_pytorch_tanh");
        goto out;
    }
    if (!is_null_or_missing(root, "attn_logit_softcapping")) {
        rc = bad(&r, MNEMO_EUNSUPPORTED, "attn_logit_softcapping", "is set; not implemented");
        goto out;
    }
    if (json_is_true(json_object_get(root, "attention_bias"))) {
        rc = bad(&r, MNEMO_EUNSUPPORTED, "attention_bias", "is true; not implemented");
        goto out;
    }
    if ((rc = get_int(&r, root, "hidden_size", 8, 16384, &c->hidden)) ||
        (rc = get_int(&r, root, "num_hidden_layers", 1, MNEMO_MAX_LAYERS, &c->n_layers)) ||
        (rc = get_int(&r, root, "num_attention_heads", 1, 256, &c->n_heads)) ||
        (rc = get_int(&r, root, "num_key_value_heads", 1, 256, &c->n_kv_heads)) ||
        (rc = get_int(&r, root, "head_dim", 2, 1024, &c->head_dim)) ||
        (rc = get_int(&r, root, "intermediate_size", 1, 65536, &c->intermediate)) ||
        (rc = get_int(&r, root, "vocab_size", 1, 1 << 24, &c->vocab_size)) ||
        (rc = get_int(&r, root, "max_position_embeddings", 2, 1 << 20, &c->max_positions)))
        goto out;
    if (c->head_dim % 2 || c->n_heads % c->n_kv_heads) {
        rc = bad(&r, MNEMO_EUNSUPPORTED, "head_dim/num_key_value_heads",
                 "must be even / divide num_attention_heads");
        goto out;
    }
    double eps = 0, qpas = 0;
    if ((rc = get_num(&r, root, "rms_norm_eps", &eps)) ||
        (rc = get_num(&r, root, "query_pre_attn_scalar", &qpas)))
        goto out;
    if (!(eps > 0 && eps < 1) || !(qpas > 0)) {
        rc = bad(&r, MNEMO_EFORMAT, "rms_norm_eps/query_pre_attn_scalar", "out of range");
        goto out;
    }
    c->rms_eps = (float)eps;
    c->attn_scale = (float)(1.0 / sqrt(qpas));
    if ((rc = read_rope(&r, c))) goto out;
    int window = 0;
    if ((rc = get_int(&r, root, "sliding_window", 1, 1 << 20, &window))) goto out;
    c->sliding_radius = window / 2; /* transformers: bidirectional window = w // 2 + 1, exclusive */
    json_t *types = json_object_get(root, "layer_types");
    if (!types || !json_is_array(types) || json_array_size(types) != (size_t)c->n_layers) {
        rc = bad(&r, MNEMO_EFORMAT, "layer_types", "must be an array with one entry per layer");
        goto out;
    }
    for (int i = 0; i < c->n_layers; i++) {
        json_t *t = json_array_get(types, (size_t)i);
        if (str_is(t, "full_attention"))
            c->layer_full[i] = 1;
        else if (str_is(t, "sliding_attention"))
            c->layer_full[i] = 0;
        else {
            rc = mnemo__fail(err, MNEMO_EUNSUPPORTED,
                             "config.json: layer_types[%d] must be \"full_attention\" or "
                             "\"sliding_attention\"",
                             i);
            goto out;
        }
    }
out:
    json_decref(root);
    return rc;
}

static int read_pooling(const char *dir, const char *sub, mnemo_model_config *c, mnemo_error *err) {
    char file[128];
    snprintf(file, sizeof file, "%s/config.json", sub);
    reader r;
    int rc = open_json(&r, dir, file, true, err);
    if (rc) return rc;
    json_t *root = r.root;
    int dim;
    if ((rc = get_int(&r, root, "word_embedding_dimension", 1, 16384, &dim))) goto out;
    if (dim != c->hidden) {
        rc = bad(&r, MNEMO_EFORMAT, "word_embedding_dimension", "differs from hidden_size");
        goto out;
    }
    const char *modes[] = {"pooling_mode_cls_token", "pooling_mode_max_tokens",
                           "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens",
                           "pooling_mode_lasttoken"};
    if (!json_is_true(json_object_get(root, "pooling_mode_mean_tokens"))) {
        rc = bad(&r, MNEMO_EUNSUPPORTED, "pooling_mode_mean_tokens",
                 "must be true: only mean pooling is implemented");
        goto out;
    }
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (json_is_true(json_object_get(root, modes[i]))) {
            rc = bad(&r, MNEMO_EUNSUPPORTED, modes[i], "is true: only mean pooling is implemented");
            goto out;
        }
    json_t *inc = json_object_get(root, "include_prompt");
    if (inc && json_is_false(inc)) {
        rc = bad(&r, MNEMO_EUNSUPPORTED, "include_prompt",
                 "is false: pooling without the prompt tokens is not implemented");
        goto out;
    }
out:
    json_decref(root);
    return rc;
}

static int read_dense(const char *dir, const char *sub, mnemo_dense_config *d, mnemo_error *err) {
    char file[128];
    snprintf(file, sizeof file, "%s/config.json", sub);
    reader r;
    int rc = open_json(&r, dir, file, true, err);
    if (rc) return rc;
    json_t *root = r.root;
    snprintf(d->dir, sizeof d->dir, "%s", sub);
    if ((rc = get_int(&r, root, "in_features", 1, 65536, &d->in_features)) ||
        (rc = get_int(&r, root, "out_features", 1, 65536, &d->out_features)))
        goto out;
    d->bias = json_is_true(json_object_get(root, "bias"));
    json_t *act = json_object_get(root, "activation_function");
    const char *a = act && json_is_string(act) ? json_string_value(act) : "";
    if (ends_with(a, ".Identity"))
        d->activation = MNEMO_ACT_IDENTITY;
    else if (ends_with(a, ".Tanh"))
        d->activation = MNEMO_ACT_TANH;
    else {
        rc = mnemo__fail(
            err, MNEMO_EUNSUPPORTED,
            "%s: activation_function \"%.80s\" is not implemented (Identity, Tanh are)", file, a);
        goto out;
    }
out:
    json_decref(root);
    return rc;
}

static int read_modules(const char *dir, mnemo_model_config *c, mnemo_error *err) {
    reader r;
    int rc = open_json(&r, dir, "modules.json", true, err);
    if (rc) return rc;
    json_t *root = r.root;
    if (!json_is_array(root) || json_array_size(root) < 2) {
        rc = bad(&r, MNEMO_EFORMAT, "the top level", "must be an array of modules");
        goto out;
    }
    bool pooled = false;
    int width = c->hidden;
    for (size_t i = 0; i < json_array_size(root); i++) {
        json_t *m = json_array_get(root, i);
        json_t *type = json_is_object(m) ? json_object_get(m, "type") : NULL;
        json_t *path = json_is_object(m) ? json_object_get(m, "path") : NULL;
        if (!type || !json_is_string(type) || !path || !json_is_string(path)) {
            rc = mnemo__fail(err, MNEMO_EFORMAT, "modules.json: [%zu] needs string type and path",
                             i);
            goto out;
        }
        const char *t = json_string_value(type), *p = json_string_value(path);
        if (strstr(p, "..") || p[0] == '/' || strlen(p) >= 60) {
            rc = mnemo__fail(err, MNEMO_EFORMAT,
                             "modules.json: [%zu].path \"%.60s\" is not a plain "
                             "folder name",
                             i, p);
            goto out;
        }
        if (i == 0) {
            if (!ends_with(t, ".Transformer")) {
                rc = mnemo__fail(
                    err, MNEMO_EUNSUPPORTED,
                    "modules.json: the first module must be a Transformer (found %.80s)", t);
                goto out;
            }
        } else if (ends_with(t, ".Pooling") && !pooled) {
            if ((rc = read_pooling(dir, p, c, err))) goto out;
            pooled = true;
        } else if (ends_with(t, ".Dense") && pooled && c->n_dense < MNEMO_MAX_DENSE) {
            mnemo_dense_config *d = &c->dense[c->n_dense];
            if ((rc = read_dense(dir, p, d, err))) goto out;
            if (d->in_features != width) {
                rc = mnemo__fail(err, MNEMO_EFORMAT,
                                 "%s/config.json: in_features %d does not match the previous "
                                 "module's output %d",
                                 p, d->in_features, width);
                goto out;
            }
            width = d->out_features;
            c->n_dense++;
        } else if (ends_with(t, ".Normalize") && pooled) {
            c->normalize = true;
        } else {
            rc = mnemo__fail(err, MNEMO_EUNSUPPORTED,
                             "modules.json: module [%zu] (%.80s) is not implemented here (the "
                             "pipeline Transformer, Pooling, Dense..., Normalize is)",
                             i, t);
            goto out;
        }
    }
    if (!pooled) {
        rc = mnemo__fail(err, MNEMO_EUNSUPPORTED, "modules.json: no Pooling module");
        goto out;
    }
    c->output_dim = width;
out:
    json_decref(root);
    return rc;
}

static int read_st_files(const char *dir, mnemo_model_config *c, mnemo_error *err) {
    reader r;
    int rc = open_json(&r, dir, "sentence_bert_config.json", false, err);
    if (rc) return rc;
    c->max_seq_length = c->max_positions;
    if (r.root) {
        int n;
        json_t *v = json_object_get(r.root, "max_seq_length");
        if (v && !json_is_null(v)) {
            rc = get_int(&r, r.root, "max_seq_length", 2, 1 << 20, &n);
            if (rc == MNEMO_OK && n < c->max_seq_length) c->max_seq_length = n;
        }
        json_decref(r.root);
        if (rc) return rc;
    }
    return mnemo__model_config_read_prompts(dir, c, err);
}

int mnemo__model_config_read_prompts(const char *dir, mnemo_model_config *c, mnemo_error *err) {
    reader r;
    int rc = open_json(&r, dir, "config_sentence_transformers.json", false, err);
    if (rc || !r.root) return rc;
    json_t *prompts = json_object_get(r.root, "prompts");
    if (prompts && !json_is_object(prompts)) {
        rc = bad(&r, MNEMO_EFORMAT, "prompts", "must be an object of name -> text");
        goto out;
    }
    const char *key;
    json_t *val;
    json_object_foreach(prompts, key, val) {
        if (!json_is_string(val)) {
            rc = mnemo__fail(
                err, MNEMO_EFORMAT,
                "config_sentence_transformers.json: prompts[\"%.40s\"] must be a string", key);
            goto out;
        }
        if (c->n_prompts >= MNEMO_MAX_PROMPTS) {
            rc = bad(&r, MNEMO_EUNSUPPORTED, "prompts", "has too many entries");
            goto out;
        }
        c->prompt_names[c->n_prompts] = mnemo__strndup(key, strlen(key));
        c->prompt_texts[c->n_prompts] =
            mnemo__strndup(json_string_value(val), json_string_length(val));
        c->n_prompts++;
        if (!c->prompt_names[c->n_prompts - 1] || !c->prompt_texts[c->n_prompts - 1]) {
            rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
            goto out;
        }
    }
    json_t *def = json_object_get(r.root, "default_prompt_name");
    if (def && json_is_string(def)) {
        if (!mnemo__model_config_prompt(c, json_string_value(def))) {
            rc = bad(&r, MNEMO_EFORMAT, "default_prompt_name", "names no prompt");
            goto out;
        }
        c->default_prompt_name = mnemo__strndup(json_string_value(def), json_string_length(def));
        if (!c->default_prompt_name) rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    }
out:
    json_decref(r.root);
    return rc;
}

int mnemo__model_config_read(const char *dir, mnemo_model_config *c, mnemo_error *err) {
    memset(c, 0, sizeof *c);
    if (strlen(dir) >= sizeof c->dir) return mnemo__fail(err, MNEMO_EINVAL, "model path too long");
    snprintf(c->dir, sizeof c->dir, "%s", dir);
    if (!mnemo__is_dir(dir))
        return mnemo__fail(
            err, MNEMO_ENOENT,
            "%s is not a folder; pass a model folder in the sentence-transformers "
            "layout (config.json, model.safetensors, tokenizer.json, modules.json, ...)",
            dir);
    int rc = read_backbone(dir, c, err);
    if (!rc) rc = read_modules(dir, c, err);
    if (!rc) rc = read_st_files(dir, c, err);
    if (rc) {
        if (err && strncmp(err->message, dir, strlen(dir)) != 0) mnemo__fail_prefix(err, "%s", dir);
        mnemo__model_config_free(c);
    }
    return rc;
}

void mnemo__model_config_free(mnemo_model_config *c) {
    if (!c) return;
    for (int i = 0; i < c->n_prompts; i++) {
        mnemo__free(c->prompt_names[i]);
        mnemo__free(c->prompt_texts[i]);
    }
    mnemo__free(c->default_prompt_name);
    c->n_prompts = 0;
    c->default_prompt_name = NULL;
}

const char *mnemo__model_config_prompt(const mnemo_model_config *c, const char *name) {
    for (int i = 0; i < c->n_prompts; i++)
        if (!strcmp(c->prompt_names[i], name)) return c->prompt_texts[i];
    return NULL;
}
