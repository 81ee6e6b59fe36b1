#include "invitation_policy.h"

#include <string.h>

#include "edit_token.h"
#include "survey.h"

bool invitation_policy_sample_point(const char *survey, const char *customer, double *point)
{
    unsigned char hash[EDIT_TOKEN_HASH_LEN];
    size_t survey_len = strlen(survey), customer_len = strlen(customer);
    /* The NUL keeps ("ab", "c") and ("a", "bc") apart. Survey ids are at most 64 bytes, customers
     * 128 code points (512 bytes). */
    unsigned char input[SURVEY_ID_MAX + 1 + 4 * 128 + 1];

    if (survey_len > SURVEY_ID_MAX || customer_len > sizeof input - survey_len - 1)
        return false;
    memcpy(input, survey, survey_len);
    input[survey_len] = '\0';
    memcpy(input + survey_len + 1, customer, customer_len);
    if (!edit_token_sha256(input, survey_len + 1 + customer_len, hash))
        return false;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | hash[i];
    *point = (double)(v >> 11) / 9007199254740992.0; /* 2^53 */
    return true;
}

struct invitation_decision invitation_policy_decide(const struct invitation_policy *policy, double point,
                                                    bool has_contact, int64_t last_contact_ms, int64_t now_ms)
{
    struct invitation_decision d = {INVITATION_SEND, 0};

    /* point < 1 always, so a rate of 1 takes everyone and a rate of 0 nobody. */
    if (!(point < policy->sample_rate)) {
        d.verdict = INVITATION_SAMPLED_OUT;
        return d;
    }
    if (policy->throttle_days > 0 && has_contact) {
        int64_t eligible = last_contact_ms + policy->throttle_days * INVITATION_DAY_MS;
        if (eligible > now_ms) {
            d.verdict = INVITATION_THROTTLED;
            d.eligible_at = eligible;
        }
    }
    return d;
}

int invitation_policy_throttle_days(int survey_throttle_days, unsigned default_days)
{
    return survey_throttle_days == SURVEY_THROTTLE_DEFAULT ? (int)default_days : survey_throttle_days;
}
