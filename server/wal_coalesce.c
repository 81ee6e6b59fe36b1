#include "wal_coalesce.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <string.h>

#define VFS_NAME "surveyd-wal"
#define FRAME_HEADER 24 /* WAL_FRAME_HDRSIZE in SQLite's wal.c */

struct shim_file {
    sqlite3_file base;
    sqlite3_file *real;         /* the default VFS's file, stored right after this struct */
    bool wal;                   /* only WAL files hold writes back */
    bool held;
    sqlite3_int64 held_offset;
    unsigned char held_bytes[FRAME_HEADER];
    unsigned char *joined;      /* header + page, sent with one write */
    int joined_cap;
};

/* The real file lives after the shim, aligned for anything it holds. */
#define SHIM_SIZE ((sizeof(struct shim_file) + 15) & ~(size_t)15)

static sqlite3_vfs shim_vfs;
static pthread_once_t registered = PTHREAD_ONCE_INIT;
static bool register_ok;

static sqlite3_vfs *real_vfs(void)
{
    return shim_vfs.pAppData;
}

static sqlite3_file *real_of(sqlite3_file *file)
{
    return ((struct shim_file *)file)->real;
}

/* Sends the held header alone: the next operation is not the page that continues it. A header that
 * could not be written stays held, so the sync or write that follows fails too (a commit is never
 * reported without it). */
static int flush_held(sqlite3_file *file)
{
    struct shim_file *f = (struct shim_file *)file;

    if (!f->held)
        return SQLITE_OK;
    int rc = f->real->pMethods->xWrite(f->real, f->held_bytes, FRAME_HEADER, f->held_offset);
    if (rc == SQLITE_OK)
        f->held = false;
    return rc;
}

#define FLUSH_OR_RETURN(file)                                                                                          \
    do {                                                                                                               \
        int flush_rc_ = flush_held(file);                                                                              \
        if (flush_rc_ != SQLITE_OK)                                                                                    \
            return flush_rc_;                                                                                          \
    } while (0)

static int shim_close(sqlite3_file *file)
{
    struct shim_file *f = (struct shim_file *)file;
    int rc = flush_held(file);
    f->held = false;
    int close_rc = f->real->pMethods ? f->real->pMethods->xClose(f->real) : SQLITE_OK;

    sqlite3_free(f->joined);
    f->joined = NULL;
    return rc != SQLITE_OK ? rc : close_rc;
}

static int shim_read(sqlite3_file *file, void *buf, int amount, sqlite3_int64 offset)
{
    FLUSH_OR_RETURN(file);
    return real_of(file)->pMethods->xRead(real_of(file), buf, amount, offset);
}

/* Header and page in one buffer: a 4 KiB copy costs far less than the syscall it saves. */
static bool join_room(struct shim_file *f, int amount)
{
    if (f->joined_cap >= FRAME_HEADER + amount)
        return true;
    unsigned char *bigger = sqlite3_realloc(f->joined, FRAME_HEADER + amount);
    if (bigger == NULL)
        return false;
    f->joined = bigger;
    f->joined_cap = FRAME_HEADER + amount;
    return true;
}

static int shim_write(sqlite3_file *file, const void *buf, int amount, sqlite3_int64 offset)
{
    struct shim_file *f = (struct shim_file *)file;

    if (f->held && offset == f->held_offset + FRAME_HEADER && join_room(f, amount)) {
        f->held = false;
        memcpy(f->joined, f->held_bytes, FRAME_HEADER);
        memcpy(f->joined + FRAME_HEADER, buf, (size_t)amount);
        return f->real->pMethods->xWrite(f->real, f->joined, FRAME_HEADER + amount, f->held_offset);
    }
    FLUSH_OR_RETURN(file);
    if (f->wal && amount == FRAME_HEADER) {
        memcpy(f->held_bytes, buf, FRAME_HEADER);
        f->held_offset = offset;
        f->held = true;
        return SQLITE_OK;
    }
    return f->real->pMethods->xWrite(f->real, buf, amount, offset);
}

