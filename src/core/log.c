/*
 * log.c — the one logging function (every part logs through it): levels, logfmt
 * key=value fields, one line per event on stderr. Not for user-facing output
 * of commands (that goes to stdout) or for error messages returned in a
 * mnemo_error.
 */
#include "core.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static _Atomic int log_level = MNEMO_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void mnemo__log_set_level(mnemo_log_level level) { atomic_store(&log_level, (int)level); }
mnemo_log_level mnemo__log_get_level(void) { return (mnemo_log_level)atomic_load(&log_level); }

int mnemo__log_level_parse(const char *s) {
    for (int i = 0; i <= MNEMO_LOG_OFF; i++)
        if (strcasecmp(s, level_names[i]) == 0) return i;
    return -1;
}

const char *mnemo__log_quote(char *buf, size_t cap, const char *s) {
    if (cap == 0) return buf;
    bool plain = *s != '\0';
    for (const char *p = s; *p; p++)
        if (*p == ' ' || *p == '"' || *p == '=' || (unsigned char)*p < 0x20) plain = false;
    if (plain) {
        snprintf(buf, cap, "%s", s);
        return buf;
    }
    size_t o = 0;
    buf[o++] = '"';
    for (const char *p = s; *p && o + 3 < cap; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c == '\n') {
            buf[o++] = '\\';
            buf[o++] = 'n';
        } else if (c < 0x20) {
            buf[o++] = '?';
        } else {
            buf[o++] = (char)c;
        }
    }
    if (o + 1 < cap) buf[o++] = '"';
    buf[o < cap ? o : cap - 1] = '\0';
    return buf;
}

void mnemo__log(mnemo_log_level level, const char *event, const char *fields, ...) {
    if ((int)level < atomic_load(&log_level) || level >= MNEMO_LOG_OFF) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char line[2048];
    int n = snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s event=%s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, level_names[level], event);
    if (n < 0) return;
    if (fields && (size_t)n + 1 < sizeof line) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, fields);
        int m = vsnprintf(line + n, sizeof line - (size_t)n, fields, ap);
        va_end(ap);
        if (m > 0) n += m;
    }
    if ((size_t)n >= sizeof line - 1) n = (int)sizeof line - 2;
    line[n++] = '\n';
    fwrite(line, 1, (size_t)n, stderr); /* one write per line: lines never interleave */
}
