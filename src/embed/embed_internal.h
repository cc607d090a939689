/*
 * embed_internal.h — what the embedding API (embed.c) shares with the layers
 * above it (the service and the HTTP server): truncation as mnemo_embed does
 * it, tokenizing with a chosen truncation side, and the Matryoshka prefix.
 */
#ifndef MNEMO_EMBED_INTERNAL_H
#define MNEMO_EMBED_INTERNAL_H

#include "../core/core.h"

/* Truncates ids[0..n) in place as mnemo_embed does (first tokens, then the
 * post-processor's closing ids); returns the new length (<= max tokens).
 * _side with left: the opening ids, then the last tokens (TEI's "Left"). */
size_t mnemo__embed_truncate(const mnemo_model *m, int32_t *ids, size_t n);
size_t mnemo__embed_truncate_side(const mnemo_model *m, int32_t *ids, size_t n, bool left);
typedef enum { MNEMO_TRUNCATE_RIGHT, MNEMO_TRUNCATE_LEFT, MNEMO_TRUNCATE_REFUSE } mnemo_truncation;
/* mnemo_embed_tokenize with the truncation chosen (opts->no_truncate ignored). */
int mnemo__embed_tokenize_mode(const mnemo_model *m, const char *text, size_t len,
                               const mnemo_embed_options *opts, mnemo_truncation mode,
                               int32_t **ids, size_t *n, mnemo_error *err);
/* The first `dim` values of a full-width vector, renormalized (Matryoshka);
 * dim 0 or >= width copies it. `out` may equal `full`. */
void mnemo__embed_matryoshka(const float *full, size_t width, size_t dim, float *out);

#endif
