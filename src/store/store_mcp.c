/*
 * store_mcp.c — the memory tools over the Model Context Protocol: one
 * JSON-RPC 2.0 message in, its reply out (initialize, ping, tools/list,
 * tools/call; notifications get no reply). Transport-free, so `mnemo mcp`
 * (stdio, cli/mcp.c) and an HTTP route can share it. Each tool is a memory
 * operation of store_json.c; a tool's failure is a tool result with
 * isError (as the spec asks), a malformed message a JSON-RPC error.
 * Spec: modelcontextprotocol.io/specification (2025-06-18 lifecycle, tools).
 */
#include "store.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Newest first: the answer to a client asking for a version we do not know. */
static const char *const versions[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05",
                                       NULL};

#define SCOPE_PROPS                                                                               \
    "\"namespace\": {\"type\": \"string\", \"description\": \"namespace (default: default)\"},"   \
    "\"user_id\": {\"type\": \"string\"}, \"agent_id\": {\"type\": \"string\"}, \"session_id\": " \
    "{\"type\": \"string\"}"
#define PROMPT_PROP                                                                               \
    "\"prompt_name\": {\"type\": \"string\", \"description\": \"the model's prompt to embed the " \
    "text with "                                                                                  \
    "(default: document; e.g. query, STS)\"}"
#define FILTER_PROP                                                                           \
    "\"filter\": {\"type\": \"object\", \"description\": \"metadata filter: {\\\"field\\\": " \
    "value}, "                                                                                \
    "operators $eq $ne $in $nin $gt $gte $lt $lte $exists, and $and $or $not\"}"

/* OpenMemory's tool names (mem0's MCP server): their arguments and answers
 * are OpenMemory's ({"results": [{id, memory, created_at, ...}]}), and the
 * user (and the client, as agent_id) come from the URL /mcp/{client}/http/{user}
 * as OpenMemory's own server takes them (docs/http.md, "MCP over HTTP and OpenMemory"), or a user_id argument.
 * `project` picks the namespace. */
#define OM_PROJECT \
    "\"project\": {\"type\": \"string\", \"description\": \"the namespace (default: default)\"}"
#define OM_USER                                                                                    \
    "\"user_id\": {\"type\": \"string\", \"description\": \"whose memories (default: the user of " \
    "the URL /mcp/{client}/http/{user})\"}"

