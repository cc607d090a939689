/*
 * core.h — the internal header of the core part: errors, logging, checked
 * arithmetic, allocation hooks, hashing, time and file mapping. Every other
 * part calls core only through this header. Not public: users see mnemo.h.
 */
#ifndef MNEMO_CORE_H
#define MNEMO_CORE_H

#include "mnemo.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define MNEMO_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MNEMO_PRINTF(a, b)
#endif

/* ------------------------------------------------------------- errors */

/* Fills `err` (may be NULL) with `code` and the message fmt, ap. */
void mnemo__error_set(mnemo_error *err, int code, const char *fmt, va_list ap) MNEMO_PRINTF(3, 0);
/* Fills `err` (may be NULL) with `code` and a formatted message; returns code,
 * so callers write `return mnemo__fail(err, MNEMO_EFORMAT, "...", ...)`.
 * Inline so that the caller's compiler sees it returns code (an error, never
 * MNEMO_OK): gcc -fanalyzer then does not follow a failed call as if it had
 * succeeded. */
static inline int mnemo__fail(mnemo_error *err, int code, const char *fmt, ...) MNEMO_PRINTF(3, 4);
static inline int mnemo__fail(mnemo_error *err, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    mnemo__error_set(err, code, fmt, ap);
    va_end(ap);
    return code;
}
/* Prepends "prefix: " to an error message already in `err`. Returns err->code. */
int mnemo__fail_prefix(mnemo_error *err, const char *fmt, ...) MNEMO_PRINTF(2, 3);

/* ------------------------------------------------------------ logging */

typedef enum mnemo_log_level {
    MNEMO_LOG_DEBUG = 0,
    MNEMO_LOG_INFO = 1,
    MNEMO_LOG_WARN = 2,
    MNEMO_LOG_ERROR = 3,
    MNEMO_LOG_OFF = 4
} mnemo_log_level;

/*
 * The one logging function: one line per event on stderr, logfmt style:
 *   ts=2026-11-25T07:50:01.123Z level=info event=tokenizer.load path=... ms=12.5
 * `fields` is a printf format producing the key=value pairs (may be NULL).
 * Values with spaces should be quoted by the caller with %q-like care; use
 * mnemo__log_quote() for untrusted strings.
 */
void mnemo__log(mnemo_log_level level, const char *event, const char *fields, ...)
    MNEMO_PRINTF(3, 4);
void mnemo__log_set_level(mnemo_log_level level);
mnemo_log_level mnemo__log_get_level(void);
/* Parses "debug|info|warn|error|off"; returns -1 if unknown. */
int mnemo__log_level_parse(const char *s);
/* Writes `s` as a logfmt value (quoted and escaped when needed) into buf. */
const char *mnemo__log_quote(char *buf, size_t cap, const char *s);

/* ------------------------------------------------- checked arithmetic */

/* Return false (and leave *out unspecified) on overflow. */
static inline bool mnemo__add_size(size_t a, size_t b, size_t *out) {
    return !__builtin_add_overflow(a, b, out);
}
static inline bool mnemo__mul_size(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}

/* ------------------------------------------------ bfloat16 conversions */

/* bfloat16 -> f32: exact (bf16 is the top half of an f32). */
static inline float mnemo__bf16_to_f32(uint16_t h) {
    uint32_t b = (uint32_t)h << 16;
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}
/* f32 -> bfloat16, round to nearest, ties to even (as vcvtneps2bf16);
 * overflow gives inf; NaN stays NaN (made quiet, sign kept). Inline: the
 * engine converts activations with it in loops. */
