/*
 * scoring.c - survey metrics computed from answer histograms.
 *
 * See scoring.h for the contract.  Implementation notes:
 * - Every division is guarded by an explicit n > 0 (or n > 1) check before
 *   it happens, so absent figures are decided by counts, never by testing a
 *   result for NaN afterwards.
 * - Variances are clamped at 0 before sqrt(): p + d - (p - d)^2 and
 *   q(1 - q) are mathematically >= 0 but can come out as -1e-17 after
 *   rounding when a share is 0 or 1.
 * - Counts are converted to double once; beyond 2^53 answers per window the
 *   conversion rounds, which is far below any figure's reporting precision.
 */
#include "scoring.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* Numbers that follow from the specification. */
#define NPS_PROMOTER_MIN 9
#define NPS_PASSIVE_MIN 7
#define NPS_MOE_FACTOR 196.0 /* 100 * 1.96, as the spec writes the NPS moe */

/* Tolerance for scoring_round2(): how far below a half-cent boundary a
 * value may sit and still be treated as on it.  Binary representation of the
 * decimal input plus the *100 costs ~2 ulp (2e-16 relative); a relative
 * 1e-12 also absorbs the few thousand ulp that a chain of arithmetic
 * (Wilson, sqrt) may add.  The absolute cap (a millionth of a cent) keeps
 * the nudge from swallowing whole cents for huge inputs: without it, from
 * |x| ~ 5e9 on, ay * 1e-12 would reach 0.5 and every value would round up. */
#define ROUND2_REL_EPS 1e-12
#define ROUND2_ABS_EPS_MAX 1e-6

/* --- small helpers ------------------------------------------------------ */

static struct scoring_value value_of(double x)
{
    struct scoring_value v = { true, x };
    return v;
}

static struct scoring_interval interval_of(double low, double high)
{
    struct scoring_interval iv = { true, low, high };
    return iv;
}

static double clamp(double x, double lo, double hi)
{
    if (x < lo)
        return lo;
    if (x > hi)
        return hi;
    return x;
}

