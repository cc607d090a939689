/*
 * test_model_safetensors.c — the safetensors reader against crafted files: a
 * good file with F32/BF16/F16 tensors of 0..4 dims read back exactly; every
 * malformed header refused with the right code and a message naming the
 * file, the tensor and the fault; every prefix of a valid file refused; a
 * failed allocation at every step of an open; the element conversions on
 * known bit patterns. With the real EmbeddingGemma model.safetensors as
 * argv[1] (optional), also that file.
 *
 * usage: test_model_safetensors [MODEL_SAFETENSORS]
 */
#include "model/safetensors.h"
#include "test.h"

#include <math.h>
#include <unistd.h>

static char tmpdir[256];

/* ------------------------------------------------------------- helpers */

typedef struct bytes {
    uint8_t *p;
    size_t n;
} bytes;

/* A safetensors file: u64 LE length of `header`, `header`, then `data`. */
static bytes make_file(const char *header, const void *data, size_t data_size) {
    size_t h = strlen(header);
    bytes b = {malloc(8 + h + data_size + 1), 8 + h + data_size};
    for (int i = 0; i < 8; i++) b.p[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memcpy(b.p + 8, header, h);
    if (data_size) memcpy(b.p + 8 + h, data, data_size);
    return b;
}

/* Raw 8-byte length followed by `rest` (for lengths that lie). */
static bytes make_raw(uint64_t n, const char *rest) {
    size_t r = strlen(rest);
    bytes b = {malloc(8 + r + 1), 8 + r};
    for (int i = 0; i < 8; i++) b.p[i] = (uint8_t)(n >> (8 * i));
    memcpy(b.p + 8, rest, r);
    return b;
}

static void tmp_path(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", tmpdir, name);
}

static uint32_t f32_bits(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}

static void put_f32(uint8_t *p, float f) { memcpy(p, &f, 4); }
static void put_u16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }

static float get_f32(const void *p) {
    float f;
    memcpy(&f, p, 4);
    return f;
}

/* ------------------------------------------------------------ the good file */

/*
 * Data region (offsets relative to its start; "cube" and "four" start at
 * offsets that are not multiples of 4, on purpose):
 *   [0,4)   scalar F32 []          3.5
 *   [4,10)  vec    BF16 [3]        1, -2.5, 0.5
 *   [10,18) mat    F16 [2,2]       1, -2.5, 65504, 2^-24
 *   [18,26) cube   F32 [1,2,1]     7, -8
 *   [26,34) four   F32 [1,1,1,2]   0.25, 1e30
 *   [34,34) empty  F16 [0,5]; empty4 BF16 [3,0,2,1]
 * The header lists them out of order, with __metadata__ in the middle.
 */
static const char *good_header =
    "{\"mat\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[10,18]},"
    "\"four\":{\"dtype\":\"F32\",\"shape\":[1,1,1,2],\"data_offsets\":[26,34]},"
    "\"scalar\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
    "\"__metadata__\":{\"format\":\"pt\",\"note\":\"test\"},"
    "\"empty\":{\"dtype\":\"F16\",\"shape\":[0,5],\"data_offsets\":[34,34]},"
    "\"vec\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[4,10]},"
    "\"empty4\":{\"dtype\":\"BF16\",\"shape\":[3,0,2,1],\"data_offsets\":[34,34]},"
    "\"cube\":{\"dtype\":\"F32\",\"shape\":[1,2,1],\"data_offsets\":[18,26]}}";

static bytes good_file(void) {
    uint8_t d[34];
    put_f32(d + 0, 3.5f);
    put_u16(d + 4, 0x3F80);
    put_u16(d + 6, 0xC020);
    put_u16(d + 8, 0x3F00);
    put_u16(d + 10, 0x3C00);
    put_u16(d + 12, 0xC100);
    put_u16(d + 14, 0x7BFF);
    put_u16(d + 16, 0x0001);
    put_f32(d + 18, 7.0f);
    put_f32(d + 22, -8.0f);
    put_f32(d + 26, 0.25f);
    put_f32(d + 30, 1e30f);
    return make_file(good_header, d, sizeof d);
}