static int shim_truncate(sqlite3_file *file, sqlite3_int64 size)
{
    FLUSH_OR_RETURN(file);
    return real_of(file)->pMethods->xTruncate(real_of(file), size);
}

static int shim_sync(sqlite3_file *file, int flags)
{
    FLUSH_OR_RETURN(file);
    return real_of(file)->pMethods->xSync(real_of(file), flags);
}

static int shim_file_size(sqlite3_file *file, sqlite3_int64 *size)
{
    FLUSH_OR_RETURN(file);
    return real_of(file)->pMethods->xFileSize(real_of(file), size);
}

static int shim_lock(sqlite3_file *file, int level)
{
    FLUSH_OR_RETURN(file);
    return real_of(file)->pMethods->xLock(real_of(file), level);
}

static int shim_unlock(sqlite3_file *file, int level)
{
    FLUSH_OR_RETURN(file);
    return real_of(file)->pMethods->xUnlock(real_of(file), level);
}

static int shim_check_reserved(sqlite3_file *file, int *out)
{
    FLUSH_OR_RETURN(file);
    return real_of(file)->pMethods->xCheckReservedLock(real_of(file), out);
}

static int shim_file_control(sqlite3_file *file, int op, void *arg)
{
    FLUSH_OR_RETURN(file);
    return real_of(file)->pMethods->xFileControl(real_of(file), op, arg);
}

static int shim_sector_size(sqlite3_file *file)
{
    return real_of(file)->pMethods->xSectorSize(real_of(file));
}

static int shim_device_characteristics(sqlite3_file *file)
{
    return real_of(file)->pMethods->xDeviceCharacteristics(real_of(file));
}

static int shim_shm_map(sqlite3_file *file, int page, int size, int extend, void volatile **out)
{
    FLUSH_OR_RETURN(file);
    return real_of(file)->pMethods->xShmMap(real_of(file), page, size, extend, out);
}

static int shim_shm_lock(sqlite3_file *file, int offset, int n, int flags)
{
    FLUSH_OR_RETURN(file);
    return real_of(file)->pMethods->xShmLock(real_of(file), offset, n, flags);
}

static void shim_shm_barrier(sqlite3_file *file)
{
    /* Nothing can be returned here: a failed flush stays held and fails the sync that follows. */
    (void)flush_held(file);
    real_of(file)->pMethods->xShmBarrier(real_of(file));
}

static int shim_shm_unmap(sqlite3_file *file, int delete_flag)
{
    FLUSH_OR_RETURN(file);
    return real_of(file)->pMethods->xShmUnmap(real_of(file), delete_flag);
}

static int shim_fetch(sqlite3_file *file, sqlite3_int64 offset, int amount, void **out)
{
    *out = NULL;
    FLUSH_OR_RETURN(file);
    if (real_of(file)->pMethods->iVersion < 3)
        return SQLITE_OK; /* no memory map: SQLite reads instead */
    return real_of(file)->pMethods->xFetch(real_of(file), offset, amount, out);
}

static int shim_unfetch(sqlite3_file *file, sqlite3_int64 offset, void *page)
{
    if (real_of(file)->pMethods->iVersion < 3)
        return SQLITE_OK;
    return real_of(file)->pMethods->xUnfetch(real_of(file), offset, page);
}

static const sqlite3_io_methods shim_methods = {
    3,
    shim_close,
    shim_read,
    shim_write,
    shim_truncate,
    shim_sync,
    shim_file_size,
    shim_lock,
    shim_unlock,
    shim_check_reserved,
    shim_file_control,
    shim_sector_size,
    shim_device_characteristics,
    shim_shm_map,
    shim_shm_lock,
    shim_shm_barrier,
    shim_shm_unmap,
    shim_fetch,
    shim_unfetch,
};

