/* The event log's consumer (webhook_sender.h): one thread, libcurl's multi interface.
 *
 * Each turn of the loop: count the backlog (a reader connection: list the subscriptions, each
 * one's open deliveries and the logged events after its cursor), trim what is past the cap, then,
 * for each subscription with a free slot, prepare the next events into deliveries and claim due
 * deliveries in one writer job (up to `concurrency` in flight per subscription), start an easy
 * handle per claim, let curl run until something finishes, the next poll is due or a commit wakes
 * us, and record the outcomes through the writer. Every write waits for its job's result: the
 * thread is the only one to touch its lists, so nothing here is shared but the statistics (under
 * `lock`) and the wake flag.
 *
 * Preparing only as many events as there are free slots is what keeps a slow receiver off the
 * ingest path: while it holds every slot, nothing is prepared for it, no writer job runs for it,
 * and its events wait in the log (counted in its backlog, trimmed at the cap).
 *
 * At-least-once: an outcome the writer could not take (queue full, a failed commit) is kept and
 * recorded on a later turn; one never recorded (the process died) leaves the delivery SENDING
 * until its lease ends (or, on SQLite, until the next start requeues it), and it is sent again
 * under the same webhook-id. */
#include "webhook_sender.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "ids.h"
#include "log.h"
#include "net_address.h"
#include "timefmt.h"
#include "webhook_sign.h"

#ifndef SURVEYD_VERSION
#define SURVEYD_VERSION "unknown"
#endif

#define POLL_MS 1000                /* the backlog is counted (and trimmed) this often */
#define WAKE_MIN_MS 50              /* commits make a claim at most this often */
#define OUTCOME_RETRY_MS 100        /* after the writer refused a batch of outcomes */
#define MAX_BACKOFF_MS INT64_C(3600000)
#define MS_PER_DAY INT64_C(86400000)
#define PRUNE_EVERY_MS INT64_C(600000)
#define PRUNE_BATCH 1000            /* rows per transaction: ingest waits behind one batch at most */
#define PRUNE_BATCHES 20            /* per round; the next round goes on */
#define DROP_LOG_MS INT64_C(60000)
#define PREPARE_CALLS 4             /* prepare calls (pages of the log) per subscription and job */
#define STOP_RECORD_TRIES 50        /* x OUTCOME_RETRY_MS: how long a stop waits for a full writer */

const double webhook_latency_bounds[WEBHOOK_LATENCY_BUCKETS] = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 600, 3600};

/* The thread's copy of a subscription, refreshed every poll. */
struct subscription {
    char id[STORE_WEBHOOK_ID_MAX + 1];
    char *url, *secret, *old_secret;
    int64_t old_secret_until;
    bool enabled;
    int64_t cursor;                 /* as last counted */
    int64_t depth;                  /* open deliveries (pending + sending), as last counted */
    int64_t waiting;                /* logged events after the cursor, as last counted */
    bool events;                    /* events may wait to be prepared: counted, or a commit woke us */
    int64_t last_drop_log;
    unsigned in_flight;             /* this process's attempts */
};

/* A finished attempt waiting to be recorded. */
struct outcome {
    struct outcome *next;
    char id[32];
    char webhook[STORE_WEBHOOK_ID_MAX + 1];
    enum store_delivery_state state;
    int last_status;
    char *last_error;
    int64_t attempted_at, next_attempt_at, delivered_at;
    int64_t created_at;             /* of the event: the latency */
    bool gone;                      /* 410: disable the subscription */
};

/* A claimed delivery being posted. */
struct attempt {
    struct attempt *next;
    struct webhook_sender *sender;
    CURL *easy;
    struct curl_slist *headers;
    struct store_delivery_row row;
    int64_t started_at;
    bool refused;                   /* the open-socket check refused the address */
    enum net_address_class refused_class;
    char error[CURL_ERROR_SIZE];
};

struct webhook_sender {
    struct store *store;
    struct writer *writer;
    struct webhook_sender_options options;
    CURLM *multi;
    pthread_t thread;
    bool thread_started;
    bool ready;                     /* the first turn is done (under lock) */
    atomic_bool woken, stopping;
    atomic_bool saw_subscriptions;  /* the last count listed at least one */
    atomic_bool wants_wakes;        /* some enabled subscription has a free slot */

    pthread_mutex_t lock;           /* guards: subs (writes; the thread reads without it), stats,
                                     * job completion flags */
    pthread_cond_t job_done;
    struct subscription *subs;
    size_t nsubs;
    struct webhook_stats stats;

    /* the thread's own */
    struct attempt *attempts;
    struct outcome *outcomes, **outcomes_tail;
    bool woken_pending;             /* a commit woke us: claim soon */
    bool slot_freed;                /* an attempt finished: claim again now */
    int64_t last_claim, next_refresh, next_prune, next_outcome_try;
    int64_t next_due;               /* the earliest retry this process scheduled; INT64_MAX: none */
    uint64_t rng;
};

/* ---- small helpers ---- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* xorshift64*: jitter needs no secrecy, only spread. */
static double jitter(struct webhook_sender *s)
{
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    uint64_t r = s->rng * UINT64_C(2685821657736338717);
    return 0.5 + (double)(r >> 11) / 9007199254740992.0; /* [0.5, 1.5) */
}

/* min(base * 2^(attempts-1), 1 h), times a jitter in [0.5, 1.5): receivers that failed together
 * are not all retried in the same second. */
static int64_t backoff_ms(struct webhook_sender *s, int64_t attempts)
{
    int64_t delay = s->options.retry_base_ms;
    for (int64_t i = 1; i < attempts && delay < MAX_BACKOFF_MS; i++)
        delay *= 2;
    if (delay > MAX_BACKOFF_MS)
        delay = MAX_BACKOFF_MS;
    return (int64_t)((double)delay * jitter(s));
}

