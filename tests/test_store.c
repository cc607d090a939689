/*
 * test_store.c — the memory store (src/store) against a real SQLite file, on
 * the tiny random model: schema and pragmas, add/get/update/delete, every
 * filter operator (alone and during a search), search modes, pagination,
 * TTL with an injected clock and the sweep, dedup, history, model mismatch,
 * bad input (nothing stored), a read-only store, a full disk
 * (max_page_count), readers not blocked by an open write transaction, and
 * the JSON request layer, adds and updates with a named prompt, and the
 * migration of a version 1 store.
 * With a PostgreSQL URL (tests/with_pg.sh gives one) the checks that go
 * through the public API run against the PostgreSQL backend instead (each
 * test on emptied tables); the SQLite-only ones (file, pragmas, disk full,
 * locks, the version 1 migration) do not.
 * usage: test_store TINY_MODEL_DIR WORK_DIR [POSTGRES_URL]
 */
#include "store/sqlite/sqlite.h"
#include "test.h"

#include <libpq-fe.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *model_dir, *work;
static const char *pg_url; /* NULL: SQLite */
static mnemo_model *model;
/* The tests move it while the store's sweeper thread reads it: atomic
 * loads and stores (one writer, the test's thread). */
static double fake_now_ = 1.8e9;
static int dir_counter;

static double fake_now(void) {
    double v;
    __atomic_load(&fake_now_, &v, __ATOMIC_ACQUIRE);
    return v;
}

static void set_fake_now(double v) { __atomic_store(&fake_now_, &v, __ATOMIC_RELEASE); }

static double fake_clock(void *ctx) {
    (void)ctx;
    return fake_now();
}

/* Runs SQL on the PostgreSQL of pg_url; the first value of its result (0
 * when none) for a count. */
