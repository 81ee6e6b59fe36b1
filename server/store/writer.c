#include "writer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "timefmt.h"

const double writer_batch_bounds[WRITER_BATCH_BUCKETS] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096};
const double writer_commit_bounds[WRITER_COMMIT_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                            0.025,  0.05,  0.1,    0.25,  1};

struct writer {
    struct store *store;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct writer_job *head, *tail;     /* FIFO, guarded by lock */
    size_t queued, max_queue;
    bool stopping;
    atomic_bool healthy;
    struct writer_stats stats;          /* guarded by lock */
};

/* How often a job that another instance's transaction got in the way of (STORE_RETRY: a deadlock
 * or serialization failure on PostgreSQL) is run again before it fails. */
#define WRITER_JOB_TRIES 3

/* Applies every job of a batch under its own savepoint. A job that fails rolls back alone; one that
 * must be retried rolls back to its savepoint (its rollup changes with it, so nothing is counted
 * twice) and runs again. */
static void apply_batch(struct store_conn *conn, struct writer_job *batch)
{
    for (struct writer_job *job = batch; job; job = job->next) {
        for (int attempt = 0; attempt < WRITER_JOB_TRIES; attempt++) {
            job->status = store_savepoint(conn);
            if (job->status != STORE_OK)
                break;
            job->status = job->apply(conn, job);
            if (job->status == STORE_OK) {
                store_release(conn);
                break;
            }
            store_rollback_to(conn);
            if (job->status != STORE_RETRY)
                break;
            log_warn("writer: a job met another writer's transaction; trying it again");
        }
    }
}

/* Sets every job that would have been committed to `status`: their changes are gone. */
static void fail_batch(struct writer_job *batch, enum store_status status)
{
    for (struct writer_job *job = batch; job; job = job->next) {
        if (job->status == STORE_OK)
            job->status = status;
    }
}

static bool commit_batch(struct writer *writer, struct writer_job *batch)
{
    struct store_conn *conn = store_writer(writer->store);
    enum store_status status = store_begin(conn);

    if (status != STORE_OK) {
        for (struct writer_job *job = batch; job; job = job->next)
            job->status = status;
        return false;
    }
    apply_batch(conn, batch);
    status = store_commit(conn);
    if (status != STORE_OK) {
        log_error("writer: commit failed: %s", store_last_error(conn));
        store_rollback(conn);
        fail_batch(batch, status == STORE_CONFLICT ? STORE_ERROR : status);
        return false;
    }
    return true;
}

static void *writer_main(void *arg)
{
    struct writer *writer = arg;

    /* Named so that perf, top -H and /proc/PID/task/ split the CPU per thread. */
    pthread_setname_np(pthread_self(), "writer");
    for (;;) {
        pthread_mutex_lock(&writer->lock);
        while (writer->head == NULL && !writer->stopping) {
            if (atomic_load(&writer->healthy)) {
                pthread_cond_wait(&writer->wake, &writer->lock);
                continue;
            }
            /* After a failed commit (disk full, I/O error), probe once a second so readiness comes
             * back by itself when space is freed, even if no traffic arrives meanwhile. */
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            if (pthread_cond_timedwait(&writer->wake, &writer->lock, &until) != 0 && writer->head == NULL) {
                pthread_mutex_unlock(&writer->lock);
                bool recovered = store_probe_write(store_writer(writer->store), timefmt_now_ms()) == STORE_OK;
                atomic_store(&writer->healthy, recovered);
                if (recovered)
                    log_info("writer: the database takes writes again");
                pthread_mutex_lock(&writer->lock);
            }
        }
        struct writer_job *batch = writer->head;
        size_t count = writer->queued;
        writer->head = writer->tail = NULL;
        writer->queued = 0;
        pthread_mutex_unlock(&writer->lock);

        if (batch == NULL)
            break; /* stopping, and nothing left */

        int64_t started = timefmt_monotonic_ns();
        bool committed = commit_batch(writer, batch);
        double seconds = (double)(timefmt_monotonic_ns() - started) / 1e9;
        /* A job can hit a full disk before the commit does (a cache spill): healthy means every
         * write of the batch could be stored. */
        bool healthy = committed;
        for (struct writer_job *job = batch; job; job = job->next)
            healthy &= job->status != STORE_UNAVAILABLE && job->status != STORE_UNKNOWN;
        atomic_store(&writer->healthy, healthy);

        pthread_mutex_lock(&writer->lock);
        writer->stats.batches++;
        writer->stats.jobs += count;
        writer->stats.failed_commits += !committed;
        writer->stats.commit_seconds += seconds;
        for (int b = 0; b < WRITER_BATCH_BUCKETS; b++)
            writer->stats.batch_buckets[b] += (double)count <= writer_batch_bounds[b];
        for (int b = 0; b < WRITER_COMMIT_BUCKETS; b++)
            writer->stats.commit_buckets[b] += seconds <= writer_commit_bounds[b];
        pthread_mutex_unlock(&writer->lock);

        for (struct writer_job *job = batch; committed && job; job = job->next) {
            if (job->status == STORE_OK && job->committed)
                job->committed(job);
        }
        /* done() may free the job (it belongs to a request), so read next first. */
        for (struct writer_job *job = batch, *next; job; job = next) {
            next = job->next;
            job->done(job);
        }
        store_between_batches(store_writer(writer->store));
    }
    return NULL;
}

struct writer *writer_start(struct store *store, size_t max_queue)
{
    struct writer *writer = calloc(1, sizeof *writer);

    if (writer == NULL)
        return NULL;
    writer->store = store;
    writer->max_queue = max_queue;
    atomic_init(&writer->healthy, true);
    pthread_mutex_init(&writer->lock, NULL);
    pthread_cond_init(&writer->wake, NULL);
    if (pthread_create(&writer->thread, NULL, writer_main, writer) != 0) {
        pthread_cond_destroy(&writer->wake);
        pthread_mutex_destroy(&writer->lock);
        free(writer);
        return NULL;
    }
    return writer;
}

bool writer_submit(struct writer *writer, struct writer_job *job)
{
    bool accepted = false;

    job->next = NULL;
    pthread_mutex_lock(&writer->lock);
    if (!writer->stopping && writer->queued < writer->max_queue) {
        if (writer->tail)
            writer->tail->next = job;
        else
            writer->head = job;
        writer->tail = job;
        writer->queued++;
        accepted = true;
        pthread_cond_signal(&writer->wake);
    }
    pthread_mutex_unlock(&writer->lock);
    return accepted;
}

bool writer_healthy(struct writer *writer)
{
    return atomic_load(&writer->healthy);
}

void writer_get_stats(struct writer *writer, struct writer_stats *out)
{
    pthread_mutex_lock(&writer->lock);
    *out = writer->stats;
    out->queue_depth = writer->queued;
    pthread_mutex_unlock(&writer->lock);
}

void writer_stop(struct writer *writer)
{
    if (writer == NULL)
        return;
    pthread_mutex_lock(&writer->lock);
    writer->stopping = true;
    pthread_cond_signal(&writer->wake);
    pthread_mutex_unlock(&writer->lock);
    pthread_join(writer->thread, NULL);
    pthread_cond_destroy(&writer->wake);
    pthread_mutex_destroy(&writer->lock);
    free(writer);
}
