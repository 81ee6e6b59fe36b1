/* An allocator that fails on purpose, for tests: LD_PRELOAD it into surveyd and every Nth call of
 * malloc, calloc and realloc returns NULL with errno ENOMEM.
 *
 *   OOM_EVERY=N     fail every Nth allocation (0 or unset: never fail, only count)
 *   OOM_STOP=PATH   once this file exists, the next accepted connection ends the failures
 *   OOM_REPORT=PATH at exit, write "calls failed live_at_arm live_at_exit" there
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
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

__attribute__((constructor)) static void oom_init(void)
{
    const char *n = getenv("OOM_EVERY");
    every = n ? atol(n) : 0;
    stop_path = getenv("OOM_STOP");
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
    return should_fail() ? NULL : counted(__libc_malloc(size));
}

void *calloc(size_t count, size_t size)
{
    return should_fail() ? NULL : counted(__libc_calloc(count, size));
}

void *realloc(void *ptr, size_t size)
{
    if (ptr == NULL)
        return malloc(size);
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    return should_fail() ? NULL : __libc_realloc(ptr, size);
}

void free(void *ptr)
{
    if (ptr)
        atomic_fetch_sub_explicit(&live, 1, memory_order_relaxed);
    __libc_free(ptr);
}

/* Never failed (glibc and libraries use them for their own bookkeeping), only counted, so that
 * free() of their blocks keeps the live count right. */
void *memalign(size_t alignment, size_t size)
{
    return counted(__libc_memalign(alignment, size));
}

void *aligned_alloc(size_t alignment, size_t size)
{
    return counted(__libc_memalign(alignment, size));
}

int posix_memalign(void **out, size_t alignment, size_t size)
{
    void *p = counted(__libc_memalign(alignment, size));
    if (p == NULL)
        return ENOMEM;
    *out = p;
    return 0;
}

void *valloc(size_t size)
{
    return counted(__libc_memalign((size_t)sysconf(_SC_PAGESIZE), size));
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

__attribute__((destructor)) static void oom_report(void)
{
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
