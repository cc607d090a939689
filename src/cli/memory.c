/*
 * memory.c — `mnemo memory add|search|get|update|delete|list|count|history`
 * (backup, export and import have their own functions and files):
 * the memory store from the shell. Flags (from the settings table) and
 * positional arguments are turned into the same JSON request the HTTP
 * routes take, run by the store's JSON layer, and the answer is printed as
 * one JSON line. Also the store opening shared with `mnemo mcp`.
 */
#include "../service/service.h"
#include "../store/store_api.h"
#include "cli.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mnemo__cli_store_with(const mnemo_settings *s, const char *cmd, mnemo_model *model,
                          const char *name, mnemo_service *fill, mnemo_store **store) {
    *store = NULL;
    char *end;
    double threshold = strtod(s->dedup_threshold ? s->dedup_threshold : "0.95", &end);
    if (*end || !(threshold > 0) || threshold > 2) {
        mnemo__cli_error(
            cmd, "--dedup-threshold '%s' is not a cosine in (0, 1] (above 1: exact repeats only)",
            s->dedup_threshold);
        return 2;
    }
    mnemo_error err;
    if (s->store_pool < 1 || s->store_pool > 256) {
        mnemo__cli_error(cmd, "--store-pool %ld is out of range 1..256", s->store_pool);
        return 2;
    }
    mnemo_store_options so = mnemo_store_default_options();
    so.data_dir = s->data_dir, so.url = s->store, so.pool_size = (int)s->store_pool;
    so.model = model, so.model_name = name, so.n_threads = (int)s->threads;
    if (s->synchronous) so.synchronous = s->synchronous;
    so.read_only = s->read_only, so.no_dedup = s->no_dedup;
    if (threshold > 1)
        so.dedup_exact_only = 1;
    else
        so.dedup_threshold = threshold;
    /* --index-threshold 0: always exact */
    if (s->index_threshold > 0)
        so.index_threshold = (size_t)s->index_threshold;
    else
        so.no_index = 1;
    if (s->index_ef_search > 0) so.hnsw_ef_search = (size_t)s->index_ef_search;
    if (s->index_threshold < 0) {
        mnemo__cli_error(cmd, "--index-threshold %ld is negative (0: always exact search)",
                         s->index_threshold);
        return 2;
    }
    if (s->index_ef_search < 1 || s->index_ef_search > 100000) {
        mnemo__cli_error(cmd, "--index-ef-search %ld is out of range 1..100000",
                         s->index_ef_search);
        return 2;
    }
    const char *iv = s->index_vectors ? s->index_vectors : "f32";
    if (strcmp(iv, "f32") && strcmp(iv, "int8") && strcmp(iv, "binary")) {
        mnemo__cli_error(cmd, "--index-vectors '%s' is not f32, int8 or binary", iv);
        return 2;
    }
    so.index_int8 = !strcmp(iv, "int8");
    so.index_binary = !strcmp(iv, "binary");
    if (fill) so.on_embedded = mnemo__service_store_embedded, so.on_embedded_arg = fill;
    if (mnemo_store_open(&so, store, &err)) {
        mnemo__cli_error(cmd, "%s", err.message);
        return err.code == MNEMO_EINVAL ? 2 : 1;
    }
    return 0;
}

int mnemo__cli_open_store(const mnemo_settings *s, const char *cmd, mnemo_model **model,
                          mnemo_store **store) {
    *model = NULL;
    *store = NULL;
    mnemo_error err;
    if (!s->data_dir && !s->store) {
        mnemo__cli_error(
            cmd, "no store: pass --data-dir DIR (SQLite) or --store URL (postgres://...), or set "
                 "MNEMO_DATA_DIR or MNEMO_STORE");
        return 2;
    }
    char name[256] = "unnamed";
    if (s->model) {
        mnemo_model_options mo = {.cache_dir = s->cache_dir,
                                  .no_cache = s->no_cache,
                                  .precision = s->precision,
                                  .tokenizer = s->tokenizer};
        if (mnemo_model_open(s->model, &mo, model, &err)) {
            mnemo__cli_error(cmd, "%s", err.message);
            return 1;
        }
        /* the folder's name identifies the model in the store's record */
        snprintf(name, sizeof name, "%s", s->model);
        size_t n = strlen(name);
        while (n > 1 && name[n - 1] == '/') name[--n] = 0;
        const char *slash = strrchr(name, '/');
        if (slash) memmove(name, slash + 1, strlen(slash + 1) + 1);
    }
    int rc = mnemo__cli_store_with(s, cmd, *model, name, NULL, store);
    if (rc) {
        mnemo_model_close(*model);
        *model = NULL;
    }
    return rc;
}