static struct subscription *find_sub(struct webhook_sender *s, const char *id)
{
    for (size_t i = 0; i < s->nsubs; i++) {
        if (strcmp(s->subs[i].id, id) == 0)
            return &s->subs[i];
    }
    return NULL;
}

static void free_subs(struct subscription *subs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(subs[i].url);
        free(subs[i].secret);
        free(subs[i].old_secret);
    }
    free(subs);
}

static bool copy_delivery(const struct store_delivery_row *from, struct store_delivery_row *to)
{
    *to = *from;
    to->type = dup_or_null(from->type);
    to->survey = dup_or_null(from->survey);
    to->subject = dup_or_null(from->subject);
    to->customer = dup_or_null(from->customer);
    to->payload = dup_or_null(from->payload);
    to->last_error = dup_or_null(from->last_error);
    bool ok = (!from->type || to->type) && (!from->survey || to->survey) && (!from->subject || to->subject) &&
              (!from->customer || to->customer) && (!from->payload || to->payload) &&
              (!from->last_error || to->last_error);
    if (!ok)
        store_delivery_row_free(to);
    return ok;
}

/* ---- writer jobs, each waited for ---- */

struct sender_job {
    struct writer_job job;          /* first: the writer hands this pointer back */
    struct webhook_sender *sender;
    bool done;
};

static void sender_job_done(struct writer_job *job)
{
    struct sender_job *j = (struct sender_job *)job;
    pthread_mutex_lock(&j->sender->lock);
    j->done = true;
    pthread_cond_broadcast(&j->sender->job_done);
    pthread_mutex_unlock(&j->sender->lock);
}

/* Runs a job through the writer and waits for its fate. False when the writer refused it (queue
 * full, stopping) or its transaction failed. */
static bool run_job(struct webhook_sender *s, struct sender_job *j, writer_apply_fn apply)
{
    j->job = (struct writer_job){.apply = apply, .done = sender_job_done, .context = j};
    j->sender = s;
    j->done = false;
    if (!writer_submit(s->writer, &j->job))
        return false;
    pthread_mutex_lock(&s->lock);
    while (!j->done)
        pthread_cond_wait(&s->job_done, &s->lock);
    pthread_mutex_unlock(&s->lock);
    return j->job.status == STORE_OK;
}

struct requeue_job {
    struct sender_job base;
    int64_t now, requeued;
};

static enum store_status apply_requeue(struct store_conn *conn, struct writer_job *job)
{
    struct requeue_job *j = (struct requeue_job *)job;
    return store_requeue_sending(conn, j->now, &j->requeued);
}

struct prune_job {
    struct sender_job base;
    int64_t cutoff, deleted;
};

static enum store_status apply_prune(struct store_conn *conn, struct writer_job *job)
{
    struct prune_job *j = (struct prune_job *)job;
    return store_prune_deliveries(conn, j->cutoff, PRUNE_BATCH, &j->deleted);
}

/* Events every cursor has passed are of no more use to anyone. */
static enum store_status apply_prune_events(struct store_conn *conn, struct writer_job *job)
{
    struct prune_job *j = (struct prune_job *)job;
    return store_prune_events(conn, PRUNE_BATCH, &j->deleted);
}

/* ---- the cap ---- */

struct trim_want {
    char webhook[STORE_WEBHOOK_ID_MAX + 1];
    int64_t skipped;
};

struct trim_job {
    struct sender_job base;
    struct trim_want *wants;
    size_t n;
    int64_t keep;
};

static enum store_status apply_trim(struct store_conn *conn, struct writer_job *job)
{
    struct trim_job *j = (struct trim_job *)job;
    for (size_t i = 0; i < j->n; i++) {
        j->wants[i].skipped = 0;
        enum store_status st = store_trim_webhook_backlog(conn, j->wants[i].webhook, j->keep, &j->wants[i].skipped);
        if (st != STORE_OK && st != STORE_NOT_FOUND)
            return st;
    }
    return STORE_OK;
}

/* Counts (and logs, at most once a minute per subscription) events passed over at the cap. */
static void count_dropped(struct webhook_sender *s, struct subscription *sub, int64_t dropped)
{
    int64_t now = timefmt_now_ms();
    pthread_mutex_lock(&s->lock);
    s->stats.dropped += (unsigned long long)dropped;
    pthread_mutex_unlock(&s->lock);
    if (now - sub->last_drop_log < DROP_LOG_MS)
        return;
    sub->last_drop_log = now;
    log_warn("webhooks: %s: backlog past its cap (--webhook-queue-max %lld events): the oldest %lld were dropped",
             sub->id, (long long)s->options.queue_max, (long long)dropped);
}

/* The cap (--webhook-queue-max), kept where the events wait: in the log, after each cursor. The
 * oldest go (the newest tell the receiver more about now); ingest never checks it. Only the
 * subscriptions the count found past it cost a writer job. */
static void trim(struct webhook_sender *s)
{
    struct trim_job j = {.keep = s->options.queue_max};
    j.wants = calloc(s->nsubs ? s->nsubs : 1, sizeof *j.wants);
    if (j.wants == NULL)
        return;
    for (size_t i = 0; i < s->nsubs; i++) {
        if (s->subs[i].waiting > s->options.queue_max)
            snprintf(j.wants[j.n++].webhook, sizeof j.wants[0].webhook, "%s", s->subs[i].id);
    }
    if (j.n > 0 && run_job(s, &j.base, apply_trim)) {
        for (size_t i = 0; i < j.n; i++) {
            struct subscription *sub = find_sub(s, j.wants[i].webhook);
            if (sub && j.wants[i].skipped > 0) {
                count_dropped(s, sub, j.wants[i].skipped);
                sub->waiting -= j.wants[i].skipped;
                pthread_mutex_lock(&s->lock);
                s->stats.queue_depth -= j.wants[i].skipped;
                pthread_mutex_unlock(&s->lock);
            }
        }
    }
    free(j.wants);
}

/* ---- counting the backlog ---- */

