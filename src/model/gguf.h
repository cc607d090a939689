/*
 * gguf.h — the internal interface of the GGUF reader: open a .gguf file
 * (memory-mapped) or a buffer, validate every field of its header, read its
 * typed metadata, look tensors up by name, and turn rows of F32, F16, BF16,
 * Q8_0 and Q4_0 tensors into f32. Not a writer, and not the model loader
 * (which maps GGUF names to Gemma weights).
 *
 * Format (ggml docs/gguf.md, versions 2 and 3, little-endian):
 *   "GGUF", u32 version, u64 tensor_count, u64 kv_count,
 *   kv_count x { string key, u32 value_type, value },
 *   tensor_count x { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type,
 *                    u64 offset (relative to the data section) },
 *   zero padding to general.alignment (default 32), the data section.
 * A string is u64 length + bytes (no NUL); an array is u32 element type +
 * u64 count + the elements.
 *
 * Shapes are in ggml order: ne[0] varies fastest. A PyTorch weight of shape
 * [rows, cols] (out_features, in_features) is stored with ne = {cols, rows}.
 */
#ifndef MNEMO_MODEL_GGUF_H
#define MNEMO_MODEL_GGUF_H

#include "../core/core.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- limits */

/* Limits that stop a hostile header from making us allocate absurd memory.
 * Real files are far below them (EmbeddingGemma: 316 tensors, ~40 keys). */
#define MNEMO_GGUF_MAX_TENSORS (1u << 20)
#define MNEMO_GGUF_MAX_KVS (1u << 20)
/* gguf.md: "a key must be at most 2^16-1 bytes long". */
#define MNEMO_GGUF_MAX_KEY 65535u
/* gguf.md: a tensor name "must be at most 64 bytes long". */
#define MNEMO_GGUF_MAX_NAME 64u
#define MNEMO_GGUF_MAX_DIMS 4
/* general.alignment when the file does not set it. */
#define MNEMO_GGUF_DEFAULT_ALIGNMENT 32u

/* ------------------------------------------------------------ value types */

/* Metadata value types (gguf.md gguf_metadata_value_type). */
typedef enum mnemo_gguf_type {
    MNEMO_GGUF_U8 = 0,
    MNEMO_GGUF_I8 = 1,
    MNEMO_GGUF_U16 = 2,
    MNEMO_GGUF_I16 = 3,
    MNEMO_GGUF_U32 = 4,
    MNEMO_GGUF_I32 = 5,
    MNEMO_GGUF_F32 = 6,
    MNEMO_GGUF_BOOL = 7,
    MNEMO_GGUF_STRING = 8,
    MNEMO_GGUF_ARRAY = 9,
    MNEMO_GGUF_U64 = 10,
    MNEMO_GGUF_I64 = 11,
    MNEMO_GGUF_F64 = 12
} mnemo_gguf_type;

/* "u8", "i32", "f32", "bool", "string", "array", ... ("?" when unknown). */
const char *mnemo__gguf_type_name(int type);
/* Bytes of a fixed-size value (1, 2, 4 or 8); 0 for string, array, unknown. */
size_t mnemo__gguf_value_size(int type);

/*
 * Tensor element types (ggml.h enum ggml_type; the numbers are the file's).
 * Every type below opens: its block size and bytes per block are known, so
 * its byte range is checked like any other. Only F32, F16, BF16, Q8_0 and
 * Q4_0 can be turned into f32 here (mnemo__ggml_type_supported); asking for
 * the values of another gives MNEMO_EUNSUPPORTED. Numbers with no type
 * (4, 5, 31-33, 36-38: removed from ggml; 43 and up: unknown) are refused at
 * open, because the size of such a tensor cannot be known.
 */
