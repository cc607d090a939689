/*
 * fuzz_safetensors.c — libFuzzer target for the safetensors reader: any bytes
 * go to mnemo__safetensors_open_memory(); when they are accepted, every
 * tensor is walked, looked up by name, and the first and last byte of its
 * data are read, so ASan flags any range the validation let through that
 * lies outside the input. Seeds: fuzz/corpus/safetensors (made by
 * fuzz/make_safetensors_corpus.py); dictionary: fuzz/safetensors.dict.
 *
 *   clang -fsanitize=fuzzer,address,undefined -Iinclude -Isrc fuzz/fuzz_safetensors.c \
 *         src/model/safetensors.c src/core/\*.c -ljansson -o /tmp/fz
 *   /tmp/fz -dict=fuzz/safetensors.dict fuzz/corpus/safetensors
 */
#include "model/safetensors.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mnemo_safetensors *st = NULL;
    mnemo_error err;
    if (mnemo__safetensors_open_memory(data, size, &st, &err) != MNEMO_OK) {
        if (st != NULL || err.message[0] == '\0') abort(); /* a failure must explain itself */
        return 0;
    }
    volatile uint8_t sink = 0;
    size_t n = mnemo__safetensors_count(st);
    for (size_t i = 0; i < n; i++) {
        const mnemo_tensor *t = mnemo__safetensors_at(st, i);
        if (!t || mnemo__safetensors_find(st, t->name) != t) abort();
        if (t->n_dims < 0 || t->n_dims > MNEMO_SAFETENSORS_MAX_DIMS) abort();
        if (t->n_bytes != t->n_elements * mnemo__dtype_size(t->dtype)) abort();
        const uint8_t *p = t->data;
        if (p < data || p + t->n_bytes > data + size) abort();
        if (t->n_bytes > 0) {
            sink ^= p[0];
            sink ^= p[t->n_bytes - 1];
            float f[2];
            mnemo__safetensors_copy_f32(t, t->n_elements - 1, 1, f);
        }
    }
    (void)sink;
    mnemo__safetensors_close(st);
    return 0;
}