struct listing {
    struct subscription *subs;
    size_t n, cap;
    bool failed;
};

static void list_one(const struct store_webhook_row *row, void *arg)
{
    struct listing *l = arg;
    if (l->failed)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        struct subscription *grown = realloc(l->subs, cap * sizeof *grown);
        if (grown == NULL) {
            l->failed = true;
            return;
        }
        l->subs = grown;
        l->cap = cap;
    }
    struct subscription *sub = &l->subs[l->n];
    memset(sub, 0, sizeof *sub);
    snprintf(sub->id, sizeof sub->id, "%s", row->id);
    sub->url = dup_or_null(row->url);
    sub->secret = dup_or_null(row->secret);
    sub->old_secret = dup_or_null(row->old_secret);
    sub->old_secret_until = row->old_secret_until;
    sub->enabled = row->disabled_at == 0;
    sub->cursor = row->cursor;
    l->n++;
    if (!sub->url || !sub->secret || (row->old_secret && !sub->old_secret))
        l->failed = true;
}

/* Lists the subscriptions and their backlogs (open deliveries, and events after the cursor: an
 * upper bound, not all of them will match), and swaps them in, keeping what the thread counts
 * itself (attempts in flight) and the drop log's clock. */
static void refresh(struct webhook_sender *s)
{
    struct store_conn *conn = store_reader(s->store);
    struct listing l = {0};
    int64_t total = 0, oldest;
    enum store_status st = conn ? store_list_webhooks(conn, list_one, &l) : STORE_UNAVAILABLE;

    for (size_t i = 0; st == STORE_OK && !l.failed && i < l.n; i++) {
        struct subscription *sub = &l.subs[i];
        st = store_delivery_backlog(conn, sub->id, &sub->depth, &oldest);
        if (st == STORE_OK)
            st = store_count_events(conn, sub->cursor, &sub->waiting, &oldest);
        sub->events = sub->waiting > 0;
        total += sub->depth + sub->waiting;
    }
    if (st != STORE_OK || l.failed) {
        log_warn("webhooks: cannot count the backlog (%s); trying again at the next poll",
                 l.failed ? "out of memory" : conn ? store_last_error(conn) : "no connection");
        free_subs(l.subs, l.n);
        return;
    }
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < l.n; i++) {
        struct subscription *old = find_sub(s, l.subs[i].id);
        if (old) {
            l.subs[i].in_flight = old->in_flight;
            l.subs[i].last_drop_log = old->last_drop_log;
        }
    }
    struct subscription *old_subs = s->subs;
    size_t old_n = s->nsubs;
    s->subs = l.subs;
    s->nsubs = l.n;
    s->stats.queue_depth = total;
    pthread_mutex_unlock(&s->lock);
    atomic_store(&s->saw_subscriptions, l.n > 0);
    free_subs(old_subs, old_n);
}

/* Reads one subscription again, after a claim: a PUT, a rotation or an aged overlap committed since
 * the last count must decide where and how this claim's deliveries are sent, not a copy up to a
 * poll old. False when it is gone or disabled meanwhile (its claims are then handed back). */
static bool reread(struct webhook_sender *s, struct subscription *sub)
{
    struct store_conn *conn = store_reader(s->store);
    struct store_webhook_row row;
    memset(&row, 0, sizeof row);
    enum store_status st = conn ? store_get_webhook(conn, sub->id, &row) : STORE_UNAVAILABLE;
    if (st != STORE_OK)
        return st != STORE_NOT_FOUND; /* a failed read: the copy is the best there is */
    char *url = dup_or_null(row.url), *secret = dup_or_null(row.secret), *old = dup_or_null(row.old_secret);
    if (url && secret && (old || !row.old_secret)) {
        pthread_mutex_lock(&s->lock);
        free(sub->url);
        free(sub->secret);
        free(sub->old_secret);
        sub->url = url;
        sub->secret = secret;
        sub->old_secret = old;
        sub->old_secret_until = row.old_secret_until;
        sub->enabled = row.disabled_at == 0;
        pthread_mutex_unlock(&s->lock);
    } else {
        free(url);
        free(secret);
        free(old);
    }
    store_webhook_row_free(&row);
    return sub->enabled;
}

/* ---- starting attempts ---- */

static size_t discard_body(char *data, size_t size, size_t count, void *arg)
{
    (void)data;
    (void)arg;
    return size * count;
}

/* The address check at connect time: what a name resolves to now may not be what it resolved to
 * when the subscription was saved (DNS rebinding), so the very address curl is about to connect
 * to is checked. */
