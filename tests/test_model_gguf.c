/*
 * test_model_gguf.c — the GGUF reader against files built byte by byte here:
 * a good file with every metadata type and F32/F16/BF16/Q8_0/Q4_0 tensors
 * (plus a Q4_K one that opens but cannot be decoded) read back exactly;
 * every hostile header refused with the right code and a message naming the
 * file and the key or tensor; every prefix of a valid file refused; a failed
 * allocation at every step of an open; Q8_0/Q4_0 dequantization against
 * values worked out here; a file written by llama.cpp's gguf-py, whose own
 * dequantization mnemo must match bit for bit. With a folder of real
 * EmbeddingGemma GGUF files as argv[1] (embeddinggemma-300m-{f32,f16,bf16,
 * q8_0}.gguf from llama.cpp's convert_hf_to_gguf.py with
 * --sentence-transformers-dense-modules; a q4_0 one optional), also those:
 * metadata, shapes, every tensor against the f32 file within the precision
 * of its type, and (with model.safetensors as argv[2]) the norms stored as
 * 1 + w.
 *
 * usage: test_model_gguf [GGUF_DIR [MODEL_SAFETENSORS]]
 */
#include "model/gguf.h"
#include "model/safetensors.h"
#include "test.h"

#include <math.h>
#include <stdarg.h>
#include <unistd.h>

static char tmpdir[256];

