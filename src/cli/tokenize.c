/*
 * tokenize.c — `mnemo tokenize`: JSON lines in, JSON lines out, one output
 * line per input line (null for a bad one), for scripts. The tokenizer
 * itself is in src/tokenizer; this file only handles lines and formats.
 */
#include "../core/jsonw.h"
#include "cli.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct run {
    const mnemo_settings *s;
    mnemo_tokenizer *tok;
    int32_t *ids;
    size_t ids_cap;
    mnemo_jsonw out;
    long line_no;
    int bad_lines;
} run;

static void bad_line(run *r, const char *fmt, ...) MNEMO_PRINTF(2, 3);
static void bad_line(run *r, const char *fmt, ...) {
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "mnemo tokenize: line %ld: %s\n", r->line_no, msg);
    fputs("null\n", stdout);
    fflush(stdout);
    r->bad_lines++;
}

static void write_out(run *r) {
    mnemo__jsonw_char(&r->out, '\n');
    if (r->out.failed) {
        bad_line(r, "out of memory");
        return;
    }
    fwrite(r->out.p, 1, r->out.len, stdout);
    fflush(stdout);
}

static void encode_text(run *r, const char *text, size_t len) {
    size_t need = mnemo_tokenizer_max_ids(r->tok, len);
    if (need > r->ids_cap) {
        int32_t *p = realloc(r->ids, need * sizeof(int32_t));
        if (!p) {
            bad_line(r, "out of memory for %zu bytes of text", len);
            return;
        }
        r->ids = p;
        r->ids_cap = need;
    }
    size_t n;
    mnemo_error err;
    unsigned flags = r->s->no_special ? MNEMO_ENCODE_NO_SPECIAL : 0;
    if (mnemo_tokenizer_encode(r->tok, text, len, flags, r->ids, r->ids_cap, &n, &err)) {
        bad_line(r, "%s", err.message);
        return;
    }
    mnemo__jsonw_reset(&r->out);
    mnemo__jsonw_char(&r->out, '[');
    for (size_t i = 0; i < n; i++) {
        if (i) mnemo__jsonw_raw(&r->out, r->s->pieces ? ", " : ",", r->s->pieces ? 2 : 1);
        if (r->s->pieces) {
            size_t plen;
            const char *p = mnemo_tokenizer_piece(r->tok, r->ids[i], &plen);
            mnemo__jsonw_string(&r->out, p, plen);
        } else {
            mnemo__jsonw_int(&r->out, r->ids[i]);
        }
    }
    mnemo__jsonw_char(&r->out, ']');
    write_out(r);
}

static void decode_ids(run *r, const json_t *arr) {
    size_t n = json_array_size(arr);
    int32_t *ids = malloc((n ? n : 1) * sizeof(int32_t));
    if (!ids) {
        bad_line(r, "out of memory for %zu ids", n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX) {
            bad_line(r, "element %zu is not a token id (a non-negative integer)", i);
            free(ids);
            return;
        }
        ids[i] = (int32_t)json_integer_value(v);
    }
    char *text;
    size_t len;
    mnemo_error err;
    unsigned flags = r->s->keep_special ? 0 : MNEMO_DECODE_SKIP_SPECIAL;
    int rc = mnemo_tokenizer_decode(r->tok, ids, n, flags, &text, &len, &err);
    free(ids);
    if (rc) {
        bad_line(r, "%s", err.message);
        return;
    }
    mnemo__jsonw_reset(&r->out);
    mnemo__jsonw_string(&r->out, text, len);
    mnemo_free(text);
    write_out(r);
}

static void handle_line(void *ctx, long line_no, const char *line, size_t len) {
    run *r = ctx;
    r->line_no = line_no;
    char why[600];
    json_t *v =
        mnemo__cli_parse_line(line, len, r->s->decode ? JSON_ARRAY : JSON_STRING, why, sizeof why);
    if (!v) {
        bad_line(r, "%s", why);
        return;
    }
    if (r->s->decode)
        decode_ids(r, v);
    else
        encode_text(r, json_string_value(v), json_string_length(v));
    json_decref(v);
}

int mnemo__cmd_tokenize(const mnemo_settings *s, int argc, char **argv) {
    const char *path = s->tokenizer ? s->tokenizer : s->model;
    if (!path) {
        mnemo__cli_error("tokenize", "no tokenizer: pass --tokenizer PATH (a tokenizer.json or a "
                                     "model folder) or --model DIR, or set MNEMO_MODEL");
        return 2;
    }
    if (s->decode && s->pieces) {
        mnemo__cli_error("tokenize", "--decode and --pieces do not go together");
        return 2;
    }
    run r = {.s = s};
    mnemo_error err;
    mnemo_tokenizer_options opts = {.cache_dir = s->cache_dir, .no_cache = s->no_cache};
    if (mnemo_tokenizer_open(path, &opts, &r.tok, &err)) {
        mnemo__cli_error("tokenize", "%s", err.message);
        return 1;
    }
    if (argc > 0) {
        /* Texts as arguments: raw text, not JSON. */
        for (int i = 0; i < argc; i++) {
            r.line_no = i + 1;
            if (s->decode)
                handle_line(&r, i + 1, argv[i], strlen(argv[i]));
            else
                encode_text(&r, argv[i], strlen(argv[i]));
        }
    } else {
        mnemo__cli_each_line(stdin, handle_line, &r);
    }
    mnemo_tokenizer_close(r.tok);
    free(r.ids);
    mnemo__jsonw_free(&r.out);
    return r.bad_lines ? 1 : 0;
}
