/* Turning a change into webhook deliveries inside the writer transaction that makes the change
 * (the outbox): a delivery exists exactly when its change committed.
 *
 * Each function lists the enabled subscriptions, keeps those the event matches
 * (webhook_spec_matches), renders the body once per format (Standard Webhooks JSON, or Slack's
 * {"text"}), and stores one PENDING delivery per subscription with one shared event id. A
 * subscription whose outbox is at its cap gets nothing (counted and logged by the sender).
 * Called from writer jobs' apply, after the change itself succeeded; a failure here fails the
 * job, so the change and its events stand or fall together. After the commit the job wakes the
 * sender (webhook_sender_wake). */
#ifndef SURVEYD_WEBHOOK_EVENTS_H
#define SURVEYD_WEBHOOK_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "webhook_sender.h"
#include "webhook_spec.h"

/* response.created / response.updated (after the write) or response.deleted (before it: the
 * payload carries the response as it was). Reads the response back on conn. */
enum store_status webhook_events_response(struct store_conn *conn, struct webhook_sender *sender,
                                          enum webhook_event type, const char *response_id, int64_t now_ms);

/* survey.updated, after a PUT stored the definition (created or replaced). */
enum store_status webhook_events_survey(struct store_conn *conn, struct webhook_sender *sender, const char *survey,
                                        int64_t now_ms);

/* customer.erased, after the erasure (which removed the customer's undelivered events). The
 * payload holds the customer id, how many responses were deleted, and when: nothing else. */
enum store_status webhook_events_customer_erased(struct store_conn *conn, struct webhook_sender *sender,
                                                 const char *customer, int64_t deleted, int64_t now_ms);

/* webhook_events_response and webhook_events_survey telling how many deliveries they stored
 * (*queued; 0 when no subscription matched or all were at their cap): the job then wakes the
 * sender only when there is something to send. Added by h-wh-events. */
enum store_status webhook_events_response_queued(struct store_conn *conn, struct webhook_sender *sender,
                                                 enum webhook_event type, const char *response_id, int64_t now_ms,
                                                 size_t *queued);
enum store_status webhook_events_survey_queued(struct store_conn *conn, struct webhook_sender *sender,
                                               const char *survey, int64_t now_ms, size_t *queued);

/* webhook_events_customer_erased, telling how many deliveries it stored (*queued). While one of them is undelivered the
 * customer's id is on disk by design (it is the event's body), and the purge that follows the
 * erasure must not take it for a stale trace of their data: it would rewrite the whole database for
 * it at every erasure, and find it still there. Added by h-wh-events. */
enum store_status webhook_events_customer_erased_queued(struct store_conn *conn, struct webhook_sender *sender,
                                                        const char *customer, int64_t deleted, int64_t now_ms,
                                                        size_t *queued);

#endif