static long pg_sql(const char *sql) {
    PGconn *c = PQconnectdb(pg_url);
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    CHECKF(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
    long v = st == PGRES_TUPLES_OK && PQntuples(r) ? atol(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    PQfinish(c);
    return v;
}

static void fresh_dir(char *buf, size_t cap) {
    snprintf(buf, cap, "%s/store-%d-%d", work, (int)getpid(), dir_counter++);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", buf);
    if (system(cmd)) exit(2);
    if (pg_url)
        pg_sql("SET client_min_messages = warning; DROP TABLE IF EXISTS mnemo_memories, "
               "mnemo_history, mnemo_info; "
               "DROP FUNCTION IF EXISTS mnemo_meta");
}

/* The options of the store "in" dir: the folder, or the PostgreSQL. */
static mnemo_store_options at(const char *dir) {
    return pg_url ? (mnemo_store_options){.url = pg_url} : (mnemo_store_options){.data_dir = dir};
}

static mnemo_store *open_store(const char *dir, const mnemo_store_options *extra) {
    mnemo_store_options o = {0};
    if (extra) o = *extra;
    if (pg_url)
        o.url = pg_url;
    else
        o.data_dir = dir;
    if (!extra || !extra->model) o.model = model;
    if (!o.model_name) o.model_name = "tiny";
    o.clock = fake_clock;
    o.sweep_seconds = -1;
    mnemo_store *s = NULL;
    mnemo_error err;
    int rc = mnemo_store_open(&o, &s, &err);
    CHECKF(rc == MNEMO_OK, "open %s: %s", dir, err.message);
    return s;
}

static int add1(mnemo_store *s, const char *text, const char *meta, const char *ns, char *id_out,
                mnemo_memory_event *ev) {
    mnemo_memory_input in = {
        .text = text, .text_len = strlen(text), .metadata = meta, .scope = {.ns = ns}};
    mnemo_memory_added out;
    mnemo_error err;
    int rc = mnemo_memory_add(s, &in, 1, &out, &err);
    if (rc) fprintf(stderr, "  add '%s': %s\n", text, err.message);
    if (!rc && id_out) memcpy(id_out, out.id, MNEMO_MEMORY_ID_SIZE);
    if (!rc && ev) *ev = out.event;
    return rc;
}

static size_t count(mnemo_store *s, const char *ns, const char *filter) {
    mnemo_memory_scope sc = {.ns = ns};
    size_t n = 99999;
    mnemo_error err;
    CHECKF(mnemo_memory_count(s, &sc, filter, &n, &err) == MNEMO_OK, "count: %s", err.message);
    return n;
}

static void test_schema_and_roundtrip(void) {
    char dir[512];
    fresh_dir(dir, sizeof dir);
    mnemo_store *s = open_store(dir, NULL);
    if (!s) return;
    char id[MNEMO_MEMORY_ID_SIZE];
    CHECK(add1(s, "the cat sat on the mat", "{\"lang\": \"en\", \"n\": 3}", NULL, id, NULL) ==
          MNEMO_OK);
    CHECK(strlen(id) == 32);
    mnemo_memories *m = NULL;
    mnemo_error err;
    CHECK(mnemo_memory_get(s, id, &m, &err) == MNEMO_OK);
    if (m) {
        CHECK(m->n == 1 && !strcmp(m->items[0].text, "the cat sat on the mat"));
        CHECK(!strcmp(m->items[0].metadata, "{\"lang\":\"en\",\"n\":3}"));
        CHECK(!strcmp(m->items[0].ns, "default") && !m->items[0].user_id);
        CHECK(m->items[0].created_at == fake_now() && m->items[0].expires_at == 0);
    }
    mnemo_memories_free(m);
    mnemo_store_close(s);

    /* The file itself: WAL, schema version, the model record, the row. */
    char path[600];
    snprintf(path, sizeof path, "%s/memories.db", dir);
    sqlite3 *db;
    CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    sqlite3_stmt *st;
    const char *q[][2] = {{"PRAGMA journal_mode", "wal"},
                          {"PRAGMA user_version", "2"},
                          {"SELECT value FROM store_info WHERE key = 'dim'", "64"},
                          {"SELECT value FROM store_info WHERE key = 'model_name'", "tiny"},
                          {"SELECT value FROM store_info WHERE key = 'prompt_query'",
                           "task: search result | query: "},
                          {"SELECT count(*) FROM memories", "1"},
                          {"SELECT length(vector) FROM memories", "256"},
                          {"SELECT event FROM history", "added"},
                          {"PRAGMA integrity_check", "ok"}};
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        CHECK(sqlite3_prepare_v2(db, q[i][0], -1, &st, NULL) == SQLITE_OK);
        CHECKF(sqlite3_step(st) == SQLITE_ROW &&
                   !strcmp((const char *)sqlite3_column_text(st, 0), q[i][1]),
               "%s: want %s", q[i][0], q[i][1]);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);

    /* Reopen: the index is rebuilt from the rows. */
    s = open_store(dir, NULL);
    CHECK(s && count(s, NULL, NULL) == 1);
    mnemo_store_close(s);

    /* No data dir: refused, with the flag named. */
    mnemo_store_options o = {.model = model};
    mnemo_store *bad = NULL;
    CHECK(mnemo_store_open(&o, &bad, &err) == MNEMO_EINVAL && strstr(err.message, "--data-dir") &&
          !bad);
    o.data_dir = dir;
    o.synchronous = "sometimes";
    CHECK(mnemo_store_open(&o, &bad, &err) == MNEMO_EINVAL && strstr(err.message, "synchronous"));
}

static void test_filters_unit(void) {
    json_t *meta =
        json_loads("{\"color\": \"red\", \"n\": 5, \"x\": 2.5, \"ok\": true, \"nil\": null, "
                   "\"tags\": \"a\", \"nested\": {\"deep\": \"yes\"}}",
                   0, NULL);
    struct {
        const char *filter;
        int want;
    } cases[] = {
        {"{\"color\": \"red\"}", 1},
        {"{\"color\": \"blue\"}", 0},
        {"{\"color\": {\"$eq\": \"red\"}}", 1},
        {"{\"color\": {\"$ne\": \"red\"}}", 0},
        {"{\"missing\": {\"$ne\": \"red\"}}", 1},
        {"{\"color\": {\"$in\": [\"blue\", \"red\"]}}", 1},
        {"{\"color\": {\"$in\": [\"blue\"]}}", 0},
        {"{\"color\": {\"$nin\": [\"blue\"]}}", 1},
        {"{\"color\": {\"$nin\": [\"red\"]}}", 0},
        {"{\"n\": {\"$gt\": 4}}", 1},
        {"{\"n\": {\"$gt\": 5}}", 0},
        {"{\"n\": {\"$gte\": 5}}", 1},
        {"{\"n\": {\"$lt\": 5}}", 0},
        {"{\"n\": {\"$lte\": 5}}", 1},
        {"{\"x\": {\"$gt\": 2, \"$lt\": 3}}", 1},
        {"{\"n\": 5.0}", 1},
        {"{\"color\": {\"$gt\": \"a\"}}", 1},
        {"{\"color\": {\"$gt\": 1}}", 0},
        {"{\"ok\": true}", 1},
        {"{\"nil\": null}", 1},
        {"{\"color\": {\"$exists\": true}}", 1},
        {"{\"missing\": {\"$exists\": false}}", 1},
        {"{\"missing\": {\"$exists\": true}}", 0},
        {"{\"nested.deep\": \"yes\"}", 1},
        {"{\"$and\": [{\"color\": \"red\"}, {\"n\": 5}]}", 1},
        {"{\"$and\": [{\"color\": \"red\"}, {\"n\": 6}]}", 0},
        {"{\"$or\": [{\"color\": \"blue\"}, {\"n\": 5}]}", 1},
        {"{\"$or\": [{\"color\": \"blue\"}, {\"n\": 6}]}", 0},
        {"{\"$not\": {\"color\": \"blue\"}}", 1},
        {"{\"$not\": {\"color\": \"red\"}}", 0},
        {"{\"color\": \"red\", \"n\": 6}", 0},
        {"{}", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mnemo_filter *f = NULL;
        mnemo_error err;
        int rc = mnemo__filter_parse(cases[i].filter, &f, &err);
        CHECKF(rc == MNEMO_OK, "%s: %s", cases[i].filter, err.message);
        CHECKF(mnemo__filter_match(f, meta) == cases[i].want, "%s: want %d", cases[i].filter,
               cases[i].want);
        mnemo__filter_free(f);
    }
    const char *bad[][2] = {{"{\"a\": {\"$regex\": \"x\"}}", "$regex"},
                            {"{\"$xor\": []}", "$xor"},
                            {"{\"a\": {\"$in\": 3}}", "$in"},
                            {"{\"a\": {\"$gt\": [1]}}", "$gt"},
                            {"{\"a\": {\"$exists\": 1}}", "$exists"},
                            {"{\"$and\": {}}", "$and"},
                            {"{\"$not\": 3}", "$not"},
                            {"[1, 2]", "object"},
                            {"{\"a\": [1]}", "a"},
                            {"{not json", "JSON"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mnemo_filter *f = NULL;
        mnemo_error err;
        int rc = mnemo__filter_parse(bad[i][0], &f, &err);
        CHECKF(rc == MNEMO_EINVAL && strstr(err.message, bad[i][1]), "%s: rc %d, '%s'", bad[i][0],
               rc, rc ? err.message : "");
        mnemo__filter_free(f);
    }
    json_decref(meta);
}

static void test_search_and_filters(void) {
    char dir[512];
    fresh_dir(dir, sizeof dir);
    mnemo_store *s = open_store(dir, NULL);
    if (!s) return;
    /* 60 memories; "rare" marks 6 of them */
    mnemo_memory_input in[60];
    char texts[60][64], metas[60][96];
    for (int i = 0; i < 60; i++) {
        snprintf(texts[i], sizeof texts[i], "note %d about topic %d and zebra%d", i, i % 7, i);
        snprintf(metas[i], sizeof metas[i], "{\"i\": %d, \"kind\": \"%s\"%s}", i,
                 i % 2 ? "odd" : "even", i % 10 == 3 ? ", \"rare\": true" : "");
        in[i] = (mnemo_memory_input){
            .text = texts[i], .text_len = strlen(texts[i]), .metadata = metas[i]};
    }
    mnemo_memory_added out[60];
    mnemo_error err;
    CHECKF(mnemo_memory_add(s, in, 60, out, &err) == MNEMO_OK, "%s", err.message);
    for (int i = 1; i < 60; i++)
        CHECK(strcmp(out[i].id, out[i - 1].id) && out[i].event == MNEMO_MEMORY_ADDED);
    /* ids in input order: get(out[i]) is texts[i] */
    mnemo_memories *m = NULL;
    CHECK(mnemo_memory_get(s, out[41].id, &m, &err) == MNEMO_OK && m &&
          !strcmp(m->items[0].text, texts[41]));
    mnemo_memories_free(m);

    /* Vector search: the memory's own text ranks it first. */
    mnemo_search_options so = {.query = texts[17], .query_len = strlen(texts[17]), .k = 5};
    CHECKF(mnemo_memory_search(s, &so, &m, &err) == MNEMO_OK, "%s", err.message);
    CHECK(m && m->n == 5);
    for (size_t i = 1; m && i < m->n; i++) CHECK(m->items[i - 1].score >= m->items[i].score);
    mnemo_memories_free(m);

    /* A filtered search returns k whenever k match. */
    so.filter = "{\"rare\": true}";
    so.k = 6;
    CHECK(mnemo_memory_search(s, &so, &m, &err) == MNEMO_OK && m && m->n == 6);
    for (size_t i = 0; m && i < m->n; i++) CHECK(strstr(m->items[i].metadata, "\"rare\":true"));
    mnemo_memories_free(m);
    so.k = 10; /* only 6 exist */
    CHECK(mnemo_memory_search(s, &so, &m, &err) == MNEMO_OK && m && m->n == 6);
    mnemo_memories_free(m);

    /* Every operator during a search, against a count done by hand. */
    struct {
        const char *f;
        size_t want;
    } ops[] = {{"{\"kind\": \"odd\"}", 30},
               {"{\"kind\": {\"$ne\": \"odd\"}}", 30},
               {"{\"i\": {\"$in\": [1, 2, 3, 100]}}", 3},
               {"{\"i\": {\"$nin\": [1, 2, 3]}}", 57},
               {"{\"i\": {\"$gt\": 49}}", 10},
               {"{\"i\": {\"$gte\": 49}}", 11},
               {"{\"i\": {\"$lt\": 5}}", 5},
               {"{\"i\": {\"$lte\": 5}}", 6},
               {"{\"rare\": {\"$exists\": true}}", 6},
               {"{\"rare\": {\"$exists\": false}}", 54},
               {"{\"$and\": [{\"kind\": \"odd\"}, {\"i\": {\"$lt\": 10}}]}", 5},
               {"{\"$or\": [{\"i\": 0}, {\"i\": 59}]}", 2},
               {"{\"$not\": {\"kind\": \"odd\"}}", 30}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        so.filter = ops[i].f;
        so.k = 100;
        m = NULL;
        CHECKF(mnemo_memory_search(s, &so, &m, &err) == MNEMO_OK, "%s: %s", ops[i].f, err.message);
        CHECKF(m && m->n == ops[i].want, "%s: %zu results, want %zu", ops[i].f, m ? m->n : 0,
               ops[i].want);
        CHECK(count(s, NULL, ops[i].f) == ops[i].want);
        mnemo_memories_free(m);
    }
    so.filter = NULL;

    /* min_score drops the weak ones. */
    so.k = 60;
    CHECK(mnemo_memory_search(s, &so, &m, &err) == MNEMO_OK && m && m->n == 60);
    double third = m && m->n == 60 ? m->items[2].score : 2;
    mnemo_memories_free(m);
    so.has_min_score = 1;
    so.min_score = third;
    CHECK(mnemo_memory_search(s, &so, &m, &err) == MNEMO_OK && m && m->n == 3);
    mnemo_memories_free(m);
    so.has_min_score = 0;

    /* Text mode: BM25 on a word only one memory has. */
    so = (mnemo_search_options){
        .query = "zebra23", .query_len = 7, .k = 3, .mode = MNEMO_SEARCH_TEXT};
    CHECKF(mnemo_memory_search(s, &so, &m, &err) == MNEMO_OK, "%s", err.message);
    CHECK(m && m->n == 1 && !strcmp(m->items[0].text, texts[23]) && m->items[0].score > 0);
    mnemo_memories_free(m);
    /* FTS5 syntax in a query is only words */
    so.query = "\"zebra23 OR NEAR( * ";
    so.query_len = strlen(so.query);
    CHECKF(mnemo_memory_search(s, &so, &m, &err) == MNEMO_OK, "%s", err.message);
    mnemo_memories_free(m);
    /* Hybrid: the exact word and its own text agree. */
    so = (mnemo_search_options){
        .query = texts[23], .query_len = strlen(texts[23]), .k = 5, .mode = MNEMO_SEARCH_HYBRID};
    CHECKF(mnemo_memory_search(s, &so, &m, &err) == MNEMO_OK, "%s", err.message);
    int found = 0;
    for (size_t i = 0; m && i < m->n; i++)
        if (!strcmp(m->items[i].text, texts[23])) found = 1;
    CHECK(m && m->n == 5 && found); /* first of the text list */
    CHECK(m && m->items[0].score >= 1.0 / (MNEMO_RRF_K + 1) &&
          m->items[0].score <= 2.0 / (MNEMO_RRF_K + 1));
    mnemo_memories_free(m);
    /* By vector. */
    float v[64];
    const char *t = texts[5];
    size_t tl = strlen(t);
    mnemo_context *ctx;
    mnemo_context_create(model, NULL, &ctx, NULL);
    mnemo_embed_options eo = {.prompt_name = "document"};
    mnemo_embed(ctx, &t, &tl, 1, &eo, v, NULL, NULL);
    mnemo_context_free(ctx);
    so = (mnemo_search_options){.vector = v, .vector_dim = 64, .k = 1};
    CHECK(mnemo_memory_search(s, &so, &m, &err) == MNEMO_OK && m && m->n == 1 &&
          !strcmp(m->items[0].text, texts[5]));
    CHECK(m && m->items[0].score > 0.9999);
    mnemo_memories_free(m);

    /* A memory added with its own vector is found by it. */
    float own[64];
    for (int d = 0; d < 64; d++) own[d] = (float)((d * 7919) % 13) - 6.0f;
    mnemo_memory_input vin = {
        .text = "with a vector", .text_len = 13, .vector = own, .vector_dim = 64};
    mnemo_memory_added vout;
    CHECKF(mnemo_memory_add(s, &vin, 1, &vout, &err) == MNEMO_OK, "%s", err.message);
    so = (mnemo_search_options){.vector = own, .vector_dim = 64, .k = 1};
    CHECK(mnemo_memory_search(s, &so, &m, &err) == MNEMO_OK && m && m->n == 1 &&
          !strcmp(m->items[0].id, vout.id) && m->items[0].score > 0.9999);
    mnemo_memories_free(m);
    vin.vector_dim = 3;
    CHECK(mnemo_memory_add(s, &vin, 1, &vout, &err) == MNEMO_EINVAL &&
          strstr(err.message, "vector"));
    CHECK(mnemo_memory_delete(s, vout.id, &err) == MNEMO_OK);

    /* Scope: another namespace sees nothing. */
    so = (mnemo_search_options){.query = "note", .query_len = 4, .scope = {.ns = "other"}};
    CHECK(mnemo_memory_search(s, &so, &m, &err) == MNEMO_OK && m && m->n == 0);
    mnemo_memories_free(m);

    /* Delete by filter. */
    size_t nd = 0;
    CHECK(mnemo_memory_delete_where(s, NULL, "{\"kind\": \"odd\"}", &nd, &err) == MNEMO_OK &&
          nd == 30);
    CHECK(count(s, NULL, NULL) == 30 && count(s, NULL, "{\"kind\": \"odd\"}") == 0);
    mnemo_store_close(s);
    s = open_store(dir, NULL);
    CHECK(s && count(s, NULL, NULL) == 30);
    mnemo_store_close(s);
}

static void test_scopes(void) {
    char dir[512];
    fresh_dir(dir, sizeof dir);
    mnemo_store *s = open_store(dir, NULL);
    if (!s) return;
    mnemo_memory_input in[3] = {
        {.text = "alpha", .text_len = 5, .scope = {.ns = "n1", .user_id = "u1", .agent_id = "a1"}},
        {.text = "beta", .text_len = 4, .scope = {.ns = "n1", .user_id = "u2", .session_id = "s1"}},
        {.text = "gamma", .text_len = 5, .scope = {.ns = "n2", .user_id = "u1"}}};
    mnemo_memory_added out[3];
    mnemo_error err;
    CHECK(mnemo_memory_add(s, in, 3, out, &err) == MNEMO_OK);
    mnemo_memory_scope sc[] = {{.ns = "n1"},
                               {.ns = "n1", .user_id = "u1"},
                               {.ns = "n1", .session_id = "s1"},
                               {.ns = "n2"},
                               {.ns = "n1", .user_id = "u3"},
                               {.ns = "n1", .agent_id = "a1", .user_id = "u1"}};
    size_t want[] = {2, 1, 1, 1, 0, 1};
    for (size_t i = 0; i < 6; i++) {
        size_t n;
        CHECK(mnemo_memory_count(s, &sc[i], NULL, &n, &err) == MNEMO_OK && n == want[i]);
        mnemo_list_options lo = {.scope = sc[i]};
        mnemo_memories *m;
        CHECK(mnemo_memory_list(s, &lo, &m, &err) == MNEMO_OK && m->n == want[i]);
        mnemo_memories_free(m);
        mnemo_search_options so = {.query = "alpha", .query_len = 5, .scope = sc[i]};
        CHECK(mnemo_memory_search(s, &so, &m, &err) == MNEMO_OK && m->n == want[i]);
        mnemo_memories_free(m);
    }
    mnemo_store_close(s);
}

static void test_pagination(void) {
    char dir[512];
    fresh_dir(dir, sizeof dir);
    mnemo_store_options o = {.no_dedup = 1}; /* the tiny model finds these texts near-identical */
    mnemo_store *s = open_store(dir, &o);
    if (!s) return;
    char ids[25][MNEMO_MEMORY_ID_SIZE];
    for (int i = 0; i < 25; i++) {
        char t[32];
        snprintf(t, sizeof t, "memory number %d", i);
        CHECK(add1(s, t, i % 5 == 0 ? "{\"five\": true}" : NULL, NULL, ids[i], NULL) == MNEMO_OK);
    }
    mnemo_list_options lo = {.limit = 10};
    int seen = 0, pages = 0;
    char cursor[64] = "";
    mnemo_error err;
    for (;;) {
        lo.cursor = cursor[0] ? cursor : NULL;
        mnemo_memories *m = NULL;
        CHECKF(mnemo_memory_list(s, &lo, &m, &err) == MNEMO_OK, "%s", err.message);
        if (!m) break;
        pages++;
        for (size_t i = 0; i < m->n; i++)
            CHECK(!strcmp(m->items[i].id, ids[seen + (int)i])); /* oldest first */
        seen += (int)m->n;
        CHECK(m->n == (pages < 3 ? 10u : 5u));
        if (!m->next_cursor) {
            mnemo_memories_free(m);
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", m->next_cursor);
        mnemo_memories_free(m);
        if (pages > 5) break;
    }
    CHECK(seen == 25 && pages == 3);
    /* filtered pages */
    lo = (mnemo_list_options){.limit = 2, .filter = "{\"five\": true}"};
    mnemo_memories *m = NULL;
    CHECK(mnemo_memory_list(s, &lo, &m, &err) == MNEMO_OK && m->n == 2 && m->next_cursor);
    if (m && m->next_cursor) {
        lo.cursor = m->next_cursor;
        mnemo_memories *m2 = NULL;
        CHECK(mnemo_memory_list(s, &lo, &m2, &err) == MNEMO_OK && m2->n == 2 && m2->next_cursor);
        CHECK(m2 && !strcmp(m2->items[0].id, ids[10]));
        mnemo_memories_free(m2);
    }
    mnemo_memories_free(m);
    lo = (mnemo_list_options){.cursor = "abc"};
    CHECK(mnemo_memory_list(s, &lo, &m, &err) == MNEMO_EINVAL && strstr(err.message, "cursor"));
    lo = (mnemo_list_options){.limit = 5000};
    CHECK(mnemo_memory_list(s, &lo, &m, &err) == MNEMO_ERANGE && strstr(err.message, "limit"));
    mnemo_store_close(s);
}

static void test_ttl(void) {
    char dir[512];
    fresh_dir(dir, sizeof dir);
    mnemo_store *s = open_store(dir, NULL);
    if (!s) return;
    double t0 = fake_now();
    mnemo_memory_input in[2] = {{.text = "short lived", .text_len = 11, .ttl = 10},
                                {.text = "forever", .text_len = 7}};
    mnemo_memory_added out[2];
    mnemo_error err;
    CHECK(mnemo_memory_add(s, in, 2, out, &err) == MNEMO_OK);
    mnemo_memories *m = NULL;
    CHECK(mnemo_memory_get(s, out[0].id, &m, &err) == MNEMO_OK &&
          m->items[0].expires_at == t0 + 10);
    mnemo_memories_free(m);
    set_fake_now(t0 + 5);
    CHECK(count(s, NULL, NULL) == 2);
    set_fake_now(t0 + 11);
    CHECK(count(s, NULL, NULL) == 1);
    CHECK(mnemo_memory_get(s, out[0].id, &m, &err) == MNEMO_ENOENT);
    mnemo_search_options so = {.query = "short lived", .query_len = 11, .k = 10};
    CHECK(mnemo_memory_search(s, &so, &m, &err) == MNEMO_OK && m->n == 1 &&
          !strcmp(m->items[0].text, "forever"));
    mnemo_memories_free(m);
    so.mode = MNEMO_SEARCH_TEXT;
    CHECK(mnemo_memory_search(s, &so, &m, &err) == MNEMO_OK && m->n == 0);
    mnemo_memories_free(m);
    mnemo_list_options lo = {0};
    CHECK(mnemo_memory_list(s, &lo, &m, &err) == MNEMO_OK && m->n == 1);
    mnemo_memories_free(m);
    size_t swept = 0;
    CHECK(mnemo_store_sweep(s, &swept, &err) == MNEMO_OK && swept == 1);
    CHECK(mnemo_store_sweep(s, &swept, &err) == MNEMO_OK && swept == 0);
    mnemo_history *h = NULL;
    CHECK(mnemo_memory_history(s, out[0].id, &h, &err) == MNEMO_OK && h->n == 2);
    if (h && h->n == 2)
        CHECK(!strcmp(h->items[1].event, "deleted") && h->items[1].reason &&
              !strcmp(h->items[1].reason, "expired"));
    mnemo_history_free(h);
    /* expires_at absolute, and update clearing it */
    mnemo_memory_input e = {.text = "until then", .text_len = 10, .expires_at = fake_now() + 100};
    CHECK(mnemo_memory_add(s, &e, 1, out, &err) == MNEMO_OK);
    mnemo_memory_changes ch = {.expires_at = -1};
    CHECK(mnemo_memory_update(s, out[0].id, &ch, &err) == MNEMO_OK);
    set_fake_now(fake_now() + 1000);
    CHECK(count(s, NULL, NULL) == 2);
    /* ttl and expires_at together: refused */
    e.ttl = 5;
    CHECK(mnemo_memory_add(s, &e, 1, out, &err) == MNEMO_EINVAL && strstr(err.message, "not both"));
    mnemo_store_close(s);
    /* The background sweep runs on its own. */
    mnemo_store_options o = {0};
    s = open_store(dir, &o);
    mnemo_memory_input q = {.text = "quick", .text_len = 5, .ttl = 1};
    CHECK(mnemo_memory_add(s, &q, 1, out, &err) == MNEMO_OK);
    mnemo_store_close(s);
    o = at(dir);
    o.model = model, o.clock = fake_clock, o.sweep_seconds = 0.05;
    CHECK(mnemo_store_open(&o, &s, &err) == MNEMO_OK);
    set_fake_now(fake_now() + 10);
    usleep(300 * 1000);
    /* the row is gone from the table (not only hidden) */
    if (pg_url) {
        CHECK(pg_sql("SELECT count(*) FROM mnemo_memories WHERE text = 'quick'") == 0);
        CHECK(
            pg_sql(
                "SELECT count(*) FROM mnemo_history WHERE text = 'quick' AND reason = 'expired'") ==
            1);
        mnemo_store_close(s);
        return;
    }
    sqlite3 *db = NULL;
    mnemo__store_reader(s, &db, &err);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM memories WHERE text = 'quick'", -1, &st, NULL);
    CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 0);
    sqlite3_finalize(st);
    mnemo__store_reader_put(s, db);
    mnemo_store_close(s);
}

static void test_dedup(void) {
    char dir[512];
    fresh_dir(dir, sizeof dir);
    /* the cosine of two close texts on this model sets the threshold */
    const char *a = "my favourite colour is blue", *b = "my favourite colour is blue!";
    const char *tx[2] = {a, b};
    size_t tl[2] = {strlen(a), strlen(b)};
    float v[128];
    mnemo_context *ctx;
    mnemo_context_create(model, NULL, &ctx, NULL);
    mnemo_embed_options eo = {.prompt_name = "document"};
    mnemo_embed(ctx, tx, tl, 2, &eo, v, NULL, NULL);
    mnemo_context_free(ctx);
    float cos = mnemo__dot(v, v + 64, 64);
    mnemo_store_options o = {.dedup_threshold = cos - 0.001};
    mnemo_store *s = open_store(dir, &o);
    if (!s) return;
    char id1[MNEMO_MEMORY_ID_SIZE], id2[MNEMO_MEMORY_ID_SIZE], id3[MNEMO_MEMORY_ID_SIZE],
        id4[MNEMO_MEMORY_ID_SIZE];
    mnemo_memory_event ev;
    CHECK(add1(s, a, NULL, NULL, id1, &ev) == MNEMO_OK && ev == MNEMO_MEMORY_ADDED);
    CHECK(add1(s, a, NULL, NULL, id2, &ev) == MNEMO_OK && ev == MNEMO_MEMORY_DUPLICATE &&
          !strcmp(id1, id2));
    CHECK(count(s, NULL, NULL) == 1);
    /* the same text in another namespace is another memory */
    CHECK(add1(s, a, NULL, "elsewhere", id3, &ev) == MNEMO_OK && ev == MNEMO_MEMORY_ADDED &&
          strcmp(id1, id3));
    /* near-duplicate: updates the first */
    CHECK(add1(s, b, "{\"v\": 2}", NULL, id4, &ev) == MNEMO_OK && ev == MNEMO_MEMORY_MERGED &&
          !strcmp(id1, id4));
    CHECK(count(s, NULL, NULL) == 1);
    mnemo_memories *m = NULL;
    mnemo_error err;
    CHECK(mnemo_memory_get(s, id1, &m, &err) == MNEMO_OK && !strcmp(m->items[0].text, b));
    mnemo_memories_free(m);
    mnemo_history *h = NULL;
    CHECK(mnemo_memory_history(s, id1, &h, &err) == MNEMO_OK && h->n == 2 &&
          !strcmp(h->items[1].event, "updated"));
    mnemo_history_free(h);
    /* a batch repeating itself */
    mnemo_memory_input in[2] = {{.text = "twice", .text_len = 5}, {.text = "twice", .text_len = 5}};
    mnemo_memory_added out[2];
    CHECK(mnemo_memory_add(s, in, 2, out, &err) == MNEMO_OK && !strcmp(out[0].id, out[1].id) &&
          out[1].event == MNEMO_MEMORY_DUPLICATE);
    mnemo_store_close(s);
    /* no_dedup: every add is new */
    fresh_dir(dir, sizeof dir);
    o = (mnemo_store_options){.no_dedup = 1};
    s = open_store(dir, &o);
    CHECK(add1(s, a, NULL, NULL, id1, &ev) == MNEMO_OK &&
          add1(s, a, NULL, NULL, id2, &ev) == MNEMO_OK && strcmp(id1, id2));
    mnemo_store_close(s);
}

/* The *_default_options() functions name the defaults a zeroed struct
 * means, and the flags say by name what the special values said. */
static void test_default_options(void) {
    mnemo_store_options d = mnemo_store_default_options();
    CHECK(!strcmp(d.synchronous, "full") && d.dedup_threshold == 0.95 && d.sweep_seconds == 60 &&
          d.max_text_bytes == 256 * 1024 && d.max_metadata_bytes == 16 * 1024 && d.pool_size == 4 &&
          d.index_threshold == 20000 && d.hnsw_m == 32 && d.hnsw_ef_construction == 200 &&
          d.hnsw_ef_search == 256 && !d.data_dir && !d.url && !d.model);
    CHECK(mnemo_search_default_options().k == 10 &&
          mnemo_search_default_options().mode == MNEMO_SEARCH_VECTOR);
    CHECK(mnemo_list_default_options().limit == 100 && !mnemo_list_default_options().cursor);
    CHECK(mnemo_context_default_options().max_batch_tokens == 4096 &&
          mnemo_context_default_options().n_threads == 0);
    CHECK(!strcmp(mnemo_model_default_options().precision, "auto"));
    CHECK(!mnemo_embed_default_options().prompt_name && !mnemo_embed_default_options().dim);
    CHECK(!mnemo_tokenizer_default_options().cache_dir &&
          !mnemo_tokenizer_default_options().no_cache);

    /* dedup_exact_only: a near-duplicate is a new memory, a repeat is not */
    char dir[512], id1[MNEMO_MEMORY_ID_SIZE], id2[MNEMO_MEMORY_ID_SIZE];
    fresh_dir(dir, sizeof dir);
    d.dedup_exact_only = 1;
    mnemo_store *s = open_store(dir, &d);
    if (!s) return;
    mnemo_memory_event ev;
    CHECK(add1(s, "my favourite colour is blue", NULL, NULL, id1, &ev) == MNEMO_OK &&
          ev == MNEMO_MEMORY_ADDED);
    CHECK(add1(s, "my favourite colour is blue!", NULL, NULL, id2, &ev) == MNEMO_OK &&
          ev == MNEMO_MEMORY_ADDED && strcmp(id1, id2));
    CHECK(add1(s, "my favourite colour is blue", NULL, NULL, id2, &ev) == MNEMO_OK &&
          ev == MNEMO_MEMORY_DUPLICATE && !strcmp(id1, id2));
    /* the default search (k 10) and list (limit 100) */
    mnemo_search_options so = mnemo_search_default_options();
    so.query = "colour", so.query_len = 6;
    mnemo_memories *m = NULL;
    mnemo_error err;
    CHECK(mnemo_memory_search(s, &so, &m, &err) == MNEMO_OK && m->n == 2);
    mnemo_memories_free(m);
    mnemo_list_options lo = mnemo_list_default_options();
    CHECK(mnemo_memory_list(s, &lo, &m, &err) == MNEMO_OK && m->n == 2);
    mnemo_memories_free(m);

    /* clear_expiry: as expires_at < 0; with a ttl it is refused */
    mnemo_memory_input e = {.text = "until then", .text_len = 10, .expires_at = fake_now() + 100};
    mnemo_memory_added out;
    CHECK(mnemo_memory_add(s, &e, 1, &out, &err) == MNEMO_OK);
    mnemo_memory_changes ch = {.clear_expiry = 1, .ttl = 5};
    CHECK(mnemo_memory_update(s, out.id, &ch, &err) == MNEMO_EINVAL &&
          strstr(err.message, "not several"));
    ch.ttl = 0;
    CHECK(mnemo_memory_update(s, out.id, &ch, &err) == MNEMO_OK);
    CHECK(mnemo_memory_get(s, out.id, &m, &err) == MNEMO_OK && m->items[0].expires_at == 0);
    mnemo_memories_free(m);
    set_fake_now(fake_now() + 1000);
    CHECK(count(s, NULL, NULL) == 3);
    mnemo_store_close(s);

    /* no_sweep wins over a sweep interval: an expired row stays in the table
     * until mnemo_store_sweep() */
    if (pg_url) return;
    d = mnemo_store_default_options();
    d.data_dir = dir, d.model = model, d.model_name = "tiny", d.clock = fake_clock;
    d.sweep_seconds = 0.05, d.no_sweep = 1;
    CHECK(mnemo_store_open(&d, &s, &err) == MNEMO_OK);
    if (!s) return;
    mnemo_memory_input q = {.text = "quick", .text_len = 5, .ttl = 1};
    CHECK(mnemo_memory_add(s, &q, 1, &out, &err) == MNEMO_OK);
    set_fake_now(fake_now() + 10);
    usleep(300 * 1000);
    sqlite3 *db = NULL;
    mnemo__store_reader(s, &db, &err);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM memories WHERE text = 'quick'", -1, &st, NULL);
    CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1);
    sqlite3_finalize(st);
    mnemo__store_reader_put(s, db);
    size_t swept = 0;
    CHECK(mnemo_store_sweep(s, &swept, &err) == MNEMO_OK && swept == 1);
    mnemo_store_close(s);
}

static void test_update_delete_history(void) {
    char dir[512];
    fresh_dir(dir, sizeof dir);
    mnemo_store *s = open_store(dir, NULL);
    if (!s) return;
    char id[MNEMO_MEMORY_ID_SIZE];
    mnemo_error err;
    CHECK(add1(s, "I live in Paris", "{\"city\": \"paris\"}", NULL, id, NULL) == MNEMO_OK);
    double t_add = fake_now();
    set_fake_now(fake_now() + 60);
    mnemo_memory_changes ch = {
        .text = "I live in Berlin", .text_len = 16, .metadata = "{\"city\": \"berlin\"}"};
    CHECKF(mnemo_memory_update(s, id, &ch, &err) == MNEMO_OK, "%s", err.message);
    /* the new text is embedded: a search by it finds it at cosine 1 */
    mnemo_search_options so = {
        .query = "I live in Berlin", .query_len = 16, .k = 1, .mode = MNEMO_SEARCH_TEXT};
    mnemo_memories *m = NULL;
    CHECK(mnemo_memory_search(s, &so, &m, &err) == MNEMO_OK && m->n == 1 &&
          !strcmp(m->items[0].id, id));
    mnemo_memories_free(m);
    CHECK(count(s, NULL, "{\"city\": \"berlin\"}") == 1 &&
          count(s, NULL, "{\"city\": \"paris\"}") == 0);
    CHECK(mnemo_memory_get(s, id, &m, &err) == MNEMO_OK && m->items[0].updated_at == fake_now() &&
          m->items[0].created_at == t_add);
    mnemo_memories_free(m);
    set_fake_now(fake_now() + 60);
    CHECK(mnemo_memory_delete(s, id, &err) == MNEMO_OK);
    CHECK(mnemo_memory_delete(s, id, &err) == MNEMO_ENOENT && strstr(err.message, id));
    CHECK(mnemo_memory_get(s, id, &m, &err) == MNEMO_ENOENT);
    CHECK(mnemo_memory_update(s, id, &ch, &err) == MNEMO_ENOENT);
    mnemo_history *h = NULL;
    CHECK(mnemo_memory_history(s, id, &h, &err) == MNEMO_OK && h && h->n == 3);
    if (h && h->n == 3) {
        CHECK(!strcmp(h->items[0].event, "added") && !strcmp(h->items[0].text, "I live in Paris") &&
              h->items[0].at == t_add);
        CHECK(!strcmp(h->items[1].event, "updated") &&
              !strcmp(h->items[1].text, "I live in Berlin") && h->items[1].at == t_add + 60 &&
              !strcmp(h->items[1].metadata, "{\"city\":\"berlin\"}"));
        CHECK(!strcmp(h->items[2].event, "deleted") && h->items[2].at == t_add + 120);
    }
    mnemo_history_free(h);
    CHECK(mnemo_memory_history(s, "nope", &h, &err) == MNEMO_ENOENT);
    mnemo_memory_changes none = {0};
    CHECK(mnemo_memory_update(s, id, &none, &err) == MNEMO_EINVAL &&
          strstr(err.message, "nothing to change"));
    mnemo_store_close(s);
}

/* Both backends: an add with an input's import fields (an import, docs/
 * memories.md "Export and import") keeps its id, times and history, is never
 * deduplicated, skips an id the store has, and is all or nothing. */
static void test_import_fields(void) {
    char dir[512];
    fresh_dir(dir, sizeof dir);
    mnemo_store *s = open_store(dir, NULL);
    if (!s) return;
    mnemo_error err;
    char had[MNEMO_MEMORY_ID_SIZE];
    CHECK(add1(s, "I live in Paris", NULL, "imp", had, NULL) == MNEMO_OK);
    mnemo_history_event hist[] = {
        {.event = "added", .at = 1.5e9, .text = "I live in Lyon", .metadata = "{\"c\":1}"},
        {.event = "updated", .reason = "near-duplicate", .at = 1.6e9, .text = "I live in Paris"}};
    const char *id = "0123456789abcdef0123456789abcdef";
    mnemo_memory_input in[2] = {{.text = "I live in Paris",
                                 .text_len = 15,
                                 .scope = {.ns = "imp"},
                                 .id = id,
                                 .created_at = 1.5e9,
                                 .updated_at = 1.6e9,
                                 .expires_at = 1.9e9,
                                 .history = hist,
                                 .n_history = 2},
                                {.text = "x", .text_len = 1, .id = "not-an-id"}};
    mnemo_memory_added out[2];
    /* all or nothing: the second's bad id refuses both */
    CHECKF(mnemo_memory_add(s, in, 2, out, &err) == MNEMO_EINVAL &&
               strstr(err.message, "memories[1].id: 'not-an-id' is not a memory id"),
           "%s", err.message);
    mnemo_memories *m = NULL;
    CHECK(mnemo_memory_get(s, id, &m, &err) == MNEMO_ENOENT);
    /* the same text in the same scope: kept as its own memory, not a duplicate */
    CHECKF(mnemo_memory_add(s, in, 1, out, &err) == MNEMO_OK, "%s", err.message);
    CHECK(out[0].event == MNEMO_MEMORY_ADDED && !strcmp(out[0].id, id));
    CHECK(count(s, "imp", NULL) == 2);
    CHECK(mnemo_memory_get(s, id, &m, &err) == MNEMO_OK && m->items[0].created_at == 1.5e9 &&
          m->items[0].updated_at == 1.6e9 && m->items[0].expires_at == 1.9e9);
    mnemo_memories_free(m);
    mnemo_history *h = NULL;
    CHECK(mnemo_memory_history(s, id, &h, &err) == MNEMO_OK && h->n == 2);
    if (h && h->n == 2)
        CHECK(!strcmp(h->items[0].text, "I live in Lyon") && h->items[0].at == 1.5e9 &&
              !strcmp(h->items[0].metadata, "{\"c\":1}") &&
              !strcmp(h->items[1].reason, "near-duplicate") && !h->items[1].metadata);
    mnemo_history_free(h);
    /* again, another text: the id is there, so nothing is written */
    in[0].text = "Changed";
    in[0].text_len = 7;
    CHECKF(mnemo_memory_add(s, in, 1, out, &err) == MNEMO_OK, "%s", err.message);
    CHECK(out[0].event == MNEMO_MEMORY_DUPLICATE && !strcmp(out[0].id, id));
    CHECK(mnemo_memory_get(s, id, &m, &err) == MNEMO_OK &&
          !strcmp(m->items[0].text, "I live in Paris"));
    mnemo_memories_free(m);
    CHECK(mnemo_memory_history(s, id, &h, &err) == MNEMO_OK && h->n == 2);
    mnemo_history_free(h);
    /* the fields' checks */
    in[0].id = "0123456789abcdef0123456789abcdeF";
    CHECK(mnemo_memory_add(s, in, 1, out, &err) == MNEMO_EINVAL && strstr(err.message, "id:"));
    in[0].id = "1123456789abcdef0123456789abcdef";
    hist[1].event = "moved";
    CHECK(mnemo_memory_add(s, in, 1, out, &err) == MNEMO_EINVAL &&
          strstr(err.message, "history[1].event: 'moved'"));
    hist[1].event = "updated";
    in[0].created_at = -1;
    CHECK(mnemo_memory_add(s, in, 1, out, &err) == MNEMO_EINVAL &&
          strstr(err.message, "created_at"));
    CHECK(count(s, "imp", NULL) == 2);
    mnemo_store_close(s);
}

/* Another model: the tiny model with other prompts (a copy of the folder). */
static mnemo_model *other_model(void) {
    char other[600], cmd[4096];
    snprintf(other, sizeof other, "%s/other-model-%d", work, (int)getpid());
    snprintf(cmd, sizeof cmd,
             "rm -rf '%s' && mkdir -p '%s' && cp -r '%s'/. '%s'/ && sed -i 's/title: none | text: "
             "/passage: /' "
             "'%s'/config_sentence_transformers.json",
             other, other, model_dir, other, other);
    CHECK(system(cmd) == 0);
    mnemo_model *m2 = NULL;
    mnemo_model_options mo = {.no_cache = 1};
    mnemo_error err;
    CHECKF(mnemo_model_open(other, &mo, &m2, &err) == MNEMO_OK, "%s", err.message);
    return m2;
}

/* Both backends: another model's prompts, another model's weights (the
 * fingerprint), no model (reads work), and a new store without one. */
static void test_model_mismatch(void) {
    char dir[512];
    fresh_dir(dir, sizeof dir);
    mnemo_store *s = open_store(dir, NULL);
    if (!s) return;
    CHECK(add1(s, "remember me", NULL, NULL, NULL, NULL) == MNEMO_OK);
    mnemo_store_close(s);
    mnemo_error err;
    mnemo_model *m2 = other_model();
    mnemo_store_options o = at(dir);
    o.model = m2, o.model_name = "other", o.sweep_seconds = -1;
    s = NULL;
    int rc = mnemo_store_open(&o, &s, &err);
    CHECKF(rc == MNEMO_EINVAL && strstr(err.message, "'tiny'") && strstr(err.message, "'other'") &&
               strstr(err.message, "prompts") && (!pg_url || strstr(err.message, "PostgreSQL")),
           "rc %d: %s", rc, rc ? err.message : "");
    CHECK(!s);
    mnemo_model_close(m2);
    /* Same prompts and width, other weights: the fingerprint says so. */
    if (pg_url) {
        pg_sql("UPDATE mnemo_info SET value = regexp_replace(value, '[^,]+', '0.125', 'g') WHERE "
               "key = 'fingerprint'");
    } else {
        char path[600];
        snprintf(path, sizeof path, "%s/memories.db", dir);
        sqlite3 *db;
        sqlite3_open(path, &db);
        CHECK(sqlite3_exec(db,
                           "UPDATE store_info SET value = zeroblob(256) WHERE key = 'fingerprint'",
                           NULL, NULL, NULL) == SQLITE_OK);
        sqlite3_close(db);
    }
    o.model = model;
    rc = mnemo_store_open(&o, &s, &err);
    CHECKF(rc == MNEMO_EINVAL && strstr(err.message, "weights"), "rc %d: %s", rc,
           rc ? err.message : "");
    /* Without a model: reads work, adds are refused. */
    o.model = NULL;
    rc = mnemo_store_open(&o, &s, &err);
    CHECKF(rc == MNEMO_OK, "%s", err.message);
    if (s) {
        CHECK(count(s, NULL, NULL) == 1);
        CHECK(add1(s, "x", NULL, NULL, NULL, NULL) == MNEMO_EINVAL);
        mnemo_search_options so = {.query = "remember", .query_len = 8, .mode = MNEMO_SEARCH_TEXT};
        mnemo_memories *mm;
        CHECK(mnemo_memory_search(s, &so, &mm, &err) == MNEMO_OK && mm->n == 1);
        mnemo_memories_free(mm);
        mnemo_store_close(s);
    }
    /* A new store needs a model. */
    fresh_dir(dir, sizeof dir);
    if (!pg_url) o.data_dir = dir;
    CHECK(mnemo_store_open(&o, &s, &err) == MNEMO_EINVAL && strstr(err.message, "needs a model"));
}

/* Store URLs: an unknown kind, sqlite:DIR, an unreachable PostgreSQL. */
static void test_store_urls(void) {
    char dir[512];
    fresh_dir(dir, sizeof dir);
    mnemo_store *s = NULL;
    mnemo_error err;
    mnemo_store_options o = {.url = "mysql://x", .model = model, .sweep_seconds = -1};
    CHECK(mnemo_store_open(&o, &s, &err) == MNEMO_EINVAL && strstr(err.message, "postgres://") &&
          !s);
    o.url = "postgres://nobody@127.0.0.1:1/none";
    CHECK(mnemo_store_open(&o, &s, &err) == MNEMO_EIO && strstr(err.message, "unreachable") && !s);
    char url[600];
    snprintf(url, sizeof url, "sqlite:%s", dir);
    o.url = url;
    CHECKF(mnemo_store_open(&o, &s, &err) == MNEMO_OK, "%s", err.message);
    if (s) {
        CHECK(add1(s, "in a folder", NULL, NULL, NULL, NULL) == MNEMO_OK &&
              !strcmp(mnemo__store_backend_name(s), "sqlite"));
        mnemo_store_close(s);
    }
    o.data_dir = "/elsewhere";
    CHECK(mnemo_store_open(&o, &s, &err) == MNEMO_EINVAL && strstr(err.message, "two stores"));
}

static void test_bad_input(void) {
    char dir[512];
    fresh_dir(dir, sizeof dir);
    mnemo_store_options so_ = {.max_metadata_bytes = 1024};
    mnemo_store *s = open_store(dir, &so_);
    if (!s) return;
    char big[3000];
    memset(big, 'a', sizeof big);
    memcpy(big, "{\"k\": \"", 7);
    memcpy(big + sizeof big - 3, "\"}", 3);
    struct {
        mnemo_memory_input in;
        int want;
        const char *word;
    } cases[] = {
        {{.text = "", .text_len = 0}, MNEMO_EINVAL, "text"},
        {{.text = "bad \xff utf8", .text_len = 10}, MNEMO_EUTF8, "offset 4"},
        {{.text = "x", .text_len = 1, .metadata = "[1]"}, MNEMO_EINVAL, "object"},
        {{.text = "x", .text_len = 1, .metadata = "{bad"}, MNEMO_EINVAL, "metadata"},
        {{.text = "x", .text_len = 1, .metadata = "{\"a\":1,\"a\":2}"}, MNEMO_EINVAL, "metadata"},
        {{.text = "x", .text_len = 1, .metadata = big}, MNEMO_ETOOBIG, "metadata"},
        {{.text = "x", .text_len = 1, .ttl = -5}, MNEMO_EINVAL, "ttl"},
        {{.text = "x", .text_len = 1, .scope = {.user_id = "\xc0\x80"}}, MNEMO_EUTF8, "user_id"},
    };
    mnemo_error err;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* a good memory first in the batch: all or nothing */
        mnemo_memory_input in[2] = {{.text = "good one", .text_len = 8}, cases[i].in};
        mnemo_memory_added out[2];
        int rc = mnemo_memory_add(s, in, 2, out, &err);
        CHECKF(rc == cases[i].want && strstr(err.message, cases[i].word) &&
                   strstr(err.message, "memories[1]"),
               "case %zu: rc %d: %s", i, rc, rc ? err.message : "");
    }
    CHECK(count(s, NULL, NULL) == 0);
    mnemo_memory_added out[1];
    CHECK(mnemo_memory_add(s, NULL, 0, out, &err) == MNEMO_EINVAL);
    mnemo_search_options so = {.query = "q", .query_len = 1, .k = 1001};
    mnemo_memories *m = NULL;
    CHECK(mnemo_memory_search(s, &so, &m, &err) == MNEMO_ERANGE && strstr(err.message, "k:"));
    so.k = 5;
    so.filter = "{\"a\": {\"$like\": 1}}";
    CHECK(mnemo_memory_search(s, &so, &m, &err) == MNEMO_EINVAL && strstr(err.message, "$like"));
    so.filter = NULL;
    so.query = "\xe2\x82";
    so.query_len = 2;
    CHECK(mnemo_memory_search(s, &so, &m, &err) == MNEMO_EUTF8);
    float v[3] = {1, 0, 0};
    so = (mnemo_search_options){.vector = v, .vector_dim = 3};
    CHECK(mnemo_memory_search(s, &so, &m, &err) == MNEMO_EINVAL && strstr(err.message, "64"));
    so = (mnemo_search_options){.k = 3};
    CHECK(mnemo_memory_search(s, &so, &m, &err) == MNEMO_EINVAL && strstr(err.message, "query"));
    so = (mnemo_search_options){.query = "x", .query_len = 1, .mode = (mnemo_search_mode)7};
    CHECK(mnemo_memory_search(s, &so, &m, &err) == MNEMO_EINVAL && strstr(err.message, "mode"));
    CHECK(count(s, NULL, NULL) == 0);
    mnemo_store_close(s);
}

/* Writes fail cleanly when the disk is full; reads go on; nothing half-done. */
static void test_disk_full_and_read_only(void) {
    char dir[512];
    fresh_dir(dir, sizeof dir);
    mnemo_store *s = open_store(dir, NULL);
    if (!s) return;
    CHECK(add1(s, "before the disk filled", NULL, NULL, NULL, NULL) == MNEMO_OK);
    /* SQLite's own "disk full": no page beyond the current count. */
    sqlite3_stmt *st;
    sqlite3_prepare_v2(mnemo__sqlite_db(s)->writer, "PRAGMA page_count", -1, &st, NULL);
    sqlite3_step(st);
    int pages = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %d", pages);
    sqlite3_exec(mnemo__sqlite_db(s)->writer, sql, NULL, NULL, NULL);
    mnemo_memory_input in[50];
    char texts[50][200];
    for (int i = 0; i < 50; i++) {
        snprintf(texts[i], sizeof texts[i], "a long memory number %d that needs pages %0150d", i,
                 i);
        in[i] = (mnemo_memory_input){.text = texts[i], .text_len = strlen(texts[i])};
    }
    mnemo_memory_added out[50];
    mnemo_error err;
    int rc = mnemo_memory_add(s, in, 50, out, &err);
    CHECKF(rc == MNEMO_EIO && strstr(err.message, "disk is full"), "rc %d: %s", rc,
           rc ? err.message : "");
    CHECK(count(s, NULL, NULL) == 1);
    mnemo_memories *m = NULL;
    mnemo_search_options so = {.query = "disk", .query_len = 4};
    CHECK(mnemo_memory_search(s, &so, &m, &err) == MNEMO_OK && m->n == 1);
    mnemo_memories_free(m);
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %d", 1 << 30);
    sqlite3_exec(mnemo__sqlite_db(s)->writer, sql, NULL, NULL, NULL);
    CHECK(mnemo_memory_add(s, in, 50, out, &err) == MNEMO_OK && count(s, NULL, NULL) == 51);
    mnemo_store_close(s);

    /* Opened read-only: reads go on, writes say why they fail. */
    mnemo_store_options o = {.read_only = 1};
    s = open_store(dir, &o);
    if (!s) return;
    CHECK(count(s, NULL, NULL) == 51);
    rc = add1(s, "more", NULL, NULL, NULL, NULL);
    CHECK(rc == MNEMO_EIO);
    CHECK(mnemo_memory_delete(s, out[0].id, &err) == MNEMO_EIO && strstr(err.message, "read-only"));
    CHECK(mnemo_memory_search(s, &so, &m, &err) == MNEMO_OK && m->n > 0);
    mnemo_memories_free(m);
    mnemo_store_close(s);
    s = open_store(dir, NULL);
    CHECK(s && count(s, NULL, NULL) == 51);
    mnemo_store_close(s);
}

/* One writer per store: a second opener reads, and says why it cannot write. */
static void test_second_opener_reads(void) {
    char dir[512];
    fresh_dir(dir, sizeof dir);
    mnemo_store *a = open_store(dir, NULL);
    if (!a) return;
    CHECK(add1(a, "first", NULL, NULL, NULL, NULL) == MNEMO_OK);
    mnemo_store *b = open_store(dir, NULL);
    if (b) {
        CHECK(count(b, NULL, NULL) == 1);
        mnemo_memory_input in = {.text = "second", .text_len = 6};
        mnemo_memory_added out;
        mnemo_error err;
        CHECK(mnemo_memory_add(b, &in, 1, &out, &err) == MNEMO_EIO &&
              strstr(err.message, "another process"));
        mnemo_store_close(b);
    }
    CHECK(add1(a, "third", NULL, NULL, NULL, NULL) == MNEMO_OK); /* the writer is unaffected */
    mnemo_store_close(a);
    a = open_store(dir, NULL); /* closed: the next opener writes */
    CHECK(a && add1(a, "fourth", NULL, NULL, NULL, NULL) == MNEMO_OK && count(a, NULL, NULL) == 3);
    mnemo_store_close(a);
}

/* A write transaction held open elsewhere does not block the readers. */
static void test_readers_not_blocked(void) {
    char dir[512];
    fresh_dir(dir, sizeof dir);
    mnemo_store *s = open_store(dir, NULL);
    if (!s) return;
    char id[MNEMO_MEMORY_ID_SIZE];
    CHECK(add1(s, "visible", NULL, NULL, id, NULL) == MNEMO_OK);
    char path[600];
    snprintf(path, sizeof path, "%s/memories.db", dir);
    sqlite3 *other;
    sqlite3_open(path, &other);
    CHECK(
        sqlite3_exec(
            other,
            "BEGIN IMMEDIATE; INSERT INTO history(memory_id, event, at) VALUES ('x', 'added', 0);",
            NULL, NULL, NULL) == SQLITE_OK);
    double t0 = mnemo__now();
    mnemo_memories *m = NULL;
    mnemo_error err;
    CHECK(mnemo_memory_get(s, id, &m, &err) == MNEMO_OK);
    mnemo_memories_free(m);
    mnemo_list_options lo = {0};
    CHECK(mnemo_memory_list(s, &lo, &m, &err) == MNEMO_OK && m->n == 1);
    mnemo_memories_free(m);
    mnemo_search_options so = {.query = "visible", .query_len = 7, .mode = MNEMO_SEARCH_HYBRID};
    CHECK(mnemo_memory_search(s, &so, &m, &err) == MNEMO_OK && m->n == 1);
    mnemo_memories_free(m);
    CHECK(mnemo__now() - t0 < 1.0); /* the busy timeout is 10 s: no waiting happened */
    sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(other);
    mnemo_store_close(s);
}

static json_t *run_json(mnemo_store *s, const char *op, const char *req, int want,
                        const char *param) {
    json_t *r = json_loads(req, 0, NULL);
    json_t *resp = NULL;
    mnemo_error err = {0};
    char p[64];
    int rc = mnemo__store_json(s, op, r, &resp, &err, p, sizeof p);
    CHECKF(rc == want, "%s %s: rc %d: %s", op, req, rc, rc ? err.message : "");
    if (param)
        CHECKF(!strcmp(p, param), "%s %s: param '%s', want '%s' (%s)", op, req, p, param,
               err.message);
    json_decref(r);
    return resp;
}

static void test_json_layer(void) {
    char dir[512];
    fresh_dir(dir, sizeof dir);
    mnemo_store *s = open_store(dir, NULL);
    if (!s) return;
    json_t *r = run_json(s, "add",
                         "{\"memories\": [{\"text\": \"one\", \"metadata\": {\"a\": 1}}, "
                         "{\"text\": \"two\", \"namespace\": \"n\"}]}",
                         0, NULL);
    CHECK(r && json_array_size(json_object_get(r, "data")) == 2);
    const char *id =
        r ? json_string_value(json_object_get(json_array_get(json_object_get(r, "data"), 0), "id"))
          : "";
    char idc[64];
    snprintf(idc, sizeof idc, "%s", id ? id : "");
    json_decref(r);
    r = run_json(s, "add", "{\"text\": \"three\", \"ttl\": 60}", 0, NULL);
    CHECK(r && !strcmp(json_string_value(
                           json_object_get(json_array_get(json_object_get(r, "data"), 0), "event")),
                       "added"));
    json_decref(r);
    char req[256];
    snprintf(req, sizeof req, "{\"id\": \"%s\"}", idc);
    r = run_json(s, "get", req, 0, NULL);
    CHECK(r && !strcmp(json_string_value(json_object_get(r, "text")), "one") &&
          json_integer_value(json_object_get(json_object_get(r, "metadata"), "a")) == 1);
    json_decref(r);
    r = run_json(s, "search",
                 "{\"query\": \"one\", \"k\": 2, \"filter\": {\"a\": 1}, \"mode\": \"hybrid\"}", 0,
                 NULL);
    CHECK(r && json_array_size(json_object_get(r, "data")) == 1 &&
          json_object_get(json_array_get(json_object_get(r, "data"), 0), "score"));
    json_decref(r);
    snprintf(req, sizeof req, "{\"id\": \"%s\", \"text\": \"uno\", \"metadata\": {\"a\": 2}}", idc);
    r = run_json(s, "update", req, 0, NULL);
    CHECK(r && !strcmp(json_string_value(json_object_get(r, "text")), "uno"));
    json_decref(r);
    r = run_json(s, "count", "{}", 0, NULL);
    CHECK(r && json_integer_value(json_object_get(r, "count")) == 2);
    json_decref(r);
    r = run_json(s, "list", "{\"limit\": 1}", 0, NULL);
    CHECK(r && json_array_size(json_object_get(r, "data")) == 1 &&
          json_is_string(json_object_get(r, "next_cursor")));
    json_decref(r);
    snprintf(req, sizeof req, "{\"id\": \"%s\"}", idc);
    r = run_json(s, "history", req, 0, NULL);
    CHECK(r && json_array_size(json_object_get(r, "data")) == 2);
    json_decref(r);
    r = run_json(s, "delete", "{\"namespace\": \"n\", \"filter\": {}}", 0, NULL);
    CHECK(r && json_integer_value(json_object_get(r, "deleted")) == 1);
    json_decref(r);
    /* bad requests name the field, and store nothing */
    json_decref(run_json(s, "add", "{\"text\": \"x\", \"colour\": 1}", MNEMO_EINVAL, "colour"));
    json_decref(run_json(s, "add", "{\"text\": 5}", MNEMO_EINVAL, "text"));
    json_decref(run_json(
        s, "add", "{\"memories\": [{\"text\": \"ok\"}, {\"text\": \"x\", \"metadata\": [1]}]}",
        MNEMO_EINVAL, "memories[1].metadata"));
    json_decref(run_json(
        s, "add", "{\"memories\": [{\"text\": \"ok\"}, {\"text\": \"\\u00ff\", \"ttl\": -1}]}",
        MNEMO_EINVAL, "memories[1].ttl"));
    json_decref(run_json(s, "add", "{\"metadata\": {}}", MNEMO_EINVAL, "text"));
    json_decref(run_json(s, "add", "{\"text\": \"x\", \"prompt_name\": \"nope\"}", MNEMO_EINVAL,
                         "prompt_name"));
    json_decref(run_json(s, "add", "{\"memories\": [{\"text\": \"x\", \"prompt_name\": 3}]}",
                         MNEMO_EINVAL, "memories[0].prompt_name"));
    json_decref(run_json(s, "search", "{\"query\": \"x\", \"k\": 0}", MNEMO_ERANGE, "k"));
    json_decref(run_json(s, "search", "{\"query\": \"x\", \"k\": \"5\"}", MNEMO_EINVAL, "k"));
    json_decref(
        run_json(s, "search", "{\"query\": \"x\", \"mode\": \"fuzzy\"}", MNEMO_EINVAL, "mode"));
    json_decref(run_json(s, "search", "{\"query\": \"x\", \"filter\": {\"a\": {\"$foo\": 1}}}",
                         MNEMO_EINVAL, "filter"));
    json_decref(run_json(s, "search", "{\"vector\": [1, 2]}", MNEMO_EINVAL, "vector"));
    json_decref(run_json(s, "get", "{\"id\": \"nope\"}", MNEMO_ENOENT, NULL));
    json_decref(run_json(s, "delete", "{}", MNEMO_EINVAL, "filter"));
    json_decref(run_json(s, "frobnicate", "{}", MNEMO_EINVAL, NULL));
    r = run_json(s, "count", "{}", 0, NULL);
    CHECK(r && json_integer_value(json_object_get(r, "count")) == 2);
    json_decref(r);
    mnemo_store_close(s);
}

/* text embedded by the model itself with `prompt` (a fresh context) */
static void embed_with(const char *text, const char *prompt, float *v) {
    mnemo_context *ctx;
    mnemo_error err;
    CHECKF(mnemo_context_create(model, NULL, &ctx, &err) == MNEMO_OK, "%s", err.message);
    size_t len = strlen(text);
    mnemo_embed_options eo = {.prompt_name = prompt};
    CHECKF(mnemo_embed(ctx, &text, &len, 1, &eo, v, NULL, &err) == MNEMO_OK, "%s", err.message);
    mnemo_context_free(ctx);
}

/* The best match of vector v (64 wide): its id and score. */
static double top_score(mnemo_store *s, const float *v, const char *id) {
    mnemo_search_options so = {.vector = v, .vector_dim = 64, .k = 1};
    mnemo_memories *m = NULL;
    mnemo_error err;
    double score = -2;
    CHECKF(mnemo_memory_search(s, &so, &m, &err) == MNEMO_OK, "%s", err.message);
    if (m && m->n == 1 && !strcmp(m->items[0].id, id)) score = m->items[0].score;
    mnemo_memories_free(m);
    return score;
}

static void check_prompt_of(mnemo_store *s, const char *id, const char *want) {
    mnemo_memories *m = NULL;
    mnemo_error err;
    CHECKF(mnemo_memory_get(s, id, &m, &err) == MNEMO_OK, "%s", err.message);
    CHECKF(m && m->items[0].prompt_name && !strcmp(m->items[0].prompt_name, want),
           "prompt %s, want %s", m && m->items[0].prompt_name ? m->items[0].prompt_name : "(null)",
           want);
    mnemo_memories_free(m);
}

static void test_prompt_name(void) {
    char dir[512];
    fresh_dir(dir, sizeof dir);
    mnemo_store *s = open_store(dir, NULL);
    if (!s) return;
    mnemo_error err;
    float q[64], d[64], sts[64];
    /* One memory with the query prompt: it has exactly the query vector of
     * its text (found by it at ~1), not the document one. */
    const char *t = "prompted memory about lighthouses";
    embed_with(t, "query", q);
    embed_with(t, "document", d);
    double qd = mnemo__dot(q, d, 64);
    CHECKF(qd < 0.999, "the tiny model's query and document vectors differ (cosine %f)", qd);
    mnemo_memory_input in = {.text = t, .text_len = strlen(t), .prompt_name = "query"};
    mnemo_memory_added out[5];
    CHECKF(mnemo_memory_add(s, &in, 1, out, &err) == MNEMO_OK, "%s", err.message);
    CHECK(top_score(s, q, out[0].id) > 0.9999);
    CHECK(fabs(top_score(s, d, out[0].id) - qd) < 1e-4);
    check_prompt_of(s, out[0].id, "query");
    char qid[MNEMO_MEMORY_ID_SIZE];
    memcpy(qid, out[0].id, sizeof qid);
    /* An exact repeat is the same text with the same prompt ("document" named
     * or not); the same text with another prompt is another memory. */
    CHECK(mnemo_memory_add(s, &in, 1, out, &err) == MNEMO_OK &&
          out[0].event == MNEMO_MEMORY_DUPLICATE && !strcmp(out[0].id, qid));
    in.prompt_name = NULL;
    CHECK(mnemo_memory_add(s, &in, 1, out, &err) == MNEMO_OK && out[0].event == MNEMO_MEMORY_ADDED);
    CHECK(top_score(s, d, out[0].id) > 0.9999);
    check_prompt_of(s, out[0].id, "document");
    in.prompt_name = "document";
    char did[MNEMO_MEMORY_ID_SIZE];
    memcpy(did, out[0].id, sizeof did);
    CHECK(mnemo_memory_add(s, &in, 1, out, &err) == MNEMO_OK &&
          out[0].event == MNEMO_MEMORY_DUPLICATE && !strcmp(out[0].id, did));
    CHECK(count(s, NULL, NULL) == 2);

    /* A batch mixing prompts and a caller's vector: each its own. */
    const char *bt[4] = {"batch one about ferries", "batch two about trams",
                         "batch three about canals", "batch four about bridges"};
    const char *bp[4] = {NULL, "STS", "query", NULL};
    float own[64];
    for (int i = 0; i < 64; i++) own[i] = (float)((i * 31) % 7) - 3.0f;
    mnemo_memory_input batch[4];
    for (int i = 0; i < 4; i++)
        batch[i] =
            (mnemo_memory_input){.text = bt[i], .text_len = strlen(bt[i]), .prompt_name = bp[i]};
    batch[3].vector = own;
    batch[3].vector_dim = 64;
    CHECKF(mnemo_memory_add(s, batch, 4, out, &err) == MNEMO_OK, "%s", err.message);
    for (int i = 0; i < 3; i++) {
        float v[64];
        embed_with(bt[i], bp[i] ? bp[i] : "document", v);
        CHECKF(top_score(s, v, out[i].id) > 0.9999, "batch[%d] (%s)", i,
               bp[i] ? bp[i] : "document");
    }
    CHECK(top_score(s, own, out[3].id) > 0.9999);
    CHECK(count(s, NULL, NULL) == 6);

    /* An unknown name: EINVAL naming the field and the model's prompts, and
     * nothing stored (not even the good inputs of its batch). */
    batch[2].prompt_name = "nope";
    batch[0].text = "a fresh text";
    batch[0].text_len = strlen(batch[0].text);
    int rc = mnemo_memory_add(s, batch, 4, out, &err);
    CHECKF(rc == MNEMO_EINVAL && strstr(err.message, "memories[2].prompt_name") &&
               strstr(err.message, "nope") && strstr(err.message, "query, document, STS"),
           "rc %d: %s", rc, err.message);
    in.prompt_name = "";
    CHECK(mnemo_memory_add(s, &in, 1, out, &err) == MNEMO_EINVAL &&
          strstr(err.message, "prompt_name"));
    CHECK(count(s, NULL, NULL) == 6);

    /* Update: a new text is embedded with the memory's own prompt, or the
     * one named (and recorded); a prompt alone or an unknown one is refused. */
    mnemo_memory_changes ch = {.text = "lighthouses, updated", .text_len = 20};
    CHECKF(mnemo_memory_update(s, qid, &ch, &err) == MNEMO_OK, "%s", err.message);
    embed_with(ch.text, "query", q);
    CHECK(top_score(s, q, qid) > 0.9999);
    check_prompt_of(s, qid, "query");
    ch = (mnemo_memory_changes){
        .text = "lighthouses, similar", .text_len = 20, .prompt_name = "STS"};
    CHECKF(mnemo_memory_update(s, qid, &ch, &err) == MNEMO_OK, "%s", err.message);
    embed_with(ch.text, "STS", sts);
    CHECK(top_score(s, sts, qid) > 0.9999);
    check_prompt_of(s, qid, "STS");
    ch = (mnemo_memory_changes){
        .text = "lighthouses, as a document", .text_len = 26, .prompt_name = "document"};
    CHECKF(mnemo_memory_update(s, qid, &ch, &err) == MNEMO_OK, "%s", err.message);
    embed_with(ch.text, "document", d);
    CHECK(top_score(s, d, qid) > 0.9999);
    check_prompt_of(s, qid, "document");
    ch = (mnemo_memory_changes){.prompt_name = "query"};
    CHECK(mnemo_memory_update(s, qid, &ch, &err) == MNEMO_EINVAL &&
          strstr(err.message, "prompt_name"));
    ch = (mnemo_memory_changes){.text = "never stored", .text_len = 12, .prompt_name = "nope"};
    CHECK(mnemo_memory_update(s, qid, &ch, &err) == MNEMO_EINVAL &&
          strstr(err.message, "prompt_name") && strstr(err.message, "STS"));
    CHECK(top_score(s, d, qid) > 0.9999);
    check_prompt_of(s, qid, "document");
    mnemo_store_close(s);

    /* Without a model nothing can check a prompt name: refused. */
    mnemo_store_options o = at(dir); /* no model */
    o.sweep_seconds = -1;
    mnemo_store *ro = NULL;
    CHECKF(mnemo_store_open(&o, &ro, &err) == MNEMO_OK, "%s", err.message);
    in = (mnemo_memory_input){
        .text = "x", .text_len = 1, .vector = own, .vector_dim = 64, .prompt_name = "query"};
    if (ro)
        CHECK(mnemo_memory_add(ro, &in, 1, out, &err) == MNEMO_EINVAL &&
              strstr(err.message, "prompt_name"));
    mnemo_store_close(ro);
}

/* A store of schema version 1 (no prompt_name column) opens, migrates to 2
 * and keeps its memories, all of them embedded with "document". */
static void test_migrate_v1(void) {
    char dir[512];
    fresh_dir(dir, sizeof dir);
    mnemo_store *s = open_store(dir, NULL);
    if (!s) return;
    char id[MNEMO_MEMORY_ID_SIZE];
    CHECK(add1(s, "an old memory about owls", NULL, NULL, id, NULL) == MNEMO_OK);
    mnemo_store_close(s);
    /* version 1 is version 2 without the column */
    char path[600];
    snprintf(path, sizeof path, "%s/memories.db", dir);
    sqlite3 *db;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "ALTER TABLE memories DROP COLUMN prompt_name; PRAGMA user_version = 1;",
                       NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    s = open_store(dir, NULL);
    if (!s) return;
    CHECK(count(s, NULL, NULL) == 1);
    check_prompt_of(s, id, "document");
    float d[64];
    mnemo_memory_changes ch = {.text = "an old memory about owls, updated", .text_len = 33};
    mnemo_error err;
    CHECKF(mnemo_memory_update(s, id, &ch, &err) == MNEMO_OK, "%s", err.message);
    embed_with(ch.text, "document", d);
    CHECK(top_score(s, d, id) > 0.9999);
    mnemo_store_close(s);
    CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    sqlite3_stmt *st;
    CHECK(sqlite3_prepare_v2(
              db,
              "SELECT (SELECT user_version FROM pragma_user_version), "
              "(SELECT count(*) FROM pragma_table_info('memories') WHERE name = 'prompt_name')",
              -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 2 &&
          sqlite3_column_int(st, 1) == 1);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* Concurrent adds from threads: every id distinct and present. */
typedef struct worker_arg {
    mnemo_store *s;
    int t;
    int ok;
    char ids[40][MNEMO_MEMORY_ID_SIZE];
} worker_arg;

static void *adder(void *p) {
    worker_arg *a = p;
    for (int i = 0; i < 40; i++) {
        char t[64];
        snprintf(t, sizeof t, "thread %d memory %d", a->t, i);
        if (add1(a->s, t, NULL, NULL, a->ids[i], NULL) == MNEMO_OK) a->ok++;
        mnemo_search_options so = {.query = t, .query_len = strlen(t), .k = 3};
        mnemo_memories *m;
        if (mnemo_memory_search(a->s, &so, &m, NULL) == MNEMO_OK) mnemo_memories_free(m);
    }
    return NULL;
}

/* A filtered vector search over many memories returns k when k match, and
 * the k an exact scan finds (on PostgreSQL: through the HNSW index, whose
 * iterative scan, or the exact fallback, must not lose the few rows that
 * pass the filter). Vectors are given, so nothing is embedded. */
static void test_filtered_many(void) {
    enum { N = 3000, K = 10 };
    char dir[512];
    fresh_dir(dir, sizeof dir);
    mnemo_store_options nd = {.no_dedup = 1};
    /* on PostgreSQL, no sequential scans: the search must go through the
     * HNSW index (3000 rows would otherwise be scanned exactly) */
    const char *keep = pg_url;
    char forced[600];
    if (pg_url) {
        snprintf(forced, sizeof forced, "%s?options=-c%%20enable_seqscan%%3Doff", pg_url);
        pg_url = forced;
    }
    mnemo_store *s = open_store(dir, &nd);
    pg_url = keep;
    if (!s) return;
    size_t dim = mnemo_store_dim(s);
    float *vecs = malloc((size_t)N * dim * sizeof(float));
    static char texts[N][32], metas[N][32];
    static mnemo_memory_input in[N];
    mnemo_memory_added *out = malloc(N * sizeof *out);
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < N; i++) {
        double norm = 0;
        for (size_t d = 0; d < dim; d++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            float v = (float)((double)(x >> 11) / 9007199254740992.0 - 0.5);
            vecs[(size_t)i * dim + d] = v;
            norm += (double)v * v;
        }
        for (size_t d = 0; d < dim; d++) vecs[(size_t)i * dim + d] /= (float)sqrt(norm);
        snprintf(texts[i], sizeof texts[i], "item %d", i);
        snprintf(metas[i], sizeof metas[i], "{\"rare\": %s}", i % 100 == 7 ? "true" : "false");
        in[i] = (mnemo_memory_input){.text = texts[i],
                                     .text_len = strlen(texts[i]),
                                     .metadata = metas[i],
                                     .vector = vecs + (size_t)i * dim,
                                     .vector_dim = dim};
    }
    mnemo_error err;
    for (int i = 0; i < N; i += 1000)
        CHECKF(mnemo_memory_add(s, in + i, 1000, out + i, &err) == MNEMO_OK, "%s", err.message);
    /* the query: memory 0's vector; the exact best K of the rare ones */
    const float *q = vecs;
    int best[K];
    double best_s[K];
    int nb = 0;
    for (int i = 0; i < N; i++) {
        if (i % 100 != 7) continue;
        double d = 0;
        for (size_t j = 0; j < dim; j++) d += (double)q[j] * vecs[(size_t)i * dim + j];
        int at = nb < K ? nb++ : K;
        while (at > 0 && best_s[at - 1] < d) {
            if (at < K) best[at] = best[at - 1], best_s[at] = best_s[at - 1];
            at--;
        }
        if (at < K) best[at] = i, best_s[at] = d;
    }
    mnemo_search_options so = {
        .vector = q, .vector_dim = dim, .k = K, .filter = "{\"rare\": true}"};
    mnemo_memories *m = NULL;
    CHECKF(mnemo_memory_search(s, &so, &m, &err) == MNEMO_OK, "%s", err.message);
    if (m) {
        CHECKF(m->n == K, "%zu results, want %d", m->n, K);
        /* SQLite scans exactly: the same list; HNSW is approximate: recall
         * of the exact best K at least 0.9 (the index's contract) */
        int same = 1, found = 0, rare = 1;
        for (size_t i = 0; i < m->n && i < K; i++) {
            same &= !strcmp(m->items[i].id, out[best[i]].id);
            for (int j = 0; j < K; j++) found += !strcmp(m->items[i].id, out[best[j]].id);
            rare &= strstr(m->items[i].metadata, "true") != NULL;
        }
        CHECKF(rare && (pg_url ? found >= K - 1 : same), "rare %d, %d of the exact best %d", rare,
               found, K);
        mnemo_memories_free(m);
    }
    so.filter = NULL;
    CHECK(mnemo_memory_search(s, &so, &m, &err) == MNEMO_OK && m->n == K &&
          !strcmp(m->items[0].id, out[0].id) && m->items[0].score > 0.9999);
    mnemo_memories_free(m);
    mnemo_store_close(s);
    free(vecs);
    free(out);
}

static void test_threads(void) {
    char dir[512];
    fresh_dir(dir, sizeof dir);
    mnemo_store_options o = {.no_dedup = 1};
    mnemo_store *s = open_store(dir, &o);
    if (!s) return;
    worker_arg a[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (worker_arg){.s = s, .t = i};
        pthread_create(&th[i], NULL, adder, &a[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++) CHECK(a[i].ok == 40);
    CHECK(count(s, NULL, NULL) == 160);
    mnemo_store_close(s);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_store TINY_MODEL_DIR WORK_DIR\n");
        return 2;
    }
    model_dir = argv[1];
    work = argv[2];
    mnemo__mkdirs(work, NULL);
    mnemo__log_set_level(MNEMO_LOG_WARN);
    mnemo_error err;
    mnemo_model_options mo = {.no_cache = 1};
    if (mnemo_model_open(model_dir, &mo, &model, &err)) {
        fprintf(stderr, "model: %s\n", err.message);
        return 2;
    }
    if (argc > 3) {
        pg_url = argv[3];
        RUN(test_filters_unit);
        RUN(test_search_and_filters);
        RUN(test_scopes);
        RUN(test_pagination);
        RUN(test_ttl);
        RUN(test_dedup);
        RUN(test_default_options);
        RUN(test_update_delete_history);
        RUN(test_import_fields);
        RUN(test_model_mismatch);
        RUN(test_bad_input);
        RUN(test_json_layer);
        RUN(test_prompt_name);
        RUN(test_filtered_many);
        RUN(test_threads);
        mnemo_model_close(model);
        return test_finish();
    }
    RUN(test_schema_and_roundtrip);
    RUN(test_filters_unit);
    RUN(test_search_and_filters);
    RUN(test_scopes);
    RUN(test_pagination);
    RUN(test_ttl);
    RUN(test_dedup);
    RUN(test_default_options);
    RUN(test_update_delete_history);
    RUN(test_import_fields);
    RUN(test_model_mismatch);
    RUN(test_store_urls);
    RUN(test_bad_input);
    RUN(test_disk_full_and_read_only);
    RUN(test_second_opener_reads);
    RUN(test_readers_not_blocked);
    RUN(test_json_layer);
    RUN(test_prompt_name);
    RUN(test_migrate_v1);
    RUN(test_filtered_many);
    RUN(test_threads);
    mnemo_model_close(model);
    return test_finish();
}