static void check_good(const mnemo_safetensors *st, const uint8_t *data_start) {
    CHECK(mnemo__safetensors_count(st) == 7);
    /* ordered by offset, then name: scalar vec mat cube four empty empty4 */
    static const char *order[] = {"scalar", "vec", "mat", "cube", "four", "empty", "empty4"};
    for (size_t i = 0; i < 7; i++) {
        const mnemo_tensor *t = mnemo__safetensors_at(st, i);
        CHECKF(t && strcmp(t->name, order[i]) == 0, "at(%zu) is %s", i, t ? t->name : "NULL");
        CHECK(t && mnemo__safetensors_find(st, order[i]) == t);
    }
    CHECK(mnemo__safetensors_at(st, 7) == NULL);
    CHECK(mnemo__safetensors_find(st, "__metadata__") == NULL);
    CHECK(mnemo__safetensors_find(st, "nope") == NULL);
    CHECK(mnemo__safetensors_find(st, "") == NULL);

    float v[4];
    const mnemo_tensor *t = mnemo__safetensors_find(st, "scalar");
    CHECK(t && t->dtype == MNEMO_DTYPE_F32 && t->n_dims == 0 && t->n_elements == 1 &&
          t->n_bytes == 4);
    if (t) CHECK(t->data == data_start + 0 && get_f32(t->data) == 3.5f);

    t = mnemo__safetensors_find(st, "vec");
    CHECK(t && t->dtype == MNEMO_DTYPE_BF16 && t->n_dims == 1 && t->shape[0] == 3 &&
          t->shape[1] == 0 && t->n_elements == 3 && t->n_bytes == 6);
    if (t) {
        CHECK(t->data == data_start + 4);
        CHECK(mnemo__safetensors_copy_f32(t, 0, 3, v) == MNEMO_OK);
        CHECK(v[0] == 1.0f && v[1] == -2.5f && v[2] == 0.5f);
    }

    t = mnemo__safetensors_find(st, "mat");
    CHECK(t && t->dtype == MNEMO_DTYPE_F16 && t->n_dims == 2 && t->shape[0] == 2 &&
          t->shape[1] == 2 && t->n_elements == 4 && t->n_bytes == 8);
    if (t) {
        CHECK(mnemo__safetensors_copy_f32(t, 0, 4, v) == MNEMO_OK);
        CHECK(v[0] == 1.0f && v[1] == -2.5f && v[2] == 65504.0f && v[3] == ldexpf(1.0f, -24));
        CHECK(mnemo__safetensors_copy_f32(t, 3, 1, v) == MNEMO_OK && v[0] == ldexpf(1.0f, -24));
        CHECK(mnemo__safetensors_copy_f32(t, 3, 2, v) == MNEMO_ERANGE);
        CHECK(mnemo__safetensors_copy_f32(t, 5, 0, v) == MNEMO_ERANGE);
        CHECK(mnemo__safetensors_copy_f32(t, 4, 0, v) == MNEMO_OK);
    }

    t = mnemo__safetensors_find(st, "cube");
    CHECK(t && t->dtype == MNEMO_DTYPE_F32 && t->n_dims == 3 && t->shape[0] == 1 &&
          t->shape[1] == 2 && t->shape[2] == 1 && t->n_elements == 2 && t->n_bytes == 8);
    if (t) {
        CHECK(t->data == data_start + 18);
        CHECK(mnemo__safetensors_copy_f32(t, 0, 2, v) == MNEMO_OK && v[0] == 7.0f && v[1] == -8.0f);
    }

    t = mnemo__safetensors_find(st, "four");
    CHECK(t && t->n_dims == 4 && t->shape[3] == 2 && t->n_elements == 2);
    if (t) {
        CHECK(mnemo__safetensors_copy_f32(t, 0, 2, v) == MNEMO_OK);
        CHECK(f32_bits(v[0]) == f32_bits(0.25f) && f32_bits(v[1]) == f32_bits(1e30f));
    }

    t = mnemo__safetensors_find(st, "empty");
    CHECK(t && t->dtype == MNEMO_DTYPE_F16 && t->n_dims == 2 && t->shape[0] == 0 &&
          t->shape[1] == 5 && t->n_elements == 0 && t->n_bytes == 0);
    t = mnemo__safetensors_find(st, "empty4");
    CHECK(t && t->n_dims == 4 && t->n_elements == 0 && t->n_bytes == 0);
}

