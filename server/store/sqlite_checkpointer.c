#include "sqlite_checkpointer.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"

/* A PASSIVE checkpoint once the WAL holds this many frames (4 KiB pages: 16 MiB). Larger than
 * SQLite's 1000 so that a hot page rewritten by many commits is copied once, small enough that the
 * WAL index stays a few hundred KiB. PASSIVE never waits for and never blocks the writer or readers;
 * once it has copied every frame, the writer's next transaction starts the WAL over from its
 * beginning, so the file stops growing by itself. */
enum { PASSIVE_FRAMES = 4096 };

/* The writer finishes a checkpoint itself (wal_checkpointer_writer_turn) when ours has copied all
 * but this many frames, or, waiting for ours, whatever is left once the WAL passes MAX_FRAMES
 * (64 MiB): that bounds the WAL even if ours falls behind. (No checkpoint can copy past a snapshot
 * a reader still holds; readers keep theirs short, see store_iter.) */
enum { TAIL_FRAMES = 1024, MAX_FRAMES = 16384 };

/* After this long without a commit, the WAL is folded back and truncated to zero bytes: an idle
 * daemon keeps one file, and a copy of surveyd.db alone is complete. */
enum { IDLE_MS = 1000 };

/* How long our own connection waits for a lock: never long, the writer must not wait behind us. */
enum { BUSY_MS = 20 };

struct wal_checkpointer {
    sqlite3 *db;
    pthread_t thread;
    pthread_mutex_t lock;           /* guards the fields below */
    pthread_cond_t wake;
    int wal_frames;                 /* after the last commit */
    int backfilled;                 /* frames of the WAL our last PASSIVE had copied when it ended */
    uint64_t commits;               /* counts commits, to tell idle from busy */
    bool stopping;
    pthread_mutex_t checkpoint_lock; /* held around every checkpoint, ours and others' */
    bool failing, writer_failing;   /* the last checkpoint (ours, the writer's) failed: warned once */
};

/* Whether our thread has copying to do: the WAL is long, and more than the writer's tail of it is
 * not yet in the database. Called with lock held. */
static bool behind(const struct wal_checkpointer *ckpt)
{
    return ckpt->wal_frames >= PASSIVE_FRAMES && ckpt->wal_frames - ckpt->backfilled > TAIL_FRAMES;
}

/* On the writer's thread, right after each commit: cheap, never checkpoints here. */
static int on_commit(void *arg, sqlite3 *db, const char *schema, int frames)
{
    struct wal_checkpointer *ckpt = arg;
    (void)db;
    (void)schema;
    pthread_mutex_lock(&ckpt->lock);
    ckpt->wal_frames = frames;
    ckpt->commits++;
    if (frames < PASSIVE_FRAMES)
        ckpt->backfilled = 0; /* the WAL started over */
    if (behind(ckpt))
        pthread_cond_signal(&ckpt->wake);
    pthread_mutex_unlock(&ckpt->lock);
    return SQLITE_OK;
}

/* A full disk or an I/O error fails every checkpoint until it is fixed: one warning, not one per
 * commit. Busy (a reader, another checkpoint) is no failure. */
static void note_result(sqlite3 *db, int rc, bool *failing)
{
    bool failed = rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY;
    if (failed && !*failing)
        log_warn("store: WAL checkpoint failed (retried as writes go on): %s", sqlite3_errmsg(db));
    else if (!failed && *failing && rc == SQLITE_OK)
        log_info("store: WAL checkpoints work again");
    if (rc == SQLITE_OK || failed)
        *failing = failed;
}

static int checkpoint(struct wal_checkpointer *ckpt, int mode, int *log_frames, int *copied)
{
    pthread_mutex_lock(&ckpt->checkpoint_lock);
    int rc = sqlite3_wal_checkpoint_v2(ckpt->db, NULL, mode, log_frames, copied);
    pthread_mutex_unlock(&ckpt->checkpoint_lock);
    note_result(ckpt->db, rc, &ckpt->failing);
    return rc;
}

/* One round: decides from the WAL's size and the writer's activity what to run. Returns whether
 * the WAL is now empty (after an idle round's truncate). */
static bool run_round(struct wal_checkpointer *ckpt, int frames, bool idle)
{
    int log_frames = 0, copied = 0, rc;

    if (idle) {
        rc = checkpoint(ckpt, SQLITE_CHECKPOINT_TRUNCATE, &log_frames, &copied);
        return rc == SQLITE_OK; /* busy: a reader still reads; the next idle round tries again */
    }
    if (frames < PASSIVE_FRAMES)
        return false;
    rc = checkpoint(ckpt, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &copied);
    if (rc != SQLITE_OK)
        return false;
    pthread_mutex_lock(&ckpt->lock);
    ckpt->backfilled = copied;
    pthread_mutex_unlock(&ckpt->lock);
    return false;
}

