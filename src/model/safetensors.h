/*
 * safetensors.h — the internal interface of the safetensors reader: open a
 * .safetensors file (memory-mapped) or a buffer, validate every field of its
 * header, and look tensors up by name. Also the bf16/f16 <-> f32 element
 * conversions. Not a writer, and not the model loader (which maps names to
 * Gemma weights): see src/model/.
 *
 * Format (https://github.com/huggingface/safetensors): an 8-byte
 * little-endian u64 N, N bytes of UTF-8 JSON mapping each tensor name to
 * {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the
 * first byte after the header) plus an optional "__metadata__" object of
 * strings, then the data region.
 */
#ifndef MNEMO_MODEL_SAFETENSORS_H
#define MNEMO_MODEL_SAFETENSORS_H

#include "../core/core.h"

#include <stddef.h>
#include <stdint.h>

/* The element types mnemo reads. Other safetensors dtypes (F64, I8, ...) are
 * refused at open with MNEMO_EUNSUPPORTED. */
typedef enum { MNEMO_DTYPE_F32 = 0, MNEMO_DTYPE_F16 = 1, MNEMO_DTYPE_BF16 = 2 } mnemo_dtype;

#define MNEMO_SAFETENSORS_MAX_DIMS 4
/* Longest tensor name accepted, in bytes (real names are < 100 bytes). */
#define MNEMO_SAFETENSORS_MAX_NAME 1024
/* Largest header accepted: the limit of the reference implementation
 * (safetensors' MAX_HEADER_SIZE = 100_000_000), so a hostile length cannot
 * make us parse gigabytes of JSON. */
#define MNEMO_SAFETENSORS_MAX_HEADER 100000000u

typedef struct mnemo_tensor {
    const char *name; /* NUL-terminated, owned by the file handle */
    mnemo_dtype dtype;
    int n_dims;        /* 0..4; 0 is a scalar (one element) */
    int64_t shape[4];  /* shape[n_dims..3] are 0 */
    size_t n_elements; /* product of the shape; may be 0 */
    /*
     * The tensor's bytes, inside the mapping (or the caller's buffer), valid
     * until the handle is closed. Little-endian elements, row-major.
     * ALIGNMENT: only byte alignment is promised. safetensors does not align
     * data (the data region starts at 8 + N and N is whatever the writer
     * chose), so a pointer is aligned only when the file's offsets happen to
     * be; never cast it to float * without checking. Read with memcpy, or use
     * mnemo__safetensors_copy_f32(). When n_bytes is 0 the pointer must not
     * be dereferenced.
     */
    const void *data;
    size_t n_bytes; /* n_elements * size of dtype */
} mnemo_tensor;

typedef struct mnemo_safetensors mnemo_safetensors;

/*
 * Maps `path` read-only and validates its header. On success *out owns the
 * mapping and the tensor table; close with mnemo__safetensors_close(). The
 * handle is read-only after open: any number of threads may use it.
 * Every message names the file (and the tensor, when one is at fault).
 * Errors: ENOENT, EIO (cannot open/map), EFORMAT (malformed header or
 * offsets), ETOOBIG (header over 100 MB), EUNSUPPORTED (a dtype other than
 * F32/F16/BF16, more than 4 dims, a name over 1024 bytes), ENOMEM.
 * On failure *out is NULL.
 *
 * Rules beyond the JSON shape: every tensor's bytes lie inside the data
 * region and are exactly n_elements * dtype size; non-empty byte ranges of
 * two tensors never overlap. Gaps between tensors and bytes after the last
 * one are allowed (the reference refuses them; nothing here depends on it).
 */
int mnemo__safetensors_open(const char *path, mnemo_safetensors **out, mnemo_error *err);

/*
 * As mnemo__safetensors_open, over `size` bytes at `data`, which are
 * borrowed: they must outlive the handle. Messages say "<memory>" where they
 * would name the file. For tests and fuzzing.
 */
int mnemo__safetensors_open_memory(const void *data, size_t size, mnemo_safetensors **out,
                                   mnemo_error *err);

/* Unmaps and frees everything; every mnemo_tensor pointer dies. NULL is fine. */
void mnemo__safetensors_close(mnemo_safetensors *st);

/* Number of tensors (the "__metadata__" entry is not one). */
size_t mnemo__safetensors_count(const mnemo_safetensors *st);

/* The i-th tensor, 0 <= i < count, or NULL. Tensors are ordered by their
 * place in the data region (begin offset, then name), not by header order. */
const mnemo_tensor *mnemo__safetensors_at(const mnemo_safetensors *st, size_t i);

/* The tensor named `name`, or NULL. A hash lookup: O(1). */
const mnemo_tensor *mnemo__safetensors_find(const mnemo_safetensors *st, const char *name);

/* The file's path, or "<memory>". Owned by the handle. */
const char *mnemo__safetensors_path(const mnemo_safetensors *st);

/*
 * For loaders: finds `name` and checks its dtype is F32, BF16 or F16 and its
 * shape is exactly shape[0..n_dims). `shape` may be NULL when n_dims is 0.
 * On success *out is the tensor. Errors: EFORMAT (missing tensor, other
 * shape; the message names the file, the tensor, the expected and the found
 * shape), EUNSUPPORTED (dtype), EINVAL (n_dims outside 0..4).
 */
int mnemo__safetensors_expect(const mnemo_safetensors *st, const char *name, int n_dims,
                              const int64_t *shape, const mnemo_tensor **out, mnemo_error *err);

/*
 * Converts elements [first, first + count) of `t` to f32 into `out`,
 * whatever the dtype; reads with memcpy, so any alignment is fine. Returns
 * MNEMO_ERANGE (nothing written) if the range is not inside the tensor.
 */
int mnemo__safetensors_copy_f32(const mnemo_tensor *t, size_t first, size_t count, float *out);

/* Bytes per element of a dtype (4, 2, 2). */
size_t mnemo__dtype_size(mnemo_dtype dtype);
/* "F32", "F16", "BF16". */
const char *mnemo__dtype_name(mnemo_dtype dtype);

/* ------------------------------------------------ element conversions
 * (bfloat16's are in core.h) */

/* IEEE 754 binary16 -> f32: exact, including subnormals, +-0, +-inf and NaN
 * (payload kept, quiet bit as given). */
float mnemo__f16_to_f32(uint16_t h);

#endif /* MNEMO_MODEL_SAFETENSORS_H */