static void test_good_file(void) {
    bytes b = good_file();
    size_t data_at = 8 + strlen(good_header);
    char path[300];
    tmp_path(path, sizeof path, "good.safetensors");
    test_write_file(path, b.p, b.n);

    mnemo_safetensors *st = NULL;
    mnemo_error err;
    int rc = mnemo__safetensors_open(path, &st, &err);
    CHECKF(rc == MNEMO_OK, "%s", err.message);
    if (rc == MNEMO_OK) {
        CHECK(strcmp(mnemo__safetensors_path(st), path) == 0);
        const mnemo_tensor *t = mnemo__safetensors_at(st, 0);
        check_good(st, (const uint8_t *)t->data); /* "scalar" is at offset 0 */

        /* expect(): the loader's check */
        const mnemo_tensor *out = NULL;
        int64_t shape22[] = {2, 2}, shape23[] = {2, 3};
        CHECK(mnemo__safetensors_expect(st, "mat", 2, shape22, &out, &err) == MNEMO_OK &&
              out == mnemo__safetensors_find(st, "mat"));
        CHECK(mnemo__safetensors_expect(st, "scalar", 0, NULL, &out, &err) == MNEMO_OK);
        rc = mnemo__safetensors_expect(st, "mat", 2, shape23, &out, &err);
        CHECK(rc == MNEMO_EFORMAT && out == NULL);
        CHECKF(strstr(err.message, path) && strstr(err.message, "\"mat\"") &&
                   strstr(err.message, "[2, 2]") && strstr(err.message, "expected [2, 3]"),
               "%s", err.message);
        rc = mnemo__safetensors_expect(st, "mat", 1, shape22, &out, &err);
        CHECKF(rc == MNEMO_EFORMAT && strstr(err.message, "expected [2]"), "%s", err.message);
        rc = mnemo__safetensors_expect(st, "missing.weight", 2, shape22, &out, &err);
        CHECKF(rc == MNEMO_EFORMAT && strstr(err.message, path) &&
                   strstr(err.message, "\"missing.weight\"") && strstr(err.message, "not found"),
               "%s", err.message);
        CHECK(mnemo__safetensors_expect(st, "mat", 5, shape22, &out, &err) == MNEMO_EINVAL);
        CHECK(mnemo__safetensors_expect(st, "mat", 2, NULL, &out, &err) == MNEMO_EINVAL);
    }
    mnemo__safetensors_close(st);

    /* the same bytes from memory: pointers into the caller's buffer */
    rc = mnemo__safetensors_open_memory(b.p, b.n, &st, &err);
    CHECKF(rc == MNEMO_OK, "%s", err.message);
    if (rc == MNEMO_OK) {
        CHECK(strcmp(mnemo__safetensors_path(st), "<memory>") == 0);
        check_good(st, b.p + data_at);
    }
    mnemo__safetensors_close(st);
    free(b.p);
}

/* Other valid shapes of file: gaps, trailing bytes, padded header, no
 * tensors, a name of exactly the limit. */
static void test_other_valid_files(void) {
    static const char *headers[] = {
        "{}", "{\"__metadata__\":{}}",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",    /* gap before */
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}   ", /* padded, trailing */
        "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4],\"dtype\":\"F32\",\"extra\":1}}",
        /* an empty tensor inside another's range holds no bytes: no overlap */
        ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}"),
        "{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", /* empty name */
    };
    uint8_t data[16] = {0};
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        bytes b = make_file(headers[i], data, sizeof data);
        mnemo_safetensors *st;
        mnemo_error err;
        int rc = mnemo__safetensors_open_memory(b.p, b.n, &st, &err);
        CHECKF(rc == MNEMO_OK, "header %zu: %s", i, err.message);
        if (rc == MNEMO_OK) mnemo__safetensors_close(st);
        free(b.p);
    }
    /* a name of exactly MNEMO_SAFETENSORS_MAX_NAME bytes */
    char name[MNEMO_SAFETENSORS_MAX_NAME + 1], header[1200];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = 0;
    snprintf(header, sizeof header,
             "{\"%s\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", name);
    bytes b = make_file(header, data, 4);
    mnemo_safetensors *st;
    mnemo_error err;
    int rc = mnemo__safetensors_open_memory(b.p, b.n, &st, &err);
    CHECKF(rc == MNEMO_OK, "%s", err.message);
    if (rc == MNEMO_OK) {
        CHECK(mnemo__safetensors_find(st, name) != NULL);
        mnemo__safetensors_close(st);
    }
    free(b.p);
}

/* ------------------------------------------------------------ bad files */

typedef struct bad_case {
    const char *header; /* NULL: use raw */
    size_t data_size;
    int code;
    const char *words[3]; /* each must appear in the message */
} bad_case;

#define T1(dtype, shape, offsets) \
    "{\"w\":{\"dtype\":" dtype ",\"shape\":" shape ",\"data_offsets\":" offsets "}}"

