/* Metrics: fold histogram cells from the store into per-group histograms, then score them.
 *
 * request → query (parse) → store_metrics_scan (cells) → tally (histograms) → scoring →
 * JSON. Invitations take the same way beside them: store_invitation_scan's cells are added up per
 * group and their response rate scored (scoring_share). Replies carry a weak ETag from the
 * survey's data version and are cached until it changes. */
#include "metrics.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ids.h"
#include "oom.h"
#include "query.h"
#include "scoring.h"
#include "timefmt.h"
#include "topic_spec.h"
#include "topics.h"

#define MS_PER_DAY INT64_C(86400000)
#define MAX_PARAMS 16
#define MAX_TIME_BUCKETS 3700   /* ten years of days */

/* Where each question's buckets live in a group's counts array. */
struct layout {
    const struct survey *survey;
    int offset[SURVEY_MAX_QUESTIONS];
    int width[SURVEY_MAX_QUESTIONS];
    int size;                   /* answered counts (one per question) + every bucket */
};

/* What became of a group's invitations: store_invitation_scan's cells added up. */
struct invitation_counts {
    uint64_t sent, suppressed, opened, responded;
};

struct group {
    char *key;                  /* channel, agent or topic; NULL for time buckets and totals */
    char *title;                /* group_by=topic: the topic's title */
    bool running;               /* group_by=topic: its back-fill has not finished */
    int64_t ordinal;            /* time buckets: day, week or month ordinal */
    uint64_t responses;
    uint64_t *counts;           /* [question] answered, then [question_count + offset + bucket] */
    struct invitation_counts invitations;
};

struct tally {
    const struct layout *layout;
    enum query_group_by group_by;
    struct group total;
    struct group *groups;
    size_t group_count, group_cap;
    size_t *index;              /* keyed groups: open-addressing table of group positions + 1 */
    size_t index_size;          /* a power of two, at least twice group_count; 0 before the first */
    int64_t first_ordinal;      /* time buckets */
    int last_question;          /* cells come sorted by question within a day: remember the last */
    bool groups_only;           /* group_by=topic's per-topic cells: the totals come from another scan */
    bool out_of_memory;
};

/* ---- layout and buckets ---- */

static int bucket_width(const struct question *q)
{
    switch (q->type) {
    case QUESTION_NPS:
        return 11;
    case QUESTION_CSAT:
    case QUESTION_CES:
        return q->scale;
    case QUESTION_YES_NO:
        return 2;
    case QUESTION_CHOICE:
        return q->option_count + 1; /* the last one counts "other" */
    case QUESTION_TEXT:
        return 0;
    }
    return 0;
}

static void layout_init(struct layout *layout, const struct survey *survey)
{
    layout->survey = survey;
    layout->size = survey->question_count;
    for (int i = 0; i < survey->question_count; i++) {
        layout->offset[i] = layout->size;
        layout->width[i] = bucket_width(&survey->questions[i]);
        layout->size += layout->width[i];
    }
}

/* The bucket of a cell's value within its question, or -1 when it has none (text) or is out of range. */
static int bucket_of(const struct question *q, const struct store_metrics_cell *cell)
{
    switch (q->type) {
    case QUESTION_NPS:
        return !cell->value_is_text && cell->value >= 0 && cell->value <= 10 ? (int)cell->value : -1;
    case QUESTION_CSAT:
    case QUESTION_CES:
        return !cell->value_is_text && cell->value >= 1 && cell->value <= q->scale ? (int)cell->value - 1 : -1;
    case QUESTION_YES_NO:
        return !cell->value_is_text && (cell->value == 0 || cell->value == 1) ? (int)cell->value : -1;
    case QUESTION_CHOICE:
        if (!cell->value_is_text)
            return cell->value == -1 ? q->option_count : -1;
        for (int i = 0; i < q->option_count; i++) {
            if (strcmp(q->options[i], cell->value_text) == 0)
                return i;
        }
        return -1;
    case QUESTION_TEXT:
        return -1;
    }
    return -1;
}

/* Day, ISO week (Monday first) and month ordinals, and back. 1970-01-01 was a Thursday. */
static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int64_t ordinal_of_day(enum query_group_by group_by, int64_t day)
{
    int64_t year;
    unsigned month, mday;
    switch (group_by) {
    case GROUP_WEEK:
        return floor_div(day + 3, 7);
    case GROUP_MONTH:
        timefmt_civil_from_days(day, &year, &month, &mday);
        return year * 12 + (month - 1);
    default:
        return day;
    }
}

static void format_bucket(enum query_group_by group_by, int64_t ordinal, char *out, size_t size)
{
    int64_t year, jan1;
    unsigned month, mday;
    switch (group_by) {
    case GROUP_WEEK: {
        int64_t thursday = ordinal * 7; /* Monday is ordinal * 7 - 3; the ISO year is the Thursday's */
        timefmt_civil_from_days(thursday, &year, &month, &mday);
        jan1 = timefmt_days_from_civil(year, 1, 1);
        snprintf(out, size, "%04lld-W%02lld", (long long)year, (long long)((thursday - jan1) / 7 + 1));
        break;
    }
    case GROUP_MONTH:
        snprintf(out, size, "%04lld-%02lld", (long long)floor_div(ordinal, 12), (long long)(ordinal % 12 + 1));
        break;
    default:
        timefmt_civil_from_days(ordinal, &year, &month, &mday);
        snprintf(out, size, "%04lld-%02u-%02u", (long long)year, month, mday);
        break;
    }
}

/* The first day of a bucket: the inverse of ordinal_of_day. */
static int64_t first_day_of_ordinal(enum query_group_by group_by, int64_t ordinal)
{
    switch (group_by) {
    case GROUP_WEEK:
        return ordinal * 7 - 3; /* Monday */
    case GROUP_MONTH:
        return timefmt_days_from_civil(floor_div(ordinal, 12), (unsigned)(ordinal - floor_div(ordinal, 12) * 12) + 1, 1);
    default:
        return ordinal;
    }
}

static bool is_time_group(enum query_group_by group_by)
{
    return group_by == GROUP_DAY || group_by == GROUP_WEEK || group_by == GROUP_MONTH;
}

