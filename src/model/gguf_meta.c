/*
 * gguf_meta.c — reading a GGUF file's metadata once gguf.c has parsed and
 * checked it: the typed getters (string, u32, i32, f32, bool, any integer,
 * arrays) with their "absent" and "other type" errors, and the accessors of
 * array elements. Works only through gguf.h; nothing here reads the file.
 */
#include "gguf.h"

#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "GGUF arrays are read as little-endian; a big-endian host needs byte swaps here"
#endif

/* ------------------------------------------------------------ value types */

size_t mnemo__gguf_value_size(int type) {
    switch (type) {
    case MNEMO_GGUF_U8:
    case MNEMO_GGUF_I8:
    case MNEMO_GGUF_BOOL: return 1;
    case MNEMO_GGUF_U16:
    case MNEMO_GGUF_I16: return 2;
    case MNEMO_GGUF_U32:
    case MNEMO_GGUF_I32:
    case MNEMO_GGUF_F32: return 4;
    case MNEMO_GGUF_U64:
    case MNEMO_GGUF_I64:
    case MNEMO_GGUF_F64: return 8;
    default: return 0; /* string, array, unknown */
    }
}

const char *mnemo__gguf_type_name(int type) {
    static const char *const names[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                        "bool", "string", "array", "u64", "i64", "f64"};
    return type >= 0 && type <= MNEMO_GGUF_F64 ? names[type] : "?";
}

bool mnemo__gguf_str_eq(mnemo_gguf_str s, const char *c) {
    size_t n = c ? strlen(c) : 0;
    return c && s.len == n && (n == 0 || memcmp(s.data, c, n) == 0);
}

/* ----------------------------------------------------------- getters */

/* Finds `key` and checks its type; fills err when absent or of another. */
static const mnemo_gguf_kv *get_typed(const mnemo_gguf *g, const char *key, int type,
                                      mnemo_error *err, int *rc) {
    const mnemo_gguf_kv *kv = mnemo__gguf_kv_find(g, key);
    if (!kv) {
        *rc = mnemo__fail(err, MNEMO_ENOENT, "%s: key \"%.200s\" not found", mnemo__gguf_path(g),
                          key ? key : "(null)");
        return NULL;
    }
    if (type >= 0 && kv->type != (mnemo_gguf_type)type) {
        if (kv->type == MNEMO_GGUF_ARRAY)
            *rc = mnemo__fail(err, MNEMO_EFORMAT,
                              "%s: key \"%.200s\" is an array of %s; expected a %s",
                              mnemo__gguf_path(g), key, mnemo__gguf_type_name(kv->array.type),
                              mnemo__gguf_type_name(type));
        else
            *rc = mnemo__fail(err, MNEMO_EFORMAT, "%s: key \"%.200s\" is a %s; expected a%s %s",
                              mnemo__gguf_path(g), key, mnemo__gguf_type_name(kv->type),
                              type == MNEMO_GGUF_ARRAY ? "n" : "", mnemo__gguf_type_name(type));
        return NULL;
    }
    *rc = MNEMO_OK;
    return kv;
}

int mnemo__gguf_get_str(const mnemo_gguf *g, const char *key, mnemo_gguf_str *out,
                        mnemo_error *err) {
    int rc;
    const mnemo_gguf_kv *kv = get_typed(g, key, MNEMO_GGUF_STRING, err, &rc);
    if (kv) *out = kv->str;
    return rc;
}

int mnemo__gguf_get_u32(const mnemo_gguf *g, const char *key, uint32_t *out, mnemo_error *err) {
    int rc;
    const mnemo_gguf_kv *kv = get_typed(g, key, MNEMO_GGUF_U32, err, &rc);
    if (kv) *out = (uint32_t)kv->value.u;
    return rc;
}

int mnemo__gguf_get_i32(const mnemo_gguf *g, const char *key, int32_t *out, mnemo_error *err) {
    int rc;
    const mnemo_gguf_kv *kv = get_typed(g, key, MNEMO_GGUF_I32, err, &rc);
    if (kv) *out = (int32_t)kv->value.i;
    return rc;
}

int mnemo__gguf_get_f32(const mnemo_gguf *g, const char *key, float *out, mnemo_error *err) {
    int rc;
    const mnemo_gguf_kv *kv = get_typed(g, key, MNEMO_GGUF_F32, err, &rc);
    if (kv) *out = (float)kv->value.f; /* exact: it was an f32 */
    return rc;
}

int mnemo__gguf_get_bool(const mnemo_gguf *g, const char *key, bool *out, mnemo_error *err) {
    int rc;
    const mnemo_gguf_kv *kv = get_typed(g, key, MNEMO_GGUF_BOOL, err, &rc);
    if (kv) *out = kv->value.b;
    return rc;
}

static bool is_unsigned(int type) {
    return type == MNEMO_GGUF_U8 || type == MNEMO_GGUF_U16 || type == MNEMO_GGUF_U32 ||
           type == MNEMO_GGUF_U64;
}
static bool is_signed(int type) {
    return type == MNEMO_GGUF_I8 || type == MNEMO_GGUF_I16 || type == MNEMO_GGUF_I32 ||
           type == MNEMO_GGUF_I64;
}

