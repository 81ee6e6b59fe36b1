/* The SQLite backend as surveyd migrate's source (sqlite_migrate.c). */
#ifndef SURVEYD_STORE_SQLITE_MIGRATE_H
#define SURVEYD_STORE_SQLITE_MIGRATE_H

#include <sqlite3.h>

#include "backend.h"

/* backend.h's dump entry: store_dump on a SQLite store. */
enum store_status sqlite_dump(struct store *store, const struct store_dump_sink *sink, void *arg, char *err,
                              size_t err_size);

/* The SQLite connection behind one of the backend's store_conns (sqlite.c). */
sqlite3 *sqlite_conn_db(struct store_conn *conn);

#endif
