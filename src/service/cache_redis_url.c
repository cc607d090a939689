/*
 * cache_redis_url.c — the --cache-redis URL of service.h: redis://[[user]:
 * password@]host[:port][/db] and unix:///path[?db=N] (redis+unix:// too) into
 * a mnemo_redis_url, or EINVAL saying what a valid URL looks like. Not the
 * connection (cache_redis.c).
 */
#include "service.h"

#include <ctype.h>
#include <string.h>

static char *dup_range(const char *p, size_t n) { return mnemo__strndup(p, n); }

/* %XX escapes, as URLs carry a password with '@' or ':' in it. */
static int hex_digit(char ch) {
    return ch >= '0' && ch <= '9'   ? ch - '0'
           : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
           : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                    : -1;
}

static char *dup_decoded(const char *p, size_t n) {
    char *out = mnemo__malloc(n + 1);
    if (!out) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '%' && i + 2 < n && hex_digit(p[i + 1]) >= 0 && hex_digit(p[i + 2]) >= 0) {
            out[k++] = (char)(hex_digit(p[i + 1]) * 16 + hex_digit(p[i + 2]));
            i += 2;
        } else {
            out[k++] = p[i];
        }
    }
    out[k] = 0;
    return out;
}

static int url_fail(mnemo_error *err, const char *url, const char *why) {
    return mnemo__fail(err, MNEMO_EINVAL,
                       "--cache-redis '%s': %s; expected "
                       "redis://[:PASSWORD@]HOST[:PORT][/DB] or unix:///PATH/redis.sock[?db=N]",
                       url, why);
}

static bool parse_number(const char *p, size_t n, long lo, long hi, long *out) {
    if (n == 0 || n > 10) return false;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return false;
        v = v * 10 + (p[i] - '0');
    }
    if (v < lo || v > hi) return false;
    *out = v;
    return true;
}

/* "[user]:password@" at the start of rest: split off into u. */
static int parse_userinfo(const char *url, const char **rest, mnemo_redis_url *u,
                          mnemo_error *err) {
    const char *at = strchr(*rest, '@');
    const char *slash = strchr(*rest, '/');
    /* none, or an '@' that belongs to the path (unix:///a@b.sock, redis://h/0@) */
    if (!at || **rest == '/' || (slash && slash < at)) return MNEMO_OK;
    const char *colon = memchr(*rest, ':', (size_t)(at - *rest));
    if (!colon)
        return url_fail(err, url, "the part before '@' must be ':PASSWORD' or 'USER:PASSWORD'");
    if (colon > *rest) u->user = dup_decoded(*rest, (size_t)(colon - *rest));
    u->password = dup_decoded(colon + 1, (size_t)(at - colon - 1));
    if (!u->password || (colon > *rest && !u->user))
        return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    *rest = at + 1;
    return MNEMO_OK;
}

int mnemo__redis_url_parse(const char *url, mnemo_redis_url *u, mnemo_error *err) {
    memset(u, 0, sizeof *u);
    u->port = 6379;
    if (!url || !*url) return url_fail(err, "", "empty");
    const char *rest;
    int rc;
    if (!strncmp(url, "rediss://", 9))
        return url_fail(err, url,
                        "TLS (rediss://) is not supported: use a unix socket or a TLS tunnel");
    if (!strncmp(url, "unix://", 7) || !strncmp(url, "redis+unix://", 13)) {
        rest = url + (url[0] == 'u' ? 7 : 13);
        if ((rc = parse_userinfo(url, &rest, u, err))) goto fail;
        const char *q = strchr(rest, '?');
        size_t plen = q ? (size_t)(q - rest) : strlen(rest);
        /* "/" alone (unix:///?db=1 too) names a folder, not a socket */
        if (rest[0] != '/' || plen < 2) {
            rc =
                url_fail(err, url, "a unix socket needs an absolute path (unix:///run/redis.sock)");
            goto fail;
        }
        if (q &&
            (strncmp(q, "?db=", 4) || !parse_number(q + 4, strlen(q + 4), 0, 1L << 20, &u->db))) {
            rc = url_fail(err, url, "the only query allowed is ?db=N (a database number)");
            goto fail;
        }
        if (!(u->socket_path = dup_range(rest, plen))) goto oom;
        return MNEMO_OK;
    }
    if (strncmp(url, "redis://", 8)) {
        rc = url_fail(err, url, "unknown scheme");
        goto fail;
    }
    rest = url + 8;
    if ((rc = parse_userinfo(url, &rest, u, err))) goto fail;
    const char *host = rest, *host_end;
    if (*rest == '[') {
        /* the address ends at its ']', which must come before the path's '/' */
        host_end = rest + 1 + strcspn(rest + 1, "]/");
        if (*host_end != ']') {
            rc = url_fail(err, url, "an IPv6 address needs its closing ']'");
            goto fail;
        }
        host++;
        rest = host_end + 1;
    } else {
        host_end = rest + strcspn(rest, ":/");
        rest = host_end;
    }
    if (host_end == host) {
        rc = url_fail(err, url, "no host");
        goto fail;
    }
    /* a bracketed address may carry a zone, its '%' written "%25" as RFC
     * 6874 has it ("[fe80::1%25eth0]"): decoded for hiredis; nothing else
     * in the brackets may be encoded, so no '/' or NUL can come out */
    bool bracketed = host > url && host[-1] == '[';
    for (const char *c = host; bracketed && c < host_end; c++)
        if (!(isalnum((unsigned char)*c) || strchr(":.-_~", *c) ||
              (*c == '%' && host_end - c >= 3 && c[1] == '2' && c[2] == '5'))) {
            rc = url_fail(err, url,
                          "an IPv6 address holds hex digits and ':' (a zone after %25: "
                          "letters, digits, . - _ ~)");
            goto fail;
        }
    if (!(u->host = bracketed ? dup_decoded(host, (size_t)(host_end - host))
                              : dup_range(host, (size_t)(host_end - host))))
        goto oom;
    if (*rest == ':') {
        size_t n = strcspn(rest + 1, "/");
        long port;
        if (!parse_number(rest + 1, n, 1, 65535, &port)) {
            rc = url_fail(err, url, "the port must be a number 1..65535");
            goto fail;
        }
        u->port = (int)port;
        rest += 1 + n;
    }
    if (*rest == '/' && rest[1]) {
        if (!parse_number(rest + 1, strlen(rest + 1), 0, 1L << 20, &u->db)) {
            rc = url_fail(err, url, "the path must be a database number (/0, /1, ...)");
            goto fail;
        }
    } else if (*rest && strcmp(rest, "/")) {
        rc = url_fail(err, url, "unexpected text after the host");
        goto fail;
    }
    return MNEMO_OK;
oom:
    rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
fail:
    mnemo__redis_url_free(u);
    return rc;
}

void mnemo__redis_url_free(mnemo_redis_url *u) {
    if (!u) return;
    mnemo__free(u->host);
    mnemo__free(u->socket_path);
    mnemo__free(u->user);
    mnemo__free(u->password);
    memset(u, 0, sizeof *u);
}
