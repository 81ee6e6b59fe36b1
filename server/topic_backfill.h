/* Topics' back-fill (docs/search.md "Topics"): when a topic is created or its query changes, the
 * PUT only records it; this thread then tags the survey's earlier responses through the writer in
 * batches of SURVEYD_TOPIC_BACKFILL_BATCH responses (default 500), each batch a writer job of its
 * own, so ingest waits behind one batch at most. The cursor is stored with the topic: a restart
 * resumes where the last committed batch stopped. */
#ifndef SURVEYD_TOPIC_BACKFILL_H
#define SURVEYD_TOPIC_BACKFILL_H

#include "app.h"

struct topic_backfill;

/* Starts the thread, which first resumes any back-fill left running; NULL when the backend
 * back-fills in the PUT's own transaction (store_topics_backfill_later false) or on failure. */
struct topic_backfill *topic_backfill_start(struct app *app);

/* A topic's back-fill was just recorded (committed): run batches until none is left. NULL: no-op. */
void topic_backfill_wake(struct topic_backfill *backfill);

/* Stops the thread after the batch in progress (if any) commits. Call before writer_stop. */
void topic_backfill_stop(struct topic_backfill *backfill);

#endif