static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *address)
{
    struct attempt *a = arg;
    (void)purpose;
    if (!net_address_allowed(&address->addr, a->sender->options.allow_private)) {
        a->refused = true;
        a->refused_class = net_address_classify(&address->addr);
        return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

/* "name: value"; an empty value with no space ("Expect:") removes a header curl would add. */
static bool add_header(struct curl_slist **list, const char *name, const char *value)
{
    char line[WEBHOOK_SECRET_MAX * 2 + 128];
    snprintf(line, sizeof line, "%s:%s%s", name, *value ? " " : "", value);
    struct curl_slist *grown = curl_slist_append(*list, line);
    if (grown == NULL)
        return false;
    *list = grown;
    return true;
}

static bool build_headers(struct attempt *a, const struct subscription *sub, int64_t now)
{
    char signature[2 * 64], stamp[24];
    const char *old = sub->old_secret && sub->old_secret_until > now ? sub->old_secret : NULL;
    size_t len = a->row.payload ? strlen(a->row.payload) : 0;

    snprintf(stamp, sizeof stamp, "%" PRId64, now / 1000);
    if (!webhook_sign(sub->secret, old, a->row.event_id, now / 1000, a->row.payload, len, signature, sizeof signature))
        return false;
    /* "Expect:" empty: no 100-continue round trip before a large body. */
    return add_header(&a->headers, "content-type", "application/json") &&
           add_header(&a->headers, "user-agent", "surveyd-webhooks/" SURVEYD_VERSION) &&
           add_header(&a->headers, "webhook-id", a->row.event_id) &&
           add_header(&a->headers, "webhook-timestamp", stamp) &&
           add_header(&a->headers, "webhook-signature", signature) && add_header(&a->headers, "Expect", "");
}

static bool configure_easy(struct attempt *a, const struct subscription *sub)
{
    CURL *e = a->easy;
    size_t len = a->row.payload ? strlen(a->row.payload) : 0;
    return curl_easy_setopt(e, CURLOPT_URL, sub->url) == CURLE_OK &&
           curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
           curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
           curl_easy_setopt(e, CURLOPT_PROXY, "") == CURLE_OK &&
           curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
           curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)WEBHOOK_TIMEOUT_MS) == CURLE_OK &&
           curl_easy_setopt(e, CURLOPT_POST, 1L) == CURLE_OK &&
           curl_easy_setopt(e, CURLOPT_POSTFIELDS, a->row.payload ? a->row.payload : "") == CURLE_OK &&
           curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len) == CURLE_OK &&
           curl_easy_setopt(e, CURLOPT_HTTPHEADER, a->headers) == CURLE_OK &&
           curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_body) == CURLE_OK &&
           curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket) == CURLE_OK &&
           curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, a) == CURLE_OK &&
           curl_easy_setopt(e, CURLOPT_ERRORBUFFER, a->error) == CURLE_OK &&
           curl_easy_setopt(e, CURLOPT_PRIVATE, a) == CURLE_OK;
}

static void attempt_free(struct attempt *a)
{
    if (a->easy)
        curl_easy_cleanup(a->easy);
    curl_slist_free_all(a->headers);
    store_delivery_row_free(&a->row);
    free(a);
}

static void queue_outcome(struct webhook_sender *s, struct outcome *o)
{
    o->next = NULL;
    *s->outcomes_tail = o;
    s->outcomes_tail = &o->next;
}

/* What an attempt came to, when it failed: a retry after the backoff, or dead past the window. */
static void fail_outcome(struct webhook_sender *s, struct outcome *o, const struct store_delivery_row *row,
                         int status, const char *error)
{
    int64_t next = o->attempted_at + backoff_ms(s, row->attempts < 1 ? 1 : row->attempts);
    o->last_status = status;
    o->last_error = dup_or_null(error);
    if (next > row->window_start + s->options.retry_window_ms) {
        o->state = STORE_DELIVERY_DEAD;
    } else {
        o->state = STORE_DELIVERY_PENDING;
        o->next_attempt_at = next;
    }
}

static struct outcome *new_outcome(const struct store_delivery_row *row, int64_t now)
{
    struct outcome *o = calloc(1, sizeof *o);
    if (o == NULL)
        return NULL;
    snprintf(o->id, sizeof o->id, "%s", row->id);
    snprintf(o->webhook, sizeof o->webhook, "%s", row->webhook);
    o->attempted_at = now;
    o->created_at = row->created_at;
    return o;
}

/* A claimed delivery that could not even be started (out of memory, a malformed secret) is
 * recorded as a failed attempt, so that it is retried rather than held until its lease ends. */
static void fail_to_start(struct webhook_sender *s, const struct store_delivery_row *row, const char *why)
{
    struct outcome *o = new_outcome(row, timefmt_now_ms());
    if (o == NULL)
        return; /* its lease runs out and it is claimed again */
    fail_outcome(s, o, row, 0, why);
    queue_outcome(s, o);
    log_warn("webhooks: %s: delivery %s not sent: %s", row->webhook, row->id, why);
}

static void start_attempt(struct webhook_sender *s, struct subscription *sub, struct store_delivery_row *row)
{
    int64_t now = timefmt_now_ms();
    struct attempt *a = calloc(1, sizeof *a);
    const char *why = "out of memory";

    if (a == NULL) {
        fail_to_start(s, row, why);
        store_delivery_row_free(row);
        return;
    }
    a->sender = s;
    a->row = *row; /* takes its strings */
    a->started_at = now;
    a->easy = curl_easy_init();
    if (a->easy == NULL)
        goto fail;
    if (!build_headers(a, sub, now)) {
        why = "cannot sign: the subscription's secret is malformed";
        goto fail;
    }
    if (!configure_easy(a, sub) || curl_multi_add_handle(s->multi, a->easy) != CURLM_OK)
        goto fail;
    a->next = s->attempts;
    s->attempts = a;
    sub->in_flight++;
    pthread_mutex_lock(&s->lock);
    s->stats.in_flight++;
    pthread_mutex_unlock(&s->lock);
    return;
fail:
    fail_to_start(s, &a->row, why);
    attempt_free(a);
}

/* ---- claiming ---- */

struct claimed {
    struct claimed *next;
    struct store_delivery_row row;
};

struct claim_want {
    char webhook[STORE_WEBHOOK_ID_MAX + 1];
    int max;                        /* free slots: prepare and claim up to this many */
    bool prepare;                   /* events may wait in the log */
    bool claim;                     /* false for a disabled subscription: prepare only */
    bool more;                      /* after the job: events may still wait */
    int prepared;
};

struct claim_job {
    struct sender_job base;
    struct claim_want *wants;
    size_t n;
    int64_t now;
    struct claimed *rows;           /* what this job's transaction claimed */
    bool out_of_memory;
};

static void claimed_free(struct claimed *c)
{
    while (c) {
        struct claimed *next = c->next;
        store_delivery_row_free(&c->row);
        free(c);
        c = next;
    }
}

static void claim_one(const struct store_delivery_row *row, void *arg)
{
    struct claim_job *j = arg;
    struct claimed *c = calloc(1, sizeof *c);
    if (c == NULL || !copy_delivery(row, &c->row)) {
        free(c);
        j->out_of_memory = true;
        return;
    }
    c->next = j->rows;
    j->rows = c;
}

