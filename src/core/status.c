/*
 * status.c — status codes and error messages: mnemo_strerror() and friends,
 * generated from MNEMO_STATUS_MAP in mnemo.h, plus the helpers that fill a
 * mnemo_error. Nothing here allocates.
 */
#include "core.h"

#include <stdio.h>
#include <string.h>

const char *mnemo_version(void) { return MNEMO_VERSION_STRING; }

const char *mnemo_strerror(int status) {
    switch (status) {
#define MNEMO_STATUS_TEXT_(name, code, text) \
    case code: return text;
        MNEMO_STATUS_MAP(MNEMO_STATUS_TEXT_)
#undef MNEMO_STATUS_TEXT_
    default: return "unknown status";
    }
}

const char *mnemo_status_name(int status) {
    switch (status) {
#define MNEMO_STATUS_NAME_(name, code, text) \
    case code: return #name;
        MNEMO_STATUS_MAP(MNEMO_STATUS_NAME_)
#undef MNEMO_STATUS_NAME_
    default: return "UNKNOWN";
    }
}

void mnemo__error_set(mnemo_error *err, int code, const char *fmt, va_list ap) {
    if (!err) return;
    err->code = code;
    vsnprintf(err->message, sizeof err->message, fmt, ap);
}

int mnemo__fail_prefix(mnemo_error *err, const char *fmt, ...) {
    if (!err) return MNEMO_EINTERNAL;
    char prefix[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char joined[sizeof prefix + sizeof err->message + 2];
    snprintf(joined, sizeof joined, "%s: %s", prefix, err->message);
    memcpy(err->message, joined, sizeof err->message - 1);
    err->message[sizeof err->message - 1] = '\0';
    return err->code;
}
