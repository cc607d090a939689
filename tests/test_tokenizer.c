/*
 * test_tokenizer.c — the tokenizer against HF `tokenizers`: every text of the
 * golden corpus (tests/fixtures/tokenizer, made by make_goldens.py) must give
 * the reference's ids and decoded strings, from the JSON and from the binary
 * cache. Also: invalid UTF-8, buffer sizes, the cache's validation (damaged
 * or truncated files are rebuilt), hostile tokenizer.json files (each refused
 * with a message naming the problem), every prefix of a file, and failed
 * allocations at every step of a load.
 *
 * usage: test_tokenizer TOKENIZER_JSON GOLDENS_JSONL
 */
#include "core/core.h"
#include "test.h"

#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *tokenizer_path, *goldens_path;
static char tmpdir[256];

/* ------------------------------------------------------------- goldens */

typedef struct golden {
    char *text;
    size_t len;
    int32_t *ids;
    size_t n_ids;
    char *decoded, *decoded_special;
    size_t decoded_len, decoded_special_len;
} golden;

static golden *goldens;
static size_t n_goldens;

static char *dup_json_string(json_t *v, size_t *len) {
    *len = json_string_length(v);
    char *s = malloc(*len + 1);
    memcpy(s, json_string_value(v), *len);
    s[*len] = 0;
    return s;
}

static void load_goldens(void) {
    FILE *f = fopen(goldens_path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", goldens_path);
        exit(1);
    }
    char *line = NULL;
    size_t cap = 0, alloc = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        json_error_t jerr;
        json_t *o = json_loadb(line, (size_t)n, JSON_ALLOW_NUL, &jerr);
        if (!o) {
            fprintf(stderr, "%s: line %zu: %s\n", goldens_path, n_goldens + 1, jerr.text);
            exit(1);
        }
        if (n_goldens == alloc) {
            alloc = alloc ? alloc * 2 : 1024;
            goldens = realloc(goldens, alloc * sizeof *goldens);
        }
        golden *g = &goldens[n_goldens++];
        g->text = dup_json_string(json_object_get(o, "text"), &g->len);
        g->decoded = dup_json_string(json_object_get(o, "decoded"), &g->decoded_len);
        g->decoded_special =
            dup_json_string(json_object_get(o, "decoded_special"), &g->decoded_special_len);
        json_t *ids = json_object_get(o, "ids");
        g->n_ids = json_array_size(ids);
        g->ids = malloc((g->n_ids + 1) * sizeof(int32_t));
        for (size_t i = 0; i < g->n_ids; i++)
            g->ids[i] = (int32_t)json_integer_value(json_array_get(ids, i));
        json_decref(o);
    }
    free(line);
    fclose(f);
}

static void free_goldens(void) {
    for (size_t i = 0; i < n_goldens; i++) {
        free(goldens[i].text);
        free(goldens[i].ids);
        free(goldens[i].decoded);
        free(goldens[i].decoded_special);
    }
    free(goldens);
}

/* Compares the tokenizer with every golden; returns the number of mismatches. */
static size_t compare_goldens(const mnemo_tokenizer *tok, size_t step) {
    size_t bad = 0, cap = 0;
    int32_t *ids = NULL;
    for (size_t i = 0; i < n_goldens; i += step) {
        golden *g = &goldens[i];
        size_t need = mnemo_tokenizer_max_ids(tok, g->len), n = 0;
        if (need > cap) {
            cap = need;
            ids = realloc(ids, cap * sizeof *ids);
        }
        mnemo_error err;
        int rc = mnemo_tokenizer_encode(tok, g->text, g->len, 0, ids, cap, &n, &err);
        bool same = rc == MNEMO_OK && n == g->n_ids && memcmp(ids, g->ids, n * sizeof *ids) == 0;
        if (!same) {
            if (bad < 5) {
                size_t k = 0;
                while (k < n && k < g->n_ids && ids[k] == g->ids[k]) k++;
                fprintf(
                    stderr,
                    "  golden %zu (%zu bytes): rc=%d ids differ at %zu (got %zu ids, want %zu)\n",
                    i, g->len, rc, k, n, g->n_ids);
            }
            bad++;
            continue;
        }
        char *text;
        size_t len;
        rc = mnemo_tokenizer_decode(tok, g->ids, g->n_ids, MNEMO_DECODE_SKIP_SPECIAL, &text, &len,
                                    &err);
        if (rc || len != g->decoded_len || memcmp(text, g->decoded, len) != 0) {
            if (bad < 5) fprintf(stderr, "  golden %zu: decode (skip special) differs\n", i);
            bad++;
        }
        mnemo_free(text);
        rc = mnemo_tokenizer_decode(tok, g->ids, g->n_ids, 0, &text, &len, &err);
        if (rc || len != g->decoded_special_len || memcmp(text, g->decoded_special, len) != 0) {
            if (bad < 5) fprintf(stderr, "  golden %zu: decode (keep special) differs\n", i);
            bad++;
        }
        mnemo_free(text);
    }
    free(ids);
    return bad;
}

