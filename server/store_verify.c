/* The streamed rollup checks of `surveyd verify` (see store_verify.h).
 *
 * One `expected EXCEPT stored` over a whole day table built an ephemeral B-tree of every recomputed
 * cell (temp_store = MEMORY): 4.7 GB and 25 minutes at 10 M responses. Here the walk goes survey by
 * survey, and day by day within it, asking each side for that day's rows in key order (the responses
 * through their (survey, submitted_at) index, the rollups through their primary key) and merging the
 * two runs. Memory is one day's GROUP BY; time is one pass over the responses per answer table. */
#include "store_verify.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL
/* Days beyond this are nonsense (a tampered row); their millisecond bounds would overflow. */
#define DAY_LIMIT 100000000000LL

enum day_source { FROM_RESPONSES, FROM_ROLLUP_RESPONSES, FROM_ROLLUP_ANSWERS, DAY_SOURCES };

/* The next day (> after) with anything in it, per source; the walk visits their union. */
static const char *const next_day_sql[DAY_SOURCES] = {
    "SELECT submitted_at / 86400000 FROM responses WHERE survey = ?1 AND submitted_at >= ?2"
    " ORDER BY submitted_at LIMIT 1",
    "SELECT day FROM rollup_responses WHERE survey = ?1 AND day > ?2 ORDER BY day LIMIT 1",
    "SELECT day FROM rollup_answers WHERE survey = ?1 AND day > ?2 ORDER BY day LIMIT 1",
};

/* The agents named in the stored agent rollups, by skipping from one to the next through the
 * primary key (survey, agent, ...): a few seeks per agent, not a scan. */
static const char *const agent_tables[] = {"rollup_answers_agent", "rollup_responses_agent"};
#define AGENT_TABLES (sizeof agent_tables / sizeof agent_tables[0])

struct sum_cell {
    char *key;
    sqlite3_int64 count;
    bool stored;
};

/* A per-survey sum of another check's recomputed rows: one cell per distinct key (a survey's
 * questions: at most a few dozen). */
struct sum {
    struct sum_cell *cells;
    size_t count, size;
};

struct walk {
    sqlite3 *db;
    const struct rollup_check *checks;
    size_t count;
    store_verify_report_fn report;
    void *arg;
    uint64_t *differences;
    sqlite3_stmt **expected, **stored;  /* per check: the day statements, or a sum's stored side */
    uint64_t *seen;                     /* per check: stored rows the walk compared */
    struct sum *sums;                   /* per check: filled by the checks it is the sum of */
    int *sum_target;                    /* per check: the check its rows are summed into, or -1 */
    sqlite3_stmt *next_day[DAY_SOURCES];
    sqlite3_stmt *first_agent[AGENT_TABLES], *next_agent[AGENT_TABLES];
    sqlite3_stmt *surveys;
    sqlite3_stmt **fill;                /* the plan's day_fill, prepared */
};

void store_verify_report_row(sqlite3_stmt *s, const char *table, bool expected_side, store_verify_report_fn report,
                             void *arg)
{
    char line[1024];
    size_t len = (size_t)snprintf(line, sizeof line, "%s: %s row", table, expected_side ? "missing or wrong" : "unexpected");

    for (int c = 0; c < sqlite3_column_count(s) && len < sizeof line; c++) {
        const unsigned char *text = sqlite3_column_text(s, c);
        len += (size_t)snprintf(line + len, sizeof line - len, " %s", text ? (const char *)text : "NULL");
    }
    report(line, arg);
}

static enum store_status status_of(int rc)
{
    return rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW ? STORE_OK
           : (rc & 0xff) == SQLITE_NOMEM                          ? STORE_UNAVAILABLE
                                                                   : STORE_ERROR;
}

/* SQLite's own order for values of no declared collation: NULL, numbers, text (bytes), blobs. The
 * merge must agree with the ORDER BY of both sides. */
static int type_rank(int type)
{
    return type == SQLITE_NULL ? 0 : type == SQLITE_INTEGER || type == SQLITE_FLOAT ? 1 : type == SQLITE_TEXT ? 2 : 3;
}

static int compare_bytes(const void *a, int na, const void *b, int nb)
{
    int c = memcmp(a, b, (size_t)(na < nb ? na : nb));
    return c != 0 ? c : (na > nb) - (na < nb);
}

