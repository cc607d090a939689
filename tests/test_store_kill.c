/*
 * test_store_kill.c — durability of acknowledged adds under SIGKILL. Many
 * times over: a child process opens the store (tiny model, synchronous
 * FULL) and adds memories from two threads, reporting each add on a pipe
 * only after mnemo_memory_add() returned OK; the parent kills it with
 * SIGKILL at a random moment. Every few rounds, and at the end, the parent
 * reopens the store and checks that every acknowledged memory is there with
 * its text, and that PRAGMA integrity_check says ok. Prints the counts.
 * usage: test_store_kill TINY_MODEL_DIR WORK_DIR [ROUNDS]
 */
#include "store/store.h"
#include "test.h"

#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *model_dir;
static char data_dir[1024];

typedef struct ack {
    char id[MNEMO_MEMORY_ID_SIZE];
    char text[64];
} ack;

static ack *acks;
static size_t n_acks, cap_acks;

typedef struct child_thread {
    mnemo_store *s;
    int fd, round, t;
} child_thread;

static void *child_adder(void *p) {
    child_thread *c = p;
    for (int j = 0;; j++) {
        /* batches of 1..3, so multi-row transactions are killed too */
        int n = 1 + j % 3;
        mnemo_memory_input in[3];
        char texts[3][64];
        for (int i = 0; i < n; i++) {
            snprintf(texts[i], sizeof texts[i], "round %d thread %d add %d item %d", c->round, c->t,
                     j, i);
            in[i] = (mnemo_memory_input){
                .text = texts[i], .text_len = strlen(texts[i]), .metadata = "{\"kill\": true}"};
        }
        mnemo_memory_added out[3];
        mnemo_error err;
        if (mnemo_memory_add(c->s, in, (size_t)n, out, &err)) {
            fprintf(stderr, "child: add failed: %s\n", err.message);
            _exit(3);
        }
        for (int i = 0; i < n; i++) {
            char line[160];
            int len = snprintf(line, sizeof line, "%s\t%s\n", out[i].id, texts[i]);
            /* one write of < PIPE_BUF bytes: atomic, never interleaved */
            if (write(c->fd, line, (size_t)len) != len) _exit(4);
        }
    }
    return NULL;
}

static void child_main(int fd, int round) {
    mnemo_model *model;
    mnemo_error err;
    mnemo_model_options mo = {.no_cache = 1};
    if (mnemo_model_open(model_dir, &mo, &model, &err)) _exit(5);
    mnemo_store_options o = {.data_dir = data_dir,
                             .model = model,
                             .model_name = "tiny",
                             .no_dedup = 1,
                             .n_threads = 1,
                             .sweep_seconds = -1};
    mnemo_store *s;
    if (mnemo_store_open(&o, &s, &err)) {
        fprintf(stderr, "child: open failed: %s\n", err.message);
        _exit(6);
    }
    child_thread c[2] = {{s, fd, round, 0}, {s, fd, round, 1}};
    pthread_t th;
    pthread_create(&th, NULL, child_adder, &c[1]);
    child_adder(&c[0]);
    _exit(0);
}

static void read_acks(int fd) {
    static char buf[1 << 16];
    static size_t have;
    ssize_t n;
    while ((n = read(fd, buf + have, sizeof buf - have)) > 0) {
        have += (size_t)n;
        char *start = buf, *nl;
        while ((nl = memchr(start, '\n', (size_t)(buf + have - start)))) {
            *nl = 0;
            char *tab = strchr(start, '\t');
            if (tab) {
                if (n_acks == cap_acks) {
                    cap_acks = cap_acks ? cap_acks * 2 : 1024;
                    acks = realloc(acks, cap_acks * sizeof *acks);
                }
                *tab = 0;
                memset(&acks[n_acks], 0, sizeof acks[n_acks]);
                size_t il = strlen(start), tl = strlen(tab + 1);
                memcpy(acks[n_acks].id, start,
                       il < sizeof acks[n_acks].id ? il : sizeof acks[n_acks].id - 1);
                memcpy(acks[n_acks].text, tab + 1,
                       tl < sizeof acks[n_acks].text ? tl : sizeof acks[n_acks].text - 1);
                n_acks++;
            }
            start = nl + 1;
        }
        have = (size_t)(buf + have - start);
        memmove(buf, start, have);
    }
    have = 0; /* a line cut by the kill was never acknowledged */
}