static void test_goldens_from_json(void) {
    mnemo_tokenizer *tok;
    mnemo_error err;
    mnemo_tokenizer_options o = {.no_cache = 1};
    int rc = mnemo_tokenizer_open(tokenizer_path, &o, &tok, &err);
    CHECKF(rc == MNEMO_OK, "%s", err.message);
    if (rc) return;
    CHECK(n_goldens >= 3000);
    size_t bad = compare_goldens(tok, 1);
    CHECKF(bad == 0, "%zu of %zu goldens differ", bad, n_goldens);
    fprintf(stderr, "  %zu goldens compared\n", n_goldens);
    /* 262,144 model ids plus <image_soft_token>, an added token at id 262144 */
    CHECK(mnemo_tokenizer_vocab_size(tok) == 262145);
    CHECK(mnemo_tokenizer_num_special(tok) == 2);
    mnemo_tokenizer_close(tok);
}

/* --------------------------------------------------------------- cache */

static int count_cache_files(const char *dir) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls %s/*.mtok 2>/dev/null | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = 0;
    if (p && fscanf(p, "%d", &n) != 1) n = -1;
    if (p) pclose(p);
    return n;
}

static void damage_cache(const char *dir, bool truncate_it) {
    char cmd[600];
    if (truncate_it)
        snprintf(cmd, sizeof cmd, "for f in %s/*.mtok; do truncate -s 100000 \"$f\"; done", dir);
    else
        snprintf(
            cmd, sizeof cmd,
            "for f in %s/*.mtok; do printf '\\x5a' | dd of=\"$f\" bs=1 seek=700000 conv=notrunc "
            "status=none; done",
            dir);
    CHECK(system(cmd) == 0);
}

static void test_cache(void) {
    char dir[300];
    snprintf(dir, sizeof dir, "%s/cache", tmpdir);
    mnemo_tokenizer_options o = {.cache_dir = dir};
    mnemo_tokenizer *tok;
    mnemo_error err;
    double t0 = mnemo__now();
    CHECK(mnemo_tokenizer_open(tokenizer_path, &o, &tok, &err) == MNEMO_OK);
    double t_json = mnemo__now() - t0;
    mnemo_tokenizer_close(tok);
    CHECK(count_cache_files(dir) == 1);
    t0 = mnemo__now();
    CHECK(mnemo_tokenizer_open(tokenizer_path, &o, &tok, &err) == MNEMO_OK);
    double t_cache = mnemo__now() - t0;
    fprintf(stderr, "  load: json %.3f s, cache %.3f s\n", t_json, t_cache);
    CHECK(t_cache < t_json); /* the cache is really used */
    size_t bad = compare_goldens(tok, 1);
    CHECKF(bad == 0, "%zu goldens differ when loaded from the cache", bad);
    mnemo_tokenizer_close(tok);

    for (int k = 0; k < 2; k++) {
        damage_cache(dir, k == 1);
        CHECK(mnemo_tokenizer_open(tokenizer_path, &o, &tok, &err) == MNEMO_OK);
        bad = compare_goldens(tok, 7);
        CHECKF(bad == 0, "%zu goldens differ after the cache was damaged (%d)", bad, k);
        mnemo_tokenizer_close(tok);
        CHECK(count_cache_files(dir) == 1); /* rewritten in place */
    }
    /* a folder path works like the file inside it */
    char folder[512];
    snprintf(folder, sizeof folder, "%s", tokenizer_path);
    char *slash = strrchr(folder, '/');
    if (slash) {
        *slash = 0;
        CHECK(mnemo_tokenizer_open(folder, &o, &tok, &err) == MNEMO_OK);
        mnemo_tokenizer_close(tok);
    }
}

