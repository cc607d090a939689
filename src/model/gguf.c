/*
 * gguf.c — reads GGUF files (v2, v3): maps the file, walks the header with a
 * bounds-checked cursor, decodes the metadata, checks every tensor's shape,
 * type and byte range, and keeps hash indexes of keys and tensor names. The
 * typed getters live in gguf_meta.c, the ggml type table and dequantization
 * in gguf_quant.c. Not a writer.
 *
 * Nothing from the file is trusted (a file is input like any other; llama.cpp's own parser
 * had TALOS-2024-1912..1916 and CVE-2025-53630): every length and count is
 * compared with the bytes that remain before it is used, products go through
 * overflow-checked helpers, and nothing is allocated in proportion to a
 * count until the bytes that count implies are known to be in the file.
 */
#include "gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "GGUF files are read as little-endian; a big-endian host needs byte swaps here"
#endif

/* A pair or tensor while parsing: where its key/name is in the file, until
 * the names are copied into one NUL-terminated block. The public struct
 * comes first so a pointer to the entry is a pointer to it. */
typedef struct kv_entry {
    mnemo_gguf_kv kv;
    const char *key_src;
    size_t key_len;
} kv_entry;

typedef struct tensor_entry {
    mnemo_gguf_tensor t;
    const char *name_src;
    size_t name_len;
} tensor_entry;

/* Open addressing over entry positions: slot = position + 1, 0 = empty. */
typedef struct name_index {
    uint32_t *slots;
    size_t mask;
} name_index;

struct mnemo_gguf {
    mnemo_file_map map; /* zero when opened from memory */
    char *path;         /* NULL when opened from memory */
    uint32_t version;
    size_t alignment;
    size_t data_offset;
    kv_entry *kvs;
    size_t n_kvs;
    tensor_entry *tensors;
    size_t n_tensors;
    char *names; /* every key and tensor name, NUL-terminated, in one block */
    name_index kv_index, tensor_index;
};

#define MEMORY_SOURCE "<memory>"
#define GGUF_MAGIC "GGUF"
/* Seed for the name indexes; any constant works. */
#define NAME_SEED 0x66756767ull
/* The smallest possible pair: u64 key length, a 1-byte key, u32 type, a
 * 1-byte value. The smallest tensor info: u64 name length, an empty name,
 * u32 n_dims = 0, u32 type, u64 offset. A count of either that needs more
 * bytes than the file has is refused before anything is allocated for it. */
#define MIN_KV_BYTES 14u
#define MIN_TENSOR_BYTES 24u

/* The header walk: a cursor over bytes[0..size) and where to report. */
typedef struct cursor {
    const uint8_t *bytes;
    size_t size, at;
    const char *source; /* path or "<memory>" */
    mnemo_error *err;
    char subject[200]; /* "key \"general.name\"", "tensor #3", ... */
} cursor;

/* ------------------------------------------------------------- helpers */

/* Fails with "<source>: <subject>: <what>" (or "<source>: <what>"). */
static int fail_at(const cursor *c, int code, const char *fmt, ...) MNEMO_PRINTF(3, 4);
static int fail_at(const cursor *c, int code, const char *fmt, ...) {
    char what[360];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (c->subject[0]) return mnemo__fail(c->err, code, "%s: %s: %s", c->source, c->subject, what);
    return mnemo__fail(c->err, code, "%s: %s", c->source, what);
}

/* Names the thing being read: a key or tensor by name once its name is
 * known (shortened to 100 bytes), by position before. */
static void set_subject(cursor *c, const char *kind, size_t index, const char *name, size_t len) {
    if (name)
        snprintf(c->subject, sizeof c->subject, "%s \"%.*s\"%s", kind, (int)(len > 100 ? 100 : len),
                 name, len > 100 ? "..." : "");
    else
        snprintf(c->subject, sizeof c->subject, "%s #%zu", kind, index);
}

static size_t remaining(const cursor *c) { return c->size - c->at; }