static const bad_case bad_cases[] = {
    {"{\"a\": ", 0, MNEMO_EFORMAT, {"not valid JSON", "line 1"}},
    {"", 0, MNEMO_EFORMAT, {"not valid JSON"}},
    {"[1, 2]", 0, MNEMO_EFORMAT, {"must be a JSON object", "an array"}},
    {"\"w\"", 0, MNEMO_EFORMAT, {"not valid JSON"}}, /* jansson refuses non-containers */
    {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
     8,
     MNEMO_EFORMAT,
     {"not valid JSON", "duplicate"}},
    {"{\"w\xff\":{}}", 0, MNEMO_EFORMAT, {"not valid JSON"}},     /* bad UTF-8 */
    {"{\"w\\u0000x\":{}}", 0, MNEMO_EFORMAT, {"not valid JSON"}}, /* NUL in a name */
    {"{\"w\": 5}", 0, MNEMO_EFORMAT, {"tensor \"w\"", "entry must be an object", "an integer"}},
    {"{\"w\": [1]}", 0, MNEMO_EFORMAT, {"tensor \"w\"", "entry must be an object"}},
    {T1("\"I8\"", "[4]", "[0,4]"),
     4,
     MNEMO_EUNSUPPORTED,
     {"tensor \"w\"", "dtype I8 is not supported", "F32, F16 and BF16"}},
    {T1("\"F64\"", "[1]", "[0,8]"), 8, MNEMO_EUNSUPPORTED, {"tensor \"w\"", "dtype F64"}},
    {T1("\"F8_E4M3\"", "[1]", "[0,1]"), 8, MNEMO_EUNSUPPORTED, {"F8_E4M3 is not supported"}},
    {T1("\"f32\"", "[1]", "[0,4]"),
     4,
     MNEMO_EUNSUPPORTED,
     {"tensor \"w\"", "unknown dtype \"f32\"", "F32, F16 and BF16"}},
    {T1("5", "[1]", "[0,4]"), 4, MNEMO_EFORMAT, {"tensor \"w\"", "\"dtype\" must be a string"}},
    {"{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}",
     4,
     MNEMO_EFORMAT,
     {"tensor \"w\"", "\"dtype\"", "found nothing"}},
    {T1("\"F32\"", "3", "[0,4]"), 4, MNEMO_EFORMAT, {"tensor \"w\"", "\"shape\" must be an array"}},
    {"{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}",
     4,
     MNEMO_EFORMAT,
     {"tensor \"w\"", "\"shape\"", "found nothing"}},
    {T1("\"F32\"", "[-1]", "[0,4]"), 4, MNEMO_EFORMAT, {"tensor \"w\"", "shape[0] is -1"}},
    {T1("\"F32\"", "[1, 2.0]", "[0,8]"),
     8,
     MNEMO_EFORMAT,
     {"tensor \"w\"", "shape[1] must be a non-negative integer"}},
    {T1("\"F32\"", "[\"2\"]", "[0,8]"), 8, MNEMO_EFORMAT, {"shape[0]", "a string"}},
    {T1("\"F32\"", "[1,1,1,1,1]", "[0,4]"),
     4,
     MNEMO_EUNSUPPORTED,
     {"tensor \"w\"", "5 dimensions", "at most 4"}},
    {T1("\"F32\"", "[4294967296,4294967296,2]", "[0,4]"),
     4,
     MNEMO_EFORMAT,
     {"tensor \"w\"", "overflows", "[4294967296, 4294967296, 2]"}},
    /* the element count fits, the byte count does not */
    {T1("\"F32\"", "[2305843009213693952,2]", "[0,4]"), 4, MNEMO_EFORMAT, {"overflows"}},
    /* the reference multiplies left to right and refuses this too */
    {T1("\"BF16\"", "[4294967296,4294967296,0]", "[0,0]"), 0, MNEMO_EFORMAT, {"overflows"}},
    {T1("\"F32\"", "[9223372036854775807,9223372036854775807]", "[0,4]"),
     4,
     MNEMO_EFORMAT,
     {"overflows"}},
    {T1("\"F32\"", "[99999999999999999999]", "[0,4]"), 4, MNEMO_EFORMAT, {"not valid JSON"}},
    {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}",
     4,
     MNEMO_EFORMAT,
     {"tensor \"w\"", "\"data_offsets\" must be two", "found nothing"}},
    {T1("\"F32\"", "[1]", "[0]"),
     4,
     MNEMO_EFORMAT,
     {"\"data_offsets\" must be two", "another length"}},
    {T1("\"F32\"", "[1]", "[0,4,8]"), 8, MNEMO_EFORMAT, {"\"data_offsets\" must be two"}},
    {T1("\"F32\"", "[1]", "{}"), 4, MNEMO_EFORMAT, {"\"data_offsets\" must be two", "an object"}},
    {T1("\"F32\"", "[1]", "[0,\"4\"]"),
     4,
     MNEMO_EFORMAT,
     {"tensor \"w\"", "data_offsets[1]", "a string"}},
    {T1("\"F32\"", "[1]", "[-4,0]"), 4, MNEMO_EFORMAT, {"data_offsets[0]", "negative"}},
    {T1("\"F32\"", "[1]", "[0.0,4]"), 4, MNEMO_EFORMAT, {"data_offsets[0]"}},
    {T1("\"F32\"", "[0]", "[8,4]"), 8, MNEMO_EFORMAT, {"tensor \"w\"", "begin is after end"}},
    {T1("\"F32\"", "[2]", "[0,8]"),
     4,
     MNEMO_EFORMAT,
     {"tensor \"w\"", "end 8 is past the end of the data region (4 bytes)"}},
    {T1("\"F32\"", "[0]", "[5,5]"), 4, MNEMO_EFORMAT, {"past the end of the data region"}},
    {T1("\"F32\"", "[1]", "[0,18446744073709551615]"), 4, MNEMO_EFORMAT, {"not valid JSON"}},
    {T1("\"F32\"", "[1]", "[0,9223372036854775807]"), 4, MNEMO_EFORMAT, {"past the end"}},
    {T1("\"F32\"", "[2]", "[0,4]"),
     4,
     MNEMO_EFORMAT,
     {"tensor \"w\"", "[0, 4] hold 4 bytes", "shape [2] of F32 needs 8 bytes"}},
    {T1("\"BF16\"", "[2]", "[0,8]"), 8, MNEMO_EFORMAT, {"hold 8 bytes", "BF16 needs 4 bytes"}},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
     12,
     MNEMO_EFORMAT,
     {"tensor \"b\"", "overlap", "tensor \"a\" [0, 8]"}},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
     "\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[0,8]}}",
     8,
     MNEMO_EFORMAT,
     {"overlap"}},
    /* b lies inside big; c starts after b ends but still inside big */
    {"{\"big\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
     "\"c\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
     16,
     MNEMO_EFORMAT,
     {"overlap", "tensor \"big\""}},
    {"{\"__metadata__\":[1]}", 0, MNEMO_EFORMAT, {"\"__metadata__\" must be an object of strings"}},
    {"{\"__metadata__\":{\"format\":\"pt\",\"k\":1}}",
     0,
     MNEMO_EFORMAT,
     {"__metadata__[\"k\"] must be a string", "an integer"}},
};