static int compare_column(sqlite3_stmt *a, sqlite3_stmt *b, int col)
{
    int ta = sqlite3_column_type(a, col), tb = sqlite3_column_type(b, col);

    if (type_rank(ta) != type_rank(tb))
        return type_rank(ta) < type_rank(tb) ? -1 : 1;
    if (ta == SQLITE_INTEGER && tb == SQLITE_INTEGER) {
        sqlite3_int64 x = sqlite3_column_int64(a, col), y = sqlite3_column_int64(b, col);
        return (x > y) - (x < y);
    }
    if (type_rank(ta) == 1) {
        double x = sqlite3_column_double(a, col), y = sqlite3_column_double(b, col);
        return (x > y) - (x < y);
    }
    if (ta == SQLITE_NULL)
        return 0;
    const void *x = ta == SQLITE_TEXT ? (const void *)sqlite3_column_text(a, col) : sqlite3_column_blob(a, col);
    const void *y = tb == SQLITE_TEXT ? (const void *)sqlite3_column_text(b, col) : sqlite3_column_blob(b, col);
    return compare_bytes(x ? x : "", sqlite3_column_bytes(a, col), y ? y : "", sqlite3_column_bytes(b, col));
}

static int compare_keys(sqlite3_stmt *a, sqlite3_stmt *b, int keys)
{
    for (int col = 0; col < keys; col++) {
        int c = compare_column(a, b, col);
        if (c != 0)
            return c;
    }
    return 0;
}

static void difference(struct walk *w, size_t check, sqlite3_stmt *s, bool expected_side)
{
    store_verify_report_row(s, w->checks[check].table, expected_side, w->report, w->arg);
    (*w->differences)++;
}

/* ---- per-survey sums ---- */

static bool sum_add(struct sum *sum, const char *key, sqlite3_int64 count)
{
    for (size_t i = 0; i < sum->count; i++)
        if (strcmp(sum->cells[i].key, key) == 0) {
            sum->cells[i].count += count;
            return true;
        }
    if (sum->count == sum->size) {
        size_t size = sum->size ? sum->size * 2 : 16;
        struct sum_cell *cells = realloc(sum->cells, size * sizeof *cells);
        if (cells == NULL)
            return false;
        sum->cells = cells;
        sum->size = size;
    }
    char *copy = strdup(key);
    if (copy == NULL)
        return false;
    sum->cells[sum->count++] = (struct sum_cell){copy, count, false};
    return true;
}

static void sum_clear(struct sum *sum)
{
    for (size_t i = 0; i < sum->count; i++)
        free(sum->cells[i].key);
    sum->count = 0;
}

/* One stored row of a sum check (survey, key, count) against the sums. */
static void sum_compare_row(struct walk *w, size_t check, sqlite3_stmt *s)
{
    struct sum *sum = &w->sums[check];
    const char *key = (const char *)sqlite3_column_text(s, 1);

    for (size_t i = 0; key != NULL && i < sum->count; i++) {
        if (strcmp(sum->cells[i].key, key) != 0)
            continue;
        sum->cells[i].stored = true;
        if (sqlite3_column_type(s, 2) == SQLITE_INTEGER && sqlite3_column_int64(s, 2) == sum->cells[i].count)
            return;
        char line[512];
        snprintf(line, sizeof line, "%s: missing or wrong row %s %s %lld", w->checks[check].table,
                 (const char *)sqlite3_column_text(s, 0), key, (long long)sum->cells[i].count);
        w->report(line, w->arg);
        (*w->differences)++;
        break;
    }
    difference(w, check, s, false);
}

static enum store_status sum_finish(struct walk *w, size_t check, const char *survey)
{
    struct sum *sum = &w->sums[check];
    sqlite3_stmt *s = w->stored[check];
    int rc;

    sqlite3_bind_text(s, 1, survey, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        w->seen[check]++;
        sum_compare_row(w, check, s);
    }
    sqlite3_reset(s);
    for (size_t i = 0; i < sum->count; i++) {
        if (sum->cells[i].stored || sum->cells[i].count == 0)
            continue;
        char line[512];
        snprintf(line, sizeof line, "%s: missing or wrong row %s %s %lld", w->checks[check].table, survey,
                 sum->cells[i].key, (long long)sum->cells[i].count);
        w->report(line, w->arg);
        (*w->differences)++;
    }
    sum_clear(sum);
    return status_of(rc);
}

