/* The streamed rollup checks of `surveyd verify` (see sqlite_verify.h).
 *
 * One `expected EXCEPT stored` over a whole day table built an ephemeral B-tree of every recomputed
 * cell (temp_store = MEMORY): 4.7 GB and 25 minutes at 10 M responses. Here the walk goes survey by
 * survey, and day by day within it: each day's stored rows (through the rollups' primary keys) go
 * into a hash of cells, and each day's answers (through the responses' (survey, submitted_at)
 * index and answer_facts, read once for every table derived from them) are counted into the same
 * cells. Memory is one day's cells; nothing is sorted; time is one pass over the answers. */
#include "sqlite_verify.h"
#include "sqlite_internal.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text_query.h"

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

/* Which columns of a row key a cell, in order (see rollup_check.key_columns). */
#define KEY_COLUMNS_MAX 16
struct key_map {
    int count;
    int column[KEY_COLUMNS_MAX];
};

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

void sqlite_verify_report_row(sqlite3_stmt *s, const char *table, bool expected_side, store_verify_report_fn report,
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

/* ---- one day's cells: a hash of key columns -> both sides' counts ---- */

struct day_cell {
    uint64_t hash;
    size_t key_len;
    sqlite3_int64 expected, stored;
    bool has_stored, stored_is_count;
    char stored_text[40];   /* a stored count that is not an integer, as text */
    char key[];             /* the key columns, typed: type, length, bytes per column */
};

struct day_cells {
    struct day_cell **slots;
    size_t size, used;
    char *key;              /* scratch for the row being added */
    size_t key_size;
};

static bool reserve(char **buf, size_t *size, size_t need)
{
    if (need <= *size)
        return true;
    size_t grown = *size ? *size : 256;
    while (grown < need)
        grown *= 2;
    char *p = realloc(*buf, grown);
    if (p == NULL)
        return false;
    *buf = p;
    *size = grown;
    return true;
}

/* The key columns of the current row, read from SQLite once however many tables' cells count the
 * row (an answer's row keys four: calling sqlite3_column_* for each was a tenth of verify's CPU).
 * The text pointers stay valid until the statement steps. */
struct row {
    int type[KEY_COLUMNS_MAX];
    sqlite3_int64 integer[KEY_COLUMNS_MAX];
    const char *text[KEY_COLUMNS_MAX];
    uint32_t len[KEY_COLUMNS_MAX];
};

static void row_read(struct row *row, sqlite3_stmt *s)
{
    int keys = sqlite3_column_count(s) - 1;

    for (int col = 0; col < keys && col < KEY_COLUMNS_MAX; col++) {
        row->type[col] = sqlite3_column_type(s, col); /* before _text(), which converts */
        if (row->type[col] == SQLITE_INTEGER) {
            row->integer[col] = sqlite3_column_int64(s, col);
            continue;
        }
        row->text[col] = (const char *)sqlite3_column_text(s, col);
        row->len[col] = (uint32_t)sqlite3_column_bytes(s, col);
    }
}

/* The row's key columns (map) into cells->key, typed: an integer as its 8 bytes (no conversion to
 * text for every answer), anything else as its type, length and text. */
static bool cell_key(struct day_cells *cells, const struct row *row, const struct key_map *map, size_t *key_len)
{
    size_t k = 0;

    for (int i = 0; i < map->count; i++) {
        int col = map->column[i];
        int type = row->type[col];
        if (!reserve(&cells->key, &cells->key_size, k + 9))
            return false;
        cells->key[k++] = (char)type;
        if (type == SQLITE_INTEGER) {
            memcpy(cells->key + k, &row->integer[col], 8);
            k += 8;
            continue;
        }
        const char *text = row->text[col];
        uint32_t len = row->len[col];
        if (!reserve(&cells->key, &cells->key_size, k + 4 + len))
            return false;
        memcpy(cells->key + k, &len, 4);
        if (len > 0)
            memcpy(cells->key + k + 4, text, len);
        k += 4 + len;
    }
    *key_len = k;
    return true;
}

/* A cell's key columns as a difference line prints them (" a b c", as sqlite3_column_text would),
 * decoded from the typed key: made only for a cell that differs, not with every new cell (printf
 * and column conversions for each of a day's cells were a few percent of verify's CPU). */
static void key_text(const struct day_cell *cell, char *out, size_t size)
{
    size_t k = 0, t = 0;

    out[0] = '\0';
    while (k < cell->key_len && t < size) {
        int type = (unsigned char)cell->key[k++];
        if (type == SQLITE_INTEGER) {
            sqlite3_int64 v;
            memcpy(&v, cell->key + k, 8);
            k += 8;
            t += (size_t)snprintf(out + t, size - t, " %lld", (long long)v);
            continue;
        }
        uint32_t len;
        memcpy(&len, cell->key + k, 4);
        k += 4;
        if (type == SQLITE_NULL)
            t += (size_t)snprintf(out + t, size - t, " NULL");
        else
            t += (size_t)snprintf(out + t, size - t, " %.*s", (int)len, cell->key + k);
        k += len;
    }
}

/* Eight bytes at a time (a byte-wise FNV over ~50-byte keys was a tenth of verify's CPU). */
static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ n, w;

    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xBF58476D1CE4E5B9ULL;
        h ^= h >> 31;
    }
    if (n > 0) {
        w = 0;
        memcpy(&w, p, n);
        h = (h ^ w) * 0xBF58476D1CE4E5B9ULL;
    }
    h ^= h >> 29;
    h *= 0x94D049BB133111EBULL;
    return h ^ (h >> 32);
}