/* ---------------------------------------------------------- bad input */

static mnemo_tokenizer *real_tok;

static void test_bad_utf8(void) {
    int32_t ids[64];
    size_t n;
    mnemo_error err;
    const char *cases[][2] = {{"hello \xFF world", "offset 6"},
                              {"\xC0\xAF", "offset 0"},
                              {"abc\xED\xA0\x80", "offset 3"},
                              {"ok \xE2\x96", "offset 3"}};
    for (size_t i = 0; i < 4; i++) {
        int rc = mnemo_tokenizer_encode(real_tok, cases[i][0], strlen(cases[i][0]), 0, ids, 64, &n,
                                        &err);
        CHECK(rc == MNEMO_EUTF8);
        CHECKF(strstr(err.message, cases[i][1]) != NULL, "message '%s' lacks '%s'", err.message,
               cases[i][1]);
    }
}

static void test_buffer_and_flags(void) {
    int32_t ids[8];
    size_t n = 0;
    mnemo_error err;
    const char *t = "Hello world, this is a longer sentence.";
    CHECK(mnemo_tokenizer_encode(real_tok, t, strlen(t), 0, ids, 3, &n, &err) == MNEMO_EBUFFER);
    CHECK(n > 3);
    size_t need = n;
    int32_t *all = malloc(mnemo_tokenizer_max_ids(real_tok, strlen(t)) * sizeof *all);
    CHECK(mnemo_tokenizer_encode(real_tok, t, strlen(t), 0, all, need, &n, &err) == MNEMO_OK);
    CHECK(n == need && all[0] == 2 && all[n - 1] == 1); /* <bos> ... <eos> */
    int32_t *plain = malloc(need * sizeof *plain);
    size_t m;
    CHECK(mnemo_tokenizer_encode(real_tok, t, strlen(t), MNEMO_ENCODE_NO_SPECIAL, plain, need, &m,
                                 &err) == MNEMO_OK);
    CHECK(m == n - 2 && memcmp(plain, all + 1, m * sizeof *plain) == 0);
    free(all);
    free(plain);
    /* empty text: just the special tokens */
    CHECK(mnemo_tokenizer_encode(real_tok, "", 0, 0, ids, 8, &n, &err) == MNEMO_OK);
    CHECK(n == 2 && ids[0] == 2 && ids[1] == 1);
    CHECK(mnemo_tokenizer_encode(real_tok, "", 0, MNEMO_ENCODE_NO_SPECIAL, ids, 0, &n, &err) ==
          MNEMO_OK);
    CHECK(n == 0);
}

