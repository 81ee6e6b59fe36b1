/*
 * test_scoring.c - Check unit tests for server/scoring.c.
 *
 * Expected values are computed by hand (arithmetic shown in comments) and
 * were cross-checked with 40-digit arithmetic (Python mpmath).  Raw figures
 * are compared with an absolute tolerance of 1e-9; rounded figures exactly.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scoring.h"

#define TOL 1e-9

/* --- assertion helpers -------------------------------------------------- */

#define assert_absent(v)                                                      \
    do {                                                                      \
        ck_assert_msg(!(v).present, "%s should be absent", #v);              \
        ck_assert_msg((v).value == 0.0, "%s: absent value must be 0", #v);   \
    } while (0)

#define assert_value(v, expected)                                             \
    do {                                                                      \
        ck_assert_msg((v).present, "%s should be present", #v);              \
        ck_assert_double_eq_tol((v).value, (expected), TOL);                  \
    } while (0)

#define assert_interval_absent(iv)                                            \
    do {                                                                      \
        ck_assert_msg(!(iv).present, "%s should be absent", #iv);            \
        ck_assert((iv).low == 0.0 && (iv).high == 0.0);                       \
    } while (0)

#define assert_interval(iv, lo, hi)                                           \
    do {                                                                      \
        ck_assert_msg((iv).present, "%s should be present", #iv);            \
        ck_assert_double_eq_tol((iv).low, (lo), TOL);                         \
        ck_assert_double_eq_tol((iv).high, (hi), TOL);                        \
    } while (0)

/* ======================================================================= */
/* NPS                                                                     */
/* ======================================================================= */

static void assert_nps_all_absent(const struct scoring_nps *r)
{
    assert_absent(r->score);
    assert_absent(r->promoters_pct);
    assert_absent(r->passives_pct);
    assert_absent(r->detractors_pct);
    assert_absent(r->margin_of_error);
    assert_absent(r->std_error);
    assert_interval_absent(r->ci95);
}

START_TEST(test_nps_empty)
{
    const uint64_t dist[SCORING_NPS_BUCKETS] = { 0 };
    struct scoring_nps r;

    memset(&r, 0xff, sizeof(r)); /* garbage in: everything must be set */
    scoring_nps(dist, &r);
    ck_assert_uint_eq(r.answered, 0);
    ck_assert_uint_eq(r.promoters, 0);
    ck_assert_uint_eq(r.passives, 0);
    ck_assert_uint_eq(r.detractors, 0);
    assert_nps_all_absent(&r);

    /* NULL histogram reads as empty; NULL out must not crash. */
    memset(&r, 0xff, sizeof(r));
    scoring_nps(NULL, &r);
    ck_assert_uint_eq(r.answered, 0);
    assert_nps_all_absent(&r);
    scoring_nps(dist, NULL);
}
END_TEST

START_TEST(test_nps_single_answer)
{
    /* n = 1: one promoter -> p = 1, d = 0, var = 1 - 1 = 0 -> moe 0. */
    uint64_t dist[SCORING_NPS_BUCKETS] = { 0 };
    struct scoring_nps r;

    dist[10] = 1;
    scoring_nps(dist, &r);
    ck_assert_uint_eq(r.answered, 1);
    assert_value(r.score, 100.0);
    assert_value(r.margin_of_error, 0.0);
    assert_value(r.std_error, 0.0);
    assert_interval(r.ci95, 100.0, 100.0);

    /* One passive: score 0, var = 0 + 0 - 0 = 0. */
    memset(dist, 0, sizeof(dist));
    dist[7] = 1;
    scoring_nps(dist, &r);
    assert_value(r.score, 0.0);
    assert_value(r.passives_pct, 100.0);
    assert_value(r.margin_of_error, 0.0);
    assert_interval(r.ci95, 0.0, 0.0);

    /* One detractor: -100. */
    memset(dist, 0, sizeof(dist));
    dist[3] = 1;
    scoring_nps(dist, &r);
    assert_value(r.score, -100.0);
    assert_value(r.detractors_pct, 100.0);
    assert_interval(r.ci95, -100.0, -100.0);
}
END_TEST

START_TEST(test_nps_bucket_boundaries)
{
    /* Each answer 0..10 alone: 0-6 detractor, 7-8 passive, 9-10 promoter. */
    static const int expect[SCORING_NPS_BUCKETS] = {
        -100, -100, -100, -100, -100, -100, -100, 0, 0, 100, 100
    };

    for (int k = 0; k < SCORING_NPS_BUCKETS; k++) {
        uint64_t dist[SCORING_NPS_BUCKETS] = { 0 };
        struct scoring_nps r;

        dist[k] = 3;
        scoring_nps(dist, &r);
        ck_assert_uint_eq(r.answered, 3);
        ck_assert_msg(fabs(r.score.value - expect[k]) < TOL,
                      "answer %d: score %f, want %d", k, r.score.value,
                      expect[k]);
    }

    /* One of each: D = 7 (0..6), Pa = 2, P = 2, n = 11.
     * score = 100 * (2 - 7) / 11 = -45.4545...;
     * p = 2/11, d = 7/11, var = 9/11 - 25/121 = 74/121 = 0.6115702479...
     * moe = 196 * sqrt(74/121/11) = 46.21499426556484
     * ci = [-91.66953972011029, 0.7604488110193832] (no clamping needed). */
    uint64_t all[SCORING_NPS_BUCKETS];
    struct scoring_nps r;

    for (int k = 0; k < SCORING_NPS_BUCKETS; k++)
        all[k] = 1;
    scoring_nps(all, &r);
    ck_assert_uint_eq(r.detractors, 7);
    ck_assert_uint_eq(r.passives, 2);
    ck_assert_uint_eq(r.promoters, 2);
    assert_value(r.score, -500.0 / 11.0);
    assert_value(r.margin_of_error, 46.21499426556484);
    assert_interval(r.ci95, -91.66953972011029, 0.7604488110193832);
}
END_TEST

START_TEST(test_nps_all_promoters)
{
    uint64_t dist[SCORING_NPS_BUCKETS] = { 0 };
    struct scoring_nps r;

    dist[9] = 30;
    dist[10] = 70;
    scoring_nps(dist, &r);
    ck_assert_uint_eq(r.answered, 100);
    ck_assert_uint_eq(r.promoters, 100);
    assert_value(r.score, 100.0);
    assert_value(r.promoters_pct, 100.0);
    assert_value(r.passives_pct, 0.0);
    assert_value(r.detractors_pct, 0.0);
    assert_value(r.margin_of_error, 0.0);
    assert_value(r.std_error, 0.0);
    assert_interval(r.ci95, 100.0, 100.0);
}
END_TEST

START_TEST(test_nps_all_detractors)
{
    uint64_t dist[SCORING_NPS_BUCKETS] = { 0 };
    struct scoring_nps r;

    for (int k = 0; k <= 6; k++)
        dist[k] = 10;
    scoring_nps(dist, &r);
    ck_assert_uint_eq(r.answered, 70);
    ck_assert_uint_eq(r.detractors, 70);
    assert_value(r.score, -100.0);
    assert_value(r.detractors_pct, 100.0);
    assert_value(r.margin_of_error, 0.0);
    assert_interval(r.ci95, -100.0, -100.0);
}
END_TEST

START_TEST(test_nps_mixed)
{
    /* P = 600, Pa = 223, D = 177, n = 1000, spread over several answers.
     * score = 100 * (600 - 177) / 1000 = 42.3
     * p = 0.6, d = 0.177
     * var = p + d - (p - d)^2 = 0.777 - 0.423^2 = 0.777 - 0.178929
     *     = 0.598071
     * var / n = 0.000598071, sqrt = 0.02445549018114337...
     * moe = 196 * 0.02445549018114337 = 4.793276075504101
     * SE  = 100 * 0.02445549018114337 = 2.445549018114337
     * ci  = [42.3 - 4.793276075504101, 42.3 + 4.793276075504101]
     *     = [37.50672392449590, 47.09327607550410]
     * Rounded for replies: 42.3, 4.79, [37.51, 47.09]. */
    uint64_t dist[SCORING_NPS_BUCKETS] = { 0 };
    struct scoring_nps r;

    dist[0] = 100;
    dist[6] = 77;  /* D = 177 */
    dist[7] = 100;
    dist[8] = 123; /* Pa = 223 */
    dist[9] = 200;
    dist[10] = 400; /* P = 600 */
    scoring_nps(dist, &r);
    ck_assert_uint_eq(r.answered, 1000);
    ck_assert_uint_eq(r.promoters, 600);
    ck_assert_uint_eq(r.passives, 223);
    ck_assert_uint_eq(r.detractors, 177);
    assert_value(r.score, 42.3);
    assert_value(r.promoters_pct, 60.0);
    assert_value(r.passives_pct, 22.3);
    assert_value(r.detractors_pct, 17.7);
    assert_value(r.margin_of_error, 4.793276075504101);
    assert_value(r.std_error, 2.445549018114337);
    assert_interval(r.ci95, 37.50672392449590, 47.09327607550410);

    ck_assert_double_eq(scoring_round2(r.score.value), 42.3);
    ck_assert_double_eq(scoring_round2(r.margin_of_error.value), 4.79);
    ck_assert_double_eq(scoring_round2(r.ci95.low), 37.51);
    ck_assert_double_eq(scoring_round2(r.ci95.high), 47.09);
}
END_TEST

START_TEST(test_nps_ci_clamped)
{
    /* P = 9, Pa = 1, n = 10: score 90, var = 0.9 - 0.81 = 0.09,
     * moe = 196 * sqrt(0.009) = 18.59419264179007 -> upper 108.59 clamps
     * to 100, lower = 71.40580735820993. */
    uint64_t dist[SCORING_NPS_BUCKETS] = { 0 };
    struct scoring_nps r;

    dist[10] = 9;
    dist[8] = 1;
    scoring_nps(dist, &r);
    assert_value(r.score, 90.0);
    assert_value(r.margin_of_error, 18.59419264179007);
    assert_interval(r.ci95, 71.40580735820993, 100.0);

    /* Mirror image: 9 detractors, 1 passive -> [-100, -71.40580735820993]. */
    memset(dist, 0, sizeof(dist));
    dist[0] = 9;
    dist[7] = 1;
    scoring_nps(dist, &r);
    assert_value(r.score, -90.0);
    assert_interval(r.ci95, -100.0, -71.40580735820993);
}
END_TEST

START_TEST(test_nps_worked_example)
{
    /* Worked example of the Bain & Company / Reichheld NPS definition
     * ("% promoters minus % detractors"): 100 respondents, 50 promoters,
     * 30 passives, 20 detractors -> NPS = 50% - 20% = 30.
     * Margin of error: p = 0.5, d = 0.2, var = 0.7 - 0.3^2 = 0.61,
     * moe = 196 * sqrt(0.0061) = 15.30808936477704 -> ci [14.69, 45.31]. */
    uint64_t dist[SCORING_NPS_BUCKETS] = { 0 };
    struct scoring_nps r;

    dist[10] = 50;
    dist[8] = 30;
    dist[5] = 20;
    scoring_nps(dist, &r);
    assert_value(r.score, 30.0);
    assert_value(r.promoters_pct, 50.0);
    assert_value(r.passives_pct, 30.0);
    assert_value(r.detractors_pct, 20.0);
    assert_value(r.margin_of_error, 15.30808936477704);
    assert_value(r.std_error, 7.810249675906654);
    assert_interval(r.ci95, 14.69191063522296, 45.30808936477704);
    ck_assert_double_eq(scoring_round2(r.ci95.low), 14.69);
    ck_assert_double_eq(scoring_round2(r.ci95.high), 45.31);
}
END_TEST

/* ======================================================================= */
/* CSAT                                                                    */
/* ======================================================================= */

START_TEST(test_csat_scale_valid)
{
    for (int s = -3; s <= 20; s++) {
        bool want = s == 2 || s == 3 || s == 4 || s == 5 || s == 6 ||
                    s == 7 || s == 10;
        ck_assert_msg(scoring_csat_scale_valid(s) == want, "scale %d", s);
    }
    ck_assert_int_eq(scoring_csat_top_box_min(2), 2);
    ck_assert_int_eq(scoring_csat_top_box_min(3), 3);
    ck_assert_int_eq(scoring_csat_top_box_min(4), 3);
    ck_assert_int_eq(scoring_csat_top_box_min(5), 4);
    ck_assert_int_eq(scoring_csat_top_box_min(6), 5);
    ck_assert_int_eq(scoring_csat_top_box_min(7), 6);
    ck_assert_int_eq(scoring_csat_top_box_min(10), 8);
    ck_assert_int_eq(scoring_csat_top_box_min(8), 0);
    ck_assert_int_eq(scoring_csat_top_box_min(1), 0);
}
END_TEST

START_TEST(test_csat_top_boxes_every_scale)
{
    /* dist[i] = 2^i (answer a has 2^(a-1) votes), so the satisfied count
     * is a bit mask naming exactly which answers were counted:
     *   2  -> {2}        = 2
     *   3  -> {3}        = 4
     *   4  -> {3,4}      = 4 + 8 = 12
     *   5  -> {4,5}      = 8 + 16 = 24
     *   6  -> {5,6}      = 16 + 32 = 48
     *   7  -> {6,7}      = 32 + 64 = 96
     *   10 -> {8,9,10}   = 128 + 256 + 512 = 896 */
    static const struct {
        int scale;
        uint64_t answered, satisfied;
    } cases[] = {
        { 2, 3, 2 },   { 3, 7, 4 },   { 4, 15, 12 },     { 5, 31, 24 },
        { 6, 63, 48 }, { 7, 127, 96 }, { 10, 1023, 896 },
    };
    uint64_t dist[SCORING_SCALE_MAX];

    for (int i = 0; i < SCORING_SCALE_MAX; i++)
        dist[i] = (uint64_t)1 << i;
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        struct scoring_csat r;

        ck_assert(scoring_csat(dist, cases[c].scale, &r));
        ck_assert_int_eq(r.scale, cases[c].scale);
        ck_assert_uint_eq(r.answered, cases[c].answered);
        ck_assert_uint_eq(r.satisfied, cases[c].satisfied);
        assert_value(r.score, 100.0 * (double)cases[c].satisfied /
                                  (double)cases[c].answered);
    }
}
END_TEST

START_TEST(test_csat_invalid_scale)
{
    static const int bad[] = { -1, 0, 1, 8, 9, 11, 100 };
    uint64_t dist[SCORING_SCALE_MAX + 10];
    struct scoring_csat r;

    for (size_t i = 0; i < sizeof(dist) / sizeof(dist[0]); i++)
        dist[i] = 5;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&r, 0xff, sizeof(r));
        ck_assert_msg(!scoring_csat(dist, bad[i], &r), "scale %d", bad[i]);
        ck_assert_uint_eq(r.answered, 0);
        assert_absent(r.score);
        assert_absent(r.mean);
        assert_absent(r.std_error);
        assert_interval_absent(r.ci95);
    }
    ck_assert(!scoring_csat(NULL, 5, &r));
    ck_assert(!scoring_csat(dist, 5, NULL));
}
END_TEST

START_TEST(test_csat_empty)
{
    const uint64_t dist[SCORING_SCALE_MAX] = { 0 };
    struct scoring_csat r;

    memset(&r, 0xff, sizeof(r));
    ck_assert(scoring_csat(dist, 10, &r));
    ck_assert_int_eq(r.scale, 10);
    ck_assert_uint_eq(r.answered, 0);
    ck_assert_uint_eq(r.satisfied, 0);
    assert_absent(r.score);
    assert_absent(r.mean);
    assert_absent(r.std_error);
    assert_interval_absent(r.ci95);
}
END_TEST

START_TEST(test_csat_single_answer)
{
    /* n = 1, q = 1, z^2 = 3.841458879...:
     * Wilson low = (1 + z^2/2 - z^2/2) / (1 + z^2) = 1 / (1 + z^2)
     *            = 0.2065493117918027 -> [20.65493117918027, 100].
     * For q = 0 the interval mirrors: [0, 100 - 20.65...] = [0, 79.345...]. */
    uint64_t dist[5] = { 0, 0, 0, 0, 1 };
    struct scoring_csat r;

    ck_assert(scoring_csat(dist, 5, &r));
    assert_value(r.score, 100.0);
    assert_value(r.mean, 5.0);
    assert_value(r.std_error, 0.0);
    assert_interval(r.ci95, 20.65493117918027, 100.0);

    dist[4] = 0;
    dist[0] = 1;
    ck_assert(scoring_csat(dist, 5, &r));
    assert_value(r.score, 0.0);
    assert_value(r.mean, 1.0);
    assert_interval(r.ci95, 0.0, 79.34506882081973);
}
END_TEST

START_TEST(test_csat_wilson)
{
    /* 7-point scale, top two boxes {6, 7}: 30 of 40 satisfied.
     * q = 0.75, n = 40, z = 1.959964, z^2 = 3.841458881296
     * z^2/n = 0.0960364720324, denom = 1.0960364720324
     * centre = (0.75 + z^2/80) / denom = (0.75 + 0.0480182360162) / denom
     *        = 0.7280945993853841
     * half = z * sqrt(q(1-q)/n + z^2/(4 n^2)) / denom
     *      = 1.959964 * sqrt(0.0046875 + 0.00060022795020) / denom
     *      = 1.959964 * 0.07271966728... / 1.0960364720324
     *      = 0.1300342148707361
     * ci = 100 * [0.5980603845146480, 0.8581288142561201]
     * SE = 100 * sqrt(0.75 * 0.25 / 40) = 6.846531968814576
     * mean = (10*1 + 0 + 0 + 0 + 0 + 10*6 + 20*7) / 40 = 210 / 40 = 5.25 */
    const uint64_t dist[7] = { 10, 0, 0, 0, 0, 10, 20 };
    struct scoring_csat r;

    ck_assert(scoring_csat(dist, 7, &r));
    ck_assert_uint_eq(r.answered, 40);
    ck_assert_uint_eq(r.satisfied, 30);
    assert_value(r.score, 75.0);
    assert_value(r.mean, 5.25);
    assert_value(r.std_error, 6.846531968814576);
    assert_interval(r.ci95, 59.80603845146480, 85.81288142561201);
    ck_assert_double_eq(scoring_round2(r.ci95.low), 59.81);
    ck_assert_double_eq(scoring_round2(r.ci95.high), 85.81);
}
END_TEST

START_TEST(test_csat_worked_example)
{
    /* Textbook CSAT (e.g. the Qualtrics / ACSI-style CSAT guides): on a
     * 5-point scale, CSAT = share of 4 ("satisfied") and 5 ("very
     * satisfied") answers.  80 of 100 answered 4 or 5 -> CSAT 80%.
     * Counts 5, 5, 10, 40, 40 for answers 1..5:
     * mean = (5 + 10 + 30 + 160 + 200) / 100 = 4.05
     * Wilson, q = 0.8, n = 100: denom = 1.03841458881296,
     * centre = (0.8 + 0.0192072944065) / denom = 0.7889019503693011,
     * half = 1.959964 * sqrt(0.0016 + 0.0000960364720) / denom
     *      = 0.07773111673355052
     * ci = [71.11708336357506, 86.66330671028516]; SE = 100*sqrt(.0016) = 4 */
    const uint64_t dist[5] = { 5, 5, 10, 40, 40 };
    struct scoring_csat r;

    ck_assert(scoring_csat(dist, 5, &r));
    ck_assert_uint_eq(r.satisfied, 80);
    assert_value(r.score, 80.0);
    assert_value(r.mean, 4.05);
    assert_value(r.std_error, 4.0);
    assert_interval(r.ci95, 71.11708336357506, 86.66330671028516);
}
END_TEST

/* ======================================================================= */
/* CES                                                                     */
/* ======================================================================= */

static void assert_ces_all_absent(const struct scoring_ces *r)
{
    assert_absent(r->score);
    assert_absent(r->easy_pct);
    assert_absent(r->std_error);
    assert_interval_absent(r->ci95);
}

START_TEST(test_ces_scale_valid)
{
    for (int s = -3; s <= 20; s++)
        ck_assert_msg(scoring_ces_scale_valid(s) == (s == 5 || s == 7),
                      "scale %d", s);
    ck_assert_int_eq(scoring_ces_easy_min(5), 4);
    ck_assert_int_eq(scoring_ces_easy_min(7), 5);
    ck_assert_int_eq(scoring_ces_easy_min(6), 0);
}
END_TEST

START_TEST(test_ces_invalid_scale)
{
    static const int bad[] = { 0, 3, 4, 6, 10 };
    const uint64_t dist[SCORING_SCALE_MAX] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
    struct scoring_ces r;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&r, 0xff, sizeof(r));
        ck_assert_msg(!scoring_ces(dist, bad[i], &r), "scale %d", bad[i]);
        ck_assert_uint_eq(r.answered, 0);
        assert_ces_all_absent(&r);
    }
    ck_assert(!scoring_ces(NULL, 5, &r));
    ck_assert(!scoring_ces(dist, 7, NULL));
}
END_TEST