static bool cells_grow(struct day_cells *cells)
{
    size_t size = cells->size ? cells->size * 2 : 1024;
    struct day_cell **slots = calloc(size, sizeof *slots);

    if (slots == NULL)
        return false;
    for (size_t i = 0; i < cells->size; i++) {
        struct day_cell *cell = cells->slots[i];
        if (cell == NULL)
            continue;
        size_t j = cell->hash & (size - 1);
        while (slots[j] != NULL)
            j = (j + 1) & (size - 1);
        slots[j] = cell;
    }
    free(cells->slots);
    cells->slots = slots;
    cells->size = size;
    return true;
}

static struct day_cell *cell_find(struct day_cells *cells, size_t key_len)
{
    if ((cells->used + 1) * 2 > cells->size && !cells_grow(cells))
        return NULL;
    uint64_t hash = hash_bytes(cells->key, key_len);
    size_t i = hash & (cells->size - 1);
    for (; cells->slots[i] != NULL; i = (i + 1) & (cells->size - 1)) {
        struct day_cell *cell = cells->slots[i];
        if (cell->hash == hash && cell->key_len == key_len && memcmp(cell->key, cells->key, key_len) == 0)
            return cell;
    }
    struct day_cell *cell = calloc(1, sizeof *cell + key_len);
    if (cell == NULL)
        return NULL;
    cell->hash = hash;
    cell->key_len = key_len;
    memcpy(cell->key, cells->key, key_len);
    cells->slots[i] = cell;
    cells->used++;
    return cell;
}

/* Every column but the last (the count): the key of a stored row. */
static void all_keys(struct key_map *map, sqlite3_stmt *s)
{
    map->count = sqlite3_column_count(s) - 1;
    if (map->count > KEY_COLUMNS_MAX)
        map->count = KEY_COLUMNS_MAX; /* our own statements have a handful */
    for (int i = 0; i < map->count; i++)
        map->column[i] = i;
}

/* Counts the current row of s (key columns, then a count in the last column) into its cell, on its
 * side; map picks the key columns (a derived table keys the source's rows its own way). */
static bool day_cells_add(struct day_cells *cells, sqlite3_stmt *s, const struct row *row, bool expected_side,
                          const struct key_map *map)
{
    int keys = sqlite3_column_count(s) - 1;
    size_t key_len;
    struct day_cell *cell;

    if (!cell_key(cells, row, map, &key_len) || (cell = cell_find(cells, key_len)) == NULL)
        return false;
    if (expected_side) {
        cell->expected += sqlite3_column_int64(s, keys);
        return true;
    }
    cell->has_stored = true;
    cell->stored_is_count = sqlite3_column_type(s, keys) == SQLITE_INTEGER;
    if (cell->stored_is_count) {
        cell->stored = sqlite3_column_int64(s, keys);
    } else {
        const unsigned char *text = sqlite3_column_text(s, keys);
        snprintf(cell->stored_text, sizeof cell->stored_text, "%s", text ? (const char *)text : "NULL");
    }
    return true;
}

static void day_cells_clear(struct day_cells *cells)
{
    for (size_t i = 0; i < cells->size && cells->used > 0; i++) {
        if (cells->slots[i] != NULL) {
            free(cells->slots[i]);
            cells->slots[i] = NULL;
            cells->used--;
        }
    }
}

static void day_cells_free(struct day_cells *cells)
{
    day_cells_clear(cells);
    free(cells->slots);
    free(cells->key);
}

struct walk {
    struct day_cells *cells;            /* per check: its cells of the current day */
    int *source;                        /* per check: the check whose recomputed rows it sums, or -1 */
    struct key_map *maps;               /* per check: the key columns of its recomputed rows */
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
};

static void difference(struct walk *w, size_t check, sqlite3_stmt *s, bool expected_side)
{
    sqlite_verify_report_row(s, w->checks[check].table, expected_side, w->report, w->arg);
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

static bool is_day_check(const struct rollup_check *check)
{
    return check->day_expected != NULL || check->derived_from != NULL;
}

/* The day's stored rows of one check into its cells. */
static enum store_status load_stored(struct walk *w, size_t check, const char *survey, sqlite3_int64 day,
                                     const char *agents)
{
    sqlite3_stmt *s = w->stored[check];
    struct key_map map;
    struct row row;
    int rc;

    day_cells_clear(&w->cells[check]);
    all_keys(&map, s);
    bind_day(s, survey, day, agents);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        row_read(&row, s);
        if (!day_cells_add(&w->cells[check], s, &row, false, &map)) {
            rc = SQLITE_NOMEM;
            break;
        }
        w->seen[check]++;
    }
    sqlite3_reset(s);
    return status_of(rc);
}