static const struct tool {
    const char *name, *op, *description, *schema;
} tools[] = {
    {"memory_add", "add",
     "Store one memory (a fact, preference or note) for later recall. An exact repeat in the same "
     "scope "
     "returns the existing id; a near-duplicate updates it.",
     "{\"type\": \"object\", \"properties\": {\"text\": {\"type\": \"string\", \"description\": "
     "\"what to remember\"},"
     "\"metadata\": {\"type\": \"object\"}, \"ttl\": {\"type\": \"number\", \"description\": "
     "\"seconds to keep it\"}," PROMPT_PROP "," SCOPE_PROPS
     "}, \"required\": [\"text\"], \"additionalProperties\": false}"},
    {"memory_search", "search",
     "Recall the memories most relevant to a query, best first (mode vector: by meaning; text: by "
     "words; "
     "hybrid: both).",
     "{\"type\": \"object\", \"properties\": {\"query\": {\"type\": \"string\"},"
     "\"k\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 1000, \"default\": 10},"
     "\"mode\": {\"type\": \"string\", \"enum\": [\"vector\", \"text\", \"hybrid\"]},"
     "\"min_score\": {\"type\": \"number\"}," FILTER_PROP "," SCOPE_PROPS
     "}, \"required\": [\"query\"], \"additionalProperties\": false}"},
    {"memory_get", "get", "Read one memory by its id.",
     "{\"type\": \"object\", \"properties\": {\"id\": {\"type\": \"string\"}}, \"required\": "
     "[\"id\"], "
     "\"additionalProperties\": false}"},
    {"memory_update", "update",
     "Change a memory's text (embedded again), metadata or time to live.",
     "{\"type\": \"object\", \"properties\": {\"id\": {\"type\": \"string\"}, \"text\": {\"type\": "
     "\"string\"},"
     "\"metadata\": {\"type\": \"object\"}, \"ttl\": {\"type\": \"number\"}," PROMPT_PROP
     "}, \"required\": [\"id\"], "
     "\"additionalProperties\": false}"},
    {"memory_delete", "delete",
     "Forget a memory by id, or every memory of a scope matching a filter ({} for all of the "
     "scope).",
     "{\"type\": \"object\", \"properties\": {\"id\": {\"type\": \"string\"}," FILTER_PROP
     "," SCOPE_PROPS "}, \"additionalProperties\": false}"},
    {"memory_list", "list",
     "List memories of a scope, oldest first, a page at a time (pass next_cursor back).",
     "{\"type\": \"object\", \"properties\": {\"limit\": {\"type\": \"integer\", \"minimum\": 1, "
     "\"maximum\": 1000},"
     "\"cursor\": {\"type\": \"string\"}," FILTER_PROP "," SCOPE_PROPS
     "}, \"additionalProperties\": false}"},
    {"add_memories", "om_add",
     "Remember a fact or preference the user shared (OpenMemory's add_memories; stored as given).",
     "{\"type\": \"object\", \"properties\": {\"text\": {\"type\": \"string\"}," OM_PROJECT
     "," OM_USER "}, \"required\": [\"text\"], \"additionalProperties\": false}"},
    {"search_memory", "om_search",
     "Search the user's memories by meaning, best first (OpenMemory's search_memory).",
     "{\"type\": \"object\", \"properties\": {\"query\": {\"type\": \"string\"}," OM_PROJECT
     "," OM_USER ", \"rerank\": {\"type\": \"boolean\", \"description\": \"accepted; results are "
     "always best first\"}}, "
     "\"required\": [\"query\"], \"additionalProperties\": false}"},
    {"list_memories", "om_list",
     "List the user's memories, oldest first (OpenMemory's list_memories).",
     "{\"type\": \"object\", \"properties\": {" OM_PROJECT "," OM_USER
     "}, \"additionalProperties\": false}"},
    {"delete_memories", "om_delete",
     "Forget the user's memories with these ids (OpenMemory's delete_memories).",
     "{\"type\": \"object\", \"properties\": {\"memory_ids\": {\"type\": \"array\", \"items\": "
     "{\"type\": \"string\"}}," OM_PROJECT "," OM_USER "}, \"required\": [\"memory_ids\"], "
     "\"additionalProperties\": false}"},
    {"delete_all_memories", "om_delete_all",
     "Forget every memory of the user (OpenMemory's delete_all_memories; needs a user).",
     "{\"type\": \"object\", \"properties\": {" OM_PROJECT "," OM_USER
     "}, \"additionalProperties\": false}"},
};
#define N_TOOLS (sizeof tools / sizeof tools[0])

static json_t *rpc_error(json_t *id, int code, const char *message) {
    return json_pack("{s:s,s:O,s:{s:i,s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(),
                     "error", "code", code, "message", message);
}

static json_t *rpc_result(json_t *id, json_t *result) {
    return json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id, "result", result);
}

static json_t *tools_list(void) {
    json_t *list = json_array();
    for (size_t i = 0; i < N_TOOLS; i++) {
        json_t *schema = json_loads(tools[i].schema, 0, NULL);
        json_array_append_new(list, json_pack("{s:s,s:s,s:o}", "name", tools[i].name, "description",
                                              tools[i].description, "inputSchema",
                                              schema ? schema : json_object()));
    }
    return json_pack("{s:o}", "tools", list);
}

static json_t *tool_result(json_t *payload, const char *error_text) {
    if (error_text)
        return json_pack("{s:[{s:s,s:s}],s:b}", "content", "type", "text", "text", error_text,
                         "isError", 1);
    char *text = json_dumps(payload, JSON_COMPACT);
    json_t *r = json_pack("{s:[{s:s,s:s}],s:O,s:b}", "content", "type", "text", "text",
                          text ? text : "{}", "structuredContent", payload, "isError", 0);
    free(text);
    return r;
}