START_TEST(test_ces_empty)
{
    const uint64_t dist[7] = { 0 };
    struct scoring_ces r;

    memset(&r, 0xff, sizeof(r));
    ck_assert(scoring_ces(dist, 7, &r));
    ck_assert_int_eq(r.scale, 7);
    ck_assert_uint_eq(r.answered, 0);
    ck_assert_uint_eq(r.easy, 0);
    assert_ces_all_absent(&r);
}
END_TEST

START_TEST(test_ces_single_answer)
{
    /* n = 1: the mean is defined, the sample SD (n - 1 = 0) is not. */
    const uint64_t dist[7] = { 0, 0, 0, 0, 0, 1, 0 };
    struct scoring_ces r;

    ck_assert(scoring_ces(dist, 7, &r));
    ck_assert_uint_eq(r.answered, 1);
    assert_value(r.score, 6.0);
    assert_value(r.easy_pct, 100.0);
    assert_absent(r.std_error);
    assert_interval_absent(r.ci95);
}
END_TEST

START_TEST(test_ces_five_point)
{
    /* Answers 2, 3, 4, 4, 5 on a 5-point scale:
     * mean = 18 / 5 = 3.6
     * squared deviations: 1.6^2 + 0.6^2 + 2 * 0.4^2 + 1.4^2
     *                   = 2.56 + 0.36 + 0.32 + 1.96 = 5.2
     * s^2 = 5.2 / 4 = 1.3, s = 1.140175425099138
     * SE = s / sqrt(5) = sqrt(0.26) = 0.5099019513592785
     * ci = 3.6 -/+ 1.959964 * 0.5099019513592785 = 3.6 -/+ 0.999389468...
     *    = [2.600610531806063, 4.599389468193937]
     * easy (>= 4) = 3 of 5 = 60% */
    const uint64_t dist[5] = { 0, 1, 1, 2, 1 };
    struct scoring_ces r;

    ck_assert(scoring_ces(dist, 5, &r));
    ck_assert_uint_eq(r.answered, 5);
    ck_assert_uint_eq(r.easy, 3);
    assert_value(r.score, 3.6);
    assert_value(r.easy_pct, 60.0);
    assert_value(r.std_error, 0.5099019513592785);
    assert_interval(r.ci95, 2.600610531806063, 4.599389468193937);
}
END_TEST

