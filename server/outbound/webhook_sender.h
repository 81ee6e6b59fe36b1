/* Delivering webhook events: the outbox's consumer (README "Webhooks", docs/webhooks.md).
 *
 * One thread drives libcurl's multi interface, so many deliveries are in flight at once (at most
 * `concurrency` per subscription) without a thread each, and a receiver that takes 30 s to answer
 * holds one slot of its own subscription and nothing else. The thread claims due deliveries and
 * records each outcome through the writer (store_claim_deliveries, store_finish_delivery): the
 * outbox is only ever written inside writer transactions, like everything else. Request handlers
 * never wait for it: an event is stored with the change that caused it, and the sender is only
 * woken.
 *
 * Each attempt is signed the Standard Webhooks way (webhook_sign.h). Outcomes: 2xx delivered;
 * 410 Gone disables the subscription; anything else (another status, a timeout, a refused
 * connection, a forbidden address) is retried with exponential backoff and jitter until the
 * delivery's retry window closes, then it is dead. */
#ifndef SURVEYD_WEBHOOK_SENDER_H
#define SURVEYD_WEBHOOK_SENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "writer.h"

#define WEBHOOK_TIMEOUT_MS 10000            /* a whole attempt, connect included */
#define WEBHOOK_LEASE_MS 30000              /* a claim outlives its attempt's timeout */

struct webhook_sender_options {
    bool allow_private;                     /* --webhook-allow-private */
    int64_t retry_window_ms;                /* --webhook-retry-hours, default 72 h */
    int64_t retry_base_ms;                  /* --webhook-retry-base-ms: the first retry's delay, default 10 s */
    unsigned concurrency;                   /* --webhook-concurrency: in flight per subscription, default 4 */
    int64_t queue_max;                      /* --webhook-queue-max: pending per subscription, default 100000 */
    unsigned keep_days;                     /* --webhook-keep-days: delivered/dead history kept, default 30 */
    /* Turns logged events into deliveries for one subscription, inside a writer job: main passes
     * webhook_events_prepare (api/webhook_events.h). Injected so that this module, below the API,
     * never calls up into it (rendering a body is the API's: api_render_response). The sender calls
     * it for a subscription only while it has room: max = concurrency minus that subscription's
     * attempts in flight; a receiver that holds every slot therefore stops the preparing, and
     * ingest pays for nothing but the logged row. */
    enum store_status (*prepare)(struct store_conn *conn, const char *webhook, int max, int64_t now_ms,
                                 int *prepared);
};

/* Counters and gauges for /metrics. Latency: from the event to its delivery. */
#define WEBHOOK_LATENCY_BUCKETS 10
extern const double webhook_latency_bounds[WEBHOOK_LATENCY_BUCKETS]; /* seconds (le) */

struct webhook_stats {
    unsigned long long delivered, failed, retried, dead, disabled, dropped;
    unsigned long long latency_buckets[WEBHOOK_LATENCY_BUCKETS];    /* cumulative */
    double latency_seconds;                                         /* sum */
    unsigned long long latency_count;
    int64_t queue_depth;                    /* pending + sending over every subscription, as last counted */
    int64_t in_flight;                      /* attempts in progress in this process */
};

struct webhook_sender;

/* Starts the thread. On a store this process owns alone (SQLite) it first requeues what a previous
 * process left SENDING. Call from main before the HTTP threads start (it initialises libcurl).
 * NULL with a message in err. */
struct webhook_sender *webhook_sender_start(struct store *store, struct writer *writer,
                                            const struct webhook_sender_options *options, char *err, size_t err_size);

/* Deliveries were committed: look for due ones now rather than at the next poll. Cheap; any thread;
 * NULL is fine. */
void webhook_sender_wake(struct webhook_sender *sender);

/* Whether a subscription's outbox is at its cap (queue_max pending, as last counted: the count is
 * refreshed every poll, so the cap may be passed by what arrives within one poll). The event is
 * then not stored for it: call webhook_sender_count_dropped. Any thread; NULL: never full. */
bool webhook_sender_full(struct webhook_sender *sender, const char *webhook);

/* Counts (and logs, at most once a minute per subscription) an event not stored at the cap. */
void webhook_sender_count_dropped(struct webhook_sender *sender, const char *webhook);

void webhook_sender_get_stats(struct webhook_sender *sender, struct webhook_stats *out);

/* Lets in-flight attempts finish (bounded by WEBHOOK_TIMEOUT_MS) and records their outcomes, then
 * stops. Call before writer_stop. NULL is fine. */
void webhook_sender_stop(struct webhook_sender *sender);

/* Frees the sender (stopping it first if need be). Separate from webhook_sender_stop because jobs
 * still queued when the sender stops commit events afterwards and call webhook_sender_wake (and
 * webhook_sender_full): call it after writer_stop. NULL is fine. */
void webhook_sender_free(struct webhook_sender *sender);

#endif
