/* An allocator that fails on purpose, for tests: LD_PRELOAD it into surveyd and every Nth call of
 * malloc, calloc and realloc returns NULL with errno ENOMEM.
 *
 *   OOM_EVERY=N     fail every Nth allocation (0 or unset: never fail, only count)
 *   OOM_STOP=PATH   once this file exists, the next accepted connection ends the failures
 *   OOM_REPORT=PATH at exit, write "calls failed live_at_arm live_at_exit" there
 *   OOM_TRACE=DIR   also record where each allocation made after arming came from, and at exit
 *                   write those still live to DIR/live.<pid>; tests/oom/live_sites.py groups them
 *                   by call site (how a leak that the live count shows is found)
 *
 * Failures start with the first accepted connection, not at start-up: a daemon that cannot start
 * simply exits, which proves nothing, and everything a test drives happens after an accept. They stop
 * when the test says so, at an accept too, so that it can check that the daemon recovered. The live
 * count (allocations not yet freed) taken then and again at exit is how a test finds leaks on the
 * paths that handled a failure: a daemon that frees all it allocated while serving ends with the same
 * count as a run in which nothing failed.
 *
 * glibc exports its allocator as __libc_malloc and friends, so this shim needs no dlsym() (which
 * itself allocates) to reach the real one. */

#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void __libc_free(void *ptr);
extern void *__libc_memalign(size_t alignment, size_t size);

static atomic_long calls, failures, live, live_at_arm;
static atomic_bool armed, stopped;
static long every;
static const char *stop_path;

/* OOM_TRACE: a table of the live allocations made since arming, with their return addresses, kept in
 * memory of its own (mmap) so that it never allocates through itself. At exit each is written as
 * "size frame frame ...", then "--maps--" and /proc/self/maps, for live_sites.py to resolve. */
#define TRACE_SLOTS (1u << 18)
#define TRACE_FRAMES 14
struct slot {
    void *ptr;
    size_t size;
    void *frames[TRACE_FRAMES];
};
static struct slot *table;
static atomic_flag table_lock = ATOMIC_FLAG_INIT;
static const char *trace_dir;
static _Thread_local bool in_trace;

static size_t slot_of(const void *p)
{
    return (size_t)(((uintptr_t)p >> 4) * 0x9E3779B97F4A7C15ull) & (TRACE_SLOTS - 1);
}

static void table_take(void)
{
    while (atomic_flag_test_and_set_explicit(&table_lock, memory_order_acquire))
        ;
}

static void table_give(void)
{
    atomic_flag_clear_explicit(&table_lock, memory_order_release);
}

static void trace_add(void *p, size_t size)
{
    if (table == NULL || p == NULL || in_trace || !atomic_load_explicit(&armed, memory_order_relaxed))
        return;
    in_trace = true;
    struct slot s = {.ptr = p, .size = size};
    backtrace(s.frames, TRACE_FRAMES);
    table_take();
    size_t i = slot_of(p);
    for (size_t k = 0; k < TRACE_SLOTS; k++, i = (i + 1) & (TRACE_SLOTS - 1))
        if (table[i].ptr == NULL || table[i].ptr == p) {
            table[i] = s;
            break;
        }
    table_give();
    in_trace = false;
}

/* Linear probing with backward-shift deletion: no tombstones. */
static void trace_remove(void *p)
{
    if (table == NULL || p == NULL)
        return;
    table_take();
    size_t i = slot_of(p);
    while (table[i].ptr != NULL && table[i].ptr != p)
        i = (i + 1) & (TRACE_SLOTS - 1);
    if (table[i].ptr == p) {
        size_t j = i;
        for (;;) {
            j = (j + 1) & (TRACE_SLOTS - 1);
            if (table[j].ptr == NULL)
                break;
            size_t home = slot_of(table[j].ptr);
            /* j's entry may move into the hole at i unless its home lies cyclically in (i, j]. */
            if ((i < j) ? (home <= i || home > j) : (home <= i && home > j)) {
                table[i] = table[j];
                i = j;
            }
        }
        table[i].ptr = NULL;
    }
    table_give();
}