START_TEST(test_ces_easy_thresholds)
{
    /* 5-point: 3 is not easy, 4 is. */
    uint64_t d5[5] = { 0, 0, 1, 0, 0 };
    /* 7-point: 4 is not easy, 5 is. */
    uint64_t d7[7] = { 0, 0, 0, 1, 0, 0, 0 };
    struct scoring_ces r;

    ck_assert(scoring_ces(d5, 5, &r));
    ck_assert_uint_eq(r.easy, 0);
    assert_value(r.easy_pct, 0.0);
    d5[2] = 0;
    d5[3] = 1;
    ck_assert(scoring_ces(d5, 5, &r));
    ck_assert_uint_eq(r.easy, 1);
    assert_value(r.easy_pct, 100.0);

    ck_assert(scoring_ces(d7, 7, &r));
    ck_assert_uint_eq(r.easy, 0);
    assert_value(r.easy_pct, 0.0);
    d7[3] = 0;
    d7[4] = 1;
    ck_assert(scoring_ces(d7, 7, &r));
    ck_assert_uint_eq(r.easy, 1);
    assert_value(r.easy_pct, 100.0);

    /* Same histogram read as 5- and 7-point: answers 1..5 once each.
     * 5-point easy = {4,5} = 2 of 5 = 40%; 7-point easy = {5} = 20%. */
    const uint64_t same[7] = { 1, 1, 1, 1, 1, 0, 0 };
    ck_assert(scoring_ces(same, 5, &r));
    assert_value(r.easy_pct, 40.0);
    ck_assert(scoring_ces(same, 7, &r));
    assert_value(r.easy_pct, 20.0);
}
END_TEST

