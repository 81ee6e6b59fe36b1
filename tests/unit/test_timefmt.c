/*
 * Unit tests for server/timefmt.c: strict RFC 3339 and date parsing, millisecond formatting and the
 * proleptic Gregorian calendar arithmetic.
 *
 * Expected instants are written out as constants (computed independently, with Python's datetime)
 * rather than derived from the module itself, and the calendar is checked day by day against a
 * naive calendar walk, so a consistent-but-wrong implementation cannot pass.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timefmt.h"

#define MS_DAY INT64_C(86400000)
#define MS_HOUR INT64_C(3600000)
#define MS_MIN INT64_C(60000)

/* Independent instants (Python: datetime(..., tzinfo=timezone.utc) - epoch). */
#define MS_0001_01_01 INT64_C(-62135596800000)
#define MS_9999_12_31_END INT64_C(253402300799999) /* 9999-12-31T23:59:59.999Z */
#define MS_2000_02_29 INT64_C(951782400000)
#define MS_1900_01_01 INT64_C(-2208988800000)
#define MS_2026_11_18_0230 INT64_C(1794969000000) /* 2026-11-18T02:30:00Z */

/* ---- helpers ---- */

static void expect_rfc3339(const char *text, int64_t expected, int line)
{
    int64_t ms = INT64_C(0x5A5A5A5A5A5A5A5A);
    ck_assert_msg(timefmt_parse_rfc3339(text, &ms), "line %d: refused \"%s\"", line, text);
    ck_assert_msg(ms == expected, "line %d: \"%s\" parsed to %lld, expected %lld", line, text, (long long)ms,
                  (long long)expected);
}

static void expect_rfc3339_reject(const char *text, int line)
{
    int64_t ms = 0;
    ck_assert_msg(!timefmt_parse_rfc3339(text, &ms), "line %d: accepted \"%s\" as %lld", line, text, (long long)ms);
}

static void expect_date(const char *text, int64_t expected, int line)
{
    int64_t ms = INT64_C(0x5A5A5A5A5A5A5A5A);
    ck_assert_msg(timefmt_parse_date(text, &ms), "line %d: refused \"%s\"", line, text);
    ck_assert_msg(ms == expected, "line %d: \"%s\" parsed to %lld, expected %lld", line, text, (long long)ms,
                  (long long)expected);
}

static void expect_date_reject(const char *text, int line)
{
    int64_t ms = 0;
    ck_assert_msg(!timefmt_parse_date(text, &ms), "line %d: accepted \"%s\" as %lld", line, text, (long long)ms);
}

static void expect_format(int64_t ms, const char *expected, int line)
{
    char out[TIMEFMT_BUFSIZE];
    memset(out, 'X', sizeof out);
    timefmt_format_ms(ms, out);
    ck_assert_msg(memchr(out, '\0', sizeof out) != NULL, "line %d: %lld: no terminator", line, (long long)ms);
    ck_assert_msg(strcmp(out, expected) == 0, "line %d: %lld formatted as \"%s\", expected \"%s\"", line,
                  (long long)ms, out, expected);
}

#define RFC_OK(text, ms) expect_rfc3339((text), (ms), __LINE__)
#define RFC_BAD(text) expect_rfc3339_reject((text), __LINE__)
#define DATE_OK(text, ms) expect_date((text), (ms), __LINE__)
#define DATE_BAD(text) expect_date_reject((text), __LINE__)
#define FMT(ms, text) expect_format((ms), (text), __LINE__)

static bool naive_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned naive_month_days(int64_t y, unsigned m)
{
    static const unsigned days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && naive_leap(y) ? 29 : days[m - 1];
}

/* ---- timefmt_parse_rfc3339: accepted ---- */

START_TEST(test_rfc3339_epoch_and_case)
{
    RFC_OK("1970-01-01T00:00:00Z", 0);
    RFC_OK("1970-01-01t00:00:00Z", 0);
    RFC_OK("1970-01-01T00:00:00z", 0);
    RFC_OK("1970-01-01t00:00:00z", 0);
    RFC_OK("1970-01-01T00:00:01Z", 1000);
    RFC_OK("1970-01-01T00:01:00Z", MS_MIN);
    RFC_OK("1970-01-01T01:00:00Z", MS_HOUR);
    RFC_OK("1970-01-02T00:00:00Z", MS_DAY);
    RFC_OK("1970-01-01T23:59:59Z", MS_DAY - 1000);
    RFC_OK("1969-12-31T23:59:59Z", -1000);
    RFC_OK("2026-11-18T02:30:00Z", MS_2026_11_18_0230);
}
END_TEST

