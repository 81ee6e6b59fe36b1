/*
 * scoring.h - survey metrics computed from answer histograms.
 *
 * Every figure surveyd reports (NPS, CSAT, CES, yes/no) is derived from a
 * histogram: one uint64_t count per possible answer value.  Working from
 * counts alone means two windows (or two shards) merge by plain addition and
 * nothing here needs I/O, allocation or global state.  All functions are pure
 * and thread-safe.
 *
 * "Null" figures: when a figure cannot be computed (no answers, or too few
 * answers for a standard deviation) it is reported with present == false and
 * its numeric fields set to 0.  No function in this module ever stores a NaN
 * or an infinity in an output, and none divides by zero.  Callers serialise a
 * figure whose present flag is false as JSON null.
 *
 * Precondition shared by all functions: the sum of a histogram's counts is
 * assumed to fit in uint64_t; if it would not, the total saturates at
 * UINT64_MAX instead of wrapping (see scoring_hist_merge()).
 *
 * Figures are returned unrounded; use scoring_round2() when building replies,
 * and compare windows with the unrounded values (scoring_compare()).
 */
#ifndef SURVEYD_SCORING_H
#define SURVEYD_SCORING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Two-sided 95% normal quantile used for Wilson intervals, CES intervals and
 * significance tests.  (The NPS margin of error uses 1.96, i.e. "196 *", as
 * the specification writes it.) */
#define SCORING_Z95 1.959964

/* Histogram sizes. */
#define SCORING_NPS_BUCKETS 11 /* answers 0..10, index == answer */
#define SCORING_SCALE_MAX 10   /* largest CSAT/CES scale */

/* A scalar figure that may be null.  value is 0 whenever present is false. */
struct scoring_value {
    bool present;
    double value;
};

/* A closed interval that may be null.  low/high are 0 when present is false. */
struct scoring_interval {
    bool present;
    double low, high;
};

/* Net Promoter Score.  Percentages and score are on a -100..100 / 0..100
 * scale.  margin_of_error is the 95% half-width (196 * sqrt(var / n));
 * std_error (100 * sqrt(var / n)) is what scoring_compare() wants.
 * ci95 = [score - moe, score + moe] clamped to [-100, 100]. */
struct scoring_nps {
    uint64_t answered, promoters, passives, detractors;
    struct scoring_value score, promoters_pct, passives_pct, detractors_pct;
    struct scoring_value margin_of_error, std_error;
    struct scoring_interval ci95;
};

/* Compute NPS from dist[0..10] (dist[k] = number of people who answered k).
 * Promoters 9-10, passives 7-8, detractors 0-6.  With n == 0 every derived
 * figure is absent.  A NULL dist is treated as an empty histogram; a NULL out
 * is ignored. */
void scoring_nps(const uint64_t dist[SCORING_NPS_BUCKETS],
                 struct scoring_nps *out);

/* Customer satisfaction (top-box share).  score and ci95 (Wilson, z =
 * SCORING_Z95) are percentages; mean is the mean answer on 1..scale;
 * std_error = 100 * sqrt(q(1-q)/n) with q = satisfied / n. */
struct scoring_csat {
    int scale;
    uint64_t answered, satisfied;
    struct scoring_value score, mean, std_error;
    struct scoring_interval ci95;
};

/* True for the CSAT scales surveyd accepts: 2, 3, 4, 5, 6, 7 and 10. */
bool scoring_csat_scale_valid(int scale);

/* Lowest answer counted as "satisfied" on a valid CSAT scale: 2 -> 2,
 * 3 -> 3, 4..7 -> scale - 1 (top two boxes), 10 -> 8 (8, 9, 10).
 * Returns 0 for an invalid scale. */
int scoring_csat_top_box_min(int scale);

/* Compute CSAT from dist[0..scale-1], where dist[i] counts answer i + 1.
 * Returns false (and zeroes *out, all figures absent) when scale is invalid
 * or dist/out is NULL. */
bool scoring_csat(const uint64_t *dist, int scale, struct scoring_csat *out);