START_TEST(test_ces_constant_answers)
{
    /* A billion identical answers: s must be exactly 0 (two-pass variance,
     * no sqrt of a negative rounding residue), ci collapses to [7, 7]. */
    const uint64_t dist[7] = { 0, 0, 0, 0, 0, 0, 1000000000 };
    struct scoring_ces r;

    ck_assert(scoring_ces(dist, 7, &r));
    ck_assert_double_eq(r.score.value, 7.0);
    ck_assert_double_eq(r.std_error.value, 0.0);
    ck_assert(r.ci95.present);
    ck_assert_double_eq(r.ci95.low, 7.0);
    ck_assert_double_eq(r.ci95.high, 7.0);
}
END_TEST

START_TEST(test_ces_worked_example)
{
    /* CES 2.0 as defined by CEB/Gartner: 7-point agreement with "The
     * company made it easy for me to handle my issue", score = mean answer.
     * Illustrative survey of 100: counts 2, 3, 5, 10, 20, 30, 30 for 1..7.
     * sum = 2 + 6 + 15 + 40 + 100 + 180 + 210 = 553 -> mean 5.53
     * squared deviations around 5.53:
     *   2*4.53^2 + 3*3.53^2 + 5*2.53^2 + 10*1.53^2 + 20*0.53^2
     *   + 30*0.47^2 + 30*1.47^2
     *   = 41.0418 + 37.3827 + 32.0045 + 23.409 + 5.618 + 6.627 + 64.827
     *   = 210.91
     * s = sqrt(210.91 / 99) = 1.459590367330519, SE = s / 10
     * ci = 5.53 -/+ 1.959964 * 0.1459590367330519
     *    = [5.243925542528541, 5.816074457471459]
     * easy (>= 5) = 20 + 30 + 30 = 80 -> 80% */
    const uint64_t dist[7] = { 2, 3, 5, 10, 20, 30, 30 };
    struct scoring_ces r;

    ck_assert(scoring_ces(dist, 7, &r));
    ck_assert_uint_eq(r.answered, 100);
    ck_assert_uint_eq(r.easy, 80);
    assert_value(r.score, 5.53);
    assert_value(r.easy_pct, 80.0);
    assert_value(r.std_error, 0.1459590367330519);
    assert_interval(r.ci95, 5.243925542528541, 5.816074457471459);
    ck_assert_double_eq(scoring_round2(r.score.value), 5.53);
    ck_assert_double_eq(scoring_round2(r.ci95.low), 5.24);
    ck_assert_double_eq(scoring_round2(r.ci95.high), 5.82);
}
END_TEST