static void count_event(const struct store_event_row *row, void *arg)
{
    (void)row;
    (*(int64_t *)arg)++;
}

/* Whether events wait after the subscription's cursor (false when another instance prepares for
 * it now: that one goes on, and the next count tells). */
static enum store_status events_left(struct store_conn *conn, const char *webhook, bool *left)
{
    int64_t cursor = 0, n = 0;
    bool locked = false;
    *left = false;
    enum store_status st = store_lock_webhook_cursor(conn, webhook, &cursor, &locked);
    if (st == STORE_NOT_FOUND)
        return STORE_OK;
    if (st != STORE_OK || !locked)
        return st;
    st = store_list_events(conn, cursor, 1, count_event, &n);
    *left = n > 0;
    return st;
}

/* Prepares up to want->max deliveries (a disabled subscription: its events before the pause, with
 * no bound), a page of the log per call, a few pages per job so that one job stays short. */
static enum store_status prepare_for(struct webhook_sender *s, struct store_conn *conn, struct claim_want *want,
                                     int64_t now)
{
    want->more = true;
    want->prepared = 0;
    for (int call = 0; call < PREPARE_CALLS; call++) {
        int room = want->claim ? want->max - want->prepared : INT_MAX;
        int prepared = 0;
        if (room <= 0)
            return STORE_OK;
        enum store_status st = s->options.prepare(conn, want->webhook, room, now, &prepared);
        if (st == STORE_NOT_FOUND) {
            want->more = false; /* deleted meanwhile */
            return STORE_OK;
        }
        if (st != STORE_OK)
            return st;
        want->prepared += prepared;
        if (want->claim && want->prepared >= want->max)
            return STORE_OK;
        /* Fewer than there was room for: the page ended, or the log did. */
        if ((st = events_left(conn, want->webhook, &want->more)) != STORE_OK || !want->more)
            return st;
    }
    return STORE_OK;
}

static enum store_status apply_claim(struct store_conn *conn, struct writer_job *job)
{
    struct claim_job *j = (struct claim_job *)job;
    /* A retried job (another instance's transaction got in the way) starts over. */
    claimed_free(j->rows);
    j->rows = NULL;
    j->out_of_memory = false;
    for (size_t i = 0; i < j->n; i++) {
        struct claim_want *want = &j->wants[i];
        enum store_status st = STORE_OK;
        /* Prepared first, in the same transaction: what it stores is claimed at once. */
        if (want->prepare && j->base.sender->options.prepare)
            st = prepare_for(j->base.sender, conn, want, j->now);
        if (st == STORE_OK && want->claim)
            st = store_claim_deliveries(conn, want->webhook, j->now, j->now + WEBHOOK_LEASE_MS, want->max, claim_one,
                                        j);
        if (st != STORE_OK)
            return st;
    }
    /* A row we could not keep a copy of must not stay claimed by nobody for a whole lease. */
    return j->out_of_memory ? STORE_UNAVAILABLE : STORE_OK;
}

/* Reverses the list: store order (oldest seq first) is the order attempts start in. */
static struct claimed *reverse(struct claimed *c)
{
    struct claimed *out = NULL;
    while (c) {
        struct claimed *next = c->next;
        c->next = out;
        out = c;
        c = next;
    }
    return out;
}

/* Why a claim is made, which says for which subscriptions with a free slot: right after counting,
 * those whose backlog holds more than what this process sends or that have events waiting; after a
 * commit woke us (it logged an event), or when a retry this process scheduled falls due, all of
 * them (counting again first would cost more than the claim); when an attempt ended, those that
 * had anything at the last count. A subscription without a free slot costs no job at all, however
 * often commits wake us: that is a receiver holding every slot, and its events wait in the log. */
enum claim_reason { CLAIM_COUNTED, CLAIM_WOKEN, CLAIM_FREED };

static bool worth_claiming(const struct subscription *sub, enum claim_reason why)
{
    switch (why) {
    case CLAIM_COUNTED:
        return sub->depth > (int64_t)sub->in_flight || sub->events;
    case CLAIM_WOKEN:
        return true;
    default:
        return sub->depth > 0 || sub->events;
    }
}

/* What the job asks for one subscription; false when nothing. A disabled one is only prepared
 * (its events from before the pause become deliveries kept for later, the rest are passed over),
 * at a count: that keeps it from costing a job per commit while it sends nothing. */
static bool want_for(const struct webhook_sender *s, const struct subscription *sub, enum claim_reason why,
                     struct claim_want *want)
{
    memset(want, 0, sizeof *want);
    snprintf(want->webhook, sizeof want->webhook, "%s", sub->id);
    if (!sub->enabled) {
        want->prepare = why == CLAIM_COUNTED && sub->events;
        return want->prepare;
    }
    if (sub->in_flight >= s->options.concurrency || !worth_claiming(sub, why))
        return false;
    want->max = (int)(s->options.concurrency - sub->in_flight);
    want->claim = true;
    want->prepare = sub->events;
    return true;
}

