/*
 * batcher.c — the batcher of service.h: a bounded queue of token sequences
 * from many jobs, one worker thread that packs them into forward passes by a
 * token budget (oldest sequence of each job first, then arrival order),
 * de-duplication of identical sequences in flight, deadlines and
 * cancellation. One mutex guards everything; the model runs outside it.
 */
#include "service.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#define DEDUP_BUCKETS 4096 /* power of two; chains stay short at any queue length we allow */
#define MAX_BATCH_SEQS 1024
#define POLL_SECONDS 0.02 /* how often a waiting caller asks whether its client went away */

typedef struct sub {
    struct sub *next;
    mnemo_batch_job *job;
    size_t index;
} sub;

typedef struct item {
    struct item *qprev, *qnext; /* the queue, while waiting */
    struct item *hnext;         /* dedup chain, while waiting or running */
    uint64_t hash, owner;       /* owner: serial of the job that queued it */
    double enqueued;
    sub *subs; /* the jobs waiting for it */
    bool running;
    size_t len;
    int32_t ids[];
} item;

struct mnemo_batch_job {
    uint64_t serial;
    size_t n, remaining;
    float *out;
    double deadline, submitted, first_start, last_done;
    bool started;
    int rc;
    mnemo_error err;
    pthread_cond_t cond;
    item **items; /* items[i]: what sequence i waits for; NULL once delivered */
    bool *delivered;
    sub subs[];
};

struct mnemo_batcher {
    mnemo_batcher_options o;
    size_t max_seqs;
    pthread_mutex_t mu;
    pthread_cond_t work;
    pthread_t thread;
    bool stop;
    item *qhead, *qtail;
    item *dedup[DEDUP_BUCKETS];
    size_t queued_seqs, queued_tokens, waiting_jobs;
    uint64_t next_serial;
    double rate; /* tokens/s, moving average */
    /* the worker's buffers, sized once */
    item **batch;
    const int32_t **ids;
    size_t *lens;
    float *out;
    uint64_t *owners;
};

static void abs_time(double t, struct timespec *ts) {
    double now = mnemo__now();
    struct timespec real;
    clock_gettime(CLOCK_MONOTONIC, &real);
    double d = t - now;
    if (d < 0) d = 0;
    if (d > 3600) d = 3600;
    long sec = (long)d;
    long nsec = real.tv_nsec + (long)((d - (double)sec) * 1e9);
    ts->tv_sec = real.tv_sec + sec + nsec / 1000000000L;
    ts->tv_nsec = nsec % 1000000000L;
}

static void cond_init_monotonic(pthread_cond_t *c) {
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}

static void queue_unlink(mnemo_batcher *b, item *it) {
    if (it->qprev)
        it->qprev->qnext = it->qnext;
    else
        b->qhead = it->qnext;
    if (it->qnext)
        it->qnext->qprev = it->qprev;
    else
        b->qtail = it->qprev;
    it->qprev = it->qnext = NULL;
    b->queued_seqs--;
    b->queued_tokens -= it->len;
}

static void dedup_remove(mnemo_batcher *b, item *it) {
    item **pp = &b->dedup[it->hash & (DEDUP_BUCKETS - 1)];
    while (*pp && *pp != it) pp = &(*pp)->hnext;
    if (*pp) *pp = it->hnext;
}

