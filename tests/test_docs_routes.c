/*
 * test_docs_routes.c — every operation the server answers (mnemo__server_route,
 * read from the tables that dispatch) is in the OpenAPI document the server
 * embeds (src/server/console/openapi.json) and in the HTTP reference,
 * docs/http.md, whose "Route index" lists each as `METHOD /path`; and every
 * entry of that index is an operation the server answers. Usage:
 * test_docs_routes PATH/docs/http.md
 */
#include "server/server.h"
#include "test.h"

#include <ctype.h>

static const char *http_md_path;

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *b = realloc(buf, cap);
            if (!b) break;
            buf = b;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (!got) break;
    }
    fclose(f);
    if (buf) buf[n] = 0;
    return buf;
}

static bool is_route(const char *method, const char *path) {
    mnemo_route_op op;
    for (size_t i = 0; mnemo__server_route(i, &op); i++)
        if (!strcmp(op.method, method) && !strcmp(op.path, path)) return true;
    return false;
}

/* Operations of the route list the text does not name as `METHOD /path`
 * (each named when `report`). */
static size_t missing_from_text(const char *text, bool report) {
    size_t bad = 0;
    mnemo_route_op op;
    for (size_t i = 0; mnemo__server_route(i, &op); i++) {
        char want[256];
        snprintf(want, sizeof want, "`%s %s`", op.method, op.path);
        if (!strstr(text, want)) {
            bad++;
            if (report)
                fprintf(stderr, "  the server answers %s %s; docs/http.md's route index lacks %s\n",
                        op.method, op.path, want);
        }
    }
    return bad;
}

/* Entries "- `METHOD /path`" of the text's "## Route index" section that are
 * not operations of the server. */
static size_t unknown_in_index(const char *text, bool report, size_t *n_entries) {
    size_t bad = 0;
    *n_entries = 0;
    const char *s = strstr(text, "\n## Route index");
    if (!s) return 1;
    s++;
    const char *end = strstr(s + 3, "\n## ");
    if (!end) end = s + strlen(s);
    for (const char *line = s; line && line < end;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, "- `", 3)) continue;
        char method[16], path[200];
        const char *p = line + 3;
        size_t m = 0;
        while (isupper((unsigned char)p[m]) && m + 1 < sizeof method) m++;
        memcpy(method, p, m);
        method[m] = 0;
        const char *q = p + m + 1, *close = strchr(q, '`');
        if (p[m] != ' ' || !close || (size_t)(close - q) >= sizeof path) {
            bad++;
            if (report) fprintf(stderr, "  route index: cannot read the entry '%.60s'\n", line);
            continue;
        }
        memcpy(path, q, (size_t)(close - q));
        path[close - q] = 0;
        (*n_entries)++;
        if (!is_route(method, path)) {
            bad++;
            if (report)
                fprintf(stderr,
                        "  docs/http.md's route index names %s %s; the server has no such route\n",
                        method, path);
        }
    }
    return bad;
}

static void test_every_route_is_in_openapi_json(void) {
    const mnemo_asset *a = mnemo__asset_find("/openapi.json");
    CHECK(a != NULL);
    if (!a) return;
    json_error_t je;
    json_t *doc = json_loadb((const char *)a->data, a->size, 0, &je);
    CHECK(doc != NULL);
    json_t *paths = json_object_get(doc, "paths");
    mnemo_route_op op;
    size_t n = 0;
    for (size_t i = 0; mnemo__server_route(i, &op); i++, n++) {
        char m[16];
        size_t k = 0;
        for (; op.method[k] && k + 1 < sizeof m; k++)
            m[k] = (char)tolower((unsigned char)op.method[k]);
        m[k] = 0;
        CHECKF(json_object_get(json_object_get(paths, op.path), m) != NULL,
               "the server answers %s %s; src/server/console/openapi.json lacks it", op.method,
               op.path);
    }
    CHECKF(n >= 20, "only %zu routes listed", n);
    json_decref(doc);
}

static void test_every_route_is_in_docs_http_md(void) {
    char *text = read_text(http_md_path);
    CHECKF(text != NULL, "cannot read %s", http_md_path);
    if (!text) return;
    CHECK(missing_from_text(text, true) == 0);
    size_t n = 0;
    CHECK(unknown_in_index(text, true, &n) == 0);
    mnemo_route_op op;
    size_t n_routes = 0;
    while (mnemo__server_route(n_routes, &op)) n_routes++;
    CHECKF(n >= n_routes, "the route index lists %zu operations, the server answers %zu", n,
           n_routes);
    free(text);
}

/* The comparison can fail: an index without a route, or with one the server
 * lacks, is caught. */
static void test_the_comparison_catches_drift(void) {
    char *text = read_text(http_md_path);
    if (!text) return;
    size_t hits = 0, n;
    for (char *hit = text; (hit = strstr(hit, "`GET /v1/models`")) != NULL; hits++)
        memcpy(hit + 1, "PUT", 3); /* `PUT /v1/models`: one missing, one unknown */
    CHECK(hits >= 1);
    CHECK(missing_from_text(text, false) == 1);
    CHECK(unknown_in_index(text, false, &n) == 1);
    free(text);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_docs_routes PATH/docs/http.md\n");
        return 2;
    }
    http_md_path = argv[1];
    RUN(test_every_route_is_in_openapi_json);
    RUN(test_every_route_is_in_docs_http_md);
    RUN(test_the_comparison_catches_drift);
    return test_finish();
}
