/*
 * transfer.c — `mnemo memory export` and `mnemo memory import`: the store's
 * JSON lines (src/store/transfer.c) to a file or stdout and back, with the
 * flags, the messages naming each bad line, and the import's summary. Not
 * the format itself (docs/memories.md, "Export and import").
 */
#include "../store/store_api.h"
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int mnemo__cli_memory_export(const mnemo_settings *s, int argc, char **argv) {
    (void)argv;
    if (argc) {
        mnemo__cli_error("memory export",
                         "takes no arguments: the file is --output FILE (or -o FILE; default "
                         "stdout)");
        return 2;
    }
    const char *path = s->output && strcmp(s->output, "-") ? s->output : NULL;
    mnemo_model *model;
    mnemo_store *store;
    int rc = mnemo__cli_open_store(s, "memory export", &model, &store);
    if (rc) return rc;
    /* a file is written whole or not at all: beside it, then renamed */
    char tmp[4200];
    FILE *f = stdout;
    if (path) {
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        if (!(f = fopen(tmp, "w"))) {
            mnemo__cli_error("memory export", "%s: %s", tmp, strerror(errno));
            rc = 1;
        }
    }
    mnemo_export_options eo = {.scope = {.ns = s->ns,
                                         .user_id = s->user_id,
                                         .agent_id = s->agent_id,
                                         .session_id = s->session_id},
                               .filter = s->filter,
                               .vectors = s->vectors};
    size_t n = 0;
    mnemo_error err;
    if (!rc && mnemo__store_export(store, &eo, f, &n, &err)) {
        mnemo__cli_error("memory export", "%s", err.message);
        rc = err.code == MNEMO_EINVAL ? 2 : 1;
    }
    if (path && f) {
        if (fclose(f) && !rc) {
            mnemo__cli_error("memory export", "%s: %s", tmp, strerror(errno));
            rc = 1;
        }
        /* fsync, rename, the folder's fsync (it unlinks tmp when it fails) */
        if (!rc && mnemo__file_commit(tmp, path, &err)) {
            mnemo__cli_error("memory export", "%s", err.message);
            rc = 1;
        }
        if (rc) unlink(tmp);
        if (!rc) printf("{\"exported\": %zu, \"file\": \"%s\"}\n", n, path);
    }
    mnemo_store_close(store);
    mnemo_model_close(model);
    return rc;
}

static void report_line(void *ctx, long line_no, const char *message) {
    fprintf(stderr, "mnemo memory import: %s: line %ld: %s\n", (const char *)ctx, line_no, message);
}

int mnemo__cli_memory_import(const mnemo_settings *s, int argc, char **argv) {
    if (argc != 1) {
        mnemo__cli_error("memory import",
                         "give one file of JSON lines (as mnemo memory export writes them), or - "
                         "for stdin");
        return 2;
    }
    if (s->batch < 1 || s->batch > MNEMO_IMPORT_MAX_BATCH) {
        mnemo__cli_error("memory import", "--batch %ld is out of range 1..%d", s->batch,
                         MNEMO_IMPORT_MAX_BATCH);
        return 2;
    }
    const char *path = strcmp(argv[0], "-") ? argv[0] : NULL;
    FILE *f = path ? fopen(path, "r") : stdin;
    if (!f) {
        mnemo__cli_error("memory import", "%s: %s", path, strerror(errno));
        return errno == ENOENT ? 2 : 1;
    }
    mnemo_model *model;
    mnemo_store *store;
    int rc = mnemo__cli_open_store(s, "memory import", &model, &store);
    if (rc) {
        if (path) fclose(f);
        return rc;
    }
    mnemo_import_options io = {
        .batch = (size_t)s->batch, .report = report_line, .ctx = path ? (void *)path : "stdin"};
    mnemo_import_report rep;
    mnemo_error err;
    if (mnemo__store_import(store, f, &io, &rep, &err)) {
        mnemo__cli_error("memory import", "%s (the batches before it are imported)", err.message);
        rc = 1;
    }
    if (path) fclose(f);
    if (rep.exists)
        mnemo__cli_error("memory import",
                         "%zu memories skipped: the store has their ids already (imported before?)",
                         rep.exists);
    if (rep.expired)
        mnemo__cli_error("memory import", "%zu memories skipped: expired already", rep.expired);
    if (rep.failed_batches) {
        mnemo__cli_error("memory import",
                         "%zu lines in %zu batches not imported: each batch is one transaction, "
                         "and a bad line fails its batch (see above). Fix the lines and import "
                         "the file again: the ids imported already are skipped",
                         rep.failed, rep.failed_batches);
        rc = rc ? rc : 1;
    }
    printf("{\"imported\": %zu, \"re_embedded\": %zu, \"skipped\": {\"exists\": %zu, \"expired\": "
           "%zu}, \"failed\": %zu, \"failed_batches\": %zu, \"lines\": %zu}\n",
           rep.imported, rep.re_embedded, rep.exists, rep.expired, rep.failed, rep.failed_batches,
           rep.lines);
    mnemo_store_close(store);
    mnemo_model_close(model);
    return rc;
}