static int set_json_arg(json_t *req, const char *key, const char *text, const char *flag) {
    if (!text) return 0;
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
    if (!v) {
        mnemo__cli_error("memory", "--%s: not valid JSON: %s", flag, je.text);
        return 2;
    }
    json_object_set_new(req, key, v);
    return 0;
}

static void set_str(json_t *req, const char *key, const char *v) {
    if (v) json_object_set_new(req, key, json_string(v));
}

static void set_scope(json_t *req, const mnemo_settings *s) {
    set_str(req, "namespace", s->ns);
    set_str(req, "user_id", s->user_id);
    set_str(req, "agent_id", s->agent_id);
    set_str(req, "session_id", s->session_id);
}

/* `mnemo memory backup OUT`: a consistent copy of the store into the new
 * folder OUT while servers keep writing (backup.c). */
static int backup(const mnemo_settings *s, int argc, char **argv) {
    if (argc != 1) {
        mnemo__cli_error("memory backup",
                         "give one folder to write the backup to: mnemo memory backup "
                         "--data-dir DIR OUT");
        return 2;
    }
    mnemo_store *store = NULL;
    int rc = mnemo__cli_store_with(s, "memory backup", NULL, "unnamed", NULL, &store);
    if (rc) return rc;
    mnemo_backup_report rep;
    mnemo_error err;
    if (mnemo__store_backup(store, argv[0], &rep, &err)) {
        mnemo__cli_error("memory backup", "%s", err.message);
        mnemo_store_close(store);
        return 1;
    }
    json_t *o = mnemo__backup_json(argv[0], &rep);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (text) puts(text);
    free(text);
    json_decref(o);
    mnemo_store_close(store);
    return text ? 0 : 1;
}

static const char *const ops[] = {"add",  "search", "get",     "update", "delete",
                                  "list", "count",  "history", NULL};