/* ------------------------------------------------------- a file builder */

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *data, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) exit(2);
    }
    if (n) memcpy(b->p + b->n, data, n);
    b->n += n;
}
static void put_u8(buf *b, uint8_t v) { put(b, &v, 1); }
static void put_u16(buf *b, uint16_t v) { put(b, &v, 2); } /* little-endian host */
static void put_u32(buf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(buf *b, uint64_t v) { put(b, &v, 8); }
static void put_f32(buf *b, float v) { put(b, &v, 4); }
static void put_f64(buf *b, double v) { put(b, &v, 8); }
static void put_strn(buf *b, const char *s, size_t n) {
    put_u64(b, n);
    put(b, s, n);
}
static void put_str(buf *b, const char *s) { put_strn(b, s, strlen(s)); }
static void pad_to(buf *b, size_t alignment) {
    while (b->n % alignment) put_u8(b, 0);
}

/* Writes `t` at byte `at` of the file, zero-filling any gap before it, and
 * empties t. */
static void place(buf *b, size_t at, buf *t) {
    while (b->n < at) put_u8(b, 0);
    put(b, t->p, t->n);
    t->n = 0;
}

static void header(buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kvs) {
    put(b, "GGUF", 4);
    put_u32(b, version);
    put_u64(b, n_tensors);
    put_u64(b, n_kvs);
}
/* A key and its value type. */
static void key(buf *b, const char *k, uint32_t type) {
    put_str(b, k);
    put_u32(b, type);
}
static void kv_u32(buf *b, const char *k, uint32_t v) {
    key(b, k, MNEMO_GGUF_U32);
    put_u32(b, v);
}
static void kv_str(buf *b, const char *k, const char *v) {
    key(b, k, MNEMO_GGUF_STRING);
    put_str(b, v);
}
/* A tensor info with n_dims dimensions from the varargs (uint64_t). */
static void tinfo(buf *b, const char *name, uint32_t type, uint64_t offset, uint32_t n_dims, ...) {
    put_str(b, name);
    put_u32(b, n_dims);
    va_list ap;
    va_start(ap, n_dims);
    for (uint32_t i = 0; i < n_dims; i++) put_u64(b, va_arg(ap, uint64_t));
    va_end(ap);
    put_u32(b, type);
    put_u64(b, offset);
}

static void tmp_path(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* f16 bits -> value, written out from the IEEE definition (independent of
 * the library's conversion). */
static float half_value(uint16_t h) {
    int e = (h >> 10) & 0x1F, m = h & 0x3FF;
    float v = e ? ldexpf(1.0f + (float)m / 1024.0f, e - 15) : ldexpf((float)m, -24);
    return (h & 0x8000) ? -v : v;
}

/* ------------------------------------------------------------ the good file */

/*
 * Metadata (alignment 64, so the default is not what makes offsets work):
 * one pair of every scalar type, strings (one empty, one with UTF-8), arrays
 * of every element type, two empty arrays. Tensors, listed in this order but
 * stored in the data section in another, with a gap:
 *   f32.vec   F32  {4}            1, -2, 0.5, 1e30              at 0
 *   f16.mat   F16  {2, 3}         1, -2.5, 65504, 2^-24, 0, -0  at 576
 *   bf16.mat  BF16 {3, 2}         1, -2.5, 0.5, 3, 4, -8        at 512
 *   q8.mat    Q8_0 {64, 2}        4 blocks                      at 64
 *   q4.mat    Q4_0 {32, 3}        3 blocks                      at 448 (after a gap)
 *   q4k.odd   Q4_K {256}          1 block of 144 bytes          at 640
 *   scalar    F32  n_dims 0       3.5                           at 256
 *   four      F32  {1, 2, 1, 2}   0.25, -1, 7, 8                at 320
 *   ""        F32  {1}            -7 (an empty name is allowed) at 832
 * The last tensor in the data section ends at the end of the file, so no
 * prefix of the file is valid.
 */
#define GOOD_ALIGN 64
#define GOOD_KVS 30
#define GOOD_TENSORS 9

static const uint16_t q8_scales[4] = {0x3800 /* 0.5 */, 0x2E66 /* ~0.0999 */, 0xC000 /* -2 */,
                                      0x0001 /* 2^-24 */};
static const uint16_t q4_scales[3] = {0x3C00 /* 1 */, 0x3555 /* ~0.333 */, 0x8400 /* -2^-14 */};

static int8_t q8_value(int block, int j) { return (int8_t)((block * 77 + j * 29) % 256 - 128); }
static uint8_t q4_byte(int block, int j) {
    if (block == 0) return (uint8_t)(j | (15 - j) << 4); /* elements 0..15 = j, 16..31 = 15 - j */
    return (uint8_t)((block * 53 + j * 101) & 0xFF);
}

static void put_q8_blocks(buf *b) {
    for (int k = 0; k < 4; k++) {
        put_u16(b, q8_scales[k]);
        for (int j = 0; j < 32; j++) put_u8(b, (uint8_t)q8_value(k, j));
    }
}
static void put_q4_blocks(buf *b) {
    for (int k = 0; k < 3; k++) {
        put_u16(b, q4_scales[k]);
        for (int j = 0; j < 16; j++) put_u8(b, q4_byte(k, j));
    }
}

/* Values of element j (0..31) of block k, worked out from the ggml block
 * layout as gguf.md / ggml-common.h describe it. */
static float q8_expected(int k, int j) { return (float)q8_value(k, j) * half_value(q8_scales[k]); }
static float q4_expected(int k, int j) {
    uint8_t byte = q4_byte(k, j % 16);
    int nibble = j < 16 ? (byte & 0x0F) : (byte >> 4);
    return (float)(nibble - 8) * half_value(q4_scales[k]);
}

static size_t good_data_offset;

/* Builds the good file with format version `version`. */
static buf good_file(uint32_t version) {
    buf b = {0};
    header(&b, version, GOOD_TENSORS, GOOD_KVS);
    kv_str(&b, "general.architecture", "gemma-embedding");
    kv_u32(&b, "general.alignment", GOOD_ALIGN);
    key(&b, "t.u8", MNEMO_GGUF_U8), put_u8(&b, 200);
    key(&b, "t.i8", MNEMO_GGUF_I8), put_u8(&b, (uint8_t)-100);
    key(&b, "t.u16", MNEMO_GGUF_U16), put_u16(&b, 60000);
    key(&b, "t.i16", MNEMO_GGUF_I16), put_u16(&b, (uint16_t)-30000);
    kv_u32(&b, "t.u32", 4000000000u);
    key(&b, "t.i32", MNEMO_GGUF_I32), put_u32(&b, (uint32_t)-2000000000);
    key(&b, "t.f32", MNEMO_GGUF_F32), put_f32(&b, 0.1f);
    key(&b, "t.bool", MNEMO_GGUF_BOOL), put_u8(&b, 1);
    key(&b, "t.false", MNEMO_GGUF_BOOL), put_u8(&b, 0);
    key(&b, "t.u64", MNEMO_GGUF_U64), put_u64(&b, UINT64_MAX);
    key(&b, "t.i64", MNEMO_GGUF_I64), put_u64(&b, (uint64_t)INT64_MIN);
    key(&b, "t.f64", MNEMO_GGUF_F64), put_f64(&b, 1e300);
    kv_str(&b, "t.empty", "");
    kv_str(&b, "t.utf8", "h\xc3\xa9llo \xe2\x82\xac");
    key(&b, "t.arr.str", MNEMO_GGUF_ARRAY), put_u32(&b, MNEMO_GGUF_STRING), put_u64(&b, 3);
    put_str(&b, "<pad>"), put_str(&b, ""), put_strn(&b, "a\0b", 3);
    key(&b, "t.arr.f32", MNEMO_GGUF_ARRAY), put_u32(&b, MNEMO_GGUF_F32), put_u64(&b, 3);
    put_f32(&b, -1000.0f), put_f32(&b, 0.5f), put_f32(&b, -INFINITY);
    key(&b, "t.arr.i32", MNEMO_GGUF_ARRAY), put_u32(&b, MNEMO_GGUF_I32), put_u64(&b, 2);
    put_u32(&b, 3), put_u32(&b, (uint32_t)-4);
    key(&b, "t.arr.u8", MNEMO_GGUF_ARRAY), put_u32(&b, MNEMO_GGUF_U8), put_u64(&b, 2);
    put_u8(&b, 255), put_u8(&b, 7);
    key(&b, "t.arr.i8", MNEMO_GGUF_ARRAY), put_u32(&b, MNEMO_GGUF_I8), put_u64(&b, 1);
    put_u8(&b, 0x80);
    key(&b, "t.arr.u16", MNEMO_GGUF_ARRAY), put_u32(&b, MNEMO_GGUF_U16), put_u64(&b, 1);
    put_u16(&b, 65535);
    key(&b, "t.arr.i16", MNEMO_GGUF_ARRAY), put_u32(&b, MNEMO_GGUF_I16), put_u64(&b, 1);
    put_u16(&b, 0x8000);
    key(&b, "t.arr.u32", MNEMO_GGUF_ARRAY), put_u32(&b, MNEMO_GGUF_U32), put_u64(&b, 1);
    put_u32(&b, 0xFFFFFFFFu);
    key(&b, "t.arr.u64", MNEMO_GGUF_ARRAY), put_u32(&b, MNEMO_GGUF_U64), put_u64(&b, 2);
    put_u64(&b, UINT64_MAX), put_u64(&b, 12345);
    key(&b, "t.arr.i64", MNEMO_GGUF_ARRAY), put_u32(&b, MNEMO_GGUF_I64), put_u64(&b, 1);
    put_u64(&b, (uint64_t)-5);
    key(&b, "t.arr.f64", MNEMO_GGUF_ARRAY), put_u32(&b, MNEMO_GGUF_F64), put_u64(&b, 1);
    put_f64(&b, -0.125);
    key(&b, "t.arr.bool", MNEMO_GGUF_ARRAY), put_u32(&b, MNEMO_GGUF_BOOL), put_u64(&b, 3);
    put_u8(&b, 1), put_u8(&b, 0), put_u8(&b, 1);
    key(&b, "t.arr.none", MNEMO_GGUF_ARRAY), put_u32(&b, MNEMO_GGUF_U32), put_u64(&b, 0);
    key(&b, "t.arr.nostr", MNEMO_GGUF_ARRAY), put_u32(&b, MNEMO_GGUF_STRING), put_u64(&b, 0);

    tinfo(&b, "f32.vec", MNEMO_GGML_F32, 0, 1, (uint64_t)4);
    tinfo(&b, "f16.mat", MNEMO_GGML_F16, 576, 2, (uint64_t)2, (uint64_t)3);
    tinfo(&b, "bf16.mat", MNEMO_GGML_BF16, 512, 2, (uint64_t)3, (uint64_t)2);
    tinfo(&b, "q8.mat", MNEMO_GGML_Q8_0, 64, 2, (uint64_t)64, (uint64_t)2);
    tinfo(&b, "q4.mat", MNEMO_GGML_Q4_0, 448, 2, (uint64_t)32, (uint64_t)3);
    tinfo(&b, "q4k.odd", MNEMO_GGML_Q4_K, 640, 1, (uint64_t)256);
    tinfo(&b, "scalar", MNEMO_GGML_F32, 256, 0);
    tinfo(&b, "four", MNEMO_GGML_F32, 320, 4, (uint64_t)1, (uint64_t)2, (uint64_t)1, (uint64_t)2);
    tinfo(&b, "", MNEMO_GGML_F32, 832, 1, (uint64_t)1);
    pad_to(&b, GOOD_ALIGN);
    good_data_offset = b.n;
    size_t d = b.n;

    /* the data section, each tensor placed at its offset */
    buf t = {0};
    put_f32(&t, 1.0f), put_f32(&t, -2.0f), put_f32(&t, 0.5f), put_f32(&t, 1e30f);
    place(&b, d + 0, &t);
    put_q8_blocks(&t);
    place(&b, d + 64, &t);
    put_f32(&t, 3.5f);
    place(&b, d + 256, &t);
    put_f32(&t, 0.25f), put_f32(&t, -1.0f), put_f32(&t, 7.0f), put_f32(&t, 8.0f);
    place(&b, d + 320, &t);
    put_q4_blocks(&t);
    place(&b, d + 448, &t);
    static const uint16_t bf16[] = {0x3F80, 0xC020, 0x3F00, 0x4040, 0x4080, 0xC100};
    for (int i = 0; i < 6; i++) put_u16(&t, bf16[i]);
    place(&b, d + 512, &t);
    static const uint16_t f16[] = {0x3C00, 0xC100, 0x7BFF, 0x0001, 0x0000, 0x8000};
    for (int i = 0; i < 6; i++) put_u16(&t, f16[i]);
    place(&b, d + 576, &t);
    for (int i = 0; i < 144; i++) put_u8(&t, (uint8_t)i);
    place(&b, d + 640, &t);
    put_f32(&t, -7.0f);
    place(&b, d + 832, &t); /* 832..836: the end of the file */
    free(t.p);
    return b;
}

static const float f16_values[6] = {1.0f, -2.5f, 65504.0f, 5.9604644775390625e-08f, 0.0f, -0.0f};

static void check_good(const mnemo_gguf *g, const uint8_t *data_section, uint32_t version) {
    mnemo_error err;
    CHECK(mnemo__gguf_version(g) == version);
    CHECK(mnemo__gguf_alignment(g) == GOOD_ALIGN);
    CHECK(mnemo__gguf_data_offset(g) == good_data_offset);
    CHECK(mnemo__gguf_kv_count(g) == GOOD_KVS);
    CHECK(mnemo__gguf_tensor_count(g) == GOOD_TENSORS);

    /* metadata: every scalar type */
    mnemo_gguf_str s;
    CHECK(mnemo__gguf_get_str(g, "general.architecture", &s, &err) == MNEMO_OK &&
          mnemo__gguf_str_eq(s, "gemma-embedding"));
    CHECK(mnemo__gguf_get_str(g, "t.empty", &s, &err) == MNEMO_OK && s.len == 0 &&
          mnemo__gguf_str_eq(s, ""));
    CHECK(mnemo__gguf_get_str(g, "t.utf8", &s, &err) == MNEMO_OK &&
          mnemo__gguf_str_eq(s, "h\xc3\xa9llo \xe2\x82\xac"));
    uint32_t u32 = 0;
    CHECK(mnemo__gguf_get_u32(g, "general.alignment", &u32, &err) == MNEMO_OK && u32 == 64);
    CHECK(mnemo__gguf_get_u32(g, "t.u32", &u32, &err) == MNEMO_OK && u32 == 4000000000u);
    int32_t i32 = 0;
    CHECK(mnemo__gguf_get_i32(g, "t.i32", &i32, &err) == MNEMO_OK && i32 == -2000000000);
    float f = 0;
    CHECK(mnemo__gguf_get_f32(g, "t.f32", &f, &err) == MNEMO_OK && f32_bits(f) == f32_bits(0.1f));
    bool bv = false;
    CHECK(mnemo__gguf_get_bool(g, "t.bool", &bv, &err) == MNEMO_OK && bv);
    CHECK(mnemo__gguf_get_bool(g, "t.false", &bv, &err) == MNEMO_OK && !bv);
    int64_t i64 = 0;
    CHECK(mnemo__gguf_get_int(g, "t.u8", &i64, &err) == MNEMO_OK && i64 == 200);
    CHECK(mnemo__gguf_get_int(g, "t.i8", &i64, &err) == MNEMO_OK && i64 == -100);
    CHECK(mnemo__gguf_get_int(g, "t.u16", &i64, &err) == MNEMO_OK && i64 == 60000);
    CHECK(mnemo__gguf_get_int(g, "t.i16", &i64, &err) == MNEMO_OK && i64 == -30000);
    CHECK(mnemo__gguf_get_int(g, "t.u32", &i64, &err) == MNEMO_OK && i64 == 4000000000);
    CHECK(mnemo__gguf_get_int(g, "t.i32", &i64, &err) == MNEMO_OK && i64 == -2000000000);
    CHECK(mnemo__gguf_get_int(g, "t.i64", &i64, &err) == MNEMO_OK && i64 == INT64_MIN);
    i64 = 42;
    CHECK(mnemo__gguf_get_int(g, "t.u64", &i64, &err) == MNEMO_ERANGE && i64 == 42);
    CHECKF(strstr(err.message, "t.u64") && strstr(err.message, "18446744073709551615"), "%s",
           err.message);
    const mnemo_gguf_kv *kv = mnemo__gguf_kv_find(g, "t.u64");
    CHECK(kv && kv->type == MNEMO_GGUF_U64 && kv->value.u == UINT64_MAX);
    kv = mnemo__gguf_kv_find(g, "t.f64");
    CHECK(kv && kv->type == MNEMO_GGUF_F64 && kv->value.f == 1e300);
    kv = mnemo__gguf_kv_find(g, "t.u16");
    CHECK(kv && kv->type == MNEMO_GGUF_U16 && kv->value.u == 60000);
    kv = mnemo__gguf_kv_find(g, "t.i16");
    CHECK(kv && kv->type == MNEMO_GGUF_I16 && kv->value.i == -30000);

    /* kv_at follows the file */
    kv = mnemo__gguf_kv_at(g, 0);
    CHECK(kv && strcmp(kv->key, "general.architecture") == 0);
    kv = mnemo__gguf_kv_at(g, GOOD_KVS - 1);
    CHECK(kv && strcmp(kv->key, "t.arr.nostr") == 0);
    CHECK(mnemo__gguf_kv_at(g, GOOD_KVS) == NULL);
    for (size_t i = 0; i < GOOD_KVS; i++) {
        kv = mnemo__gguf_kv_at(g, i);
        CHECK(mnemo__gguf_kv_find(g, kv->key) == kv);
    }

    /* arrays */
    mnemo_gguf_array a;
    CHECK(mnemo__gguf_get_strings(g, "t.arr.str", &a, &err) == MNEMO_OK && a.count == 3 &&
          a.type == MNEMO_GGUF_STRING);
    if (a.count == 3 && a.strings) {
        CHECK(mnemo__gguf_str_eq(a.strings[0], "<pad>"));
        CHECK(a.strings[1].len == 0);
        CHECK(a.strings[2].len == 3 && memcmp(a.strings[2].data, "a\0b", 3) == 0);
    }
    CHECK(mnemo__gguf_get_array(g, "t.arr.nostr", &a, &err) == MNEMO_OK && a.count == 0 &&
          a.type == MNEMO_GGUF_STRING);
    CHECK(mnemo__gguf_get_numbers(g, "t.arr.none", &a, &err) == MNEMO_OK && a.count == 0 &&
          a.type == MNEMO_GGUF_U32);
    double d;
    CHECK(mnemo__gguf_array_f64(&a, 0, &d) == MNEMO_ERANGE);

    CHECK(mnemo__gguf_get_numbers(g, "t.arr.f32", &a, &err) == MNEMO_OK && a.count == 3);
    CHECK(mnemo__gguf_array_f64(&a, 0, &d) == MNEMO_OK && d == -1000.0);
    CHECK(mnemo__gguf_array_f64(&a, 1, &d) == MNEMO_OK && d == 0.5);
    CHECK(mnemo__gguf_array_f64(&a, 2, &d) == MNEMO_OK && isinf(d) && d < 0);
    CHECK(mnemo__gguf_array_f64(&a, 3, &d) == MNEMO_ERANGE);
    CHECK(mnemo__gguf_array_i64(&a, 0, &i64) == MNEMO_EFORMAT);

    static const struct {
        const char *key;
        size_t count;
        int64_t first;
    } ints[] = {{"t.arr.i32", 2, 3},     {"t.arr.u8", 2, 255},     {"t.arr.i8", 1, -128},
                {"t.arr.u16", 1, 65535}, {"t.arr.i16", 1, -32768}, {"t.arr.u32", 1, 4294967295},
                {"t.arr.i64", 1, -5},    {"t.arr.bool", 3, 1}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        int rc = mnemo__gguf_get_array(g, ints[i].key, &a, &err);
        CHECKF(rc == MNEMO_OK && a.count == ints[i].count, "%s", ints[i].key);
        CHECKF(mnemo__gguf_array_i64(&a, 0, &i64) == MNEMO_OK && i64 == ints[i].first, "%s: %lld",
               ints[i].key, (long long)i64);
        if (a.type != MNEMO_GGUF_BOOL)
            CHECKF(mnemo__gguf_array_f64(&a, 0, &d) == MNEMO_OK && d == (double)ints[i].first, "%s",
                   ints[i].key);
    }
    CHECK(mnemo__gguf_get_array(g, "t.arr.i32", &a, &err) == MNEMO_OK &&
          mnemo__gguf_array_i64(&a, 1, &i64) == MNEMO_OK && i64 == -4);
    CHECK(mnemo__gguf_get_array(g, "t.arr.bool", &a, &err) == MNEMO_OK &&
          mnemo__gguf_array_i64(&a, 1, &i64) == MNEMO_OK && i64 == 0 &&
          mnemo__gguf_array_f64(&a, 0, &d) == MNEMO_EFORMAT);
    CHECK(mnemo__gguf_get_array(g, "t.arr.u64", &a, &err) == MNEMO_OK &&
          mnemo__gguf_array_i64(&a, 0, &i64) == MNEMO_ERANGE &&
          mnemo__gguf_array_i64(&a, 1, &i64) == MNEMO_OK && i64 == 12345 &&
          mnemo__gguf_array_f64(&a, 0, &d) == MNEMO_OK && d == 18446744073709551615.0);
    CHECK(mnemo__gguf_get_numbers(g, "t.arr.f64", &a, &err) == MNEMO_OK &&
          mnemo__gguf_array_f64(&a, 0, &d) == MNEMO_OK && d == -0.125);

    /* absent keys and other types: ENOENT / EFORMAT naming file and key */
    const char *src = mnemo__gguf_path(g);
    CHECK(mnemo__gguf_get_u32(g, "gemma-embedding.block_count", &u32, &err) == MNEMO_ENOENT);
    CHECKF(strstr(err.message, src) && strstr(err.message, "\"gemma-embedding.block_count\"") &&
               strstr(err.message, "not found"),
           "%s", err.message);
    u32 = 7;
    CHECK(mnemo__gguf_get_u32(g, "t.i32", &u32, &err) == MNEMO_EFORMAT && u32 == 7);
    CHECKF(strstr(err.message, src) && strstr(err.message, "\"t.i32\" is a i32; expected a u32"),
           "%s", err.message);
    CHECK(mnemo__gguf_get_i32(g, "t.u32", &i32, &err) == MNEMO_EFORMAT);
    CHECK(mnemo__gguf_get_f32(g, "t.f64", &f, &err) == MNEMO_EFORMAT);
    CHECKF(strstr(err.message, "is a f64; expected a f32"), "%s", err.message);
    CHECK(mnemo__gguf_get_bool(g, "t.u8", &bv, &err) == MNEMO_EFORMAT);
    CHECK(mnemo__gguf_get_str(g, "t.arr.str", &s, &err) == MNEMO_EFORMAT);
    CHECKF(strstr(err.message, "\"t.arr.str\" is an array of string; expected a string"), "%s",
           err.message);
    CHECK(mnemo__gguf_get_array(g, "t.utf8", &a, &err) == MNEMO_EFORMAT);
    CHECKF(strstr(err.message, "is a string; expected an array"), "%s", err.message);
    CHECK(mnemo__gguf_get_strings(g, "t.arr.f32", &a, &err) == MNEMO_EFORMAT);
    CHECKF(strstr(err.message, "array of f32; expected an array of strings"), "%s", err.message);
    CHECK(mnemo__gguf_get_numbers(g, "t.arr.str", &a, &err) == MNEMO_EFORMAT);
    CHECK(mnemo__gguf_get_numbers(g, "t.arr.bool", &a, &err) == MNEMO_EFORMAT);
    CHECK(mnemo__gguf_get_int(g, "t.f32", &i64, &err) == MNEMO_EFORMAT);
    CHECK(mnemo__gguf_get_int(g, "t.arr.i32", &i64, &err) == MNEMO_EFORMAT);
    CHECK(mnemo__gguf_get_int(g, "nope", &i64, NULL) == MNEMO_ENOENT); /* err may be NULL */
    CHECK(mnemo__gguf_kv_find(g, "") == NULL && mnemo__gguf_kv_find(g, "t.u") == NULL);

    /* tensors, in file order */
    static const char *order[GOOD_TENSORS] = {"f32.vec", "f16.mat", "bf16.mat", "q8.mat", "q4.mat",
                                              "q4k.odd", "scalar",  "four",     ""};
    for (size_t i = 0; i < GOOD_TENSORS; i++) {
        const mnemo_gguf_tensor *t = mnemo__gguf_tensor_at(g, i);
        CHECKF(t && strcmp(t->name, order[i]) == 0, "at(%zu)", i);
        CHECK(t && mnemo__gguf_tensor_find(g, order[i]) == t);
        CHECK(t && (const uint8_t *)t->data == data_section + t->offset);
    }
    CHECK(mnemo__gguf_tensor_at(g, GOOD_TENSORS) == NULL);
    CHECK(mnemo__gguf_tensor_find(g, "nope") == NULL && mnemo__gguf_tensor_find(g, "f32") == NULL);

    float v[64];
    const mnemo_gguf_tensor *t = mnemo__gguf_tensor_find(g, "f32.vec");
    CHECK(t && t->type == MNEMO_GGML_F32 && t->n_dims == 1 && t->ne[0] == 4 && t->ne[1] == 1 &&
          t->ne[3] == 1 && t->n_elements == 4 && t->n_rows == 1 && t->row_bytes == 16 &&
          t->n_bytes == 16 && t->offset == 0);
    CHECK(t && mnemo__gguf_row_f32(t, 0, v) == MNEMO_OK && v[0] == 1.0f && v[1] == -2.0f &&
          v[2] == 0.5f && v[3] == 1e30f);
    CHECK(t && mnemo__gguf_row_f32(t, 1, v) == MNEMO_ERANGE);

    t = mnemo__gguf_tensor_find(g, "f16.mat");
    CHECK(t && t->type == MNEMO_GGML_F16 && t->n_dims == 2 && t->ne[0] == 2 && t->ne[1] == 3 &&
          t->n_rows == 3 && t->row_bytes == 4 && t->n_bytes == 12);
    for (size_t r = 0; t && r < 3; r++) {
        CHECK(mnemo__gguf_row_f32(t, r, v) == MNEMO_OK);
        CHECKF(f32_bits(v[0]) == f32_bits(f16_values[2 * r]) &&
                   f32_bits(v[1]) == f32_bits(f16_values[2 * r + 1]),
               "f16 row %zu: %g %g", r, v[0], v[1]);
    }
    t = mnemo__gguf_tensor_find(g, "bf16.mat");
    CHECK(t && t->type == MNEMO_GGML_BF16 && t->ne[0] == 3 && t->ne[1] == 2 && t->n_bytes == 12);
    CHECK(t && mnemo__gguf_row_f32(t, 1, v) == MNEMO_OK && v[0] == 3.0f && v[1] == 4.0f &&
          v[2] == -8.0f);

    t = mnemo__gguf_tensor_find(g, "q8.mat");
    CHECK(t && t->type == MNEMO_GGML_Q8_0 && t->ne[0] == 64 && t->ne[1] == 2 && t->n_rows == 2 &&
          t->row_bytes == 68 && t->n_bytes == 136 && t->n_elements == 128);
    for (size_t r = 0; t && r < 2; r++) {
        CHECK(mnemo__gguf_row_f32(t, r, v) == MNEMO_OK);
        int bad = 0;
        for (int j = 0; j < 64; j++)
            if (f32_bits(v[j]) != f32_bits(q8_expected((int)r * 2 + j / 32, j % 32))) bad++;
        CHECKF(bad == 0, "q8_0 row %zu: %d values differ", r, bad);
    }
    t = mnemo__gguf_tensor_find(g, "q4.mat");
    CHECK(t && t->type == MNEMO_GGML_Q4_0 && t->ne[0] == 32 && t->n_rows == 3 &&
          t->row_bytes == 18 && t->n_bytes == 54);
    for (size_t r = 0; t && r < 3; r++) {
        CHECK(mnemo__gguf_row_f32(t, r, v) == MNEMO_OK);
        int bad = 0;
        for (int j = 0; j < 32; j++)
            if (f32_bits(v[j]) != f32_bits(q4_expected((int)r, j))) bad++;
        CHECKF(bad == 0, "q4_0 row %zu: %d values differ", r, bad);
    }

    /* Q4_K opens (its range is checked) but cannot be decoded */
    t = mnemo__gguf_tensor_find(g, "q4k.odd");
    CHECK(t && t->type == MNEMO_GGML_Q4_K && t->n_bytes == 144 && t->row_bytes == 144);
    CHECK(t && ((const uint8_t *)t->data)[143] == 143);
    v[0] = 42.0f;
    CHECK(t && mnemo__gguf_row_f32(t, 0, v) == MNEMO_EUNSUPPORTED && v[0] == 42.0f);

    t = mnemo__gguf_tensor_find(g, "scalar");
    CHECK(t && t->n_dims == 0 && t->ne[0] == 1 && t->ne[3] == 1 && t->n_elements == 1 &&
          t->n_bytes == 4 && mnemo__gguf_row_f32(t, 0, v) == MNEMO_OK && v[0] == 3.5f);
    t = mnemo__gguf_tensor_find(g, "four");
    CHECK(t && t->n_dims == 4 && t->ne[0] == 1 && t->ne[1] == 2 && t->ne[2] == 1 && t->ne[3] == 2 &&
          t->n_elements == 4 && t->n_rows == 4 && t->row_bytes == 4);
    CHECK(t && mnemo__gguf_row_f32(t, 3, v) == MNEMO_OK && v[0] == 8.0f);
    t = mnemo__gguf_tensor_find(g, "");
    CHECK(t && t->n_elements == 1 && mnemo__gguf_row_f32(t, 0, v) == MNEMO_OK && v[0] == -7.0f);

    /* expect(): the loader's check */
    const mnemo_gguf_tensor *out = NULL;
    int64_t ne_ok[] = {64, 2}, ne_bad[] = {2, 64};
    CHECK(mnemo__gguf_tensor_expect(g, "q8.mat", 2, ne_ok, &out, &err) == MNEMO_OK &&
          out == mnemo__gguf_tensor_find(g, "q8.mat"));
    CHECK(mnemo__gguf_tensor_expect(g, "q8.mat", 2, ne_bad, &out, &err) == MNEMO_EFORMAT && !out);
    CHECKF(strstr(err.message, src) && strstr(err.message, "\"q8.mat\"") &&
               strstr(err.message, "has shape {64, 2} (q8_0); expected {2, 64}"),
           "%s", err.message);
    CHECK(mnemo__gguf_tensor_expect(g, "q8.mat", 1, ne_ok, &out, &err) == MNEMO_EFORMAT);
    int64_t ne_k[] = {256};
    CHECK(mnemo__gguf_tensor_expect(g, "q4k.odd", 1, ne_k, &out, &err) == MNEMO_EUNSUPPORTED);
    CHECKF(strstr(err.message, "\"q4k.odd\"") && strstr(err.message, "type q4_K is not supported"),
           "%s", err.message);
    CHECK(mnemo__gguf_tensor_expect(g, "blk.0.attn_q.weight", 2, ne_ok, &out, &err) ==
          MNEMO_EFORMAT);
    CHECKF(strstr(err.message, "\"blk.0.attn_q.weight\"") && strstr(err.message, "not found"), "%s",
           err.message);
    CHECK(mnemo__gguf_tensor_expect(g, "q8.mat", 0, ne_ok, &out, &err) == MNEMO_EINVAL);
    CHECK(mnemo__gguf_tensor_expect(g, "q8.mat", 5, ne_ok, &out, &err) == MNEMO_EINVAL);
}

static void test_good_file(void) {
    for (uint32_t version = 2; version <= 3; version++) {
        buf b = good_file(version);
        char path[300];
        tmp_path(path, sizeof path, "good.gguf");
        test_write_file(path, b.p, b.n);
        mnemo_gguf *g = NULL;
        mnemo_error err;
        int rc = mnemo__gguf_open(path, &g, &err);
        CHECKF(rc == MNEMO_OK, "v%u: %s", version, err.message);
        if (rc == MNEMO_OK) {
            CHECK(strcmp(mnemo__gguf_path(g), path) == 0);
            const mnemo_gguf_tensor *t0 = mnemo__gguf_tensor_at(g, 0); /* at offset 0 */
            CHECK(((uintptr_t)t0->data % GOOD_ALIGN) == 0);            /* the mapping is aligned */
            check_good(g, t0->data, version);
        }
        mnemo__gguf_close(g);

        rc = mnemo__gguf_open_memory(b.p, b.n, &g, &err);
        CHECKF(rc == MNEMO_OK, "v%u (memory): %s", version, err.message);
        if (rc == MNEMO_OK) {
            CHECK(strcmp(mnemo__gguf_path(g), "<memory>") == 0);
            check_good(g, b.p + good_data_offset, version);
        }
        mnemo__gguf_close(g);
        free(b.p);
    }
}

/* Other valid files: empty, no tensors without padding, default alignment,
 * gaps and trailing bytes, names at their limits. */
static void test_other_valid_files(void) {
    mnemo_gguf *g;
    mnemo_error err;
    int rc;

    buf b = {0};
    header(&b, 3, 0, 0); /* 24 bytes: nothing at all */
    rc = mnemo__gguf_open_memory(b.p, b.n, &g, &err);
    CHECKF(rc == MNEMO_OK, "%s", err.message);
    if (!rc) {
        CHECK(mnemo__gguf_kv_count(g) == 0 && mnemo__gguf_tensor_count(g) == 0 &&
              mnemo__gguf_alignment(g) == 32 && mnemo__gguf_data_offset(g) == 24 &&
              mnemo__gguf_tensor_find(g, "x") == NULL && mnemo__gguf_kv_find(g, "x") == NULL);
        mnemo__gguf_close(g);
    }
    free(b.p);

    /* metadata only, file ends right after it (no padding: ggml writes none) */
    b = (buf){0};
    header(&b, 3, 0, 1);
    kv_str(&b, "general.architecture", "x");
    rc = mnemo__gguf_open_memory(b.p, b.n, &g, &err);
    CHECKF(rc == MNEMO_OK, "%s", err.message);
    if (!rc) {
        CHECK(mnemo__gguf_data_offset(g) == b.n);
        mnemo__gguf_close(g);
    }
    free(b.p);

    /* default alignment 32, a gap, trailing bytes, a 64-byte name, a key of
     * 65535 bytes */
    char name64[65], *long_key = malloc(MNEMO_GGUF_MAX_KEY + 1);
    memset(name64, 'n', 64), name64[64] = 0;
    memset(long_key, 'k', MNEMO_GGUF_MAX_KEY), long_key[MNEMO_GGUF_MAX_KEY] = 0;
    b = (buf){0};
    header(&b, 3, 2, 1);
    kv_u32(&b, long_key, 1);
    tinfo(&b, name64, MNEMO_GGML_F32, 64, 1, (uint64_t)8);
    tinfo(&b, "b", MNEMO_GGML_F16, 0, 1, (uint64_t)2);
    pad_to(&b, 32);
    size_t data = b.n;
    for (int i = 0; i < 96 + 7; i++) put_u8(&b, 0);
    rc = mnemo__gguf_open_memory(b.p, b.n, &g, &err);
    CHECKF(rc == MNEMO_OK, "%s", err.message);
    if (!rc) {
        CHECK(mnemo__gguf_alignment(g) == 32 && mnemo__gguf_data_offset(g) == data);
        CHECK(mnemo__gguf_tensor_find(g, name64) != NULL);
        CHECK(mnemo__gguf_kv_find(g, long_key) != NULL);
        mnemo__gguf_close(g);
    }
    free(b.p);
    free(long_key);
}

/* ------------------------------------------------------------ bad files */

typedef struct bad_case {
    const char *what;
    void (*build)(buf *b);
    int code;
    const char *words[3]; /* each must appear in the message */
} bad_case;

/* One tensor "w" of the given shape/type/offset, alignment 32, with
 * `data_bytes` zero bytes of data. */
static void one_tensor(buf *b, uint32_t type, uint64_t offset, size_t data_bytes, uint32_t n_dims,
                       uint64_t d0, uint64_t d1, uint64_t d2, uint64_t d3) {
    header(b, 3, 1, 0);
    put_str(b, "w");
    put_u32(b, n_dims);
    uint64_t d[4] = {d0, d1, d2, d3};
    for (uint32_t i = 0; i < n_dims && i < 8; i++) put_u64(b, d[i % 4]);
    put_u32(b, type);
    put_u64(b, offset);
    pad_to(b, 32);
    for (size_t i = 0; i < data_bytes; i++) put_u8(b, 0);
}

static void bad_magic(buf *b) { put(b, "GGUX\3\0\0\0", 8), put_u64(b, 0), put_u64(b, 0); }
static void bad_short(buf *b) { put(b, "GGUF\3\0\0\0\0\0", 10); }
static void bad_version0(buf *b) { header(b, 0, 0, 0); }
static void bad_version1(buf *b) { header(b, 1, 0, 0); }
static void bad_version4(buf *b) { header(b, 4, 0, 0); }
static void bad_bigendian(buf *b) { header(b, 0x03000000u, 0, 0); }
static void bad_many_tensors(buf *b) { header(b, 3, MNEMO_GGUF_MAX_TENSORS + 1ull, 0); }
static void bad_many_kvs(buf *b) { header(b, 3, 0, 1ull << 63); }
static void bad_counts_vs_bytes(buf *b) {
    header(b, 3, 0, 1000);
    kv_u32(b, "a", 1);
}
static void bad_tensor_count_vs_bytes(buf *b) {
    header(b, 3, 100000, 0);
    for (int i = 0; i < 100; i++) put_u64(b, 0);
}
static void bad_key_len_max(buf *b) {
    header(b, 3, 0, 1);
    put_u64(b, UINT64_MAX), put_u32(b, 4), put_u32(b, 1), put_u64(b, 0);
}
static void bad_key_len_past(buf *b) {
    header(b, 3, 0, 1);
    put_u64(b, 20), put(b, "abcdefgh", 8);
}
static void bad_key_empty(buf *b) {
    header(b, 3, 0, 1);
    kv_u32(b, "", 1);
}
static void bad_key_nul(buf *b) {
    header(b, 3, 0, 1);
    put_strn(b, "a\0b", 3), put_u32(b, MNEMO_GGUF_U32), put_u32(b, 1);
}
static void bad_key_utf8(buf *b) {
    header(b, 3, 0, 1);
    kv_u32(b, "a\xff", 1);
}
static void bad_key_long(buf *b) {
    header(b, 3, 0, 1);
    char *k = malloc(MNEMO_GGUF_MAX_KEY + 2);
    memset(k, 'k', MNEMO_GGUF_MAX_KEY + 1), k[MNEMO_GGUF_MAX_KEY + 1] = 0;
    kv_u32(b, k, 1);
    free(k);
}
static void bad_value_type(buf *b) {
    header(b, 3, 0, 1);
    key(b, "x.y", 13), put_u32(b, 0);
}
static void bad_value_type_max(buf *b) {
    header(b, 3, 0, 1);
    key(b, "x.y", 0xFFFFFFFFu), put_u32(b, 0);
}
static void bad_bool(buf *b) {
    header(b, 3, 0, 1);
    key(b, "x.flag", MNEMO_GGUF_BOOL), put_u8(b, 2);
}
static void bad_scalar_cut(buf *b) {
    header(b, 3, 0, 1);
    key(b, "x.big", MNEMO_GGUF_U64), put_u32(b, 0);
}
static void bad_string_value(buf *b) {
    header(b, 3, 0, 1);
    key(b, "x.name", MNEMO_GGUF_STRING), put_u64(b, 1000), put(b, "abc", 3);
}
static void bad_string_value_max(buf *b) {
    header(b, 3, 0, 1);
    key(b, "x.name", MNEMO_GGUF_STRING), put_u64(b, UINT64_MAX), put(b, "abc", 3);
}
static void bad_nested(buf *b) {
    header(b, 3, 0, 1);
    key(b, "x.nest", MNEMO_GGUF_ARRAY), put_u32(b, MNEMO_GGUF_ARRAY), put_u64(b, 1);
    put_u32(b, MNEMO_GGUF_U8), put_u64(b, 1), put_u8(b, 1);
}
static void bad_array_type(buf *b) {
    header(b, 3, 0, 1);
    key(b, "x.arr", MNEMO_GGUF_ARRAY), put_u32(b, 99), put_u64(b, 1), put_u32(b, 0);
}
static void bad_array_overflow(buf *b) {
    header(b, 3, 0, 1);
    key(b, "x.arr", MNEMO_GGUF_ARRAY), put_u32(b, MNEMO_GGUF_U32), put_u64(b, 1ull << 62);
    put_u32(b, 0);
}
static void bad_array_past(buf *b) {
    header(b, 3, 0, 1);
    key(b, "x.arr", MNEMO_GGUF_ARRAY), put_u32(b, MNEMO_GGUF_U64), put_u64(b, 100);
    put_u64(b, 0), put_u64(b, 0);
}
static void bad_array_max(buf *b) {
    header(b, 3, 0, 1);
    key(b, "x.arr", MNEMO_GGUF_ARRAY), put_u32(b, MNEMO_GGUF_U8), put_u64(b, UINT64_MAX);
    put_u64(b, 0);
}
static void bad_strings_count(buf *b) {
    header(b, 3, 0, 1);
    key(b, "tokenizer.ggml.tokens", MNEMO_GGUF_ARRAY), put_u32(b, MNEMO_GGUF_STRING);
    put_u64(b, 1ull << 61), put_str(b, "a");
}
static void bad_strings_element(buf *b) {
    header(b, 3, 0, 1);
    key(b, "tokenizer.ggml.tokens", MNEMO_GGUF_ARRAY), put_u32(b, MNEMO_GGUF_STRING);
    put_u64(b, 3), put_str(b, "a"), put_u64(b, 500), put_str(b, "c");
}
static void bad_bool_element(buf *b) {
    header(b, 3, 0, 1);
    key(b, "x.flags", MNEMO_GGUF_ARRAY), put_u32(b, MNEMO_GGUF_BOOL), put_u64(b, 3);
    put_u8(b, 1), put_u8(b, 7), put_u8(b, 0);
}
static void bad_dup_key(buf *b) {
    header(b, 3, 0, 3);
    kv_u32(b, "a.b", 1);
    kv_str(b, "c", "x");
    kv_str(b, "a.b", "again");
}
static void bad_align_48(buf *b) {
    header(b, 3, 0, 1);
    kv_u32(b, "general.alignment", 48);
}
static void bad_align_0(buf *b) {
    header(b, 3, 0, 1);
    kv_u32(b, "general.alignment", 0);
}
static void bad_align_u64(buf *b) {
    header(b, 3, 0, 1);
    key(b, "general.alignment", MNEMO_GGUF_U64), put_u64(b, 32);
}
static void bad_name_past(buf *b) {
    header(b, 3, 1, 0);
    put_u64(b, 30), put(b, "blk.0.attn_q.weight", 19);
}
static void bad_name_long(buf *b) {
    header(b, 3, 1, 0);
    char name[66];
    memset(name, 'n', 65), name[65] = 0;
    tinfo(b, name, MNEMO_GGML_F32, 0, 1, (uint64_t)1);
    pad_to(b, 32), put_u32(b, 0);
}
static void bad_name_nul(buf *b) {
    header(b, 3, 1, 0);
    put_strn(b, "w\0x", 3), put_u32(b, 1), put_u64(b, 1), put_u32(b, 0), put_u64(b, 0);
    pad_to(b, 32), put_u32(b, 0);
}
static void bad_dims5(buf *b) { one_tensor(b, 0, 0, 4, 5, 1, 1, 1, 1); }
static void bad_dims_max(buf *b) { one_tensor(b, 0, 0, 4, 0xFFFFFFFFu, 1, 1, 1, 1); }
static void bad_dim0(buf *b) { one_tensor(b, 0, 0, 64, 2, 4, 0, 0, 0); }
static void bad_dim_huge(buf *b) { one_tensor(b, 0, 0, 64, 2, 4, 1ull << 63, 0, 0); }
static void bad_elements_overflow(buf *b) {
    one_tensor(b, 0, 0, 64, 3, 1ull << 32, 1ull << 32, 1ull << 32, 0);
}
static void bad_elements_over_int64(buf *b) {
    one_tensor(b, 1, 0, 64, 2, 1ull << 32, (1ull << 31) + 1, 0, 0);
}
static void bad_bytes_overflow(buf *b) { one_tensor(b, 0, 0, 64, 1, 1ull << 62, 0, 0, 0); }
static void bad_type_removed(buf *b) { one_tensor(b, 4, 0, 64, 1, 32, 0, 0, 0); }
static void bad_type_unknown(buf *b) { one_tensor(b, 1000, 0, 64, 1, 32, 0, 0, 0); }
static void bad_type_31(buf *b) { one_tensor(b, 31, 0, 64, 1, 32, 0, 0, 0); }
static void bad_q8_row(buf *b) { one_tensor(b, MNEMO_GGML_Q8_0, 0, 68, 2, 33, 2, 0, 0); }
static void bad_q4k_row(buf *b) { one_tensor(b, MNEMO_GGML_Q4_K, 0, 288, 2, 128, 2, 0, 0); }
static void bad_offset_align(buf *b) { one_tensor(b, 0, 4, 64, 1, 4, 0, 0, 0); }
static void bad_offset_past(buf *b) { one_tensor(b, 0, 64, 32, 1, 4, 0, 0, 0); }
static void bad_range_past(buf *b) { one_tensor(b, 0, 32, 40, 1, 4, 0, 0, 0); }
static void bad_offset_max(buf *b) { one_tensor(b, 0, UINT64_MAX & ~31ull, 32, 1, 4, 0, 0, 0); }
static void bad_range_huge(buf *b) { one_tensor(b, 0, 0, 32, 2, 1ull << 30, 1ull << 30, 0, 0); }
static void bad_overlap_same(buf *b) {
    header(b, 3, 2, 0);
    tinfo(b, "a", MNEMO_GGML_F32, 0, 1, (uint64_t)8);
    tinfo(b, "b", MNEMO_GGML_F16, 0, 1, (uint64_t)2);
    pad_to(b, 32);
    for (int i = 0; i < 32; i++) put_u8(b, 0);
}
static void bad_overlap_partial(buf *b) {
    header(b, 3, 2, 0);
    tinfo(b, "late", MNEMO_GGML_F32, 32, 1, (uint64_t)16);
    tinfo(b, "early", MNEMO_GGML_F32, 0, 1, (uint64_t)16);
    pad_to(b, 32);
    for (int i = 0; i < 96; i++) put_u8(b, 0);
}
static void bad_overlap_inside(buf *b) {
    /* "small" lies inside "big"; "tail" starts after small ends but still
     * inside big: only the furthest end catches it */
    header(b, 3, 3, 0);
    tinfo(b, "big", MNEMO_GGML_F32, 0, 1, (uint64_t)32);
    tinfo(b, "tail", MNEMO_GGML_F32, 96, 1, (uint64_t)8);
    tinfo(b, "small", MNEMO_GGML_F32, 32, 1, (uint64_t)8);
    pad_to(b, 32);
    for (int i = 0; i < 128; i++) put_u8(b, 0);
}
static void bad_dup_tensor(buf *b) {
    header(b, 3, 2, 0);
    tinfo(b, "token_embd.weight", MNEMO_GGML_F32, 0, 1, (uint64_t)8);
    tinfo(b, "token_embd.weight", MNEMO_GGML_F32, 32, 1, (uint64_t)8);
    pad_to(b, 32);
    for (int i = 0; i < 64; i++) put_u8(b, 0);
}
static void bad_no_data_section(buf *b) {
    header(b, 3, 1, 0);
    tinfo(b, "w", MNEMO_GGML_F32, 0, 1, (uint64_t)1);
    put_u8(b, 0); /* the padding to 32 is cut short */
}

static const bad_case bad_cases[] = {
    {"magic", bad_magic, MNEMO_EFORMAT, {"not a GGUF file", "47 47 55 58"}},
    {"short", bad_short, MNEMO_EFORMAT, {"10 bytes", "shorter than the 24-byte GGUF header"}},
    {"version 0", bad_version0, MNEMO_EFORMAT, {"version is 0"}},
    {"version 1", bad_version1, MNEMO_EUNSUPPORTED, {"GGUF version 1", "convert the model again"}},
    {"version 4", bad_version4, MNEMO_EUNSUPPORTED, {"GGUF version 4", "2 and 3"}},
    {"big-endian", bad_bigendian, MNEMO_EUNSUPPORTED, {"0x03000000", "big-endian"}},
    {"tensor count", bad_many_tensors, MNEMO_ETOOBIG, {"1048577 tensors", "at most 1048576"}},
    {"kv count", bad_many_kvs, MNEMO_ETOOBIG, {"9223372036854775808 keys"}},
    {"kv count vs bytes",
     bad_counts_vs_bytes,
     MNEMO_EFORMAT,
     {"claims 1000 keys and 0 tensors", "at least 14000 bytes"}},
    {"tensor count vs bytes",
     bad_tensor_count_vs_bytes,
     MNEMO_EFORMAT,
     {"100000 tensors", "only 800 follow"}},
    {"key length max",
     bad_key_len_max,
     MNEMO_EFORMAT,
     {"key #0", "the key is 18446744073709551615 bytes long"}},
    {"key length past",
     bad_key_len_past,
     MNEMO_EFORMAT,
     {"key #0", "the key is 20 bytes long", "only 8 bytes follow"}},
    {"key empty", bad_key_empty, MNEMO_EFORMAT, {"key #0", "the key is empty"}},
    {"key nul", bad_key_nul, MNEMO_EFORMAT, {"key #0", "NUL byte"}},
    {"key utf8", bad_key_utf8, MNEMO_EFORMAT, {"key #0", "not valid UTF-8 (byte 1)"}},
    {"key long", bad_key_long, MNEMO_EFORMAT, {"key #0", "65536 bytes", "at most 65535"}},
    {"value type", bad_value_type, MNEMO_EFORMAT, {"key \"x.y\"", "value type 13"}},
    {"value type max", bad_value_type_max, MNEMO_EFORMAT, {"key \"x.y\"", "value type 4294967295"}},
    {"bool", bad_bool, MNEMO_EFORMAT, {"key \"x.flag\"", "bool value is 2", "0 or 1"}},
    {"scalar cut", bad_scalar_cut, MNEMO_EFORMAT, {"key \"x.big\"", "the value needs 8 bytes"}},
    {"string value",
     bad_string_value,
     MNEMO_EFORMAT,
     {"key \"x.name\"", "the string value is 1000 bytes long", "only 3 bytes follow"}},
    {"string value max",
     bad_string_value_max,
     MNEMO_EFORMAT,
     {"key \"x.name\"", "18446744073709551615 bytes long"}},
    {"nested array", bad_nested, MNEMO_EUNSUPPORTED, {"key \"x.nest\"", "arrays of arrays"}},
    {"array type", bad_array_type, MNEMO_EFORMAT, {"key \"x.arr\"", "array element type 99"}},
    {"array overflow",
     bad_array_overflow,
     MNEMO_EFORMAT,
     {"key \"x.arr\"", "array of 4611686018427387904 u32 values"}},
    {"array past",
     bad_array_past,
     MNEMO_EFORMAT,
     {"key \"x.arr\"", "array of 100 u64 values", "16 left"}},
    {"array max", bad_array_max, MNEMO_EFORMAT, {"array of 18446744073709551615 u8 values"}},
    {"strings count",
     bad_strings_count,
     MNEMO_EFORMAT,
     {"key \"tokenizer.ggml.tokens\"", "array of 2305843009213693952 strings", "8 bytes for each"}},
    {"strings element",
     bad_strings_element,
     MNEMO_EFORMAT,
     {"key \"tokenizer.ggml.tokens\"", "string element 1 is 500 bytes long"}},
    {"bool element", bad_bool_element, MNEMO_EFORMAT, {"key \"x.flags\"", "bool element 1 is 7"}},
    {"duplicate key", bad_dup_key, MNEMO_EFORMAT, {"key \"a.b\"", "appears twice", "#0 and #2"}},
    {"alignment 48",
     bad_align_48,
     MNEMO_EFORMAT,
     {"key \"general.alignment\"", "is 48", "power of two"}},
    {"alignment 0", bad_align_0, MNEMO_EFORMAT, {"\"general.alignment\"", "is 0"}},
    {"alignment u64",
     bad_align_u64,
     MNEMO_EFORMAT,
     {"\"general.alignment\"", "is a u64; it must be a u32"}},
    {"name past", bad_name_past, MNEMO_EFORMAT, {"tensor #0", "the tensor name is 30 bytes long"}},
    {"name long", bad_name_long, MNEMO_EFORMAT, {"tensor #0", "65 bytes", "at most 64"}},
    {"name nul", bad_name_nul, MNEMO_EFORMAT, {"tensor #0", "NUL byte"}},
    {"dims 5", bad_dims5, MNEMO_EFORMAT, {"tensor \"w\"", "5 dimensions", "at most 4"}},
    {"dims max", bad_dims_max, MNEMO_EFORMAT, {"tensor \"w\"", "4294967295 dimensions"}},
    {"dim 0", bad_dim0, MNEMO_EFORMAT, {"tensor \"w\"", "dimension 1 is 0"}},
    {"dim huge",
     bad_dim_huge,
     MNEMO_EFORMAT,
     {"tensor \"w\"", "dimension 1 is 9223372036854775808"}},
    {"elements overflow",
     bad_elements_overflow,
     MNEMO_EFORMAT,
     {"tensor \"w\"", "{4294967296, 4294967296, 4294967296}", "overflows"}},
    {"elements over int64",
     bad_elements_over_int64,
     MNEMO_EFORMAT,
     {"tensor \"w\"", "{4294967296, 2147483649}", "overflows"}},
    {"bytes overflow",
     bad_bytes_overflow,
     MNEMO_EFORMAT,
     {"tensor \"w\"", "{4611686018427387904} of f32", "byte size overflows"}},
    {"type 4", bad_type_removed, MNEMO_EUNSUPPORTED, {"tensor \"w\"", "type 4 is not a ggml"}},
    {"type 31", bad_type_31, MNEMO_EUNSUPPORTED, {"tensor \"w\"", "type 31"}},
    {"type 1000", bad_type_unknown, MNEMO_EUNSUPPORTED, {"tensor \"w\"", "type 1000"}},
    {"q8_0 row",
     bad_q8_row,
     MNEMO_EFORMAT,
     {"tensor \"w\"", "row of 33 q8_0 elements", "32-element blocks"}},
    {"q4_K row", bad_q4k_row, MNEMO_EFORMAT, {"row of 128 q4_K elements", "256-element blocks"}},
    {"offset align",
     bad_offset_align,
     MNEMO_EFORMAT,
     {"tensor \"w\"", "data offset 4 is not a multiple of the alignment 32"}},
    {"offset past",
     bad_offset_past,
     MNEMO_EFORMAT,
     {"tensor \"w\"", "bytes [64, 64 + 16)", "past the end of the data section (32 bytes"}},
    {"range past", bad_range_past, MNEMO_EFORMAT, {"tensor \"w\"", "[32, 32 + 16)"}},
    {"offset max",
     bad_offset_max,
     MNEMO_EFORMAT,
     {"tensor \"w\"", "18446744073709551584", "past the end"}},
    {"range huge", bad_range_huge, MNEMO_EFORMAT, {"tensor \"w\"", "past the end"}},
    {"overlap same",
     bad_overlap_same,
     MNEMO_EFORMAT,
     {"tensor \"b\"", "[0, 4) of the data section overlap", "tensor \"a\" [0, 32)"}},
    {"overlap partial",
     bad_overlap_partial,
     MNEMO_EFORMAT,
     {"tensor \"late\"", "overlap", "tensor \"early\" [0, 64)"}},
    {"overlap inside",
     bad_overlap_inside,
     MNEMO_EFORMAT,
     {"tensor \"small\"", "overlap", "tensor \"big\" [0, 128)"}},
    {"duplicate tensor",
     bad_dup_tensor,
     MNEMO_EFORMAT,
     {"tensor \"token_embd.weight\"", "the name appears twice", "#0 and #1"}},
    {"no data section",
     bad_no_data_section,
     MNEMO_EFORMAT,
     {"data section should start at offset 64", "past the end of the file (58 bytes)"}},
};

static void check_refused(const buf *b, const char *what, int code, const char *const *words,
                          size_t n_words) {
    char path[300];
    tmp_path(path, sizeof path, "bad.gguf");
    test_write_file(path, b->p, b->n);
    mnemo_gguf *g = (mnemo_gguf *)1;
    mnemo_error err = {0};
    int rc = mnemo__gguf_open(path, &g, &err);
    CHECK_REFUSAL(what, rc, code, err, path, words, n_words);
    CHECKF(g == NULL, "%s: *out not NULL on failure", what);
    if (rc == MNEMO_OK) mnemo__gguf_close(g);
    /* the same from an exact-size copy, so ASan sees any read past the end */
    uint8_t *copy = malloc(b->n ? b->n : 1);
    memcpy(copy, b->p, b->n);
    int rc2 = mnemo__gguf_open_memory(copy, b->n, &g, NULL); /* err may be NULL */
    CHECKF(rc2 == code, "%s (memory): got %s", what, mnemo_status_name(rc2));
    if (rc2 == MNEMO_OK) mnemo__gguf_close(g);
    free(copy);
}

static void test_bad_files(void) {
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        buf b = {0};
        bad_cases[i].build(&b);
        check_refused(&b, bad_cases[i].what, bad_cases[i].code, bad_cases[i].words, 3);
        free(b.p);
    }
    /* files that are not there, arguments that are not right */
    mnemo_gguf *g;
    mnemo_error err;
    CHECK(mnemo__gguf_open("/nonexistent/model.gguf", &g, &err) == MNEMO_ENOENT && g == NULL);
    CHECK(strstr(err.message, "/nonexistent/model.gguf") != NULL);
    CHECK(mnemo__gguf_open(tmpdir, &g, &err) == MNEMO_EIO); /* a folder */
    CHECK(mnemo__gguf_open(NULL, &g, &err) == MNEMO_EINVAL);
    CHECK(mnemo__gguf_open("x", NULL, &err) == MNEMO_EINVAL);
    CHECK(mnemo__gguf_open_memory(NULL, 8, &g, &err) == MNEMO_EINVAL);
    CHECK(mnemo__gguf_open_memory(NULL, 0, &g, &err) == MNEMO_EFORMAT);
    mnemo__gguf_close(NULL);
    CHECK(mnemo__gguf_tensor_count(NULL) == 0 && mnemo__gguf_tensor_at(NULL, 0) == NULL &&
          mnemo__gguf_tensor_find(NULL, "x") == NULL && mnemo__gguf_kv_count(NULL) == 0 &&
          mnemo__gguf_kv_at(NULL, 0) == NULL && mnemo__gguf_kv_find(NULL, "x") == NULL);
    CHECK(strcmp(mnemo__gguf_path(NULL), "<memory>") == 0);
    CHECK(mnemo__gguf_row_f32(NULL, 0, NULL) == MNEMO_ERANGE);
}

/* Every prefix of a valid file is refused cleanly, from a file and from an
 * exact-size buffer (ASan catches any read past the end). */
static void test_truncated(void) {
    buf b = good_file(3);
    char path[300];
    tmp_path(path, sizeof path, "cut.gguf");
    size_t refused = 0;
    for (size_t cut = 0; cut < b.n; cut++) {
        test_write_file(path, b.p, cut);
        mnemo_gguf *g;
        mnemo_error err;
        int rc = mnemo__gguf_open(path, &g, &err);
        if (rc == MNEMO_OK) mnemo__gguf_close(g);
        bool named = strncmp(err.message, path, strlen(path)) == 0;
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, b.p, cut);
        int rc2 = mnemo__gguf_open_memory(copy, cut, &g, &err);
        if (rc2 == MNEMO_OK) mnemo__gguf_close(g);
        free(copy);
        if (rc == MNEMO_EFORMAT && rc2 == MNEMO_EFORMAT && named)
            refused++;
        else
            CHECKF(0, "prefix of %zu bytes: %s / %s: %s", cut, mnemo_status_name(rc),
                   mnemo_status_name(rc2), err.message);
    }
    CHECKF(refused == b.n, "%zu of %zu prefixes refused", refused, b.n);
    free(b.p);
}

/* A failed allocation at every step of an open gives ENOMEM, *out NULL and
 * no leak (LeakSanitizer in the sanitized build checks the last part). */
static void test_allocation_failures(void) {
    buf b = good_file(3);
    char path[300];
    tmp_path(path, sizeof path, "alloc.gguf");
    test_write_file(path, b.p, b.n);
    for (int from_memory = 0; from_memory < 2; from_memory++) {
        int failures = 0;
        for (int n = 1; n < 100; n++) {
            mnemo_gguf *g = (mnemo_gguf *)1;
            mnemo_error err = {0};
            mnemo__alloc_fail_after(n);
            int rc = from_memory ? mnemo__gguf_open_memory(b.p, b.n, &g, &err)
                                 : mnemo__gguf_open(path, &g, &err);
            mnemo__alloc_fail_after(0);
            if (rc == MNEMO_OK) {
                check_good(
                    g, from_memory ? b.p + good_data_offset : mnemo__gguf_tensor_at(g, 0)->data, 3);
                mnemo__gguf_close(g);
                break;
            }
            CHECKF(rc == MNEMO_ENOMEM && g == NULL && strstr(err.message, "out of memory"),
                   "failing allocation %d gave %s: %s", n, mnemo_status_name(rc), err.message);
            failures++;
        }
        /* handle, [path,] key table, tensor table, the one non-empty string
         * array, key index, tensor index, overlap order, names */
        CHECKF(failures == (from_memory ? 8 : 9), "%d failure points", failures);
    }
    free(b.p);
}

/* Hundreds of tensors and keys: every one found by name, absent names not. */
static void test_many(void) {
    enum { N = 600 };
    buf b = {0};
    header(&b, 3, N, N);
    char name[64];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "gemma-embedding.key.%d", i);
        kv_u32(&b, name, (uint32_t)i);
    }
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "blk.%d.ffn_up.weight", i);
        tinfo(&b, name, MNEMO_GGML_F32, (uint64_t)(N - 1 - i) * 32, 1, (uint64_t)1);
    }
    pad_to(&b, 32);
    for (int i = 0; i < N; i++) {
        put_f32(&b, (float)(N - 1 - i));
        pad_to(&b, 32);
    }
    mnemo_gguf *g;
    mnemo_error err;
    int rc = mnemo__gguf_open_memory(b.p, b.n - 28, &g, &err); /* the last tensor ends the data */
    CHECKF(rc == MNEMO_OK, "%s", err.message);
    if (rc == MNEMO_OK) {
        int found = 0;
        for (int i = 0; i < N; i++) {
            snprintf(name, sizeof name, "blk.%d.ffn_up.weight", i);
            const mnemo_gguf_tensor *t = mnemo__gguf_tensor_find(g, name);
            float v = -1;
            if (t && strcmp(t->name, name) == 0 && mnemo__gguf_row_f32(t, 0, &v) == MNEMO_OK &&
                v == (float)i)
                found++;
            snprintf(name, sizeof name, "blk.%d.ffn_down.weight", i);
            CHECK(mnemo__gguf_tensor_find(g, name) == NULL);
            snprintf(name, sizeof name, "gemma-embedding.key.%d", i);
            uint32_t u = 0;
            CHECK(mnemo__gguf_get_u32(g, name, &u, &err) == MNEMO_OK && u == (uint32_t)i);
        }
        CHECK(found == N);
        mnemo__gguf_close(g);
    }
    free(b.p);
}