START_TEST(test_rfc3339_fractions)
{
    RFC_OK("1970-01-01T00:00:00.0Z", 0);
    RFC_OK("1970-01-01T00:00:00.000Z", 0);
    RFC_OK("1970-01-01T00:00:01.5Z", 1500);
    RFC_OK("1970-01-01T00:00:01.05Z", 1050);
    RFC_OK("1970-01-01T00:00:01.005Z", 1005);
    RFC_OK("1970-01-01T00:00:00.12Z", 120);
    RFC_OK("1970-01-01T00:00:00.123Z", 123);
    /* Beyond milliseconds: truncated, never rounded. */
    RFC_OK("1970-01-01T00:00:00.1239Z", 123);
    RFC_OK("1970-01-01T00:00:00.999999Z", 999);
    RFC_OK("1970-01-01T00:00:00.999999999Z", 999);
    RFC_OK("1970-01-01T00:00:00.000999Z", 0);
    /* Before the epoch the fraction still adds (the instant is later, not "more negative"). */
    RFC_OK("1969-12-31T23:59:59.999Z", -1);
    RFC_OK("1969-12-31T23:59:59.5Z", -500);
    /* Fraction followed by an offset. */
    RFC_OK("1970-01-01T01:00:00.250+01:00", 250);
}
END_TEST

START_TEST(test_rfc3339_offsets)
{
    RFC_OK("1970-01-01T00:00:00+00:00", 0);
    RFC_OK("1970-01-01T00:00:00-00:00", 0);
    RFC_OK("1970-01-01T01:00:00+01:00", 0);     /* local = UTC + offset */
    RFC_OK("1969-12-31T19:00:00-05:00", 0);
    RFC_OK("1970-01-01T00:00:00+01:00", -MS_HOUR);
    RFC_OK("1970-01-01T00:00:00-01:00", MS_HOUR);
    RFC_OK("2026-11-18T08:00:00+05:30", MS_2026_11_18_0230);
    RFC_OK("2026-11-17T21:00:00-05:30", MS_2026_11_18_0230);
    RFC_OK("2026-11-18T02:30:00+00:00", MS_2026_11_18_0230);
    /* The extremes: offsets crossing a day (and a year) boundary. */
    RFC_OK("1970-01-01T23:59:00+23:59", 0);
    RFC_OK("1969-12-31T00:01:00-23:59", 0);
    RFC_OK("1970-01-01T00:00:00+23:59", -(23 * MS_HOUR + 59 * MS_MIN));
}
END_TEST

START_TEST(test_rfc3339_calendar_edges)
{
    RFC_OK("0001-01-01T00:00:00Z", MS_0001_01_01);
    RFC_OK("9999-12-31T23:59:59.999Z", MS_9999_12_31_END);
    RFC_OK("1900-01-01T00:00:00Z", MS_1900_01_01);
    /* Feb 29 only in leap years: every 4th, not every 100th, but every 400th. */
    RFC_OK("2000-02-29T00:00:00Z", MS_2000_02_29);
    RFC_OK("2000-03-01T00:00:00Z", MS_2000_02_29 + MS_DAY);
    RFC_OK("2000-02-28T00:00:00Z", MS_2000_02_29 - MS_DAY);
    RFC_OK("2024-02-29T12:00:00Z", INT64_C(1709208000000));
    RFC_OK("1600-02-29T00:00:00Z", INT64_C(-11670998400000));
    RFC_BAD("2023-02-29T00:00:00Z");
    RFC_BAD("1900-02-29T00:00:00Z");
    RFC_BAD("2100-02-29T00:00:00Z");
    RFC_BAD("2024-02-30T00:00:00Z");
    /* Month lengths. */
    RFC_OK("2026-01-31T00:00:00Z", INT64_C(1769817600000));
    RFC_OK("2026-04-30T00:00:00Z", INT64_C(1777507200000));
    RFC_OK("2026-12-31T23:59:59Z", INT64_C(1798761599000));
    RFC_BAD("2026-01-32T00:00:00Z");
    RFC_BAD("2026-04-31T00:00:00Z");
    RFC_BAD("2026-06-31T00:00:00Z");
    RFC_BAD("2026-09-31T00:00:00Z");
    RFC_BAD("2026-11-31T00:00:00Z");
    RFC_BAD("2026-12-32T00:00:00Z");
    RFC_BAD("2026-00-10T00:00:00Z");
    RFC_BAD("2026-13-10T00:00:00Z");
    RFC_BAD("2026-01-00T00:00:00Z");
    RFC_BAD("0000-01-01T00:00:00Z"); /* years 0001-9999 */
}
END_TEST