static void test_lookups_and_decode_errors(void) {
    size_t len;
    const char *p = mnemo_tokenizer_piece(real_tok, 2, &len);
    CHECK(p && len == 5 && memcmp(p, "<bos>", 5) == 0);
    CHECK(mnemo_tokenizer_piece(real_tok, -1, &len) == NULL);
    CHECK(mnemo_tokenizer_piece(real_tok, 262145, &len) == NULL);
    CHECK(mnemo_tokenizer_is_special(real_tok, 1) && !mnemo_tokenizer_is_special(real_tok, 23));
    CHECK(mnemo_tokenizer_token_id(real_tok, "<unused17>", 10) == 23);
    CHECK(mnemo_tokenizer_token_id(real_tok, "<0x0A>", 6) >= 0);
    CHECK(mnemo_tokenizer_token_id(real_tok, "no such token really", 20) == -1);
    int32_t ids[] = {2, 262145};
    char *text;
    mnemo_error err;
    CHECK(mnemo_tokenizer_decode(real_tok, ids, 2, 0, &text, &len, &err) == MNEMO_ERANGE);
    CHECK(strstr(err.message, "ids[1]") != NULL);
    int32_t neg[] = {-5};
    CHECK(mnemo_tokenizer_decode(real_tok, neg, 1, 0, &text, &len, &err) == MNEMO_ERANGE);
    CHECK(mnemo_tokenizer_decode(real_tok, NULL, 0, 0, &text, &len, &err) == MNEMO_OK);
    CHECK(len == 0 && text[0] == 0);
    mnemo_free(text);
}

/* ------------------------------------------- small and hostile tokenizers */

/* A small tokenizer of the Gemma kind, as a jansson value to mutate. */
static json_t *small_tokenizer(void) {
    json_t *vocab = json_object();
    const char *base[] = {"<pad>",
                          "<eos>",
                          "<bos>",
                          "<unk>",
                          "a",
                          "b",
                          "ab",
                          "\xE2\x96\x81",
                          "c",
                          "abc",
                          ("\xE2\x96\x81"
                           "a")};
    int id = 0;
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        json_object_set_new(vocab, base[i], json_integer(id++));
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        json_object_set_new(vocab, name, json_integer(id++));
    }
    json_t *root = json_pack(
        "{s:s, s:n, s:n, s:[{s:i,s:s,s:b,s:b,s:b,s:b,s:b},{s:i,s:s,s:b,s:b,s:b,s:b,s:b},"
        "{s:i,s:s,s:b,s:b,s:b,s:b,s:b}],"
        "s:{s:s,s:{s:s},s:s},"
        "s:{s:s,s:{s:s},s:s,s:b},"
        "s:{s:s,s:[{s:{s:s,s:i}},{s:{s:s,s:i}},{s:{s:s,s:i}}],s:{s:{s:s,s:[i],s:[s]},s:{s:s,s:[i],"
        "s:[s]}}},"
        "s:{s:s,s:[{s:s,s:{s:s},s:s},{s:s},{s:s}]},"
        "s:{s:s,s:n,s:s,s:n,s:n,s:b,s:b,s:b,s:o,s:[[s,s],[s,s],[s,s]]}}",
        "version", "1.0", "truncation", "padding", "added_tokens", "id", 0, "content", "<pad>",
        "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", 0, "special", 1, "id", 2,
        "content", "<bos>", "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", 0, "special",
        1, "id", 1, "content", "<eos>", "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", 0,
        "special", 1, "normalizer", "type", "Replace", "pattern", "String", " ", "content",
        "\xE2\x96\x81", "pre_tokenizer", "type", "Split", "pattern", "String", " ", "behavior",
        "MergedWithPrevious", "invert", 0, "post_processor", "type", "TemplateProcessing", "single",
        "SpecialToken", "id", "<bos>", "type_id", 0, "Sequence", "id", "A", "type_id", 0,
        "SpecialToken", "id", "<eos>", "type_id", 0, "special_tokens", "<bos>", "id", "<bos>",
        "ids", 2, "tokens", "<bos>", "<eos>", "id", "<eos>", "ids", 1, "tokens", "<eos>", "decoder",
        "type", "Sequence", "decoders", "type", "Replace", "pattern", "String", "\xE2\x96\x81",
        "content", " ", "type", "ByteFallback", "type", "Fuse", "model", "type", "BPE", "dropout",
        "unk_token", "<unk>", "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk", 1,
        "byte_fallback", 1, "ignore_merges", 0, "vocab", vocab, "merges", "a", "b", "ab", "c",
        "\xE2\x96\x81", "a");
    if (!root) {
        fprintf(stderr, "json_pack failed\n");
        exit(1);
    }
    return root;
}

