/* The SQLite backend: WAL checkpoints between batches, purging an erased customer's traces from the
 * file, online backup, and health (see sqlite_internal.h). */
#include "sqlite_internal.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "sqlite_checkpointer.h"

/* ---- WAL, erasure scrubbing ---- */

void sqlite_between_batches(struct store_conn *base_conn)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    wal_checkpointer_writer_turn(conn->checkpointer, conn->db);
}

enum store_status sqlite_checkpoint(struct sqlite_conn *conn)
{
    /* Never at the same time as the background checkpointer's: the second would fail at once. */
    wal_checkpointer_lock(conn->checkpointer);
    int rc = sqlite3_wal_checkpoint_v2(conn->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    wal_checkpointer_unlock(conn->checkpointer);
    return rc == SQLITE_OK ? STORE_OK : sqlite_status_of(rc);
}

/* Searches the database file for any of the needles, reading it through the descriptor SQLite
 * already holds (SQLITE_FCNTL_FILE_POINTER, then the VFS's xRead): never through a descriptor of
 * our own. Closing any descriptor of a file drops every POSIX lock this process holds on it,
 * SQLite's included; `surveyd verify` or `backup` would then take themselves for the last user,
 * checkpoint and delete -wal and -shm while we go on committing into the deleted files.
 * (sqlite_dbpage would read pages through SQL, but Debian's libsqlite3 is built without
 * SQLITE_ENABLE_DBPAGE_VTAB.) Errors count as found: a file we cannot read is not proven clean. */
static bool file_contains(sqlite3 *db, char *const *needles, int count)
{
    enum { CHUNK = 1 << 20, OVERLAP = 64 };
    sqlite3_file *file = NULL;
    sqlite3_int64 size = 0, offset = 0;
    char *buf = NULL;
    size_t kept = 0;
    bool found = true;

    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK || file == NULL ||
        file->pMethods == NULL || file->pMethods->xFileSize(file, &size) != SQLITE_OK ||
        (buf = malloc(CHUNK + OVERLAP)) == NULL)
        goto done;
    found = false;
    while (offset < size && !found) {
        int n = size - offset < CHUNK ? (int)(size - offset) : CHUNK;
        if (file->pMethods->xRead(file, buf + kept, n, offset) != SQLITE_OK) {
            found = true;
            break;
        }
        offset += n;
        size_t len = kept + (size_t)n;
        for (int i = 0; i < count && !found; i++)
            found = memmem(buf, len, needles[i], strlen(needles[i])) != NULL;
        /* Keep the tail, so a needle split across two chunks is still seen. */
        kept = len < OVERLAP ? len : OVERLAP;
        memmove(buf, buf + len - kept, kept);
    }
done:
    free(buf);
    return found;
}

enum store_status sqlite_purge(struct store_conn *base_conn, char *const *needles, int count, bool *vacuumed)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    enum store_status status;

    *vacuumed = false;
    /* FTS5 (3.40 has no secure-delete) only marks a deleted document's tokens as gone; they stay in
     * the index's segments until those are merged. 'optimize' merges every segment into one
     * without them, so the VACUUM below has nothing of theirs left to copy. It rewrites the whole
     * index: linear in its size, like the VACUUM (docs/search.md "Erasure"). */
    if (count > 0 && sqlite3_exec(conn->db, "INSERT INTO response_text_index (response_text_index) VALUES ('optimize')",
                                  NULL, NULL, NULL) != SQLITE_OK) {
        log_error("store: merging the text index after an erasure failed: %s", sqlite3_errmsg(conn->db));
        return sqlite_status_of(sqlite3_errcode(conn->db));
    }
    /* Readers hold snapshots briefly (exports read in short stretches): a few tries suffice. */
    for (int attempt = 0; attempt < 5; attempt++) {
        if ((status = sqlite_checkpoint(conn)) == STORE_OK)
            break;
    }
    if (status != STORE_OK || count == 0 || !file_contains(conn->db, needles, count))
        return status;
    *vacuumed = true;
    if (sqlite3_exec(conn->db, "VACUUM", NULL, NULL, NULL) != SQLITE_OK) {
        log_error("store: VACUUM after an erasure failed: %s", sqlite3_errmsg(conn->db));
        return sqlite_status_of(sqlite3_errcode(conn->db));
    }
    return sqlite_checkpoint(conn);
}