static int shim_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags)
{
    struct shim_file *f = (struct shim_file *)file;
    (void)vfs;

    memset(f, 0, sizeof *f);
    f->real = (sqlite3_file *)((char *)file + SHIM_SIZE);
    f->real->pMethods = NULL;
    f->wal = (flags & SQLITE_OPEN_WAL) != 0;
    int rc = real_vfs()->xOpen(real_vfs(), name, f->real, flags, out_flags);
    /* SQLite closes a file whose pMethods is set even when the open failed, and so must we. */
    file->pMethods = f->real->pMethods ? &shim_methods : NULL;
    return rc;
}

static int shim_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    (void)vfs;
    return real_vfs()->xDelete(real_vfs(), name, sync_dir);
}

static int shim_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    return real_vfs()->xAccess(real_vfs(), name, flags, out);
}

static int shim_full_pathname(sqlite3_vfs *vfs, const char *name, int size, char *out)
{
    (void)vfs;
    return real_vfs()->xFullPathname(real_vfs(), name, size, out);
}

static void *shim_dl_open(sqlite3_vfs *vfs, const char *name)
{
    (void)vfs;
    return real_vfs()->xDlOpen(real_vfs(), name);
}

static void shim_dl_error(sqlite3_vfs *vfs, int size, char *out)
{
    (void)vfs;
    real_vfs()->xDlError(real_vfs(), size, out);
}

static void (*shim_dl_sym(sqlite3_vfs *vfs, void *handle, const char *symbol))(void)
{
    (void)vfs;
    return real_vfs()->xDlSym(real_vfs(), handle, symbol);
}

static void shim_dl_close(sqlite3_vfs *vfs, void *handle)
{
    (void)vfs;
    real_vfs()->xDlClose(real_vfs(), handle);
}

static int shim_randomness(sqlite3_vfs *vfs, int size, char *out)
{
    (void)vfs;
    return real_vfs()->xRandomness(real_vfs(), size, out);
}

static int shim_sleep(sqlite3_vfs *vfs, int microseconds)
{
    (void)vfs;
    return real_vfs()->xSleep(real_vfs(), microseconds);
}

static int shim_current_time(sqlite3_vfs *vfs, double *out)
{
    (void)vfs;
    return real_vfs()->xCurrentTime(real_vfs(), out);
}

static int shim_last_error(sqlite3_vfs *vfs, int size, char *out)
{
    (void)vfs;
    return real_vfs()->xGetLastError ? real_vfs()->xGetLastError(real_vfs(), size, out) : 0;
}

static int shim_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    (void)vfs;
    return real_vfs()->xCurrentTimeInt64(real_vfs(), out);
}

static void register_shim(void)
{
    sqlite3_vfs *real = sqlite3_vfs_find(NULL);

    if (real == NULL || real->iVersion < 2 || real->xCurrentTimeInt64 == NULL)
        return;
    shim_vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)SHIM_SIZE + real->szOsFile,
        .mxPathname = real->mxPathname,
        .zName = VFS_NAME,
        .pAppData = real,
        .xOpen = shim_open,
        .xDelete = shim_delete,
        .xAccess = shim_access,
        .xFullPathname = shim_full_pathname,
        .xDlOpen = shim_dl_open,
        .xDlError = shim_dl_error,
        .xDlSym = shim_dl_sym,
        .xDlClose = shim_dl_close,
        .xRandomness = shim_randomness,
        .xSleep = shim_sleep,
        .xCurrentTime = shim_current_time,
        .xGetLastError = shim_last_error,
        .xCurrentTimeInt64 = shim_current_time_int64,
    };
    register_ok = sqlite3_vfs_register(&shim_vfs, 0) == SQLITE_OK;
}

const char *wal_coalesce_vfs(void)
{
    pthread_once(&registered, register_shim);
    return register_ok ? VFS_NAME : NULL;
}