/* ======================================================================= */
/* yes / no                                                                */
/* ======================================================================= */

START_TEST(test_yes_no_empty)
{
    struct scoring_yes_no r;

    memset(&r, 0xff, sizeof(r));
    scoring_yes_no(0, 0, &r);
    ck_assert_uint_eq(r.answered, 0);
    ck_assert_uint_eq(r.yes, 0);
    ck_assert_uint_eq(r.no, 0);
    assert_absent(r.yes_pct);
    assert_absent(r.std_error);
    assert_interval_absent(r.ci95);
    scoring_yes_no(1, 1, NULL); /* must not crash */
}
END_TEST

START_TEST(test_yes_no_mixed)
{
    /* 30 yes, 10 no: same proportion as the CSAT Wilson case (q = 0.75,
     * n = 40) -> 75%, ci [59.80603845146480, 85.81288142561201],
     * SE 6.846531968814576. */
    struct scoring_yes_no r;

    scoring_yes_no(30, 10, &r);
    ck_assert_uint_eq(r.answered, 40);
    ck_assert_uint_eq(r.yes, 30);
    ck_assert_uint_eq(r.no, 10);
    assert_value(r.yes_pct, 75.0);
    assert_value(r.std_error, 6.846531968814576);
    assert_interval(r.ci95, 59.80603845146480, 85.81288142561201);
}
END_TEST

START_TEST(test_yes_no_one_sided)
{
    /* 1 yes: 100%, Wilson [1/(1+z^2), 1] = [20.65493117918027, 100]. */
    struct scoring_yes_no r;

    scoring_yes_no(1, 0, &r);
    assert_value(r.yes_pct, 100.0);
    assert_value(r.std_error, 0.0);
    assert_interval(r.ci95, 20.65493117918027, 100.0);

    /* 10 no: 0%, Wilson upper = (z^2/10) / (1 + z^2/10)
     * = 0.3841458881296 / 1.3841458881296 = 0.2775328030260577. */
    scoring_yes_no(0, 10, &r);
    assert_value(r.yes_pct, 0.0);
    assert_interval(r.ci95, 0.0, 27.75328030260577);
}
END_TEST

