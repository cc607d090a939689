/*
 * test_console_routes.c — the OpenAPI document embedded in `mnemo serve`
 * against the server's route list (mnemo__server_route, read from the tables
 * that dispatch): every operation the server answers is in openapi.json and
 * every operation of openapi.json is answered, so neither can drift from the
 * other; every $ref resolves; every embedded console file is a route and an
 * operation. Against the running server, tests/test_openapi.py sends each
 * operation and schemathesis fuzzes them.
 */
#include "server/server.h"
#include "test.h"

#include <ctype.h>

static json_t *document(void) {
    const mnemo_asset *a = mnemo__asset_find("/openapi.json");
    if (!a) return NULL;
    json_error_t je;
    json_t *doc = json_loadb((const char *)a->data, a->size, JSON_REJECT_DUPLICATES, &je);
    if (!doc) fprintf(stderr, "  openapi.json: line %d: %s\n", je.line, je.text);
    return doc;
}

static void lower(const char *in, char *out, size_t cap) {
    size_t i = 0;
    for (; in[i] && i + 1 < cap; i++) out[i] = (char)tolower((unsigned char)in[i]);
    out[i] = 0;
}

static bool is_method(const char *k) {
    static const char *const m[] = {"get",     "put",  "post",  "delete",
                                    "options", "head", "patch", "trace"};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (!strcmp(k, m[i])) return true;
    return false;
}

/* Every {"$ref": "#/components/schemas/NAME"} names a schema that exists. */
static void check_refs(json_t *v, json_t *schemas) {
    if (json_is_object(v)) {
        json_t *ref = json_object_get(v, "$ref");
        if (ref) {
            const char *s = json_string_value(ref), *pre = "#/components/schemas/";
            CHECKF(s && !strncmp(s, pre, strlen(pre)) && json_object_get(schemas, s + strlen(pre)),
                   "$ref %s does not resolve", s ? s : "(not a string)");
        }
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) check_refs(x, schemas);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) check_refs(x, schemas);
    }
}

/* Operations in one list and not the other, both ways (each named when
 * `report`). */
static size_t mismatches(json_t *doc, bool report) {
    json_t *paths = json_object_get(doc, "paths");
    size_t bad = 0, n_doc = 0, n_routes = 0;
    mnemo_route_op op;
    for (size_t i = 0; mnemo__server_route(i, &op); i++, n_routes++) {
        char m[16];
        lower(op.method, m, sizeof m);
        json_t *item = json_object_get(paths, op.path);
        if (!item || !json_object_get(item, m)) {
            bad++;
            if (report)
                fprintf(stderr, "  the server answers %s %s; openapi.json lacks it\n", op.method,
                        op.path);
        }
    }
    const char *path, *k;
    json_t *item, *o;
    json_object_foreach(paths, path, item) json_object_foreach(item, k, o) {
        if (!is_method(k)) continue;
        n_doc++;
        bool found = false;
        for (size_t i = 0; !found && mnemo__server_route(i, &op); i++) {
            char m[16];
            lower(op.method, m, sizeof m);
            found = !strcmp(m, k) && !strcmp(op.path, path);
        }
        if (!found) {
            bad++;
            if (report)
                fprintf(stderr, "  openapi.json documents %s %s; the server has no such route\n", k,
                        path);
        }
    }
    if (report) fprintf(stderr, "  %zu routes, %zu documented operations\n", n_routes, n_doc);
    return bad;
}