/* Takes n bytes, or fails saying the file ends too soon. */
static int take(cursor *c, size_t n, const uint8_t **out, const char *what) {
    if (n > remaining(c))
        return fail_at(c, MNEMO_EFORMAT,
                       "%s needs %zu bytes at offset %zu, but only %zu remain: truncated or "
                       "damaged file",
                       what, n, c->at, remaining(c));
    *out = c->bytes + c->at;
    c->at += n;
    return MNEMO_OK;
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

static int read_u32(cursor *c, uint32_t *v, const char *what) {
    const uint8_t *p = NULL;
    int rc = take(c, 4, &p, what);
    if (rc == MNEMO_OK) *v = le32(p);
    return rc;
}
static int read_u64(cursor *c, uint64_t *v, const char *what) {
    const uint8_t *p = NULL;
    int rc = take(c, 8, &p, what);
    if (rc == MNEMO_OK) *v = le64(p);
    return rc;
}

/* A GGUF string: u64 length, then that many bytes (checked against what
 * remains before any pointer is formed). */
static int read_str(cursor *c, mnemo_gguf_str *s, const char *what) {
    uint64_t len;
    int rc = read_u64(c, &len, what);
    if (rc) return rc;
    if (len > remaining(c))
        return fail_at(c, MNEMO_EFORMAT,
                       "%s is %llu bytes long, but only %zu bytes follow at offset %zu: truncated "
                       "or damaged file",
                       what, (unsigned long long)len, remaining(c), c->at);
    s->data = (const char *)c->bytes + c->at;
    s->len = (size_t)len;
    c->at += (size_t)len;
    return MNEMO_OK;
}

/* Keys and tensor names are used as C strings and printed in messages: no
 * NUL inside, valid UTF-8. */
static int check_name(const cursor *c, const char *what, mnemo_gguf_str s) {
    if (memchr(s.data, 0, s.len)) return fail_at(c, MNEMO_EFORMAT, "%s contains a NUL byte", what);
    size_t bad;
    if (!mnemo_utf8_valid(s.data, s.len, &bad))
        return fail_at(c, MNEMO_EFORMAT, "%s is not valid UTF-8 (byte %zu)", what, bad);
    return MNEMO_OK;
}

/* ---------------------------------------------------------- the indexes */

static uint64_t hash_name(const char *s, size_t len) { return mnemo__hash64(s, len, NAME_SEED); }

static int index_alloc(name_index *ix, size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2; /* load factor <= 1/2; n <= 2^20 */
    ix->slots = mnemo__calloc(cap, sizeof *ix->slots);
    if (!ix->slots) return MNEMO_ENOMEM;
    ix->mask = cap - 1;
    return MNEMO_OK;
}

/* Inserts position i under name[0..len); returns the position already there
 * under the same name, or -1 if none (then i is inserted). `name_of`
 * gives the name of a position. */
typedef mnemo_gguf_str (*name_fn)(const void *entries, size_t i);

static long index_insert(name_index *ix, const void *entries, name_fn name_of, size_t i) {
    mnemo_gguf_str s = name_of(entries, i);
    size_t h = (size_t)hash_name(s.data, s.len) & ix->mask;
    for (uint32_t slot; (slot = ix->slots[h]) != 0; h = (h + 1) & ix->mask) {
        mnemo_gguf_str o = name_of(entries, slot - 1);
        if (o.len == s.len && memcmp(o.data, s.data, s.len) == 0) return (long)(slot - 1);
    }
    ix->slots[h] = (uint32_t)(i + 1);
    return -1;
}

static long index_find(const name_index *ix, const void *entries, name_fn name_of,
                       const char *name) {
    if (!ix->slots || !name) return -1;
    size_t len = strlen(name);
    size_t h = (size_t)hash_name(name, len) & ix->mask;
    for (uint32_t slot; (slot = ix->slots[h]) != 0; h = (h + 1) & ix->mask) {
        mnemo_gguf_str o = name_of(entries, slot - 1);
        if (o.len == len && memcmp(o.data, name, len) == 0) return (long)(slot - 1);
    }
    return -1;
}

static mnemo_gguf_str kv_name(const void *entries, size_t i) {
    const kv_entry *e = (const kv_entry *)entries + i;
    return (mnemo_gguf_str){e->key_src, e->key_len};
}
static mnemo_gguf_str tensor_name(const void *entries, size_t i) {
    const tensor_entry *e = (const tensor_entry *)entries + i;
    return (mnemo_gguf_str){e->name_src, e->name_len};
}

/* ------------------------------------------------------------ metadata */

/* A scalar of a fixed-size type, decoded into kv->value. */
static int read_scalar(cursor *c, uint32_t type, mnemo_gguf_kv *kv) {
    const uint8_t *p = NULL;
    int rc = take(c, mnemo__gguf_value_size(type), &p, "the value");
    if (rc) return rc;
    switch (type) {
    case MNEMO_GGUF_U8: kv->value.u = p[0]; break;
    case MNEMO_GGUF_I8: kv->value.i = (int8_t)p[0]; break;
    case MNEMO_GGUF_U16: kv->value.u = (uint16_t)(p[0] | p[1] << 8); break;
    case MNEMO_GGUF_I16: kv->value.i = (int16_t)(uint16_t)(p[0] | p[1] << 8); break;
    case MNEMO_GGUF_U32: kv->value.u = le32(p); break;
    case MNEMO_GGUF_I32: kv->value.i = (int32_t)le32(p); break;
    case MNEMO_GGUF_U64: kv->value.u = le64(p); break;
    case MNEMO_GGUF_I64: kv->value.i = (int64_t)le64(p); break;
    case MNEMO_GGUF_F32: {
        float f;
        memcpy(&f, p, 4);
        kv->value.f = f;
        break;
    }
    case MNEMO_GGUF_F64: memcpy(&kv->value.f, p, 8); break;
    case MNEMO_GGUF_BOOL:
        /* gguf.md: "0 is false and 1 is true. Anything else is invalid." */
        if (p[0] > 1) return fail_at(c, MNEMO_EFORMAT, "bool value is %u; must be 0 or 1", p[0]);
        kv->value.b = p[0] == 1;
        break;
    }
    return MNEMO_OK;
}

static int read_array(cursor *c, mnemo_gguf_kv *kv) {
    uint32_t type;
    uint64_t count;
    int rc = read_u32(c, &type, "the array element type");
    if (!rc) rc = read_u64(c, &count, "the array length");
    if (rc) return rc;
    if (type == MNEMO_GGUF_ARRAY)
        return fail_at(c, MNEMO_EUNSUPPORTED,
                       "arrays of arrays are not supported (no model key uses them)");
    if (type > MNEMO_GGUF_F64)
        return fail_at(c, MNEMO_EFORMAT, "array element type %u is not a GGUF value type (0..12)",
                       type);
    mnemo_gguf_array *a = &kv->array;
    a->type = (mnemo_gguf_type)type;
    a->data = c->bytes + c->at;
    if (type != MNEMO_GGUF_STRING) {
        size_t n_bytes;
        if (count > SIZE_MAX ||
            !mnemo__mul_size((size_t)count, mnemo__gguf_value_size(type), &n_bytes) ||
            n_bytes > remaining(c))
            return fail_at(c, MNEMO_EFORMAT,
                           "array of %llu %s values needs more bytes than the %zu left at offset "
                           "%zu: truncated or damaged file",
                           (unsigned long long)count, mnemo__gguf_type_name((int)type),
                           remaining(c), c->at);
        if (type == MNEMO_GGUF_BOOL)
            for (size_t i = 0; i < (size_t)count; i++)
                if (c->bytes[c->at + i] > 1)
                    return fail_at(c, MNEMO_EFORMAT, "bool element %zu is %u; must be 0 or 1", i,
                                   c->bytes[c->at + i]);
        a->count = (size_t)count;
        c->at += n_bytes;
        return MNEMO_OK;
    }
    /* Each string takes at least its 8-byte length: a count the file cannot
     * hold is refused before the table is allocated, so the table is never
     * more than twice the bytes it describes. */
    if (count > remaining(c) / 8)
        return fail_at(c, MNEMO_EFORMAT,
                       "array of %llu strings needs at least 8 bytes for each, but only %zu "
                       "follow at offset %zu: truncated or damaged file",
                       (unsigned long long)count, remaining(c), c->at);
    mnemo_gguf_str *strings = NULL;
    if (count > 0) {
        strings = mnemo__malloc_array((size_t)count, sizeof *strings);
        if (!strings)
            return fail_at(c, MNEMO_ENOMEM, "out of memory for an array of %llu strings",
                           (unsigned long long)count);
    }
    a->strings = strings; /* owned by the entry from now on, freed at close */
    for (size_t i = 0; i < (size_t)count; i++) {
        char what[48];
        snprintf(what, sizeof what, "string element %zu", i);
        if ((rc = read_str(c, &strings[i], what))) return rc;
    }
    a->count = (size_t)count;
    return MNEMO_OK;
}

static int read_kv(cursor *c, size_t index, kv_entry *e) {
    set_subject(c, "key", index, NULL, 0);
    mnemo_gguf_str key;
    int rc = read_str(c, &key, "the key");
    if (rc) return rc;
    if (key.len == 0) return fail_at(c, MNEMO_EFORMAT, "the key is empty");
    if (key.len > MNEMO_GGUF_MAX_KEY)
        return fail_at(c, MNEMO_EFORMAT, "the key is %zu bytes; gguf.md allows at most %u", key.len,
                       MNEMO_GGUF_MAX_KEY);
    if ((rc = check_name(c, "the key", key))) return rc;
    e->key_src = key.data;
    e->key_len = key.len;
    set_subject(c, "key", index, key.data, key.len);

    uint32_t type;
    if ((rc = read_u32(c, &type, "the value type"))) return rc;
    if (type > MNEMO_GGUF_F64)
        return fail_at(c, MNEMO_EFORMAT, "value type %u is not a GGUF value type (0..12)", type);
    e->kv.type = (mnemo_gguf_type)type;
    if (type == MNEMO_GGUF_STRING) return read_str(c, &e->kv.str, "the string value");
    if (type == MNEMO_GGUF_ARRAY) return read_array(c, &e->kv);
    return read_scalar(c, type, &e->kv);
}

/* general.alignment: a u32 power of two (ggml's gguf.cpp refuses any other
 * type), else the default 32. */
static int read_alignment(cursor *c, mnemo_gguf *g) {
    g->alignment = MNEMO_GGUF_DEFAULT_ALIGNMENT;
    long i = index_find(&g->kv_index, g->kvs, kv_name, "general.alignment");
    if (i < 0) return MNEMO_OK;
    const mnemo_gguf_kv *kv = &g->kvs[i].kv;
    snprintf(c->subject, sizeof c->subject, "key \"general.alignment\"");
    if (kv->type != MNEMO_GGUF_U32)
        return fail_at(c, MNEMO_EFORMAT, "is a %s; it must be a u32",
                       mnemo__gguf_type_name(kv->type));
    uint64_t a = kv->value.u;
    if (a == 0 || (a & (a - 1)) != 0)
        return fail_at(c, MNEMO_EFORMAT, "is %llu; it must be a power of two such as 32",
                       (unsigned long long)a);
    g->alignment = (size_t)a;
    return MNEMO_OK;
}

/* -------------------------------------------------------------- tensors */

static const char *format_ne(char *buf, size_t cap, int n_dims, const int64_t *ne) {
    size_t at = (size_t)snprintf(buf, cap, "{");
    for (int i = 0; i < n_dims && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%lld", i ? ", " : "", (long long)ne[i]);
    if (at < cap) snprintf(buf + at, cap - at, "}");
    return buf;
}

static int read_tensor_info(cursor *c, const mnemo_gguf *g, size_t index, tensor_entry *e) {
    mnemo_gguf_tensor *t = &e->t;
    set_subject(c, "tensor", index, NULL, 0);
    mnemo_gguf_str name;
    int rc = read_str(c, &name, "the tensor name");
    if (rc) return rc;
    if (name.len > MNEMO_GGUF_MAX_NAME)
        return fail_at(c, MNEMO_EFORMAT, "the name is %zu bytes; gguf.md allows at most %u",
                       name.len, MNEMO_GGUF_MAX_NAME);
    if ((rc = check_name(c, "the name", name))) return rc;
    e->name_src = name.data;
    e->name_len = name.len;
    set_subject(c, "tensor", index, name.data, name.len);

    uint32_t n_dims;
    if ((rc = read_u32(c, &n_dims, "the number of dimensions"))) return rc;
    if (n_dims > MNEMO_GGUF_MAX_DIMS)
        return fail_at(c, MNEMO_EFORMAT, "has %u dimensions; ggml allows at most %d", n_dims,
                       MNEMO_GGUF_MAX_DIMS);
    t->n_dims = (int)n_dims;
    size_t n_elements = 1;
    bool overflow = false;
    for (int d = 0; d < MNEMO_GGUF_MAX_DIMS; d++) {
        uint64_t v = 1;
        if ((uint32_t)d < n_dims && (rc = read_u64(c, &v, "a dimension"))) return rc;
        if (v == 0)
            return fail_at(c, MNEMO_EFORMAT, "dimension %d is 0; every dimension must be >= 1", d);
        if (v > (uint64_t)INT64_MAX)
            return fail_at(c, MNEMO_EFORMAT, "dimension %d is %llu, over 2^63 - 1", d,
                           (unsigned long long)v);
        t->ne[d] = (int64_t)v;
        /* Keep reading every dimension; the product's overflow is reported
         * with the whole shape. */
        if (v > SIZE_MAX || !mnemo__mul_size(n_elements, (size_t)v, &n_elements)) overflow = true;
    }
    char shape[160];
    format_ne(shape, sizeof shape, t->n_dims, t->ne);
    if (overflow || n_elements > (uint64_t)INT64_MAX)
        return fail_at(c, MNEMO_EFORMAT, "shape %s has too many elements: the count overflows",
                       shape);
    t->n_elements = n_elements;

    uint32_t type;
    if ((rc = read_u32(c, &type, "the tensor type"))) return rc;
    size_t block = mnemo__ggml_block_size((int)type),
           block_bytes = mnemo__ggml_type_size((int)type);
    if (block == 0)
        return fail_at(c, MNEMO_EUNSUPPORTED,
                       "type %u is not a ggml tensor type mnemo knows (removed or newer than "
                       "ggml's list up to q2_0 = 42); its size cannot be known",
                       type);
    t->type = (int)type;
    if ((uint64_t)t->ne[0] % block != 0)
        return fail_at(c, MNEMO_EFORMAT,
                       "shape %s: a row of %lld %s elements is not a whole number of %zu-element "
                       "blocks",
                       shape, (long long)t->ne[0], mnemo__ggml_type_name(t->type), block);
    t->n_rows = n_elements / (size_t)t->ne[0];
    /* row_bytes <= n_elements * 8 / 1: the first product cannot overflow
     * when the second does not; both are checked anyway. */
    if (!mnemo__mul_size((size_t)t->ne[0] / block, block_bytes, &t->row_bytes) ||
        !mnemo__mul_size(t->row_bytes, t->n_rows, &t->n_bytes))
        return fail_at(c, MNEMO_EFORMAT, "shape %s of %s: the byte size overflows", shape,
                       mnemo__ggml_type_name(t->type));

    uint64_t offset;
    if ((rc = read_u64(c, &offset, "the data offset"))) return rc;
    if (offset % g->alignment != 0)
        return fail_at(c, MNEMO_EFORMAT, "data offset %llu is not a multiple of the alignment %zu",
                       (unsigned long long)offset, g->alignment);
    t->offset = offset;
    return MNEMO_OK;
}

/* With tensors sorted by offset, a range overlaps an earlier one exactly
 * when it begins before the furthest end seen so far (every tensor holds at
 * least one byte: dimensions are >= 1). */
static int compare_offsets(const void *pa, const void *pb) {
    const tensor_entry *a = *(const tensor_entry *const *)pa, *b = *(const tensor_entry *const *)pb;
    if (a->t.offset != b->t.offset) return a->t.offset < b->t.offset ? -1 : 1;
    return a < b ? -1 : a > b; /* stable: file order */
}

static int check_overlaps(cursor *c, mnemo_gguf *g) {
    if (g->n_tensors < 2) return MNEMO_OK;
    tensor_entry **order = mnemo__malloc_array(g->n_tensors, sizeof *order);
    if (!order)
        return fail_at(c, MNEMO_ENOMEM, "out of memory checking the ranges of %zu tensors",
                       g->n_tensors);
    for (size_t i = 0; i < g->n_tensors; i++) order[i] = &g->tensors[i];
    qsort(order, g->n_tensors, sizeof *order, compare_offsets);
    int rc = MNEMO_OK;
    const tensor_entry *owner = order[0];
    uint64_t furthest = owner->t.offset + owner->t.n_bytes; /* both inside the data: no overflow */
    for (size_t i = 1; i < g->n_tensors && !rc; i++) {
        const tensor_entry *e = order[i];
        uint64_t end = e->t.offset + e->t.n_bytes;
        if (e->t.offset < furthest) {
            set_subject(c, "tensor", 0, e->name_src, e->name_len);
            rc = fail_at(c, MNEMO_EFORMAT,
                         "bytes [%llu, %llu) of the data section overlap those of tensor "
                         "\"%.*s\" [%llu, %llu)",
                         (unsigned long long)e->t.offset, (unsigned long long)end,
                         (int)(owner->name_len > 100 ? 100 : owner->name_len), owner->name_src,
                         (unsigned long long)owner->t.offset,
                         (unsigned long long)(owner->t.offset + owner->t.n_bytes));
        } else if (end > furthest) {
            furthest = end;
            owner = e;
        }
    }
    mnemo__free(order);
    return rc;
}

/* -------------------------------------------------------------- parsing */

static int parse_header(cursor *c, mnemo_gguf *g, uint64_t *n_tensors, uint64_t *n_kvs) {
    if (c->size >= 4 && memcmp(c->bytes, GGUF_MAGIC, 4) != 0)
        return fail_at(c, MNEMO_EFORMAT,
                       "not a GGUF file: it starts with bytes %02x %02x %02x %02x, not \"GGUF\"",
                       c->bytes[0], c->bytes[1], c->bytes[2], c->bytes[3]);
    if (c->size < 24)
        return fail_at(c, MNEMO_EFORMAT,
                       "file is %zu bytes, shorter than the 24-byte GGUF header: truncated or not "
                       "a GGUF file",
                       c->size);
    c->at = 4;
    read_u32(c, &g->version, "the version");
    read_u64(c, n_tensors, "the tensor count");
    read_u64(c, n_kvs, "the key count");
    uint32_t v = g->version;
    /* A big-endian file reads as 0x03000000 here (ggml's gguf.cpp test). */
    if (v != 0 && (v & 0xFFFFu) == 0)
        return fail_at(c, MNEMO_EUNSUPPORTED,
                       "version field reads 0x%08x: a big-endian GGUF file; mnemo reads "
                       "little-endian files (convert again without --bigendian)",
                       v);
    if (v == 0) return fail_at(c, MNEMO_EFORMAT, "version is 0: damaged file");
    if (v == 1)
        return fail_at(c, MNEMO_EUNSUPPORTED,
                       "GGUF version 1 (32-bit lengths) is not supported; convert the model "
                       "again with a current llama.cpp");
    if (v > 3)
        return fail_at(c, MNEMO_EUNSUPPORTED,
                       "GGUF version %u is newer than the versions mnemo reads (2 and 3)", v);
    if (*n_tensors > MNEMO_GGUF_MAX_TENSORS)
        return fail_at(c, MNEMO_ETOOBIG, "header claims %llu tensors; mnemo reads at most %u",
                       (unsigned long long)*n_tensors, MNEMO_GGUF_MAX_TENSORS);
    if (*n_kvs > MNEMO_GGUF_MAX_KVS)
        return fail_at(c, MNEMO_ETOOBIG, "header claims %llu keys; mnemo reads at most %u",
                       (unsigned long long)*n_kvs, MNEMO_GGUF_MAX_KVS);
    /* Both counts are <= 2^20: the sum cannot overflow. */
    uint64_t need = *n_kvs * MIN_KV_BYTES + *n_tensors * MIN_TENSOR_BYTES;
    if (need > remaining(c))
        return fail_at(c, MNEMO_EFORMAT,
                       "header claims %llu keys and %llu tensors, which need at least %llu bytes, "
                       "but only %zu follow: truncated or damaged file",
                       (unsigned long long)*n_kvs, (unsigned long long)*n_tensors,
                       (unsigned long long)need, remaining(c));
    return MNEMO_OK;
}

/* Copies every key and name into one NUL-terminated block. */
static int copy_names(cursor *c, mnemo_gguf *g) {
    size_t total = 0; /* the names lie in the file, one byte each: no overflow */
    for (size_t i = 0; i < g->n_kvs; i++) total += g->kvs[i].key_len + 1;
    for (size_t i = 0; i < g->n_tensors; i++) total += g->tensors[i].name_len + 1;
    g->names = mnemo__malloc(total);
    if (!g->names) return fail_at(c, MNEMO_ENOMEM, "out of memory for %zu bytes of names", total);
    char *at = g->names;
    for (size_t i = 0; i < g->n_kvs; i++) {
        kv_entry *e = &g->kvs[i];
        memcpy(at, e->key_src, e->key_len);
        at[e->key_len] = '\0';
        e->kv.key = at;
        at += e->key_len + 1;
    }
    for (size_t i = 0; i < g->n_tensors; i++) {
        tensor_entry *e = &g->tensors[i];
        memcpy(at, e->name_src, e->name_len);
        at[e->name_len] = '\0';
        e->t.name = at;
        at += e->name_len + 1;
    }
    return MNEMO_OK;
}

static int parse(mnemo_gguf *g, const uint8_t *bytes, size_t size, mnemo_error *err) {
    cursor c = {.bytes = bytes, .size = size, .source = mnemo__gguf_path(g), .err = err};
    uint64_t n_tensors, n_kvs;
    int rc = parse_header(&c, g, &n_tensors, &n_kvs);
    if (rc) return rc;

    g->kvs = mnemo__calloc((size_t)n_kvs, sizeof *g->kvs);
    g->tensors = mnemo__calloc((size_t)n_tensors, sizeof *g->tensors);
    if (!g->kvs || !g->tensors)
        return fail_at(&c, MNEMO_ENOMEM, "out of memory for tables of %llu keys and %llu tensors",
                       (unsigned long long)n_kvs, (unsigned long long)n_tensors);

    /* Metadata. Each pair counts as present as soon as it is being read, so
     * close() frees a string table a failed pair already owns. */
    for (size_t i = 0; i < (size_t)n_kvs; i++) {
        g->n_kvs = i + 1;
        if ((rc = read_kv(&c, i, &g->kvs[i]))) return rc;
    }
    c.subject[0] = '\0';
    if (index_alloc(&g->kv_index, g->n_kvs))
        return fail_at(&c, MNEMO_ENOMEM, "out of memory for the index of %zu keys", g->n_kvs);
    for (size_t i = 0; i < g->n_kvs; i++) {
        long dup = index_insert(&g->kv_index, g->kvs, kv_name, i);
        if (dup >= 0) {
            set_subject(&c, "key", i, g->kvs[i].key_src, g->kvs[i].key_len);
            return fail_at(&c, MNEMO_EFORMAT, "appears twice (pairs #%ld and #%zu)", dup, i);
        }
    }
    if ((rc = read_alignment(&c, g))) return rc;

    /* Tensor infos. */
    for (size_t i = 0; i < (size_t)n_tensors; i++) {
        g->n_tensors = i + 1;
        if ((rc = read_tensor_info(&c, g, i, &g->tensors[i]))) return rc;
    }
    c.subject[0] = '\0';
    if (index_alloc(&g->tensor_index, g->n_tensors))
        return fail_at(&c, MNEMO_ENOMEM, "out of memory for the index of %zu tensors",
                       g->n_tensors);
    for (size_t i = 0; i < g->n_tensors; i++) {
        long dup = index_insert(&g->tensor_index, g->tensors, tensor_name, i);
        if (dup >= 0) {
            set_subject(&c, "tensor", i, g->tensors[i].name_src, g->tensors[i].name_len);
            return fail_at(&c, MNEMO_EFORMAT, "the name appears twice (tensors #%ld and #%zu)", dup,
                           i);
        }
    }

    /* The data section starts at the next multiple of the alignment. A file
     * without tensors may end before it (ggml writes no padding then). */
    size_t data_offset;
    if (!mnemo__add_size(c.at, g->alignment - 1, &data_offset))
        return fail_at(&c, MNEMO_EFORMAT, "the data section offset overflows");
    data_offset &= ~(g->alignment - 1);
    if (data_offset > size) {
        if (g->n_tensors > 0)
            return fail_at(&c, MNEMO_EFORMAT,
                           "the data section should start at offset %zu (alignment %zu), past "
                           "the end of the file (%zu bytes): truncated file",
                           data_offset, g->alignment, size);
        data_offset = size;
    }
    g->data_offset = data_offset;
    size_t data_size = size - data_offset;
    for (size_t i = 0; i < g->n_tensors; i++) {
        mnemo_gguf_tensor *t = &g->tensors[i].t;
        if (t->offset > data_size || t->n_bytes > data_size - t->offset) {
            set_subject(&c, "tensor", i, g->tensors[i].name_src, g->tensors[i].name_len);
            return fail_at(&c, MNEMO_EFORMAT,
                           "bytes [%llu, %llu + %zu) lie past the end of the data section (%zu "
                           "bytes from offset %zu): truncated file or wrong offset",
                           (unsigned long long)t->offset, (unsigned long long)t->offset, t->n_bytes,
                           data_size, data_offset);
        }
        t->data = bytes + data_offset + (size_t)t->offset;
    }
    if ((rc = check_overlaps(&c, g))) return rc;
    c.subject[0] = '\0';
    return copy_names(&c, g);
}

/* ------------------------------------------------------------ the API */

static int open_common(mnemo_gguf *g, const uint8_t *bytes, size_t size, mnemo_gguf **out,
                       mnemo_error *err) {
    int rc = parse(g, bytes, size, err);
    if (rc) {
        mnemo__gguf_close(g);
        return rc;
    }
    *out = g;
    return MNEMO_OK;
}

int mnemo__gguf_open(const char *path, mnemo_gguf **out, mnemo_error *err) {
    if (out) *out = NULL;
    if (!out || !path) return mnemo__fail(err, MNEMO_EINVAL, "gguf_open: NULL argument");
    mnemo_gguf *g = mnemo__calloc(1, sizeof *g);
    char *copy = g ? mnemo__strndup(path, strlen(path)) : NULL;
    if (!copy) {
        mnemo__free(g);
        return mnemo__fail(err, MNEMO_ENOMEM, "%s: out of memory", path);
    }
    g->path = copy;
    int rc = mnemo__file_map(path, &g->map, err);
    if (rc) {
        mnemo__gguf_close(g);
        return rc;
    }
    return open_common(g, g->map.data, g->map.size, out, err);
}

int mnemo__gguf_open_memory(const void *data, size_t size, mnemo_gguf **out, mnemo_error *err) {
    if (out) *out = NULL;
    if (!out || (!data && size))
        return mnemo__fail(err, MNEMO_EINVAL, "gguf_open_memory: NULL argument");
    mnemo_gguf *g = mnemo__calloc(1, sizeof *g);
    if (!g) return mnemo__fail(err, MNEMO_ENOMEM, MEMORY_SOURCE ": out of memory");
    return open_common(g, data ? data : (const void *)"", size, out, err);
}

void mnemo__gguf_close(mnemo_gguf *g) {
    if (!g) return;
    for (size_t i = 0; i < g->n_kvs; i++) mnemo__free((void *)g->kvs[i].kv.array.strings);
    mnemo__file_unmap(&g->map);
    mnemo__free(g->path);
    mnemo__free(g->kvs);
    mnemo__free(g->tensors);
    mnemo__free(g->names);
    mnemo__free(g->kv_index.slots);
    mnemo__free(g->tensor_index.slots);
    mnemo__free(g);
}

const char *mnemo__gguf_path(const mnemo_gguf *g) { return g && g->path ? g->path : MEMORY_SOURCE; }
uint32_t mnemo__gguf_version(const mnemo_gguf *g) { return g ? g->version : 0; }
size_t mnemo__gguf_alignment(const mnemo_gguf *g) { return g ? g->alignment : 0; }
size_t mnemo__gguf_data_offset(const mnemo_gguf *g) { return g ? g->data_offset : 0; }

size_t mnemo__gguf_tensor_count(const mnemo_gguf *g) { return g ? g->n_tensors : 0; }

const mnemo_gguf_tensor *mnemo__gguf_tensor_at(const mnemo_gguf *g, size_t i) {
    return g && i < g->n_tensors ? &g->tensors[i].t : NULL;
}

const mnemo_gguf_tensor *mnemo__gguf_tensor_find(const mnemo_gguf *g, const char *name) {
    long i = g ? index_find(&g->tensor_index, g->tensors, tensor_name, name) : -1;
    return i >= 0 ? &g->tensors[i].t : NULL;
}

size_t mnemo__gguf_kv_count(const mnemo_gguf *g) { return g ? g->n_kvs : 0; }

const mnemo_gguf_kv *mnemo__gguf_kv_at(const mnemo_gguf *g, size_t i) {
    return g && i < g->n_kvs ? &g->kvs[i].kv : NULL;
}

const mnemo_gguf_kv *mnemo__gguf_kv_find(const mnemo_gguf *g, const char *key) {
    long i = g ? index_find(&g->kv_index, g->kvs, kv_name, key) : -1;
    return i >= 0 ? &g->kvs[i].kv : NULL;
}

int mnemo__gguf_tensor_expect(const mnemo_gguf *g, const char *name, int n_dims, const int64_t *ne,
                              const mnemo_gguf_tensor **out, mnemo_error *err) {
    if (out) *out = NULL;
    if (!g || !name || !out || !ne || n_dims < 1 || n_dims > MNEMO_GGUF_MAX_DIMS)
        return mnemo__fail(err, MNEMO_EINVAL,
                           "gguf_tensor_expect: NULL argument or n_dims %d outside 1..%d", n_dims,
                           MNEMO_GGUF_MAX_DIMS);
    const char *src = mnemo__gguf_path(g);
    char want[160], found[160];
    format_ne(want, sizeof want, n_dims, ne);
    const mnemo_gguf_tensor *t = mnemo__gguf_tensor_find(g, name);
    if (!t)
        return mnemo__fail(err, MNEMO_EFORMAT,
                           "%s: tensor \"%.100s\": not found (expected shape %s); the file has "
                           "%zu tensors: is it the right model?",
                           src, name, want, g->n_tensors);
    if (!mnemo__ggml_type_supported(t->type))
        return mnemo__fail(err, MNEMO_EUNSUPPORTED,
                           "%s: tensor \"%.100s\": type %s is not supported; mnemo reads f32, "
                           "f16, bf16, q8_0 and q4_0 (convert or quantize the model to one of "
                           "them)",
                           src, name, mnemo__ggml_type_name(t->type));
    bool same = t->n_dims == n_dims;
    for (int i = 0; same && i < n_dims; i++) same = t->ne[i] == ne[i];
    if (!same)
        return mnemo__fail(
            err, MNEMO_EFORMAT, "%s: tensor \"%.100s\": has shape %s (%s); expected %s", src, name,
            format_ne(found, sizeof found, t->n_dims, t->ne), mnemo__ggml_type_name(t->type), want);
    *out = t;
    return MNEMO_OK;
}

int mnemo__gguf_row_f32(const mnemo_gguf_tensor *t, size_t row, float *out) {
    if (!t || row >= t->n_rows) return MNEMO_ERANGE;
    if (!mnemo__ggml_type_supported(t->type)) return MNEMO_EUNSUPPORTED;
    return mnemo__ggml_to_f32(t->type, (const uint8_t *)t->data + row * t->row_bytes,
                              (size_t)t->ne[0], out);
}