static void claim(struct webhook_sender *s, enum claim_reason why)
{
    struct claim_job j = {.now = timefmt_now_ms()};
    j.wants = calloc(s->nsubs ? s->nsubs : 1, sizeof *j.wants);
    if (j.wants == NULL)
        return;
    for (size_t i = 0; i < s->nsubs; i++) {
        if (why == CLAIM_WOKEN)
            s->subs[i].events = true; /* a commit logged one */
        j.n += want_for(s, &s->subs[i], why, &j.wants[j.n]);
    }
    if (j.n > 0 && run_job(s, &j.base, apply_claim)) {
        for (size_t i = 0; i < j.n; i++) {
            struct subscription *sub = j.wants[i].prepare ? find_sub(s, j.wants[i].webhook) : NULL;
            if (sub) {
                sub->events = j.wants[i].more;
                sub->depth += j.wants[i].prepared;
            }
        }
        struct claimed *c = reverse(j.rows);
        j.rows = NULL;
        const char *reread_id = NULL;
        bool current = true;
        while (c) {
            struct claimed *next = c->next;
            struct subscription *sub = find_sub(s, c->row.webhook);
            if (sub && (reread_id == NULL || strcmp(reread_id, sub->id) != 0)) {
                current = reread(s, sub); /* rows come grouped by subscription */
                reread_id = sub->id;
            }
            if (sub && !current) {
                /* Disabled or deleted since the count: attempted when enabled again. */
                fail_to_start(s, &c->row, "subscription disabled");
                store_delivery_row_free(&c->row);
            } else if (sub) {
                start_attempt(s, sub, &c->row); /* takes the row's strings */
            } else {
                fail_to_start(s, &c->row, "subscription gone");
                store_delivery_row_free(&c->row);
            }
            free(c);
            c = next;
        }
    }
    claimed_free(j.rows); /* a failed transaction claimed nothing */
    free(j.wants);
}

/* ---- harvesting finished attempts ---- */

static void describe_failure(const struct attempt *a, CURLcode rc, char *out, size_t size)
{
    if (a->refused)
        snprintf(out, size, "address not allowed (%s)", net_address_class_name(a->refused_class));
    else if (rc == CURLE_OPERATION_TIMEDOUT)
        snprintf(out, size, "timed out after %d s", WEBHOOK_TIMEOUT_MS / 1000);
    else
        snprintf(out, size, "%s", a->error[0] ? a->error : curl_easy_strerror(rc));
}

static void finish_attempt(struct webhook_sender *s, struct attempt *a, CURLcode rc)
{
    long status = 0;
    char why[CURL_ERROR_SIZE + 64];
    struct outcome *o = new_outcome(&a->row, timefmt_now_ms());

    if (rc == CURLE_OK)
        curl_easy_getinfo(a->easy, CURLINFO_RESPONSE_CODE, &status);
    if (o == NULL) {
        log_warn("webhooks: out of memory recording delivery %s; it is sent again", a->row.id);
        return;
    }
    if (rc == CURLE_OK && status >= 200 && status <= 299) {
        o->state = STORE_DELIVERY_DELIVERED;
        o->last_status = (int)status;
        o->delivered_at = o->attempted_at;
    } else if (rc == CURLE_OK && status == 410) {
        /* Kept for when the subscription is enabled again, due at once then. */
        o->state = STORE_DELIVERY_PENDING;
        o->last_status = 410;
        o->last_error = strdup("receiver answered 410 Gone: subscription disabled");
        o->next_attempt_at = o->attempted_at;
        o->gone = true;
    } else if (rc == CURLE_OK) {
        fail_outcome(s, o, &a->row, (int)status, NULL);
    } else {
        describe_failure(a, rc, why, sizeof why);
        fail_outcome(s, o, &a->row, 0, why);
    }
    queue_outcome(s, o);
}

static void unlink_attempt(struct webhook_sender *s, struct attempt *a)
{
    for (struct attempt **p = &s->attempts; *p; p = &(*p)->next) {
        if (*p == a) {
            *p = a->next;
            return;
        }
    }
}

