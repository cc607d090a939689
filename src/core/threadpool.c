/*
 * threadpool.c — the persistent worker pool of core.h: workers wait on a
 * generation counter, claim task indices from an atomic counter, and the
 * caller works too. Workers spin briefly before sleeping, because a forward
 * pass runs hundreds of short parallel loops and a condition-variable wake-up
 * costs tens of microseconds each.
 */
#include "core.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPIN_ROUNDS 20000
#define CLOSED 0xFFFFFFFFu

/*
 * Claiming: `claim` holds (run << 32 | next task index). A worker claims a
 * task by compare-and-swap on the exact word it read, so a worker that woke
 * late for an old run can never take a task of a newer one; between runs the
 * index is CLOSED while the caller writes fn/ctx/n_tasks. The caller waits
 * for `done` (tasks finished) to reach n_tasks, never for a worker that has
 * not woken yet: on a busy machine it simply does the work itself.
 */
struct mnemo_pool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake, finished;
    _Atomic unsigned generation;
    _Atomic uint64_t claim;
    _Atomic size_t done;
    _Atomic int sleeping_caller;
    uint32_t run;
    _Atomic size_t n_tasks;
    mnemo_task_fn fn;
    void *ctx;
    _Atomic bool stop;
};

typedef struct worker_arg {
    mnemo_pool *pool;
    int index;
} worker_arg;

static void finish_one(mnemo_pool *p) {
    size_t d = atomic_fetch_add(&p->done, 1) + 1;
    if (d == p->n_tasks && atomic_load(&p->sleeping_caller)) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_signal(&p->finished);
        pthread_mutex_unlock(&p->mu);
    }
}

static void work(mnemo_pool *p, int worker) {
    for (;;) {
        uint64_t c = atomic_load(&p->claim);
        uint32_t idx = (uint32_t)c;
        if (idx == CLOSED || idx >= p->n_tasks) return;
        if (!atomic_compare_exchange_weak(&p->claim, &c, c + 1)) continue;
        /* the run cannot finish before this task does: fn and ctx are its own */
        p->fn(p->ctx, idx, worker);
        finish_one(p);
    }
}

static void *worker_main(void *arg) {
    worker_arg a = *(worker_arg *)arg;
    mnemo__free(arg);
    mnemo_pool *p = a.pool;
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load(&p->generation)) == seen && spins < SPIN_ROUNDS) {
            spins++;
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            while ((g = atomic_load(&p->generation)) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->wake, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop)) return NULL;
        seen = g;
        work(p, a.index);
    }
}

/* CPUs granted by a cgroup CPU quota (v2 cpu.max, v1 cfs quota/period),
 * rounded up; 0 when there is no quota. Containers often have many CPUs in
 * their affinity mask but a quota of one or two. */
static int cgroup_cpus(void) {
    long quota = -1, period = 0;
    FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r");
    if (f) {
        char q[32];
        if (fscanf(f, "%31s %ld", q, &period) == 2 && strcmp(q, "max") != 0) quota = atol(q);
        fclose(f);
    } else if ((f = fopen("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "r"))) {
        if (fscanf(f, "%ld", &quota) != 1) quota = -1;
        fclose(f);
        if ((f = fopen("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "r"))) {
            if (fscanf(f, "%ld", &period) != 1) period = 0;
            fclose(f);
        }
    }
    if (quota <= 0 || period <= 0) return 0;
    return (int)((quota + period - 1) / period);
}

int mnemo__cpu_count(void) {
    int n = 1;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) n = CPU_COUNT(&set);
    int quota = cgroup_cpus();
    if (quota > 0 && quota < n) n = quota;
    return n;
}

int mnemo__pool_create(int n_threads, mnemo_pool **out, mnemo_error *err) {
    if (n_threads <= 0) n_threads = mnemo__cpu_count();
    if (n_threads > 256) n_threads = 256;
    mnemo_pool *p = mnemo__calloc(1, sizeof *p);
    if (!p) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory (thread pool)");
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->finished, NULL);
    atomic_store(&p->claim, (uint64_t)CLOSED);
    p->threads = mnemo__calloc((size_t)n_threads, sizeof(pthread_t));
    if (!p->threads) {
        mnemo__pool_destroy(p);
        return mnemo__fail(err, MNEMO_ENOMEM, "out of memory (thread pool)");
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *a = mnemo__malloc(sizeof *a);
        if (a) {
            a->pool = p;
            a->index = i;
        }
        if (!a || pthread_create(&p->threads[i], NULL, worker_main, a) != 0) {
            mnemo__free(a);
            p->n_threads = i; /* only these started */
            mnemo__pool_destroy(p);
            return mnemo__fail(err, MNEMO_ENOMEM, "cannot start worker thread %d", i);
        }
    }
    *out = p;
    return MNEMO_OK;
}

void mnemo__pool_destroy(mnemo_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, true);
    atomic_fetch_add(&p->generation, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n_threads && p->threads; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->finished);
    mnemo__free(p->threads);
    mnemo__free(p);
}

int mnemo__pool_size(const mnemo_pool *p) { return p ? p->n_threads : 1; }

void mnemo__pool_run(mnemo_pool *p, size_t n_tasks, mnemo_task_fn fn, void *ctx) {
    if (n_tasks == 0) return;
    if (!p || p->n_threads == 1 || n_tasks == 1) {
        for (size_t t = 0; t < n_tasks; t++) fn(ctx, t, 0);
        return;
    }
    uint64_t run = ++p->run;
    atomic_store(&p->claim, (run << 32) | CLOSED); /* no claims while the run is set up */
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store(&p->done, 0);
    atomic_store(&p->claim, run << 32);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->generation, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    work(p, 0);
    for (int spins = 0; atomic_load(&p->done) < n_tasks && spins < SPIN_ROUNDS; spins++) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    if (atomic_load(&p->done) < n_tasks) {
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->sleeping_caller, 1);
        while (atomic_load(&p->done) < n_tasks) pthread_cond_wait(&p->finished, &p->mu);
        atomic_store(&p->sleeping_caller, 0);
        pthread_mutex_unlock(&p->mu);
    }
    atomic_store(&p->claim, (run << 32) | CLOSED);
}