__attribute__((constructor)) static void oom_init(void)
{
    const char *n = getenv("OOM_EVERY");
    every = n ? atol(n) : 0;
    stop_path = getenv("OOM_STOP");
    trace_dir = getenv("OOM_TRACE");
    if (trace_dir) {
        void *probe[2];
        backtrace(probe, 2); /* loads libgcc_s now, not from inside an allocation */
        void *m = mmap(NULL, TRACE_SLOTS * sizeof(struct slot), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        table = m == MAP_FAILED ? NULL : m;
    }
}

static bool should_fail(void)
{
    if (!atomic_load_explicit(&armed, memory_order_relaxed) || atomic_load_explicit(&stopped, memory_order_relaxed) ||
        every <= 0)
        return false;
    long call = atomic_fetch_add(&calls, 1) + 1;
    if (call % every != 0)
        return false;
    atomic_fetch_add(&failures, 1);
    errno = ENOMEM;
    return true;
}

static void *counted(void *p)
{
    if (p)
        atomic_fetch_add_explicit(&live, 1, memory_order_relaxed);
    return p;
}

void *malloc(size_t size)
{
    void *p = should_fail() ? NULL : counted(__libc_malloc(size));
    trace_add(p, size);
    return p;
}

void *calloc(size_t count, size_t size)
{
    void *p = should_fail() ? NULL : counted(__libc_calloc(count, size));
    trace_add(p, count * size);
    return p;
}

void *realloc(void *ptr, size_t size)
{
    if (ptr == NULL)
        return malloc(size);
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    if (should_fail())
        return NULL;
    /* Forgotten before the block may move: once freed, its address can be another thread's. */
    trace_remove(ptr);
    void *p = __libc_realloc(ptr, size);
    trace_add(p ? p : ptr, size);
    return p;
}

void free(void *ptr)
{
    if (ptr)
        atomic_fetch_sub_explicit(&live, 1, memory_order_relaxed);
    trace_remove(ptr);
    __libc_free(ptr);
}

/* Never failed (glibc and libraries use them for their own bookkeeping), only counted, so that
 * free() of their blocks keeps the live count right. */
void *memalign(size_t alignment, size_t size)
{
    void *p = counted(__libc_memalign(alignment, size));
    trace_add(p, size);
    return p;
}

void *aligned_alloc(size_t alignment, size_t size)
{
    void *p = counted(__libc_memalign(alignment, size));
    trace_add(p, size);
    return p;
}

int posix_memalign(void **out, size_t alignment, size_t size)
{
    void *p = counted(__libc_memalign(alignment, size));
    if (p == NULL)
        return ENOMEM;
    trace_add(p, size);
    *out = p;
    return 0;
}

void *valloc(size_t size)
{
    void *p = counted(__libc_memalign((size_t)sysconf(_SC_PAGESIZE), size));
    trace_add(p, size);
    return p;
}

static void arm(void)
{
    if (!atomic_exchange(&armed, true))
        atomic_store(&live_at_arm, atomic_load(&live));
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    int got = (int)syscall(SYS_accept4, fd, addr, len, flags);
    if (got >= 0) {
        arm();
        if (stop_path && access(stop_path, F_OK) == 0)
            atomic_store(&stopped, true);
    }
    return got;
}

int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    return accept4(fd, addr, len, 0);
}

static void trace_dump(void)
{
    char path[4096], line[64];
    if (table == NULL || trace_dir == NULL)
        return;
    in_trace = true;
    snprintf(path, sizeof path, "%s/live.%d", trace_dir, (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    table_take();
    for (size_t i = 0; i < TRACE_SLOTS; i++) {
        if (table[i].ptr == NULL)
            continue;
        int n = snprintf(line, sizeof line, "%zu", table[i].size);
        if (write(fd, line, (size_t)n) < 0)
            break;
        for (int f = 0; f < TRACE_FRAMES && table[i].frames[f]; f++) {
            n = snprintf(line, sizeof line, " %p", table[i].frames[f]);
            if (write(fd, line, (size_t)n) < 0)
                break;
        }
        if (write(fd, "\n", 1) < 0)
            break;
    }
    table_give();
    if (write(fd, "--maps--\n", 9) == 9) {
        int maps = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
        ssize_t got;
        char buf[4096];
        while (maps >= 0 && (got = read(maps, buf, sizeof buf)) > 0)
            if (write(fd, buf, (size_t)got) < 0)
                break;
        if (maps >= 0)
            close(maps);
    }
    close(fd);
}

__attribute__((destructor)) static void oom_report(void)
{
    trace_dump();
    const char *path = getenv("OOM_REPORT");
    char line[128];
    if (path == NULL)
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    int n = snprintf(line, sizeof line, "%ld %ld %ld %ld\n", atomic_load(&calls), atomic_load(&failures),
                     atomic_load(&live_at_arm), atomic_load(&live));
    if (n > 0 && write(fd, line, (size_t)n) < 0)
        n = 0;
    close(fd);
}
