/* The single writer thread: group commit.
 *
 * Request handlers validate first, then hand a job to the writer and suspend their connection. The
 * writer takes everything queued, applies each job inside one transaction (each under its own
 * savepoint, so one job's failure does not undo another's), commits once, and only then reports every
 * job's result through its done callback. One fsync then covers a whole batch, which is what makes
 * synchronous=FULL affordable. */
#ifndef SURVEYD_WRITER_H
#define SURVEYD_WRITER_H

#include <stdbool.h>
#include <stddef.h>

#include "store.h"

struct writer_job;

/* Runs inside the batch transaction, on the writer's connection. Returns the job's status; anything
 * but STORE_OK rolls back this job's changes alone. */
typedef enum store_status (*writer_apply_fn)(struct store_conn *conn, struct writer_job *job);

/* Called on the writer thread once the batch's fate is known (committed or not). */
typedef void (*writer_done_fn)(struct writer_job *job);

/* Optional: called on the writer thread right after a commit that kept this job's changes. */
typedef void (*writer_committed_fn)(struct writer_job *job);

struct writer_job {
    writer_apply_fn apply;
    writer_done_fn done;
    writer_committed_fn committed;
    void *context;              /* the submitter's, e.g. the request to resume */
    enum store_status status;   /* set by the writer before done() */
    struct writer_job *next;    /* queue link, owned by the writer */
};

#define WRITER_BATCH_BUCKETS 12
#define WRITER_COMMIT_BUCKETS 10

extern const double writer_batch_bounds[WRITER_BATCH_BUCKETS];   /* jobs per batch (le) */
extern const double writer_commit_bounds[WRITER_COMMIT_BUCKETS]; /* seconds (le) */

struct writer_stats {
    unsigned long long batches, jobs, failed_commits;
    size_t queue_depth;
    unsigned long long batch_buckets[WRITER_BATCH_BUCKETS];    /* cumulative */
    unsigned long long commit_buckets[WRITER_COMMIT_BUCKETS];  /* cumulative */
    double commit_seconds;      /* sum */
};

struct writer;

/* max_queue bounds the jobs waiting at once; writer_submit refuses past it. */
struct writer *writer_start(struct store *store, size_t max_queue);

/* Queues a job. False when the queue is full or the writer is stopping: the caller answers 503. */
bool writer_submit(struct writer *writer, struct writer_job *job);

/* True while the thread runs and its last commit did not fail. */
bool writer_healthy(struct writer *writer);

void writer_get_stats(struct writer *writer, struct writer_stats *out);

/* Finishes every queued job, then stops the thread and frees the writer. */
void writer_stop(struct writer *writer);

#endif
