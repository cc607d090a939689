/*
 * model_config.h — what a model folder says about the model, read from its
 * JSON files (config.json, modules.json, 1_Pooling/, the Dense folders,
 * config_sentence_transformers.json, sentence_bert_config.json) and checked
 * against what the engine implements. Not the weights: the engine maps those.
 */
#ifndef MNEMO_MODEL_CONFIG_H
#define MNEMO_MODEL_CONFIG_H

#include "../core/core.h"

#define MNEMO_MAX_LAYERS 128
#define MNEMO_MAX_DENSE 4
#define MNEMO_MAX_PROMPTS 64

typedef enum { MNEMO_ACT_IDENTITY = 0, MNEMO_ACT_TANH = 1 } mnemo_activation;

typedef struct mnemo_dense_config {
    int in_features, out_features;
    bool bias;
    mnemo_activation activation;
    char dir[64]; /* folder inside the model folder, e.g. "2_Dense" */
} mnemo_dense_config;

typedef struct mnemo_model_config {
    char dir[4096];       /* the model folder (for a GGUF file: the folder holding it) */
    char gguf_path[4096]; /* non-empty: the weights and config come from this GGUF file */
    /* backbone (config.json) */
    int hidden, n_layers, n_heads, n_kv_heads, head_dim, intermediate, vocab_size, max_positions;
    float rms_eps;
    float attn_scale; /* query_pre_attn_scalar^-0.5 */
    float rope_theta_full, rope_theta_sliding;
    int sliding_radius;                   /* sliding layers: token i sees j iff |i - j| <= radius */
    uint8_t layer_full[MNEMO_MAX_LAYERS]; /* 1: full attention, 0: sliding window */
    /* sentence-transformers modules */
    int max_seq_length; /* tokens, including <bos> and <eos> */
    int n_dense;
    mnemo_dense_config dense[MNEMO_MAX_DENSE];
    bool normalize;
    int output_dim;
    /* prompts (config_sentence_transformers.json), in file order */
    int n_prompts;
    char *prompt_names[MNEMO_MAX_PROMPTS];
    char *prompt_texts[MNEMO_MAX_PROMPTS];
    char *default_prompt_name; /* NULL: none */
} mnemo_model_config;

/* Reads and checks the folder. Errors name the file and field: EFORMAT for a
 * malformed file, EUNSUPPORTED for an architecture or setting the engine does
 * not implement, ENOENT for a missing file. Free with mnemo__model_config_free. */
int mnemo__model_config_read(const char *dir, mnemo_model_config *cfg, mnemo_error *err);
void mnemo__model_config_free(mnemo_model_config *cfg);

/* Reads the prompts of `dir`/config_sentence_transformers.json, if present. */
int mnemo__model_config_read_prompts(const char *dir, mnemo_model_config *cfg, mnemo_error *err);

/* Reads the config of an opened GGUF file (`path` names it in messages and
 * locates the folder beside it) made by llama.cpp's converter for
 * EmbeddingGemma (architecture "gemma-embedding"), filling in what the file
 * does not record the way llama.cpp's own loader does (see the .c file), and
 * the prompts from a config_sentence_transformers.json beside it. */
struct mnemo_gguf;
int mnemo__model_config_read_gguf(const struct mnemo_gguf *g, const char *path,
                                  mnemo_model_config *cfg, mnemo_error *err);

/* The prompt text for a name, or NULL. */
const char *mnemo__model_config_prompt(const mnemo_model_config *cfg, const char *name);

#endif
