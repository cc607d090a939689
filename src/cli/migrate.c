/*
 * migrate.c — `mnemo migrate --from sqlite:DIR --to postgres://...`: the
 * SQLite store copied into PostgreSQL by the store part (pg_migrate.c); the
 * counts printed as one JSON line. Not the copy itself.
 */
#include "../store/store_api.h"
#include "cli.h"

#include <stdio.h>

int mnemo__cmd_migrate(const mnemo_settings *s, int argc, char **argv) {
    (void)argv;
    if (argc) {
        mnemo__cli_error("migrate",
                         "takes no arguments (give --from sqlite:DIR and --to postgres://...)");
        return 2;
    }
    if (!s->from || !s->to) {
        mnemo__cli_error("migrate", "give --from sqlite:DIR and --to postgres://USER@HOST:PORT/DB");
        return 2;
    }
    mnemo_migrate_report rep;
    mnemo_error err;
    int rc = mnemo__store_migrate(s->from, s->to, s->force, &rep, &err);
    if (rc) {
        mnemo__cli_error("migrate", "%s", err.message);
        return rc == MNEMO_EINVAL || rc == MNEMO_ENOENT ? 2 : 1;
    }
    printf("{\"memories\": %zu, \"skipped\": %zu, \"history\": %zu}\n", rep.memories, rep.skipped,
           rep.history);
    return 0;
}