/* True when at least one attempt finished (a slot came free). */
static bool harvest(struct webhook_sender *s)
{
    CURLMsg *msg;
    int left;
    bool any = false;

    while ((msg = curl_multi_info_read(s->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        char *private = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &private);
        struct attempt *a = (struct attempt *)private;
        CURLcode rc = msg->data.result;
        curl_multi_remove_handle(s->multi, a->easy);
        finish_attempt(s, a, rc);
        struct subscription *sub = find_sub(s, a->row.webhook);
        if (sub && sub->in_flight > 0)
            sub->in_flight--;
        pthread_mutex_lock(&s->lock);
        s->stats.in_flight--;
        pthread_mutex_unlock(&s->lock);
        unlink_attempt(s, a);
        attempt_free(a);
        any = true;
    }
    return any;
}

/* ---- recording outcomes ---- */

struct finish_job {
    struct sender_job base;
    struct outcome *outcomes;
    int64_t now;
};

static enum store_status apply_finish(struct store_conn *conn, struct writer_job *job)
{
    struct finish_job *j = (struct finish_job *)job;
    for (struct outcome *o = j->outcomes; o; o = o->next) {
        struct store_delivery_outcome out = {
            .id = o->id,
            .state = o->state,
            .last_status = o->last_status,
            .last_error = o->last_error,
            .attempted_at = o->attempted_at,
            .next_attempt_at = o->next_attempt_at,
            .delivered_at = o->delivered_at,
        };
        enum store_status st = store_finish_delivery(conn, &out);
        if (st == STORE_NOT_FOUND)
            continue; /* retried by hand, deleted or erased meanwhile: nothing to record */
        if (st != STORE_OK)
            return st;
        if (o->gone && (st = store_disable_webhook(conn, o->webhook, j->now, "gone")) != STORE_OK &&
            st != STORE_NOT_FOUND)
            return st;
    }
    return STORE_OK;
}

static void count_latency(struct webhook_stats *st, double seconds)
{
    if (seconds < 0)
        seconds = 0;
    for (int b = 0; b < WEBHOOK_LATENCY_BUCKETS; b++) {
        if (seconds <= webhook_latency_bounds[b])
            st->latency_buckets[b]++;
    }
    st->latency_seconds += seconds;
    st->latency_count++;
}

/* Counted once committed, so that the figures say what the outbox holds. A 410 disables its
 * subscription once, however many attempts were in flight when the receiver went away. */
static void count_outcomes(struct webhook_sender *s, const struct outcome *list)
{
    pthread_mutex_lock(&s->lock);
    for (const struct outcome *o = list; o; o = o->next) {
        if (o->state == STORE_DELIVERY_DELIVERED) {
            s->stats.delivered++;
            count_latency(&s->stats, (double)(o->delivered_at - o->created_at) / 1000.0);
        } else if (o->state == STORE_DELIVERY_DEAD) {
            s->stats.dead++;
        } else {
            s->stats.failed++;
            if (!o->gone)
                s->stats.retried++;
        }
        struct subscription *sub = o->gone ? find_sub(s, o->webhook) : NULL;
        if (o->state == STORE_DELIVERY_PENDING && !o->gone && o->next_attempt_at < s->next_due)
            s->next_due = o->next_attempt_at; /* claimed then, not at the next poll */
        if (sub && sub->enabled) {
            sub->enabled = false;
            s->stats.disabled++;
            log_warn("webhooks: %s: the receiver answered 410 Gone; subscription disabled", o->webhook);
        }
    }
    pthread_mutex_unlock(&s->lock);
}

static void outcomes_free(struct outcome *o)
{
    while (o) {
        struct outcome *next = o->next;
        free(o->last_error);
        free(o);
        o = next;
    }
}

/* Records every waiting outcome in one transaction. False (all kept) when the writer could not
 * take them: the next turn tries again. */
static bool record_outcomes(struct webhook_sender *s)
{
    if (s->outcomes == NULL)
        return true;
    struct finish_job j = {.outcomes = s->outcomes, .now = timefmt_now_ms()};
    if (!run_job(s, &j.base, apply_finish)) {
        s->next_outcome_try = timefmt_now_ms() + OUTCOME_RETRY_MS;
        return false;
    }
    count_outcomes(s, s->outcomes);
    outcomes_free(s->outcomes);
    s->outcomes = NULL;
    s->outcomes_tail = &s->outcomes;
    return true;
}

/* ---- housekeeping ---- */

static void requeue_at_start(struct webhook_sender *s)
{
    struct store_conn *conn = store_reader(s->store);
    struct requeue_job j = {.now = timefmt_now_ms()};
    /* On a shared store another instance may be sending those right now: leases settle it. */
    if (conn == NULL || store_shared(conn))
        return;
    if (!run_job(s, &j.base, apply_requeue))
        log_warn("webhooks: could not requeue deliveries left sending; their leases will end");
    else if (j.requeued > 0)
        log_info("webhooks: %lld deliveries left sending by the last run are sent again", (long long)j.requeued);
}

/* Batches of one kind of pruning until one comes back short; how many rows went. */
static int64_t prune_batches(struct webhook_sender *s, struct prune_job *j, writer_apply_fn apply)
{
    int64_t total = 0;
    for (int i = 0; i < PRUNE_BATCHES && !atomic_load(&s->stopping); i++) {
        j->deleted = 0;
        if (!run_job(s, &j->base, apply))
            break;
        total += j->deleted;
        if (j->deleted < PRUNE_BATCH)
            break;
    }
    return total;
}

static void prune(struct webhook_sender *s, int64_t now)
{
    struct prune_job j = {.cutoff = now - (int64_t)s->options.keep_days * MS_PER_DAY};
    int64_t total = prune_batches(s, &j, apply_prune);
    if (total > 0)
        log_info("webhooks: pruned %lld delivered or dead deliveries older than %u days", (long long)total,
                 s->options.keep_days);
    prune_batches(s, &j, apply_prune_events);
}

/* ---- the thread ---- */

static int poll_timeout(struct webhook_sender *s, int64_t now, bool stopping)
{
    int64_t until = stopping ? now + OUTCOME_RETRY_MS : s->next_refresh;
    if (s->woken_pending && s->last_claim + WAKE_MIN_MS < until)
        until = s->last_claim + WAKE_MIN_MS;
    if (s->outcomes && s->next_outcome_try < until)
        until = s->next_outcome_try;
    if (s->next_due < until)
        until = s->next_due;
    int64_t ms = until - now;
    return ms < 0 ? 0 : ms > POLL_MS ? POLL_MS : (int)ms;
}

/* One turn: count and claim when due (woken, or a slot came free), record outcomes, prune now and
 * then. */
/* Whether a commit's wake could lead to anything now: only a subscription with a free slot prepares
 * or claims on a wake. While every slot is held (a receiver that sleeps), commits only set the flag,
 * without waking the thread: a context switch per commit was what the sleeping receiver still cost
 * ingest. The flag is read at the thread's next turn (an attempt ending, or the next count). */
static void update_wants_wakes(struct webhook_sender *s)
{
    bool wants = false;
    for (size_t i = 0; i < s->nsubs && !wants; i++)
        wants = s->subs[i].enabled && s->subs[i].in_flight < s->options.concurrency;
    atomic_store(&s->wants_wakes, wants);
}

static void turn(struct webhook_sender *s, bool stopping)
{
    int64_t now = timefmt_now_ms();
    bool poll_due = now >= s->next_refresh;

    if (s->outcomes && now >= s->next_outcome_try)
        record_outcomes(s);
    if (stopping)
        return;
    if (poll_due) {
        s->woken_pending = false; /* the count comes after the commits that woke us */
        if (now >= s->next_due)
            s->next_due = INT64_MAX;
        s->slot_freed = false;
        refresh(s);
        s->next_refresh = now + POLL_MS;
        claim(s, CLAIM_COUNTED);
        trim(s); /* after the claim: what a free slot takes now is not dropped */
        s->last_claim = now;
    } else if ((s->woken_pending && now >= s->last_claim + WAKE_MIN_MS) || now >= s->next_due) {
        s->woken_pending = false;
        s->slot_freed = false;
        s->next_due = INT64_MAX;
        claim(s, CLAIM_WOKEN);
        s->last_claim = now;
    } else if (s->slot_freed) {
        s->slot_freed = false;
        claim(s, CLAIM_FREED);
    }
    if (now >= s->next_prune) {
        prune(s, now);
        s->next_prune = now + PRUNE_EVERY_MS;
    }
}

static void *sender_main(void *arg)
{
    struct webhook_sender *s = arg;
    int running = 0;

    pthread_setname_np(pthread_self(), "webhooks");
    requeue_at_start(s);
    turn(s, false);
    pthread_mutex_lock(&s->lock);
    s->ready = true;
    pthread_cond_broadcast(&s->job_done);
    pthread_mutex_unlock(&s->lock);
    for (;;) {
        bool stopping = atomic_load(&s->stopping);
        turn(s, stopping);
        update_wants_wakes(s);
        if (stopping && s->attempts == NULL)
            break;
        curl_multi_poll(s->multi, NULL, 0, poll_timeout(s, timefmt_now_ms(), stopping), NULL);
        if (atomic_exchange(&s->woken, false))
            s->woken_pending = true;
        curl_multi_perform(s->multi, &running);
        if (harvest(s))
            s->slot_freed = true;
        update_wants_wakes(s);
    }
    /* In-flight attempts are all finished (bounded by their timeout): record what they came to. */
    for (int i = 0; i < STOP_RECORD_TRIES && !record_outcomes(s); i++) {
        struct timespec pause = {0, OUTCOME_RETRY_MS * 1000000L};
        nanosleep(&pause, NULL);
    }
    if (s->outcomes) {
        log_warn("webhooks: outcomes of some attempts could not be recorded; those deliveries will be sent again");
        outcomes_free(s->outcomes);
        s->outcomes = NULL;
    }
    return NULL;
}

/* ---- the interface ---- */

/* The thread's first turn (requeue, the first count and claim, its reader connection opened, the
 * first prune) is over before the HTTP threads start: what it allocates is then part of the start,
 * the same in every run, rather than racing the first requests (tests/api/test_oom.py counts what
 * is live from the first connection on). Bounded: a writer that cannot take jobs must not hold the
 * start. */
static void wait_ready(struct webhook_sender *s)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&s->lock);
    int rc = 0;
    while (!s->ready && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&s->job_done, &s->lock, &until);
    pthread_mutex_unlock(&s->lock);
}