typedef enum mnemo_ggml_type {
    MNEMO_GGML_F32 = 0,
    MNEMO_GGML_F16 = 1,
    MNEMO_GGML_Q4_0 = 2,
    MNEMO_GGML_Q4_1 = 3,
    MNEMO_GGML_Q5_0 = 6,
    MNEMO_GGML_Q5_1 = 7,
    MNEMO_GGML_Q8_0 = 8,
    MNEMO_GGML_Q8_1 = 9,
    MNEMO_GGML_Q2_K = 10,
    MNEMO_GGML_Q3_K = 11,
    MNEMO_GGML_Q4_K = 12,
    MNEMO_GGML_Q5_K = 13,
    MNEMO_GGML_Q6_K = 14,
    MNEMO_GGML_Q8_K = 15,
    MNEMO_GGML_IQ2_XXS = 16,
    MNEMO_GGML_IQ2_XS = 17,
    MNEMO_GGML_IQ3_XXS = 18,
    MNEMO_GGML_IQ1_S = 19,
    MNEMO_GGML_IQ4_NL = 20,
    MNEMO_GGML_IQ3_S = 21,
    MNEMO_GGML_IQ2_S = 22,
    MNEMO_GGML_IQ4_XS = 23,
    MNEMO_GGML_I8 = 24,
    MNEMO_GGML_I16 = 25,
    MNEMO_GGML_I32 = 26,
    MNEMO_GGML_I64 = 27,
    MNEMO_GGML_F64 = 28,
    MNEMO_GGML_IQ1_M = 29,
    MNEMO_GGML_BF16 = 30,
    MNEMO_GGML_TQ1_0 = 34,
    MNEMO_GGML_TQ2_0 = 35,
    MNEMO_GGML_MXFP4 = 39,
    MNEMO_GGML_NVFP4 = 40,
    MNEMO_GGML_Q1_0 = 41,
    MNEMO_GGML_Q2_0 = 42
} mnemo_ggml_type;

/* Elements per block (1 for F32/F16/BF16, 32 for Q8_0/Q4_0, 256 for K
 * quants) and bytes per block; both 0 for a number with no type. */
size_t mnemo__ggml_block_size(int type);
size_t mnemo__ggml_type_size(int type);
/* ggml's name: "f32", "q8_0", "q4_K", ...; "?" for a number with no type. */
const char *mnemo__ggml_type_name(int type);
/* True for the types whose values mnemo can read: F32, F16, BF16, Q8_0, Q4_0. */
bool mnemo__ggml_type_supported(int type);

/* -------------------------------------------------------------- the file */

/* A string in the file: `len` bytes at `data`, NOT NUL-terminated (GGUF
 * strings are not), valid until the handle is closed. Print with "%.*s". */
typedef struct mnemo_gguf_str {
    const char *data;
    size_t len;
} mnemo_gguf_str;

/* True when s holds exactly the bytes of the C string c. */
bool mnemo__gguf_str_eq(mnemo_gguf_str s, const char *c);

/* An array value. Numeric and bool elements are `count` little-endian values
 * of the element type's size at `data` (byte alignment only: read them with
 * the accessors below). String elements are in `strings[0..count)`, and
 * `data` points at the first one's length prefix. */
typedef struct mnemo_gguf_array {
    mnemo_gguf_type type; /* element type; never MNEMO_GGUF_ARRAY */
    size_t count;
    const void *data;
    const mnemo_gguf_str *strings; /* STRING arrays only, else NULL */
} mnemo_gguf_array;

/* One metadata pair. Scalars are decoded at open: unsigned integers into
 * value.u, signed into value.i, f32/f64 into value.f (exact), bool into
 * value.b; strings into str; arrays into array. */
typedef struct mnemo_gguf_kv {
    const char *key; /* NUL-terminated, owned by the handle */
    mnemo_gguf_type type;
    union {
        uint64_t u;
        int64_t i;
        double f;
        bool b;
    } value;
    mnemo_gguf_str str;
    mnemo_gguf_array array;
} mnemo_gguf_kv;

typedef struct mnemo_gguf_tensor {
    const char *name;  /* NUL-terminated, owned by the handle */
    int type;          /* a mnemo_ggml_type (the file's number) */
    int n_dims;        /* 0..4 */
    int64_t ne[4];     /* ggml order, ne[0] fastest; ne[n_dims..3] are 1 */
    size_t n_elements; /* product of ne; >= 1 */
    size_t n_rows;     /* n_elements / ne[0] */
    size_t row_bytes;  /* bytes of one row of ne[0] elements */
    uint64_t offset;   /* as in the file: relative to the data section */
    /*
     * The tensor's raw bytes, inside the mapping (or the caller's buffer),
     * valid until the handle is closed; n_bytes = n_rows * row_bytes.
     * Present for every type the file may hold; only the supported ones can
     * be decoded (mnemo__gguf_row_f32). ALIGNMENT: offsets are multiples of
     * general.alignment from the data section, which starts at a multiple of
     * it from the file's first byte; a mapped file is page-aligned, so
     * `data` is aligned to general.alignment. From memory, only as aligned as
     * the caller's buffer.
     */
    const void *data;
    size_t n_bytes;
} mnemo_gguf_tensor;