/* The worker: wait for work, gather a pass, run it, deliver. */
static void *worker_main(void *arg) {
    mnemo_batcher *b = arg;
    mnemo_error err;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (!b->stop && !b->qhead) pthread_cond_wait(&b->work, &b->mu);
        if (!b->qhead) break; /* stopping and drained */
        /* A short collection window, so requests arriving together share a pass. */
        double until = b->qhead->enqueued + b->o.window;
        while (!b->stop && b->o.window > 0 && b->queued_tokens < b->o.max_batch_tokens &&
               mnemo__now() < until) {
            struct timespec ts;
            abs_time(until, &ts);
            pthread_cond_timedwait(&b->work, &b->mu, &ts);
        }
        if (!b->qhead) continue; /* everything was cancelled meanwhile */
        size_t n = 0, tokens = 0, n_owners = 0;
        /* Pass 1: the oldest sequence of each job; pass 2: arrival order. */
        for (int pass = 0; pass < 2; pass++) {
            for (item *it = b->qhead, *next;
                 it && n < b->max_seqs && tokens < b->o.max_batch_tokens; it = next) {
                next = it->qnext;
                if (tokens + it->len > b->o.max_batch_tokens) continue;
                if (pass == 0) {
                    bool seen = false;
                    for (size_t k = 0; k < n_owners && !seen; k++) seen = b->owners[k] == it->owner;
                    if (seen) continue;
                    b->owners[n_owners++] = it->owner;
                }
                queue_unlink(b, it);
                it->running = true;
                b->batch[n] = it;
                b->ids[n] = it->ids;
                b->lens[n] = it->len;
                tokens += it->len;
                n++;
            }
        }
        double t0 = mnemo__now();
        for (size_t i = 0; i < n; i++)
            for (sub *s = b->batch[i]->subs; s; s = s->next)
                if (!s->job->started) {
                    s->job->started = true;
                    s->job->first_start = t0;
                }
        pthread_mutex_unlock(&b->mu);
        int rc = b->o.run(b->o.run_arg, b->ids, b->lens, n, b->out, &err);
        double t1 = mnemo__now();
        if (b->o.observe) b->o.observe(b->o.observe_arg, n, tokens, n_owners, t1 - t0);
        pthread_mutex_lock(&b->mu);
        if (rc == MNEMO_OK && t1 > t0) {
            double r = (double)tokens / (t1 - t0);
            b->rate = b->rate > 0 ? 0.7 * b->rate + 0.3 * r : r;
        }
        for (size_t i = 0; i < n; i++) {
            item *it = b->batch[i];
            for (sub *s = it->subs; s; s = s->next) {
                mnemo_batch_job *j = s->job;
                if (rc == MNEMO_OK)
                    memcpy(j->out + s->index * b->o.width, b->out + i * b->o.width,
                           b->o.width * sizeof(float));
                else if (j->rc == MNEMO_OK) {
                    j->rc = rc;
                    j->err = err;
                }
                j->items[s->index] = NULL;
                j->delivered[s->index] = true;
                j->last_done = t1;
                j->remaining--;
                pthread_cond_signal(&j->cond); /* a streaming waiter wants each one */
            }
            dedup_remove(b, it);
            mnemo__free(it);
        }
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* Frees the worker's buffers and the batcher itself. */
static void free_buffers(mnemo_batcher *b) {
    mnemo__free(b->batch);
    mnemo__free(b->ids);
    mnemo__free(b->lens);
    mnemo__free(b->owners);
    mnemo__free(b->out);
    mnemo__free(b);
}

int mnemo__batcher_create(const mnemo_batcher_options *opts, mnemo_batcher **out,
                          mnemo_error *err) {
    if (!opts->run || !opts->width || !opts->max_batch_tokens)
        return mnemo__fail(err, MNEMO_EINVAL,
                           "batcher: run, width and max_batch_tokens are needed");
    mnemo_batcher *b = mnemo__calloc(1, sizeof *b);
    if (!b) return mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
    b->o = *opts;
    b->max_seqs = opts->max_batch_tokens < MAX_BATCH_SEQS ? opts->max_batch_tokens : MAX_BATCH_SEQS;
    b->batch = mnemo__calloc(b->max_seqs, sizeof *b->batch);
    b->ids = mnemo__calloc(b->max_seqs, sizeof *b->ids);
    b->lens = mnemo__calloc(b->max_seqs, sizeof *b->lens);
    b->owners = mnemo__calloc(b->max_seqs, sizeof *b->owners);
    b->out = mnemo__malloc_array(b->max_seqs, opts->width * sizeof(float));
    if (!b->batch || !b->ids || !b->lens || !b->owners || !b->out) goto nomem;
    pthread_mutex_init(&b->mu, NULL);
    cond_init_monotonic(&b->work);
    if (pthread_create(&b->thread, NULL, worker_main, b)) {
        pthread_mutex_destroy(&b->mu);
        pthread_cond_destroy(&b->work);
        goto nomem;
    }
    *out = b;
    return MNEMO_OK;
nomem:
    free_buffers(b);
    return mnemo__fail(err, MNEMO_ENOMEM, "out of memory for the batcher");
}

void mnemo__batcher_free(mnemo_batcher *b) {
    if (!b) return;
    pthread_mutex_lock(&b->mu);
    b->stop = true;
    pthread_cond_broadcast(&b->work);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->thread, NULL);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->work);
    free_buffers(b);
}

static item *dedup_find(mnemo_batcher *b, uint64_t h, const int32_t *ids, size_t len) {
    for (item *it = b->dedup[h & (DEDUP_BUCKETS - 1)]; it; it = it->hnext)
        if (it->hash == h && it->len == len && !memcmp(it->ids, ids, len * sizeof *ids)) return it;
    return NULL;
}

