/*
 * test.h — the tiny test harness every tests/test_*.c uses: CHECK macros that
 * record failures with file:line and go on, TEST() functions listed in main
 * (MNEMO_TEST_FILTER runs some of them by name), and a closing line
 * "N passed, N failed" per executable (ctest runs each).
 */
#ifndef MNEMO_TEST_H
#define MNEMO_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_checks_failed_ = 0;
static int test_tests_passed_ = 0, test_tests_failed_ = 0;
static int test_current_failed_ = 0;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            test_checks_failed_++;                                                     \
            test_current_failed_ = 1;                                                  \
        }                                                                              \
    } while (0)

#define CHECKF(cond, ...)                                                              \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                              \
            fputc('\n', stderr);                                                       \
            test_checks_failed_++;                                                     \
            test_current_failed_ = 1;                                                  \
        }                                                                              \
    } while (0)

/* $MNEMO_TEST_FILTER=TEXT runs only the tests whose function name contains
 * TEXT (the others are not counted): one test of an executable, in a loop. */
static inline int test_selected_(const char *name) {
    const char *f = getenv("MNEMO_TEST_FILTER");
    return !f || !*f || strstr(name, f) != NULL;
}

#define RUN(fn)                          \
    do {                                 \
        if (!test_selected_(#fn)) break; \
        test_current_failed_ = 0;        \
        fprintf(stderr, "- %s\n", #fn);  \
        fn();                            \
        if (test_current_failed_)        \
            test_tests_failed_++;        \
        else                             \
            test_tests_passed_++;        \
    } while (0)

/* Writes n bytes to path or stops the test run (a harness failure, not a result). */
static inline void test_write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n)) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    fclose(f);
}

/* A refused input: the status is `want`, err carries it, and the message
 * names `path` (when not NULL) and contains every one of `words`. */
#define CHECK_REFUSAL(what, rc, want, err, path, words, n_words)                               \
    do {                                                                                       \
        CHECKF((rc) == (want), "%s: got %s, want %s: %s", (what), mnemo_status_name(rc),       \
               mnemo_status_name(want), (err).message);                                        \
        CHECKF((err).code == (rc), "%s", (what));                                              \
        const char *path_ = (path);                                                            \
        if (path_)                                                                             \
            CHECKF(strncmp((err).message, path_, strlen(path_)) == 0,                          \
                   "%s: message does not name the file: %s", (what), (err).message);           \
        for (size_t w_ = 0; w_ < (n_words) && (words)[w_]; w_++)                               \
            CHECKF(strstr((err).message, (words)[w_]) != NULL, "%s: message lacks \"%s\": %s", \
                   (what), (words)[w_], (err).message);                                        \
    } while (0)

static inline int test_finish(void) {
    if (!test_tests_passed_ && !test_tests_failed_ && !test_selected_("")) {
        printf("no test's name contains MNEMO_TEST_FILTER=%s\n", getenv("MNEMO_TEST_FILTER"));
        return 1;
    }
    printf("%d passed, %d failed\n", test_tests_passed_, test_tests_failed_);
    return test_tests_failed_ ? 1 : 0;
}

#endif
