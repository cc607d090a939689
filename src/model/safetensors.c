/*
 * safetensors.c — reads .safetensors files: maps the file, checks every field
 * of the JSON header (jansson) and every byte range against the data region,
 * and keeps a tensor table with a hash index by name. Also the bf16/f16/f32
 * element conversions. Not a writer; no dtype beyond F32/F16/BF16.
 *
 * Nothing from the file is trusted: lengths and offsets go through
 * overflow-checked arithmetic and are compared with the mapped size before
 * any pointer is formed: a file is untrusted input.
 */
#include "safetensors.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; a big-endian host needs byte swaps here"
#endif

struct mnemo_safetensors {
    mnemo_file_map map;    /* zero when opened from memory */
    char *path;            /* NULL when opened from memory */
    mnemo_tensor *tensors; /* ordered by data offset */
    size_t count;
    char *names;     /* every name, NUL-terminated, in one block */
    uint32_t *slots; /* open addressing: tensor index + 1, 0 = empty */
    size_t slot_mask;
};

#define MEMORY_SOURCE "<memory>"
#define SUPPORTED_DTYPES "F32, F16 and BF16"
/* Hash seed for the name index; any constant works. */
#define NAME_SEED 0x5afe7e2503ull

/* The other dtypes of the format (safetensors' Dtype enum), so a message can
 * say "not supported" rather than "unknown". */
static const char *const other_dtypes[] = {
    "BOOL", "U8",      "I8",      "I16",     "U16", "I32",     "U32",     "I64", "U64",
    "F64",  "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4",  "F6_E2M3", "F6_E3M2", "C64"};

typedef struct parse_ctx {
    const char *source; /* path or "<memory>", for messages */
    mnemo_error *err;
    const uint8_t *data; /* first byte of the data region */
    size_t data_size;
} parse_ctx;

/* ------------------------------------------------------------- helpers */

size_t mnemo__dtype_size(mnemo_dtype dtype) { return dtype == MNEMO_DTYPE_F32 ? 4 : 2; }

const char *mnemo__dtype_name(mnemo_dtype dtype) {
    switch (dtype) {
    case MNEMO_DTYPE_F32: return "F32";
    case MNEMO_DTYPE_F16: return "F16";
    case MNEMO_DTYPE_BF16: return "BF16";
    }
    return "?";
}