static size_t verify(mnemo_model *model, const char *when) {
    mnemo_store_options o = {.data_dir = data_dir,
                             .model = model,
                             .model_name = "tiny",
                             .no_dedup = 1,
                             .sweep_seconds = -1};
    mnemo_store *s;
    mnemo_error err;
    if (mnemo_store_open(&o, &s, &err)) {
        CHECKF(0, "%s: reopen failed: %s", when, err.message);
        return 0;
    }
    size_t present = 0, rows = 0;
    for (size_t i = 0; i < n_acks; i++) {
        mnemo_memories *m;
        if (mnemo_memory_get(s, acks[i].id, &m, &err) == MNEMO_OK) {
            if (!strcmp(m->items[0].text, acks[i].text)) present++;
            mnemo_memories_free(m);
        }
    }
    mnemo_memory_count(s, NULL, NULL, &rows, &err);
    mnemo_store_close(s);
    CHECKF(present == n_acks, "%s: %zu of %zu acknowledged adds present", when, present, n_acks);
    CHECK(rows >= n_acks);
    char path[1100];
    snprintf(path, sizeof path, "%s/memories.db", data_dir);
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL);
    int ok =
        sqlite3_step(st) == SQLITE_ROW && !strcmp((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(db);
    CHECKF(ok, "%s: integrity_check failed", when);
    return rows;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_store_kill TINY_MODEL_DIR WORK_DIR [ROUNDS]\n");
        return 2;
    }
    model_dir = argv[1];
    int rounds = argc > 3 ? atoi(argv[3]) : 150;
    mnemo__log_set_level(MNEMO_LOG_WARN);
    mnemo__mkdirs(argv[2], NULL);
    snprintf(data_dir, sizeof data_dir, "%s/kill-%d", argv[2], (int)getpid());
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", data_dir);
    if (system(cmd)) return 2;
    unsigned seed = argc > 4 ? (unsigned)atoi(argv[4]) : (unsigned)time(NULL);
    srand(seed);
    mnemo_model *model;
    mnemo_error err;
    mnemo_model_options mo = {.no_cache = 1};
    if (mnemo_model_open(model_dir, &mo, &model, &err)) {
        fprintf(stderr, "model: %s\n", err.message);
        return 2;
    }
    /* create the store once, so every child starts with a schema */
    verify(model, "start");
    double t0 = mnemo__now();
    int kills = 0, early_exits = 0;
    size_t rows = 0;
    for (int r = 0; r < rounds; r++) {
        int p[2];
        if (pipe(p)) return 2;
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            close(p[0]);
            child_main(p[1], r);
        }
        close(p[1]);
        /* 5..100 ms: some kills land during open/recovery, most during adds */
        usleep((useconds_t)(5000 + rand() % 95000));
        if (kill(pid, SIGKILL) == 0) kills++;
        int status;
        waitpid(pid, &status, 0);
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
            early_exits++;
            fprintf(stderr, "round %d: the child exited by itself (status %d)\n", r, status);
        }
        read_acks(p[0]);
        close(p[0]);
        if ((r + 1) % 25 == 0 || r == rounds - 1) {
            char when[64];
            snprintf(when, sizeof when, "after round %d", r + 1);
            rows = verify(model, when);
        }
    }
    mnemo_model_close(model);
    CHECK(early_exits == 0);
    CHECK(n_acks > (size_t)rounds); /* the kills did land during adds */
    fprintf(
        stderr,
        "durability: %d rounds, %d SIGKILLs, %zu acknowledged adds, all present: %s, %zu rows in "
        "the store, integrity_check ok: %s, %.1f s (seed %u)\n",
        rounds, kills, n_acks, test_current_failed_ ? "NO" : "yes", rows,
        test_current_failed_ ? "?" : "yes", mnemo__now() - t0, seed);
    free(acks);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", data_dir);
    if (!test_current_failed_ && system(cmd)) return 2;
    if (test_current_failed_)
        test_tests_failed_++;
    else
        test_tests_passed_++;
    return test_finish();
}