/* Customer effort score.  score is the mean answer on 1..scale (higher =
 * easier).  std_error = s / sqrt(n) and ci95 = mean -/+ SCORING_Z95 * s /
 * sqrt(n), with s the sample standard deviation (n - 1 denominator); both are
 * absent when n < 2 while score is present from n = 1.  The interval is not
 * clamped to [1, scale] (it is a plain normal-approximation interval, as
 * specified).  easy_pct = 100 * easy / n, where easy means an answer >= 4 on
 * the 5-point scale or >= 5 on the 7-point scale. */
struct scoring_ces {
    int scale;
    uint64_t answered, easy;
    struct scoring_value score, easy_pct, std_error;
    struct scoring_interval ci95;
};

/* True for the CES scales surveyd accepts: 5 and 7. */
bool scoring_ces_scale_valid(int scale);

/* Lowest answer counted as "easy": 4 on a 5-point, 5 on a 7-point scale;
 * 0 for an invalid scale. */
int scoring_ces_easy_min(int scale);

/* Compute CES from dist[0..scale-1], where dist[i] counts answer i + 1.
 * Returns false (and zeroes *out) when scale is invalid or dist/out is NULL. */
bool scoring_ces(const uint64_t *dist, int scale, struct scoring_ces *out);

/* Yes/no question.  yes_pct = 100 * yes / (yes + no) with a Wilson ci95
 * (x100); std_error = 100 * sqrt(q(1-q)/n).  All absent when yes + no == 0.
 * A NULL out is ignored. */
struct scoring_yes_no {
    uint64_t answered, yes, no;
    struct scoring_value yes_pct, std_error;
    struct scoring_interval ci95;
};

void scoring_yes_no(uint64_t yes, uint64_t no, struct scoring_yes_no *out);

/* A share of a count: k of n (a response rate: responded of sent).  pct =
 * 100 * k / n with a Wilson ci95 (x100), as yes_pct has; both absent when
 * n == 0.  k above n (only a store that counted wrongly could give it) is
 * clamped to n so the share stays a share.  A NULL out is ignored. */
struct scoring_share {
    uint64_t k, n;
    struct scoring_value pct, std_error;
    struct scoring_interval ci95;
};

void scoring_share(uint64_t k, uint64_t n, struct scoring_share *out);

/* Change between two windows of the same question. */
struct scoring_change {
    bool present;     /* false when either window has no headline figure */
    double delta;     /* current - previous; 0 when !present */
    bool significant; /* |delta| > SCORING_Z95 * sqrt(se_cur^2 + se_prev^2) */
};

/* Compare headline figures (NPS/CSAT/CES score, yes_no yes_pct) of the
 * current and previous window, with their std_error fields.
 * - Either figure absent (a window with no answers): change absent.
 * - Either standard error absent (CES with n < 2): delta is reported but the
 *   change is never significant, because one observation carries no
 *   information about its own spread and we would rather under-claim.
 * - The test is strict (>): a delta exactly on the threshold, including
 *   delta == 0 with both errors 0, is not significant. */
struct scoring_change scoring_compare(struct scoring_value cur,
                                      struct scoring_value cur_se,
                                      struct scoring_value prev,
                                      struct scoring_value prev_se);

/* Add histogram src into acc, element by element, saturating at UINT64_MAX
 * instead of wrapping.  This is how windows and shards merge. */
void scoring_hist_merge(uint64_t *acc, const uint64_t *src, size_t len);

/* Round to 2 decimals, half away from zero, as the decimal literal reads:
 * values within a relative 1e-12 below a ".xx5" boundary (binary
 * representation error, e.g. 2.675 is stored as 2.67499999999999982...) are
 * treated as lying on it, so 2.675 -> 2.68, 1.005 -> 1.01, -2.675 -> -2.68.
 * Never returns negative zero (-0.001 -> 0.0).  Non-finite input is returned
 * unchanged (this module never produces any). */
double scoring_round2(double x);

#endif /* SURVEYD_SCORING_H */
