/*
 * store_api.h — what the other parts (the HTTP server, the CLI, MCP over
 * stdio) call in the store besides mnemo.h's public functions: the JSON
 * request layer, the MCP tools, filters (parsed once, reused), scope checks,
 * new ids and `mnemo migrate`. The store's own files include store.h, which
 * includes this.
 */
#ifndef MNEMO_STORE_API_H
#define MNEMO_STORE_API_H

#include "../core/core.h"

#include <jansson.h>
#include <stdio.h>

/* A validated metadata filter (see mnemo.h). */
typedef struct mnemo_filter mnemo_filter;
/* Parses and validates filter JSON text (NULL or "": no filter, *out NULL).
 * Errors: EINVAL naming the bad operator or value and its path. */
int mnemo__filter_parse(const char *text, mnemo_filter **out, mnemo_error *err);
void mnemo__filter_free(mnemo_filter *f);

/* Validates a scope (UTF-8, lengths); the namespace NULL/"" means "default". */
int mnemo__scope_check(const mnemo_memory_scope *sc, const char *where, mnemo_error *err);
/* The backend's name ("sqlite", "postgres") for logs. */
const char *mnemo__store_backend_name(const mnemo_store *s);
/* A new random memory id. */
void mnemo__memory_new_id(char out[MNEMO_MEMORY_ID_SIZE]);

/* `mnemo migrate` (pg_migrate.c): copies the SQLite store in `from`
 * ("sqlite:DIR" or DIR) into the PostgreSQL store at `to` without
 * embedding again, in one transaction. Errors: ENOENT (no store in from),
 * EINVAL (the target has another model, or memories and not force), EIO,
 * EFORMAT. */
typedef struct mnemo_migrate_report {
    size_t memories, skipped, history; /* copied, already there (force), events copied */
} mnemo_migrate_report;
int mnemo__store_migrate(const char *from, const char *to, int force, mnemo_migrate_report *rep,
                         mnemo_error *err);

/* A consistent copy of a SQLite store while it serves (backup.c), into the
 * folder out_dir (created; it must not hold a store already), checked by
 * PRAGMA integrity_check before this returns; out_dir is then a data folder
 * to serve. Errors: EUNSUPPORTED (PostgreSQL: the message names pg_dump),
 * EINVAL (out_dir holds a store), EIO (with why; nothing is left). */
typedef struct mnemo_backup_report {
    size_t memories, bytes;
    double seconds;
} mnemo_backup_report;
int mnemo__store_backup(mnemo_store *s, const char *out_dir, mnemo_backup_report *rep,
                        mnemo_error *err);
/* A finished backup as the CLI and POST /v1/admin/backup answer it:
 * {"backup", "memories", "bytes", "seconds", "integrity": "ok"} (new; NULL
 * when out of memory). */
json_t *mnemo__backup_json(const char *out_dir, const mnemo_backup_report *rep);

/* Export and import as JSON lines (transfer.c; docs/memories.md, "Export
 * and import"). An export writes every live memory of the scope that passes
 * the filter, in list order (oldest first), one line each with its history,
 * and with vectors its vector and model identity; *n lines. Errors: those
 * of listing, EIO (writing f). */
typedef struct mnemo_export_options {
    mnemo_memory_scope scope; /* NULL fields: any */
    const char *filter;       /* JSON text or NULL */
    bool vectors;
} mnemo_export_options;
int mnemo__store_export(mnemo_store *s, const mnemo_export_options *o, FILE *f, size_t *n,
                        mnemo_error *err);

#define MNEMO_IMPORT_BATCH 256                   /* lines per transaction by default */
#define MNEMO_IMPORT_MAX_BATCH 1000              /* at most (an add's limit) */
#define MNEMO_IMPORT_MAX_LINE ((size_t)64 << 20) /* bytes of one line at most */
/* An import reads f in batches of `batch` lines, each added in one
 * transaction: a line at fault (reported through report(ctx, line number,
 * what to change)) fails its whole batch, and the import goes on with the
 * next. Returns an error only for what stops it: EIO (the store, reading
 * f), ENOMEM, EINVAL (batch out of range). */
