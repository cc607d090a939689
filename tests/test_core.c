/*
 * test_core.c — the core part: status list, UTF-8 validation with offsets,
 * the settings table (defaults < env < flags), log quoting, allocation
 * failure injection, the JSON writer and the hash.
 */
#include "core/core.h"
#include "core/jsonw.h"
#include "cli/settings.h"
#include "test.h"

static void test_status_list(void) {
    CHECK(strcmp(mnemo_strerror(MNEMO_OK), "ok") == 0);
    CHECK(strcmp(mnemo_strerror(MNEMO_EUTF8), "invalid UTF-8") == 0);
    CHECK(strcmp(mnemo_status_name(MNEMO_EFORMAT), "EFORMAT") == 0);
    CHECK(strcmp(mnemo_strerror(12345), "unknown status") == 0);
    mnemo_error err;
    CHECK(mnemo__fail(&err, MNEMO_ERANGE, "x=%d", 5) == MNEMO_ERANGE);
    CHECK(err.code == MNEMO_ERANGE && strcmp(err.message, "x=5") == 0);
    mnemo__fail_prefix(&err, "file %s", "a.json");
    CHECK(strcmp(err.message, "file a.json: x=5") == 0);
    CHECK(mnemo__fail(NULL, MNEMO_EIO, "ignored") == MNEMO_EIO);
    CHECK(strcmp(mnemo_version(), MNEMO_VERSION_STRING) == 0);
}

static void expect_bad(const char *s, size_t len, size_t offset) {
    size_t off = 999;
    CHECKF(!mnemo_utf8_valid(s, len, &off), "accepted bytes meant to be invalid");
    CHECKF(off == offset, "offset %zu, expected %zu", off, offset);
}

static void test_utf8(void) {
    CHECK(mnemo_utf8_valid("", 0, NULL));
    CHECK(mnemo_utf8_valid("hello, world: long ascii run", 28, NULL));
    CHECK(mnemo_utf8_valid("\xC3\xA9\xE2\x96\x81\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF", 13, NULL));
    CHECK(mnemo_utf8_valid("a\0b", 3, NULL)); /* NUL is a character */
    expect_bad("abc\x80", 4, 3);              /* lone continuation */
    expect_bad("abcdefghij\xC0\xAF", 12, 10); /* overlong '/' */
    expect_bad("\xE0\x80\xAF", 3, 0);         /* overlong 3-byte */
    expect_bad("ok\xED\xA0\x80", 5, 2);       /* surrogate U+D800 */
    expect_bad("\xF4\x90\x80\x80", 4, 0);     /* above U+10FFFF */
    expect_bad("\xF5\x80\x80\x80", 4, 0);
    expect_bad("xy\xE2\x96", 4, 2); /* truncated at the end */
    expect_bad("\xE2\x96x", 3, 0);  /* bad continuation */
    expect_bad("\xFF", 1, 0);
}

static void test_settings(void) {
    mnemo_settings s;
    mnemo_error err;
    char *pos[8];
    int npos;
    unsetenv("MNEMO_MODEL");
    setenv("MNEMO_LOG_LEVEL", "debug", 1);
    char *argv1[] = {"--model",           "/m", "x",           "--no-special",
                     "--log-level=error", "--", "--not-a-flag"};
    CHECK(mnemo__settings_parse(&s, MNEMO_CMD_TOKENIZE, 7, argv1, pos, &npos, &err) == MNEMO_OK);
    CHECK(s.model && strcmp(s.model, "/m") == 0);
    CHECK(s.no_special == 1 && s.decode == 0);
    CHECK(strcmp(s.log_level, "error") == 0); /* the flag wins over the environment */
    CHECK(npos == 2 && strcmp(pos[0], "x") == 0 && strcmp(pos[1], "--not-a-flag") == 0);

    char *argv2[] = {"--pieces"};
    CHECK(mnemo__settings_parse(&s, MNEMO_CMD_TOKENIZE, 1, argv2, pos, &npos, &err) == MNEMO_OK);
    CHECK(strcmp(s.log_level, "debug") == 0); /* env over the default */
    unsetenv("MNEMO_LOG_LEVEL");
    CHECK(mnemo__settings_parse(&s, MNEMO_CMD_TOKENIZE, 0, argv2, pos, &npos, &err) == MNEMO_OK);
    CHECK(strcmp(s.log_level, "warn") == 0); /* the default */

    char *argv3[] = {"--bogus"};
    CHECK(mnemo__settings_parse(&s, MNEMO_CMD_TOKENIZE, 1, argv3, pos, &npos, &err) ==
          MNEMO_EINVAL);
    CHECK(strstr(err.message, "--bogus") != NULL);
    char *argv4[] = {"--model"};
    CHECK(mnemo__settings_parse(&s, MNEMO_CMD_TOKENIZE, 1, argv4, pos, &npos, &err) ==
          MNEMO_EINVAL);
    CHECK(strstr(err.message, "needs a value") != NULL);
    char *argv5[] = {"--no-special=maybe"};
    CHECK(mnemo__settings_parse(&s, MNEMO_CMD_TOKENIZE, 1, argv5, pos, &npos, &err) ==
          MNEMO_EINVAL);
    char *argv6[] = {"-x"};
    CHECK(mnemo__settings_parse(&s, MNEMO_CMD_TOKENIZE, 1, argv6, pos, &npos, &err) ==
          MNEMO_EINVAL);
    /* a flag of another command is refused */
    char *argv7[] = {"--decode"};
    CHECK(mnemo__settings_parse(&s, MNEMO_CMD_EMBED, 1, argv7, pos, &npos, &err) == MNEMO_EINVAL);

    size_t n;
    const mnemo_setting_info *t = mnemo__settings_table(&n);
    CHECK(n >= 5);
    for (size_t i = 0; i < n; i++) CHECK(t[i].flag && t[i].help && t[i].commands);
}

