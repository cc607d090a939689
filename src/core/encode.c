/*
 * encode.c — byte encodings of core.h: floats as little-endian bytes (the
 * memory export's vectors and model identity), base64 (RFC 4648, with
 * padding) and SHA-1 (FIPS 180-4), the two the WebSocket handshake (RFC 6455)
 * needs and base64 embeddings use. SHA-1 here is for that handshake and for
 * naming a model's fingerprint, not for security.
 */
#include "core.h"

#include <string.h>

void mnemo__f32_to_le(const float *v, size_t n, unsigned char *out) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        for (int k = 0; k < 4; k++) out[4 * i + (size_t)k] = (unsigned char)(u >> (8 * k));
    }
}

void mnemo__f32_from_le(const unsigned char *b, size_t n, float *out) {
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = b + 4 * i;
        /* one expression: gcc -fanalyzer took the loop that built it for a
         * read of an uninitialized value */
        uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24;
        memcpy(&out[i], &u, 4);
    }
}

size_t mnemo__base64_encode(const void *data, size_t n, char *out) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = data;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

static int b64_value(unsigned char c) {
    return c >= 'A' && c <= 'Z'   ? c - 'A'
           : c >= 'a' && c <= 'z' ? c - 'a' + 26
           : c >= '0' && c <= '9' ? c - '0' + 52
           : c == '+'             ? 62
           : c == '/'             ? 63
                                  : -1;
}

int mnemo__base64_decode(const char *in, size_t n, void *out, size_t cap, size_t *len,
                         size_t *bad) {
    unsigned char *o = out;
    *len = 0;
    *bad = n;
    if (n % 4) return 0;
    size_t need = n / 4 * 3 - (n && in[n - 1] == '=') - (n > 1 && in[n - 2] == '=');
    if (need > cap) return 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++) {
            v[k] = b64_value((unsigned char)in[i + k]);
            /* '=' only as the last one or two characters, and canonical:
             * the bits it leaves over are zero */
            int pad = in[i + k] == '=' && i + 4 == n && (k == 3 || (k == 2 && in[i + 3] == '='));
            if (v[k] < 0 && !pad) {
                *bad = i + (size_t)k;
                return 0;
            }
        }
        uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
                     (uint32_t)(v[2] < 0 ? 0 : v[2]) << 6 | (uint32_t)(v[3] < 0 ? 0 : v[3]);
        if ((v[2] < 0 && (x & 0xFFFF)) || (v[3] < 0 && (x & 0xFF))) {
            *bad = i + (v[2] < 0 ? 1u : 2u);
            return 0;
        }
        o[(*len)++] = (unsigned char)(x >> 16);
        if (v[2] >= 0) o[(*len)++] = (unsigned char)(x >> 8);
        if (v[3] >= 0) o[(*len)++] = (unsigned char)x;
    }
    return 1;
}

static uint32_t rol(uint32_t x, int k) { return x << k | x >> (32 - k); }

static void sha1_block(uint32_t h[5], const unsigned char *b) {
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
               (uint32_t)b[4 * i + 2] << 8 | b[4 * i + 3];
    for (int i = 16; i < 80; i++) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20)
            f = (bb & c) | (~bb & d), k = 0x5A827999;
        else if (i < 40)
            f = bb ^ c ^ d, k = 0x6ED9EBA1;
        else if (i < 60)
            f = (bb & c) | (bb & d) | (c & d), k = 0x8F1BBCDC;
        else
            f = bb ^ c ^ d, k = 0xCA62C1D6;
        uint32_t t = rol(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rol(bb, 30);
        bb = a;
        a = t;
    }
    h[0] += a;
    h[1] += bb;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void mnemo__sha1(const void *data, size_t n, unsigned char digest[20]) {
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    const unsigned char *p = data;
    size_t i = 0;
    for (; i + 64 <= n; i += 64) sha1_block(h, p + i);
    unsigned char last[128] = {0};
    size_t rest = n - i, blocks = rest + 9 > 64 ? 2 : 1;
    if (rest) memcpy(last, p + i, rest);
    last[rest] = 0x80;
    uint64_t bits = (uint64_t)n * 8;
    for (int k = 0; k < 8; k++) last[blocks * 64 - 1 - k] = (unsigned char)(bits >> (8 * k));
    for (size_t b = 0; b < blocks; b++) sha1_block(h, last + 64 * b);
    for (int k = 0; k < 5; k++) {
        digest[4 * k] = (unsigned char)(h[k] >> 24);
        digest[4 * k + 1] = (unsigned char)(h[k] >> 16);
        digest[4 * k + 2] = (unsigned char)(h[k] >> 8);
        digest[4 * k + 3] = (unsigned char)h[k];
    }
}