START_TEST(test_rfc3339_time_fields)
{
    RFC_OK("2026-11-18T23:59:59Z", INT64_C(1795046399000));
    RFC_BAD("2026-11-18T24:00:00Z");
    RFC_BAD("2026-11-18T23:60:00Z");
    RFC_BAD("2026-11-18T23:59:60Z"); /* leap second: rejected, stored times must be orderable */
    RFC_BAD("2016-12-31T23:59:60Z"); /* even on a real leap-second day */
    RFC_BAD("2026-11-18T23:59:61Z");
    RFC_BAD("2026-11-18T99:00:00Z");
}
END_TEST

START_TEST(test_rfc3339_syntax_rejected)
{
    RFC_BAD("");
    RFC_BAD("2026-11-18");                   /* a date alone is not a date-time */
    RFC_BAD("2026-11-18T");
    RFC_BAD("2026-11-18T10:00:00");          /* the offset is required */
    RFC_BAD("2026-11-18T10:00:00.5");
    RFC_BAD("2026-11-18 10:00:00Z");         /* space separator */
    RFC_BAD("2026-11-18X10:00:00Z");
    RFC_BAD("2026-11-18T10:00Z");            /* seconds are required */
    RFC_BAD("2026-11-18T1:00:00Z");
    RFC_BAD("2026-11-18T10:0:00Z");
    RFC_BAD("2026-11-18T10:00:0Z");
    RFC_BAD("2026-1-18T10:00:00Z");
    RFC_BAD("2026-11-8T10:00:00Z");
    RFC_BAD("26-11-18T10:00:00Z");
    RFC_BAD("10000-01-01T00:00:00Z");        /* five-digit year */
    RFC_BAD("2026/11/18T10:00:00Z");
    RFC_BAD("2026-11-18T10.00.00Z");
    RFC_BAD("20261118T100000Z");             /* ISO 8601 basic format */
    RFC_BAD(" 2026-11-18T10:00:00Z");        /* no surrounding whitespace */
    RFC_BAD("2026-11-18T10:00:00Z ");
    RFC_BAD("2026-11-18T10:00:00Z\n");
    RFC_BAD("2026-11-18T10:00:00Zjunk");
    RFC_BAD("2026-11-18T10:00:00ZZ");
    RFC_BAD("2026-11-18T10:00:00.Z");        /* a dot needs a digit */
    RFC_BAD("2026-11-18T10:00:00,5Z");       /* comma fractions are ISO 8601, not RFC 3339 */
    RFC_BAD("2026-11-18T10:00:00.5.5Z");
    RFC_BAD("2026-11-18T10:00:00A");
    RFC_BAD("2026-11-18T10:00:00UTC");
    RFC_BAD("2026-11-18T10:00:00GMT");
    RFC_BAD("-2026-11-18T10:00:00Z");
    RFC_BAD("+2026-11-18T10:00:00Z");
    RFC_BAD("2026-11-18T-1:00:00Z");
    RFC_BAD("2026-11-18T+1:00:00Z");
    RFC_BAD("2O26-11-18T10:00:00Z");         /* letter O */
}
END_TEST