static const struct {
    uint64_t n;
    const char *rest;
    size_t size; /* bytes of the file to use; 0 = 8 + strlen(rest) */
    int code;
    const char *words[2];
} raw_cases[] = {
    {0, "", 5, MNEMO_EFORMAT, {"5 bytes", "shorter than the 8-byte header length"}},
    {0, "", 0, MNEMO_EFORMAT, {"not valid JSON"}},
    {100000001, "{}", 0, MNEMO_ETOOBIG, {"100000001 bytes", "over the limit"}},
    {UINT64_MAX, "{}", 0, MNEMO_ETOOBIG, {"18446744073709551615", "over the limit"}},
    {50,
     "{\"a\":{\"dtype\":\"F32\"}}",
     0,
     MNEMO_EFORMAT,
     {"header length 50 runs past the end of the file"}},
    {3, "{}", 0, MNEMO_EFORMAT, {"header length 3 runs past the end of the file (10 bytes)"}},
};

static void check_refused(const bytes *b, const char *what, int code, const char *const *words,
                          size_t n_words) {
    char path[300];
    tmp_path(path, sizeof path, "bad.safetensors");
    test_write_file(path, b->p, b->n);
    mnemo_safetensors *st = (mnemo_safetensors *)1;
    mnemo_error err = {0};
    int rc = mnemo__safetensors_open(path, &st, &err);
    CHECK_REFUSAL(what, rc, code, err, path, words, n_words);
    CHECKF(st == NULL, "%s: *out not NULL on failure", what);
    if (rc == MNEMO_OK) mnemo__safetensors_close(st);
    /* the same from memory, with an exact-size copy so ASan sees any overread */
    uint8_t *copy = malloc(b->n ? b->n : 1);
    memcpy(copy, b->p, b->n);
    int rc2 = mnemo__safetensors_open_memory(copy, b->n, &st, NULL); /* err may be NULL */
    CHECKF(rc2 == code, "%s (memory): got %s", what, mnemo_status_name(rc2));
    if (rc2 == MNEMO_OK) mnemo__safetensors_close(st);
    free(copy);
}

static void test_bad_files(void) {
    uint8_t zeros[64] = {0};
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *c = &bad_cases[i];
        bytes b = make_file(c->header, zeros, c->data_size);
        char what[64];
        snprintf(what, sizeof what, "bad_cases[%zu]", i);
        check_refused(&b, what, c->code, c->words, 3);
        free(b.p);
    }
    for (size_t i = 0; i < sizeof raw_cases / sizeof raw_cases[0]; i++) {
        bytes b = make_raw(raw_cases[i].n, raw_cases[i].rest);
        if (raw_cases[i].size) b.n = raw_cases[i].size;
        char what[64];
        snprintf(what, sizeof what, "raw_cases[%zu]", i);
        check_refused(&b, what, raw_cases[i].code, raw_cases[i].words, 2);
        free(b.p);
    }
    /* a name one byte over the limit */
    char name[MNEMO_SAFETENSORS_MAX_NAME + 2], header[1200];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = 0;
    snprintf(header, sizeof header,
             "{\"%s\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", name);
    bytes b = make_file(header, zeros, 4);
    const char *words[] = {"1025 bytes", "at most 1024"};
    check_refused(&b, "long name", MNEMO_EUNSUPPORTED, words, 2);
    free(b.p);

    /* files that are not there, arguments that are not right */
    mnemo_safetensors *st;
    mnemo_error err;
    CHECK(mnemo__safetensors_open("/nonexistent/model.safetensors", &st, &err) == MNEMO_ENOENT);
    CHECK(strstr(err.message, "/nonexistent/model.safetensors") != NULL);
    CHECK(mnemo__safetensors_open(tmpdir, &st, &err) == MNEMO_EIO); /* a folder */
    CHECK(mnemo__safetensors_open(NULL, &st, &err) == MNEMO_EINVAL);
    CHECK(mnemo__safetensors_open_memory(NULL, 8, &st, &err) == MNEMO_EINVAL);
    CHECK(mnemo__safetensors_open_memory(NULL, 0, &st, &err) == MNEMO_EFORMAT);
    mnemo__safetensors_close(NULL);
    CHECK(mnemo__safetensors_count(NULL) == 0 && mnemo__safetensors_at(NULL, 0) == NULL &&
          mnemo__safetensors_find(NULL, "x") == NULL);
}