/* ------------------------------------------------------ dequantization */

static void test_dequantize(void) {
    /* Q8_0: two blocks; d = 0.5 and d = -2^-14 (an f16 subnormal edge). */
    uint8_t q8[2 * MNEMO_Q8_0_BLOCK_BYTES];
    uint16_t d8[2] = {0x3800, 0x8400};
    for (int k = 0; k < 2; k++) {
        memcpy(q8 + k * 34, &d8[k], 2);
        for (int j = 0; j < 32; j++) q8[k * 34 + 2 + j] = (uint8_t)(int8_t)(j * 8 - 128);
    }
    float out[64];
    mnemo__dequantize_row_q8_0(q8, out, 64);
    int bad = 0;
    for (int j = 0; j < 64; j++) {
        float want = (float)(j % 32 * 8 - 128) * (j < 32 ? 0.5f : -ldexpf(1.0f, -14));
        if (f32_bits(out[j]) != f32_bits(want)) bad++;
    }
    CHECKF(bad == 0, "q8_0: %d values differ", bad);
    CHECK(out[0] == -64.0f && out[31] == 60.0f && out[32] == ldexpf(1.0f, -7));

    /* Q4_0: d = 1, byte j = j | (15 - j) << 4: elements 0..15 are j - 8,
     * elements 16..31 are 7 - j (the high nibbles, in order). */
    uint8_t q4[MNEMO_Q4_0_BLOCK_BYTES + 1];
    uint16_t one = 0x3C00;
    memcpy(q4 + 1, &one, 2); /* at an odd address: any alignment works */
    for (int j = 0; j < 16; j++) q4[1 + 2 + j] = (uint8_t)(j | (15 - j) << 4);
    mnemo__dequantize_row_q4_0(q4 + 1, out, 32);
    static const float want4[32] = {-8, -7, -6, -5, -4, -3, -2, -1, 0,  1,  2,  3,  4,  5,  6,  7,
                                    7,  6,  5,  4,  3,  2,  1,  0,  -1, -2, -3, -4, -5, -6, -7, -8};
    bad = 0;
    for (int j = 0; j < 32; j++) bad += out[j] != want4[j];
    CHECKF(bad == 0, "q4_0: %d values differ", bad);

    /* the dispatcher */
    CHECK(mnemo__ggml_to_f32(MNEMO_GGML_Q4_0, q4 + 1, 32, out) == MNEMO_OK && out[16] == 7.0f);
    CHECK(mnemo__ggml_to_f32(MNEMO_GGML_Q4_0, q4 + 1, 16, out) == MNEMO_EINVAL);
    CHECK(mnemo__ggml_to_f32(MNEMO_GGML_Q4_K, q4 + 1, 256, out) == MNEMO_EUNSUPPORTED);
    CHECK(mnemo__ggml_to_f32(4, q4 + 1, 32, out) == MNEMO_EUNSUPPORTED);
    uint16_t h[2] = {0x3C00, 0xC100};
    CHECK(mnemo__ggml_to_f32(MNEMO_GGML_F16, h, 2, out) == MNEMO_OK && out[0] == 1 &&
          out[1] == -2.5f);
    uint16_t bf[2] = {0x3F80, 0xC020};
    CHECK(mnemo__ggml_to_f32(MNEMO_GGML_BF16, bf, 2, out) == MNEMO_OK && out[0] == 1 &&
          out[1] == -2.5f);

    /* the type table, against ggml's numbers */
    CHECK(mnemo__ggml_block_size(MNEMO_GGML_Q8_0) == 32 &&
          mnemo__ggml_type_size(MNEMO_GGML_Q8_0) == 34);
    CHECK(mnemo__ggml_block_size(MNEMO_GGML_Q4_0) == 32 &&
          mnemo__ggml_type_size(MNEMO_GGML_Q4_0) == 18);
    CHECK(mnemo__ggml_block_size(MNEMO_GGML_Q4_K) == 256 &&
          mnemo__ggml_type_size(MNEMO_GGML_Q4_K) == 144);
    CHECK(mnemo__ggml_block_size(MNEMO_GGML_Q6_K) == 256 &&
          mnemo__ggml_type_size(MNEMO_GGML_Q6_K) == 210);
    CHECK(mnemo__ggml_type_size(MNEMO_GGML_BF16) == 2 &&
          mnemo__ggml_type_size(MNEMO_GGML_F32) == 4);
    CHECK(mnemo__ggml_block_size(4) == 0 && mnemo__ggml_block_size(43) == 0 &&
          mnemo__ggml_block_size(-1) == 0);
    CHECK(strcmp(mnemo__ggml_type_name(MNEMO_GGML_Q4_K), "q4_K") == 0 &&
          strcmp(mnemo__ggml_type_name(33), "?") == 0);
    CHECK(strcmp(mnemo__gguf_type_name(MNEMO_GGUF_F64), "f64") == 0 &&
          strcmp(mnemo__gguf_type_name(13), "?") == 0);
    CHECK(mnemo__ggml_type_supported(MNEMO_GGML_BF16) &&
          !mnemo__ggml_type_supported(MNEMO_GGML_Q4_1));
}