static void test_log(void) {
    char buf[64];
    CHECK(strcmp(mnemo__log_quote(buf, sizeof buf, "plain"), "plain") == 0);
    CHECK(strcmp(mnemo__log_quote(buf, sizeof buf, "two words"), "\"two words\"") == 0);
    CHECK(strcmp(mnemo__log_quote(buf, sizeof buf, "a\"b\n"), "\"a\\\"b\\n\"") == 0);
    CHECK(strcmp(mnemo__log_quote(buf, sizeof buf, ""), "\"\"") == 0);
    CHECK(mnemo__log_level_parse("WARN") == MNEMO_LOG_WARN);
    CHECK(mnemo__log_level_parse("loud") == -1);
}

static void test_alloc_failure(void) {
    mnemo__alloc_fail_after(3);
    void *a = mnemo__malloc(8), *b = mnemo__malloc(8), *c = mnemo__malloc(8), *d = mnemo__malloc(8);
    CHECK(a && b && !c && !d);
    mnemo__alloc_fail_after(0);
    void *e = mnemo__malloc(8);
    CHECK(e != NULL);
    mnemo__free(a);
    mnemo__free(b);
    mnemo__free(e);
    CHECK(mnemo__malloc_array(SIZE_MAX / 2, 4) == NULL); /* overflow refused */
}

static void test_jsonw(void) {
    mnemo_jsonw w = {0};
    mnemo__jsonw_string(&w, "a\"b\\c\n\x01\xE2\x96\x81", 10);
    mnemo__jsonw_char(&w, ' ');
    mnemo__jsonw_int(&w, -42);
    mnemo__jsonw_char(&w, '\0');
    CHECK(strcmp(w.p, "\"a\\\"b\\\\c\\n\\u0001\xE2\x96\x81\" -42") == 0);
    mnemo__jsonw_free(&w);
}

static void test_hash(void) {
    const char *s = "The quick brown fox jumps over the lazy dog";
    CHECK(mnemo__hash64(s, 43, 1) == mnemo__hash64(s, 43, 1));
    CHECK(mnemo__hash64(s, 43, 1) != mnemo__hash64(s, 42, 1));
    CHECK(mnemo__hash64(s, 43, 1) != mnemo__hash64(s, 43, 2));
    CHECK(mnemo__hash64("", 0, 0) != mnemo__hash64("\0", 1, 0));
}

/* RFC 4648 section 10 vectors; SHA-1 of FIPS 180 examples; RFC 6455's handshake example. */
static void test_encodings(void) {
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *b64[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    char out[64];
    for (int i = 0; i < 7; i++) {
        mnemo__base64_encode(in[i], strlen(in[i]), out);
        CHECKF(!strcmp(out, b64[i]), "base64(%s) = %s", in[i], out);
    }
    /* decoding: the same vectors back; what is not canonical base64 refused at its offset */
    for (int i = 0; i < 7; i++) {
        size_t len, bad;
        CHECKF(mnemo__base64_decode(b64[i], strlen(b64[i]), out, sizeof out, &len, &bad) &&
                   len == strlen(in[i]) && !memcmp(out, in[i], len),
               "decode %s", b64[i]);
    }
    const char *wrong[] = {"Zg=", "Z===", "Zg=a", "Zh==", "Zm9=", "Zm!v", "=m9v", "Zm9vYg==Zg=="};
    const size_t at[] = {3, 1, 2, 1, 2, 2, 0, 6};
    for (int i = 0; i < 8; i++) {
        size_t len, bad;
        CHECKF(!mnemo__base64_decode(wrong[i], strlen(wrong[i]), out, sizeof out, &len, &bad) &&
                   bad == at[i],
               "%s refused at %zu (got %zu)", wrong[i], at[i], bad);
    }
    size_t len, bad;
    CHECK(!mnemo__base64_decode("Zm9vYmFy", 8, out, 5, &len, &bad)); /* no room */
    unsigned char d[20];
    char hex[41];
    const char *msgs[] = {"abc", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", ""};
    const char *want[] = {"a9993e364706816aba3e25717850c26c9cd0d89d",
                          "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
                          "da39a3ee5e6b4b0d3255bfef95601890afd80709"};
    for (int i = 0; i < 3; i++) {
        mnemo__sha1(msgs[i], strlen(msgs[i]), d);
        for (int k = 0; k < 20; k++) snprintf(hex + 2 * k, 3, "%02x", d[k]);
        CHECKF(!strcmp(hex, want[i]), "sha1(%s) = %s", msgs[i], hex);
    }
    const char *key = "dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    mnemo__sha1(key, strlen(key), d);
    mnemo__base64_encode(d, 20, out);
    CHECKF(!strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "websocket accept %s", out);
}

int main(void) {
    RUN(test_status_list);
    RUN(test_encodings);
    RUN(test_utf8);
    RUN(test_settings);
    RUN(test_log);
    RUN(test_alloc_failure);
    RUN(test_jsonw);
    RUN(test_hash);
    return test_finish();
}