struct webhook_sender *webhook_sender_start(struct store *store, struct writer *writer,
                                            const struct webhook_sender_options *options, char *err, size_t err_size)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, err_size, "cannot initialise libcurl");
        return NULL;
    }
    struct webhook_sender *s = calloc(1, sizeof *s);
    if (s == NULL) {
        curl_global_cleanup();
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    s->store = store;
    s->writer = writer;
    s->options = *options;
    if (s->options.concurrency == 0)
        s->options.concurrency = 1;
    s->outcomes_tail = &s->outcomes;
    s->next_due = INT64_MAX;
    s->next_prune = 0; /* at start, like retention, then every PRUNE_EVERY_MS */
    atomic_init(&s->woken, false);
    atomic_init(&s->stopping, false);
    atomic_init(&s->saw_subscriptions, false);
    atomic_init(&s->wants_wakes, true);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->job_done, NULL);
    if (!ids_random_bytes(&s->rng, sizeof s->rng) || s->rng == 0)
        s->rng = UINT64_C(0x9E3779B97F4A7C15);
    s->multi = curl_multi_init();
    if (s->multi == NULL) {
        snprintf(err, err_size, "cannot set up libcurl's multi interface");
        goto fail;
    }
    if (pthread_create(&s->thread, NULL, sender_main, s) != 0) {
        snprintf(err, err_size, "cannot start the webhook sender thread");
        goto fail;
    }
    s->thread_started = true;
    wait_ready(s);
    return s;
fail:
    webhook_sender_free(s);
    return NULL;
}

void webhook_sender_wake(struct webhook_sender *sender)
{
    if (sender == NULL)
        return;
    /* The flag says why the poll ended; the wakeup ends it. Both stay valid until
     * webhook_sender_free, so a commit after webhook_sender_stop wakes nobody, harmlessly. A flag
     * already set has its wakeup on the way (or the thread is awake and about to read it); while
     * no subscription has a free slot the flag alone waits for the thread's next turn. */
    if (atomic_exchange(&sender->woken, true))
        return;
    if (atomic_load(&sender->wants_wakes))
        curl_multi_wakeup(sender->multi);
}

void webhook_sender_get_stats(struct webhook_sender *sender, struct webhook_stats *out)
{
    if (sender == NULL) {
        memset(out, 0, sizeof *out);
        return;
    }
    pthread_mutex_lock(&sender->lock);
    *out = sender->stats;
    pthread_mutex_unlock(&sender->lock);
}

bool webhook_sender_saw_subscriptions(struct webhook_sender *sender)
{
    return sender != NULL && atomic_load(&sender->saw_subscriptions);
}

void webhook_sender_stop(struct webhook_sender *sender)
{
    if (sender == NULL || !sender->thread_started)
        return;
    pthread_mutex_lock(&sender->lock);
    long long in_flight = (long long)sender->stats.in_flight;
    pthread_mutex_unlock(&sender->lock);
    if (in_flight > 0)
        log_info("webhooks: stopping: letting %lld attempts in flight finish (at most %d s)", in_flight,
                 WEBHOOK_TIMEOUT_MS / 1000);
    atomic_store(&sender->stopping, true);
    curl_multi_wakeup(sender->multi);
    pthread_join(sender->thread, NULL);
    sender->thread_started = false;
}

void webhook_sender_free(struct webhook_sender *sender)
{
    if (sender == NULL)
        return;
    webhook_sender_stop(sender);
    while (sender->attempts) {
        struct attempt *next = sender->attempts->next;
        curl_multi_remove_handle(sender->multi, sender->attempts->easy);
        attempt_free(sender->attempts);
        sender->attempts = next;
    }
    outcomes_free(sender->outcomes);
    if (sender->multi)
        curl_multi_cleanup(sender->multi);
    free_subs(sender->subs, sender->nsubs);
    pthread_cond_destroy(&sender->job_done);
    pthread_mutex_destroy(&sender->lock);
    free(sender);
    curl_global_cleanup();
}