/* ---- tally ---- */

static bool group_init(struct group *group, const struct layout *layout)
{
    group->counts = calloc((size_t)layout->size + 1, sizeof *group->counts);
    return group->counts != NULL;
}

static void tally_free(struct tally *tally)
{
    free(tally->total.counts);
    for (size_t i = 0; i < tally->group_count; i++) {
        free(tally->groups[i].key);
        free(tally->groups[i].title);
        free(tally->groups[i].counts);
    }
    free(tally->groups);
    free(tally->index);
}

static bool tally_init(struct tally *tally, const struct layout *layout, enum query_group_by group_by,
                       int64_t first_ordinal, size_t time_buckets)
{
    memset(tally, 0, sizeof *tally);
    tally->layout = layout;
    tally->group_by = group_by;
    tally->first_ordinal = first_ordinal;
    tally->last_question = -1;
    if (!group_init(&tally->total, layout))
        return false;
    if (time_buckets > 0) {
        tally->groups = calloc(time_buckets, sizeof *tally->groups);
        if (tally->groups == NULL)
            return false;
        tally->group_count = tally->group_cap = time_buckets;
        for (size_t i = 0; i < time_buckets; i++) {
            tally->groups[i].ordinal = first_ordinal + (int64_t)i;
            if (!group_init(&tally->groups[i], layout))
                return false;
        }
    }
    return true;
}

static size_t key_hash(const char *key)
{
    uint64_t h = 1469598103934665603u;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211u;
    return (size_t)h;
}

/* The slot of key in the index: where it is, or the empty one where it would go. */
static size_t *index_slot(struct tally *tally, const char *key)
{
    size_t mask = tally->index_size - 1;
    for (size_t i = key_hash(key) & mask;; i = (i + 1) & mask) {
        size_t *slot = &tally->index[i];
        if (*slot == 0 || strcmp(tally->groups[*slot - 1].key, key) == 0)
            return slot;
    }
}

/* Doubles the index (rebuilt from the groups) when it would be more than half full. */
static bool index_reserve(struct tally *tally)
{
    if (tally->index_size >= 2 * (tally->group_count + 1))
        return true;
    size_t size = tally->index_size ? tally->index_size * 2 : 64;
    size_t *index = calloc(size, sizeof *index);
    if (index == NULL)
        return false;
    free(tally->index);
    tally->index = index;
    tally->index_size = size;
    for (size_t i = 0; i < tally->group_count; i++)
        *index_slot(tally, tally->groups[i].key) = i + 1;
    return true;
}

/* Channel and agent groups, found through a hash index: group_by=agent folds a cell per agent,
 * month and bucket, for a thousand agents and more. */
static struct group *keyed_group(struct tally *tally, const char *key)
{
    if (!index_reserve(tally))
        return NULL;
    size_t *slot = index_slot(tally, key);
    if (*slot != 0)
        return &tally->groups[*slot - 1];
    if (tally->group_count == tally->group_cap) {
        size_t cap = tally->group_cap ? tally->group_cap * 2 : 16;
        struct group *grown = realloc(tally->groups, cap * sizeof *grown);
        if (grown == NULL)
            return NULL;
        tally->groups = grown;
        tally->group_cap = cap;
    }
    struct group *group = &tally->groups[tally->group_count];
    memset(group, 0, sizeof *group);
    group->key = strdup(key);
    if (group->key == NULL || !group_init(group, tally->layout)) {
        free(group->key);
        return NULL;
    }
    tally->group_count++;
    *slot = tally->group_count;
    return group;
}

/* group_by=topic: the group of one of the survey's topics, all made before the scan (listed); NULL
 * for a topic made since. */
static struct group *topic_group(struct tally *tally, const char *topic)
{
    if (tally->index_size == 0 || topic == NULL)
        return NULL;
    size_t slot = *index_slot(tally, topic);
    return slot ? &tally->groups[slot - 1] : NULL;
}

/* The group of a cell (a response cell's or an invitation cell's day, channel and agent); NULL for
 * a day outside the time buckets, or when a keyed group could not be added (out of memory). */
static struct group *group_of(struct tally *tally, int64_t day, const char *channel, const char *agent)
{
    if (is_time_group(tally->group_by)) {
        int64_t index = ordinal_of_day(tally->group_by, day) - tally->first_ordinal;
        return index >= 0 && (size_t)index < tally->group_count ? &tally->groups[index] : NULL;
    }
    if (tally->group_by == GROUP_CHANNEL)
        return keyed_group(tally, channel);
    if (tally->group_by == GROUP_AGENT)
        return keyed_group(tally, agent);
    return NULL;
}

static int question_index(struct tally *tally, const char *id)
{
    const struct survey *survey = tally->layout->survey;
    int index;
    if (tally->last_question >= 0 && strcmp(survey->questions[tally->last_question].id, id) == 0)
        return tally->last_question;
    if (survey_find_question(survey, id, &index) == NULL)
        return -1;
    tally->last_question = index;
    return index;
}

static void add_cell(struct group *group, const struct layout *layout, int question, int bucket, int64_t count)
{
    uint64_t n = (uint64_t)count;
    if (question < 0) {
        group->responses += n;
        return;
    }
    group->counts[question] += n;
    if (bucket >= 0)
        group->counts[layout->offset[question] + bucket] += n;
}

static void fold_cell(const struct store_metrics_cell *cell, void *arg)
{
    struct tally *tally = arg;
    int question = -1, bucket = -1;

    if (cell->question) {
        question = question_index(tally, cell->question);
        if (question < 0)
            return; /* answers of questions no longer defined (they had none when removed) */
        bucket = bucket_of(&tally->layout->survey->questions[question], cell);
    }
    if (tally->group_by == GROUP_TOPIC) {
        /* A response counts once in the totals (the scan without by_topic) and once in each of its
         * topics' groups (the scan with it). */
        struct group *group = tally->groups_only ? topic_group(tally, cell->topic) : &tally->total;
        if (group)
            add_cell(group, tally->layout, question, bucket, cell->count);
        return;
    }
    add_cell(&tally->total, tally->layout, question, bucket, cell->count);
    if (tally->group_by != GROUP_NONE) {
        struct group *group = group_of(tally, cell->day, cell->channel, cell->agent);
        if (group)
            add_cell(group, tally->layout, question, bucket, cell->count);
        else if (!is_time_group(tally->group_by))
            tally->out_of_memory = true;
    }
}

