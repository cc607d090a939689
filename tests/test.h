/*
 * test.h — the tiny test harness every tests/test_*.c uses: CHECK macros that
 * record failures with file:line and go on, TEST() functions listed in main,
 * and a closing line "N passed, N failed" per executable (ctest runs each).
 */
#ifndef MNEMO_TEST_H
#define MNEMO_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_checks_failed_ = 0;
static int test_tests_passed_ = 0, test_tests_failed_ = 0;
static int test_current_failed_ = 0;

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);  \
            test_checks_failed_++;                                                      \
            test_current_failed_ = 1;                                                   \
        }                                                                               \
    } while (0)

#define CHECKF(cond, ...)                                                               \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);  \
            fprintf(stderr, __VA_ARGS__);                                               \
            fputc('\n', stderr);                                                        \
            test_checks_failed_++;                                                      \
            test_current_failed_ = 1;                                                   \
        }                                                                               \
    } while (0)

#define RUN(fn)                                                                         \
    do {                                                                                \
        test_current_failed_ = 0;                                                       \
        fprintf(stderr, "- %s\n", #fn);                                                 \
        fn();                                                                           \
        if (test_current_failed_) test_tests_failed_++;                                 \
        else test_tests_passed_++;                                                      \
    } while (0)

static inline int test_finish(void) {
    printf("%d passed, %d failed\n", test_tests_passed_, test_tests_failed_);
    return test_tests_failed_ ? 1 : 0;
}

#endif
