/* surveyd migrate: copies a SQLite store into an empty store of another backend (PostgreSQL). */
#ifndef SURVEYD_MIGRATE_H
#define SURVEYD_MIGRATE_H

#include "config.h"

/* Copies config->migrate_from into config->migrate_to and prints progress and a summary. Returns
 * the process exit status: 0 when every row was copied, 1 when the copy failed (the target holds a
 * partial copy), 2 when it could not start (bad arguments, a store that cannot be opened, a target
 * that is not empty). */
int migrate_run(const struct config *config);

#endif