/* ---- invitations ---- */

static uint64_t count_of(int64_t n)
{
    return n > 0 ? (uint64_t)n : 0;
}

static void add_invitations(struct invitation_counts *to, const struct invitation_counts *from)
{
    to->sent += from->sent;
    to->suppressed += from->suppressed;
    to->opened += from->opened;
    to->responded += from->responded;
}

static struct invitation_counts counts_of_cell(const struct store_invitation_cell *cell)
{
    return (struct invitation_counts){count_of(cell->sent), count_of(cell->suppressed), count_of(cell->opened),
                                      count_of(cell->responded)};
}

/* Adds one day's invitations to the totals and to their group. */
static void fold_invitations(struct tally *tally, int64_t day, const char *channel, const char *agent,
                             const struct invitation_counts *counts)
{
    add_invitations(&tally->total.invitations, counts);
    if (tally->group_by == GROUP_NONE || tally->group_by == GROUP_TOPIC) /* invitations have no topic */
        return;
    struct group *group = group_of(tally, day, channel, agent);
    if (group)
        add_invitations(&group->invitations, counts);
    else if (!is_time_group(tally->group_by))
        tally->out_of_memory = true;
}

static void fold_invitation_cell(const struct store_invitation_cell *cell, void *arg)
{
    struct invitation_counts counts = counts_of_cell(cell);
    fold_invitations(arg, cell->day, cell->channel ? cell->channel : "", cell->agent ? cell->agent : "", &counts);
}

/* A time grouping's invitations, kept by day until the buckets are known: they are known only once
 * the days with invitations are (a survey's invitations usually start before its responses, and
 * without `from` or `to` the buckets span both). One entry per day and channel at most, so a
 * window of years stays small. */
struct invitation_days {
    struct invitation_day {
        int64_t day;
        struct invitation_counts counts;
    } *days;
    size_t count, cap;
    bool out_of_memory;
};

static void keep_invitation_cell(const struct store_invitation_cell *cell, void *arg)
{
    struct invitation_days *kept = arg;
    if (kept->out_of_memory)
        return;
    if (kept->count > 0 && kept->days[kept->count - 1].day == cell->day) {
        struct invitation_counts counts = counts_of_cell(cell);
        add_invitations(&kept->days[kept->count - 1].counts, &counts);
        return;
    }
    if (kept->count == kept->cap) {
        size_t cap = kept->cap ? kept->cap * 2 : 64;
        struct invitation_day *grown = realloc(kept->days, cap * sizeof *grown);
        if (grown == NULL) {
            oom_note();
            kept->out_of_memory = true;
            return;
        }
        kept->days = grown;
        kept->cap = cap;
    }
    kept->days[kept->count++] = (struct invitation_day){cell->day, counts_of_cell(cell)};
}

/* First and last day of the kept invitations; false when there are none. */
static bool invitation_day_span(const struct invitation_days *kept, int64_t *first, int64_t *last)
{
    if (kept->count == 0)
        return false;
    *first = *last = kept->days[0].day;
    for (size_t i = 1; i < kept->count; i++) {
        if (kept->days[i].day < *first)
            *first = kept->days[i].day;
        if (kept->days[i].day > *last)
            *last = kept->days[i].day;
    }
    return true;
}

/* Folds the kept days from from_day on (a start that time_buckets moved drops the older ones, as
 * it does for responses). */
static void fold_invitation_days(struct tally *tally, const struct invitation_days *kept, int64_t from_day)
{
    for (size_t i = 0; i < kept->count; i++) {
        if (kept->days[i].day >= from_day)
            fold_invitations(tally, kept->days[i].day, "", "", &kept->days[i].counts);
    }
}

/* ---- rendering ---- */

/* A figure rounded to cents, as the JSON text cJSON prints for it ("%d" for whole numbers,
 * otherwise "%1.15g" checked by an sscanf round trip), made without that round trip: formatting
 * and re-parsing the figures took ~13% of a distinct metrics query's CPU (group_by=day over a year
 * has some 40,000 of them). For a double nearest to k/100 below 1e13, "%.2f" less its trailing
 * zeros is the same text; anything else goes to cJSON. */
static cJSON *cents(double v)
{
    char text[48];
    if (!isfinite(v) || fabs(v) >= 1e13)
        return cJSON_CreateNumber(v);
    if (v == 0 || (v == floor(v) && v >= INT_MIN && v <= INT_MAX)) /* -0 too: cJSON prints "0" */
        snprintf(text, sizeof text, "%d", (int)v);
    else {
        size_t len = (size_t)snprintf(text, sizeof text, "%.2f", v);
        while (text[len - 1] == '0')
            text[--len] = '\0';
        if (text[len - 1] == '.')
            text[--len] = '\0';
    }
    return cJSON_CreateRaw(text);
}

static void add_value(cJSON *object, const char *name, struct scoring_value value)
{
    if (value.present)
        oom_add_item(object, name, cents(scoring_round2(value.value)));
    else
        cJSON_AddNullToObject(object, name);
}

static void add_interval(cJSON *object, const char *name, struct scoring_interval interval)
{
    if (!interval.present) {
        cJSON_AddNullToObject(object, name);
        return;
    }
    cJSON *pair = cJSON_AddArrayToObject(object, name);
    oom_append_item(pair, cents(scoring_round2(interval.low)));
    oom_append_item(pair, cents(scoring_round2(interval.high)));
}

static void add_count(cJSON *object, const char *name, uint64_t count)
{
    cJSON_AddNumberToObject(object, name, (double)count);
}

/* The invitations block: counts, and the response rate (responded of sent, in percent) with its
 * Wilson interval; both null when none was sent. */