/* ======================================================================= */
/* shares (response rates)                                                 */
/* ======================================================================= */

START_TEST(test_share_none_sent)
{
    struct scoring_share r;

    memset(&r, 0xff, sizeof(r));
    scoring_share(0, 0, &r);
    ck_assert_uint_eq(r.n, 0);
    ck_assert_uint_eq(r.k, 0);
    assert_absent(r.pct);
    assert_absent(r.std_error);
    assert_interval_absent(r.ci95);
    scoring_share(1, 1, NULL); /* must not crash */
}
END_TEST

START_TEST(test_share_rate)
{
    /* 3 responded of 8 sent: 37.5%, Wilson [13.68442847391229,
     * 69.42576073462290] (computed apart, in Python, from the formula). */
    struct scoring_share r;

    scoring_share(3, 8, &r);
    assert_value(r.pct, 37.5);
    assert_interval(r.ci95, 13.68442847391229, 69.42576073462290);
    /* the same as a yes/no question with 3 yes and 5 no */
    struct scoring_yes_no yn;
    scoring_yes_no(3, 5, &yn);
    assert_interval(r.ci95, yn.ci95.low, yn.ci95.high);

    scoring_share(0, 5, &r);
    assert_value(r.pct, 0.0);
    assert_interval(r.ci95, 0.0, 43.44824686593928);
}
END_TEST

START_TEST(test_share_clamped)
{
    /* more responded than sent (a store that miscounted): a share of 100%, never more */
    struct scoring_share r;

    scoring_share(9, 4, &r);
    ck_assert_uint_eq(r.k, 4);
    assert_value(r.pct, 100.0);
    ck_assert(r.ci95.high <= 100.0);
}
END_TEST

/* ======================================================================= */
/* comparison                                                              */
/* ======================================================================= */

static struct scoring_value val(double x)
{
    struct scoring_value v = { true, x };
    return v;
}

static const struct scoring_value none = { false, 0.0 };

START_TEST(test_compare_threshold)
{
    /* SE 3 and 4 -> combined sqrt(9 + 16) = 5,
     * threshold = 1.959964 * 5 = 9.79982. */
    struct scoring_change c;

    c = scoring_compare(val(50.0), val(3.0), val(40.0), val(4.0));
    ck_assert(c.present);
    ck_assert_double_eq_tol(c.delta, 10.0, TOL);
    ck_assert(c.significant); /* 10 > 9.79982 */

    c = scoring_compare(val(49.79), val(3.0), val(40.0), val(4.0));
    ck_assert(c.present);
    ck_assert_double_eq_tol(c.delta, 9.79, TOL);
    ck_assert(!c.significant); /* 9.79 < 9.79982 */

    c = scoring_compare(val(49.8), val(3.0), val(40.0), val(4.0));
    ck_assert(c.significant); /* 9.8 > 9.79982 */

    c = scoring_compare(val(30.0), val(3.0), val(40.0), val(4.0));
    ck_assert_double_eq_tol(c.delta, -10.0, TOL);
    ck_assert(c.significant); /* decreases count too */

    /* Strict test: no change is never significant, even with SE 0. */
    c = scoring_compare(val(100.0), val(0.0), val(100.0), val(0.0));
    ck_assert(c.present);
    ck_assert_double_eq(c.delta, 0.0);
    ck_assert(!c.significant);
}
END_TEST

START_TEST(test_compare_absent)
{
    struct scoring_change c;

    c = scoring_compare(none, none, val(40.0), val(4.0));
    ck_assert(!c.present);
    ck_assert(!c.significant);
    ck_assert_double_eq(c.delta, 0.0);

    c = scoring_compare(val(40.0), val(4.0), none, none);
    ck_assert(!c.present);
    ck_assert(!c.significant);
    ck_assert_double_eq(c.delta, 0.0);

    /* CES with n = 1 on one side: delta defined, never significant. */
    c = scoring_compare(val(7.0), none, val(2.0), val(0.1));
    ck_assert(c.present);
    ck_assert_double_eq_tol(c.delta, 5.0, TOL);
    ck_assert(!c.significant);
}
END_TEST

START_TEST(test_compare_nps_windows)
{
    /* Current: P 600 / Pa 223 / D 177 (score 42.3, SE 2.445549018114337).
     * Previous: P 500 / Pa 250 / D 250 of 1000: score 25,
     *   var = 0.75 - 0.25^2 = 0.6875, SE = 100 * sqrt(0.0006875)
     *       = 2.622022120425379.
     * threshold = 1.959964 * sqrt(5.98071 + 6.875) = 1.959964 * 3.58548...
     *           = 7.0274 -> delta 17.3 significant. */
    uint64_t cur[SCORING_NPS_BUCKETS] = { 0 };
    uint64_t prev[SCORING_NPS_BUCKETS] = { 0 };
    struct scoring_nps a, b;
    struct scoring_change c;

    cur[10] = 600;
    cur[8] = 223;
    cur[2] = 177;
    prev[9] = 500;
    prev[7] = 250;
    prev[0] = 250;
    scoring_nps(cur, &a);
    scoring_nps(prev, &b);
    assert_value(b.std_error, 2.622022120425379);
    c = scoring_compare(a.score, a.std_error, b.score, b.std_error);
    ck_assert(c.present);
    ck_assert_double_eq_tol(c.delta, 17.3, TOL);
    ck_assert(c.significant);

    /* Bain example (30, SE sqrt(61)) vs 45/30/25 (20, SE sqrt(66)):
     * threshold = 1.959964 * sqrt(127) = 22.0875 > 10 -> not significant. */
    uint64_t x[SCORING_NPS_BUCKETS] = { 0 };
    uint64_t y[SCORING_NPS_BUCKETS] = { 0 };

    x[10] = 50;
    x[7] = 30;
    x[6] = 20;
    y[9] = 45;
    y[8] = 30;
    y[1] = 25;
    scoring_nps(x, &a);
    scoring_nps(y, &b);
    c = scoring_compare(a.score, a.std_error, b.score, b.std_error);
    ck_assert(c.present);
    ck_assert_double_eq_tol(c.delta, 10.0, TOL);
    ck_assert(!c.significant);

    /* Previous window empty: change absent. */
    memset(y, 0, sizeof(y));
    scoring_nps(y, &b);
    c = scoring_compare(a.score, a.std_error, b.score, b.std_error);
    ck_assert(!c.present);
}
END_TEST

