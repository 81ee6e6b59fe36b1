/* Sending email through an SMTP server with libcurl, on a thread of its own.
 *
 * A request handler never talks SMTP itself: a mail server can take seconds (or its whole
 * timeout) to answer, and a libmicrohttpd worker blocked that long would stall every other
 * connection it serves. The handler queues a job and suspends its connection; the sender thread
 * delivers jobs one after another (each bounded by SMTP_TIMEOUT_MS) and calls the job's done()
 * from its own thread, which resumes the request. */
#ifndef SURVEYD_SMTP_H
#define SURVEYD_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMTP_TIMEOUT_MS 8000        /* whole transaction: within the 10 s a stopping server waits */
#define SMTP_CONNECT_TIMEOUT_MS 4000
#define SMTP_QUEUE_MAX 256
/* A job that waited this long for the sender is failed unsent: with a slow or unreachable mail
 * server a queue would otherwise hold its requests (and a stopping server, which waits for them)
 * for SMTP_QUEUE_MAX times the timeout. So a request waits at most about twice SMTP_TIMEOUT_MS. */
#define SMTP_QUEUE_WAIT_MS SMTP_TIMEOUT_MS

struct smtp_job {
    const char *to;             /* a plain address */
    const char *message;        /* mail_compose()'s bytes */
    size_t message_len;
    bool sent;                  /* set before done() */
    char error[200];            /* why not, when !sent */
    void (*done)(struct smtp_job *job);
    void *context;
    struct smtp_job *next;      /* owned by the sender */
    size_t offset;              /* owned by the sender */
    int64_t queued_ns;          /* owned by the sender */
};

struct smtp;

/* Starts the sender for url (smtp://host:port or smtps://...; user:password@ for AUTH) and the
 * envelope sender `from`. NULL with a message in err. Call from main before other threads start
 * (it initialises libcurl). */
struct smtp *smtp_start(const char *url, const char *from, char *err, size_t err_size);

/* Queues job; false (nothing queued) when SMTP_QUEUE_MAX wait already or the sender is stopping. */
bool smtp_submit(struct smtp *smtp, struct smtp_job *job);

/* Delivers what is queued, then stops the thread and frees everything. NULL is fine. */
void smtp_stop(struct smtp *smtp);

#endif