/* The day's recomputed rows of one check into its cells, and into those of the checks that sum them. */
static enum store_status load_expected(struct walk *w, size_t check, const char *survey, sqlite3_int64 day,
                                       const char *agents)
{
    sqlite3_stmt *s = w->expected[check];
    struct row row;
    int rc;

    bind_day(s, survey, day, agents);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        row_read(&row, s);
        bool ok = day_cells_add(&w->cells[check], s, &row, true, &w->maps[check]) && add_to_sum(w, check, s);
        for (size_t j = 0; ok && j < w->count; j++)
            if (w->source[j] == (int)check)
                ok = day_cells_add(&w->cells[j], s, &row, true, &w->maps[j]);
        if (!ok) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_reset(s);
    return status_of(rc);
}

static void report_cell(struct walk *w, size_t check, const struct day_cell *cell, bool expected_side)
{
    char line[1024], text[900];

    key_text(cell, text, sizeof text);
    if (expected_side)
        snprintf(line, sizeof line, "%s: missing or wrong row%s %lld", w->checks[check].table, text,
                 (long long)cell->expected);
    else if (cell->stored_is_count)
        snprintf(line, sizeof line, "%s: unexpected row%s %lld", w->checks[check].table, text,
                 (long long)cell->stored);
    else
        snprintf(line, sizeof line, "%s: unexpected row%s %s", w->checks[check].table, text, cell->stored_text);
    w->report(line, w->arg);
    (*w->differences)++;
}

static void report_cells(struct walk *w, size_t check)
{
    const struct day_cells *cells = &w->cells[check];

    for (size_t i = 0; i < cells->size; i++) {
        const struct day_cell *cell = cells->slots[i];
        if (cell == NULL || (cell->has_stored && cell->stored_is_count && cell->stored == cell->expected))
            continue;
        if (cell->expected != 0)
            report_cell(w, check, cell, true);
        if (cell->has_stored)
            report_cell(w, check, cell, false);
    }
}

/* Every day check for one (survey, day): the stored rows into cells, the recomputed rows (read once
 * for all the tables that derive from them) counted into the same cells, then every cell whose two
 * counts differ reported. Neither side needs an order, so SQLite sorts nothing. */
static enum store_status compare_day(struct walk *w, const char *survey, sqlite3_int64 day, const char *agents)
{
    enum store_status status = STORE_OK;

    for (size_t i = 0; status == STORE_OK && i < w->count; i++)
        if (is_day_check(&w->checks[i]))
            status = load_stored(w, i, survey, day, agents);
    for (size_t i = 0; status == STORE_OK && i < w->count; i++)
        if (w->checks[i].day_expected != NULL)
            status = load_expected(w, i, survey, day, agents);
    for (size_t i = 0; status == STORE_OK && i < w->count; i++)
        if (is_day_check(&w->checks[i]))
            report_cells(w, i);
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

static enum store_status walk_survey(struct walk *w, const char *survey)
{
    enum store_status status = STORE_OK;
    char *agents = stored_agents(w, survey);
    sqlite3_int64 day = 0;