START_TEST(test_rfc3339_offset_syntax_rejected)
{
    RFC_BAD("2026-11-18T10:00:00+01");
    RFC_BAD("2026-11-18T10:00:00+0100");
    RFC_BAD("2026-11-18T10:00:00+1:00");
    RFC_BAD("2026-11-18T10:00:00+01:0");
    RFC_BAD("2026-11-18T10:00:00+01:00Z");
    RFC_BAD("2026-11-18T10:00:00+01:00:00");
    RFC_BAD("2026-11-18T10:00:00+24:00");
    RFC_BAD("2026-11-18T10:00:00-24:00");
    RFC_BAD("2026-11-18T10:00:00+01:60");
    RFC_BAD("2026-11-18T10:00:00+");
    RFC_BAD("2026-11-18T10:00:00-");
    RFC_BAD("2026-11-18T10:00:00 +01:00");
    RFC_BAD("2026-11-18T10:00:00+-1:00");
}
END_TEST

/* ---- timefmt_parse_date ---- */

START_TEST(test_parse_date)
{
    DATE_OK("1970-01-01", 0);
    DATE_OK("1970-01-02", MS_DAY);
    DATE_OK("1969-12-31", -MS_DAY);
    DATE_OK("0001-01-01", MS_0001_01_01);
    DATE_OK("9999-12-31", MS_9999_12_31_END + 1 - MS_DAY);
    DATE_OK("1900-01-01", MS_1900_01_01);
    DATE_OK("2000-02-29", MS_2000_02_29);
    DATE_OK("2026-11-18", MS_2026_11_18_0230 - 2 * MS_HOUR - 30 * MS_MIN);

    /* Midnight UTC: the same instant as the date-time form. */
    int64_t date_ms = -1, datetime_ms = -2;
    ck_assert(timefmt_parse_date("2026-11-02", &date_ms));
    ck_assert(timefmt_parse_rfc3339("2026-11-02T00:00:00Z", &datetime_ms));
    ck_assert_int_eq(date_ms, datetime_ms);

    DATE_BAD("");
    DATE_BAD("0000-01-01");
    DATE_BAD("1900-02-29");
    DATE_BAD("2023-02-29");
    DATE_BAD("2026-04-31");
    DATE_BAD("2026-13-01");
    DATE_BAD("2026-00-01");
    DATE_BAD("2026-01-00");
    DATE_BAD("2026-11-2");
    DATE_BAD("2026-1-02");
    DATE_BAD("26-11-02");
    DATE_BAD("2026/11/02");
    DATE_BAD("20261102");
    DATE_BAD("2026-11-02T00:00:00Z"); /* a date only: nothing may follow */
    DATE_BAD("2026-11-02 ");
    DATE_BAD(" 2026-11-02");
    DATE_BAD("2026-11-02Z");
    DATE_BAD("10000-01-01");
}
END_TEST

START_TEST(test_parse_instant)
{
    int64_t ms = -1;
    ck_assert(timefmt_parse_instant("2000-02-29", &ms));
    ck_assert_int_eq(ms, MS_2000_02_29);
    ck_assert(timefmt_parse_instant("2000-02-29T00:00:01.5+00:00", &ms));
    ck_assert_int_eq(ms, MS_2000_02_29 + 1500);
    ck_assert(!timefmt_parse_instant("2000-02-30", &ms));
    ck_assert(!timefmt_parse_instant("2000-02-29T00:00", &ms));
    ck_assert(!timefmt_parse_instant("", &ms));
}
END_TEST

/* ---- timefmt_format_ms ---- */

START_TEST(test_format_fixed)
{
    FMT(0, "1970-01-01T00:00:00.000Z");
    FMT(1, "1970-01-01T00:00:00.001Z");
    FMT(999, "1970-01-01T00:00:00.999Z");
    FMT(1000, "1970-01-01T00:00:01.000Z");
    FMT(MS_DAY - 1, "1970-01-01T23:59:59.999Z");
    FMT(MS_DAY, "1970-01-02T00:00:00.000Z");
    FMT(MS_2000_02_29, "2000-02-29T00:00:00.000Z");
    FMT(MS_2000_02_29 + MS_DAY, "2000-03-01T00:00:00.000Z");
    FMT(MS_2026_11_18_0230 + 123, "2026-11-18T02:30:00.123Z");
    FMT(MS_9999_12_31_END, "9999-12-31T23:59:59.999Z");
}
END_TEST