/* ---- one day ---- */

static void bind_day(sqlite3_stmt *s, const char *survey, sqlite3_int64 day, const char *agents)
{
    int params = sqlite3_bind_parameter_count(s);
    sqlite3_int64 clamped = day > DAY_LIMIT ? DAY_LIMIT : day < -DAY_LIMIT ? -DAY_LIMIT : day;
    /* submitted_at / 86400000 truncates toward zero: a day's rows lie within a day either side. */
    sqlite3_int64 bounds[2] = {(clamped - 1) * DAY_MS, (clamped + 1) * DAY_MS};

    sqlite3_bind_text(s, 1, survey, -1, SQLITE_STATIC);
    if (params >= 2)
        sqlite3_bind_int64(s, 2, day);
    if (params >= 4) {
        sqlite3_bind_int64(s, 3, bounds[0]);
        sqlite3_bind_int64(s, 4, bounds[1]);
    }
    if (params >= 5)
        sqlite3_bind_text(s, 5, agents, -1, SQLITE_STATIC);
}

static bool add_to_sum(struct walk *w, size_t check, sqlite3_stmt *expected)
{
    int target = w->sum_target[check];
    if (target < 0)
        return true;
    const char *key = (const char *)sqlite3_column_text(expected, w->checks[target].sum_column);
    int count_col = sqlite3_column_count(expected) - 1;
    return key == NULL || sum_add(&w->sums[target], key, sqlite3_column_int64(expected, count_col));
}

/* Merges the day's recomputed and stored rows of one check, both in key order. */
static enum store_status merge_day(struct walk *w, size_t check, const char *survey, sqlite3_int64 day,
                                   const char *agents)
{
    sqlite3_stmt *e = w->expected[check], *s = w->stored[check];
    int keys = sqlite3_column_count(e) - 1;
    enum store_status status = STORE_OK;

    bind_day(e, survey, day, agents);
    bind_day(s, survey, day, agents);
    int re = sqlite3_step(e), rs = sqlite3_step(s);
    while (status == STORE_OK && (re == SQLITE_ROW || rs == SQLITE_ROW)) {
        int c = re != SQLITE_ROW ? 1 : rs != SQLITE_ROW ? -1 : compare_keys(e, s, keys);
        if (c <= 0 && !add_to_sum(w, check, e))
            status = STORE_UNAVAILABLE;
        if (c == 0 && compare_column(e, s, keys) != 0) {
            difference(w, check, e, true);
            difference(w, check, s, false);
        } else if (c != 0) {
            difference(w, check, c < 0 ? e : s, c < 0);
        }
        if (c <= 0)
            re = sqlite3_step(e);
        if (c >= 0) {
            w->seen[check]++;
            rs = sqlite3_step(s);
        }
    }
    if (status == STORE_OK)
        status = status_of(re) != STORE_OK ? status_of(re) : status_of(rs);
    sqlite3_reset(e);
    sqlite3_reset(s);
    return status;
}

/* ---- walking surveys and days ---- */

static bool next_day_of(sqlite3_stmt *s, const char *survey, sqlite3_int64 after, sqlite3_int64 *day)
{
    sqlite3_bind_text(s, 1, survey, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, after);
    bool found = sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL;
    if (found)
        *day = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return found;
}

/* The smallest submitted_at whose day (truncating division) comes after `day`. */
static sqlite3_int64 first_ms_after(sqlite3_int64 day)
{
    if (day >= DAY_LIMIT)
        return INT64_MAX;
    if (day < -DAY_LIMIT)
        return INT64_MIN;
    return day >= 0 ? (day + 1) * DAY_MS : day * DAY_MS + 1;
}

static bool next_day(struct walk *w, const char *survey, bool first, sqlite3_int64 after, sqlite3_int64 *day)
{
    bool found = false;

    for (int src = 0; src < DAY_SOURCES; src++) {
        sqlite3_int64 d, bound = first ? INT64_MIN : src == FROM_RESPONSES ? first_ms_after(after) : after;
        if (next_day_of(w->next_day[src], survey, bound, &d) && (!found || d < *day)) {
            *day = d;
            found = true;
        }
    }
    return found;
}