static void *checkpointer_main(void *arg)
{
    struct wal_checkpointer *ckpt = arg;
    pthread_setname_np(pthread_self(), "checkpointer");
    uint64_t seen_commits = 0;
    bool truncated = true;          /* nothing committed yet that an idle truncate would fold */

    pthread_mutex_lock(&ckpt->lock);
    while (!ckpt->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += IDLE_MS / 1000;
        /* At most one round per commit: a round that could not copy everything (a reader's
         * snapshot, a full disk) is tried again when the writer has added to the WAL, not in a
         * busy loop. */
        if (!(behind(ckpt) && ckpt->commits != seen_commits))
            pthread_cond_timedwait(&ckpt->wake, &ckpt->lock, &until);
        if (ckpt->stopping)
            break;
        int frames = behind(ckpt) ? ckpt->wal_frames : 0;
        bool idle = ckpt->commits == seen_commits;
        seen_commits = ckpt->commits;
        pthread_mutex_unlock(&ckpt->lock);
        if (!(idle && truncated))
            truncated = run_round(ckpt, frames, idle);
        pthread_mutex_lock(&ckpt->lock);
    }
    pthread_mutex_unlock(&ckpt->lock);
    return NULL;
}

static sqlite3 *open_connection(const char *db_path, bool full_sync, char *err, size_t err_size)
{
    sqlite3 *db = NULL;
    char *message = NULL;

    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        snprintf(err, err_size, "checkpointer: cannot open %s: %s", db_path, db ? sqlite3_errmsg(db) : "out of memory");
        goto fail;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, BUSY_MS);
    /* The checkpoint's fsync of the database file follows the same durability setting. */
    if (sqlite3_exec(db, full_sync ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL", NULL, NULL,
                     &message) != SQLITE_OK) {
        snprintf(err, err_size, "checkpointer: %s", message ? message : sqlite3_errmsg(db));
        sqlite3_free(message);
        goto fail;
    }
    /* Closing this connection must never checkpoint or delete the WAL: the store's own close does. */
    sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    return db;
fail:
    sqlite3_close_v2(db);
    return NULL;
}

struct wal_checkpointer *wal_checkpointer_start(const char *db_path, bool full_sync, char *err, size_t err_size)
{
    struct wal_checkpointer *ckpt = calloc(1, sizeof *ckpt);

    if (ckpt == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    if ((ckpt->db = open_connection(db_path, full_sync, err, err_size)) == NULL)
        goto fail_db;
    pthread_mutex_init(&ckpt->lock, NULL);
    pthread_mutex_init(&ckpt->checkpoint_lock, NULL);
    pthread_cond_init(&ckpt->wake, NULL);
    if (pthread_create(&ckpt->thread, NULL, checkpointer_main, ckpt) != 0) {
        snprintf(err, err_size, "checkpointer: cannot start a thread");
        goto fail_thread;
    }
    return ckpt;
fail_thread:
    pthread_cond_destroy(&ckpt->wake);
    pthread_mutex_destroy(&ckpt->checkpoint_lock);
    pthread_mutex_destroy(&ckpt->lock);
    sqlite3_close_v2(ckpt->db);
fail_db:
    free(ckpt);
    return NULL;
}

void wal_checkpointer_attach(struct wal_checkpointer *ckpt, sqlite3 *writer_db)
{
    sqlite3_wal_hook(writer_db, on_commit, ckpt);
}

/* Under steady ingest the writer appends while our PASSIVE copies, so the copy never reaches the
 * WAL's end, and SQLite starts the WAL over only once it has. The writer's own PASSIVE between
 * batches (after their replies went out) copies just the frames appended since ours, so its next
 * transaction starts the WAL from the beginning. */
void wal_checkpointer_writer_turn(struct wal_checkpointer *ckpt, sqlite3 *writer_db)
{
    if (ckpt == NULL)
        return;
    pthread_mutex_lock(&ckpt->lock);
    int frames = ckpt->wal_frames, backfilled = ckpt->backfilled;
    pthread_mutex_unlock(&ckpt->lock);
    bool caught_up = frames >= PASSIVE_FRAMES && frames - backfilled <= TAIL_FRAMES;
    if (!(caught_up || frames >= MAX_FRAMES))
        return;
    if (pthread_mutex_trylock(&ckpt->checkpoint_lock) != 0) {
        if (frames < MAX_FRAMES)
            return; /* ours is still copying: next time */
        pthread_mutex_lock(&ckpt->checkpoint_lock);
    }
    int rc = sqlite3_wal_checkpoint_v2(writer_db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    pthread_mutex_unlock(&ckpt->checkpoint_lock);
    note_result(writer_db, rc, &ckpt->writer_failing);
}

void wal_checkpointer_lock(struct wal_checkpointer *ckpt)
{
    if (ckpt)
        pthread_mutex_lock(&ckpt->checkpoint_lock);
}

void wal_checkpointer_unlock(struct wal_checkpointer *ckpt)
{
    if (ckpt)
        pthread_mutex_unlock(&ckpt->checkpoint_lock);
}

void wal_checkpointer_stop(struct wal_checkpointer *ckpt)
{
    if (ckpt == NULL)
        return;
    pthread_mutex_lock(&ckpt->lock);
    ckpt->stopping = true;
    pthread_cond_signal(&ckpt->wake);
    pthread_mutex_unlock(&ckpt->lock);
    pthread_join(ckpt->thread, NULL);
    sqlite3_close_v2(ckpt->db);
    pthread_cond_destroy(&ckpt->wake);
    pthread_mutex_destroy(&ckpt->checkpoint_lock);
    pthread_mutex_destroy(&ckpt->lock);
    free(ckpt);
}
