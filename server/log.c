/* Logging. Each line is formatted into one buffer and written with a single write(2), so lines from
 * concurrent threads never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "timefmt.h"

static enum log_format log_format_in_use = LOG_FORMAT_TEXT;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_format(enum log_format format)
{
    log_format_in_use = format;
}

/* Appends s to buf as the inside of a JSON string. Returns the new length (capped at cap - 1). */
static size_t append_json_escaped(char *buf, size_t len, size_t cap, const char *s)
{
    for (; *s && len + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[len++] = '\\';
            buf[len++] = (char)c;
        } else if (c < 0x20) {
            len += (size_t)snprintf(buf + len, cap - len, "\\u%04x", c);
        } else {
            buf[len++] = (char)c;
        }
    }
    buf[len] = '\0';
    return len;
}

static void write_line(char *buf, size_t len, size_t cap)
{
    if (len >= cap - 1)
        len = cap - 2;
    buf[len++] = '\n';
    /* A failed log write has nowhere to be reported; ignore it explicitly. */
    ssize_t ignored = write(STDERR_FILENO, buf, len);
    (void)ignored;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    char message[2048];
    char line[4096];
    char now[TIMEFMT_BUFSIZE];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    timefmt_format_ms(timefmt_now_ms(), now);

    size_t len;
    if (log_format_in_use == LOG_FORMAT_JSON) {
        len = (size_t)snprintf(line, sizeof line, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"", now,
                               level_names[level]);
        len = append_json_escaped(line, len, sizeof line - 3, message);
        len += (size_t)snprintf(line + len, sizeof line - len, "\"}");
    } else {
        len = (size_t)snprintf(line, sizeof line, "%s %s %s", now, level_names[level], message);
    }
    write_line(line, len < sizeof line ? len : sizeof line - 1, sizeof line);
}

void log_request(const struct log_request *entry)
{
    char line[4096];
    char now[TIMEFMT_BUFSIZE];
    size_t len;

    /* The duration as whole microseconds printed with 3 decimals of ms: the same text as %.3f
     * without the floating-point formatting, which was a fifth of a request line's cost. */
    double us = entry->duration_ms * 1000.0 + 0.5;
    unsigned long long whole_us = us > 0 ? (unsigned long long)us : 0;
    unsigned long long ms = whole_us / 1000;
    unsigned frac = (unsigned)(whole_us % 1000);

    timefmt_format_ms(timefmt_now_ms(), now);
    if (log_format_in_use == LOG_FORMAT_JSON) {
        len = (size_t)snprintf(line, sizeof line, "{\"time\":\"%s\",\"level\":\"info\",\"msg\":\"request\",\"method\":\"",
                               now);
        len = append_json_escaped(line, len, sizeof line - 200, entry->method);
        len += (size_t)snprintf(line + len, sizeof line - len, "\",\"path\":\"");
        len = append_json_escaped(line, len, sizeof line - 200, entry->path);
        len += (size_t)snprintf(line + len, sizeof line - len,
                                "\",\"status\":%u,\"bytes\":%llu,\"duration_ms\":%llu.%03u,\"request_id\":\"",
                                entry->status, (unsigned long long)entry->bytes, ms, frac);
        len = append_json_escaped(line, len, sizeof line - 3, entry->request_id);
        len += (size_t)snprintf(line + len, sizeof line - len, "\"}");
    } else {
        /* The path arrives percent-decoded, so it may hold control characters: escape them like
         * JSON does, so one request is always one line. */
        len = (size_t)snprintf(line, sizeof line, "%s info %s ", now, entry->method);
        len = append_json_escaped(line, len, sizeof line - 200, entry->path);
        len += (size_t)snprintf(line + len, sizeof line - len, " %u %llub %llu.%03ums id=%s", entry->status,
                                (unsigned long long)entry->bytes, ms, frac, entry->request_id);
    }
    write_line(line, len < sizeof line ? len : sizeof line - 1, sizeof line);
}
