/*
 * ops.c — the element-wise ops of the forward pass in portable C, all in f32
 * (norms, softmax and activations stay f32 at every precision: only the
 * linear layers' operands are rounded). Written as plain
 * loops the compiler vectorizes; their cost is small next to the GEMMs.
 */
#include "kernels.h"

#include <math.h>

/* RMSNorm's 1 / sqrt(mean(x²) + eps) */
static float rms_scale(const float *x, size_t n, float eps) {
    double ss = 0.0; /* f64 sum: n is at most a few thousand, and it costs nothing */
    for (size_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
    return 1.0f / sqrtf((float)(ss / (double)n) + eps);
}

void mnemo__rmsnorm(float *out, const float *x, const float *gamma, size_t n, float eps) {
    float scale = rms_scale(x, n, eps);
    for (size_t i = 0; i < n; i++) out[i] = x[i] * scale * gamma[i];
}

void mnemo__add_rmsnorm(float *x, const float *s, const float *g1, const float *g2, float *out,
                        size_t n, float eps) {
    float scale = rms_scale(s, n, eps);
    for (size_t i = 0; i < n; i++) x[i] += s[i] * scale * g1[i];
    mnemo__rmsnorm(out, x, g2, n, eps);
}

float mnemo__dot_f32(const float *a, const float *b, size_t n) {
    float s[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) s[j] += a[i + j] * b[i + j];
    float t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    for (; i < n; i++) t += a[i] * b[i];
    return t;
}

int32_t mnemo__dot_i8(const int8_t *a, const int8_t *b, size_t n) {
    int32_t t = 0;
    for (size_t i = 0; i < n; i++) t += (int32_t)a[i] * b[i];
    return t;
}

/* Without -mpopcnt the builtin may be a call per word; the AVX2 table has
 * the same loop compiled with the instruction. */
void mnemo__hamming(const uint64_t *q, const uint64_t *codes, size_t words, size_t n,
                    uint32_t *out) {
    for (size_t i = 0; i < n; i++, codes += words) {
        uint32_t d = 0;
        for (size_t w = 0; w < words; w++) d += (uint32_t)__builtin_popcountll(q[w] ^ codes[w]);
        out[i] = d;
    }
}

void mnemo__rope(float *x, size_t d, const float *cos_t, const float *sin_t) {
    size_t h = d / 2;
    for (size_t i = 0; i < h; i++) {
        float a = x[i], b = x[i + h];
        x[i] = a * cos_t[i] - b * sin_t[i];
        x[i + h] = b * cos_t[i] + a * sin_t[i];
    }
}

void mnemo__gelu_tanh_mul(float *out, const float *gate, const float *up, size_t n) {
    const float c = 0.7978845608028654f; /* sqrt(2/pi) */
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        float t = tanhf(c * (g + 0.044715f * g * g * g));
        out[i] = 0.5f * g * (1.0f + t) * up[i];
    }
}

/* x = exp(x - max(x)) in place; returns the sum (both softmaxes' first part) */
static float exp_shifted(float *x, size_t n) {
    float mx = -INFINITY;
    for (size_t i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    float sum = 0.0f;
    for (size_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    return sum;
}

void mnemo__softmax(float *x, size_t n) {
    float inv = 1.0f / exp_shifted(x, n);
    for (size_t i = 0; i < n; i++) x[i] *= inv;
}

void mnemo__softmax_window(float *x, size_t n, size_t lo, size_t hi, float scale) {
    for (size_t i = 0; i < lo; i++) x[i] = 0.0f;
    for (size_t i = lo; i < hi; i++) x[i] *= scale;
    mnemo__softmax(x + lo, hi - lo);
    for (size_t i = hi; i < n; i++) x[i] = 0.0f;
}

float mnemo__softmax_window_i16(float *x, size_t n, size_t lo, size_t hi, float scale, int16_t *q) {
    for (size_t i = lo; i < hi; i++) x[i] *= scale;
    float sum = exp_shifted(x + lo, hi - lo);
    float cap = ((float)MNEMO_ATTN_P_SUM - (float)(n / 2)) / sum;
    float g = cap < 32767.0f ? cap : 32767.0f;
    for (size_t i = 0; i < lo; i++) q[i] = 0;
    for (size_t i = lo; i < hi; i++) q[i] = (int16_t)lrintf(x[i] * g);
    for (size_t i = hi; i < (n + 1) / 2 * 2; i++) q[i] = 0;
    return 1.0f / (g * sum);
}

void mnemo__l2_normalize(float *v, size_t n) {
    double ss = 0.0;
    for (size_t i = 0; i < n; i++) ss += (double)v[i] * v[i];
    if (ss <= 0.0) return;
    float inv = (float)(1.0 / sqrt(ss));
    for (size_t i = 0; i < n; i++) v[i] *= inv;
}
