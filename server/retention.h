/* --retention-days: deletes responses older than N days at start and then hourly, through the
 * writer, in batches, with the rollups adjusted like any other deletion. */
#ifndef SURVEYD_RETENTION_H
#define SURVEYD_RETENTION_H

#include "app.h"

struct retention;

/* Starts the retention thread; NULL when days is 0 (retention off) or on failure. */
struct retention *retention_start(struct app *app, unsigned days);

/* Stops the thread, after the batch in progress (if any) commits. Call before writer_stop. */
void retention_stop(struct retention *retention);

#endif