static void test_every_route_is_documented_and_answered(void) {
    json_t *doc = document();
    CHECK(doc != NULL);
    if (!doc) return;
    CHECK(mismatches(doc, true) == 0);
    mnemo_route_op op, o2;
    size_t n = 0;
    for (size_t i = 0; mnemo__server_route(i, &op); i++, n++) {
        CHECKF(strcmp(op.method, "*") != 0, "%s: a route of any method cannot be documented",
               op.path);
        for (size_t j = 0; j < i && mnemo__server_route(j, &o2); j++)
            CHECKF(strcmp(o2.method, op.method) || strcmp(o2.path, op.path),
                   "%s %s is listed twice", op.method, op.path);
    }
    CHECKF(n >= 20, "only %zu routes listed", n);
    const char *path, *k;
    json_t *item, *o;
    json_object_foreach(json_object_get(doc, "paths"), path, item) json_object_foreach(item, k, o) {
        if (!is_method(k)) continue;
        CHECKF(json_object_size(json_object_get(o, "responses")) > 0, "%s %s: no responses", k,
               path);
        CHECKF(json_is_string(json_object_get(o, "operationId")), "%s %s: no operationId", k, path);
    }
    json_decref(doc);
}

/* The comparison can fail: a document missing a route, or with one the
 * server lacks, is caught. */
static void test_the_comparison_catches_drift(void) {
    json_t *doc = document();
    if (!doc) return;
    CHECK(mismatches(doc, false) == 0);
    json_t *paths = json_object_get(doc, "paths");
    json_t *models = json_incref(json_object_get(paths, "/v1/models"));
    json_object_del(paths, "/v1/models");
    CHECK(mismatches(doc, false) == 1);
    json_object_set_new(paths, "/v1/models", models);
    json_object_set_new(paths, "/v1/not-a-route", json_pack("{s:{s:{}}}", "get", "responses"));
    CHECK(mismatches(doc, false) == 1);
    json_object_del(json_object_get(paths, "/v1/memories/{id}"), "patch");
    CHECK(mismatches(doc, false) == 2);
    json_decref(doc);
}

static void test_document_shape(void) {
    json_t *doc = document();
    if (!doc) return;
    const char *version = json_string_value(json_object_get(doc, "openapi"));
    CHECK(version && !strcmp(version, "3.1.0"));
    const char *ours = json_string_value(json_object_get(json_object_get(doc, "info"), "version"));
    CHECKF(ours && !strcmp(ours, MNEMO_VERSION_STRING),
           "info.version %s, mnemo is " MNEMO_VERSION_STRING, ours ? ours : "(none)");
    json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
    CHECK(json_is_object(schemas));
    /* the three error shapes the server writes (http.c mnemo__reply_error) */
    CHECK(json_object_get(schemas, "OpenAIError") && json_object_get(schemas, "TEIError") &&
          json_object_get(schemas, "OllamaError"));
    check_refs(doc, schemas);
    json_decref(doc);
}

static void test_every_asset_is_a_route(void) {
    CHECK(mnemo__asset_count >= 6);
    for (size_t i = 0; i < mnemo__asset_count; i++) {
        const mnemo_asset *a = &mnemo__assets[i];
        bool routed = false;
        mnemo_route_op op;
        for (size_t k = 0; !routed && mnemo__server_route(k, &op); k++)
            routed = !strcmp(op.method, "GET") && !strcmp(op.path, a->url);
        CHECKF(routed, "the file %s is embedded but no route serves it", a->url);
        CHECKF(a->size > 0 && a->data[a->size] == 0, "%s: empty or not NUL-ended", a->url);
        CHECKF(strlen(a->etag) == 18 && a->etag[0] == '"' && a->etag[17] == '"', "%s: ETag %s",
               a->url, a->etag);
        CHECKF(strchr(a->content_type, '/') != NULL, "%s: Content-Type %s", a->url,
               a->content_type);
        /* no external loads: the CSP forbids them, and the files name none */
        const char *p = (const char *)a->data;
        CHECKF(!strstr(p, "http://") && !strstr(p, "https://") && !strstr(p, "//cdn"),
               "%s names an external URL", a->url);
        CHECK(mnemo__asset_find(a->url) == a);
    }
    CHECK(mnemo__asset_find("/nope") == NULL);
}

int main(void) {
    RUN(test_every_route_is_documented_and_answered);
    RUN(test_the_comparison_catches_drift);
    RUN(test_document_shape);
    RUN(test_every_asset_is_a_route);
    return test_finish();
}
