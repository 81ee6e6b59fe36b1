#include "topic_backfill.h"

#include <pthread.h>
#include <stdlib.h>

#include "log.h"

#define DEFAULT_BATCH 500
#define MAX_BATCH 1000000

struct topic_backfill {
    struct writer_job job;      /* first: the writer hands this pointer back */
    struct app *app;
    int64_t batch;
    char survey[SURVEY_ID_MAX + 1]; /* the last batch's topic's survey ("" when none ran) */
    bool more;                  /* set by the last batch */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool job_done, pending, stopping;
};

static enum store_status apply_batch(struct store_conn *conn, struct writer_job *job)
{
    struct topic_backfill *b = (struct topic_backfill *)job;
    return store_topic_backfill(conn, b->batch, b->survey, &b->more);
}

/* The survey's cached metrics (topic=, group_by=topic and its "complete") must not outlive the
 * tags and the progress they counted. */
static void batch_committed(struct writer_job *job)
{
    struct topic_backfill *b = (struct topic_backfill *)job;
    if (b->survey[0] != '\0')
        versions_bump(b->app->versions, b->survey);
}

static void batch_done(struct writer_job *job)
{
    struct topic_backfill *b = (struct topic_backfill *)job;
    pthread_mutex_lock(&b->lock);
    b->job_done = true;
    pthread_cond_broadcast(&b->wake);
    pthread_mutex_unlock(&b->lock);
}

/* Runs one batch through the writer and waits for its result. */
static bool run_batch(struct topic_backfill *b)
{
    b->job_done = false;
    b->more = false;
    if (!writer_submit(b->app->writer, &b->job))
        return false;
    pthread_mutex_lock(&b->lock);
    while (!b->job_done)
        pthread_cond_wait(&b->wake, &b->lock);
    pthread_mutex_unlock(&b->lock);
    return b->job.status == STORE_OK;
}

static void *backfill_main(void *arg)
{
    struct topic_backfill *b = arg;
    pthread_setname_np(pthread_self(), "topic-backfill");
    for (;;) {
        pthread_mutex_lock(&b->lock);
        while (!b->pending && !b->stopping)
            pthread_cond_wait(&b->wake, &b->lock);
        bool stop = b->stopping;
        b->pending = false;
        pthread_mutex_unlock(&b->lock);
        if (stop)
            return NULL;
        bool ok = true;
        while (!b->stopping && (ok = run_batch(b)) && b->more)
            continue;
        /* A failed batch (a full disk, a full queue) is left for the next wake or restart: the
         * cursor is where the last committed batch left it. */
        if (!ok)
            log_warn("topics: a back-fill batch failed; it resumes at the next topic change or restart");
    }
}

static int64_t batch_size(void)
{
    const char *env = getenv("SURVEYD_TOPIC_BACKFILL_BATCH");
    if (env == NULL || *env == '\0')
        return DEFAULT_BATCH;
    char *end;
    long long n = strtoll(env, &end, 10);
    if (*end != '\0' || n < 1 || n > MAX_BATCH) {
        log_warn("topics: SURVEYD_TOPIC_BACKFILL_BATCH=%s is not 1..%d; using %d", env, MAX_BATCH, DEFAULT_BATCH);
        return DEFAULT_BATCH;
    }
    return n;
}

struct topic_backfill *topic_backfill_start(struct app *app)
{
    if (!store_topics_backfill_later(app->store))
        return NULL;
    struct topic_backfill *b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    b->app = app;
    b->batch = batch_size();
    b->job.apply = apply_batch;
    b->job.committed = batch_committed;
    b->job.done = batch_done;
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->wake, NULL);
    /* A first batch here, before HTTP starts: it resumes whatever a previous run left, and what it
     * allocates and keeps (its prepared statements) is in place before the first request, whether
     * or not a back-fill was left. The thread carries on when there is more. */
    b->pending = !run_batch(b) || b->more;
    if (pthread_create(&b->thread, NULL, backfill_main, b) != 0) {
        pthread_cond_destroy(&b->wake);
        pthread_mutex_destroy(&b->lock);
        free(b);
        return NULL;
    }
    return b;
}

void topic_backfill_wake(struct topic_backfill *b)
{
    if (b == NULL)
        return;
    pthread_mutex_lock(&b->lock);
    b->pending = true;
    pthread_cond_broadcast(&b->wake);
    pthread_mutex_unlock(&b->lock);
}

void topic_backfill_stop(struct topic_backfill *b)
{
    if (b == NULL)
        return;
    pthread_mutex_lock(&b->lock);
    b->stopping = true;
    pthread_cond_broadcast(&b->wake);
    pthread_mutex_unlock(&b->lock);
    pthread_join(b->thread, NULL);
    pthread_cond_destroy(&b->wake);
    pthread_mutex_destroy(&b->lock);
    free(b);
}