static inline uint16_t mnemo__f32_to_bf16(float f) {
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    /* NaN: truncating could clear every mantissa bit and make inf; keep the
     * top bits and set the quiet bit. */
    if ((b & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((b >> 16) | 0x0040u);
    /* Round to nearest even: add just under half an ulp, plus one if the kept
     * part is odd. Finite values near the top round to inf, as they should. */
    b += 0x7FFFu + ((b >> 16) & 1u);
    return (uint16_t)(b >> 16);
}

/* --------------------------------------------------------- allocation */

/*
 * All library allocations go through these, so tests can make the N-th call
 * fail and prove each failure path. mnemo__alloc_fail_after(n): the n-th allocation
 * from now (1-based) and every one after it fail; 0 turns failures off.
 */
void *mnemo__malloc(size_t n);
void *mnemo__calloc(size_t count, size_t size);
void *mnemo__realloc(void *p, size_t n);
void *mnemo__malloc_array(size_t count, size_t size); /* overflow-checked */
void mnemo__free(void *p);
char *mnemo__strndup(const char *s, size_t n);
void mnemo__alloc_fail_after(long n);

/* ------------------------------------------------------------ hashing */

/* A fast 64-bit non-cryptographic hash (for tables and cache keys). */
uint64_t mnemo__hash64(const void *data, size_t len, uint64_t seed);

/* Base64 (RFC 4648, padded) of n bytes into out (room for 4 * ceil(n / 3) + 1,
 * NUL-terminated); returns the length written. */
size_t mnemo__base64_encode(const void *data, size_t n, char *out);
/* The bytes of n characters of padded base64 into out (cap bytes); *len
 * how many. Returns 1, or 0 when in is not canonical base64 (*bad: the
 * offset of the first wrong character, n for a wrong length) or out is too
 * small. */
int mnemo__base64_decode(const char *in, size_t n, void *out, size_t cap, size_t *len, size_t *bad);
/* n floats as 4n bytes, each little-endian IEEE 754 (a file's or a hash's
 * bytes, the same on any host), and back. */
void mnemo__f32_to_le(const float *v, size_t n, unsigned char *out);
void mnemo__f32_from_le(const unsigned char *b, size_t n, float *out);
/* SHA-1 of n bytes (for the WebSocket handshake, not for security). */
void mnemo__sha1(const void *data, size_t n, unsigned char digest[20]);

/* --------------------------------------------------------------- time */

/* Monotonic clock in seconds. */
double mnemo__now(void);

/* ------------------------------------------------------------- files */

/* A read-only view of a whole file: memory-mapped (or empty for size 0). */
typedef struct mnemo_file_map {
    const uint8_t *data;
    size_t size;
    void *base_; /* for munmap */
} mnemo_file_map;

/* Maps `path` read-only. Errors: ENOENT, EIO (message names the path). */
int mnemo__file_map(const char *path, mnemo_file_map *map, mnemo_error *err);
void mnemo__file_unmap(mnemo_file_map *map);
/* Tells the kernel the pages wholly inside [p, p + n) of a read-only file
 * mapping are not needed now (they are re-read if touched): keeps RSS down
 * after weights were copied into another layout. */
void mnemo__release_pages(const void *p, size_t n);
/* Non-zero when `path` is a directory. */
int mnemo__is_dir(const char *path);
/* Writes a file atomically (temp file + fsync + rename). */
/* Puts the written file tmp in place as path for good: fsync it, rename it,
 * fsync the folder. On a failure tmp is removed. Errors: EIO. */
int mnemo__file_commit(const char *tmp, const char *path, mnemo_error *err);
int mnemo__file_write_atomic(const char *path, const void *data, size_t size, mnemo_error *err);
/* The same from pieces written in order (data NULL: `size` zero bytes), so a
 * large file never needs one buffer holding all of it. */
typedef struct mnemo_piece {
    const void *data;
    size_t size;
} mnemo_piece;
int mnemo__file_write_atomic_pieces(const char *path, const mnemo_piece *pieces, size_t n,
                                    mnemo_error *err);
/* mkdir -p. */
int mnemo__mkdirs(const char *path, mnemo_error *err);
/* The cache folder: explicit `dir` if non-NULL, else $MNEMO_CACHE_DIR, else
 * $XDG_CACHE_HOME/mnemo, else $HOME/.cache/mnemo. Writes into buf. Returns
 * false when no folder can be named. */
bool mnemo__cache_dir(const char *dir, char *buf, size_t cap);

/* ------------------------------------------------------------ threads */

/*
 * A persistent pool of worker threads for parallel loops (GEMM column blocks,
 * attention heads). The caller takes part as worker 0, so a pool of n threads
 * starts n-1 of its own. One pool serves one caller at a time.
 */
typedef struct mnemo_pool mnemo_pool;
/* fn(ctx, task, worker): task in [0, n_tasks), worker in [0, pool size). */
typedef void (*mnemo_task_fn)(void *ctx, size_t task, int worker);

/* n_threads <= 0: the CPUs this process may run on (affinity mask). */
int mnemo__pool_create(int n_threads, mnemo_pool **out, mnemo_error *err);
void mnemo__pool_destroy(mnemo_pool *pool);
int mnemo__pool_size(const mnemo_pool *pool);
/* Runs fn for every task, spread over the workers; returns when all are done. */
void mnemo__pool_run(mnemo_pool *pool, size_t n_tasks, mnemo_task_fn fn, void *ctx);
/* CPUs in this process's affinity mask (at least 1). */
int mnemo__cpu_count(void);

/* ------------------------------------------------------------- UTF-8 */

/* Decodes one code point at s[0..len) that is known to be valid UTF-8;
 * returns its byte length (1..4). */
static inline int mnemo__utf8_len(uint8_t lead) {
    return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

#endif /* MNEMO_CORE_H */
