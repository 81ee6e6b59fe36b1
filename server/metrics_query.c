#include "metrics_query.h"

#include <stdio.h>
#include <string.h>

#include "timefmt.h"

#define OPAQUE_MAX 128
#define CHANNEL_MAX 32

static const char *const group_names[] = {
    [GROUP_NONE] = "", [GROUP_DAY] = "day", [GROUP_WEEK] = "week",
    [GROUP_MONTH] = "month", [GROUP_CHANNEL] = "channel", [GROUP_AGENT] = "agent",
};

const char *metrics_group_by_name(enum metrics_group_by group_by)
{
    return group_names[group_by];
}

static bool channel_valid(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > CHANNEL_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
            return false;
    }
    return true;
}

static void parse_one(const struct metrics_param *p, struct metrics_query *q, struct validate_errors *errors)
{
    const char *v = p->value ? p->value : "";
    char field[80];

    snprintf(field, sizeof field, "%.64s", p->name);
    if (strcmp(p->name, "from") == 0 || strcmp(p->name, "to") == 0) {
        int64_t ms;
        if (!timefmt_parse_instant(v, &ms) || ms < 0) {
            validate_error(errors, field, "must be a date (2026-11-02) or an RFC 3339 date-time (2026-11-02T14:00:00Z)");
        } else if (p->name[0] == 'f') {
            q->has_from = true;
            q->from_ms = ms;
        } else {
            q->has_to = true;
            q->to_ms = ms;
        }
    } else if (strcmp(p->name, "channel") == 0) {
        if (channel_valid(v))
            q->channel = v;
        else
            validate_error(errors, field, "must be 1-32 characters of a-z, 0-9, '_' and '-'");
    } else if (strcmp(p->name, "agent") == 0) {
        size_t len = validate_utf8_length(v);
        if (len >= 1 && len <= OPAQUE_MAX)
            q->agent = v;
        else
            validate_error(errors, field, "must be 1 to %d characters", OPAQUE_MAX);
    } else if (strcmp(p->name, "group_by") == 0) {
        q->group_by = GROUP_NONE;
        for (int g = GROUP_DAY; g <= GROUP_AGENT; g++) {
            if (strcmp(v, group_names[g]) == 0)
                q->group_by = (enum metrics_group_by)g;
        }
        if (q->group_by == GROUP_NONE)
            validate_error(errors, field, "must be one of day, week, month, channel, agent");
    } else if (strcmp(p->name, "compare") == 0) {
        if (strcmp(v, "previous") == 0)
            q->compare_previous = true;
        else
            validate_error(errors, field, "must be previous");
    } else {
        validate_error(errors, field, "unknown parameter (known: from, to, channel, agent, group_by, compare)");
    }
}

bool metrics_query_parse(const struct metrics_param *params, int count, struct metrics_query *q,
                         struct validate_errors *errors)
{
    int before = errors->count;

    memset(q, 0, sizeof *q);
    q->from_ms = INT64_MIN;
    q->to_ms = INT64_MAX;
    for (int i = 0; i < count; i++) {
        bool repeated = false;
        for (int j = 0; j < i; j++)
            repeated |= strcmp(params[i].name, params[j].name) == 0;
        if (repeated)
            validate_error(errors, params[i].name, "given more than once");
        else
            parse_one(&params[i], q, errors);
    }
    if (q->has_from && q->has_to && q->from_ms >= q->to_ms)
        validate_error(errors, "to", "must be later than from");
    if (q->compare_previous && !(q->has_from && q->has_to))
        validate_error(errors, "compare", "compare=previous needs both from and to");
    return errors->count == before;
}

void metrics_query_key(const char *survey, const struct metrics_query *q, char *out, size_t size)
{
    snprintf(out, size, "%s\n%lld\n%lld\n%s\n%s\n%d\n%d", survey, (long long)q->from_ms, (long long)q->to_ms,
             q->channel ? q->channel : "\x01", q->agent ? q->agent : "\x01", (int)q->group_by,
             (int)q->compare_previous);
}