int mnemo__cmd_memory(const mnemo_settings *s, int argc, char **argv) {
    if (argc < 1) {
        mnemo__cli_error("memory",
                         "which operation? add, search, get, update, delete, list, count, history, "
                         "backup, export or import (see mnemo help memory)");
        return 2;
    }
    const char *op = argv[0];
    if (!strcmp(op, "backup")) return backup(s, argc - 1, argv + 1);
    if (!strcmp(op, "export")) return mnemo__cli_memory_export(s, argc - 1, argv + 1);
    if (!strcmp(op, "import")) return mnemo__cli_memory_import(s, argc - 1, argv + 1);
    int known = 0;
    for (int i = 0; ops[i]; i++) known |= !strcmp(ops[i], op);
    if (!known) {
        mnemo__cli_error(
            "memory", "no operation '%s': add, search, get, update, delete, list, count or history",
            op);
        return 2;
    }
    argc--;
    argv++;
    json_t *req;
    if (s->request) {
        json_error_t je;
        req = json_loads(s->request, 0, &je);
        if (!json_is_object(req)) {
            mnemo__cli_error("memory", "--request: not a JSON object%s%s", req ? "" : ": ",
                             req ? "" : je.text);
            json_decref(req);
            return 2;
        }
    } else {
        req = json_object();
    }
    int rc = 0;
#define OP(name) (!strcmp(op, name))
    if (OP("add")) {
        if (argc > 0) {
            /* each argument one memory, sharing the flags */
            json_t *list = json_array();
            for (int i = 0; i < argc && !rc; i++) {
                json_t *m = json_object();
                json_object_set_new(m, "text", json_string(argv[i]));
                if (!json_object_get(m, "text")) {
                    mnemo__cli_error("memory", "argument %d: invalid UTF-8", i + 1);
                    rc = 2;
                }
                set_scope(m, s);
                rc = rc ? rc : set_json_arg(m, "metadata", s->metadata, "metadata");
                if (s->ttl > 0) json_object_set_new(m, "ttl", json_integer(s->ttl));
                set_str(m, "prompt_name", s->memory_prompt);
                json_array_append_new(list, m);
            }
            json_object_set_new(req, "memories", list);
        } else if (!s->request) {
            mnemo__cli_error("memory", "add: give the text(s) as arguments, or --request JSON");
            rc = 2;
        }
    } else if (OP("search")) {
        if (argc > 1) {
            mnemo__cli_error("memory", "search: one query (quote it)");
            rc = 2;
        }
        if (argc == 1) {
            json_t *q = json_string(argv[0]);
            if (!q) {
                mnemo__cli_error("memory", "search: the query is not valid UTF-8");
                rc = 2;
            }
            json_object_set_new(req, "query", q ? q : json_null());
        }
        set_scope(req, s);
        json_object_set_new(req, "k", json_integer(s->k));
        set_str(req, "mode", s->mode);
        rc = rc ? rc : set_json_arg(req, "filter", s->filter, "filter");
        if (!rc && s->min_score) rc = set_json_arg(req, "min_score", s->min_score, "min-score");
        if (s->exact) json_object_set_new(req, "exact", json_true());
    } else if (OP("get") || OP("history") || OP("update") || (OP("delete") && argc > 0)) {
        if (argc != 1) {
            mnemo__cli_error("memory", "%s: give one memory id", op);
            rc = 2;
        } else {
            json_object_set_new(req, "id", json_string(argv[0]));
        }
        if (OP("update")) {
            if (s->text) json_object_set_new(req, "text", json_string(s->text));
            set_str(req, "prompt_name", s->memory_prompt);
            rc = rc ? rc : set_json_arg(req, "metadata", s->metadata, "metadata");
            if (s->ttl > 0) json_object_set_new(req, "ttl", json_integer(s->ttl));
        }
    } else if (OP("delete")) {
        set_scope(req, s);
        rc = set_json_arg(req, "filter", s->filter, "filter");
        if (!rc && !json_object_get(req, "filter")) {
            mnemo__cli_error("memory",
                             "delete: give an id, or --filter JSON ('{}' deletes the whole scope)");
            rc = 2;
        }
    } else { /* list, count */
        set_scope(req, s);
        rc = set_json_arg(req, "filter", s->filter, "filter");
        if (OP("list")) {
            json_object_set_new(req, "limit", json_integer(s->limit));
            set_str(req, "cursor", s->cursor);
        }
        if (argc) {
            mnemo__cli_error("memory", "%s takes no arguments", op);
            rc = 2;
        }
    }
#undef OP
    if (rc) {
        json_decref(req);
        return rc;
    }
    mnemo_model *model;
    mnemo_store *store;
    if ((rc = mnemo__cli_open_store(s, "memory", &model, &store))) {
        json_decref(req);
        return rc;
    }
    json_t *resp = NULL;
    mnemo_error err;
    char param[64];
    int st = mnemo__store_json(store, op, req, &resp, &err, param, sizeof param);
    if (st) {
        mnemo__cli_error("memory", "%s: %s", op, err.message);
        rc = (st == MNEMO_EIO || st == MNEMO_ENOENT || st == MNEMO_ENOMEM) ? 1 : 2;
    } else {
        char *text = json_dumps(resp, JSON_COMPACT);
        if (text) {
            puts(text);
            free(text);
        }
    }
    json_decref(resp);
    json_decref(req);
    mnemo_store_close(store);
    mnemo_model_close(model);
    return rc;
}