/* Every prefix of a valid file is refused cleanly (from a file and from an
 * exact-size buffer, so ASan catches any read past the end). */
static void test_truncated(void) {
    bytes b = good_file();
    char path[300];
    tmp_path(path, sizeof path, "cut.safetensors");
    size_t refused = 0;
    for (size_t cut = 0; cut < b.n; cut++) {
        bytes part = {b.p, cut};
        test_write_file(path, part.p, part.n);
        mnemo_safetensors *st;
        mnemo_error err;
        int rc = mnemo__safetensors_open(path, &st, &err);
        if (rc == MNEMO_OK) mnemo__safetensors_close(st);
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, b.p, cut);
        int rc2 = mnemo__safetensors_open_memory(copy, cut, &st, &err);
        if (rc2 == MNEMO_OK) mnemo__safetensors_close(st);
        free(copy);
        if (rc == MNEMO_EFORMAT && rc2 == MNEMO_EFORMAT)
            refused++;
        else
            CHECKF(0, "prefix of %zu bytes: %s / %s", cut, mnemo_status_name(rc),
                   mnemo_status_name(rc2));
    }
    CHECKF(refused == b.n, "%zu of %zu prefixes refused", refused, b.n);
    free(b.p);
}

/* A failed allocation at every step of an open gives ENOMEM and leaks
 * nothing (the sanitized build's LeakSanitizer checks the second part). */
static void test_allocation_failures(void) {
    bytes b = good_file();
    char path[300];
    tmp_path(path, sizeof path, "alloc.safetensors");
    test_write_file(path, b.p, b.n);
    for (int from_memory = 0; from_memory < 2; from_memory++) {
        int failures = 0, n;
        for (n = 1; n < 100; n++) {
            mnemo_safetensors *st = NULL;
            mnemo_error err = {0};
            mnemo__alloc_fail_after(n);
            int rc = from_memory ? mnemo__safetensors_open_memory(b.p, b.n, &st, &err)
                                 : mnemo__safetensors_open(path, &st, &err);
            mnemo__alloc_fail_after(0);
            if (rc == MNEMO_OK) {
                check_good(st, from_memory ? b.p + 8 + strlen(good_header)
                                           : mnemo__safetensors_at(st, 0)->data);
                mnemo__safetensors_close(st);
                break;
            }
            CHECKF(rc == MNEMO_ENOMEM && st == NULL && strstr(err.message, "out of memory"),
                   "failing allocation %d gave %s: %s", n, mnemo_status_name(rc), err.message);
            failures++;
        }
        /* file: handle, path, table, names, index; memory: no path */
        CHECKF(failures == (from_memory ? 4 : 5), "%d failure points", failures);
    }
    free(b.p);
}

/* Hundreds of tensors: every one found by name, absent names not. */
static void test_many_tensors(void) {
    enum { N = 600 };
    size_t cap = (size_t)N * 100 + 16, at = 0;
    char *header = malloc(cap);
    at += (size_t)snprintf(header + at, cap - at, "{");
    for (int i = 0; i < N; i++)
        at +=
            (size_t)snprintf(header + at, cap - at,
                             "%s\"layers.%d.mlp.up_proj.weight\":{\"dtype\":\"F32\",\"shape\":[1],"
                             "\"data_offsets\":[%d,%d]}",
                             i ? "," : "", i, 4 * (N - 1 - i), 4 * (N - i));
    snprintf(header + at, cap - at, "}");
    float *data = malloc(N * sizeof(float));
    for (int i = 0; i < N; i++) data[N - 1 - i] = (float)i;
    bytes b = make_file(header, data, N * sizeof(float));
    mnemo_safetensors *st;
    mnemo_error err;
    int rc = mnemo__safetensors_open_memory(b.p, b.n, &st, &err);
    CHECKF(rc == MNEMO_OK, "%s", err.message);
    if (rc == MNEMO_OK) {
        CHECK(mnemo__safetensors_count(st) == N);
        int found = 0;
        for (int i = 0; i < N; i++) {
            char name[64];
            snprintf(name, sizeof name, "layers.%d.mlp.up_proj.weight", i);
            const mnemo_tensor *t = mnemo__safetensors_find(st, name);
            if (t && strcmp(t->name, name) == 0 && get_f32(t->data) == (float)i) found++;
            snprintf(name, sizeof name, "layers.%d.mlp.down_proj.weight", i);
            CHECK(mnemo__safetensors_find(st, name) == NULL);
        }
        CHECK(found == N);
        /* at() follows the data region: the last-listed tensor comes first */
        CHECK(strcmp(mnemo__safetensors_at(st, 0)->name, "layers.599.mlp.up_proj.weight") == 0);
        mnemo__safetensors_close(st);
    }
    free(b.p);
    free(data);
    free(header);
}