static void add_invitation_block(cJSON *object, const struct invitation_counts *counts)
{
    struct scoring_share rate;
    cJSON *block = cJSON_CreateObject();

    scoring_share(counts->responded, counts->sent, &rate);
    add_count(block, "sent", counts->sent);
    add_count(block, "suppressed", counts->suppressed);
    add_count(block, "opened", counts->opened);
    add_count(block, "responded", counts->responded);
    add_value(block, "response_rate", rate.pct);
    add_interval(block, "ci95", rate.ci95);
    oom_add_item(object, "invitations", block);
}

static void add_distribution(cJSON *object, const uint64_t *buckets, int width)
{
    cJSON *list = cJSON_AddArrayToObject(object, "distribution");
    for (int i = 0; i < width; i++)
        oom_append_item(list, cJSON_CreateNumber((double)buckets[i]));
}

/* A question's headline figure and its standard error, for comparisons. */
struct headline {
    bool comparable;
    struct scoring_value value, std_error;
};

static cJSON *render_question(const struct question *q, uint64_t answered, uint64_t responses,
                              const uint64_t *buckets, struct headline *headline)
{
    cJSON *out = cJSON_CreateObject();
    memset(headline, 0, sizeof *headline);

    cJSON_AddStringToObject(out, "type", survey_question_type_name(q->type));
    if (q->type == QUESTION_CSAT || q->type == QUESTION_CES)
        cJSON_AddNumberToObject(out, "scale", q->scale);
    add_count(out, "answered", answered);
    add_count(out, "skipped", responses > answered ? responses - answered : 0);

    switch (q->type) {
    case QUESTION_NPS: {
        struct scoring_nps nps;
        scoring_nps(buckets, &nps);
        add_value(out, "score", nps.score);
        add_count(out, "promoters", nps.promoters);
        add_count(out, "passives", nps.passives);
        add_count(out, "detractors", nps.detractors);
        add_value(out, "promoters_pct", nps.promoters_pct);
        add_value(out, "passives_pct", nps.passives_pct);
        add_value(out, "detractors_pct", nps.detractors_pct);
        add_value(out, "margin_of_error", nps.margin_of_error);
        add_interval(out, "ci95", nps.ci95);
        add_distribution(out, buckets, 11);
        *headline = (struct headline){true, nps.score, nps.std_error};
        break;
    }
    case QUESTION_CSAT: {
        struct scoring_csat csat;
        scoring_csat(buckets, q->scale, &csat);
        add_value(out, "score", csat.score);
        add_count(out, "satisfied", csat.satisfied);
        add_value(out, "mean", csat.mean);
        add_interval(out, "ci95", csat.ci95);
        add_distribution(out, buckets, q->scale);
        *headline = (struct headline){true, csat.score, csat.std_error};
        break;
    }
    case QUESTION_CES: {
        struct scoring_ces ces;
        scoring_ces(buckets, q->scale, &ces);
        add_value(out, "score", ces.score);
        add_count(out, "easy", ces.easy);
        add_value(out, "easy_pct", ces.easy_pct);
        add_interval(out, "ci95", ces.ci95);
        add_distribution(out, buckets, q->scale);
        *headline = (struct headline){true, ces.score, ces.std_error};
        break;
    }
    case QUESTION_YES_NO: {
        struct scoring_yes_no yes_no;
        scoring_yes_no(buckets[1], buckets[0], &yes_no);
        add_count(out, "yes", yes_no.yes);
        add_count(out, "no", yes_no.no);
        add_value(out, "yes_pct", yes_no.yes_pct);
        add_interval(out, "ci95", yes_no.ci95);
        *headline = (struct headline){true, yes_no.yes_pct, yes_no.std_error};
        break;
    }
    case QUESTION_CHOICE: {
        cJSON *counts = cJSON_AddObjectToObject(out, "counts");
        for (int i = 0; i < q->option_count; i++)
            add_count(counts, q->options[i], buckets[i]);
        if (q->allow_other || buckets[q->option_count] > 0)
            add_count(counts, "other", buckets[q->option_count]);
        break;
    }
    case QUESTION_TEXT:
        break;
    }
    return out;
}

static cJSON *render_questions(const struct layout *layout, const struct group *group, struct headline *headlines)
{
    cJSON *questions = cJSON_CreateObject();
    struct headline ignored;
    for (int i = 0; i < layout->survey->question_count; i++) {
        const struct question *q = &layout->survey->questions[i];
        oom_add_item(questions, q->id,
                     render_question(q, group->counts[i], group->responses, group->counts + layout->offset[i],
                                     headlines ? &headlines[i] : &ignored));
    }
    return questions;
}

/* Adds "previous" and "change" to every comparable question of current. */
static void add_comparison(cJSON *current, const struct layout *layout, const struct headline *now,
                           const struct group *before_group)
{
    struct headline before[SURVEY_MAX_QUESTIONS];
    cJSON *previous = render_questions(layout, before_group, before);

    for (int i = 0; i < layout->survey->question_count; i++) {
        const char *id = layout->survey->questions[i].id;
        if (!now[i].comparable)
            continue;
        cJSON *question = cJSON_GetObjectItemCaseSensitive(current, id);
        oom_add_item(question, "previous", cJSON_DetachItemFromObjectCaseSensitive(previous, id));
        struct scoring_change change = scoring_compare(now[i].value, now[i].std_error, before[i].value, before[i].std_error);
        if (!change.present) {
            cJSON_AddNullToObject(question, "change");
            continue;
        }
        cJSON *delta = cJSON_AddObjectToObject(question, "change");
        oom_add_item(delta, "score", cents(scoring_round2(change.delta)));
        cJSON_AddBoolToObject(delta, "significant", change.significant);
    }
    cJSON_Delete(previous);
}

/* ---- topics: a topic among detractors vs among promoters ---- */

static void nps_segments(const struct layout *layout, const struct group *group, int question, uint64_t *detractors,
                         uint64_t *promoters)
{
    const uint64_t *buckets = group->counts + layout->offset[question];
    *detractors = *promoters = 0;
    for (int v = 0; v <= 6; v++)
        *detractors += buckets[v];
    *promoters = buckets[9] + buckets[10];
}

