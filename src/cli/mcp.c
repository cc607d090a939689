/*
 * mcp.c — `mnemo mcp`: the memory tools as a Model Context Protocol server
 * on stdio. One JSON-RPC message per line on stdin, one reply per line on
 * stdout (nothing else is written there; logs go to stderr). The protocol
 * itself is in store/store_mcp.c.
 */
#include "../store/store_api.h"
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MESSAGE (8u << 20)

typedef struct mcp_run {
    mnemo_store *store;
} mcp_run;

static void reply(json_t *r) {
    if (!r) return;
    char *text = json_dumps(r, JSON_COMPACT);
    if (text) {
        fputs(text, stdout);
        fputc('\n', stdout);
        fflush(stdout);
        free(text);
    }
    json_decref(r);
}

static json_t *parse_error(const char *why) {
    return json_pack("{s:s,s:n,s:{s:i,s:s}}", "jsonrpc", "2.0", "id", "error", "code", -32700,
                     "message", why);
}

static void handle_line(void *ctx, long line_no, const char *line, size_t len) {
    mcp_run *r = ctx;
    (void)line_no;
    while (len && (line[len - 1] == '\r' || line[len - 1] == ' ')) len--;
    if (len == 0) return;
    if (len > MAX_MESSAGE) {
        reply(parse_error("Parse error: message larger than 8 MiB"));
        return;
    }
    size_t bad;
    if (!mnemo_utf8_valid(line, len, &bad)) {
        reply(parse_error("Parse error: invalid UTF-8"));
        return;
    }
    json_error_t je;
    json_t *msg = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (!msg) {
        char m[300];
        snprintf(m, sizeof m, "Parse error: %s", je.text);
        reply(parse_error(m));
        return;
    }
    if (json_is_array(msg)) {
        /* a JSON-RPC batch (2025-03-26 allowed them): one array of replies */
        json_t *out = json_array();
        size_t i;
        json_t *m;
        json_array_foreach(msg, i, m) {
            json_t *x = mnemo__mcp_handle(r->store, m);
            if (x) json_array_append_new(out, x);
        }
        if (json_array_size(out))
            reply(out);
        else
            json_decref(out);
    } else {
        reply(mnemo__mcp_handle(r->store, msg));
    }
    json_decref(msg);
}

int mnemo__cmd_mcp(const mnemo_settings *s, int argc, char **argv) {
    (void)argv;
    if (argc) {
        mnemo__cli_error("mcp", "takes no arguments (messages come on stdin)");
        return 2;
    }
    mcp_run r = {0};
    mnemo_model *model;
    int rc = mnemo__cli_open_store(s, "mcp", &model, &r.store);
    if (rc) return rc;
    mnemo__log(MNEMO_LOG_INFO, "mcp.start", "store=%s",
               s->data_dir ? s->data_dir : mnemo__store_backend_name(r.store));
    mnemo__cli_each_line(stdin, handle_line, &r);
    mnemo_store_close(r.store);
    mnemo_model_close(model);
    return 0;
}