/* ------------------------------------------ a file from llama.cpp's writer */

/* tests/fixtures/gguf/ggufpy.gguf, written by gguf-py (make_fixture.py
 * there): its metadata read back, and every value of its Q8_0, Q4_0, F16 and
 * BF16 tensors equal, bit for bit, to gguf-py's own dequantization. */
static void test_ggufpy_fixture(void) {
    mnemo_gguf *g;
    mnemo_error err;
    int rc = mnemo__gguf_open(MNEMO_GGUF_FIXTURE, &g, &err);
    CHECKF(rc == MNEMO_OK, "%s", err.message);
    if (rc) return;
    CHECK(mnemo__gguf_alignment(g) == 64 && mnemo__gguf_kv_count(g) == 19 &&
          mnemo__gguf_tensor_count(g) == 9);
    mnemo_gguf_str s;
    CHECK(mnemo__gguf_get_str(g, "general.architecture", &s, &err) == MNEMO_OK &&
          mnemo__gguf_str_eq(s, "gemma-embedding"));
    CHECK(mnemo__gguf_get_str(g, "t.str", &s, &err) == MNEMO_OK &&
          mnemo__gguf_str_eq(s, "h\xc3\xa9llo \xe2\x82\xac"));
    int64_t i64;
    static const struct {
        const char *key;
        int64_t value;
    } ints[] = {{"t.u8", 200},       {"t.i8", -100},        {"t.u16", 60000},
                {"t.i16", -30000},   {"t.u32", 4000000000}, {"t.i32", -2000000000},
                {"t.i64", INT64_MIN}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        CHECKF(mnemo__gguf_get_int(g, ints[i].key, &i64, &err) == MNEMO_OK && i64 == ints[i].value,
               "%s", ints[i].key);
    const mnemo_gguf_kv *kv = mnemo__gguf_kv_find(g, "t.u64");
    CHECK(kv && kv->type == MNEMO_GGUF_U64 && kv->value.u == UINT64_MAX);
    kv = mnemo__gguf_kv_find(g, "t.f64");
    CHECK(kv && kv->type == MNEMO_GGUF_F64 && kv->value.f == 1e300);
    float f;
    CHECK(mnemo__gguf_get_f32(g, "t.f32", &f, &err) == MNEMO_OK && f == 0.1f);
    bool b;
    CHECK(mnemo__gguf_get_bool(g, "t.bool", &b, &err) == MNEMO_OK && b);
    mnemo_gguf_array a;
    CHECK(mnemo__gguf_get_strings(g, "tokenizer.ggml.tokens", &a, &err) == MNEMO_OK &&
          a.count == 5 && mnemo__gguf_str_eq(a.strings[2], "<bos>") &&
          mnemo__gguf_str_eq(a.strings[3], "\xe2\x96\x81the") && a.strings[4].len == 0);
    double d;
    CHECK(mnemo__gguf_get_numbers(g, "tokenizer.ggml.scores", &a, &err) == MNEMO_OK &&
          a.type == MNEMO_GGUF_F32 && a.count == 5 &&
          mnemo__gguf_array_f64(&a, 3, &d) == MNEMO_OK && d == -3.5);
    CHECK(mnemo__gguf_get_numbers(g, "tokenizer.ggml.token_type", &a, &err) == MNEMO_OK &&
          a.type == MNEMO_GGUF_I32 && mnemo__gguf_array_i64(&a, 0, &i64) == MNEMO_OK && i64 == 3);
    CHECK(mnemo__gguf_get_array(g, "t.arr.bool", &a, &err) == MNEMO_OK && a.count == 3 &&
          mnemo__gguf_array_i64(&a, 1, &i64) == MNEMO_OK && i64 == 0);
    CHECK(mnemo__gguf_get_array(g, "t.arr.u64", &a, &err) == MNEMO_OK &&
          mnemo__gguf_array_i64(&a, 1, &i64) == MNEMO_OK && i64 == 5);

    static const char *names[] = {"x.q8_0", "x.q4_0", "x.f16", "x.bf16"};
    static const int types[] = {MNEMO_GGML_Q8_0, MNEMO_GGML_Q4_0, MNEMO_GGML_F16, MNEMO_GGML_BF16};
    for (int k = 0; k < 4; k++) {
        char ref_name[32];
        snprintf(ref_name, sizeof ref_name, "%s.ref", names[k]);
        const mnemo_gguf_tensor *t = mnemo__gguf_tensor_find(g, names[k]);
        const mnemo_gguf_tensor *ref = mnemo__gguf_tensor_find(g, ref_name);
        CHECKF(t && ref && t->type == types[k] && t->ne[0] == 128 && t->ne[1] == 4 &&
                   ref->type == MNEMO_GGML_F32 && ref->n_elements == t->n_elements,
               "%s", names[k]);
        if (!t || !ref) continue;
        CHECK(((uintptr_t)t->data & 63) == 0); /* mapped, offsets aligned to 64 */
        int differ = 0;
        float got[128], want[128];
        for (size_t r = 0; r < 4; r++) {
            CHECK(mnemo__gguf_row_f32(t, r, got) == MNEMO_OK);
            CHECK(mnemo__gguf_row_f32(ref, r, want) == MNEMO_OK);
            for (int j = 0; j < 128; j++) differ += f32_bits(got[j]) != f32_bits(want[j]);
        }
        CHECKF(differ == 0, "%s: %d values differ from gguf-py's dequantization", names[k], differ);
    }
    mnemo__gguf_close(g);
}

/* ------------------------------------------------- the real GGUF files */

static const char *real_dir, *real_safetensors;

/* Largest |x| over a block of 32 floats, for the Q8_0 error bound. */
static float block_amax(const float *x) {
    float m = 0;
    for (int j = 0; j < 32; j++) m = fabsf(x[j]) > m ? fabsf(x[j]) : m;
    return m;
}

/* The converter's outputs; a Q4_0 file (llama-quantize, or gguf-py's
 * quantizer) is optional. Absent files are skipped. */
#define N_KINDS 6
static const char *kinds[N_KINDS] = {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_0-pure-ggufpy"};

static void test_real_files(void) {
    mnemo_gguf *files[N_KINDS] = {0};
    mnemo_error err;
    for (int k = 0; k < N_KINDS; k++) {
        char path[600];
        snprintf(path, sizeof path, "%s/embeddinggemma-300m-%s.gguf", real_dir, kinds[k]);
        if (access(path, R_OK) != 0) {
            fprintf(stderr, "  %s: absent, skipped\n", path);
            continue;
        }
        double t0 = mnemo__now();
        int rc = mnemo__gguf_open(path, &files[k], &err);
        CHECKF(rc == MNEMO_OK, "%s", err.message);
        if (rc) continue;
        mnemo_gguf *g = files[k];
        fprintf(stderr, "  %s: %zu keys, %zu tensors, opened in %.1f ms\n", path,
                mnemo__gguf_kv_count(g), mnemo__gguf_tensor_count(g), (mnemo__now() - t0) * 1e3);
        /* llama.cpp's converter: 24 layers x 13 + token_embd + output_norm + 2 Dense */
        CHECK(mnemo__gguf_tensor_count(g) == 316);
        mnemo_gguf_str arch;
        CHECK(mnemo__gguf_get_str(g, "general.architecture", &arch, &err) == MNEMO_OK &&
              mnemo__gguf_str_eq(arch, "gemma-embedding"));
        static const struct {
            const char *key;
            uint32_t value;
        } u32s[] = {{"gemma-embedding.block_count", 24},
                    {"gemma-embedding.embedding_length", 768},
                    {"gemma-embedding.feed_forward_length", 1152},
                    {"gemma-embedding.attention.head_count", 3},
                    {"gemma-embedding.attention.head_count_kv", 1},
                    {"gemma-embedding.attention.key_length", 256},
                    {"gemma-embedding.attention.sliding_window", 512},
                    {"gemma-embedding.dense_2_feat_out", 3072},
                    {"gemma-embedding.dense_3_feat_in", 3072},
                    {"gemma-embedding.pooling_type", 1},
                    {"tokenizer.ggml.bos_token_id", 2},
                    {"tokenizer.ggml.eos_token_id", 1}};
        for (size_t i = 0; i < sizeof u32s / sizeof u32s[0]; i++) {
            uint32_t v = 0;
            int r = mnemo__gguf_get_u32(g, u32s[i].key, &v, &err);
            CHECKF(r == MNEMO_OK && v == u32s[i].value, "%s: %u (%s)", u32s[i].key, v, err.message);
        }
        float f = 0;
        CHECK(mnemo__gguf_get_f32(g, "gemma-embedding.rope.freq_base", &f, &err) == MNEMO_OK &&
              f == 1e6f);
        CHECK(mnemo__gguf_get_f32(g, "gemma-embedding.rope.freq_base_swa", &f, &err) == MNEMO_OK &&
              f == 1e4f);
        CHECK(mnemo__gguf_get_f32(g, "gemma-embedding.attention.layer_norm_rms_epsilon", &f,
                                  &err) == MNEMO_OK &&
              f == 1e-6f);
        mnemo_gguf_array tokens;
        CHECK(mnemo__gguf_get_strings(g, "tokenizer.ggml.tokens", &tokens, &err) == MNEMO_OK &&
              tokens.count == 262144 && mnemo__gguf_str_eq(tokens.strings[2], "<bos>"));
        const mnemo_gguf_tensor *t;
        int64_t ne_embd[] = {768, 262144}, ne_d2[] = {768, 3072}, ne_d3[] = {3072, 768};
        rc = mnemo__gguf_tensor_expect(g, "token_embd.weight", 2, ne_embd, &t, &err);
        /* llama-quantize's default Q4_0 keeps the tied embedding in q6_K */
        CHECKF(rc == MNEMO_OK || (k >= 4 && rc == MNEMO_EUNSUPPORTED), "%s", err.message);
        CHECKF(mnemo__gguf_tensor_expect(g, "dense_2.weight", 2, ne_d2, &t, &err) == MNEMO_OK, "%s",
               err.message);
        CHECKF(mnemo__gguf_tensor_expect(g, "dense_3.weight", 2, ne_d3, &t, &err) == MNEMO_OK, "%s",
               err.message);
    }
    mnemo_gguf *ref = files[0];
    if (!ref) goto done;
    /* every tensor of every other file against the f32 file: rows 0, middle
     * and last (f16/bf16 within their rounding; q8_0 within half a step of
     * its block plus the f16 rounding of the scale) */
    float *a = NULL, *b = NULL;
    for (int k = 1; k < N_KINDS; k++) {
        if (!files[k]) continue;
        int compared = 0, worse = 0;
        for (size_t i = 0; i < mnemo__gguf_tensor_count(ref); i++) {
            const mnemo_gguf_tensor *tr = mnemo__gguf_tensor_at(ref, i);
            const mnemo_gguf_tensor *tk = mnemo__gguf_tensor_find(files[k], tr->name);
            CHECKF(tk && tk->n_dims == tr->n_dims && tk->ne[0] == tr->ne[0] &&
                       tk->ne[1] == tr->ne[1],
                   "%s: %s", kinds[k], tr->name);
            if (!tk || !mnemo__ggml_type_supported(tk->type)) continue;
            a = realloc(a, sizeof(float) * (size_t)tr->ne[0]);
            b = realloc(b, sizeof(float) * (size_t)tr->ne[0]);
            size_t rows[3] = {0, tr->n_rows / 2, tr->n_rows - 1};
            for (int r = 0; r < 3; r++) {
                CHECK(mnemo__gguf_row_f32(tr, rows[r], a) == MNEMO_OK);
                CHECK(mnemo__gguf_row_f32(tk, rows[r], b) == MNEMO_OK);
                for (size_t j = 0; j < (size_t)tr->ne[0]; j++) {
                    float tol;
                    if (tk->type == MNEMO_GGML_Q8_0)
                        tol = block_amax(a + j / 32 * 32) / 127.0f * 0.57f;
                    /* Q4_0: half a step of amax/8, a whole one at -amax (clipped) */
                    else if (tk->type == MNEMO_GGML_Q4_0)
                        tol = block_amax(a + j / 32 * 32) / 8.0f * 1.01f;
                    else if (tk->type == MNEMO_GGML_BF16)
                        tol = fabsf(a[j]) * 0x1p-8f;
                    else if (tk->type == MNEMO_GGML_F16)
                        tol = fabsf(a[j]) * 0x1p-11f + 0x1p-25f;
                    else
                        tol = 0;
                    if (fabsf(a[j] - b[j]) > tol) worse++;
                }
                compared++;
            }
        }
        fprintf(stderr, "  %s: %d rows compared with f32, %d values outside tolerance\n", kinds[k],
                compared, worse);
        CHECK((k >= 4 || compared == 316 * 3) && worse == 0);
    }
    free(a);
    free(b);

    /* Gemma norms are stored as 1 + w (the converter adds 1): compare with
     * the safetensors weights */
    if (real_safetensors) {
        mnemo_safetensors *st;
        if (mnemo__safetensors_open(real_safetensors, &st, &err) == MNEMO_OK) {
            static const char *pairs[][2] = {
                {"norm.weight", "output_norm.weight"},
                {"layers.0.input_layernorm.weight", "blk.0.attn_norm.weight"},
                {"layers.5.self_attn.q_norm.weight", "blk.5.attn_q_norm.weight"},
                {"layers.23.post_feedforward_layernorm.weight", "blk.23.post_ffw_norm.weight"}};
            for (size_t p = 0; p < 4; p++) {
                const mnemo_tensor *ts = mnemo__safetensors_find(st, pairs[p][0]);
                const mnemo_gguf_tensor *tg = mnemo__gguf_tensor_find(ref, pairs[p][1]);
                CHECKF(ts && tg && ts->n_elements == tg->n_elements, "%s", pairs[p][1]);
                if (!ts || !tg) continue;
                float w[768], g1[768];
                mnemo__safetensors_copy_f32(ts, 0, ts->n_elements, w);
                mnemo__gguf_row_f32(tg, 0, g1);
                int off = 0;
                for (size_t j = 0; j < ts->n_elements; j++) off += g1[j] != w[j] + 1.0f;
                CHECKF(off == 0, "%s: %d values are not safetensors + 1", pairs[p][1], off);
            }
            mnemo__safetensors_close(st);
        }
    }
done:
    for (int k = 0; k < N_KINDS; k++) mnemo__gguf_close(files[k]);
}

int main(int argc, char **argv) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mnemo-test-gguf-XXXXXX");
    if (!mkdtemp(tmpdir)) return 2;
    RUN(test_good_file);
    RUN(test_other_valid_files);
    RUN(test_bad_files);
    RUN(test_truncated);
    RUN(test_allocation_failures);
    RUN(test_many);
    RUN(test_dequantize);
    RUN(test_ggufpy_fixture);
    if (argc > 1 && argv[1][0]) {
        real_dir = argv[1];
        real_safetensors = argc > 2 && argv[2][0] ? argv[2] : NULL;
        RUN(test_real_files);
    } else {
        fprintf(stderr, "- test_real_files: not run (no GGUF folder given as argv[1])\n");
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return test_finish();
}
