/* Calendar arithmetic after Howard Hinnant's "chrono-Compatible Low-Level Date Algorithms": exact
 * for the proleptic Gregorian calendar, no dependence on the TZ environment or timegm(). */
#include "timefmt.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define MS_PER_DAY INT64_C(86400000)

int64_t timefmt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t timefmt_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t timefmt_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void timefmt_civil_from_days(int64_t z, int64_t *year, unsigned *month, unsigned *day)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    *year = (int64_t)yoe + era * 400 + (m <= 2);
    *month = m;
    *day = d;
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Reads exactly n decimal digits. */
static bool read_digits(const char **p, int n, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (unsigned)(c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool expect_char(const char **p, char c)
{
    if (**p != c)
        return false;
    (*p)++;
    return true;
}

/* YYYY-MM-DD at *p; advances past it. */
static bool parse_date_part(const char **p, int64_t *days)
{
    unsigned y, m, d;
    if (!read_digits(p, 4, &y) || !expect_char(p, '-') || !read_digits(p, 2, &m) || !expect_char(p, '-') ||
        !read_digits(p, 2, &d))
        return false;
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return false;
    *days = timefmt_days_from_civil(y, m, d);
    return true;
}

bool timefmt_parse_date(const char *text, int64_t *ms_out)
{
    int64_t days;
    const char *p = text;
    if (!parse_date_part(&p, &days) || *p != '\0')
        return false;
    *ms_out = days * MS_PER_DAY;
    return true;
}

bool timefmt_parse_rfc3339(const char *text, int64_t *ms_out)
{
    const char *p = text;
    int64_t days;
    unsigned hh, mm, ss, millis = 0;

    if (!parse_date_part(&p, &days))
        return false;
    if (*p != 'T' && *p != 't')
        return false;
    p++;
    if (!read_digits(&p, 2, &hh) || !expect_char(&p, ':') || !read_digits(&p, 2, &mm) || !expect_char(&p, ':') ||
        !read_digits(&p, 2, &ss))
        return false;
    if (hh > 23 || mm > 59 || ss > 59)
        return false;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (digits < 3)
                millis = millis * 10 + (unsigned)(*p - '0');
            digits++;
            p++;
        }
        if (digits == 0 || digits > 9)
            return false;
        for (int i = digits; i < 3; i++)
            millis *= 10;
    }
    int64_t offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        unsigned oh, om;
        p++;
        if (!read_digits(&p, 2, &oh) || !expect_char(&p, ':') || !read_digits(&p, 2, &om) || oh > 23 || om > 59)
            return false;
        offset_min = sign * (int64_t)(oh * 60 + om);
    } else {
        return false;
    }
    if (*p != '\0')
        return false;
    *ms_out = days * MS_PER_DAY + ((int64_t)hh * 3600 + mm * 60 + ss) * 1000 + millis - offset_min * 60000;
    return true;
}

bool timefmt_parse_instant(const char *text, int64_t *ms_out)
{
    return strlen(text) == 10 ? timefmt_parse_date(text, ms_out) : timefmt_parse_rfc3339(text, ms_out);
}

void timefmt_format_ms(int64_t ms, char out[TIMEFMT_BUFSIZE])
{
    int64_t days = ms / MS_PER_DAY;
    int64_t rem = ms % MS_PER_DAY;
    if (rem < 0) {
        rem += MS_PER_DAY;
        days--;
    }
    int64_t y;
    unsigned m, d;
    timefmt_civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) { /* outside RFC 3339's four digits: as printf writes them */
        snprintf(out, TIMEFMT_BUFSIZE, "%04lld-%02u-%02uT%02u:%02u:%02u.%03uZ", (long long)y, m, d,
                 (unsigned)(rem / 3600000), (unsigned)(rem / 60000 % 60), (unsigned)(rem / 1000 % 60),
                 (unsigned)(rem % 1000));
        return;
    }
    /* Digit by digit: a CSV export formats two times per row, and snprintf was a tenth of its CPU. */
    unsigned fields[] = {(unsigned)y, m, d, (unsigned)(rem / 3600000), (unsigned)(rem / 60000 % 60),
                         (unsigned)(rem / 1000 % 60), (unsigned)(rem % 1000)};
    static const unsigned char widths[] = {4, 2, 2, 2, 2, 2, 3};
    static const char after[] = "--T::.Z";
    char *o = out;
    for (size_t i = 0; i < sizeof widths; i++) {
        for (unsigned w = widths[i], v = fields[i]; w > 0; w--, v /= 10)
            o[w - 1] = (char)('0' + v % 10);
        o += widths[i];
        *o++ = after[i];
    }
    *o = '\0';
}