static int open_json_text(const char *text, size_t len, mnemo_tokenizer **tok, mnemo_error *err) {
    char path[300];
    snprintf(path, sizeof path, "%s/t.json", tmpdir);
    FILE *f = fopen(path, "wb");
    fwrite(text, 1, len, f);
    fclose(f);
    mnemo_tokenizer_options o = {.no_cache = 1};
    return mnemo_tokenizer_open(path, &o, tok, err);
}

static int open_json(json_t *root, mnemo_tokenizer **tok, mnemo_error *err) {
    char *s = json_dumps(root, JSON_COMPACT);
    int rc = open_json_text(s, strlen(s), tok, err);
    free(s);
    return rc;
}

static void test_small_tokenizer(void) {
    json_t *root = small_tokenizer();
    mnemo_tokenizer *tok;
    mnemo_error err;
    int rc = open_json(root, &tok, &err);
    CHECKF(rc == MNEMO_OK, "%s", err.message);
    json_decref(root);
    if (rc) return;
    int32_t ids[32];
    size_t n;
    /* "ab c" -> ab ▁ c ... merges: (a,b)->ab, (ab,c)->abc, (▁,a)->▁a */
    CHECK(mnemo_tokenizer_encode(tok, "abc a", 5, 0, ids, 32, &n, &err) == MNEMO_OK);
    int32_t want[] = {2, 9, 10, 1};
    CHECK(n == 4 && memcmp(ids, want, sizeof want) == 0);
    /* x is not in the vocab: byte fallback <0x78> */
    CHECK(mnemo_tokenizer_encode(tok, "x<bos>", 6, MNEMO_ENCODE_NO_SPECIAL, ids, 32, &n, &err) ==
          MNEMO_OK);
    CHECK(n == 2 && ids[0] == 11 + 0x78 && ids[1] == 2);
    char *text;
    size_t len;
    int32_t dec[] = {2, 9, 10, 11 + 0xC3, 11 + 0xA9, 11 + 0xFF, 1};
    CHECK(mnemo_tokenizer_decode(tok, dec, 7, MNEMO_DECODE_SKIP_SPECIAL, &text, &len, &err) ==
          MNEMO_OK);
    CHECK(strcmp(text, "abc a\xC3\xA9\xEF\xBF\xBD") != 0); /* c3 a9 ff is not UTF-8 as a run */
    CHECK(strcmp(text, "abc a\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD") == 0);
    mnemo_free(text);
    mnemo_tokenizer_close(tok);
}

typedef struct hostile_case {
    const char *name;
    const char *path; /* jansson path: "a.b" set to `value` (JSON text); NULL value = delete */
    const char *value;
    int code;
    const char *message_part;
} hostile_case;

static json_t *get_path(json_t *root, const char *path, char *last, size_t cap) {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    char *save, *tok = strtok_r(buf, ".", &save);
    json_t *cur = root;
    char *next;
    while ((next = strtok_r(NULL, ".", &save))) {
        if (json_is_array(cur))
            cur = json_array_get(cur, (size_t)atoi(tok));
        else
            cur = json_object_get(cur, tok);
        tok = next;
    }
    snprintf(last, cap, "%s", tok);
    return cur;
}

