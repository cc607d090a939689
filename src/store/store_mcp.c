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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Newest first: the answer to a client asking for a version we do not know. */
static const char *const versions[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05", NULL};

#define SCOPE_PROPS                                                                                        \
    "\"namespace\": {\"type\": \"string\", \"description\": \"namespace (default: default)\"},"            \
    "\"user_id\": {\"type\": \"string\"}, \"agent_id\": {\"type\": \"string\"}, \"session_id\": {\"type\": \"string\"}"
#define PROMPT_PROP                                                                                        \
    "\"prompt_name\": {\"type\": \"string\", \"description\": \"the model's prompt to embed the text with " \
    "(default: document; e.g. query, STS)\"}"
#define FILTER_PROP                                                                                        \
    "\"filter\": {\"type\": \"object\", \"description\": \"metadata filter: {\\\"field\\\": value}, "       \
    "operators $eq $ne $in $nin $gt $gte $lt $lte $exists, and $and $or $not\"}"

static const struct tool {
    const char *name, *op, *description, *schema;
} tools[] = {
    {"memory_add", "add",
     "Store one memory (a fact, preference or note) for later recall. An exact repeat in the same scope "
     "returns the existing id; a near-duplicate updates it.",
     "{\"type\": \"object\", \"properties\": {\"text\": {\"type\": \"string\", \"description\": \"what to remember\"},"
     "\"metadata\": {\"type\": \"object\"}, \"ttl\": {\"type\": \"number\", \"description\": \"seconds to keep it\"},"
     PROMPT_PROP "," SCOPE_PROPS "}, \"required\": [\"text\"], \"additionalProperties\": false}"},
    {"memory_search", "search",
     "Recall the memories most relevant to a query, best first (mode vector: by meaning; text: by words; "
     "hybrid: both).",
     "{\"type\": \"object\", \"properties\": {\"query\": {\"type\": \"string\"},"
     "\"k\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 1000, \"default\": 10},"
     "\"mode\": {\"type\": \"string\", \"enum\": [\"vector\", \"text\", \"hybrid\"]},"
     "\"min_score\": {\"type\": \"number\"}," FILTER_PROP "," SCOPE_PROPS
     "}, \"required\": [\"query\"], \"additionalProperties\": false}"},
    {"memory_get", "get", "Read one memory by its id.",
     "{\"type\": \"object\", \"properties\": {\"id\": {\"type\": \"string\"}}, \"required\": [\"id\"], "
     "\"additionalProperties\": false}"},
    {"memory_update", "update", "Change a memory's text (embedded again), metadata or time to live.",
     "{\"type\": \"object\", \"properties\": {\"id\": {\"type\": \"string\"}, \"text\": {\"type\": \"string\"},"
     "\"metadata\": {\"type\": \"object\"}, \"ttl\": {\"type\": \"number\"}," PROMPT_PROP "}, \"required\": [\"id\"], "
     "\"additionalProperties\": false}"},
    {"memory_delete", "delete",
     "Forget a memory by id, or every memory of a scope matching a filter ({} for all of the scope).",
     "{\"type\": \"object\", \"properties\": {\"id\": {\"type\": \"string\"}," FILTER_PROP "," SCOPE_PROPS
     "}, \"additionalProperties\": false}"},
    {"memory_list", "list", "List memories of a scope, oldest first, a page at a time (pass next_cursor back).",
     "{\"type\": \"object\", \"properties\": {\"limit\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 1000},"
     "\"cursor\": {\"type\": \"string\"}," FILTER_PROP "," SCOPE_PROPS "}, \"additionalProperties\": false}"},
};
#define N_TOOLS (sizeof tools / sizeof tools[0])

static json_t *rpc_error(json_t *id, int code, const char *message) {
    return json_pack("{s:s,s:O,s:{s:i,s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(), "error", "code",
                     code, "message", message);
}

static json_t *rpc_result(json_t *id, json_t *result) {
    return json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id, "result", result);
}

static json_t *tools_list(void) {
    json_t *list = json_array();
    for (size_t i = 0; i < N_TOOLS; i++) {
        json_t *schema = json_loads(tools[i].schema, 0, NULL);
        json_array_append_new(list, json_pack("{s:s,s:s,s:o}", "name", tools[i].name, "description",
                                              tools[i].description, "inputSchema", schema ? schema : json_object()));
    }
    return json_pack("{s:o}", "tools", list);
}

static json_t *tool_result(json_t *payload, const char *error_text) {
    if (error_text)
        return json_pack("{s:[{s:s,s:s}],s:b}", "content", "type", "text", "text", error_text, "isError", 1);
    char *text = json_dumps(payload, JSON_COMPACT);
    json_t *r = json_pack("{s:[{s:s,s:s}],s:O,s:b}", "content", "type", "text", "text", text ? text : "{}",
                          "structuredContent", payload, "isError", 0);
    free(text);
    return r;
}

json_t *mnemo__mcp_handle(mnemo_store *s, json_t *msg) {
    if (!json_is_object(msg)) return rpc_error(NULL, -32600, "Invalid Request: not a JSON object");
    json_t *id = json_object_get(msg, "id");
    const char *method = json_string_value(json_object_get(msg, "method"));
    const char *jsonrpc = json_string_value(json_object_get(msg, "jsonrpc"));
    if (!method) {
        /* a response from the client (we send no requests) or garbage */
        if (id && (json_object_get(msg, "result") || json_object_get(msg, "error"))) return NULL;
        return rpc_error(id, -32600, "Invalid Request: no method");
    }
    if (!jsonrpc || strcmp(jsonrpc, "2.0")) return id ? rpc_error(id, -32600, "Invalid Request: jsonrpc must be \"2.0\"") : NULL;
    if (!id) return NULL; /* notifications: initialized, cancelled, ... */
    if (!json_is_string(id) && !json_is_integer(id))
        return rpc_error(NULL, -32600, "Invalid Request: id must be a string or an integer");
    json_t *params = json_object_get(msg, "params");
    if (params && !json_is_object(params)) return rpc_error(id, -32602, "Invalid params: params must be an object");
    if (!strcmp(method, "initialize")) {
        const char *want = json_string_value(json_object_get(params, "protocolVersion"));
        const char *v = versions[0];
        for (int i = 0; want && versions[i]; i++)
            if (!strcmp(want, versions[i])) v = versions[i];
        return rpc_result(id, json_pack("{s:s,s:{s:{s:b}},s:{s:s,s:s},s:s}", "protocolVersion", v, "capabilities",
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
        if (args && !json_is_object(args)) return rpc_error(id, -32602, "Invalid params: arguments must be an object");
        json_t *req = args ? json_incref(args) : json_object();
        json_t *resp = NULL;
        mnemo_error err;
        char param[64];
        int rc = mnemo__store_json(s, t->op, req, &resp, &err, param, sizeof param);
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