/* Detaches sequence i of a job from its item; drops the item if nobody else waits. */
static void detach(mnemo_batcher *b, mnemo_batch_job *j, size_t i) {
    item *it = j->items[i];
    if (!it) return;
    for (sub **pp = &it->subs; *pp; pp = &(*pp)->next)
        if (*pp == &j->subs[i]) {
            *pp = j->subs[i].next;
            break;
        }
    j->items[i] = NULL;
    if (!it->subs && !it->running) {
        queue_unlink(b, it);
        dedup_remove(b, it);
        mnemo__free(it);
    }
}

static void job_free(mnemo_batch_job *j) {
    pthread_cond_destroy(&j->cond);
    mnemo__free(j->items);
    mnemo__free(j->delivered);
    mnemo__free(j);
}

int mnemo__batcher_submit(mnemo_batcher *b, const int32_t *const *ids, const size_t *lens, size_t n,
                          float *out, double deadline, mnemo_batch_job **job, mnemo_error *err) {
    *job = NULL;
    size_t need = 0;
    for (size_t i = 0; i < n; i++) {
        if (!lens[i] || lens[i] > b->o.max_batch_tokens)
            return mnemo__fail(err, MNEMO_EINVAL,
                               "sequence %zu has %zu tokens; a pass takes 1..%zu", i, lens[i],
                               b->o.max_batch_tokens);
        need += lens[i];
    }
    size_t bytes;
    if (!mnemo__mul_size(n, sizeof(sub), &bytes) || !mnemo__add_size(bytes, sizeof **job, &bytes))
        return mnemo__fail(err, MNEMO_ENOMEM, "too many sequences");
    mnemo_batch_job *j = mnemo__calloc(1, bytes);
    item **items = j ? mnemo__calloc(n ? n : 1, sizeof *items) : NULL;
    bool *delivered = items ? mnemo__calloc(n ? n : 1, sizeof *delivered) : NULL;
    uint64_t *hashes = delivered ? mnemo__malloc_array(n ? n : 1, sizeof *hashes) : NULL;
    if (!hashes) {
        mnemo__free(items);
        mnemo__free(delivered);
        mnemo__free(j);
        return mnemo__fail(err, MNEMO_ENOMEM, "out of memory for %zu sequences", n);
    }
    j->items = items;
    j->delivered = delivered;
    j->n = n;
    j->out = out;
    j->deadline = deadline;
    j->submitted = mnemo__now();
    cond_init_monotonic(&j->cond);
    for (size_t i = 0; i < n; i++) hashes[i] = mnemo__hash64(ids[i], lens[i] * sizeof(int32_t), 7);
    pthread_mutex_lock(&b->mu);
    int rc = MNEMO_OK;
    if (b->stop)
        rc = mnemo__fail(err, MNEMO_ECANCELED, "the server is shutting down");
    else if (b->o.max_queue_tokens && b->queued_tokens > 0 &&
             b->queued_tokens + need > b->o.max_queue_tokens)
        rc = mnemo__fail(err, MNEMO_EBUSY,
                         "the queue is full (%zu tokens waiting, this request adds up to %zu, "
                         "limit %zu): retry later, send fewer inputs, or raise --max-queue-tokens",
                         b->queued_tokens, need, b->o.max_queue_tokens);
    j->serial = ++b->next_serial;
    for (size_t i = 0; i < n && rc == MNEMO_OK; i++) {
        item *it = dedup_find(b, hashes[i], ids[i], lens[i]);
        if (!it) {
            it = mnemo__malloc(sizeof *it + lens[i] * sizeof(int32_t));
            if (!it) {
                rc = mnemo__fail(err, MNEMO_ENOMEM, "out of memory");
                break;
            }
            memset(it, 0, sizeof *it);
            it->hash = hashes[i];
            it->owner = j->serial;
            it->enqueued = j->submitted;
            it->len = lens[i];
            memcpy(it->ids, ids[i], lens[i] * sizeof(int32_t));
            it->hnext = b->dedup[it->hash & (DEDUP_BUCKETS - 1)];
            b->dedup[it->hash & (DEDUP_BUCKETS - 1)] = it;
            it->qprev = b->qtail;
            if (b->qtail)
                b->qtail->qnext = it;
            else
                b->qhead = it;
            b->qtail = it;
            b->queued_seqs++;
            b->queued_tokens += it->len;
        } else if (it->running && !j->started) {
            j->started = true;
            j->first_start = j->submitted;
        }
        j->subs[i] = (sub){it->subs, j, i};
        it->subs = &j->subs[i];
        j->items[i] = it;
        j->remaining++;
    }
    if (rc) {
        for (size_t i = 0; i < n; i++) detach(b, j, i);
    } else {
        b->waiting_jobs++;
        pthread_cond_signal(&b->work);
    }
    pthread_mutex_unlock(&b->mu);
    mnemo__free(hashes);
    if (rc) {
        job_free(j);
        return rc;
    }
    *job = j;
    return MNEMO_OK;
}