/* ------------------------------------------------ OpenMemory's tools */

static void iso_time(double t, char *buf, size_t cap) {
    time_t sec = (time_t)t;
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* A memory of store_json's shape (m, borrowed) in OpenMemory's. */
static json_t *om_memory(json_t *m) {
    char c[64], u[64];
    iso_time(json_number_value(json_object_get(m, "created_at")), c, sizeof c);
    iso_time(json_number_value(json_object_get(m, "updated_at")), u, sizeof u);
    json_t *o = json_pack(
        "{s:O,s:O,s:s,s:s,s:O,s:O,s:O,s:O}", "id", json_object_get(m, "id"), "memory",
        json_object_get(m, "text"), "created_at", c, "updated_at", u, "user_id",
        json_object_get(m, "user_id"), "agent_id", json_object_get(m, "agent_id"), "project",
        json_object_get(m, "namespace"), "metadata", json_object_get(m, "metadata"));
    json_t *score = json_object_get(m, "score");
    if (o && score) json_object_set(o, "score", score);
    return o;
}

static json_t *om_results(json_t *data) {
    json_t *a = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(data, i, m) json_array_append_new(a, om_memory(m));
    return a;
}

static int om_fail(mnemo_error *err, char *param, size_t cap, const char *field, const char *msg) {
    snprintf(param, cap, "%s", field);
    err->code = MNEMO_EINVAL;
    snprintf(err->message, sizeof err->message, "%s: %s", field, msg);
    return MNEMO_EINVAL;
}

/* An OpenMemory tool (op "om_..."): args checked by their schema's rules,
 * then store_json's operations in the user's scope. */
static int om_call(mnemo_store *s, const char *op, json_t *args, const mnemo_mcp_user *u,
                   json_t **out, mnemo_error *err, char *param, size_t cap) {
    static const char *const known[] = {"text",   "query",      "project", "user_id",
                                        "rerank", "memory_ids", NULL};
    const char *key;
    json_t *v;
    json_object_foreach(args, key, v) {
        int ok = 0;
        for (size_t i = 0; known[i] && !ok; i++) ok = !strcmp(key, known[i]);
        if (!ok) return om_fail(err, param, cap, key, "unknown argument");
        if (!strcmp(key, "rerank")       ? !json_is_boolean(v)
            : !strcmp(key, "memory_ids") ? !json_is_array(v)
                                         : !json_is_string(v))
            return om_fail(err, param, cap, key,
                           !strcmp(key, "rerank")       ? "must be true or false"
                           : !strcmp(key, "memory_ids") ? "must be an array of memory ids"
                                                        : "must be a string");
    }
    const char *user = json_string_value(json_object_get(args, "user_id"));
    if (!user) user = u ? u->user_id : NULL;
    json_t *project = json_object_get(args, "project");
    const char *ns = json_string_value(project);
    json_t *req = json_object();
    if (user) json_object_set_new(req, "user_id", json_string(user));
    if (ns) json_object_set_new(req, "namespace", json_string(ns));
    json_t *resp = NULL;
    int rc = MNEMO_OK;
    if (!strcmp(op, "om_add")) {
        json_t *text = json_object_get(args, "text");
        if (!text) rc = om_fail(err, param, cap, "text", "missing (what to remember)");
        json_object_set(req, "text", text);
        if (u && u->client) json_object_set_new(req, "agent_id", json_string(u->client));
        if (!rc)
            rc = mnemo__store_json_as(s, "add", req, u ? u->access : NULL, &resp, err, param, cap);
        if (!rc) {
            static const char *const events[][2] = {
                {"added", "ADD"}, {"duplicate", "NOOP"}, {"merged", "UPDATE"}};
            json_t *first = json_array_get(json_object_get(resp, "data"), 0);
            const char *ev = json_string_value(json_object_get(first, "event"));
            const char *name = "ADD";
            for (size_t i = 0; ev && i < 3; i++)
                if (!strcmp(ev, events[i][0])) name = events[i][1];
            *out = json_pack("{s:[{s:O,s:O,s:s}]}", "results", "id", json_object_get(first, "id"),
                             "memory", text, "event", name);
        }
    } else if (!strcmp(op, "om_search") || !strcmp(op, "om_list")) {
        bool search = !strcmp(op, "om_search");
        json_t *q = json_object_get(args, "query");
        if (search && !q) rc = om_fail(err, param, cap, "query", "missing (what to look for)");
        if (search) {
            json_object_set(req, "query", q);
            json_object_set_new(req, "k", json_integer(20)); /* OpenMemory's default */
        } else {
            json_object_set_new(req, "limit", json_integer(1000));
        }
        if (!rc)
            rc = mnemo__store_json_as(s, search ? "search" : "list", req, u ? u->access : NULL,
                                      &resp, err, param, cap);
        if (!rc) {
            *out = json_pack("{s:o}", "results", om_results(json_object_get(resp, "data")));
            json_t *next = json_object_get(resp, "next_cursor");
            if (next && json_is_string(next)) json_object_set_new(*out, "truncated", json_true());
        }
    } else if (!strcmp(op, "om_delete")) {
        /* ids outside the user's scope count as unknown: a caller learns nothing of them */
        json_t *ids = json_object_get(args, "memory_ids");
        size_t n = ids ? json_array_size(ids) : 0, deleted = 0;
        if (!ids)
            rc = om_fail(err, param, cap, "memory_ids", "missing");
        else if (n == 0 || n > 1000)
            rc = om_fail(err, param, cap, "memory_ids", "give 1..1000 ids");
        json_t *missing = json_array();
        for (size_t i = 0; !rc && i < n; i++) {
            json_t *id = json_array_get(ids, i);
            if (!json_is_string(id)) {
                rc = om_fail(err, param, cap, "memory_ids", "must be an array of memory ids");
                break;
            }
            json_t *g = json_pack("{s:O}", "id", id), *m = NULL;
            mnemo_error e2;
            char p2[64];
            int grc =
                mnemo__store_json_as(s, "get", g, u ? u->access : NULL, &m, &e2, p2, sizeof p2);
            const char *mns = json_string_value(json_object_get(m, "namespace"));
            const char *muser = json_string_value(json_object_get(m, "user_id"));
            bool mine = !grc && mns && !strcmp(mns, ns && *ns ? ns : "default") &&
                        (!user || (muser && !strcmp(muser, user)));
            json_t *d = NULL;
            if (mine &&
                !mnemo__store_json_as(s, "delete", g, u ? u->access : NULL, &d, &e2, p2, sizeof p2))
                deleted++;
            else
                json_array_append(missing, id);
            json_decref(d);
            json_decref(m);
            json_decref(g);
        }
        if (!rc) {
            char msg[80];
            snprintf(msg, sizeof msg, "Successfully deleted %zu memories", deleted);
            *out = json_pack("{s:s,s:I,s:O}", "message", msg, "deleted", (json_int_t)deleted,
                             "not_found", missing);
        }
        json_decref(missing);
    } else { /* om_delete_all */
        if (!user)
            rc = om_fail(
                err, param, cap, "user_id",
                "delete_all_memories needs a user: connect to /mcp/{client}/http/{user_id} or pass "
                "user_id");
        json_object_set_new(req, "filter", json_object());
        if (!rc)
            rc = mnemo__store_json_as(s, "delete", req, u ? u->access : NULL, &resp, err, param,
                                      cap);
        if (!rc)
            *out = json_pack("{s:s,s:O}", "message", "Successfully deleted all memories", "deleted",
                             json_object_get(resp, "deleted"));
    }
    json_decref(resp);
    json_decref(req);
    if (!rc && !*out) rc = om_fail(err, param, cap, "", "out of memory");
    return rc;
}

json_t *mnemo__mcp_handle_as(mnemo_store *s, json_t *msg, const mnemo_mcp_user *u) {
    if (!json_is_object(msg)) return rpc_error(NULL, -32600, "Invalid Request: not a JSON object");
    json_t *id = json_object_get(msg, "id");
    const char *method = json_string_value(json_object_get(msg, "method"));
    const char *jsonrpc = json_string_value(json_object_get(msg, "jsonrpc"));
    if (!method) {
        /* a response from the client (we send no requests) or garbage */
        if (id && (json_object_get(msg, "result") || json_object_get(msg, "error"))) return NULL;
        return rpc_error(id, -32600, "Invalid Request: no method");
    }
    if (!jsonrpc || strcmp(jsonrpc, "2.0"))
        return id ? rpc_error(id, -32600, "Invalid Request: jsonrpc must be \"2.0\"") : NULL;
    if (!id) return NULL; /* notifications: initialized, cancelled, ... */
    if (!json_is_string(id) && !json_is_integer(id))
        return rpc_error(NULL, -32600, "Invalid Request: id must be a string or an integer");
    json_t *params = json_object_get(msg, "params");
    if (params && !json_is_object(params))
        return rpc_error(id, -32602, "Invalid params: params must be an object");
    if (!strcmp(method, "initialize")) {
        const char *want = json_string_value(json_object_get(params, "protocolVersion"));
        const char *v = versions[0];
        for (int i = 0; want && versions[i]; i++)
            if (!strcmp(want, versions[i])) v = versions[i];
        return rpc_result(
            id, json_pack("{s:s,s:{s:{s:b}},s:{s:s,s:s},s:s}", "protocolVersion", v, "capabilities",
                          "tools", "listChanged", 0, "serverInfo", "name", "mnemo", "version",
                          mnemo_version(), "instructions",
                          "mnemo keeps memories for you: memory_add to remember, memory_search to "
                          "recall by meaning, memory_delete to forget."));
    }
    if (!strcmp(method, "ping")) return rpc_result(id, json_object());
    if (!strcmp(method, "tools/list")) return rpc_result(id, tools_list());
    if (!strcmp(method, "tools/call")) {
        const char *name = json_string_value(json_object_get(params, "name"));
        json_t *args = json_object_get(params, "arguments");
        if (!name) return rpc_error(id, -32602, "Invalid params: tools/call needs a tool name");
        const struct tool *t = NULL;
        for (size_t i = 0; i < N_TOOLS; i++)
            if (!strcmp(tools[i].name, name)) t = &tools[i];
        if (!t) {
            char m[200];
            snprintf(m, sizeof m, "Unknown tool: %.100s", name);
            return rpc_error(id, -32602, m);
        }
        if (args && !json_is_object(args))
            return rpc_error(id, -32602, "Invalid params: arguments must be an object");
        json_t *req = args ? json_incref(args) : json_object();
        json_t *resp = NULL;
        mnemo_error err;
        char param[64];
        int rc = !strncmp(t->op, "om_", 3)
                     ? om_call(s, t->op, req, u, &resp, &err, param, sizeof param)
                     : mnemo__store_json_as(s, t->op, req, u ? u->access : NULL, &resp, &err, param,
                                            sizeof param);
        json_decref(req);
        json_t *r;
        if (rc) {
            char m[700];
            snprintf(m, sizeof m, "%s: %s", mnemo_status_name(rc), err.message);
            r = tool_result(NULL, m);
        } else {
            r = tool_result(resp, NULL);
        }
        json_decref(resp);
        return rpc_result(id, r);
    }
    char m[200];
    snprintf(m, sizeof m, "Method not found: %.100s", method);
    return rpc_error(id, -32601, m);
}

json_t *mnemo__mcp_handle(mnemo_store *s, json_t *msg) {
    return mnemo__mcp_handle_as(s, msg, NULL);
}