static void test_hostile_files(void) {
    static const hostile_case cases[] = {
        {"model type", "model.type", "\"Unigram\"", MNEMO_EUNSUPPORTED, "model.type"},
        {"normalizer type", "normalizer.type", "\"NFKC\"", MNEMO_EUNSUPPORTED, "normalizer.type"},
        {"pre-tokenizer", "pre_tokenizer.type", "\"Metaspace\"", MNEMO_EUNSUPPORTED,
         "pre_tokenizer"},
        {"split behavior", "pre_tokenizer.behavior", "\"Isolated\"", MNEMO_EUNSUPPORTED,
         "behavior"},
        {"regex pattern", "normalizer.pattern", "{\"Regex\": \" +\"}", MNEMO_EUNSUPPORTED, "Regex"},
        {"decoder", "decoder.type", "\"WordPiece\"", MNEMO_EUNSUPPORTED, "decoder.type"},
        {"post-processor", "post_processor.type", "\"BertProcessing\"", MNEMO_EUNSUPPORTED,
         "post_processor"},
        {"dropout", "model.dropout", "0.1", MNEMO_EUNSUPPORTED, "dropout"},
        {"truncation", "truncation", "{\"max_length\": 5}", MNEMO_EUNSUPPORTED, "truncation"},
        {"lstrip", "added_tokens.0.lstrip", "true", MNEMO_EUNSUPPORTED, "lstrip"},
        {"normalized added", "added_tokens.1.normalized", "true", MNEMO_EUNSUPPORTED, "normalized"},
        {"huge id", "model.vocab.ab", "2000000000", MNEMO_EFORMAT, "out of range"},
        {"negative id", "model.vocab.ab", "-3", MNEMO_EFORMAT, "out of range"},
        {"float id", "model.vocab.ab", "6.5", MNEMO_EFORMAT, "integer"},
        {"duplicate id", "model.vocab.ab", "4", MNEMO_EFORMAT, "both"},
        {"unknown merge token", "model.merges.0", "[\"a\", \"zz\"]", MNEMO_EFORMAT,
         "not in model.vocab"},
        {"merge result missing", "model.merges.0", "[\"b\", \"c\"]", MNEMO_EFORMAT, "makes"},
        {"merge not a pair", "model.merges.1", "[\"a\"]", MNEMO_EFORMAT, "merges[1]"},
        {"merge bad string", "model.merges.1", "\"abc\"", MNEMO_EFORMAT, "merges[1]"},
        {"vocab not object", "model.vocab", "[1,2]", MNEMO_EFORMAT, "model.vocab"},
        {"no model", "model", NULL, MNEMO_EFORMAT, "model"},
        {"added id huge", "added_tokens.0.id", "99999999", MNEMO_EFORMAT, "out of range"},
        {"added duplicate", "added_tokens.1.content", "\"<pad>\"", MNEMO_EFORMAT, "repeats"},
        {"added same id", "added_tokens.1.id", "0", MNEMO_EFORMAT, "repeats id"},
        {"added empty", "added_tokens.1.content", "\"\"", MNEMO_EFORMAT, "content"},
        {"unk not in vocab", "model.unk_token", "\"<nope>\"", MNEMO_EFORMAT, "unk_token"},
        {"template no sequence", "post_processor.single.1", "{\"SpecialToken\":{\"id\":\"<bos>\"}}",
         MNEMO_EFORMAT, "Sequence"},
        {"template unknown special", "post_processor.single.0",
         "{\"SpecialToken\":{\"id\":\"<x>\"}}", MNEMO_EFORMAT, "<x>"},
        {"template bad id", "post_processor.special_tokens.<bos>.ids", "[99999]", MNEMO_EFORMAT,
         "ids"},
        {"long pattern", "normalizer.pattern",
         "{\"String\": \"0123456789012345678901234567890123456789\"}", MNEMO_EUNSUPPORTED,
         "pattern"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const hostile_case *c = &cases[i];
        json_t *root = small_tokenizer();
        char last[64];
        json_t *parent = get_path(root, c->path, last, sizeof last);
        if (!parent) {
            CHECKF(0, "%s: bad test path %s", c->name, c->path);
            json_decref(root);
            continue;
        }
        json_t *v = NULL;
        if (c->value) {
            json_error_t jerr;
            v = json_loads(c->value, JSON_DECODE_ANY, &jerr);
        }
        if (json_is_array(parent)) {
            if (v)
                json_array_set_new(parent, (size_t)atoi(last), v);
            else
                json_array_remove(parent, (size_t)atoi(last));
        } else {
            if (v)
                json_object_set_new(parent, last, v);
            else
                json_object_del(parent, last);
        }
        mnemo_tokenizer *tok = NULL;
        mnemo_error err = {0};
        int rc = open_json(root, &tok, &err);
        CHECKF(rc == c->code, "%s: got %s (%s), want %s", c->name, mnemo_status_name(rc),
               rc ? err.message : "", mnemo_status_name(c->code));
        if (rc)
            CHECKF(strstr(err.message, c->message_part) != NULL, "%s: message '%s' lacks '%s'",
                   c->name, err.message, c->message_part);
        mnemo_tokenizer_close(tok);
        json_decref(root);
    }
}

static void test_hostile_text(void) {
    mnemo_tokenizer *tok = NULL;
    mnemo_error err;
    /* deep nesting */
    size_t depth = 100000;
    char *deep = malloc(2 * depth + 1);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    CHECK(open_json_text(deep, 2 * depth, &tok, &err) == MNEMO_EFORMAT);
    CHECK(strstr(err.message, "line 1") != NULL);
    free(deep);
    const char *bad[] = {
        "",
        "null",
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 99999999999999999999999}}}",
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"a\": 1}}}",
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"\\ud800\": 0}}}",
        "{\"model\": {\"type\": \"BPE\", \"vocab\": {}}}",
        "\xFF\xFE{}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = open_json_text(bad[i], strlen(bad[i]), &tok, &err);
        CHECKF(rc == MNEMO_EFORMAT, "case %zu: %s", i, mnemo_status_name(rc));
    }
    /* Every prefix of a valid file is refused cleanly. */
    json_t *root = small_tokenizer();
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    size_t len = strlen(s), refused = 0;
    for (size_t cut = 0; cut < len; cut += 7) {
        int rc = open_json_text(s, cut, &tok, &err);
        if (rc == MNEMO_EFORMAT) refused++;
        if (rc == MNEMO_OK) mnemo_tokenizer_close(tok);
    }
    CHECKF(refused == (len + 6) / 7, "%zu of %zu prefixes refused", refused, (len + 6) / 7);
    free(s);
    /* a missing file */
    mnemo_tokenizer_options o = {.no_cache = 1};
    CHECK(mnemo_tokenizer_open("/nonexistent/tokenizer.json", &o, &tok, &err) == MNEMO_ENOENT);
    CHECK(strstr(err.message, "/nonexistent/tokenizer.json") != NULL);
}