static void add_share(cJSON *object, const char *name, uint64_t k, uint64_t n)
{
    cJSON *share = cJSON_AddObjectToObject(object, name);
    add_count(share, "tagged", k);
    add_count(share, "of", n);
    if (n > 0)
        oom_add_item(share, "pct", cents(scoring_round2(100.0 * (double)k / (double)n)));
    else
        cJSON_AddNullToObject(share, "pct");
}

/* The survey's first nps question, which the topic block is about; -1 when it has none. */
static int topic_block_question(const struct survey *survey)
{
    for (int i = 0; i < survey->question_count; i++)
        if (survey->questions[i].type == QUESTION_NPS)
            return i;
    return -1;
}

/* "topic": for the survey's first nps question, the topic's share among the window's detractors and
 * among its promoters (everyone: every response of the window, the other filters applied, not only
 * the topic's), with a pooled two-proportion z-test (topic_spec.h; README "Metrics: formulas"). */
static cJSON *topic_block(const struct layout *layout, int question, const char *topic, const struct group *tagged,
                          const struct group *everyone)
{
    uint64_t k1, k2, n1, n2;
    nps_segments(layout, tagged, question, &k1, &k2);
    nps_segments(layout, everyone, question, &n1, &n2);
    cJSON *block = cJSON_CreateObject();
    cJSON_AddStringToObject(block, "id", topic);
    cJSON_AddStringToObject(block, "question", layout->survey->questions[question].id);
    add_share(block, "detractors", k1, n1);
    add_share(block, "promoters", k2, n2);
    double z, p_value;
    if (topic_z_test((int64_t)k1, (int64_t)n1, (int64_t)k2, (int64_t)n2, &z, &p_value)) {
        oom_add_item(block, "z", cents(scoring_round2(z)));
        cJSON_AddNumberToObject(block, "p_value", round(p_value * 1e4) / 1e4);
    } else {
        cJSON_AddNullToObject(block, "z");
        cJSON_AddNullToObject(block, "p_value");
    }
    return block;
}

static int compare_groups(const void *a, const void *b)
{
    const struct group *x = a, *y = b;
    if (x->responses != y->responses)
        return x->responses < y->responses ? 1 : -1;
    return strcmp(x->key, y->key);
}

static cJSON *render_groups(struct tally *tally)
{
    cJSON *groups = cJSON_CreateArray();
    char key[32];

    /* Topics stay in id order (every topic, empty ones too); qsort must not see NULL. */
    if (!is_time_group(tally->group_by) && tally->group_by != GROUP_TOPIC && tally->group_count > 1)
        qsort(tally->groups, tally->group_count, sizeof *tally->groups, compare_groups);
    int nps = tally->group_by == GROUP_TOPIC ? topic_block_question(tally->layout->survey) : -1;
    for (size_t i = 0; i < tally->group_count; i++) {
        const struct group *group = &tally->groups[i];
        cJSON *item = cJSON_CreateObject();
        if (is_time_group(tally->group_by)) {
            format_bucket(tally->group_by, group->ordinal, key, sizeof key);
            cJSON_AddStringToObject(item, "key", key);
        } else if (group->key[0]) {
            cJSON_AddStringToObject(item, "key", group->key);
        } else {
            cJSON_AddNullToObject(item, "key"); /* responses without a channel or agent */
        }
        if (tally->group_by == GROUP_TOPIC) {
            cJSON_AddStringToObject(item, "title", group->title ? group->title : "");
            cJSON_AddBoolToObject(item, "complete", !group->running);
        }
        add_count(item, "responses", group->responses);
        oom_add_item(item, "questions", render_questions(tally->layout, group, NULL));
        add_invitation_block(item, &group->invitations);
        if (nps >= 0)
            oom_add_item(item, "topic", topic_block(tally->layout, nps, group->key, group, &tally->total));
        oom_append_item(groups, item);
    }
    return groups;
}

/* ---- computing a reply ---- */

/* The time buckets of the reply: from `from` (or the first day with data: the survey's responses,
 * or the invitations of `kept`, those the query counts) to the day before `to` (or the last day
 * with data), empty ones included. Without `from`, the window starts no earlier than
 * MAX_TIME_BUCKETS buckets before its end: a query that names no start must not fail because
 * old data exists (an import, or a clock gone wrong). Then q->from_ms is set to that start, so the
 * totals cover the same window and the reply says which one it was. Too many buckets between an
 * explicit `from` and the end stays STORE_CONFLICT (a 422). */
static enum store_status time_buckets(struct store_conn *conn, const char *survey,
                                      const struct invitation_days *kept, struct query *q, int64_t *first_ordinal,
                                      size_t *count)
{
    int64_t first_day = 0, last_day = 0, first_invited = 0, last_invited = 0;
    enum store_status status = STORE_OK;

    *count = 0;
    if (!q->has_from || !q->has_to) {
        bool invited = invitation_day_span(kept, &first_invited, &last_invited);
        status = store_day_span(conn, survey, &first_day, &last_day);
        if (status == STORE_NOT_FOUND && !invited)
            return STORE_OK;
        if (status != STORE_OK && status != STORE_NOT_FOUND)
            return status;
        if (status == STORE_NOT_FOUND) {
            first_day = first_invited;
            last_day = last_invited;
        } else if (invited) {
            first_day = first_invited < first_day ? first_invited : first_day;
            last_day = last_invited > last_day ? last_invited : last_day;
        }
    }
    if (q->has_from)
        first_day = floor_div(q->from_ms, MS_PER_DAY);
    if (q->has_to)
        last_day = floor_div(q->to_ms - 1, MS_PER_DAY);
    *first_ordinal = ordinal_of_day(q->group_by, first_day);
    int64_t last_ordinal = ordinal_of_day(q->group_by, last_day);
    if (last_ordinal < *first_ordinal)
        return STORE_OK;
    if (!q->has_from && last_ordinal - *first_ordinal >= MAX_TIME_BUCKETS) {
        *first_ordinal = last_ordinal - (MAX_TIME_BUCKETS - 1);
        q->has_from = true;
        q->from_ms = first_day_of_ordinal(q->group_by, *first_ordinal) * MS_PER_DAY;
    }
    if (last_ordinal - *first_ordinal >= MAX_TIME_BUCKETS)
        return STORE_CONFLICT; /* the caller turns this into a 422 */
    *count = (size_t)(last_ordinal - *first_ordinal + 1);
    return STORE_OK;
}