/* One process owns a SQLite store, so its own in-memory versions (versions.c) are always current. */
enum store_status sqlite_data_version(struct store_conn *conn, const char *survey, int64_t *version)
{
    (void)conn;
    (void)survey;
    *version = 0;
    return STORE_OK;
}

/* ---- backup ---- */

static bool integrity_ok(sqlite3 *db, char *err, size_t err_size)
{
    sqlite3_stmt *s = NULL;
    bool ok = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL) == SQLITE_OK &&
              sqlite3_step(s) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(s, 0), "ok") == 0;
    if (!ok)
        snprintf(err, err_size, "the copy failed its integrity check: %s",
                 s && sqlite3_column_text(s, 0) ? (const char *)sqlite3_column_text(s, 0) : sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return ok;
}

/* Copies through a connection of its own (read-only, leaving the serving daemon's WAL alone). */
enum store_status sqlite_backup(struct store *base_store, const char *dest, char *err, size_t err_size)
{
    struct sqlite_store *store = (struct sqlite_store *)base_store;
    const char *source_path = store->path;
    char tmp_path[4096];
    sqlite3 *source = NULL, *copy = NULL;
    enum store_status status = STORE_ERROR;

    snprintf(tmp_path, sizeof tmp_path, "%s.tmp", dest);
    unlink(tmp_path);
    if (sqlite3_open_v2(source_path, &source, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(err, err_size, "cannot open %s: %s", source_path, sqlite3_errmsg(source));
        goto done;
    }
    sqlite3_busy_timeout(source, 5000);
    sqlite_leave_wal_alone(source);
    if (sqlite3_open_v2(tmp_path, &copy, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        snprintf(err, err_size, "cannot create %s: %s", tmp_path, sqlite3_errmsg(copy));
        goto done;
    }
    /* Private before a page is copied into it; its journal takes the same mode. */
    if (chmod(tmp_path, S_IRUSR | S_IWUSR) != 0) {
        snprintf(err, err_size, "cannot make %s owner-only: %s", tmp_path, strerror(errno));
        goto done;
    }
    sqlite3_backup *backup = sqlite3_backup_init(copy, "main", source, "main");
    if (backup == NULL) {
        snprintf(err, err_size, "cannot start the backup: %s", sqlite3_errmsg(copy));
        goto done;
    }
    /* One step copies every page from a single read snapshot of the WAL database. */
    int rc = sqlite3_backup_step(backup, -1);
    sqlite3_backup_finish(backup);
    if (rc != SQLITE_DONE) {
        snprintf(err, err_size, "the backup failed: %s", sqlite3_errstr(rc));
        goto done;
    }
    /* A single-file copy: no WAL beside it to lose. */
    if (sqlite3_exec(copy, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL) != SQLITE_OK ||
        !integrity_ok(copy, err, err_size))
        goto done;
    sqlite3_close(copy);
    copy = NULL;
    if (rename(tmp_path, dest) != 0) {
        snprintf(err, err_size, "cannot rename %s to %s: %s", tmp_path, dest, strerror(errno));
        goto done;
    }
    status = STORE_OK;
done:
    sqlite3_close(copy);
    sqlite3_close(source);
    if (status != STORE_OK)
        unlink(tmp_path);
    return status;
}

/* ---- health ---- */

uint64_t sqlite_size_bytes(struct store *base_store)
{
    struct sqlite_store *store = (struct sqlite_store *)base_store;
    char wal[4200];
    struct stat st;
    uint64_t total = 0;
    if (stat(store->path, &st) == 0)
        total += (uint64_t)st.st_size;
    snprintf(wal, sizeof wal, "%s-wal", store->path);
    if (stat(wal, &st) == 0)
        total += (uint64_t)st.st_size;
    return total;
}

enum store_status sqlite_probe_write(struct store_conn *base_conn, int64_t now_ms)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_PROBE_WRITE);
    if (s == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(s, 1, now_ms);
    return sqlite_run(conn, s); /* autocommit: one fsynced transaction */
}

bool sqlite_ping(struct store_conn *base_conn)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = conn ? sqlite_stmt(conn, STMT_PING) : NULL;
    if (s == NULL)
        return false;
    int rc = sqlite3_step(s);
    sqlite_done_with(s);
    return rc == SQLITE_ROW;
}