/* ------------------------------------------------------------ conversions */

static float from_bits(uint32_t b) {
    float f;
    memcpy(&f, &b, 4);
    return f;
}

static void test_conversions(void) {
    /* f16 */
    CHECK(mnemo__f16_to_f32(0x3C00) == 1.0f);
    CHECK(mnemo__f16_to_f32(0xC100) == -2.5f);
    CHECK(mnemo__f16_to_f32(0x7BFF) == 65504.0f);
    CHECK(mnemo__f16_to_f32(0x0001) == ldexpf(1.0f, -24)); /* smallest subnormal */
    CHECK(mnemo__f16_to_f32(0x8001) == -ldexpf(1.0f, -24));
    CHECK(mnemo__f16_to_f32(0x03FF) == 1023.0f * ldexpf(1.0f, -24)); /* largest subnormal */
    CHECK(mnemo__f16_to_f32(0x0200) == ldexpf(1.0f, -15));
    CHECK(mnemo__f16_to_f32(0x0400) == ldexpf(1.0f, -14)); /* smallest normal */
    CHECK(f32_bits(mnemo__f16_to_f32(0x0000)) == 0x00000000u);
    CHECK(f32_bits(mnemo__f16_to_f32(0x8000)) == 0x80000000u); /* -0 keeps its sign */
    CHECK(isinf(mnemo__f16_to_f32(0x7C00)) && mnemo__f16_to_f32(0x7C00) > 0);
    CHECK(isinf(mnemo__f16_to_f32(0xFC00)) && mnemo__f16_to_f32(0xFC00) < 0);
    CHECK(isnan(mnemo__f16_to_f32(0x7E00)));
    CHECK(isnan(mnemo__f16_to_f32(0x7C01))); /* signalling NaN stays NaN */
    CHECK(f32_bits(mnemo__f16_to_f32(0xFE00)) == 0xFFC00000u);
    /* every finite f16 agrees with the arithmetic definition */
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        uint32_t e = (h >> 10) & 0x1F, m = h & 0x3FF;
        if (e == 0x1F) continue;
        float want = e ? ldexpf(1.0f + (float)m / 1024.0f, (int)e - 15) : ldexpf((float)m, -24);
        if (h & 0x8000) want = -want;
        if (f32_bits(mnemo__f16_to_f32((uint16_t)h)) != f32_bits(want)) bad++;
    }
    CHECKF(bad == 0, "%d f16 values differ", bad);

    /* bf16 -> f32 */
    CHECK(mnemo__bf16_to_f32(0x3F80) == 1.0f);
    CHECK(mnemo__bf16_to_f32(0xC020) == -2.5f);
    CHECK(mnemo__bf16_to_f32(0x0001) == ldexpf(1.0f, -133)); /* smallest subnormal */
    CHECK(mnemo__bf16_to_f32(0x7F7F) == from_bits(0x7F7F0000u));
    CHECK(isinf(mnemo__bf16_to_f32(0x7F80)) && isinf(mnemo__bf16_to_f32(0xFF80)));
    CHECK(isnan(mnemo__bf16_to_f32(0x7FC0)));

    /* f32 -> bf16, round to nearest, ties to even */
    CHECK(mnemo__f32_to_bf16(1.0f) == 0x3F80);
    CHECK(mnemo__f32_to_bf16(-2.5f) == 0xC020);
    CHECK(mnemo__f32_to_bf16(65504.0f) == 0x4780);               /* 0x477FE000 rounds up: 65536 */
    CHECK(mnemo__f32_to_bf16(from_bits(0x3F808000u)) == 0x3F80); /* tie, even below */
    CHECK(mnemo__f32_to_bf16(from_bits(0x3F818000u)) == 0x3F82); /* tie, even above */
    CHECK(mnemo__f32_to_bf16(from_bits(0x3F808001u)) == 0x3F81); /* just over the tie */
    CHECK(mnemo__f32_to_bf16(from_bits(0x3F807FFFu)) == 0x3F80); /* just under */
    CHECK(mnemo__f32_to_bf16(from_bits(0xBF818000u)) == 0xBF82); /* negative tie */
    CHECK(mnemo__f32_to_bf16(from_bits(0x00000001u)) == 0x0000); /* tiny subnormal -> 0 */
    CHECK(mnemo__f32_to_bf16(from_bits(0x00008000u)) == 0x0000); /* tie to even 0 */
    CHECK(mnemo__f32_to_bf16(from_bits(0x00018000u)) == 0x0002);
    CHECK(mnemo__f32_to_bf16(from_bits(0x7F7FFFFFu)) == 0x7F80); /* FLT_MAX -> inf */
    CHECK(mnemo__f32_to_bf16(from_bits(0x7F7F7FFFu)) == 0x7F7F);
    CHECK(mnemo__f32_to_bf16(INFINITY) == 0x7F80 && mnemo__f32_to_bf16(-INFINITY) == 0xFF80);
    CHECK(mnemo__f32_to_bf16(-0.0f) == 0x8000);
    uint16_t n1 = mnemo__f32_to_bf16(from_bits(0x7F800001u)); /* NaN in the low bits only */
    CHECK((n1 & 0x7F80) == 0x7F80 && (n1 & 0x7F) != 0);
    CHECK(mnemo__f32_to_bf16(NAN) == 0x7FC0);
    CHECK((mnemo__f32_to_bf16(from_bits(0xFFC00000u)) & 0x8000) != 0);
    /* round trip of every bf16 that is not NaN */
    bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7F80) == 0x7F80 && (h & 0x7F)) continue;
        if (mnemo__f32_to_bf16(mnemo__bf16_to_f32((uint16_t)h)) != h) bad++;
    }
    CHECKF(bad == 0, "%d bf16 values do not round-trip", bad);
}