/* A JSON array of the agents in the survey's stored agent rollups (duplicates do no harm in IN). */
static char *stored_agents(struct walk *w, const char *survey)
{
    cJSON *list = cJSON_CreateArray();
    char *json = NULL, *prev = NULL;

    if (list == NULL)
        return NULL;
    for (size_t t = 0; t < AGENT_TABLES; t++) {
        sqlite3_stmt *s = w->first_agent[t];
        sqlite3_bind_text(s, 1, survey, -1, SQLITE_STATIC);
        while (sqlite3_step(s) == SQLITE_ROW) {
            const char *agent = (const char *)sqlite3_column_text(s, 0);
            cJSON *item = cJSON_CreateString(agent ? agent : "");
            free(prev);
            prev = strdup(agent ? agent : "");
            sqlite3_reset(s);
            if (item == NULL || prev == NULL || !cJSON_AddItemToArray(list, item))
                goto done;
            s = w->next_agent[t];
            sqlite3_bind_text(s, 1, survey, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 2, prev, -1, SQLITE_STATIC);
        }
        sqlite3_reset(s);
    }
    json = cJSON_PrintUnformatted(list);
done:
    free(prev);
    cJSON_Delete(list);
    return json;
}

static enum store_status fill_day(struct walk *w, const char *survey, sqlite3_int64 day)
{
    for (sqlite3_stmt **s = w->fill; *s != NULL; s++) {
        bind_day(*s, survey, day, NULL);
        int rc = sqlite3_step(*s);
        sqlite3_reset(*s);
        if (rc != SQLITE_DONE)
            return status_of(rc);
    }
    return STORE_OK;
}

static enum store_status walk_survey(struct walk *w, const char *survey)
{
    enum store_status status = STORE_OK;
    char *agents = stored_agents(w, survey);
    sqlite3_int64 day = 0;

    if (agents == NULL)
        return STORE_UNAVAILABLE;
    for (bool more = next_day(w, survey, true, 0, &day); status == STORE_OK && more;
         more = next_day(w, survey, false, day, &day)) {
        status = fill_day(w, survey, day);
        for (size_t i = 0; status == STORE_OK && i < w->count; i++)
            if (w->checks[i].day_expected != NULL)
                status = merge_day(w, i, survey, day, agents);
    }
    for (size_t i = 0; status == STORE_OK && i < w->count; i++)
        if (w->checks[i].sum_of != NULL)
            status = sum_finish(w, i, survey);
    free(agents);
    return status;
}

/* Stored rows the walk never reached: only looked for when there are some. */
static enum store_status report_unvisited(struct walk *w, size_t check)
{
    char sql[1024];
    sqlite3_stmt *s = NULL;
    int rc;
    sqlite3_int64 total = 0;

    snprintf(sql, sizeof sql, "SELECT count(*) FROM (%s)", w->checks[check].stored);
    if (sqlite3_prepare_v2(w->db, sql, -1, &s, NULL) != SQLITE_OK)
        return STORE_ERROR;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        total = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW)
        return status_of(rc);
    if ((uint64_t)total == w->seen[check])
        return STORE_OK;
    if (sqlite3_prepare_v2(w->db, w->checks[check].unvisited, -1, &s, NULL) != SQLITE_OK)
        return STORE_ERROR;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        difference(w, check, s, false);
    sqlite3_finalize(s);
    return status_of(rc);
}

/* ---- setting up and tearing down ---- */

static bool prepare(sqlite3 *db, const char *sql, sqlite3_stmt **s)
{
    return sqlite3_prepare_v2(db, sql, -1, s, NULL) == SQLITE_OK;
}

static bool prepare_agents(struct walk *w)
{
    char sql[256];

    for (size_t t = 0; t < AGENT_TABLES; t++) {
        snprintf(sql, sizeof sql, "SELECT agent FROM %s WHERE survey = ?1 ORDER BY agent LIMIT 1", agent_tables[t]);
        if (!prepare(w->db, sql, &w->first_agent[t]))
            return false;
        snprintf(sql, sizeof sql, "SELECT agent FROM %s WHERE survey = ?1 AND agent > ?2 ORDER BY agent LIMIT 1",
                 agent_tables[t]);
        if (!prepare(w->db, sql, &w->next_agent[t]))
            return false;
    }
    return true;
}

static int index_of(const struct walk *w, const char *table)
{
    for (size_t i = 0; i < w->count; i++)
        if (strcmp(w->checks[i].table, table) == 0)
            return (int)i;
    return -1;
}