/* sqrt() of a quantity that is non-negative in exact arithmetic. */
static double sqrt_nonneg(double x)
{
    return x > 0.0 ? sqrt(x) : 0.0;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Sum of dist[from..to] inclusive, saturating. */
static uint64_t hist_range_sum(const uint64_t *dist, int from, int to)
{
    uint64_t sum = 0;

    for (int i = from; i <= to; i++)
        sum = add_sat(sum, dist[i]);
    return sum;
}

/* Mean answer of a 1..scale histogram (dist[i] counts answer i + 1).
 * Caller guarantees n > 0. */
static double hist_mean(const uint64_t *dist, int scale, uint64_t n)
{
    double sum = 0.0;

    for (int i = 0; i < scale; i++)
        sum += (double)dist[i] * (double)(i + 1);
    return sum / (double)n;
}

/* Sum of squared deviations around mean.  Two passes over an (at most
 * 10-entry) histogram cost nothing and avoid the cancellation of the
 * sum(x^2) - n * mean^2 formula when all answers are nearly equal. */
static double hist_sq_dev(const uint64_t *dist, int scale, double mean)
{
    double ss = 0.0;

    for (int i = 0; i < scale; i++) {
        double dev = (double)(i + 1) - mean;
        ss += (double)dist[i] * dev * dev;
    }
    return ss;
}

/* 100 * x / n as a present value; caller guarantees n > 0. */
static struct scoring_value pct(uint64_t x, uint64_t n)
{
    return value_of(100.0 * (double)x / (double)n);
}

/* Binomial proportion k/n (n > 0): Wilson score interval and standard error,
 * both scaled to percent. */
static void proportion_stats(uint64_t k, uint64_t n,
                             struct scoring_interval *ci,
                             struct scoring_value *se)
{
    const double z = SCORING_Z95;
    const double nd = (double)n;
    const double q = (double)k / nd;
    const double denom = 1.0 + z * z / nd;
    const double centre = (q + z * z / (2.0 * nd)) / denom;
    const double half =
        z * sqrt_nonneg(q * (1.0 - q) / nd + z * z / (4.0 * nd * nd)) / denom;

    /* The Wilson interval lies inside [0, 1] exactly; clamping only removes
     * rounding noise such as -1e-17 when q == 0. */
    *ci = interval_of(100.0 * clamp(centre - half, 0.0, 1.0),
                      100.0 * clamp(centre + half, 0.0, 1.0));
    *se = value_of(100.0 * sqrt_nonneg(q * (1.0 - q) / nd));
}

/* --- NPS ---------------------------------------------------------------- */

void scoring_nps(const uint64_t dist[SCORING_NPS_BUCKETS],
                 struct scoring_nps *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    if (!dist)
        return;

    out->detractors = hist_range_sum(dist, 0, NPS_PASSIVE_MIN - 1);
    out->passives = hist_range_sum(dist, NPS_PASSIVE_MIN, NPS_PROMOTER_MIN - 1);
    out->promoters =
        hist_range_sum(dist, NPS_PROMOTER_MIN, SCORING_NPS_BUCKETS - 1);
    out->answered =
        add_sat(add_sat(out->detractors, out->passives), out->promoters);
    if (out->answered == 0)
        return; /* everything derived stays absent */

    const double n = (double)out->answered;
    const double p = (double)out->promoters / n;
    const double d = (double)out->detractors / n;
    /* Variance of the per-respondent score in {+1, 0, -1}:
     * E[x^2] - E[x]^2 = (p + d) - (p - d)^2. */
    const double var = p + d - (p - d) * (p - d);
    const double root = sqrt_nonneg(var / n);
    const double score = 100.0 * (p - d);
    const double moe = NPS_MOE_FACTOR * root;

    out->score = value_of(score);
    out->promoters_pct = pct(out->promoters, out->answered);
    out->passives_pct = pct(out->passives, out->answered);
    out->detractors_pct = pct(out->detractors, out->answered);
    out->margin_of_error = value_of(moe);
    out->std_error = value_of(100.0 * root);
    out->ci95 = interval_of(clamp(score - moe, -100.0, 100.0),
                            clamp(score + moe, -100.0, 100.0));
}

/* --- CSAT --------------------------------------------------------------- */

bool scoring_csat_scale_valid(int scale)
{
    return scoring_csat_top_box_min(scale) != 0;
}

int scoring_csat_top_box_min(int scale)
{
    switch (scale) {
    case 2:
    case 3:
        return scale; /* only the top answer satisfies */
    case 4:
    case 5:
    case 6:
    case 7:
        return scale - 1; /* top two boxes */
    case 10:
        return 8; /* 8, 9, 10 */
    default:
        return 0;
    }
}

bool scoring_csat(const uint64_t *dist, int scale, struct scoring_csat *out)
{
    const int top_min = scoring_csat_top_box_min(scale);

    if (!out)
        return false;
    memset(out, 0, sizeof(*out));
    if (!dist || top_min == 0)
        return false;

    out->scale = scale;
    out->answered = hist_range_sum(dist, 0, scale - 1);
    out->satisfied = hist_range_sum(dist, top_min - 1, scale - 1);
    if (out->answered == 0)
        return true;

    out->score = pct(out->satisfied, out->answered);
    out->mean = value_of(hist_mean(dist, scale, out->answered));
    proportion_stats(out->satisfied, out->answered, &out->ci95,
                     &out->std_error);
    return true;
}

/* --- CES ---------------------------------------------------------------- */

bool scoring_ces_scale_valid(int scale)
{
    return scoring_ces_easy_min(scale) != 0;
}

int scoring_ces_easy_min(int scale)
{
    switch (scale) {
    case 5:
        return 4;
    case 7:
        return 5;
    default:
        return 0;
    }
}

bool scoring_ces(const uint64_t *dist, int scale, struct scoring_ces *out)
{
    const int easy_min = scoring_ces_easy_min(scale);

    if (!out)
        return false;
    memset(out, 0, sizeof(*out));
    if (!dist || easy_min == 0)
        return false;

    out->scale = scale;
    out->answered = hist_range_sum(dist, 0, scale - 1);
    out->easy = hist_range_sum(dist, easy_min - 1, scale - 1);
    if (out->answered == 0)
        return true;

    const double mean = hist_mean(dist, scale, out->answered);

    out->score = value_of(mean);
    out->easy_pct = pct(out->easy, out->answered);
    if (out->answered < 2)
        return true; /* no sample standard deviation from one answer */

    const double n = (double)out->answered;
    const double s = sqrt_nonneg(hist_sq_dev(dist, scale, mean) / (n - 1.0));
    const double se = s / sqrt(n);

    out->std_error = value_of(se);
    out->ci95 = interval_of(mean - SCORING_Z95 * se, mean + SCORING_Z95 * se);
    return true;
}

/* --- yes/no ------------------------------------------------------------- */

void scoring_yes_no(uint64_t yes, uint64_t no, struct scoring_yes_no *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    out->yes = yes;
    out->no = no;
    out->answered = add_sat(yes, no);
    if (out->answered == 0)
        return;

    /* With a saturated total yes could in theory exceed answered; clamp so
     * the share stays a share. */
    const uint64_t k = yes < out->answered ? yes : out->answered;

    out->yes_pct = pct(k, out->answered);
    proportion_stats(k, out->answered, &out->ci95, &out->std_error);
}

/* --- shares (response rates) -------------------------------------------- */

void scoring_share(uint64_t k, uint64_t n, struct scoring_share *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    out->n = n;
    out->k = k < n ? k : n;
    if (n == 0)
        return;
    out->pct = pct(out->k, n);
    proportion_stats(out->k, n, &out->ci95, &out->std_error);
}

/* --- comparison --------------------------------------------------------- */

struct scoring_change scoring_compare(struct scoring_value cur,
                                      struct scoring_value cur_se,
                                      struct scoring_value prev,
                                      struct scoring_value prev_se)
{
    struct scoring_change ch = { false, 0.0, false };

    if (!cur.present || !prev.present)
        return ch;

    ch.present = true;
    ch.delta = cur.value - prev.value;
    /* CES with n < 2 on either side has no standard error: report the
     * delta but never call it significant (see scoring.h). */
    if (cur_se.present && prev_se.present) {
        const double se = sqrt_nonneg(cur_se.value * cur_se.value +
                                      prev_se.value * prev_se.value);
        ch.significant = fabs(ch.delta) > SCORING_Z95 * se;
    }
    return ch;
}

/* --- histograms --------------------------------------------------------- */

void scoring_hist_merge(uint64_t *acc, const uint64_t *src, size_t len)
{
    if (!acc || !src)
        return;
    for (size_t i = 0; i < len; i++)
        acc[i] = add_sat(acc[i], src[i]);
}

/* --- rounding ----------------------------------------------------------- */

double scoring_round2(double x)
{
    if (!isfinite(x))
        return x;

    const double ay = fabs(x) * 100.0;

    /* From 2^52 on a double has no fractional part, so x * 100 is already
     * an integer number of hundredths. */
    if (ay >= 0x1p52)
        return x;

    /* ay - floor(ay) is exact for ay < 2^52, unlike floor(ay + 0.5), which
     * can round 0.49999999999999994 + 0.5 up to 1. */
    double cents = floor(ay);
    const double frac = ay - cents;
    const double nudge = fmin(ay * ROUND2_REL_EPS, ROUND2_ABS_EPS_MAX);

    if (frac >= 0.5 - nudge)
        cents += 1.0;
    if (cents < 1.0)
        return 0.0; /* never -0.00 (cents is integral, so this means 0) */
    return copysign(cents / 100.0, x);
}
