/*
 * fuzz_cache_file.c — libFuzzer target for the embedding cache's file
 * (src/service/cache_file.c): a cache of 16 entries (width 4, some with
 * hits) is written once; then each input becomes a file that
 * mnemo__cache_file_load() reads into a fresh cache. The first byte picks
 * the shape: 0, the valid file with the input's (offset, xor) edits; else
 * the input as the whole file. Whatever loads must be one of the 16 keys
 * with exactly its own vector: a damaged file may lose entries, never give
 * a wrong one. No seeds needed:
 *
 *   build-fuzz/fuzz/fuzz_cache_file -max_len=4096 CORPUS_DIR
 */
#include "service/service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { N = 16, W = 4 };
static uint8_t *valid;
static size_t valid_len;
static char path[64];

static void key_of(int i, char *text, size_t cap, mnemo_piece key[3]) {
    snprintf(text, cap, "text %d", i);
    key[0] = (mnemo_piece){"model", 5};
    key[1] = (mnemo_piece){"query: ", 7};
    key[2] = (mnemo_piece){text, strlen(text)};
}

static void vec_of(int i, float v[W]) {
    for (int d = 0; d < W; d++) v[d] = (float)(i * W + d) * 0.25f - 3.0f;
}

static mnemo_cache_file *open_file(mnemo_cache *c) {
    mnemo_cache_file_options o = {.path = path,
                                  .max_bytes = 1 << 20,
                                  .identity = "fuzz|dim=4",
                                  .model_id = "model",
                                  .width = W};
    mnemo_cache_file *f;
    mnemo_error err;
    if (mnemo__cache_file_open(&o, c, &f, &err)) abort();
    return f;
}

static void setup(void) {
    mnemo__log_set_level(MNEMO_LOG_OFF);
    snprintf(path, sizeof path, "/tmp/fuzz-cache-%d.bin", (int)getpid());
    mnemo_cache *c;
    mnemo_error err;
    if (mnemo__cache_create(1 << 20, 0, W, &c, &err)) abort();
    for (int i = 0; i < N; i++) {
        char text[32];
        mnemo_piece key[3];
        float v[W];
        key_of(i, text, sizeof text, key);
        vec_of(i, v);
        mnemo__cache_put(c, key, 3, v, (size_t)i + 2, 0);
        for (int h = 0; h < i % 3; h++) mnemo__cache_get(c, key, 3, 0, v, NULL);
    }
    mnemo_cache_file *f = open_file(c);
    if (mnemo__cache_file_write(f, &err)) abort();
    mnemo__cache_file_close(f);
    mnemo__cache_free(c);
    FILE *fp = fopen(path, "rb");
    if (!fp) abort();
    fseek(fp, 0, SEEK_END);
    valid_len = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    valid = malloc(valid_len);
    if (!valid || fread(valid, 1, valid_len, fp) != valid_len) abort();
    fclose(fp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!valid) setup();
    if (size == 0) return 0;
    uint8_t *file;
    size_t len;
    if (data[0] == 0) { /* the valid file, edited: (u16 offset, xor byte)... */
        len = valid_len;
        file = malloc(len);
        if (!file) return 0;
        memcpy(file, valid, len);
        for (size_t i = 1; i + 3 <= size; i += 3) {
            size_t at = ((size_t)data[i] | (size_t)data[i + 1] << 8) % len;
            file[at] ^= data[i + 2];
        }
    } else {
        len = size - 1;
        file = malloc(len ? len : 1);
        if (!file) return 0;
        memcpy(file, data + 1, len);
    }
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(file, 1, len, fp) != len) abort();
    fclose(fp);
    free(file);

    mnemo_cache *c;
    mnemo_error err;
    if (mnemo__cache_create(1 << 20, 0, W, &c, &err)) abort();
    mnemo_cache_file *f = open_file(c);
    size_t loaded = 0, found = 0;
    mnemo__cache_file_load(f, mnemo__now() + 60, &loaded);
    for (int i = 0; i < N; i++) {
        char text[32];
        mnemo_piece key[3];
        float want[W], got[W];
        size_t tokens = 0;
        key_of(i, text, sizeof text, key);
        vec_of(i, want);
        if (!mnemo__cache_get(c, key, 3, 0, got, &tokens)) continue;
        found++;
        if (memcmp(want, got, sizeof want) || tokens != (size_t)i + 2) abort(); /* a wrong vector */
    }
    mnemo_cache_stats st;
    mnemo__cache_stats(c, &st);
    if (found != loaded || st.entries != loaded) abort(); /* a key that was never written */
    /* close would rewrite the file: the next input writes its own anyway */
    mnemo__cache_file_close(f);
    mnemo__cache_free(c);
    return 0;
}
