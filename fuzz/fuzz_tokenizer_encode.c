/*
 * fuzz_tokenizer_encode.c — libFuzzer target: arbitrary bytes as text for the
 * real EmbeddingGemma tokenizer ($MNEMO_FUZZ_TOKENIZER). Invalid UTF-8 must be
 * refused with EUTF8; valid text must encode, and decoding the ids must give
 * the text back exactly (when it holds no "▁", which decodes to a space).
 */
#include "mnemo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static mnemo_tokenizer *tok;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    const char *path = getenv("MNEMO_FUZZ_TOKENIZER");
    mnemo_error err;
    if (!path || mnemo_tokenizer_open(path, NULL, &tok, &err) != MNEMO_OK) {
        fprintf(stderr, "set MNEMO_FUZZ_TOKENIZER to a tokenizer.json (%s)\n",
                path ? err.message : "unset");
        exit(2);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    size_t cap = size + 2;
    int32_t *ids = malloc(cap * sizeof *ids);
    size_t n;
    mnemo_error err;
    int rc = mnemo_tokenizer_encode(tok, text, size, MNEMO_ENCODE_NO_SPECIAL, ids, cap, &n, &err);
    int valid = mnemo_utf8_valid(text, size, NULL);
    if (!valid) {
        if (rc != MNEMO_EUTF8) abort();
        free(ids);
        return 0;
    }
    if (rc != MNEMO_OK) abort();
    char *back;
    size_t len;
    if (mnemo_tokenizer_decode(tok, ids, n, 0, &back, &len, &err) != MNEMO_OK) abort();
    if (!memmem(text, size, "\xE2\x96\x81", 3) && (len != size || memcmp(back, text, size) != 0))
        abort(); /* decode(encode(text)) must be text */
    mnemo_free(back);
    free(ids);
    return 0;
}
