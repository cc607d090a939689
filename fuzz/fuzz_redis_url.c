/*
 * fuzz_redis_url.c — libFuzzer target for the --cache-redis URL parser
 * (mnemo__redis_url_parse): any bytes, up to the first NUL, as the URL. A
 * refusal must leave nothing allocated and say why; an accepted URL must
 * name exactly one of a host or an absolute socket path, a port in
 * 1..65535, a database in 0..2^20, strings that end inside what was
 * allocated (ASan checks each strlen) and no longer than the URL, and
 * mnemo__redis_url_free must free them all (the leak checker) and zero the
 * struct. Parsing the same text twice gives the same answer. Seeds:
 * fuzz/corpus/redis_url.
 *
 *   build-fuzz/fuzz/fuzz_redis_url -max_len=512 fuzz/corpus/redis_url
 */
#include "service/service.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_str(const char *a, const char *b) {
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static bool no_strings(const mnemo_redis_url *u) {
    return !u->host && !u->socket_path && !u->user && !u->password;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *url = malloc(size + 1);
    if (!url) return 0;
    memcpy(url, data, size);
    url[size] = 0;
    size_t url_len = strlen(url);
    mnemo_redis_url u, again;
    mnemo_error err, err2;
    err.message[0] = 0;
    int rc = mnemo__redis_url_parse(url, &u, &err);
    int rc2 = mnemo__redis_url_parse(url, &again, &err2);
    if (rc != rc2) abort();
    if (rc != MNEMO_OK) {
        if (rc != MNEMO_EINVAL && rc != MNEMO_ENOMEM) abort();
        if (!err.message[0] || strcmp(err.message, err2.message) != 0) abort();
        if (!no_strings(&u) || !no_strings(&again)) abort(); /* nothing left allocated */
        free(url);
        return 0;
    }
    if (!u.host == !u.socket_path) abort(); /* one or the other */
    if (u.port < 1 || u.port > 65535 || u.db < 0 || u.db > (1L << 20)) abort();
    if (u.host && (!u.host[0] || strlen(u.host) > url_len || strchr(u.host, '/'))) abort();
    if (u.socket_path && (u.socket_path[0] != '/' || strlen(u.socket_path) < 2 ||
                          strlen(u.socket_path) > url_len || u.port != 6379))
        abort();
    if (u.user && (!u.password || strlen(u.user) > url_len))
        abort(); /* a user comes with a password */
    if (u.password && strlen(u.password) > url_len) abort();
    if (!same_str(u.host, again.host) || !same_str(u.socket_path, again.socket_path) ||
        !same_str(u.user, again.user) || !same_str(u.password, again.password) ||
        u.port != again.port || u.db != again.db)
        abort();
    mnemo__redis_url_free(&u);
    mnemo__redis_url_free(&again);
    if (!no_strings(&u) || u.port != 0 || u.db != 0) abort();
    mnemo__redis_url_free(&u); /* twice is harmless: the struct is zeroed */
    free(url);
    return 0;
}
