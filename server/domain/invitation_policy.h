/* Whether an invitation goes out: throttling (not again within N days of the customer's last
 * invitation or response to the survey) and sampling (a stable share of customers). Pure: the
 * caller brings the last contact from the store and the clock. */
#ifndef SURVEYD_INVITATION_POLICY_H
#define SURVEYD_INVITATION_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#define INVITATION_DAY_MS (86400 * 1000LL)

enum invitation_verdict {
    INVITATION_SEND,
    INVITATION_THROTTLED,
    INVITATION_SAMPLED_OUT,
};

struct invitation_policy {
    int throttle_days;      /* in force for this survey (its own, or the daemon's default); 0: off */
    double sample_rate;     /* 0..1 */
};

struct invitation_decision {
    enum invitation_verdict verdict;
    int64_t eligible_at;    /* throttled: when the customer may be invited again; else 0 (none) */
};

/* The customer's fixed place in [0, 1) for the survey: the first 8 bytes of SHA-256(survey, a NUL
 * byte, customer) as a big-endian integer, its top 53 bits divided by 2^53 (exact in a double).
 * The same customer always lands on the same point, so a sample rate keeps them in or out. False
 * when libcrypto fails. */
bool invitation_policy_sample_point(const char *survey, const char *customer, double *point);

/* The decision for a customer at sample point `point`, last contacted at last_contact_ms
 * (has_contact false: never) when it is now_ms. Sampling comes first: a customer outside the
 * sample would never be invited, so telling them when they become eligible would be a lie. */
struct invitation_decision invitation_policy_decide(const struct invitation_policy *policy, double point,
                                                    bool has_contact, int64_t last_contact_ms, int64_t now_ms);

/* The throttle in force: the survey's throttle_days, or default_days when it sets none. */
int invitation_policy_throttle_days(int survey_throttle_days, unsigned default_days);

#endif