static const char *type_name(const json_t *v) {
    if (!v) return "nothing";
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number with a fraction or exponent";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

/* Fails with "<source>: tensor "<name>": <what>" (or "<source>: <what>"). */
static int fail_at(const parse_ctx *c, const char *tensor, int code, const char *fmt, ...)
    MNEMO_PRINTF(4, 5);
static int fail_at(const parse_ctx *c, const char *tensor, int code, const char *fmt, ...) {
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (tensor)
        return mnemo__fail(c->err, code, "%s: tensor \"%.120s\": %s", c->source, tensor, what);
    return mnemo__fail(c->err, code, "%s: %s", c->source, what);
}

/* "[262144, 768]" */
static const char *format_shape(char *buf, size_t cap, int n_dims, const int64_t *shape) {
    size_t at = 0;
    at += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < n_dims && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (at < cap) snprintf(buf + at, cap - at, "]");
    return buf;
}

static uint64_t read_le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* ------------------------------------------------------- one entry */

static int parse_dtype(const parse_ctx *c, const char *name, const json_t *entry,
                       mnemo_dtype *dtype) {
    json_t *v = json_object_get(entry, "dtype");
    if (!json_is_string(v))
        return fail_at(c, name, MNEMO_EFORMAT,
                       "\"dtype\" must be a string such as \"F32\" (found %s)", type_name(v));
    const char *s = json_string_value(v);
    if (strcmp(s, "F32") == 0)
        *dtype = MNEMO_DTYPE_F32;
    else if (strcmp(s, "F16") == 0)
        *dtype = MNEMO_DTYPE_F16;
    else if (strcmp(s, "BF16") == 0)
        *dtype = MNEMO_DTYPE_BF16;
    else {
        for (size_t i = 0; i < sizeof other_dtypes / sizeof other_dtypes[0]; i++)
            if (strcmp(s, other_dtypes[i]) == 0)
                return fail_at(c, name, MNEMO_EUNSUPPORTED,
                               "dtype %s is not supported; mnemo reads " SUPPORTED_DTYPES
                               " (convert the model, e.g. with torch .float())",
                               s);
        return fail_at(c, name, MNEMO_EUNSUPPORTED,
                       "unknown dtype \"%.40s\"; mnemo reads " SUPPORTED_DTYPES, s);
    }
    return MNEMO_OK;
}

static int parse_shape(const parse_ctx *c, const char *name, const json_t *entry, mnemo_tensor *t) {
    json_t *v = json_object_get(entry, "shape");
    if (!json_is_array(v))
        return fail_at(c, name, MNEMO_EFORMAT,
                       "\"shape\" must be an array of non-negative integers (found %s)",
                       type_name(v));
    size_t n = json_array_size(v);
    if (n > MNEMO_SAFETENSORS_MAX_DIMS)
        return fail_at(c, name, MNEMO_EUNSUPPORTED,
                       "shape has %zu dimensions; at most %d are supported", n,
                       MNEMO_SAFETENSORS_MAX_DIMS);
    size_t count = 1;
    bool overflow = false;
    for (size_t i = 0; i < n; i++) {
        json_t *d = json_array_get(v, i);
        if (!json_is_integer(d))
            return fail_at(c, name, MNEMO_EFORMAT,
                           "shape[%zu] must be a non-negative integer (found %s)", i, type_name(d));
        json_int_t x = json_integer_value(d);
        if (x < 0)
            return fail_at(c, name, MNEMO_EFORMAT,
                           "shape[%zu] is %lld; dimensions must be non-negative integers", i,
                           (long long)x);
        t->shape[i] = (int64_t)x;
        /* Keep checking every dimension (a later 0 does not excuse an
         * overflow: the product is taken left to right). */
        if ((unsigned long long)x > SIZE_MAX || !mnemo__mul_size(count, (size_t)x, &count))
            overflow = true;
    }
    t->n_dims = (int)n;
    char buf[128];
    if (overflow || !mnemo__mul_size(count, mnemo__dtype_size(t->dtype), &t->n_bytes))
        return fail_at(c, name, MNEMO_EFORMAT,
                       "shape %s has too many elements: the element count overflows",
                       format_shape(buf, sizeof buf, t->n_dims, t->shape));
    t->n_elements = count;
    return MNEMO_OK;
}

static int parse_offsets(const parse_ctx *c, const char *name, const json_t *entry,
                         mnemo_tensor *t) {
    json_t *v = json_object_get(entry, "data_offsets");
    if (!json_is_array(v) || json_array_size(v) != 2)
        return fail_at(c, name, MNEMO_EFORMAT,
                       "\"data_offsets\" must be two non-negative integers [begin, end] "
                       "(found %s%s)",
                       type_name(v), json_is_array(v) ? " of another length" : "");
    json_t *b = json_array_get(v, 0), *e = json_array_get(v, 1);
    for (int k = 0; k < 2; k++) {
        json_t *x = k ? e : b;
        if (!json_is_integer(x) || json_integer_value(x) < 0)
            return fail_at(c, name, MNEMO_EFORMAT,
                           "data_offsets[%d] must be a non-negative integer (found %s)", k,
                           json_is_integer(x) ? "a negative integer" : type_name(x));
    }
    uint64_t begin = (uint64_t)json_integer_value(b), end = (uint64_t)json_integer_value(e);
    if (begin > end)
        return fail_at(c, name, MNEMO_EFORMAT, "data_offsets [%llu, %llu]: begin is after end",
                       (unsigned long long)begin, (unsigned long long)end);
    if (end > c->data_size)
        return fail_at(c, name, MNEMO_EFORMAT,
                       "data_offsets end %llu is past the end of the data region (%zu bytes): "
                       "the file is truncated or its offsets are wrong",
                       (unsigned long long)end, c->data_size);
    if (end - begin != t->n_bytes) {
        char buf[128];
        return fail_at(c, name, MNEMO_EFORMAT,
                       "data_offsets [%llu, %llu] hold %llu bytes, but shape %s of %s needs "
                       "%zu bytes",
                       (unsigned long long)begin, (unsigned long long)end,
                       (unsigned long long)(end - begin),
                       format_shape(buf, sizeof buf, t->n_dims, t->shape),
                       mnemo__dtype_name(t->dtype), t->n_bytes);
    }
    /* begin <= end <= data_size: the pointer is inside (or one past) the region. */
    t->data = c->data + begin;
    return MNEMO_OK;
}

static int parse_entry(const parse_ctx *c, const char *name, const json_t *entry, mnemo_tensor *t) {
    if (!json_is_object(entry))
        return fail_at(c, name, MNEMO_EFORMAT,
                       "entry must be an object with \"dtype\", \"shape\" and \"data_offsets\" "
                       "(found %s)",
                       type_name(entry));
    int rc;
    if ((rc = parse_dtype(c, name, entry, &t->dtype))) return rc;
    if ((rc = parse_shape(c, name, entry, t))) return rc;
    return parse_offsets(c, name, entry, t);
}

static int check_metadata(const parse_ctx *c, const json_t *meta) {
    if (!json_is_object(meta))
        return fail_at(c, NULL, MNEMO_EFORMAT,
                       "\"__metadata__\" must be an object of strings (found %s)", type_name(meta));
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)meta, key, v) {
        if (!json_is_string(v))
            return fail_at(c, NULL, MNEMO_EFORMAT,
                           "__metadata__[\"%.60s\"] must be a string (found %s)", key,
                           type_name(v));
    }
    return MNEMO_OK;
}

