/*
 * fuzz_gguf.c — libFuzzer target for the GGUF reader: any bytes go to
 * mnemo__gguf_open_memory(); when they are accepted, every key is looked up
 * and read with every typed getter (and every array element with the
 * accessors), every tensor is walked, found by name, its first and last byte
 * read and its first and last rows turned into f32 when its type is
 * supported, so ASan flags any range the validation let through that lies
 * outside the input. Seeds: fuzz/corpus/gguf (made by
 * fuzz/make_gguf_corpus.py); dictionary: fuzz/gguf.dict.
 *
 *   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DMNEMO_FUZZ=ON -DMNEMO_TESTS=OFF
 *   cmake --build build-fuzz --target fuzz_gguf
 *   build-fuzz/fuzz/fuzz_gguf -dict=fuzz/gguf.dict -max_len=4096 fuzz/corpus/gguf
 */
#include "model/gguf.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t sink;

static void read_metadata(const mnemo_gguf *g) {
    size_t n = mnemo__gguf_kv_count(g);
    for (size_t i = 0; i < n; i++) {
        const mnemo_gguf_kv *kv = mnemo__gguf_kv_at(g, i);
        if (!kv || mnemo__gguf_kv_find(g, kv->key) != kv) abort();
        mnemo_error err;
        mnemo_gguf_str s;
        uint32_t u32;
        int32_t i32;
        float f;
        bool b;
        int64_t i64;
        double d;
        mnemo_gguf_array a;
        /* exactly one of the strict getters may succeed: the one of its type */
        int ok = (mnemo__gguf_get_str(g, kv->key, &s, &err) == MNEMO_OK) +
                 (mnemo__gguf_get_u32(g, kv->key, &u32, &err) == MNEMO_OK) +
                 (mnemo__gguf_get_i32(g, kv->key, &i32, &err) == MNEMO_OK) +
                 (mnemo__gguf_get_f32(g, kv->key, &f, &err) == MNEMO_OK) +
                 (mnemo__gguf_get_bool(g, kv->key, &b, &err) == MNEMO_OK) +
                 (mnemo__gguf_get_array(g, kv->key, &a, &err) == MNEMO_OK);
        if (ok > 1) abort();
        mnemo__gguf_get_int(g, kv->key, &i64, &err);
        mnemo__gguf_get_strings(g, kv->key, &a, &err);
        mnemo__gguf_get_numbers(g, kv->key, &a, &err);
        if (kv->type == MNEMO_GGUF_STRING && kv->str.len)
            sink ^= (uint8_t)kv->str.data[kv->str.len - 1];
        if (kv->type != MNEMO_GGUF_ARRAY) continue;
        const mnemo_gguf_array *arr = &kv->array;
        for (size_t j = 0; j < arr->count; j++) {
            if (arr->type == MNEMO_GGUF_STRING) {
                if (!arr->strings) abort();
                const mnemo_gguf_str *e = &arr->strings[j];
                if ((const uint8_t *)e->data < (const uint8_t *)arr->data) abort();
                if (e->len) sink ^= (uint8_t)(e->data[0] ^ e->data[e->len - 1]);
            } else {
                mnemo__gguf_array_f64(arr, j, &d);
                mnemo__gguf_array_i64(arr, j, &i64);
            }
        }
        if (mnemo__gguf_array_f64(arr, arr->count, &d) != MNEMO_ERANGE &&
            mnemo__gguf_array_f64(arr, arr->count, &d) != MNEMO_EFORMAT)
            abort();
    }
}

static void walk_tensors(const mnemo_gguf *g, const uint8_t *data, size_t size) {
    size_t n = mnemo__gguf_tensor_count(g);
    for (size_t i = 0; i < n; i++) {
        const mnemo_gguf_tensor *t = mnemo__gguf_tensor_at(g, i);
        if (!t || mnemo__gguf_tensor_find(g, t->name) != t) abort();
        if (t->n_dims < 0 || t->n_dims > MNEMO_GGUF_MAX_DIMS || t->n_bytes == 0) abort();
        if (t->n_bytes != t->n_rows * t->row_bytes) abort();
        if ((size_t)t->ne[0] * t->n_rows != t->n_elements) abort();
        const uint8_t *p = t->data;
        if (p < data || t->n_bytes > size || p + t->n_bytes > data + size) abort();
        if (t->offset % mnemo__gguf_alignment(g) != 0) abort();
        sink ^= (uint8_t)(p[0] ^ p[t->n_bytes - 1]);
        if (!mnemo__ggml_type_supported(t->type)) {
            if (mnemo__gguf_row_f32(t, 0, NULL) != MNEMO_EUNSUPPORTED) abort();
            continue;
        }
        /* one row is at most the input's size / 2 bytes x 32/18 elements */
        float *row = malloc(sizeof(float) * (size_t)t->ne[0]);
        if (!row) abort();
        if (mnemo__gguf_row_f32(t, 0, row) != MNEMO_OK) abort();
        if (mnemo__gguf_row_f32(t, t->n_rows - 1, row) != MNEMO_OK) abort();
        if (mnemo__gguf_row_f32(t, t->n_rows, row) != MNEMO_ERANGE) abort();
        sink ^= (uint8_t)(row[0] != row[0]);
        free(row);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mnemo_gguf *g = NULL;
    mnemo_error err;
    if (mnemo__gguf_open_memory(data, size, &g, &err) != MNEMO_OK) {
        if (g != NULL || err.message[0] == '\0') abort(); /* a failure must explain itself */
        return 0;
    }
    if (mnemo__gguf_data_offset(g) > size) abort();
    read_metadata(g);
    walk_tensors(g, data, size);
    mnemo__gguf_close(g);
    return 0;
}
