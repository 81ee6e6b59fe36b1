#include "smtp.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "timefmt.h"

struct smtp {
    char *url, *from;
    CURL *curl;                 /* the sender thread's: libcurl keeps the connection between messages */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct smtp_job *head, *tail;
    size_t queued;
    bool stopping;
};

static size_t read_message(char *buffer, size_t size, size_t count, void *arg)
{
    struct smtp_job *job = arg;
    size_t room = size * count, left = job->message_len - job->offset;
    size_t n = left < room ? left : room;
    memcpy(buffer, job->message + job->offset, n);
    job->offset += n;
    return n;
}

/* One message, start to end, on the sender's handle. curl escapes lines that begin with a dot and
 * ends the DATA itself. */
static void deliver(struct smtp *smtp, struct smtp_job *job)
{
    char errbuf[CURL_ERROR_SIZE] = "", from[300], to[300];
    struct curl_slist *rcpt = NULL;

    snprintf(from, sizeof from, "<%s>", smtp->from);
    snprintf(to, sizeof to, "<%s>", job->to);
    rcpt = curl_slist_append(NULL, to);
    job->offset = 0;
    curl_easy_setopt(smtp->curl, CURLOPT_URL, smtp->url);
    curl_easy_setopt(smtp->curl, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(smtp->curl, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(smtp->curl, CURLOPT_READFUNCTION, read_message);
    curl_easy_setopt(smtp->curl, CURLOPT_READDATA, job);
    curl_easy_setopt(smtp->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)job->message_len);
    curl_easy_setopt(smtp->curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(smtp->curl, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode rc = rcpt ? curl_easy_perform(smtp->curl) : CURLE_OUT_OF_MEMORY;
    curl_slist_free_all(rcpt);
    job->sent = rc == CURLE_OK;
    if (!job->sent) {
        /* The error buffer names the mail server's refusal ("RCPT failed: 550"); never the URL,
         * which may hold a password. */
        snprintf(job->error, sizeof job->error, "%s%s%s", curl_easy_strerror(rc), errbuf[0] ? ": " : "", errbuf);
        log_warn("invitation email not sent: %s", job->error);
    }
}

static void *sender_main(void *arg)
{
    struct smtp *smtp = arg;
    pthread_mutex_lock(&smtp->lock);
    for (;;) {
        while (smtp->head == NULL && !smtp->stopping)
            pthread_cond_wait(&smtp->wake, &smtp->lock);
        struct smtp_job *job = smtp->head;
        if (job == NULL)
            break; /* stopping, and nothing left */
        smtp->head = job->next;
        if (smtp->head == NULL)
            smtp->tail = NULL;
        smtp->queued--;
        pthread_mutex_unlock(&smtp->lock);
        if (timefmt_monotonic_ns() - job->queued_ns > SMTP_QUEUE_WAIT_MS * 1000000LL) {
            job->sent = false;
            snprintf(job->error, sizeof job->error, "waited too long for the mail server; not sent");
            log_warn("invitation email not sent: %s", job->error);
        } else {
            deliver(smtp, job);
        }
        job->done(job);
        pthread_mutex_lock(&smtp->lock);
    }
    pthread_mutex_unlock(&smtp->lock);
    return NULL;
}

/* Options that stay the same for every message. TLS: smtps:// always; smtp:// upgrades with
 * STARTTLS when the server offers it, and certificates are verified either way. */
static bool configure(struct smtp *smtp)
{
    return curl_easy_setopt(smtp->curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps") == CURLE_OK &&
           curl_easy_setopt(smtp->curl, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY) == CURLE_OK &&
           curl_easy_setopt(smtp->curl, CURLOPT_TIMEOUT_MS, (long)SMTP_TIMEOUT_MS) == CURLE_OK &&
           curl_easy_setopt(smtp->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)SMTP_CONNECT_TIMEOUT_MS) == CURLE_OK &&
           curl_easy_setopt(smtp->curl, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
}

static void smtp_free(struct smtp *smtp)
{
    if (smtp->curl)
        curl_easy_cleanup(smtp->curl);
    free(smtp->url);
    free(smtp->from);
    pthread_mutex_destroy(&smtp->lock);
    pthread_cond_destroy(&smtp->wake);
    free(smtp);
    curl_global_cleanup();
}

struct smtp *smtp_start(const char *url, const char *from, char *err, size_t err_size)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, err_size, "cannot initialise libcurl");
        return NULL;
    }
    struct smtp *smtp = calloc(1, sizeof *smtp);
    if (smtp == NULL) {
        curl_global_cleanup();
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&smtp->lock, NULL);
    pthread_cond_init(&smtp->wake, NULL);
    smtp->url = strdup(url);
    smtp->from = strdup(from);
    smtp->curl = curl_easy_init();
    if (!smtp->url || !smtp->from || !smtp->curl || !configure(smtp)) {
        snprintf(err, err_size, "cannot set up libcurl for --smtp-url (does this libcurl speak SMTP?)");
        goto fail;
    }
    if (pthread_create(&smtp->thread, NULL, sender_main, smtp) != 0) {
        snprintf(err, err_size, "cannot start the email sender thread");
        goto fail;
    }
    return smtp;
fail:
    smtp_free(smtp);
    return NULL;
}

bool smtp_submit(struct smtp *smtp, struct smtp_job *job)
{
    bool queued = false;
    job->next = NULL;
    job->queued_ns = timefmt_monotonic_ns();
    pthread_mutex_lock(&smtp->lock);
    if (!smtp->stopping && smtp->queued < SMTP_QUEUE_MAX) {
        if (smtp->tail)
            smtp->tail->next = job;
        else
            smtp->head = job;
        smtp->tail = job;
        smtp->queued++;
        queued = true;
        pthread_cond_signal(&smtp->wake);
    }
    pthread_mutex_unlock(&smtp->lock);
    return queued;
}

void smtp_stop(struct smtp *smtp)
{
    if (smtp == NULL)
        return;
    pthread_mutex_lock(&smtp->lock);
    smtp->stopping = true;
    pthread_cond_signal(&smtp->wake);
    pthread_mutex_unlock(&smtp->lock);
    pthread_join(smtp->thread, NULL);
    smtp_free(smtp);
}