typedef struct mnemo_gguf mnemo_gguf;

/*
 * Maps `path` read-only and validates its header. On success *out owns the
 * mapping and the tables; close with mnemo__gguf_close(). Read-only after
 * open: any number of threads may use the handle. Every message names the
 * file, and the key or tensor at fault. On failure *out is NULL.
 * Errors: ENOENT, EIO (cannot open/map); EFORMAT (anything malformed: bad
 * magic, truncation, a length or count that runs past the end, an unknown
 * value type, a bool other than 0/1, duplicate keys or tensor names, an
 * alignment that is not a power of two or not a u32, a dimension of 0, an
 * element count that overflows, a row not a whole number of blocks, an
 * offset not aligned or outside the data section, overlapping tensors);
 * EUNSUPPORTED (GGUF v1 or a version after 3, a big-endian file, a nested
 * array, a tensor type number ggml does not define); ETOOBIG (more than
 * MNEMO_GGUF_MAX_TENSORS tensors or MNEMO_GGUF_MAX_KVS keys); ENOMEM.
 * Also EFORMAT, as gguf.md makes them invalid: an empty key or one over
 * 65535 bytes, a tensor name over 64 bytes, a key or name with a NUL byte
 * or invalid UTF-8.
 *
 * Allowed: bytes after the last tensor and a file without tensors that
 * ends before the padding (as ggml's gguf.cpp allows them); gaps between
 * tensors and tensors in any order of offset (gguf.cpp is stricter: each
 * offset must follow the previous tensor, padded; mnemo needs only that
 * ranges are aligned, inside the data section and disjoint). Tensors of
 * types mnemo cannot decode (e.g. Q4_K) open; they fail only when their
 * values are asked for (mnemo__gguf_row_f32, mnemo__gguf_tensor_expect).
 */
int mnemo__gguf_open(const char *path, mnemo_gguf **out, mnemo_error *err);

/* As mnemo__gguf_open, over `size` bytes at `data`, which are borrowed: they
 * must outlive the handle. Messages say "<memory>" where they would name the
 * file. For tests and fuzzing. */
int mnemo__gguf_open_memory(const void *data, size_t size, mnemo_gguf **out, mnemo_error *err);

/* Unmaps and frees everything; every pointer from the handle dies. NULL is fine. */
void mnemo__gguf_close(mnemo_gguf *g);

/* The file's path, or "<memory>". Owned by the handle. */
const char *mnemo__gguf_path(const mnemo_gguf *g);
/* The format version (2 or 3). */
uint32_t mnemo__gguf_version(const mnemo_gguf *g);
/* general.alignment, or 32 when absent. */
size_t mnemo__gguf_alignment(const mnemo_gguf *g);
/* Offset of the data section from the start of the file (or buffer). */
size_t mnemo__gguf_data_offset(const mnemo_gguf *g);

/* ---------------------------------------------------------------- tensors */

/* Number of tensors. */
size_t mnemo__gguf_tensor_count(const mnemo_gguf *g);
/* The i-th tensor in file order, 0 <= i < count, or NULL. */
const mnemo_gguf_tensor *mnemo__gguf_tensor_at(const mnemo_gguf *g, size_t i);
/* The tensor named `name`, or NULL. A hash lookup: O(1). */
const mnemo_gguf_tensor *mnemo__gguf_tensor_find(const mnemo_gguf *g, const char *name);

/*
 * For loaders: finds `name` and checks that its type is one mnemo can decode
 * and that it has exactly n_dims dimensions equal to ne[0..n_dims) (ggml
 * order: an nn.Linear weight [out, in] is {in, out}). On success *out is
 * the tensor. Errors: EFORMAT (missing tensor or another shape; the message
 * names the file, the tensor, the expected and found shapes), EUNSUPPORTED
 * (a type mnemo cannot decode, named), EINVAL (n_dims outside 1..4, NULLs).
 */
int mnemo__gguf_tensor_expect(const mnemo_gguf *g, const char *name, int n_dims, const int64_t *ne,
                              const mnemo_gguf_tensor **out, mnemo_error *err);

/*
 * Converts row `row` (0 <= row < n_rows: ne[0] elements) of `t` to f32 into
 * out[0..ne[0]). Reads with memcpy, so any alignment is fine. Errors:
 * ERANGE (row out of range; nothing written), EUNSUPPORTED (a type mnemo
 * cannot decode; nothing written).
 */