static enum store_status scan_window(struct store_conn *conn, const struct survey *survey,
                                     const struct query *q, int64_t from_ms, int64_t to_ms,
                                     struct tally *tally)
{
    struct store_metrics_query sq = {
        .survey = survey->id,
        .from_ms = from_ms,
        .to_ms = to_ms,
        .channel = q->channel,
        .agent = q->agent,
        .by_agent = tally->group_by == GROUP_AGENT,
        .by_day = tally->group_by == GROUP_DAY || tally->group_by == GROUP_WEEK,
        .topic = q->topic,
        .by_topic = tally->groups_only,
    };
    enum store_status status = store_metrics_scan(conn, &sq, fold_cell, tally);
    return status == STORE_OK && tally->out_of_memory ? STORE_ERROR : status;
}

/* The window's invitations, by when they were created, with the query's filters: folded into tally,
 * or (fold NULL) kept by day for a time grouping. */
static enum store_status scan_invitations(struct store_conn *conn, const struct survey *survey,
                                          const struct query *q, struct tally *fold, struct invitation_days *keep)
{
    struct store_metrics_query sq = {
        .survey = survey->id,
        .from_ms = q->from_ms,
        .to_ms = q->to_ms,
        .channel = q->channel,
        .agent = q->agent,
        .by_agent = q->group_by == GROUP_AGENT,
        .by_day = true,
    };
    enum store_status status = fold ? store_invitation_scan(conn, &sq, fold_invitation_cell, fold)
                                    : store_invitation_scan(conn, &sq, keep_invitation_cell, keep);
    bool out_of_memory = fold ? fold->out_of_memory : keep->out_of_memory;
    return status == STORE_OK && out_of_memory ? STORE_ERROR : status;
}

static void add_time_or_null(cJSON *object, const char *name, bool present, int64_t ms)
{
    if (present)
        api_add_time(object, name, ms);
    else
        cJSON_AddNullToObject(object, name);
}

struct topic_groups {
    struct tally *tally;
    bool failed;
};

static void add_topic_group(const struct store_topic_row *row, void *arg)
{
    struct topic_groups *t = arg;
    struct group *group = keyed_group(t->tally, row->id);
    if (group == NULL || (group->title = strdup(row->title)) == NULL)
        t->failed = true;
    else
        group->running = row->running;
}

/* group_by=topic: the totals from the window as usual, then a group per topic of the survey
 * (listed first, so that topics without responses are there too) from a scan by topic. */
static enum store_status scan_topic_groups(struct store_conn *conn, const struct survey *survey, const struct query *q,
                                           struct tally *tally)
{
    struct topic_groups t = {tally, false};
    enum store_status status = store_list_topics(conn, survey->id, add_topic_group, &t);
    if (status == STORE_OK && t.failed)
        status = STORE_ERROR;
    if (status == STORE_OK)
        status = scan_window(conn, survey, q, q->from_ms, q->to_ms, tally);
    if (status != STORE_OK)
        return status;
    tally->groups_only = true;
    status = scan_window(conn, survey, q, q->from_ms, q->to_ms, tally);
    tally->groups_only = false;
    return status;
}

/* topic=: the topic block, against a scan of everyone in the window. */
static enum store_status add_topic_block(struct store_conn *conn, const struct survey *survey, const struct query *q,
                                         const struct layout *layout, const struct tally *tagged, cJSON *reply)
{
    int question = topic_block_question(survey);
    if (question < 0)
        return STORE_OK;
    struct query everyone_query = *q;
    everyone_query.topic = NULL;
    struct tally everyone;
    if (!tally_init(&everyone, layout, GROUP_NONE, 0, 0))
        return STORE_ERROR;
    enum store_status status = scan_window(conn, survey, &everyone_query, q->from_ms, q->to_ms, &everyone);
    if (status == STORE_OK)
        oom_add_item(reply, "topic", topic_block(layout, question, q->topic, &tagged->total, &everyone.total));
    tally_free(&everyone);
    return status;
}

static enum store_status compute(struct store_conn *conn, const struct survey *survey, const struct query *asked,
                                 char **body)
{
    struct query window = *asked;       /* a time grouping may bound an open start: see time_buckets */
    const struct query *q = &window;
    struct layout layout;
    struct tally current, previous;
    struct headline headlines[SURVEY_MAX_QUESTIONS];
    struct invitation_days invited = {0};
    int64_t first_ordinal = 0;
    size_t buckets = 0;
    enum store_status status = STORE_OK;
    bool by_time = is_time_group(q->group_by);

    layout_init(&layout, survey);
    if (by_time) {
        status = scan_invitations(conn, survey, q, NULL, &invited);
        if (status == STORE_OK)
            status = time_buckets(conn, survey->id, &invited, &window, &first_ordinal, &buckets);
        if (status != STORE_OK) {
            free(invited.days);
            return status;
        }
    }
    bool ok = tally_init(&current, &layout, q->group_by, first_ordinal, buckets);
    bool ok_previous = tally_init(&previous, &layout, GROUP_NONE, 0, 0);
    if (!ok || !ok_previous)
        status = STORE_ERROR;
    if (status == STORE_OK && q->group_by == GROUP_TOPIC)
        status = scan_topic_groups(conn, survey, q, &current);
    else if (status == STORE_OK)
        status = scan_window(conn, survey, q, q->from_ms, q->to_ms, &current);
    if (status == STORE_OK && by_time)
        fold_invitation_days(&current, &invited, q->has_from ? floor_div(q->from_ms, MS_PER_DAY) : INT64_MIN);
    else if (status == STORE_OK)
        status = scan_invitations(conn, survey, q, &current, NULL);
    if (status == STORE_OK && q->compare_previous)
        status = scan_window(conn, survey, q, q->from_ms - (q->to_ms - q->from_ms), q->from_ms, &previous);
    if (status != STORE_OK)
        goto done;

    cJSON *reply = cJSON_CreateObject();
    cJSON_AddStringToObject(reply, "survey", survey->id);
    add_time_or_null(reply, "from", q->has_from, q->from_ms);
    add_time_or_null(reply, "to", q->has_to, q->to_ms);
    cJSON *filters = cJSON_AddObjectToObject(reply, "filters");
    if (q->channel)
        cJSON_AddStringToObject(filters, "channel", q->channel);
    if (q->agent)
        cJSON_AddStringToObject(filters, "agent", q->agent);
    if (q->topic)
        cJSON_AddStringToObject(filters, "topic", q->topic);
    add_count(reply, "responses", current.total.responses);
    cJSON *questions = render_questions(&layout, &current.total, headlines);
    if (q->compare_previous)
        add_comparison(questions, &layout, headlines, &previous.total);
    oom_add_item(reply, "questions", questions);
    add_invitation_block(reply, &current.total.invitations);
    if (q->group_by != GROUP_NONE)
        oom_add_item(reply, "groups", render_groups(&current));
    if (q->topic && (status = add_topic_block(conn, survey, q, &layout, &current, reply)) != STORE_OK) {
        cJSON_Delete(reply);
        goto done;
    }
    *body = cJSON_PrintUnformatted(reply);
    cJSON_Delete(reply);
done:
    tally_free(&current);
    tally_free(&previous);
    free(invited.days);
    return status;
}

