/*
 * backup.c — a consistent copy of a SQLite store while it serves. The copy
 * is made on one of the store's read connections by VACUUM INTO: one read
 * transaction, so it holds exactly the memories committed when it began, and
 * in WAL mode writers go on meanwhile (they are never blocked by a reader).
 * It is written as OUT/memories.db.tmp, checked by PRAGMA integrity_check on
 * a connection of its own, made durable (fsync) and only then renamed to
 * OUT/memories.db: a backup that is reported done is whole. OUT is a data
 * folder: `mnemo serve --data-dir OUT` opens it (the vector index and its
 * graph are rebuilt from the rows). PostgreSQL has its own tools
 * (docs/operations.md: pg_dump of the mnemo_ tables).
 */
#include "sqlite.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* "ok", or the first problem integrity_check reports, into why. */
static int check_copy(const char *path, size_t *n_memories, char *why, size_t cap) {
    sqlite3 *db = NULL;
    int ok = 0;
    snprintf(why, cap, "cannot open the copy");
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW) {
            const char *t = (const char *)sqlite3_column_text(st, 0);
            snprintf(why, cap, "%s", t ? t : "no answer");
            ok = t && !strcmp(t, "ok");
        }
        sqlite3_finalize(st);
        st = NULL;
        if (ok &&
            sqlite3_prepare_v2(db, "SELECT count(*) FROM memories", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            *n_memories = (size_t)sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return ok;
}

int mnemo__sqlite_backup(mnemo_store *s, const char *out_dir, mnemo_backup_report *rep,
                         mnemo_error *err) {
    char path[4200], tmp[4200];
    if (snprintf(path, sizeof path, "%s/memories.db", out_dir) >= (int)sizeof path ||
        snprintf(tmp, sizeof tmp, "%s/memories.db.tmp", out_dir) >= (int)sizeof tmp)
        return mnemo__fail(err, MNEMO_EINVAL, "backup folder name too long");
    struct stat sb;
    if (stat(path, &sb) == 0)
        return mnemo__fail(err, MNEMO_EINVAL, "%s already holds a store: back up into a new folder",
                           out_dir);
    int rc = mnemo__mkdirs(out_dir, err);
    if (rc) return rc;
    unlink(tmp); /* a backup that died half-way */
    double t0 = mnemo__now();
    sqlite3 *db = NULL;
    if ((rc = mnemo__store_reader(s, &db, err))) return rc;
    char *sql = sqlite3_mprintf("VACUUM INTO %Q", tmp);
    int src = sql ? sqlite3_exec(db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
    sqlite3_free(sql);
    if (src != SQLITE_OK) rc = mnemo__store_sqlite_fail(err, db, src, "writing the backup");
    mnemo__store_reader_put(s, db);
    if (rc) {
        unlink(tmp);
        return rc;
    }
    char why[256];
    if (!check_copy(tmp, &rep->memories, why, sizeof why)) {
        unlink(tmp);
        return mnemo__fail(err, MNEMO_EIO,
                           "the backup in %s failed its integrity check (%s); nothing was kept",
                           out_dir, why);
    }
    if ((rc = mnemo__file_commit(tmp, path, err))) return rc;
    if (stat(path, &sb) == 0) rep->bytes = (size_t)sb.st_size;
    rep->seconds = mnemo__now() - t0;
    mnemo__log(MNEMO_LOG_INFO, "store.backup", "path=%s memories=%zu bytes=%zu seconds=%.3f", path,
               rep->memories, rep->bytes, rep->seconds);
    return MNEMO_OK;
}