int mnemo__gguf_row_f32(const mnemo_gguf_tensor *t, size_t row, float *out);

/* --------------------------------------------------------------- metadata */

/* Number of key/value pairs, and the i-th in file order (or NULL). */
size_t mnemo__gguf_kv_count(const mnemo_gguf *g);
const mnemo_gguf_kv *mnemo__gguf_kv_at(const mnemo_gguf *g, size_t i);
/* The pair whose key is `key`, or NULL. A hash lookup: O(1). */
const mnemo_gguf_kv *mnemo__gguf_kv_find(const mnemo_gguf *g, const char *key);

/*
 * Typed getters. Each returns MNEMO_OK and fills *out, MNEMO_ENOENT when the
 * key is absent, or MNEMO_EFORMAT when its value has another type (the
 * message names the file, the key, the type found and the type wanted). No
 * conversion between types happens, except in mnemo__gguf_get_int. `err`
 * may be NULL; *out is untouched on failure.
 */
int mnemo__gguf_get_str(const mnemo_gguf *g, const char *key, mnemo_gguf_str *out,
                        mnemo_error *err);
int mnemo__gguf_get_u32(const mnemo_gguf *g, const char *key, uint32_t *out, mnemo_error *err);
int mnemo__gguf_get_i32(const mnemo_gguf *g, const char *key, int32_t *out, mnemo_error *err);
int mnemo__gguf_get_f32(const mnemo_gguf *g, const char *key, float *out, mnemo_error *err);
int mnemo__gguf_get_bool(const mnemo_gguf *g, const char *key, bool *out, mnemo_error *err);
/* Any of the eight integer types, as int64; a u64 above INT64_MAX gives
 * MNEMO_ERANGE. For keys whose writers disagree on the integer width. */
int mnemo__gguf_get_int(const mnemo_gguf *g, const char *key, int64_t *out, mnemo_error *err);
/* An array of any element type. */
int mnemo__gguf_get_array(const mnemo_gguf *g, const char *key, mnemo_gguf_array *out,
                          mnemo_error *err);
/* An array whose elements are strings (EFORMAT for an array of numbers). */
int mnemo__gguf_get_strings(const mnemo_gguf *g, const char *key, mnemo_gguf_array *out,
                            mnemo_error *err);
/* An array whose elements are numbers: the integer types, f32 or f64
 * (EFORMAT for strings or bools). */
int mnemo__gguf_get_numbers(const mnemo_gguf *g, const char *key, mnemo_gguf_array *out,
                            mnemo_error *err);

/* Element i of a numeric array as a double (exact for every type except u64
 * and i64 beyond 2^53). ERANGE when i >= count; EFORMAT for string or bool
 * arrays. */
int mnemo__gguf_array_f64(const mnemo_gguf_array *a, size_t i, double *out);
/* Element i of an integer (or bool) array as int64. ERANGE when i >= count or
 * a u64 is above INT64_MAX; EFORMAT for float or string arrays. */
int mnemo__gguf_array_i64(const mnemo_gguf_array *a, size_t i, int64_t *out);

/* ------------------------------------------------------- dequantization */

/* ggml blocks: Q8_0 = f16 scale d + 32 int8 q, value q * d; Q4_0 = f16 d +
 * 16 bytes, byte j holds element j in its low nibble and element j + 16 in
 * its high nibble, value (nibble - 8) * d (ggml-quants.c
 * dequantize_row_q8_0 / dequantize_row_q4_0). */
#define MNEMO_QK8_0 32
#define MNEMO_QK4_0 32
#define MNEMO_Q8_0_BLOCK_BYTES 34
#define MNEMO_Q4_0_BLOCK_BYTES 18

/* n (a multiple of 32) elements from n/32 blocks at `src` (any alignment). */
void mnemo__dequantize_row_q8_0(const void *src, float *out, size_t n);
void mnemo__dequantize_row_q4_0(const void *src, float *out, size_t n);

/* Converts n elements of a supported type at `src` (any alignment) to f32.
 * EINVAL when n is not a multiple of the type's block size; EUNSUPPORTED for
 * a type mnemo cannot decode. */
int mnemo__ggml_to_f32(int type, const void *src, size_t n, float *out);

#endif /* MNEMO_MODEL_GGUF_H */