START_TEST(test_format_before_1970)
{
    FMT(-1, "1969-12-31T23:59:59.999Z");
    FMT(-999, "1969-12-31T23:59:59.001Z");
    FMT(-1000, "1969-12-31T23:59:59.000Z");
    FMT(-1001, "1969-12-31T23:59:58.999Z");
    FMT(-MS_HOUR, "1969-12-31T23:00:00.000Z");
    FMT(-MS_DAY + 1, "1969-12-31T00:00:00.001Z");
    FMT(-MS_DAY, "1969-12-31T00:00:00.000Z");
    FMT(-MS_DAY - 1, "1969-12-30T23:59:59.999Z");
    FMT(-365 * MS_DAY, "1969-01-01T00:00:00.000Z");
    FMT(-365 * MS_DAY - 1, "1968-12-31T23:59:59.999Z");
    FMT(MS_1900_01_01, "1900-01-01T00:00:00.000Z");
    FMT(MS_1900_01_01 - 1, "1899-12-31T23:59:59.999Z");
    FMT(MS_0001_01_01, "0001-01-01T00:00:00.000Z");
    FMT(MS_0001_01_01 + 86399999, "0001-01-01T23:59:59.999Z");
}
END_TEST

/* format then parse gives back the same instant, over years 1 to 9999 (a fixed pseudo-random walk so
 * every run checks the same values). */
START_TEST(test_format_parse_round_trip)
{
    uint64_t state = UINT64_C(0x9E3779B97F4A7C15);
    const uint64_t span = (uint64_t)(MS_9999_12_31_END - MS_0001_01_01) + 1;
    char out[TIMEFMT_BUFSIZE];

    for (int i = 0; i < 200000; i++) {
        state = state * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
        int64_t ms = MS_0001_01_01 + (int64_t)((state >> 11) % span);
        timefmt_format_ms(ms, out);
        ck_assert_uint_eq(strlen(out), 24);
        int64_t back = 0;
        ck_assert_msg(timefmt_parse_rfc3339(out, &back), "%lld formatted as unparseable \"%s\"", (long long)ms, out);
        ck_assert_msg(back == ms, "%lld -> \"%s\" -> %lld", (long long)ms, out, (long long)back);
    }
}
END_TEST

/* ---- calendar arithmetic ---- */

START_TEST(test_days_known_values)
{
    ck_assert_int_eq(timefmt_days_from_civil(1970, 1, 1), 0);
    ck_assert_int_eq(timefmt_days_from_civil(1970, 1, 2), 1);
    ck_assert_int_eq(timefmt_days_from_civil(1969, 12, 31), -1);
    ck_assert_int_eq(timefmt_days_from_civil(2000, 3, 1), 11017);
    ck_assert_int_eq(timefmt_days_from_civil(2000, 2, 29), 11016);
    ck_assert_int_eq(timefmt_days_from_civil(1, 1, 1), -719162);
    ck_assert_int_eq(timefmt_days_from_civil(9999, 12, 31), 2932896);
    ck_assert_int_eq(timefmt_days_from_civil(0, 3, 1), -719468); /* the algorithm's own epoch */

    int64_t y = 0;
    unsigned m = 0, d = 0;
    timefmt_civil_from_days(0, &y, &m, &d);
    ck_assert(y == 1970 && m == 1 && d == 1);
    timefmt_civil_from_days(-1, &y, &m, &d);
    ck_assert(y == 1969 && m == 12 && d == 31);
    timefmt_civil_from_days(11016, &y, &m, &d);
    ck_assert(y == 2000 && m == 2 && d == 29);
    timefmt_civil_from_days(-719162, &y, &m, &d);
    ck_assert(y == 1 && m == 1 && d == 1);
    timefmt_civil_from_days(2932896, &y, &m, &d);
    ck_assert(y == 9999 && m == 12 && d == 31);
    timefmt_civil_from_days(-719468, &y, &m, &d);
    ck_assert(y == 0 && m == 3 && d == 1);
    timefmt_civil_from_days(-719469, &y, &m, &d);
    ck_assert(y == 0 && m == 2 && d == 29); /* proleptic year 0 is a leap year */
}
END_TEST

