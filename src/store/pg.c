/*
 * pg.c — the PostgreSQL backend of the memory store (stub until the backend lands).
 */
#include "store.h"

int mnemo__pg_open(const mnemo_store_options *opts, mnemo_store **out, mnemo_error *err) {
    (void)opts;
    *out = NULL;
    return mnemo__fail(err, MNEMO_EUNSUPPORTED, "PostgreSQL stores are not built in yet");
}
