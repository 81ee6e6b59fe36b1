/* Time: RFC 3339 parsing and formatting, in integer milliseconds since the Unix epoch (UTC). */
#ifndef SURVEYD_TIMEFMT_H
#define SURVEYD_TIMEFMT_H

#include <stdbool.h>
#include <stdint.h>

/* "2026-11-22T22:19:51.123Z" plus NUL, with room for years past 9999 never produced. */
#define TIMEFMT_BUFSIZE 32

int64_t timefmt_now_ms(void);

/* Monotonic clock in nanoseconds, for durations. */
int64_t timefmt_monotonic_ns(void);

/* Strict RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM); 'T' and 'Z' may be
 * lower case. Fractions beyond milliseconds are truncated. Leap second 60 is rejected (stored
 * times must be orderable). Years 0001-9999. */
bool timefmt_parse_rfc3339(const char *text, int64_t *ms_out);

/* YYYY-MM-DD, taken as midnight UTC. */
bool timefmt_parse_date(const char *text, int64_t *ms_out);

/* Either of the two forms above. */
bool timefmt_parse_instant(const char *text, int64_t *ms_out);

/* Formats as RFC 3339 UTC with milliseconds. */
void timefmt_format_ms(int64_t ms, char out[TIMEFMT_BUFSIZE]);

/* Days since 1970-01-01 of a proleptic Gregorian civil date, and back. */
int64_t timefmt_days_from_civil(int64_t year, unsigned month, unsigned day);
void timefmt_civil_from_days(int64_t days, int64_t *year, unsigned *month, unsigned *day);

#endif