static void test_allocation_failures(void) {
    json_t *root = small_tokenizer();
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    int failures = 0, n;
    for (n = 1; n < 2000; n++) {
        mnemo_tokenizer *tok = NULL;
        mnemo_error err;
        mnemo__alloc_fail_after(n);
        int rc = open_json_text(s, strlen(s), &tok, &err);
        int32_t ids[16];
        size_t k;
        int rc2 = rc == MNEMO_OK ? mnemo_tokenizer_encode(tok, "ab c", 4, 0, ids, 16, &k, &err) : 0;
        mnemo__alloc_fail_after(0);
        if (rc == MNEMO_OK) {
            mnemo_tokenizer_close(tok);
            if (rc2 == MNEMO_OK) break;
            CHECK(rc2 == MNEMO_ENOMEM);
        } else {
            CHECKF(rc == MNEMO_ENOMEM, "failing allocation %d gave %s: %s", n,
                   mnemo_status_name(rc), err.message);
        }
        failures++;
    }
    CHECK(failures > 5 && n < 2000);
    free(s);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s TOKENIZER_JSON GOLDENS_JSONL\n", argv[0]);
        return 2;
    }
    tokenizer_path = argv[1];
    goldens_path = argv[2];
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mnemo-test-tok-XXXXXX");
    if (!mkdtemp(tmpdir)) return 2;
    load_goldens();
    mnemo_error err;
    mnemo_tokenizer_options o = {.no_cache = 1};
    if (mnemo_tokenizer_open(tokenizer_path, &o, &real_tok, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    RUN(test_goldens_from_json);
    RUN(test_cache);
    RUN(test_bad_utf8);
    RUN(test_buffer_and_flags);
    RUN(test_lookups_and_decode_errors);
    RUN(test_small_tokenizer);
    RUN(test_hostile_files);
    RUN(test_hostile_text);
    RUN(test_allocation_failures);
    mnemo_tokenizer_close(real_tok);
    free_goldens();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return test_finish();
}