/* ------------------------------------------------------------ the real model */

static const char *real_model;

static void test_real_model(void) {
    mnemo_safetensors *st;
    mnemo_error err;
    double t0 = mnemo__now();
    int rc = mnemo__safetensors_open(real_model, &st, &err);
    double ms = (mnemo__now() - t0) * 1e3;
    CHECKF(rc == MNEMO_OK, "%s", err.message);
    if (rc) return;
    fprintf(stderr, "  opened %s: %zu tensors in %.1f ms\n", real_model,
            mnemo__safetensors_count(st), ms);
    /* google/embeddinggemma-300m: 24 layers x 13 tensors + embed_tokens + norm */
    CHECK(mnemo__safetensors_count(st) == 314);
    const mnemo_tensor *t;
    int64_t shape[] = {262144, 768};
    rc = mnemo__safetensors_expect(st, "embed_tokens.weight", 2, shape, &t, &err);
    CHECKF(rc == MNEMO_OK, "%s", err.message);
    if (rc == MNEMO_OK) {
        CHECK(t->dtype == MNEMO_DTYPE_F32 && t->n_elements == 262144u * 768u &&
              t->n_bytes == 805306368u);
        /* values read with Python's struct from the file */
        float v;
        mnemo__safetensors_copy_f32(t, 0, 1, &v);
        CHECKF(f32_bits(v) == 0x3da5875fu, "%08x", f32_bits(v));
        mnemo__safetensors_copy_f32(t, t->n_elements - 1, 1, &v);
        CHECKF(f32_bits(v) == 0x3ca2c786u, "%08x", f32_bits(v));
    }
    int64_t norm_shape[] = {768};
    rc = mnemo__safetensors_expect(st, "norm.weight", 1, norm_shape, &t, &err);
    CHECKF(rc == MNEMO_OK, "%s", err.message);
    if (rc == MNEMO_OK) {
        float v;
        mnemo__safetensors_copy_f32(t, 0, 1, &v);
        CHECKF(f32_bits(v) == 0x42041346u, "%08x", f32_bits(v));
    }
    int64_t transposed[] = {768, 262144};
    rc = mnemo__safetensors_expect(st, "embed_tokens.weight", 2, transposed, &t, &err);
    CHECKF(rc == MNEMO_EFORMAT &&
               strstr(err.message, "[262144, 768] (F32); expected [768, 262144]"),
           "%s", err.message);
    size_t n_f32 = 0;
    for (size_t i = 0; i < mnemo__safetensors_count(st); i++)
        n_f32 += mnemo__safetensors_at(st, i)->dtype == MNEMO_DTYPE_F32;
    CHECK(n_f32 == 314);
    mnemo__safetensors_close(st);
}

int main(int argc, char **argv) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mnemo-test-st-XXXXXX");
    if (!mkdtemp(tmpdir)) return 2;
    RUN(test_good_file);
    RUN(test_other_valid_files);
    RUN(test_bad_files);
    RUN(test_truncated);
    RUN(test_allocation_failures);
    RUN(test_many_tensors);
    RUN(test_conversions);
    if (argc > 1 && argv[1][0]) {
        real_model = argv[1];
        RUN(test_real_model);
    } else {
        fprintf(stderr, "- test_real_model: not run (no model.safetensors given as argv[1])\n");
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return test_finish();
}