START_TEST(test_compare_ces_single)
{
    /* Current CES window has n = 1 (score 6, SE absent); previous is the
     * 7-point worked example (5.53, SE 0.146).  Delta 6 - 5.53 = 0.47 is
     * reported but not significant because one side has no SE. */
    const uint64_t one[7] = { 0, 0, 0, 0, 0, 1, 0 };
    const uint64_t many[7] = { 2, 3, 5, 10, 20, 30, 30 };
    struct scoring_ces a, b;
    struct scoring_change c;

    ck_assert(scoring_ces(one, 7, &a));
    ck_assert(scoring_ces(many, 7, &b));
    c = scoring_compare(a.score, a.std_error, b.score, b.std_error);
    ck_assert(c.present);
    ck_assert_double_eq_tol(c.delta, 0.47, TOL);
    ck_assert(!c.significant);
}
END_TEST

/* ======================================================================= */
/* rounding                                                                */
/* ======================================================================= */

START_TEST(test_round2)
{
    static const struct {
        double in, out;
    } cases[] = {
        { 0.0, 0.0 },
        { 1.234, 1.23 },
        { 1.235, 1.24 },   /* stored as 1.2350000000000000977 */
        { 1.236, 1.24 },
        { 1.005, 1.01 },   /* stored as 1.00499999999999989342 */
        { 2.675, 2.68 },   /* stored as 2.67499999999999982236 */
        { 0.125, 0.13 },   /* exact binary half: away from zero */
        { 0.005, 0.01 },
        { 0.004999, 0.0 },
        { 0.994999, 0.99 },
        { 0.995, 1.0 },
        { 42.3, 42.3 },
        { 100.0, 100.0 },
        { 99.999, 100.0 },
        { -1.234, -1.23 },
        { -1.236, -1.24 },
        { -2.675, -2.68 },
        { -0.125, -0.13 },
        { -0.005, -0.01 },
        { -100.0, -100.0 },
        { 123456789.125, 123456789.13 },
        { 12345678901.234, 12345678901.23 }, /* nudge must stay tiny */
        { -12345678901.236, -12345678901.24 },
        { 0x1p52 + 1.0, 0x1p52 + 1.0 }, /* beyond 2^52: already integral */
        { 0x1p53, 0x1p53 },
        { 1.7e308, 1.7e308 },   /* x * 100 would overflow to inf */
        { -1.7e308, -1.7e308 },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double got = scoring_round2(cases[i].in);
        ck_assert_msg(got == cases[i].out, "round2(%.17g) = %.17g, want %.17g",
                      cases[i].in, got, cases[i].out);
    }
}
END_TEST

START_TEST(test_round2_no_negative_zero)
{
    static const double tiny[] = { -0.0, -0.001, -0.004999, -1e-300 };

    for (size_t i = 0; i < sizeof(tiny) / sizeof(tiny[0]); i++) {
        double got = scoring_round2(tiny[i]);
        ck_assert_msg(got == 0.0 && !signbit(got),
                      "round2(%g) must be +0, got %g (sign %d)", tiny[i], got,
                      signbit(got) != 0);
    }
    ck_assert(isinf(scoring_round2(HUGE_VAL)));
}
END_TEST

/* ======================================================================= */
/* merging and invariants                                                  */
/* ======================================================================= */

START_TEST(test_hist_merge)
{
    /* Two windows merged by addition give the same figures as the union. */
    uint64_t a[SCORING_NPS_BUCKETS] = { 0 };
    uint64_t b[SCORING_NPS_BUCKETS] = { 0 };
    struct scoring_nps r;

    a[10] = 400;
    a[8] = 100;
    a[0] = 77;
    b[9] = 200;
    b[7] = 123;
    b[6] = 100;
    scoring_hist_merge(a, b, SCORING_NPS_BUCKETS);
    ck_assert_uint_eq(a[9], 200);
    ck_assert_uint_eq(a[10], 400);
    scoring_nps(a, &r);
    ck_assert_uint_eq(r.answered, 1000);
    assert_value(r.score, 42.3);
    assert_value(r.margin_of_error, 4.793276075504101);

    /* Saturation instead of wrap-around. */
    uint64_t big[2] = { UINT64_MAX - 1, 7 };
    const uint64_t add[2] = { 5, 3 };

    scoring_hist_merge(big, add, 2);
    ck_assert(big[0] == UINT64_MAX);
    ck_assert_uint_eq(big[1], 10);
    scoring_hist_merge(NULL, add, 2); /* tolerated */
}
END_TEST

static uint64_t lcg_state = 88172645463325252u;

static uint64_t lcg_next(void)
{
    /* xorshift64: deterministic, good enough to pick histogram shapes. */
    lcg_state ^= lcg_state << 13;
    lcg_state ^= lcg_state >> 7;
    lcg_state ^= lcg_state << 17;
    return lcg_state;
}

static uint64_t random_count(void)
{
    switch (lcg_next() % 5) {
    case 0:
        return 0;
    case 1:
        return 1;
    case 2:
        return lcg_next() % 10;
    case 3:
        return lcg_next() % 100000;
    default:
        return lcg_next() >> 8; /* huge, 11 of them still fit */
    }
}

static void check_value(struct scoring_value v, double lo, double hi)
{
    ck_assert(isfinite(v.value));
    if (!v.present) {
        ck_assert(v.value == 0.0);
        return;
    }
    ck_assert_msg(v.value >= lo - TOL && v.value <= hi + TOL,
                  "%.17g outside [%g, %g]", v.value, lo, hi);
}