/* Every day from 0001-01-01 to 9999-12-31, both directions, against a naive calendar walk. */
START_TEST(test_days_every_day_years_1_to_9999)
{
    int64_t y = 1, expect_days = -719162;
    unsigned m = 1, d = 1;

    for (;;) {
        int64_t got_y = 0;
        unsigned got_m = 0, got_d = 0;
        int64_t days = timefmt_days_from_civil(y, m, d);
        if (days != expect_days)
            ck_abort_msg("days_from_civil(%lld, %u, %u) = %lld, expected %lld", (long long)y, m, d, (long long)days,
                         (long long)expect_days);
        timefmt_civil_from_days(expect_days, &got_y, &got_m, &got_d);
        if (got_y != y || got_m != m || got_d != d)
            ck_abort_msg("civil_from_days(%lld) = %lld-%u-%u, expected %lld-%u-%u", (long long)expect_days,
                         (long long)got_y, got_m, got_d, (long long)y, m, d);
        if (y == 9999 && m == 12 && d == 31)
            break;
        expect_days++;
        if (++d > naive_month_days(y, m)) {
            d = 1;
            if (++m > 12) {
                m = 1;
                y++;
            }
        }
    }
    ck_assert_int_eq(expect_days, 2932896);
}
END_TEST

/* Far outside 1-9999 (proleptic, negative years too): still a bijection, with valid dates. */
START_TEST(test_days_round_trip_wide)
{
    int64_t prev_y = 0;
    unsigned prev_m = 0, prev_d = 0;
    bool have_prev = false;

    for (int64_t days = -1000000; days <= 4000000; days++) {
        int64_t y;
        unsigned m, d;
        timefmt_civil_from_days(days, &y, &m, &d);
        if (m < 1 || m > 12 || d < 1 || d > naive_month_days(y, m))
            ck_abort_msg("civil_from_days(%lld) = %lld-%u-%u: not a date", (long long)days, (long long)y, m, d);
        if (timefmt_days_from_civil(y, m, d) != days)
            ck_abort_msg("round trip of %lld via %lld-%u-%u", (long long)days, (long long)y, m, d);
        /* Consecutive days are consecutive dates. */
        if (have_prev) {
            bool next = (y == prev_y && m == prev_m && d == prev_d + 1) ||
                        (y == prev_y && m == prev_m + 1 && d == 1 && prev_d == naive_month_days(prev_y, prev_m)) ||
                        (y == prev_y + 1 && m == 1 && d == 1 && prev_m == 12 && prev_d == 31);
            if (!next)
                ck_abort_msg("%lld-%u-%u followed by %lld-%u-%u", (long long)prev_y, prev_m, prev_d, (long long)y,
                             m, d);
        }
        prev_y = y;
        prev_m = m;
        prev_d = d;
        have_prev = true;
    }
    /* A sparse sample much further out. */
    for (int64_t days = -INT64_C(1000000000); days <= INT64_C(1000000000); days += INT64_C(9999991)) {
        int64_t y;
        unsigned m, d;
        timefmt_civil_from_days(days, &y, &m, &d);
        ck_assert_int_eq(timefmt_days_from_civil(y, m, d), days);
    }
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("timefmt");
    TCase *parse = tcase_create("parse");
    TCase *format = tcase_create("format");
    TCase *calendar = tcase_create("calendar");

    tcase_add_test(parse, test_rfc3339_epoch_and_case);
    tcase_add_test(parse, test_rfc3339_fractions);
    tcase_add_test(parse, test_rfc3339_offsets);
    tcase_add_test(parse, test_rfc3339_calendar_edges);
    tcase_add_test(parse, test_rfc3339_time_fields);
    tcase_add_test(parse, test_rfc3339_syntax_rejected);
    tcase_add_test(parse, test_rfc3339_offset_syntax_rejected);
    tcase_add_test(parse, test_parse_date);
    tcase_add_test(parse, test_parse_instant);
    tcase_add_test(format, test_format_fixed);
    tcase_add_test(format, test_format_before_1970);
    tcase_add_test(format, test_format_parse_round_trip);
    tcase_add_test(calendar, test_days_known_values);
    tcase_add_test(calendar, test_days_every_day_years_1_to_9999);
    tcase_add_test(calendar, test_days_round_trip_wide);
    /* Sanitizer builds are several times slower. */
    tcase_set_timeout(format, 60);
    tcase_set_timeout(calendar, 60);
    suite_add_tcase(suite, parse);
    suite_add_tcase(suite, format);
    suite_add_tcase(suite, calendar);

    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