typedef struct mnemo_import_options {
    size_t batch; /* 0: MNEMO_IMPORT_BATCH */
    void (*report)(void *ctx, long line_no, const char *message);
    void *ctx;
} mnemo_import_options;
typedef struct mnemo_import_report {
    size_t lines;       /* read, blank ones included */
    size_t imported;    /* new memories written */
    size_t re_embedded; /* of those, embedded again (no usable vector) */
    size_t exists;      /* skipped: the store had the id */
    size_t expired;     /* skipped: expired already */
    size_t failed;      /* lines of failed batches (nothing of theirs written) */
    size_t failed_batches;
} mnemo_import_report;
int mnemo__store_import(mnemo_store *s, FILE *f, const mnemo_import_options *o,
                        mnemo_import_report *rep, mnemo_error *err);

/* ------------------------------------------------------------- access */

/* What one caller may do (the server's API key grants): read, write, and
 * which namespaces (namespaces NULL: every one). A scope outside them is
 * refused (EDENIED) and a memory outside them answers as an unknown id does
 * (ENOENT, the same message), so a caller cannot learn what exists there. */
typedef struct mnemo_access {
    const char *name; /* the grant's name, for messages */
    const char *const *namespaces;
    size_t n_namespaces;
    bool can_read, can_write;
} mnemo_access;
/* Non-zero when a may use namespace ns (NULL or "": "default"); a NULL a may
 * use every one. */
int mnemo__access_ns(const mnemo_access *a, const char *ns);
/* mnemo_memory_get for a caller with grant a (NULL: everything): a memory
 * outside a's namespaces fails with ENOENT and the store's own message for
 * an unknown id, and *out stays NULL. */
int mnemo__memory_get_as(mnemo_store *s, const char *id, const mnemo_access *a,
                         mnemo_memories **out, mnemo_error *err);

/* ------------------------------------------------------ JSON requests */

/*
 * Runs one memory operation given as a JSON object, the shape of the HTTP
 * bodies (docs/memories.md): op is "add", "search", "get", "update",
 * "delete", "list", "count" or "history". On success *resp is a new JSON
 * value (the caller decrefs). On failure err says what is wrong; `param`
 * (cap bytes, may be NULL) names the request field at fault ("" if none).
 * Unknown fields, wrong types and bad values are refused before anything
 * is stored.
 */
int mnemo__store_json(mnemo_store *s, const char *op, json_t *req, json_t **resp, mnemo_error *err,
                      char *param, size_t cap);
/* The same for a caller with an access grant (NULL: everything). A read
 * grant runs search, get, list, count and history; a write grant also add,
 * update and delete. Errors also: EDENIED (the message names what the grant
 * allows). */
int mnemo__store_json_as(mnemo_store *s, const char *op, json_t *req, const mnemo_access *acc,
                         json_t **resp, mnemo_error *err, char *param, size_t cap);

/* The memory tools over MCP (store_mcp.c): one JSON-RPC 2.0 message in
 * (borrowed), its reply out (new; NULL for a notification or a response). */
json_t *mnemo__mcp_handle(mnemo_store *s, json_t *msg);
/* The same for a user: OpenMemory's URL /mcp/{client}/http/{user} names
 * the user whose memories its tools (add_memories, ...) see and the client
 * recorded as agent_id (docs/http.md, "MCP over HTTP and OpenMemory"). Either may be NULL. */
typedef struct mnemo_mcp_user {
    const char *user_id, *client;
    const mnemo_access *access; /* the caller's grant; NULL: everything */
} mnemo_mcp_user;
json_t *mnemo__mcp_handle_as(mnemo_store *s, json_t *msg, const mnemo_mcp_user *u);

#endif /* MNEMO_STORE_API_H */
