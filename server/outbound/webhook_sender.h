/* Delivering webhook events: the event log's consumer (README "Webhooks", docs/webhooks.md).
 *
 * One thread drives libcurl's multi interface, so many deliveries are in flight at once (at most
 * `concurrency` per subscription) without a thread each, and a receiver that takes 30 s to answer
 * holds one slot of its own subscription and nothing else. For a subscription with a free slot the
 * thread prepares the next logged events into deliveries (options.prepare) and claims due ones, in
 * one writer job, and records each outcome through the writer (store_claim_deliveries,
 * store_finish_delivery): the log and the deliveries are only ever written inside writer
 * transactions, like everything else. Request handlers never wait for it: an event is logged with
 * the change that caused it, and the sender is only woken.
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
    int64_t queue_max;                      /* --webhook-queue-max: events waiting in the log per
                                             * subscription, default 100000; the oldest past it are
                                             * dropped at each count (store_trim_webhook_backlog) */
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
    int64_t queue_depth;                    /* over every subscription, as last counted: open deliveries
                                             * (pending + sending) plus logged events after its cursor
                                             * (an upper bound: not all of them will match) */
    int64_t in_flight;                      /* attempts in progress in this process */
};

struct webhook_sender;

/* Starts the thread. On a store this process owns alone (SQLite) it first requeues what a previous
 * process left SENDING. Call from main before the HTTP threads start (it initialises libcurl).
 * NULL with a message in err. */
struct webhook_sender *webhook_sender_start(struct store *store, struct writer *writer,
                                            const struct webhook_sender_options *options, char *err, size_t err_size);

/* Events were logged: prepare and claim now (for subscriptions with a free slot) rather than at
 * the next poll. Cheap; any thread; NULL is fine. */
void webhook_sender_wake(struct webhook_sender *sender);

void webhook_sender_get_stats(struct webhook_sender *sender, struct webhook_stats *out);

/* Whether the last count (at most a second old) saw at least one subscription. A hint for logging
 * events, safe in one direction only: true lets a change append its event without asking the
 * database first (an event logged after the last subscription went is harmless: nobody's cursor
 * reads it, and the pruning deletes it); false must be checked in the transaction
 * (store_webhooks_exist), since another instance may have just created one. Any thread; NULL:
 * false. Added by h-ev-flow. */
bool webhook_sender_saw_subscriptions(struct webhook_sender *sender);

/* Lets in-flight attempts finish (bounded by WEBHOOK_TIMEOUT_MS) and records their outcomes, then
 * stops. Call before writer_stop. NULL is fine. */
void webhook_sender_stop(struct webhook_sender *sender);

/* Frees the sender (stopping it first if need be). Separate from webhook_sender_stop because jobs
 * still queued when the sender stops commit events afterwards and call webhook_sender_wake: call it
 * after writer_stop. NULL is fine. */
void webhook_sender_free(struct webhook_sender *sender);

#endif
