/*
 * alloc.c — the library's allocation functions, with a hook that makes the
 * N-th allocation fail so tests can prove every failure path (after
 * SQLite's fault injection). Not a pool allocator.
 */
#include "core.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Countdown: 0 = off; otherwise the number of allocations still allowed + 1. */
static _Atomic long fail_countdown = 0;

void mnemo__alloc_fail_after(long n) { atomic_store(&fail_countdown, n < 0 ? 0 : n); }

static bool should_fail(void) {
    long c = atomic_load(&fail_countdown);
    if (c == 0) return false;
    if (c == 1) return true; /* stays at 1: every later call fails too */
    atomic_fetch_sub(&fail_countdown, 1);
    return false;
}

void *mnemo__malloc(size_t n) { return should_fail() ? NULL : malloc(n ? n : 1); }
void *mnemo__calloc(size_t count, size_t size) {
    return should_fail() ? NULL : calloc(count ? count : 1, size ? size : 1);
}
void *mnemo__realloc(void *p, size_t n) { return should_fail() ? NULL : realloc(p, n ? n : 1); }
void *mnemo__malloc_array(size_t count, size_t size) {
    size_t total;
    if (!mnemo__mul_size(count, size, &total)) return NULL;
    return mnemo__malloc(total);
}
void mnemo__free(void *p) { free(p); }
void mnemo_free(void *p) { free(p); }

char *mnemo__strndup(const char *s, size_t n) {
    char *d = mnemo__malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}