static void check_interval(struct scoring_interval iv, double lo, double hi)
{
    ck_assert(isfinite(iv.low) && isfinite(iv.high));
    if (!iv.present) {
        ck_assert(iv.low == 0.0 && iv.high == 0.0);
        return;
    }
    ck_assert(iv.low <= iv.high);
    ck_assert(iv.low >= lo && iv.high <= hi);
}

START_TEST(test_no_nan_ever)
{
    static const int csat_scales[] = { 2, 3, 4, 5, 6, 7, 10 };

    for (int iter = 0; iter < 20000; iter++) {
        uint64_t dist[SCORING_NPS_BUCKETS];
        struct scoring_nps n;
        struct scoring_csat c;
        struct scoring_ces e;
        struct scoring_yes_no y;

        for (int i = 0; i < SCORING_NPS_BUCKETS; i++)
            dist[i] = random_count();

        scoring_nps(dist, &n);
        check_value(n.score, -100, 100);
        check_value(n.promoters_pct, 0, 100);
        check_value(n.passives_pct, 0, 100);
        check_value(n.detractors_pct, 0, 100);
        check_value(n.margin_of_error, 0, 196);
        check_value(n.std_error, 0, 100);
        check_interval(n.ci95, -100, 100);
        ck_assert(n.score.present == (n.answered > 0));
        if (n.score.present)
            ck_assert_double_eq_tol(n.promoters_pct.value +
                                        n.passives_pct.value +
                                        n.detractors_pct.value,
                                    100.0, 1e-9);

        int cs = csat_scales[lcg_next() % 7];
        ck_assert(scoring_csat(dist, cs, &c));
        check_value(c.score, 0, 100);
        check_value(c.mean, 1, cs);
        check_value(c.std_error, 0, 50);
        check_interval(c.ci95, 0, 100);
        if (c.score.present)
            ck_assert(c.ci95.low <= c.score.value + TOL &&
                      c.score.value <= c.ci95.high + TOL);

        int es = (lcg_next() & 1) ? 5 : 7;
        ck_assert(scoring_ces(dist, es, &e));
        check_value(e.score, 1, es);
        check_value(e.easy_pct, 0, 100);
        check_value(e.std_error, 0, es);
        check_interval(e.ci95, -1e6, 1e6);
        ck_assert(e.std_error.present == (e.answered >= 2));

        scoring_yes_no(dist[0], dist[1], &y);
        check_value(y.yes_pct, 0, 100);
        check_value(y.std_error, 0, 50);
        check_interval(y.ci95, 0, 100);

        struct scoring_change ch = scoring_compare(n.score, n.std_error,
                                                   c.score, c.std_error);
        ck_assert(isfinite(ch.delta));
        ck_assert(ch.present == (n.score.present && c.score.present));

        if (n.score.present) {
            double r = scoring_round2(n.score.value);
            ck_assert(isfinite(r) && fabs(r - n.score.value) <= 0.005 + TOL);
        }
    }
}
END_TEST

/* ======================================================================= */

static Suite *scoring_suite(void)
{
    Suite *s = suite_create("scoring");
    TCase *nps = tcase_create("nps");
    TCase *csat = tcase_create("csat");
    TCase *ces = tcase_create("ces");
    TCase *yn = tcase_create("yes_no");
    TCase *cmp = tcase_create("compare");
    TCase *rnd = tcase_create("round2");
    TCase *inv = tcase_create("invariants");
    /* 20,000 random histograms: seconds under the sanitizers on a busy 2-core machine. */
    tcase_set_timeout(inv, 120);

    tcase_add_test(nps, test_nps_empty);
    tcase_add_test(nps, test_nps_single_answer);
    tcase_add_test(nps, test_nps_bucket_boundaries);
    tcase_add_test(nps, test_nps_all_promoters);
    tcase_add_test(nps, test_nps_all_detractors);
    tcase_add_test(nps, test_nps_mixed);
    tcase_add_test(nps, test_nps_ci_clamped);
    tcase_add_test(nps, test_nps_worked_example);
    suite_add_tcase(s, nps);

    tcase_add_test(csat, test_csat_scale_valid);
    tcase_add_test(csat, test_csat_top_boxes_every_scale);
    tcase_add_test(csat, test_csat_invalid_scale);
    tcase_add_test(csat, test_csat_empty);
    tcase_add_test(csat, test_csat_single_answer);
    tcase_add_test(csat, test_csat_wilson);
    tcase_add_test(csat, test_csat_worked_example);
    suite_add_tcase(s, csat);

    tcase_add_test(ces, test_ces_scale_valid);
    tcase_add_test(ces, test_ces_invalid_scale);
    tcase_add_test(ces, test_ces_empty);
    tcase_add_test(ces, test_ces_single_answer);
    tcase_add_test(ces, test_ces_five_point);
    tcase_add_test(ces, test_ces_easy_thresholds);
    tcase_add_test(ces, test_ces_constant_answers);
    tcase_add_test(ces, test_ces_worked_example);
    suite_add_tcase(s, ces);

    tcase_add_test(yn, test_yes_no_empty);
    tcase_add_test(yn, test_yes_no_mixed);
    tcase_add_test(yn, test_yes_no_one_sided);
    tcase_add_test(yn, test_share_none_sent);
    tcase_add_test(yn, test_share_rate);
    tcase_add_test(yn, test_share_clamped);
    suite_add_tcase(s, yn);

    tcase_add_test(cmp, test_compare_threshold);
    tcase_add_test(cmp, test_compare_absent);
    tcase_add_test(cmp, test_compare_nps_windows);
    tcase_add_test(cmp, test_compare_ces_single);
    suite_add_tcase(s, cmp);

    tcase_add_test(rnd, test_round2);
    tcase_add_test(rnd, test_round2_no_negative_zero);
    suite_add_tcase(s, rnd);

    tcase_add_test(inv, test_hist_merge);
    tcase_add_test(inv, test_no_nan_ever);
    suite_add_tcase(s, inv);

    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(scoring_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