/* ---- conditional requests ---- */

/* epoch: 0 on a shared store, whose versions already differ across the database's lifetimes, so
 * that every instance gives the same reply the same tag. */
static void make_etag(int64_t epoch, uint64_t version, const char *key, char *out, size_t size)
{
    uint64_t h = 1469598103934665603u;
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211u;
    snprintf(out, size, "W/\"%llx-%llx-%016llx\"", (unsigned long long)epoch, (unsigned long long)version,
             (unsigned long long)h);
}

/* Weak comparison against each entity tag of If-None-Match (or "*"). */
static bool etag_matches(const char *if_none_match, const char *etag)
{
    const char *opaque = etag + 2; /* past W/ */
    size_t len = strlen(opaque);
    const char *p = if_none_match;

    while (p && *p) {
        p += strspn(p, " \t,");
        if (*p == '*')
            return true;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        size_t token = strcspn(p, ",");
        while (token > 0 && (p[token - 1] == ' ' || p[token - 1] == '\t'))
            token--;
        if (token == len && strncmp(p, opaque, len) == 0)
            return true;
        p = strchr(p, ',');
    }
    return false;
}

/* The label of a reply: its version, and the epoch that goes into its ETag. */
struct reply_label {
    int64_t epoch;
    uint64_t version;
};

/* local is this process's version of what the reply reads (versions.c), read before the data.
 * On a shared store (several instances on one database) other instances write too, and only the
 * store's own data version, read here before the data, sees their writes: it alone labels the
 * reply, so neither a cached reply nor a client's ETag outlives a write another instance
 * acknowledged before this request arrived, and every instance tags a reply alike. */
static bool label_reply(struct http_request *req, const char *survey, uint64_t local, struct reply_label *label)
{
    struct app *app = api_app(req);
    struct store_conn *conn = store_reader(app->store);
    int64_t shared = 0;

    *label = (struct reply_label){versions_epoch(app->versions), local};
    if (conn == NULL || !store_shared(conn))
        return true;
    enum store_status status = store_data_version(conn, survey, &shared);
    if (status != STORE_OK) {
        api_reply_store_error(req, status);
        return false;
    }
    *label = (struct reply_label){0, (uint64_t)shared};
    return true;
}

void metrics_reply_cached(struct http_request *req, const char *key, const char *survey, uint64_t local,
                          enum store_status (*produce)(struct http_request *req, void *arg, char **body), void *arg)
{
    struct app *app = api_app(req);
    struct reply_label label;
    char etag[96];
    const char *if_none_match = http_header(req, "If-None-Match");

    if (!label_reply(req, survey, local, &label))
        return;
    uint64_t version = label.version;
    make_etag(label.epoch, version, key, etag, sizeof etag);
    if (if_none_match && etag_matches(if_none_match, etag)) {
        http_add_header(req, "ETag", etag);
        http_add_header(req, "Cache-Control", "no-cache");
        http_reply_empty(req, 304);
        return;
    }
    char *body = cache_get(app->cache, key, version);
    if (body == NULL) {
        enum store_status status = produce(req, arg, &body);
        /* A figure cJSON quietly left out (out of memory) must not be cached for the next caller:
         * http.c turns this reply into a 500, but a cached copy would be served as it is. */
        if (status == STORE_OK && (body == NULL || oom_failed())) {
            free(body);
            body = NULL;
            status = STORE_ERROR;
        }
        if (status == STORE_CONFLICT) {
            api_reply_invalid_field(req, "group_by", "too many time buckets (at most 3700); narrow from and to");
            return;
        }
        if (status != STORE_OK) {
            api_reply_store_error(req, status);
            return;
        }
        cache_put(app->cache, key, version, body);
    }
    http_add_header(req, "ETag", etag);
    http_add_header(req, "Cache-Control", "no-cache");
    http_reply_json_text(req, 200, body);
}

/* ---- GET /v1/surveys/{survey}/metrics ---- */

struct param_list {
    struct query_param params[MAX_PARAMS];
    int count;
    bool too_many;
};

static void collect_param(const char *name, const char *value, void *arg)
{
    struct param_list *list = arg;
    if (list->count == MAX_PARAMS)
        list->too_many = true;
    else
        list->params[list->count++] = (struct query_param){name, value};
}

struct survey_metrics {
    struct survey survey;
    struct query query;
};

static enum store_status produce_survey(struct http_request *req, void *arg, char **body)
{
    struct survey_metrics *m = arg;
    struct store_conn *conn = store_reader(api_app(req)->store);
    return conn ? compute(conn, &m->survey, &m->query, body) : STORE_UNAVAILABLE;
}