/* ------------------------------------------------------ the table */

/* Order by place in the data region; names are unique, so the order is total. */
static int compare_by_offset(const void *pa, const void *pb) {
    const mnemo_tensor *a = pa, *b = pb;
    const uint8_t *da = a->data, *db = b->data;
    if (da != db) return da < db ? -1 : 1;
    if (a->n_bytes != b->n_bytes) return a->n_bytes < b->n_bytes ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* Sorted by offset, a non-empty range overlaps an earlier one exactly when it
 * begins before the furthest end seen so far. Empty ranges hold no bytes and
 * overlap nothing. */
static int check_overlaps(const parse_ctx *c, const mnemo_tensor *t, size_t n) {
    const uint8_t *furthest = NULL;
    const mnemo_tensor *owner = NULL;
    for (size_t i = 0; i < n; i++) {
        if (t[i].n_bytes == 0) continue;
        const uint8_t *begin = t[i].data, *end = begin + t[i].n_bytes;
        if (owner && begin < furthest)
            return fail_at(c, t[i].name, MNEMO_EFORMAT,
                           "data_offsets [%zu, %zu] overlap those of tensor \"%.120s\" [%zu, %zu]",
                           (size_t)(begin - c->data), (size_t)(end - c->data), owner->name,
                           (size_t)((const uint8_t *)owner->data - c->data),
                           (size_t)((const uint8_t *)owner->data - c->data) + owner->n_bytes);
        if (!owner || end > furthest) {
            furthest = end;
            owner = &t[i];
        }
    }
    return MNEMO_OK;
}

static int build_index(const parse_ctx *c, mnemo_safetensors *st) {
    size_t cap = 16;
    while (cap < 2 * st->count) cap *= 2; /* load factor <= 1/2 */
    st->slots = mnemo__calloc(cap, sizeof *st->slots);
    if (!st->slots)
        return fail_at(c, NULL, MNEMO_ENOMEM, "out of memory for the index of %zu tensors",
                       st->count);
    st->slot_mask = cap - 1;
    for (size_t i = 0; i < st->count; i++) {
        const char *name = st->tensors[i].name;
        size_t h = (size_t)mnemo__hash64(name, strlen(name), NAME_SEED) & st->slot_mask;
        while (st->slots[h] != 0) h = (h + 1) & st->slot_mask;
        st->slots[h] = (uint32_t)(i + 1);
    }
    return MNEMO_OK;
}

static bool is_metadata_key(const char *key, size_t len) {
    return len == 12 && memcmp(key, "__metadata__", 12) == 0;
}

/* Parses the header of bytes[0..size) into st. */
static int parse(mnemo_safetensors *st, const uint8_t *bytes, size_t size, mnemo_error *err) {
    parse_ctx c = {.source = mnemo__safetensors_path(st), .err = err};
    if (size < 8)
        return fail_at(&c, NULL, MNEMO_EFORMAT,
                       "file is %zu bytes, shorter than the 8-byte header length: truncated or "
                       "not a safetensors file",
                       size);
    uint64_t n = read_le64(bytes);
    if (n > MNEMO_SAFETENSORS_MAX_HEADER)
        return fail_at(&c, NULL, MNEMO_ETOOBIG,
                       "header length is %llu bytes, over the limit of %u: damaged or not a "
                       "safetensors file",
                       (unsigned long long)n, MNEMO_SAFETENSORS_MAX_HEADER);
    if (n > size - 8)
        return fail_at(&c, NULL, MNEMO_EFORMAT,
                       "header length %llu runs past the end of the file (%zu bytes): truncated "
                       "or not a safetensors file",
                       (unsigned long long)n, size);
    c.data = bytes + 8 + n;
    c.data_size = size - 8 - (size_t)n;

    /* Duplicate names are refused: the format maps a name to one tensor, and
     * a second entry would silently shadow the first. */
    json_error_t jerr;
    json_t *root = json_loadb((const char *)bytes + 8, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (json_error_code(&jerr) == json_error_out_of_memory)
            return fail_at(&c, NULL, MNEMO_ENOMEM, "out of memory parsing the %llu-byte header",
                           (unsigned long long)n);
        return fail_at(&c, NULL, MNEMO_EFORMAT, "header is not valid JSON (line %d, column %d: %s)",
                       jerr.line, jerr.column, jerr.text);
    }
    int rc = MNEMO_OK;
    if (!json_is_object(root)) {
        rc = fail_at(&c, NULL, MNEMO_EFORMAT,
                     "header must be a JSON object mapping tensor names to entries (found %s)",
                     type_name(root));
        goto done;
    }
    json_t *meta = json_object_get(root, "__metadata__");
    if (meta && (rc = check_metadata(&c, meta))) goto done;

    /* First pass: names, so the name block can be sized. */
    const char *key;
    size_t key_len, names_size = 0;
    json_t *v;
    json_object_keylen_foreach(root, key, key_len, v) {
        if (is_metadata_key(key, key_len)) continue;
        if (key_len > MNEMO_SAFETENSORS_MAX_NAME) {
            rc = fail_at(&c, NULL, MNEMO_EUNSUPPORTED,
                         "tensor name \"%.60s...\" is %zu bytes; at most %d are supported", key,
                         key_len, MNEMO_SAFETENSORS_MAX_NAME);
            goto done;
        }
        names_size += key_len + 1; /* < header size: cannot overflow */
        st->count++;
    }
    /* The index stores positions as uint32_t; a 100 MB header cannot hold
     * anywhere near 2^32 entries, but say so rather than assume it. */
    if (st->count >= UINT32_MAX / 2) {
        rc = fail_at(&c, NULL, MNEMO_ETOOBIG, "%zu tensors are too many", st->count);
        goto done;
    }
    st->tensors = mnemo__calloc(st->count, sizeof *st->tensors);
    st->names = mnemo__malloc(names_size);
    if (!st->tensors || !st->names) {
        rc = fail_at(&c, NULL, MNEMO_ENOMEM, "out of memory for a table of %zu tensors", st->count);
        goto done;
    }
    /* Second pass: the entries. */
    size_t i = 0, at = 0;
    json_object_keylen_foreach(root, key, key_len, v) {
        if (is_metadata_key(key, key_len)) continue;
        mnemo_tensor *t = &st->tensors[i++];
        memcpy(st->names + at, key, key_len + 1);
        t->name = st->names + at;
        at += key_len + 1;
        if ((rc = parse_entry(&c, t->name, v, t))) goto done;
    }
    json_decref(root);
    root = NULL;

    qsort(st->tensors, st->count, sizeof *st->tensors, compare_by_offset);
    if ((rc = check_overlaps(&c, st->tensors, st->count))) goto done;
    rc = build_index(&c, st);
done:
    json_decref(root);
    return rc;
}

/* ------------------------------------------------------------ the API */

static int open_common(mnemo_safetensors *st, const uint8_t *bytes, size_t size,
                       mnemo_safetensors **out, mnemo_error *err) {
    int rc = parse(st, bytes, size, err);
    if (rc) {
        mnemo__safetensors_close(st);
        return rc;
    }
    *out = st;
    return MNEMO_OK;
}

int mnemo__safetensors_open(const char *path, mnemo_safetensors **out, mnemo_error *err) {
    if (!out || !path) return mnemo__fail(err, MNEMO_EINVAL, "safetensors_open: NULL argument");
    *out = NULL;
    mnemo_safetensors *st = mnemo__calloc(1, sizeof *st);
    char *copy = st ? mnemo__strndup(path, strlen(path)) : NULL;
    if (!copy) {
        mnemo__free(st);
        return mnemo__fail(err, MNEMO_ENOMEM, "%s: out of memory", path);
    }
    st->path = copy;
    int rc = mnemo__file_map(path, &st->map, err);
    if (rc) {
        mnemo__safetensors_close(st);
        return rc;
    }
    return open_common(st, st->map.data, st->map.size, out, err);
}

int mnemo__safetensors_open_memory(const void *data, size_t size, mnemo_safetensors **out,
                                   mnemo_error *err) {
    if (!out || (!data && size))
        return mnemo__fail(err, MNEMO_EINVAL, "safetensors_open_memory: NULL argument");
    *out = NULL;
    mnemo_safetensors *st = mnemo__calloc(1, sizeof *st);
    if (!st) return mnemo__fail(err, MNEMO_ENOMEM, MEMORY_SOURCE ": out of memory");
    return open_common(st, data ? data : (const void *)"", size, out, err);
}

void mnemo__safetensors_close(mnemo_safetensors *st) {
    if (!st) return;
    mnemo__file_unmap(&st->map);
    mnemo__free(st->path);
    mnemo__free(st->tensors);
    mnemo__free(st->names);
    mnemo__free(st->slots);
    mnemo__free(st);
}

size_t mnemo__safetensors_count(const mnemo_safetensors *st) { return st ? st->count : 0; }

const mnemo_tensor *mnemo__safetensors_at(const mnemo_safetensors *st, size_t i) {
    return st && i < st->count ? &st->tensors[i] : NULL;
}

const char *mnemo__safetensors_path(const mnemo_safetensors *st) {
    return st && st->path ? st->path : MEMORY_SOURCE;
}

const mnemo_tensor *mnemo__safetensors_find(const mnemo_safetensors *st, const char *name) {
    if (!st || !name || !st->slots) return NULL;
    size_t h = (size_t)mnemo__hash64(name, strlen(name), NAME_SEED) & st->slot_mask;
    for (uint32_t s; (s = st->slots[h]) != 0; h = (h + 1) & st->slot_mask)
        if (strcmp(st->tensors[s - 1].name, name) == 0) return &st->tensors[s - 1];
    return NULL;
}

int mnemo__safetensors_expect(const mnemo_safetensors *st, const char *name, int n_dims,
                              const int64_t *shape, const mnemo_tensor **out, mnemo_error *err) {
    if (out) *out = NULL;
    if (!st || !name || !out || n_dims < 0 || n_dims > MNEMO_SAFETENSORS_MAX_DIMS ||
        (n_dims > 0 && !shape))
        return mnemo__fail(err, MNEMO_EINVAL,
                           "safetensors_expect: NULL argument or n_dims %d outside 0..%d", n_dims,
                           MNEMO_SAFETENSORS_MAX_DIMS);
    parse_ctx c = {.source = mnemo__safetensors_path(st), .err = err};
    char want[128], found[128];
    format_shape(want, sizeof want, n_dims, shape);
    const mnemo_tensor *t = mnemo__safetensors_find(st, name);
    if (!t)
        return fail_at(&c, name, MNEMO_EFORMAT,
                       "not found (expected shape %s); the file has %zu tensors: is it the right "
                       "model?",
                       want, st->count);
    if (t->dtype != MNEMO_DTYPE_F32 && t->dtype != MNEMO_DTYPE_BF16 && t->dtype != MNEMO_DTYPE_F16)
        return fail_at(&c, name, MNEMO_EUNSUPPORTED, "dtype %d; expected " SUPPORTED_DTYPES,
                       (int)t->dtype);
    bool same = t->n_dims == n_dims;
    for (int i = 0; same && i < n_dims; i++) same = t->shape[i] == shape[i];
    if (!same)
        return fail_at(&c, name, MNEMO_EFORMAT, "has shape %s (%s); expected %s",
                       format_shape(found, sizeof found, t->n_dims, t->shape),
                       mnemo__dtype_name(t->dtype), want);
    *out = t;
    return MNEMO_OK;
}

int mnemo__safetensors_copy_f32(const mnemo_tensor *t, size_t first, size_t count, float *out) {
    if (!t || first > t->n_elements || count > t->n_elements - first) return MNEMO_ERANGE;
    if (count == 0) return MNEMO_OK;
    const uint8_t *p = (const uint8_t *)t->data + first * mnemo__dtype_size(t->dtype);
    switch (t->dtype) {
    case MNEMO_DTYPE_F32:
        memcpy(out, p, count * sizeof(float)); /* little-endian host (checked above) */
        break;
    case MNEMO_DTYPE_BF16:
    case MNEMO_DTYPE_F16:
        for (size_t i = 0; i < count; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            out[i] = t->dtype == MNEMO_DTYPE_BF16 ? mnemo__bf16_to_f32(h) : mnemo__f16_to_f32(h);
        }
        break;
    }
    return MNEMO_OK;
}

/* ------------------------------------------------ element conversions */

static float f32_from_bits(uint32_t b) {
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

float mnemo__f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu;
    if (exp == 0x1F) return f32_from_bits(sign | 0x7F800000u | (mant << 13)); /* inf, NaN */
    if (exp != 0) return f32_from_bits(sign | ((exp + 127 - 15) << 23) | (mant << 13));
    if (mant == 0) return f32_from_bits(sign); /* +-0 */
    /* Subnormal: mant * 2^-24. Shift the leading 1 up to bit 10, the implicit
     * bit of a normal f32: the value is then 1.f * 2^(-14 - shift). */
    uint32_t shift = 0;
    while (!(mant & 0x400u)) {
        mant <<= 1;
        shift++;
    }
    return f32_from_bits(sign | ((127 - 14 - shift) << 23) | ((mant & 0x3FFu) << 13));
}