int mnemo__gguf_get_int(const mnemo_gguf *g, const char *key, int64_t *out, mnemo_error *err) {
    int rc;
    const mnemo_gguf_kv *kv = get_typed(g, key, -1, err, &rc);
    if (!kv) return rc;
    const char *src = mnemo__gguf_path(g);
    if (is_signed(kv->type)) {
        *out = kv->value.i;
        return MNEMO_OK;
    }
    if (!is_unsigned(kv->type))
        return mnemo__fail(err, MNEMO_EFORMAT, "%s: key \"%.200s\" is a%s %s; expected an integer",
                           src, key, kv->type == MNEMO_GGUF_ARRAY ? "n" : "",
                           mnemo__gguf_type_name(kv->type));
    if (kv->value.u > (uint64_t)INT64_MAX)
        return mnemo__fail(err, MNEMO_ERANGE, "%s: key \"%.200s\" is %llu, too large", src, key,
                           (unsigned long long)kv->value.u);
    *out = (int64_t)kv->value.u;
    return MNEMO_OK;
}

int mnemo__gguf_get_array(const mnemo_gguf *g, const char *key, mnemo_gguf_array *out,
                          mnemo_error *err) {
    int rc;
    const mnemo_gguf_kv *kv = get_typed(g, key, MNEMO_GGUF_ARRAY, err, &rc);
    if (kv) *out = kv->array;
    return rc;
}

int mnemo__gguf_get_strings(const mnemo_gguf *g, const char *key, mnemo_gguf_array *out,
                            mnemo_error *err) {
    int rc;
    const mnemo_gguf_kv *kv = get_typed(g, key, MNEMO_GGUF_ARRAY, err, &rc);
    if (!kv) return rc;
    if (kv->array.type != MNEMO_GGUF_STRING)
        return mnemo__fail(err, MNEMO_EFORMAT,
                           "%s: key \"%.200s\" is an array of %s; expected an "
                           "array of strings",
                           mnemo__gguf_path(g), key, mnemo__gguf_type_name(kv->array.type));
    *out = kv->array;
    return MNEMO_OK;
}

int mnemo__gguf_get_numbers(const mnemo_gguf *g, const char *key, mnemo_gguf_array *out,
                            mnemo_error *err) {
    int rc;
    const mnemo_gguf_kv *kv = get_typed(g, key, MNEMO_GGUF_ARRAY, err, &rc);
    if (!kv) return rc;
    int t = kv->array.type;
    if (t == MNEMO_GGUF_STRING || t == MNEMO_GGUF_BOOL)
        return mnemo__fail(err, MNEMO_EFORMAT,
                           "%s: key \"%.200s\" is an array of %s; expected an "
                           "array of numbers",
                           mnemo__gguf_path(g), key, mnemo__gguf_type_name(t));
    *out = kv->array;
    return MNEMO_OK;
}

static uint32_t le32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static uint64_t le64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Element i of a fixed-size array, sign- or zero-extended. */
static void element_bits(const mnemo_gguf_array *a, size_t i, uint64_t *u, int64_t *s) {
    const uint8_t *p = (const uint8_t *)a->data + i * mnemo__gguf_value_size(a->type);
    switch (a->type) {
    case MNEMO_GGUF_U8:
    case MNEMO_GGUF_BOOL:
        *u = p[0];
        *s = p[0];
        break;
    case MNEMO_GGUF_I8:
        *s = (int8_t)p[0];
        *u = (uint64_t)*s;
        break;
    case MNEMO_GGUF_U16:
        *u = (uint16_t)(p[0] | p[1] << 8);
        *s = (int64_t)*u;
        break;
    case MNEMO_GGUF_I16:
        *s = (int16_t)(uint16_t)(p[0] | p[1] << 8);
        *u = (uint64_t)*s;
        break;
    case MNEMO_GGUF_U32:
    case MNEMO_GGUF_F32:
        *u = le32(p);
        *s = (int64_t)*u;
        break;
    case MNEMO_GGUF_I32:
        *s = (int32_t)le32(p);
        *u = (uint64_t)*s;
        break;
    default:
        *u = le64(p);
        *s = (int64_t)*u;
        break; /* u64, i64, f64 */
    }
}

int mnemo__gguf_array_f64(const mnemo_gguf_array *a, size_t i, double *out) {
    if (!a || a->type == MNEMO_GGUF_STRING || a->type == MNEMO_GGUF_BOOL) return MNEMO_EFORMAT;
    if (i >= a->count) return MNEMO_ERANGE;
    uint64_t u;
    int64_t s;
    element_bits(a, i, &u, &s);
    if (a->type == MNEMO_GGUF_F32) {
        uint32_t b = (uint32_t)u;
        float f;
        memcpy(&f, &b, 4);
        *out = f;
    } else if (a->type == MNEMO_GGUF_F64) {
        memcpy(out, &u, 8);
    } else {
        *out = is_signed(a->type) ? (double)s : (double)u;
    }
    return MNEMO_OK;
}

int mnemo__gguf_array_i64(const mnemo_gguf_array *a, size_t i, int64_t *out) {
    if (!a || !(is_signed(a->type) || is_unsigned(a->type) || a->type == MNEMO_GGUF_BOOL))
        return MNEMO_EFORMAT;
    if (i >= a->count) return MNEMO_ERANGE;
    uint64_t u;
    int64_t s;
    element_bits(a, i, &u, &s);
    if (a->type == MNEMO_GGUF_U64 && u > (uint64_t)INT64_MAX) return MNEMO_ERANGE;
    *out = is_signed(a->type) ? s : (int64_t)u;
    return MNEMO_OK;
}
