/* The SQLite backend's background checkpointer: WAL checkpoints off the commit path.
 *
 * With SQLite's auto-checkpoint, the commit that pushes the WAL past 1000 frames copies the WAL
 * into the database file and fsyncs it before COMMIT returns: every response queued behind that
 * batch waits for it (about a tenth of the writer's time under load). Here the write connection
 * only reports its WAL size after each commit (a WAL hook, which also turns auto-checkpoint off)
 * and this thread, on a connection of its own, checkpoints while the writer goes on committing.
 * Part of sqlite.c's backend, not of store.h: nothing above the store knows about a WAL. */
#ifndef SURVEYD_WAL_CHECKPOINTER_H
#define SURVEYD_WAL_CHECKPOINTER_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

struct wal_checkpointer;

/* Opens its own connection to db_path (synchronous FULL or NORMAL like the others) and starts the
 * thread. NULL with err filled on failure. */
struct wal_checkpointer *wal_checkpointer_start(const char *db_path, bool full_sync, char *err, size_t err_size);

/* Installs the WAL hook on the write connection: from then on that connection never checkpoints by
 * itself. Call once, before the writer commits. */
void wal_checkpointer_attach(struct wal_checkpointer *ckpt, sqlite3 *writer_db);

/* On the writer's thread, between batches: completes the checkpoint when ours is nearly done (see
 * sqlite_checkpointer.c). Cheap when there is nothing to do. NULL is fine. */
void wal_checkpointer_writer_turn(struct wal_checkpointer *ckpt, sqlite3 *writer_db);

/* Checkpoints are serialised: a second one at the same time fails at once with SQLITE_BUSY. Whoever
 * runs its own (an erasure's TRUNCATE) holds this around it so that it never loses to ours. */
void wal_checkpointer_lock(struct wal_checkpointer *ckpt);
void wal_checkpointer_unlock(struct wal_checkpointer *ckpt);

/* Stops the thread (a checkpoint under way finishes first) and closes its connection. NULL is fine. */
void wal_checkpointer_stop(struct wal_checkpointer *ckpt);

#endif