    if (agents == NULL)
        return STORE_UNAVAILABLE;
    for (bool more = next_day(w, survey, true, 0, &day); status == STORE_OK && more;
         more = next_day(w, survey, false, day, &day)) {
        status = compare_day(w, survey, day, agents);
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

/* A day check's key columns over the rows of the day_expected it counts (its own or its source's),
 * each checked against that statement's columns (a typo in rollup_checks fails verify, not memory). */
static bool key_map_of(struct walk *w, size_t check)
{
    const struct rollup_check *c = &w->checks[check];
    sqlite3_stmt *s = w->expected[w->source[check] >= 0 ? (size_t)w->source[check] : check];
    int keys = sqlite3_column_count(s) - 1;
    struct key_map *map = &w->maps[check];

    if (c->key_columns == NULL) {
        all_keys(map, s);
        return keys <= KEY_COLUMNS_MAX;
    }
    for (map->count = 0; c->key_columns[map->count] >= 0; map->count++) {
        if (map->count == KEY_COLUMNS_MAX || c->key_columns[map->count] >= keys ||
            c->key_columns[map->count] >= KEY_COLUMNS_MAX)
            return false;
        map->column[map->count] = c->key_columns[map->count];
    }
    return true;
}

static bool walk_open(struct walk *w)
{
    size_t n = w->count;

    w->expected = calloc(n, sizeof *w->expected);
    w->stored = calloc(n, sizeof *w->stored);
    w->seen = calloc(n, sizeof *w->seen);
    w->sums = calloc(n, sizeof *w->sums);
    w->sum_target = calloc(n, sizeof *w->sum_target);
    w->source = calloc(n, sizeof *w->source);
    w->cells = calloc(n, sizeof *w->cells);
    w->maps = calloc(n, sizeof *w->maps);
    if (!w->expected || !w->stored || !w->seen || !w->sums || !w->sum_target || !w->source || !w->cells || !w->maps)
        return false;
    for (size_t i = 0; i < n; i++)
        w->sum_target[i] = w->source[i] = -1;
    for (size_t i = 0; i < n; i++) {
        const struct rollup_check *c = &w->checks[i];
        if (c->day_expected != NULL && !prepare(w->db, c->day_expected, &w->expected[i]))
            return false;
        if ((is_day_check(c) || c->sum_of != NULL) && !prepare(w->db, c->day_stored, &w->stored[i]))
            return false;
        if (c->derived_from != NULL) {
            int source = index_of(w, c->derived_from);
            if (source < 0 || w->checks[source].day_expected == NULL)
                return false;
            w->source[i] = source;
        }
        if (c->sum_of != NULL) {
            int source = index_of(w, c->sum_of);
            if (source < 0 || w->checks[source].day_expected == NULL)
                return false;
            w->sum_target[source] = (int)i;
        }
    }
    /* After every statement is prepared: a derived check may come before its source. */
    for (size_t i = 0; i < n; i++)
        if (is_day_check(&w->checks[i]) && !key_map_of(w, i))
            return false;
    for (int src = 0; src < DAY_SOURCES; src++)
        if (!prepare(w->db, next_day_sql[src], &w->next_day[src]))
            return false;
    return prepare_agents(w) && prepare(w->db, "SELECT id FROM surveys ORDER BY id", &w->surveys);
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
        if (w->cells)
            day_cells_free(&w->cells[i]);
    }
    for (int src = 0; src < DAY_SOURCES; src++)
        sqlite3_finalize(w->next_day[src]);
    for (size_t t = 0; t < AGENT_TABLES; t++) {
        sqlite3_finalize(w->first_agent[t]);
        sqlite3_finalize(w->next_agent[t]);
    }
    sqlite3_finalize(w->surveys);
    free(w->cells);
    free(w->maps);
    free(w->source);
    free(w->expected);
    free(w->stored);
    free(w->seen);
    free(w->sums);
    free(w->sum_target);
}

enum store_status sqlite_verify_streamed(sqlite3 *db, const struct rollup_check *checks, size_t count,
                                        store_verify_report_fn report, void *arg, uint64_t *differences)
{
    struct walk w = {.db = db, .checks = checks, .count = count, .report = report, .arg = arg,
                     .differences = differences};
    enum store_status status = STORE_ERROR;
    int rc = SQLITE_DONE;

    if (!walk_open(&w))
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
        if (is_day_check(&checks[i]) || checks[i].sum_of != NULL)
            status = report_unvisited(&w, i);
done:
    walk_close(&w);
    return status;
}

/* ---- consistency ---- */

/* Stored rows of a (survey, day) the walk of sqlite_verify.c never visits: days without responses,
 * rollup_responses or rollup_answers rows, and surveys that do not exist. */
#define UNVISITED_DAY                                                                                           \
    " (x.survey NOT IN (SELECT id FROM surveys) OR (NOT EXISTS (SELECT 1 FROM responses WHERE survey = x.survey" \
    " AND submitted_at BETWEEN (x.day - 1) * 86400000 AND (x.day + 1) * 86400000"                                \
    " AND submitted_at / 86400000 = x.day)"                                                                      \
    " AND NOT EXISTS (SELECT 1 FROM rollup_responses WHERE survey = x.survey AND day = x.day)"                   \
    " AND NOT EXISTS (SELECT 1 FROM rollup_answers WHERE survey = x.survey AND day = x.day)))"
/* One day's responses of one survey, through the (survey, submitted_at) index (see bind_day). */
#define DAY_RESPONSES " survey = ?1 AND submitted_at BETWEEN ?3 AND ?4 AND submitted_at / 86400000 = ?2"

/* A day's month, as the month tables key it (schema/006_rollup_months_hours.sql). */
#define MONTH_OF_DAY "unixepoch(day * 86400, 'unixepoch', 'start of month') / 86400"

/* Every rollup table and how `surveyd verify` recomputes it from the raw rows (sqlite_verify.h). The
 * day tables are streamed (day_expected: `expected` for one day, a row per answer) and answered_questions summed from rollup_answers' cells; an entry with only `expected`
 * and `stored` is diffed with EXCEPT, which suits small tables. */
static const struct rollup_check rollup_checks[] = {
    {.table = "rollup_answers",
     .expected = "SELECT survey, day, channel, question, value, count(*) FROM answer_facts GROUP BY 1, 2, 3, 4, 5",
     .stored = "SELECT survey, day, channel, question, value, count FROM rollup_answers WHERE count != 0",
     .derived_from = "rollup_answers_agent",
     .key_columns = (const int[]){0, 2, 3, 4, 5, -1}, /* without the agent */
     .day_stored = "SELECT survey, day, channel, question, value, count FROM rollup_answers"
                   " WHERE survey = ?1 AND day = ?2 AND count != 0",
     .unvisited = "SELECT survey, day, channel, question, value, count FROM rollup_answers AS x"
                  " WHERE count != 0 AND" UNVISITED_DAY},
    {.table = "rollup_answers_agent",
     .expected = "SELECT survey, agent, day, channel, question, value, count(*) FROM answer_facts"
                 " GROUP BY 1, 2, 3, 4, 5, 6",
     .stored = "SELECT survey, agent, day, channel, question, value, count FROM rollup_answers_agent WHERE count != 0",
     /* The hour (column 6) is there for rollup_answers_hour, which counts these rows too. */
     .day_expected = "SELECT survey, agent, day, channel, question, value, submitted_at / 3600000, 1 FROM answer_facts"
                     " WHERE" DAY_RESPONSES,
     .key_columns = (const int[]){0, 1, 2, 3, 4, 5, -1},
     /* The agents come from the stored agent rollups themselves (?5): one seek per agent and day. */
     .day_stored = "SELECT survey, agent, day, channel, question, value, count FROM rollup_answers_agent"
                   " WHERE survey = ?1 AND agent IN (SELECT value FROM json_each(?5)) AND day = ?2 AND count != 0",
     .unvisited = "SELECT survey, agent, day, channel, question, value, count FROM rollup_answers_agent AS x"
                  " WHERE count != 0 AND" UNVISITED_DAY},
    {.table = "rollup_responses",
     .expected = "SELECT survey, submitted_at / 86400000, coalesce(channel, ''), count(*) FROM responses GROUP BY 1, 2, 3",
     .stored = "SELECT survey, day, channel, count FROM rollup_responses WHERE count != 0",
     .derived_from = "rollup_responses_agent",
     .key_columns = (const int[]){0, 2, 3, -1}, /* without the agent */
     .day_stored = "SELECT survey, day, channel, count FROM rollup_responses WHERE survey = ?1 AND day = ?2"
                   " AND count != 0",
     .unvisited = "SELECT survey, day, channel, count FROM rollup_responses AS x WHERE count != 0 AND" UNVISITED_DAY},
    {.table = "rollup_responses_agent",
     .expected = "SELECT survey, coalesce(agent, ''), submitted_at / 86400000, coalesce(channel, ''), count(*)"
                 " FROM responses GROUP BY 1, 2, 3, 4",
     .stored = "SELECT survey, agent, day, channel, count FROM rollup_responses_agent WHERE count != 0",
     /* The hour (column 4) is there for rollup_responses_hour, which counts these rows too. */
     .day_expected = "SELECT survey, coalesce(agent, ''), submitted_at / 86400000, coalesce(channel, ''),"
                     " submitted_at / 3600000, 1 FROM responses WHERE" DAY_RESPONSES,
     .key_columns = (const int[]){0, 1, 2, 3, -1},
     .day_stored = "SELECT survey, agent, day, channel, count FROM rollup_responses_agent"
                   " WHERE survey = ?1 AND agent IN (SELECT value FROM json_each(?5)) AND day = ?2 AND count != 0",
     .unvisited = "SELECT survey, agent, day, channel, count FROM rollup_responses_agent AS x"
                  " WHERE count != 0 AND" UNVISITED_DAY},
    {.table = "answered_questions",
     .expected = "SELECT survey, question, count(*) FROM answer_facts GROUP BY 1, 2",
     .stored = "SELECT survey, question, answers FROM answered_questions WHERE answers != 0",
     .sum_of = "rollup_answers_agent",
     .sum_column = 4, /* question */
     .day_stored = "SELECT survey, question, answers FROM answered_questions WHERE survey = ?1 AND answers != 0",
     .unvisited = "SELECT survey, question, answers FROM answered_questions"
                  " WHERE answers != 0 AND survey NOT IN (SELECT id FROM surveys)"},
    /* Months from the day tables (checked against the raw rows above): small, diffed with EXCEPT. */
    {.table = "rollup_answers_month",
     .expected = "SELECT survey, " MONTH_OF_DAY ", channel, question, value, sum(count) FROM rollup_answers"
     " GROUP BY 1, 2, 3, 4, 5 HAVING sum(count) != 0",
     .stored = "SELECT survey, month, channel, question, value, count FROM rollup_answers_month WHERE count != 0"},
    {.table = "rollup_responses_month",
     .expected = "SELECT survey, " MONTH_OF_DAY ", channel, sum(count) FROM rollup_responses GROUP BY 1, 2, 3 HAVING sum(count) != 0",
     .stored = "SELECT survey, month, channel, count FROM rollup_responses_month WHERE count != 0"},
    /* Hours are streamed with the day walk (a day's hours: ?2 * 24 - 23 .. ?2 * 24 + 23, truncated like
     * submitted_at / 86400000), counted from the agent day checks' rows (their hour column instead of
     * agent and day): the day's answers are read through answer_facts once for all four tables. */
    {.table = "rollup_answers_hour",
     .expected = "SELECT survey, submitted_at / 3600000, channel, question, value, count(*) FROM answer_facts"
                 " GROUP BY 1, 2, 3, 4, 5",
     .stored = "SELECT survey, hour, channel, question, value, count FROM rollup_answers_hour WHERE count != 0",
     .derived_from = "rollup_answers_agent",
     .key_columns = (const int[]){0, 6, 3, 4, 5, -1},
     .day_stored = "SELECT survey, hour, channel, question, value, count FROM rollup_answers_hour"
                   " WHERE survey = ?1 AND hour BETWEEN ?2 * 24 - 23 AND ?2 * 24 + 23 AND hour / 24 = ?2 AND count != 0",
     .unvisited = "SELECT survey, hour, channel, question, value, count"
                  " FROM (SELECT *, hour / 24 AS day FROM rollup_answers_hour) AS x WHERE count != 0 AND" UNVISITED_DAY},
    {.table = "rollup_responses_hour",
     .expected = "SELECT survey, submitted_at / 3600000, coalesce(channel, ''), count(*) FROM responses GROUP BY 1, 2, 3",
     .stored = "SELECT survey, hour, channel, count FROM rollup_responses_hour WHERE count != 0",
     .derived_from = "rollup_responses_agent",
     .key_columns = (const int[]){0, 4, 3, -1},
     .day_stored = "SELECT survey, hour, channel, count FROM rollup_responses_hour"
                   " WHERE survey = ?1 AND hour BETWEEN ?2 * 24 - 23 AND ?2 * 24 + 23 AND hour / 24 = ?2 AND count != 0",
     .unvisited = "SELECT survey, hour, channel, count FROM (SELECT *, hour / 24 AS day FROM rollup_responses_hour) AS x"
                  " WHERE count != 0 AND" UNVISITED_DAY},
    /* The invitations' rollup (schema/009): a row per day, channel and agent, small beside the
     * responses' tables: diffed with EXCEPT, each count of the four a column of the row. */
    {.table = "invitation_days",
     .expected = "SELECT survey, created_at / 86400000, coalesce(channel, ''), coalesce(agent, ''),"
                 " sum(outcome = 0), sum(outcome <> 0), sum(outcome = 0 AND (opened_at > 0 OR responded_at > 0)),"
                 " sum(outcome = 0 AND responded_at > 0) FROM invitations GROUP BY 1, 2, 3, 4",
     .stored = "SELECT survey, day, channel, agent, sent, suppressed, opened, responded FROM invitation_days"
               " WHERE sent != 0 OR suppressed != 0 OR opened != 0 OR responded != 0"},
    /* The topics' rollups (schema/015's triggers): each tag counts its response's facts once for
     * that topic. Diffed with EXCEPT (a topic's cells are a fraction of the survey's). */
    {.table = "rollup_topic_answers",
     .expected = "SELECT t.survey, t.topic, f.day, f.channel, f.question, f.value, count(*)"
                 " FROM response_topics AS t CROSS JOIN answer_facts AS f ON f.seq = t.seq GROUP BY 1, 2, 3, 4, 5, 6",
     .stored = "SELECT survey, topic, day, channel, question, value, count FROM rollup_topic_answers WHERE count != 0"},
    {.table = "rollup_topic_responses",
     .expected = "SELECT t.survey, t.topic, r.submitted_at / 86400000, coalesce(r.channel, ''), count(*)"
                 " FROM response_topics AS t CROSS JOIN responses AS r ON r.seq = t.seq GROUP BY 1, 2, 3, 4",
     .stored = "SELECT survey, topic, day, channel, count FROM rollup_topic_responses WHERE count != 0"},
    /* Their month tables (schema/016's triggers), as the sums of their day cells. */
    {.table = "rollup_topic_answers_month",
     .expected = "SELECT survey, topic, " MONTH_OF_DAY ", channel, question, value, sum(count) FROM rollup_topic_answers"
                 " GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(count) != 0",
     .stored = "SELECT survey, topic, month, channel, question, value, count FROM rollup_topic_answers_month"
               " WHERE count != 0"},
    {.table = "rollup_topic_responses_month",
     .expected = "SELECT survey, topic, " MONTH_OF_DAY ", channel, sum(count) FROM rollup_topic_responses"
                 " GROUP BY 1, 2, 3, 4 HAVING sum(count) != 0",
     .stored = "SELECT survey, topic, month, channel, count FROM rollup_topic_responses_month WHERE count != 0"},
    /* The webhooks' backlog count (schema/010's triggers): the subscription's PENDING and SENDING
     * deliveries, which the outbox's cap is checked against. */
    {.table = "webhooks",
     .expected = "SELECT webhook, 'backlog', count(*) FROM webhook_deliveries WHERE state IN (0, 1) GROUP BY 1",
     .stored = "SELECT id, 'backlog', backlog FROM webhooks WHERE backlog != 0"},
};
#define ROLLUP_CHECKS (sizeof rollup_checks / sizeof rollup_checks[0])

/* Reports the rows of one side missing from the other (the checks that are not streamed). */
static enum store_status diff_rows(sqlite3 *db, const struct rollup_check *check, bool expected_side,
                                   void (*report)(const char *line, void *arg), void *arg, uint64_t *differences)
{
    char sql[2048];
    sqlite3_stmt *s = NULL;
    int rc;

    snprintf(sql, sizeof sql, "%s EXCEPT %s", expected_side ? check->expected : check->stored,
             expected_side ? check->stored : check->expected);
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        return STORE_ERROR;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        sqlite_verify_report_row(s, check->table, expected_side, report, arg);
        (*differences)++;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? STORE_OK : sqlite_status_of(rc);
}

/* The full-text index against the documents (schema/012): every response with a document is in
 * the index (FTS5's docsize table holds a row per indexed document) and nothing else is. Changes
 * still queued in text_pending between transactions would be lost ones. (FTS5's own
 * 'integrity-check' is a write statement, which verify's read-only connection can't run, and its
 * comparison with the content can't read a view.) */
static const struct {
    const char *sql, *before, *after;   /* the report: before, the number, after */
} text_index_checks[] = {
    {"SELECT seq FROM response_documents WHERE body IS NOT NULL EXCEPT SELECT id FROM response_text_index_docsize",
     "text index: response seq ", " has text but is not indexed"},
    {"SELECT id FROM response_text_index_docsize EXCEPT SELECT seq FROM response_documents WHERE body IS NOT NULL",
     "text index: document ", " is indexed but no response has that text"},
    {"SELECT count(*) FROM text_pending HAVING count(*) > 0", "text index: ", " changes queued but never indexed"},
};

static enum store_status verify_text_index(sqlite3 *db, void (*report)(const char *line, void *arg), void *arg,
                                           uint64_t *differences)
{
    char line[160];
    for (size_t i = 0; i < sizeof text_index_checks / sizeof text_index_checks[0]; i++) {
        sqlite3_stmt *s = NULL;
        int rc = sqlite3_prepare_v2(db, text_index_checks[i].sql, -1, &s, NULL);
        while (rc == SQLITE_OK || rc == SQLITE_ROW) {
            if ((rc = sqlite3_step(s)) != SQLITE_ROW)
                break;
            snprintf(line, sizeof line, "%s%lld%s", text_index_checks[i].before,
                     (long long)sqlite3_column_int64(s, 0), text_index_checks[i].after);
            report(line, arg);
            (*differences)++;
        }
        sqlite3_finalize(s);
        if (rc != SQLITE_DONE)
            return sqlite_status_of(rc);
    }
    return STORE_OK;
}

/* ---- topics (schema/014): every topic's tags against its query re-evaluated on the documents ---- */

static void report_tag(const char *survey, const char *topic, sqlite3_int64 seq, const char *what,
                       void (*report)(const char *line, void *arg), void *arg, uint64_t *differences)
{
    char line[256];
    snprintf(line, sizeof line, "topics: survey %.64s topic %.64s: response seq %lld %s", survey, topic,
             (long long)seq, what);
    report(line, arg);
    (*differences)++;
}

/* Each document of the topic's survey: tagged exactly when the query matches it. While the topic's
 * back-fill runs (schema/015's cursor_seq), responses after its cursor may not be tagged yet. */
static enum store_status verify_topic_documents(sqlite3 *db, const char *survey, const char *topic,
                                                const struct text_query *query, bool running, sqlite3_int64 cursor,
                                                void (*report)(const char *line, void *arg), void *arg,
                                                uint64_t *differences)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT r.seq, d.body, EXISTS (SELECT 1 FROM response_topics AS t"
                                " WHERE t.survey = ?1 AND t.topic = ?2 AND t.seq = r.seq)"
                                " FROM responses AS r JOIN response_documents AS d ON d.seq = r.seq"
                                " WHERE r.survey = ?1 AND d.body IS NOT NULL",
                                -1, &s, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(s, 1, survey, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, topic, -1, SQLITE_STATIC);
    }
    while ((rc == SQLITE_OK || rc == SQLITE_ROW) && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        int hit = text_query_eval(query, (const char *)sqlite3_column_text(s, 1), (size_t)sqlite3_column_bytes(s, 1));
        if (hit < 0) {
            rc = SQLITE_NOMEM;
            break;
        }
        bool tagged = sqlite3_column_int(s, 2) != 0;
        bool scanned = !running || sqlite3_column_int64(s, 0) <= cursor;
        if (hit == 1 && !tagged && scanned)
            report_tag(survey, topic, sqlite3_column_int64(s, 0), "matches but is not tagged", report, arg,
                       differences);
        else if (hit == 0 && tagged)
            report_tag(survey, topic, sqlite3_column_int64(s, 0), "is tagged but does not match", report, arg,
                       differences);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? STORE_OK : sqlite_status_of(rc);
}

/* Tags of responses that have no text, or are another survey's. */
static enum store_status verify_stray_tags(sqlite3 *db, void (*report)(const char *line, void *arg), void *arg,
                                           uint64_t *differences)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT t.survey, t.topic, t.seq FROM response_topics AS t WHERE NOT EXISTS"
                                " (SELECT 1 FROM responses AS r JOIN response_documents AS d ON d.seq = r.seq"
                                " WHERE r.seq = t.seq AND r.survey = t.survey AND d.body IS NOT NULL)",
                                -1, &s, NULL);
    while ((rc == SQLITE_OK || rc == SQLITE_ROW) && (rc = sqlite3_step(s)) == SQLITE_ROW)
        report_tag((const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1),
                   sqlite3_column_int64(s, 2), "is tagged but has no text in that survey", report, arg, differences);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? STORE_OK : sqlite_status_of(rc);
}

