/*
 * jsonw.c — the JSON writer of jsonw.h. Escapes only what JSON requires (",
 * \ and control characters) so UTF-8 text stays readable.
 */
#include "jsonw.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static bool reserve(mnemo_jsonw *w, size_t n) {
    if (w->failed) return false;
    if (w->len + n <= w->cap) return true;
    size_t c = w->cap ? w->cap : 256;
    while (c < w->len + n) c *= 2;
    char *p = mnemo__realloc(w->p, c);
    if (!p) {
        w->failed = true;
        return false;
    }
    w->p = p;
    w->cap = c;
    return true;
}

void mnemo__jsonw_raw(mnemo_jsonw *w, const char *s, size_t n) {
    if (n == 0) return;
    if (!reserve(w, n)) return;
    memcpy(w->p + w->len, s, n);
    w->len += n;
}

void mnemo__jsonw_char(mnemo_jsonw *w, char c) {
    if (!reserve(w, 1)) return;
    w->p[w->len++] = c;
}

void mnemo__jsonw_string(mnemo_jsonw *w, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    if (!reserve(w, n + 2)) return;
    w->p[w->len++] = '"';
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        mnemo__jsonw_raw(w, s + start, i - start);
        char esc[7] = {'\\', 0};
        size_t elen = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        }
        mnemo__jsonw_raw(w, esc, elen);
        start = i + 1;
    }
    mnemo__jsonw_raw(w, s + start, n - start);
    mnemo__jsonw_char(w, '"');
}

void mnemo__jsonw_int(mnemo_jsonw *w, long long v) {
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%lld", v);
    mnemo__jsonw_raw(w, buf, (size_t)n);
}

void mnemo__jsonw_float(mnemo_jsonw *w, float v) {
    char buf[32];
    int n = isfinite(v) ? snprintf(buf, sizeof buf, "%.9g", (double)v)
                        : snprintf(buf, sizeof buf, "null");
    mnemo__jsonw_raw(w, buf, (size_t)n);
}

void mnemo__jsonw_reset(mnemo_jsonw *w) {
    w->len = 0;
    w->failed = false;
}

void mnemo__jsonw_free(mnemo_jsonw *w) {
    mnemo__free(w->p);
    memset(w, 0, sizeof *w);
}
