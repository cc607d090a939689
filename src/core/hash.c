/*
 * hash.c — a fast 64-bit non-cryptographic hash for hash tables and cache
 * keys: 8 bytes per step, multiply-xorshift mixing (the constants are the
 * usual odd 64-bit mixers). Not for anything an attacker must not collide.
 */
#include "core.h"

#include <string.h>

static inline uint64_t mix(uint64_t x) {
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    return x;
}

uint64_t mnemo__hash64(const void *data, size_t len, uint64_t seed) {
    const uint8_t *p = data;
    uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ull);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ mix(w + 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
        h = (h << 29) | (h >> 35);
        p += 8;
        len -= 8;
    }
    uint64_t tail = 0;
    memcpy(&tail, p, len);
    h ^= mix(tail ^ ((uint64_t)len << 56));
    return mix(h);
}
