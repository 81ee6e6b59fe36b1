/* Logging to stderr, one line per event, as text or JSON (--log-format). */
#ifndef SURVEYD_LOG_H
#define SURVEYD_LOG_H

#include <stddef.h>
#include <stdint.h>

enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };
enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Set once by main before any thread starts. */
void log_set_format(enum log_format format);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

struct log_request {
    const char *method;
    const char *path;
    unsigned status;
    uint64_t bytes;
    double duration_ms;
    const char *request_id;
};

/* The access log line of one finished request. */
void log_request(const struct log_request *entry);

#endif
