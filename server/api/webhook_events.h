/* Webhook events: logging a change inside the writer transaction that makes it, and preparing
 * logged events into deliveries for one subscription (store.h, "the event log").
 *
 * Logging (webhook_events_response / _survey / _customer_erased, called from writer jobs' apply
 * after the change itself succeeded): when any subscription exists (store_webhooks_exist), one
 * narrow row is appended with a new event id; nothing is read back, matched or rendered: that is
 * what kept ingest from slowing down beside a slow receiver. A failure fails the job, so the change
 * and its event stand or fall together. After the commit the job wakes the sender.
 *
 * Preparing (webhook_events_prepare, the sender's writer job, through webhook_sender_options.prepare):
 * reads the events after the subscription's cursor, keeps those it matches (webhook_spec_matches:
 * type, surveys, filter on the answers as they are now), renders each body in the subscription's
 * format (Standard Webhooks JSON, or Slack's {"text"}), stores one PENDING delivery per match with
 * the event's id and created_at, and moves the cursor past what it read. A response event whose
 * response is gone (deleted, erased, retention) is passed over: it has nothing left to tell, and an
 * erased customer's data must not be sent. */
#ifndef SURVEYD_WEBHOOK_EVENTS_H
#define SURVEYD_WEBHOOK_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "webhook_sender.h"
#include "webhook_spec.h"

/* response.created / response.updated (after the write: logs the response id alone) or
 * response.deleted (before it: reads the response back on conn and logs it as GET shows it, the
 * payload it will carry). */
enum store_status webhook_events_response(struct store_conn *conn, struct webhook_sender *sender,
                                          enum webhook_event type, const char *response_id, int64_t now_ms);

/* survey.updated, after a PUT stored the definition (created or replaced). */
enum store_status webhook_events_survey(struct store_conn *conn, struct webhook_sender *sender, const char *survey,
                                        int64_t now_ms);

/* customer.erased, after the erasure (which removed the customer's undelivered deliveries and the
 * logged events that hold their data). The
 * payload holds the customer id, how many responses were deleted, and when: nothing else. */
enum store_status webhook_events_customer_erased(struct store_conn *conn, struct webhook_sender *sender,
                                                 const char *customer, int64_t deleted, int64_t now_ms);

/* webhook_events_response and webhook_events_survey telling whether they logged the event
 * (*queued 1; 0 when no subscription exists): the job then wakes the sender only when there is
 * something to prepare. Added by h-wh-events. */
enum store_status webhook_events_response_queued(struct store_conn *conn, struct webhook_sender *sender,
                                                 enum webhook_event type, const char *response_id, int64_t now_ms,
                                                 size_t *queued);
enum store_status webhook_events_survey_queued(struct store_conn *conn, struct webhook_sender *sender,
                                               const char *survey, int64_t now_ms, size_t *queued);

/* webhook_events_customer_erased, telling whether it logged the event (*queued 1). While the event is
 * in the log, or a delivery of it is undelivered, the customer's id is on disk by design (it is the
 * event's object and the delivery's body), and the purge that follows the
 * erasure must not take it for a stale trace of their data: it would rewrite the whole database for
 * it at every erasure, and find it still there. Added by h-wh-events. */
enum store_status webhook_events_customer_erased_queued(struct store_conn *conn, struct webhook_sender *sender,
                                                        const char *customer, int64_t deleted, int64_t now_ms,
                                                        size_t *queued);

/* Writer only (a writer job's apply): prepares up to max deliveries for webhook from the events
 * after its cursor, reading at most a few hundred events per call, and moves the cursor past every
 * event it read. *prepared says how many deliveries it stored. A disabled (paused, or 410) subscription
 * sends nothing now, so max does not bound it: each event logged before its disabled_at becomes a
 * PENDING delivery (sent when it is enabled again), each later one is passed over (docs/webhooks.md:
 * nothing is recorded for it while paused). *prepared 0 and STORE_OK when another instance is
 * preparing for it now (PostgreSQL). */
enum store_status webhook_events_prepare(struct store_conn *conn, const char *webhook, int max, int64_t now_ms,
                                         int *prepared);

#endif