static enum store_status verify_topics(sqlite3 *db, void (*report)(const char *line, void *arg), void *arg,
                                       uint64_t *differences)
{
    /* The language the index (and so the tags) were built for, whatever this run was started with. */
    enum text_language language = TEXT_LANGUAGE_NONE;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, "SELECT language FROM text_index_settings", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0) != NULL)
        text_language_parse((const char *)sqlite3_column_text(s, 0), &language);
    sqlite3_finalize(s);
    enum store_status status = STORE_OK;
    int rc = sqlite3_prepare_v2(db, "SELECT survey, id, query, cursor_seq FROM topics ORDER BY survey, id", -1, &s, NULL);
    while (status == STORE_OK && (rc == SQLITE_OK || rc == SQLITE_ROW) && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *survey = (const char *)sqlite3_column_text(s, 0), *topic = (const char *)sqlite3_column_text(s, 1);
        const char *text = (const char *)sqlite3_column_text(s, 2);
        struct text_query *query = NULL;
        struct text_query_error error;
        if (text_query_parse(text, strlen(text), &query, &error) != TEXT_QUERY_OK ||
            !text_query_stem(query, language)) {
            char line[256];
            snprintf(line, sizeof line, "topics: survey %.64s topic %.64s: the stored query does not parse", survey,
                     topic);
            report(line, arg);
            (*differences)++;
        } else {
            status = verify_topic_documents(db, survey, topic, query, sqlite3_column_type(s, 3) != SQLITE_NULL,
                                            sqlite3_column_int64(s, 3), report, arg, differences);
        }
        text_query_free(query);
    }
    sqlite3_finalize(s);
    if (status == STORE_OK && rc != SQLITE_DONE)
        status = sqlite_status_of(rc);
    return status == STORE_OK ? verify_stray_tags(db, report, arg, differences) : status;
}

