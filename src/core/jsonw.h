/*
 * jsonw.h — a small JSON writer into a growable buffer: strings escaped per
 * RFC 8259 (UTF-8 passed through, control characters as \uXXXX), integers,
 * floats. For output only; input JSON is parsed with jansson.
 */
#ifndef MNEMO_JSONW_H
#define MNEMO_JSONW_H

#include "core.h"

typedef struct mnemo_jsonw {
    char *p;
    size_t len, cap;
    bool failed; /* an allocation failed; the content is incomplete */
} mnemo_jsonw;

void mnemo__jsonw_raw(mnemo_jsonw *w, const char *s, size_t n);
void mnemo__jsonw_char(mnemo_jsonw *w, char c);
void mnemo__jsonw_string(mnemo_jsonw *w, const char *s, size_t n);
void mnemo__jsonw_int(mnemo_jsonw *w, long long v);
/* Shortest text that reads back as the same float (%.9g). */
void mnemo__jsonw_float(mnemo_jsonw *w, float v);
void mnemo__jsonw_reset(mnemo_jsonw *w);
void mnemo__jsonw_free(mnemo_jsonw *w);

#endif