static bool prepare_fill(struct walk *w, const char *const *fill)
{
    size_t n = 0;

    while (fill[n] != NULL)
        n++;
    w->fill = calloc(n + 1, sizeof *w->fill);
    if (w->fill == NULL)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!prepare(w->db, fill[i], &w->fill[i]))
            return false;
    return true;
}

static bool walk_open(struct walk *w, const char *const *fill)
{
    size_t n = w->count;

    w->expected = calloc(n, sizeof *w->expected);
    w->stored = calloc(n, sizeof *w->stored);
    w->seen = calloc(n, sizeof *w->seen);
    w->sums = calloc(n, sizeof *w->sums);
    w->sum_target = calloc(n, sizeof *w->sum_target);
    if (!w->expected || !w->stored || !w->seen || !w->sums || !w->sum_target)
        return false;
    for (size_t i = 0; i < n; i++)
        w->sum_target[i] = -1;
    for (size_t i = 0; i < n; i++) {
        const struct rollup_check *c = &w->checks[i];
        if (c->day_expected != NULL && !prepare(w->db, c->day_expected, &w->expected[i]))
            return false;
        if ((c->day_expected != NULL || c->sum_of != NULL) && !prepare(w->db, c->day_stored, &w->stored[i]))
            return false;
        if (c->sum_of != NULL) {
            int source = index_of(w, c->sum_of);
            if (source < 0 || w->checks[source].day_expected == NULL)
                return false;
            w->sum_target[source] = (int)i;
        }
    }
    for (int src = 0; src < DAY_SOURCES; src++)
        if (!prepare(w->db, next_day_sql[src], &w->next_day[src]))
            return false;
    return prepare_fill(w, fill) && prepare_agents(w) && prepare(w->db, "SELECT id FROM surveys ORDER BY id", &w->surveys);
}

static void walk_close(struct walk *w)
{
    for (size_t i = 0; i < w->count; i++) {
        if (w->expected)
            sqlite3_finalize(w->expected[i]);
        if (w->stored)
            sqlite3_finalize(w->stored[i]);
        if (w->sums) {
            sum_clear(&w->sums[i]);
            free(w->sums[i].cells);
        }
    }
    for (int src = 0; src < DAY_SOURCES; src++)
        sqlite3_finalize(w->next_day[src]);
    for (size_t t = 0; t < AGENT_TABLES; t++) {
        sqlite3_finalize(w->first_agent[t]);
        sqlite3_finalize(w->next_agent[t]);
    }
    sqlite3_finalize(w->surveys);
    for (sqlite3_stmt **s = w->fill; s != NULL && *s != NULL; s++)
        sqlite3_finalize(*s);
    free(w->fill);
    free(w->expected);
    free(w->stored);
    free(w->seen);
    free(w->sums);
    free(w->sum_target);
}

enum store_status store_verify_streamed(sqlite3 *db, const struct store_verify_plan *plan,
                                        store_verify_report_fn report, void *arg, uint64_t *differences)
{
    struct walk w = {.db = db, .checks = plan->checks, .count = plan->count, .report = report, .arg = arg,
                     .differences = differences};
    const struct rollup_check *checks = plan->checks;
    size_t count = plan->count;
    enum store_status status = STORE_ERROR;
    int rc = SQLITE_DONE;

    /* Temp tables first: statements that name them cannot be prepared before they exist. */
    if (sqlite3_exec(db, plan->setup, NULL, NULL, NULL) != SQLITE_OK || !walk_open(&w, plan->day_fill))
        goto done;
    status = STORE_OK;
    while (status == STORE_OK && (rc = sqlite3_step(w.surveys)) == SQLITE_ROW) {
        char *survey = strdup((const char *)sqlite3_column_text(w.surveys, 0));
        status = survey ? walk_survey(&w, survey) : STORE_UNAVAILABLE;
        free(survey);
    }
    if (status == STORE_OK && rc != SQLITE_DONE)
        status = status_of(rc);
    for (size_t i = 0; status == STORE_OK && i < count; i++)
        if (checks[i].day_expected != NULL || checks[i].sum_of != NULL)
            status = report_unvisited(&w, i);
done:
    walk_close(&w);
    sqlite3_exec(db, plan->teardown, NULL, NULL, NULL);
    return status;
}