enum store_status sqlite_verify(struct store *base_store, void (*report)(const char *line, void *arg), void *arg,
                               uint64_t *differences, uint64_t *responses)
{
    struct sqlite_store *store = (struct sqlite_store *)base_store;
    struct sqlite_conn *conn = (struct sqlite_conn *)sqlite_reader(&store->base);
    enum store_status status = STORE_OK;
    sqlite3_stmt *s = NULL;

    *differences = *responses = 0;
    if (conn == NULL)
        return STORE_UNAVAILABLE;
    /* One read transaction: a consistent snapshot even while surveyd keeps writing. */
    if (sqlite3_exec(conn->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return STORE_UNAVAILABLE;
    if (sqlite3_prepare_v2(conn->db, "SELECT count(*) FROM responses", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        *responses = (uint64_t)sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    status = sqlite_verify_streamed(conn->db, rollup_checks, ROLLUP_CHECKS, report, arg, differences);
    for (size_t i = 0; status == STORE_OK && i < ROLLUP_CHECKS; i++) {
        if (rollup_checks[i].day_expected != NULL || rollup_checks[i].derived_from != NULL ||
            rollup_checks[i].sum_of != NULL)
            continue; /* streamed */
        status = diff_rows(conn->db, &rollup_checks[i], true, report, arg, differences);
        if (status == STORE_OK)
            status = diff_rows(conn->db, &rollup_checks[i], false, report, arg, differences);
    }
    if (status == STORE_OK)
        status = verify_text_index(conn->db, report, arg, differences);
    if (status == STORE_OK)
        status = verify_topics(conn->db, report, arg, differences);
    sqlite3_exec(conn->db, "COMMIT", NULL, NULL, NULL);
    return status;
}

enum store_status sqlite_each_answers(struct store *base_store, store_answers_fn each, void *arg)
{
    struct sqlite_store *store = (struct sqlite_store *)base_store;
    struct sqlite_conn *conn = (struct sqlite_conn *)sqlite_reader(&store->base);
    sqlite3_stmt *s = NULL;
    int rc;

    if (conn == NULL)
        return STORE_UNAVAILABLE;
    /* One statement reads one snapshot: a definition and the answers stored under it agree. */
    if (sqlite3_prepare_v2(conn->db,
                           "SELECT r.survey, s.definition, r.id, r.answers FROM responses AS r"
                           " JOIN surveys AS s ON s.id = r.survey ORDER BY r.survey",
                           -1, &s, NULL) != SQLITE_OK)
        return STORE_ERROR;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        each((const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1),
             (const char *)sqlite3_column_text(s, 2), (const char *)sqlite3_column_text(s, 3), arg);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? STORE_OK : sqlite_status_of(rc);
}