enum http_next metrics_survey(struct http_request *req)
{
    struct app *app = api_app(req);
    struct param_list params = {0};
    struct survey_metrics m;
    struct validate_errors errors;

    if (!api_require(req, auth_may_read))
        return HTTP_DONE;
    /* The version is read before the data, so a write landing in between only makes the reply's
     * version older than its content, never newer. */
    uint64_t version = versions_get(app->versions, req->params[0]);
    enum store_status status = STORE_NOT_FOUND;
    if (ids_valid_slug(req->params[0]))
        status = api_load_survey_cached(app->surveys, store_reader(app->store), req->params[0], &m.survey, NULL);
    if (status != STORE_OK) {
        api_reply_survey_error(req, req->params[0], status);
        return HTTP_DONE;
    }
    http_each_query(req, collect_param, &params);
    validate_errors_init(&errors);
    if (params.too_many)
        validate_error(&errors, "", "too many query parameters");
    unsigned allowed =
        QUERY_FROM | QUERY_TO | QUERY_CHANNEL | QUERY_AGENT | QUERY_GROUP_BY | QUERY_COMPARE | QUERY_TOPIC;
    if (!query_parse(params.params, params.count, allowed, &m.query, &errors) || params.too_many) {
        api_reply_invalid(req, &errors);
        survey_free(&m.survey);
        return HTTP_DONE;
    }
    if (m.query.topic && m.query.group_by == GROUP_TOPIC) {
        validate_error(&errors, "group_by", "topic cannot be combined with topic=: each group already is one topic");
        api_reply_invalid(req, &errors);
        survey_free(&m.survey);
        return HTTP_DONE;
    }
    if (m.query.group_by == GROUP_TOPIC && !topics_check_grouping(req)) {
        survey_free(&m.survey);
        return HTTP_DONE;
    }
    if (m.query.topic && !topics_check_filter(req, m.survey.id, m.query.topic)) {
        survey_free(&m.survey);
        return HTTP_DONE;
    }
    char *key = query_key(m.survey.id, &m.query);
    if (key == NULL)
        api_reply_store_error(req, STORE_UNAVAILABLE);
    else
        metrics_reply_cached(req, key, m.survey.id, version, produce_survey, &m);
    free(key);
    survey_free(&m.survey);
    return HTTP_DONE;
}

/* ---- GET /v1/metrics ---- */

struct overview {
    struct store_conn *conn;
    cJSON *list;
    enum store_status status;
};

static void add_overview_row(const struct store_survey_row *row, void *arg)
{
    struct overview *overview = arg;
    struct survey survey;
    struct query all = {.from_ms = INT64_MIN, .to_ms = INT64_MAX};
    struct layout layout;
    struct tally tally;

    if (overview->status != STORE_OK)
        return;
    cJSON *definition = cJSON_Parse(row->definition);
    struct validate_errors errors;
    validate_errors_init(&errors);
    bool parsed = validate_definition(row->id, definition, &survey, &errors);
    validate_errors_free(&errors);
    cJSON_Delete(definition);
    if (!parsed) {
        overview->status = STORE_ERROR;
        return;
    }
    layout_init(&layout, &survey);
    if (!tally_init(&tally, &layout, GROUP_NONE, 0, 0))
        overview->status = STORE_ERROR;
    else
        overview->status = scan_window(overview->conn, &survey, &all, INT64_MIN, INT64_MAX, &tally);
    if (overview->status == STORE_OK) {
        cJSON *item = cJSON_CreateObject();
        cJSON_AddStringToObject(item, "survey", survey.id);
        cJSON_AddStringToObject(item, "title", survey.title);
        add_count(item, "responses", tally.total.responses);
        cJSON *scores = cJSON_AddObjectToObject(item, "questions");
        for (int i = 0; i < survey.question_count; i++) {
            const struct question *q = &survey.questions[i];
            struct headline headline;
            if (q->type != QUESTION_NPS && q->type != QUESTION_CSAT && q->type != QUESTION_CES)
                continue;
            cJSON *full = render_question(q, tally.total.counts[i], tally.total.responses,
                                          tally.total.counts + layout.offset[i], &headline);
            cJSON *brief = cJSON_CreateObject();
            cJSON_AddStringToObject(brief, "type", survey_question_type_name(q->type));
            oom_add_item(brief, "answered", cJSON_DetachItemFromObjectCaseSensitive(full, "answered"));
            oom_add_item(brief, "score", cJSON_DetachItemFromObjectCaseSensitive(full, "score"));
            cJSON_Delete(full);
            oom_add_item(scores, q->id, brief);
        }
        oom_append_item(overview->list, item);
    }
    tally_free(&tally);
    survey_free(&survey);
}

static enum store_status produce_overview(struct http_request *req, void *arg, char **body)
{
    struct overview overview = {store_reader(api_app(req)->store), cJSON_CreateArray(), STORE_OK};
    enum store_status status =
        overview.conn ? store_list_surveys(overview.conn, add_overview_row, &overview) : STORE_UNAVAILABLE;
    if (status == STORE_OK)
        status = overview.status;
    if (status != STORE_OK) {
        cJSON_Delete(overview.list);
        return status;
    }
    cJSON *reply = cJSON_CreateObject();
    oom_add_item(reply, "surveys", overview.list);
    *body = cJSON_PrintUnformatted(reply);
    cJSON_Delete(reply);
    return STORE_OK;
}

static void reject_param(const char *name, const char *value, void *arg)
{
    validate_error(arg, name, "unknown parameter (this endpoint takes none)");
}

enum http_next metrics_overview(struct http_request *req)
{
    struct validate_errors errors;

    if (!api_require(req, auth_may_read))
        return HTTP_DONE;
    validate_errors_init(&errors);
    http_each_query(req, reject_param, &errors);
    if (errors.count > 0) {
        api_reply_invalid(req, &errors);
        return HTTP_DONE;
    }
    metrics_reply_cached(req, "\x02overview", NULL, versions_global(api_app(req)->versions), produce_overview, NULL);
    return HTTP_DONE;
}
