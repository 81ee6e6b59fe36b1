#include "retention.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "timefmt.h"

#define BATCH 5000              /* per transaction: ingest waits behind one batch at most */
#define INTERVAL_S 3600
#define MS_PER_DAY INT64_C(86400000)

struct retention {
    struct writer_job job;      /* first: the writer hands this pointer back */
    struct app *app;
    unsigned days;
    int64_t cutoff_ms;
    int64_t deleted;            /* by the last batch */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool job_done, stopping;
};

static enum store_status apply_batch(struct store_conn *conn, struct writer_job *job)
{
    struct retention *r = (struct retention *)job;
    versions_bump_all(r->app->versions);
    return store_delete_before(conn, r->cutoff_ms, BATCH, &r->deleted);
}

static void batch_committed(struct writer_job *job)
{
    versions_bump_all(((struct retention *)job)->app->versions);
}

static void batch_done(struct writer_job *job)
{
    struct retention *r = (struct retention *)job;
    pthread_mutex_lock(&r->lock);
    r->job_done = true;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
}

/* Runs one batch through the writer and waits for its result. */
static bool run_batch(struct retention *r)
{
    r->job_done = false;
    r->deleted = 0;
    if (!writer_submit(r->app->writer, &r->job))
        return false;
    pthread_mutex_lock(&r->lock);
    while (!r->job_done)
        pthread_cond_wait(&r->wake, &r->lock);
    pthread_mutex_unlock(&r->lock);
    return r->job.status == STORE_OK;
}

static void sweep(struct retention *r)
{
    int64_t total = 0;
    r->cutoff_ms = timefmt_now_ms() - (int64_t)r->days * MS_PER_DAY;
    while (!r->stopping && run_batch(r)) {
        total += r->deleted;
        /* deleted counts up to BATCH responses plus up to BATCH invitations: fewer than BATCH in
         * all means neither had more old rows. */
        if (r->deleted < BATCH)
            break;
    }
    if (r->job.status != STORE_OK)
        log_warn("retention: a batch failed; the next sweep retries");
    if (total > 0)
        log_info("retention: deleted %lld responses and invitations older than %u days", (long long)total, r->days);
}

static void *retention_main(void *arg)
{
    struct retention *r = arg;
    pthread_setname_np(pthread_self(), "retention");
    for (;;) {
        sweep(r);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += INTERVAL_S;
        pthread_mutex_lock(&r->lock);
        int rc = 0;
        while (!r->stopping && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&r->wake, &r->lock, &until);
        bool stop = r->stopping;
        pthread_mutex_unlock(&r->lock);
        if (stop)
            return NULL;
    }
}

struct retention *retention_start(struct app *app, unsigned days)
{
    if (days == 0)
        return NULL;
    struct retention *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->app = app;
    r->days = days;
    r->job.apply = apply_batch;
    r->job.committed = batch_committed;
    r->job.done = batch_done;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->wake, NULL);
    if (pthread_create(&r->thread, NULL, retention_main, r) != 0) {
        pthread_cond_destroy(&r->wake);
        pthread_mutex_destroy(&r->lock);
        free(r);
        return NULL;
    }
    log_info("retention: responses older than %u days are deleted at start and hourly", days);
    return r;
}

void retention_stop(struct retention *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    r->stopping = true;
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
