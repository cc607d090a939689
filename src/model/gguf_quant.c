/*
 * gguf_quant.c — the ggml tensor types as GGUF files use them: block size,
 * bytes per block and name of every type ggml defines, and the portable
 * conversion of the supported ones (F32, F16, BF16, Q8_0, Q4_0) to f32. The
 * fast paths that compute on quantized weights directly belong in
 * src/kernels/; these are the reference they are tested against.
 */
#include "gguf.h"
#include "safetensors.h" /* mnemo__f16_to_f32 (and core.h's mnemo__bf16_to_f32) */

#include <string.h>

typedef struct ggml_type_info {
    const char *name;
    uint16_t block_size;
    uint16_t bytes; /* per block; 0: no such type */
} ggml_type_info;

/*
 * From ggml.h (enum ggml_type) and gguf-py's GGML_QUANT_SIZES (llama.cpp as
 * vendored by llama-cpp-python 0.3.36). Numbers 4, 5, 31-33 and 36-38 were
 * removed from ggml and have no entry. The sizes are used only to check a
 * tensor's byte range, so a new file with these types still opens.
 */
static const ggml_type_info types[] = {
    [MNEMO_GGML_F32] = {"f32", 1, 4},
    [MNEMO_GGML_F16] = {"f16", 1, 2},
    [MNEMO_GGML_Q4_0] = {"q4_0", 32, 18},
    [MNEMO_GGML_Q4_1] = {"q4_1", 32, 20},
    [MNEMO_GGML_Q5_0] = {"q5_0", 32, 22},
    [MNEMO_GGML_Q5_1] = {"q5_1", 32, 24},
    [MNEMO_GGML_Q8_0] = {"q8_0", 32, 34},
    [MNEMO_GGML_Q8_1] = {"q8_1", 32, 36},
    [MNEMO_GGML_Q2_K] = {"q2_K", 256, 84},
    [MNEMO_GGML_Q3_K] = {"q3_K", 256, 110},
    [MNEMO_GGML_Q4_K] = {"q4_K", 256, 144},
    [MNEMO_GGML_Q5_K] = {"q5_K", 256, 176},
    [MNEMO_GGML_Q6_K] = {"q6_K", 256, 210},
    [MNEMO_GGML_Q8_K] = {"q8_K", 256, 292},
    [MNEMO_GGML_IQ2_XXS] = {"iq2_xxs", 256, 66},
    [MNEMO_GGML_IQ2_XS] = {"iq2_xs", 256, 74},
    [MNEMO_GGML_IQ3_XXS] = {"iq3_xxs", 256, 98},
    [MNEMO_GGML_IQ1_S] = {"iq1_s", 256, 50},
    [MNEMO_GGML_IQ4_NL] = {"iq4_nl", 32, 18},
    [MNEMO_GGML_IQ3_S] = {"iq3_s", 256, 110},
    [MNEMO_GGML_IQ2_S] = {"iq2_s", 256, 82},
    [MNEMO_GGML_IQ4_XS] = {"iq4_xs", 256, 136},
    [MNEMO_GGML_I8] = {"i8", 1, 1},
    [MNEMO_GGML_I16] = {"i16", 1, 2},
    [MNEMO_GGML_I32] = {"i32", 1, 4},
    [MNEMO_GGML_I64] = {"i64", 1, 8},
    [MNEMO_GGML_F64] = {"f64", 1, 8},
    [MNEMO_GGML_IQ1_M] = {"iq1_m", 256, 56},
    [MNEMO_GGML_BF16] = {"bf16", 1, 2},
    [MNEMO_GGML_TQ1_0] = {"tq1_0", 256, 54},
    [MNEMO_GGML_TQ2_0] = {"tq2_0", 256, 66},
    [MNEMO_GGML_MXFP4] = {"mxfp4", 32, 17},
    [MNEMO_GGML_NVFP4] = {"nvfp4", 64, 36},
    [MNEMO_GGML_Q1_0] = {"q1_0", 128, 18},
    [MNEMO_GGML_Q2_0] = {"q2_0", 64, 18},
};

static const ggml_type_info *info(int type) {
    if (type < 0 || (size_t)type >= sizeof types / sizeof types[0] || types[type].bytes == 0)
        return NULL;
    return &types[type];
}

size_t mnemo__ggml_block_size(int type) {
    const ggml_type_info *t = info(type);
    return t ? t->block_size : 0;
}

size_t mnemo__ggml_type_size(int type) {
    const ggml_type_info *t = info(type);
    return t ? t->bytes : 0;
}

const char *mnemo__ggml_type_name(int type) {
    const ggml_type_info *t = info(type);
    return t ? t->name : "?";
}

bool mnemo__ggml_type_supported(int type) {
    return type == MNEMO_GGML_F32 || type == MNEMO_GGML_F16 || type == MNEMO_GGML_BF16 ||
           type == MNEMO_GGML_Q8_0 || type == MNEMO_GGML_Q4_0;
}

static float half_at(const uint8_t *p) { return mnemo__f16_to_f32((uint16_t)(p[0] | p[1] << 8)); }

void mnemo__dequantize_row_q8_0(const void *src, float *out, size_t n) {
    const uint8_t *b = src;
    for (size_t i = 0; i < n / MNEMO_QK8_0; i++, b += MNEMO_Q8_0_BLOCK_BYTES) {
        float d = half_at(b);
        const int8_t *q = (const int8_t *)(b + 2);
        for (int j = 0; j < MNEMO_QK8_0; j++) out[i * MNEMO_QK8_0 + (size_t)j] = (float)q[j] * d;
    }
}

void mnemo__dequantize_row_q4_0(const void *src, float *out, size_t n) {
    const uint8_t *b = src;
    for (size_t i = 0; i < n / MNEMO_QK4_0; i++, b += MNEMO_Q4_0_BLOCK_BYTES) {
        float d = half_at(b);
        float *y = out + i * MNEMO_QK4_0;
        /* Byte j: element j in the low nibble, element j + 16 in the high one
         * (ggml's layout, not interleaved pairs). */
        for (int j = 0; j < MNEMO_QK4_0 / 2; j++) {
            uint8_t q = b[2 + j];
            y[j] = (float)((int)(q & 0x0F) - 8) * d;
            y[j + MNEMO_QK4_0 / 2] = (float)((int)(q >> 4) - 8) * d;
        }
    }
}

int mnemo__ggml_to_f32(int type, const void *src, size_t n, float *out) {
    if (!mnemo__ggml_type_supported(type)) return MNEMO_EUNSUPPORTED;
    if (n % mnemo__ggml_block_size(type) != 0) return MNEMO_EINVAL;
    const uint8_t *p = src;
    switch (type) {
    case MNEMO_GGML_F32:
        if (n) memcpy(out, p, n * sizeof(float)); /* little-endian host (gguf.c checks) */
        break;
    case MNEMO_GGML_F16:
        for (size_t i = 0; i < n; i++) out[i] = half_at(p + 2 * i);
        break;
    case MNEMO_GGML_BF16:
        for (size_t i = 0; i < n; i++)
            out[i] = mnemo__bf16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        break;
    case MNEMO_GGML_Q8_0: mnemo__dequantize_row_q8_0(src, out, n); break;
    case MNEMO_GGML_Q4_0: mnemo__dequantize_row_q4_0(src, out, n); break;
    }
    return MNEMO_OK;
}