/* Sequences delivered that `seen` does not have yet (marked there when mark). */
static size_t newly_delivered(const mnemo_batch_job *j, bool *seen, bool mark) {
    size_t n = 0;
    for (size_t i = 0; i < j->n; i++)
        if (j->delivered[i] && !seen[i]) {
            n++;
            if (mark) seen[i] = true;
        }
    return n;
}

/* Ends a job (detached from what it waited for) and frees it; locked. */
static int finish_job(mnemo_batcher *b, mnemo_batch_job *j, int rc, mnemo_batch_timing *timing,
                      mnemo_error *err) {
    for (size_t i = 0; i < j->n; i++) detach(b, j, i);
    if (rc == MNEMO_OK && j->rc) {
        rc = j->rc;
        if (err) *err = j->err;
    }
    if (timing) {
        timing->started = j->started;
        timing->queue = j->started ? j->first_start - j->submitted : mnemo__now() - j->submitted;
        timing->inference =
            j->started && j->last_done > j->first_start ? j->last_done - j->first_start : 0;
    }
    b->waiting_jobs--;
    return rc;
}

int mnemo__batcher_wait_some(mnemo_batcher *b, mnemo_batch_job *j, int (*gone)(void *), void *arg,
                             bool *seen, size_t *n_new, bool *finished, mnemo_batch_timing *timing,
                             mnemo_error *err) {
    int rc = MNEMO_OK;
    pthread_mutex_lock(&b->mu);
    while (j->remaining > 0 && !(seen && newly_delivered(j, seen, false))) {
        double now = mnemo__now();
        if (now >= j->deadline) {
            rc = mnemo__fail(err, MNEMO_ETIMEDOUT,
                             "not done within the deadline (--timeout): the server is overloaded "
                             "or the request is too large; retry later or send fewer inputs");
            break;
        }
        struct timespec ts;
        abs_time(now + POLL_SECONDS < j->deadline ? now + POLL_SECONDS : j->deadline, &ts);
        pthread_cond_timedwait(&j->cond, &b->mu, &ts);
        if (j->remaining > 0 && gone && !(seen && newly_delivered(j, seen, false))) {
            pthread_mutex_unlock(&b->mu);
            int g = gone(arg);
            pthread_mutex_lock(&b->mu);
            if (g && j->remaining > 0) {
                rc = mnemo__fail(err, MNEMO_ECANCELED, "the client closed the connection");
                break;
            }
        }
    }
    if (n_new) *n_new = seen ? newly_delivered(j, seen, true) : 0;
    bool done = j->remaining == 0 || rc != MNEMO_OK;
    if (done) rc = finish_job(b, j, rc, timing, err);
    pthread_mutex_unlock(&b->mu);
    if (done) job_free(j);
    if (finished) *finished = done;
    return rc;
}

int mnemo__batcher_wait(mnemo_batcher *b, mnemo_batch_job *j, int (*gone)(void *), void *arg,
                        mnemo_batch_timing *timing, mnemo_error *err) {
    return mnemo__batcher_wait_some(b, j, gone, arg, NULL, NULL, NULL, timing, err);
}

void mnemo__batcher_cancel(mnemo_batcher *b, mnemo_batch_job *j) {
    if (!j) return;
    pthread_mutex_lock(&b->mu);
    finish_job(b, j, MNEMO_ECANCELED, NULL, NULL);
    pthread_mutex_unlock(&b->mu);
    job_free(j);
}

void mnemo__batcher_stats(mnemo_batcher *b, mnemo_batcher_stats *out) {
    pthread_mutex_lock(&b->mu);
    out->queued_seqs = b->queued_seqs;
    out->queued_tokens = b->queued_tokens;
    out->waiting_jobs = b->waiting_jobs;
    out->tokens_per_second = b->rate;
    pthread_mutex_unlock(&b->mu);
}

int mnemo__batcher_retry_after(mnemo_batcher *b) {
    mnemo_batcher_stats s;
    mnemo__batcher_stats(b, &s);
    double secs = s.tokens_per_second > 0 ? (double)s.queued_tokens / s.tokens_per_second : 1;
    return secs < 1 ? 1 : secs > 60 ? 60 : (int)secs + 1;
}
