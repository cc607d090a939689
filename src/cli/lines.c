/*
 * lines.c — the JSON-lines input shared by the commands that read stdin
 * (`mnemo tokenize`, `mnemo embed`): reading numbered lines, and checking one
 * line is valid UTF-8 holding a JSON value of the wanted type, with a message
 * that says what to change. What is done with a line is the command's.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>

void mnemo__cli_each_line(FILE *in, mnemo_cli_line_fn fn, void *ctx) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long line_no = 0;
    while ((n = getline(&line, &cap, in)) >= 0) {
        size_t len = (size_t)n;
        if (len && line[len - 1] == '\n') len--;
        fn(ctx, ++line_no, line, len);
    }
    free(line);
}

json_t *mnemo__cli_parse_line(const char *line, size_t len, json_type want, char *why, size_t cap) {
    const char *expected = want == JSON_ARRAY ? "a JSON array of ids like [2, 9259, 1]"
                                              : "a JSON string like \"text\"";
    size_t bad;
    if (!mnemo_utf8_valid(line, len, &bad)) {
        snprintf(why, cap, "invalid UTF-8 at byte offset %zu (byte 0x%02X); input must be UTF-8",
                 bad, (unsigned)(uint8_t)line[bad]);
        return NULL;
    }
    json_error_t jerr;
    json_t *v = json_loadb(line, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!v) {
        snprintf(why, cap, "not valid JSON (column %d: %s); expected %s", jerr.column, jerr.text,
                 expected);
        return NULL;
    }
    if (json_typeof(v) != want) {
        snprintf(why, cap, "expected %s, found another JSON value", expected);
        json_decref(v);
        return NULL;
    }
    return v;
}
