/* The PostgreSQL backend: topics and their tags (schema/postgres/006_topics.sql, docs/search.md
 * "Topics"). As on SQLite, a tag is decided in C with text_query_eval on the response's document
 * (response_text.h), built here from the stored answers and the survey's definition: the same
 * document and the same evaluation on both backends, so a topic tags the same responses.
 *
 * Instances share the database. A response is tagged in the transaction that stores or edits it,
 * with the topics that transaction reads. A topic's earlier responses are tagged after the PUT, in
 * batches (pg_topic_backfill, driven by server/topic_backfill.c through the writer), up to the last
 * seq the PUT saw (cursor_end). The PUT locks the survey's row FOR UPDATE: a response's insert
 * holds a KEY SHARE lock on that row (its foreign key) until it commits, so every insert either
 * commits before the PUT reads that last seq (and is in the back-fill's range) or reads the topic
 * after the PUT commits (and tags itself). The PUT only records the cursor: it no longer scans, so
 * it blocks the survey's ingest for milliseconds, not for the whole scan. A batch locks its topic
 * (FOR NO KEY UPDATE SKIP LOCKED: several instances never work one topic, and inserts that tag
 * with it, which take KEY SHARE, do not wait) and its responses FOR SHARE (an edit waits for it). */
#include "postgres_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "oom.h"
#include "response_text.h"
#include "survey.h"
#include "topic_matcher.h"
#include "validate.h"

/* A survey's topics, parsed and stemmed for the store's language (topic_matcher.h), with its
 * definition parsed: what tagging a document needs. */
struct pg_topic_set {
    struct survey survey;
    bool have_survey;
    struct topic_matcher topics;
};

static void topic_set_free(struct pg_topic_set *set)
{
    topic_matcher_free(&set->topics);
    if (set->have_survey)
        survey_free(&set->survey);
    memset(set, 0, sizeof *set);
}

static bool parse_definition(const char *id, const char *definition, struct survey *out)
{
    cJSON *body = cJSON_Parse(definition);
    struct validate_errors errors = {0};
    bool ok = body != NULL && validate_definition(id, body, out, &errors);
    validate_errors_free(&errors);
    cJSON_Delete(body);
    return ok;
}

/* The rows of result (definition, topic id, query) as a set; survey_id names the survey. */
static enum store_status topic_set_of(enum text_language language, const char *survey_id, const PGresult *result,
                                      struct pg_topic_set *set)
{
    memset(set, 0, sizeof *set);
    if (PQntuples(result) == 0)
        return STORE_OK;
    if (!parse_definition(survey_id, PQgetvalue(result, 0, 0), &set->survey))
        return STORE_ERROR;
    set->have_survey = true;
    for (int i = 0; i < PQntuples(result); i++) {
        if (!topic_matcher_add(&set->topics, PQgetvalue(result, i, 1), PQgetvalue(result, i, 2), language)) {
            topic_set_free(set);
            return STORE_ERROR;
        }
    }
    return STORE_OK;
}

static const char survey_topics_sql[] = "SELECT s.definition, t.id, t.query FROM topics AS t"
                                        " JOIN surveys AS s ON s.id = t.survey WHERE t.survey = $1 ORDER BY t.id";

/* ---- the writer's parsed topics, by survey ----
 *
 * Tagging a response needs its survey's topics parsed and its definition validated: done afresh
 * for every insert, that cost ingest 29 % more CPU with 5 topics (tests/bench/topics_ingest.py).
 * Another instance may change them at any time, so every insert still reads what they are now:
 * the definition's md5 and each topic's id and query, a few short rows. Only when those differ
 * from what a cache entry was built from is anything parsed again. */

#define TOPIC_CACHE_SIZE 8

struct topic_cache_entry {
    char *key;      /* survey id, definition md5, then each topic's id and query: NUL-separated */
    size_t key_len;
    struct pg_topic_set set;
};

struct pg_topic_cache {
    struct topic_cache_entry entries[TOPIC_CACHE_SIZE];
    int next;       /* the entry replaced next */
};

void pg_topic_cache_free(struct pg_topic_cache *cache)
{
    if (cache == NULL)
        return;
    for (int i = 0; i < TOPIC_CACHE_SIZE; i++) {
        free(cache->entries[i].key);
        topic_set_free(&cache->entries[i].set);
    }
    free(cache);
}

/* The key of result's rows (md5, topic id, query) for survey: malloc'd, its length in *len. */
static char *cache_key(const char *survey, const char *md5, const PGresult *result, size_t *len)
{
    size_t size = strlen(survey) + strlen(md5) + 2;
    for (int i = 0; i < PQntuples(result); i++)
        size += (size_t)PQgetlength(result, i, 1) + (size_t)PQgetlength(result, i, 2) + 2;
    char *key = malloc(size), *at = key;
    if (key == NULL)
        return NULL;
    at = stpcpy(at, survey) + 1;
    at = stpcpy(at, md5) + 1;
    for (int i = 0; i < PQntuples(result); i++) {
        at = stpcpy(at, PQgetvalue(result, i, 1)) + 1;
        at = stpcpy(at, PQgetvalue(result, i, 2)) + 1;
    }
    *len = size;
    return key;
}

static const struct pg_topic_set *cache_find(const struct pg_topic_cache *cache, const char *key, size_t len)
{
    for (int i = 0; cache && i < TOPIC_CACHE_SIZE; i++)
        if (cache->entries[i].key_len == len && memcmp(cache->entries[i].key, key, len) == 0)
            return &cache->entries[i].set;
    return NULL;
}

/* Parses survey's definition (read again with its md5, so that the key and the parse agree even if
 * another instance changed it meanwhile) and topics into a cache entry. */
static enum store_status cache_fill(struct pg_conn *conn, const char *survey, const PGresult *topics,
                                    const struct pg_topic_set **out)
{
    enum store_status status;
    const char *values[] = {survey};
    PGresult *result = pg_query(conn, "SELECT definition, md5(definition) FROM surveys WHERE id = $1", 1, values,
                                &status);
    if (result == NULL)
        return status;
    if (PQntuples(result) != 1) { /* deleted meanwhile: the insert fails on its foreign key anyway */
        PQclear(result);
        return STORE_NOT_FOUND;
    }
    if (conn->topic_cache == NULL && (conn->topic_cache = calloc(1, sizeof *conn->topic_cache)) == NULL) {
        PQclear(result);
        oom_note();
        return STORE_ERROR;
    }
    struct topic_cache_entry *entry = &conn->topic_cache->entries[conn->topic_cache->next];
    conn->topic_cache->next = (conn->topic_cache->next + 1) % TOPIC_CACHE_SIZE;
    free(entry->key);
    topic_set_free(&entry->set);
    entry->key_len = 0;
    entry->key = cache_key(survey, PQgetvalue(result, 0, 1), topics, &entry->key_len);
    status = entry->key ? STORE_OK : STORE_ERROR;
    if (status == STORE_OK && !parse_definition(survey, PQgetvalue(result, 0, 0), &entry->set.survey))
        status = STORE_ERROR;
    entry->set.have_survey = status == STORE_OK;
    for (int i = 0; status == STORE_OK && i < PQntuples(topics); i++)
        if (!topic_matcher_add(&entry->set.topics, PQgetvalue(topics, i, 1), PQgetvalue(topics, i, 2),
                           conn->store->text_language))
            status = STORE_ERROR;
    PQclear(result);
    if (status != STORE_OK) {
        free(entry->key);
        entry->key = NULL;
        entry->key_len = 0;
        topic_set_free(&entry->set);
        oom_note();
        return status;
    }
    *out = &entry->set;
    return STORE_OK;
}

/* The survey's topics as they are now, parsed: *out is NULL when it has none, else owned by the
 * connection's cache (valid until the next call). */
static enum store_status load_topics(struct pg_conn *conn, const char *survey, const struct pg_topic_set **out)
{
    enum store_status status;
    const char *values[] = {survey};
    *out = NULL;
    PGresult *result = pg_query(conn,
                                "SELECT md5(s.definition), t.id, t.query FROM topics AS t JOIN surveys AS s"
                                " ON s.id = t.survey WHERE t.survey = $1 ORDER BY t.id",
                                1, values, &status);
    if (result == NULL)
        return status;
    status = STORE_OK;
    if (PQntuples(result) > 0) {
        size_t len = 0;
        char *key = cache_key(survey, PQgetvalue(result, 0, 0), result, &len);
        if (key == NULL) {
            oom_note();
            status = STORE_ERROR;
        } else if ((*out = cache_find(conn->topic_cache, key, len)) == NULL) {
            status = cache_fill(conn, survey, result, out);
        }
        free(key);
    }
    PQclear(result);
    return status;
}

/* Which topics of set the stored answers' document matches: matched[i] for set's i-th topic. */
static enum store_status match_answers(const struct pg_topic_set *set, const char *answers_json, bool *matched)
{
    cJSON *answers = cJSON_Parse(answers_json);
    char *doc = NULL;
    size_t len = 0;
    enum store_status status = STORE_OK;

    memset(matched, 0, set->topics.n * sizeof *matched);
    if (answers == NULL) /* not JSON: no document, as SQLite's view */
        return STORE_OK;
    if (!response_text_stored(&set->survey, answers, &doc, &len) ||
        (doc != NULL && !topic_matcher_match(&set->topics, doc, len, matched)))
        status = STORE_ERROR;
    free(doc);
    cJSON_Delete(answers);
    return status;
}

static enum store_status tag(struct pg_conn *conn, const char *seq, const char *survey, const char *topic)
{
    const char *values[] = {seq, survey, topic};
    return pg_exec(conn,
                   "INSERT INTO response_topics (seq, survey, topic) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                   3, values, NULL);
}

/* Tags the response seq (decimal text) with every topic of set its answers match. */
static enum store_status tag_answers(struct pg_conn *conn, const struct pg_topic_set *set, const char *seq,
                                     const char *survey, const char *answers_json)
{
    bool matched[STORE_TOPICS_MAX];
    if (set->topics.n == 0)
        return STORE_OK;
    if (set->topics.n > STORE_TOPICS_MAX)
        return STORE_ERROR;
    enum store_status status = match_answers(set, answers_json, matched);
    for (size_t i = 0; status == STORE_OK && i < set->topics.n; i++)
        if (matched[i])
            status = tag(conn, seq, survey, set->topics.ids[i]);
    return status;
}

enum store_status pg_topics_tag(struct pg_conn *conn, const char *seq, const char *survey, const char *answers_json)
{
    const struct pg_topic_set *set;
    enum store_status status = load_topics(conn, survey, &set);
    if (status == STORE_OK && set != NULL)
        status = tag_answers(conn, set, seq, survey, answers_json);
    return status;
}

enum store_status pg_topics_untag(struct pg_conn *conn, const char *seqs)
{
    const char *values[] = {seqs};
    return pg_exec(conn, "DELETE FROM response_topics WHERE seq = ANY ($1::bigint[])", 1, values, NULL);
}

enum store_status pg_topics_retag(struct pg_conn *conn, const char *seqs)
{
    enum store_status status;
    const char *values[] = {seqs};
    if ((status = pg_topics_untag(conn, seqs)) != STORE_OK)
        return status;
    PGresult *result =
        pg_query(conn, "SELECT seq, survey, answers FROM responses WHERE seq = ANY ($1::bigint[])", 1, values, &status);
    if (result == NULL)
        return status;
    for (int i = 0; status == STORE_OK && i < PQntuples(result); i++)
        status = pg_topics_tag(conn, PQgetvalue(result, i, 0), PQgetvalue(result, i, 1), PQgetvalue(result, i, 2));
    PQclear(result);
    return status;
}

/* ---- the topics themselves ---- */

/* The responses a topic tags, from its month rollup (a few cells a month): counting its tags took
 * 30-50 ms at 80 000 of them, on every GET and every group_by=topic. */
#define TOPIC_COLUMNS "survey, id, title, query, created_at, updated_at, scanned, total," \
    " (SELECT coalesce(sum(c.count), 0) FROM rollup_topic_responses_month AS c" \
    "  WHERE c.survey = topics.survey AND c.topic = topics.id)," \
    " cursor_seq IS NOT NULL"

static enum store_status read_topic(const PGresult *result, int row, struct store_topic_row *out)
{
    memset(out, 0, sizeof *out);
    pg_copy_text(result, row, 0, out->survey, sizeof out->survey);
    pg_copy_text(result, row, 1, out->id, sizeof out->id);
    out->title = pg_text(result, row, 2);
    out->query = pg_text(result, row, 3);
    out->created_at = pg_int(result, row, 4);
    out->updated_at = pg_int(result, row, 5);
    out->scanned = pg_int(result, row, 6);
    out->total = pg_int(result, row, 7);
    out->tagged = pg_int(result, row, 8);
    out->running = strcmp(PQgetvalue(result, row, 9), "t") == 0;
    if (out->title == NULL || out->query == NULL) {
        store_topic_row_free(out);
        oom_note();
        return STORE_ERROR;
    }
    return STORE_OK;
}

enum store_status pg_get_topic(struct store_conn *base, const char *survey, const char *id,
                               struct store_topic_row *out)
{
    struct pg_conn *conn = pg_conn_of(base);
    enum store_status status;
    const char *values[] = {survey, id};
    PGresult *result =
        pg_query(conn, "SELECT " TOPIC_COLUMNS " FROM topics WHERE survey = $1 AND id = $2", 2, values, &status);
    if (result == NULL)
        return status;
    status = PQntuples(result) == 1 ? read_topic(result, 0, out) : STORE_NOT_FOUND;
    PQclear(result);
    return status;
}

enum store_status pg_list_topics(struct store_conn *base, const char *survey,
                                 void (*each)(const struct store_topic_row *row, void *arg), void *arg)
{
    struct pg_conn *conn = pg_conn_of(base);
    enum store_status status;
    const char *values[] = {survey};
    PGresult *result =
        pg_query(conn, "SELECT " TOPIC_COLUMNS " FROM topics WHERE survey = $1 ORDER BY id", 1, values, &status);
    if (result == NULL)
        return status;
    status = STORE_OK;
    for (int i = 0; status == STORE_OK && i < PQntuples(result); i++) {
        struct store_topic_row row;
        if ((status = read_topic(result, i, &row)) == STORE_OK) {
            each(&row, arg);
            store_topic_row_free(&row);
        }
    }
    PQclear(result);
    return status;
}

enum store_status pg_count_topics(struct store_conn *base, const char *survey, int64_t *count)
{
    struct pg_conn *conn = pg_conn_of(base);
    enum store_status status;
    const char *values[] = {survey};
    PGresult *result = pg_query(conn, "SELECT count(*) FROM topics WHERE survey = $1", 1, values, &status);
    if (result == NULL)
        return status;
    *count = pg_int(result, 0, 0);
    PQclear(result);
    return STORE_OK;
}

enum store_status pg_delete_topic(struct store_conn *base, const char *survey, const char *id)
{
    struct pg_conn *conn = pg_conn_of(base);
    const char *values[] = {survey, id};
    int64_t affected = 0;
    /* Its tags go by the foreign key (ON DELETE CASCADE), in the same statement. */
    enum store_status status = pg_exec(conn, "DELETE FROM topics WHERE survey = $1 AND id = $2", 2, values, &affected);
    if (status == STORE_OK && affected == 0)
        status = STORE_NOT_FOUND;
    if (status == STORE_OK)
        pg_touch(conn, survey);
    return status;
}

/* Tags the survey's responses in (after, end] (decimal text) that match the one topic of set, up to
 * batch of them, oldest first; after becomes the last seq read, *read how many were read. FOR
 * SHARE: an edit of one of them waits for this batch, then untags and re-tags it against the
 * topics as they are (pg_topics_retag), so the batch never tags it by answers it no longer has. */
static enum store_status backfill_batch(struct pg_conn *conn, const struct pg_topic_set *set, const char *survey,
                                        const char *end, int64_t batch, char after[24], int64_t *read)
{
    enum store_status status;
    char limit[24];
    const char *values[] = {survey, after, pg_int_text(limit, batch), end};
    PGresult *result = pg_query(conn,
                                "SELECT seq, answers FROM responses WHERE survey = $1 AND seq > $2::bigint"
                                " AND seq <= $4::bigint ORDER BY seq LIMIT $3::bigint FOR SHARE",
                                4, values, &status);
    if (result == NULL)
        return status;
    int n = PQntuples(result);
    *read = n;
    /* The matches as one array, "{1,2,3}", and one INSERT: the topic rollups' trigger then runs
     * once for the batch. Tag by tag, a topic tagging 80 000 of 200 000 responses took 69 s. */
    char *seqs = malloc((size_t)n * 21 + 3);
    size_t used = 0;
    bool matched[STORE_TOPICS_MAX];
    status = seqs && set->topics.n == 1 ? STORE_OK : STORE_ERROR;
    if (status == STORE_OK)
        seqs[used++] = '{';
    for (int i = 0; status == STORE_OK && i < n; i++) {
        status = match_answers(set, PQgetvalue(result, i, 1), matched);
        if (status == STORE_OK && matched[0])
            used += (size_t)sprintf(seqs + used, "%s%s", used > 1 ? "," : "", PQgetvalue(result, i, 0));
    }
    if (n > 0)
        pg_copy_text(result, n - 1, 0, after, 24);
    PQclear(result);
    if (status == STORE_OK && used > 1) {
        seqs[used++] = '}';
        seqs[used] = '\0';
        const char *tag_values[] = {seqs, survey, set->topics.ids[0]};
        /* ON CONFLICT: a response stored or edited since the PUT tagged itself as it committed. */
        status = pg_exec(conn,
                         "INSERT INTO response_topics (seq, survey, topic) SELECT unnest($1::bigint[]), $2, $3"
                         " ON CONFLICT DO NOTHING",
                         3, tag_values, NULL);
    }
    if (seqs == NULL)
        oom_note();
    free(seqs);
    return status;
}

/* The first topic whose back-fill runs, by survey and id, locked for this transaction: columns
 * definition, id, query (as topic_set_of reads them), survey, cursor_seq, cursor_end. Topics and
 * surveys that another transaction locked are skipped: another instance's batch works that topic,
 * or a PUT holds the survey (FOR UPDATE), and waiting for it could deadlock (the PUT then waits
 * for this topic's row). The survey's KEY SHARE is the one the tags' foreign keys take anyway. */
static const char backfill_next_sql[] =
    "SELECT s.definition, t.id, t.query, t.survey, t.cursor_seq, t.cursor_end FROM topics AS t"
    " JOIN surveys AS s ON s.id = t.survey WHERE t.cursor_seq IS NOT NULL ORDER BY t.survey, t.id LIMIT 1"
    " FOR NO KEY UPDATE OF t SKIP LOCKED FOR KEY SHARE OF s SKIP LOCKED";

/* Moves the topic's cursor to after (NULL when done) and counts read responses as scanned (never
 * past total: a response whose seq was taken before the PUT and committed after it is in the
 * range but not in the count). */
static enum store_status backfill_move(struct pg_conn *conn, const char *survey, const char *id, bool done,
                                       const char *after, int64_t read)
{
    char read_text[24];
    const char *values[] = {survey, id, done ? NULL : after, pg_int_text(read_text, read)};
    return pg_exec(conn,
                   "UPDATE topics SET cursor_seq = $3::bigint, scanned = least(scanned + $4::bigint, total)"
                   " WHERE survey = $1 AND id = $2",
                   4, values, NULL);
}

enum store_status pg_topic_backfill(struct store_conn *base, int64_t batch, char survey[SURVEY_ID_MAX + 1],
                                    bool *more)
{
    struct pg_conn *conn = pg_conn_of(base);
    enum store_status status;
    PGresult *result = pg_query(conn, backfill_next_sql, 0, NULL, &status);
    if (result == NULL)
        return status;
    if (PQntuples(result) == 0) {
        PQclear(result);
        return STORE_OK;
    }
    char id[STORE_TOPIC_ID_MAX + 1], after[24], end[24];
    pg_copy_text(result, 0, 3, survey, SURVEY_ID_MAX + 1);
    pg_copy_text(result, 0, 1, id, sizeof id);
    pg_copy_text(result, 0, 4, after, sizeof after);
    pg_copy_text(result, 0, 5, end, sizeof end);
    struct pg_topic_set set;
    status = topic_set_of(conn->store->text_language, survey, result, &set);
    PQclear(result);
    int64_t read = 0;
    /* A query that no longer parses tags nothing: its back-fill ends at once. */
    if (status == STORE_OK && set.topics.n > 0)
        status = backfill_batch(conn, &set, survey, end, batch, after, &read);
    bool done = set.topics.n == 0 || read < batch || strtoll(after, NULL, 10) >= strtoll(end, NULL, 10);
    if (status == STORE_OK)
        status = backfill_move(conn, survey, id, done, after, read);
    if (status == STORE_OK)
        pg_touch(conn, survey); /* other instances' cached metrics and progress */
    topic_set_free(&set);
    /* Another topic may be waiting, or this one has more: the caller asks again. */
    *more = status == STORE_OK;
    return status;
}

/* Locks the survey's row against responses being stored meanwhile (see the top of this file), and
 * reads its responses' count into *total and their last seq into *end. STORE_NOT_FOUND when there
 * is no such survey. */
static enum store_status lock_survey(struct pg_conn *conn, const char *survey, int64_t *total, int64_t *end)
{
    enum store_status status;
    const char *values[] = {survey};
    PGresult *result = pg_query(conn,
                                "SELECT c.n, c.last FROM surveys AS s, LATERAL (SELECT count(*) AS n,"
                                " coalesce(max(seq), 0) AS last FROM responses WHERE survey = s.id) AS c"
                                " WHERE s.id = $1 FOR UPDATE OF s",
                                1, values, &status);
    if (result == NULL)
        return status;
    status = PQntuples(result) == 1 ? STORE_OK : STORE_NOT_FOUND;
    if (status == STORE_OK) {
        *total = pg_int(result, 0, 0);
        *end = pg_int(result, 0, 1);
    }
    PQclear(result);
    return status;
}

static enum store_status untag_topic(struct pg_conn *conn, const struct store_topic_row *row)
{
    const char *values[] = {row->survey, row->id};
    return pg_exec(conn, "DELETE FROM response_topics WHERE survey = $1 AND topic = $2", 2, values, NULL);
}

enum store_status pg_put_topic(struct store_conn *base, struct store_topic_row *row, bool query_changed,
                               bool *created)
{
    struct pg_conn *conn = pg_conn_of(base);
    struct store_topic_row old;
    int64_t total = 0, end = 0;
    enum store_status status = lock_survey(conn, row->survey, &total, &end);
    if (status != STORE_OK)
        return status;
    if ((status = pg_get_topic(base, row->survey, row->id, &old)) != STORE_OK && status != STORE_NOT_FOUND)
        return status;
    *created = status == STORE_NOT_FOUND;
    if (!*created) {
        row->created_at = old.created_at;
        if (!query_changed)
            row->scanned = old.scanned, row->total = old.total;
        store_topic_row_free(&old);
    }
    bool backfill = *created || query_changed;
    if (backfill) {
        row->scanned = 0;
        row->total = total;
        if (!*created && (status = untag_topic(conn, row)) != STORE_OK)
            return status;
    }
    /* The back-fill (pg_topic_backfill) starts after the survey's first response and ends at its
     * last one now: those stored later tag themselves, as this transaction commits before they do.
     * Without responses it is done at once; an unchanged query keeps its back-fill where it was. */
    char created_at[24], updated_at[24], scanned[24], total_text[24], end_text[24];
    const char *values[] = {row->survey, row->id, row->title, row->query, pg_int_text(created_at, row->created_at),
                            pg_int_text(updated_at, row->updated_at), pg_int_text(scanned, row->scanned),
                            pg_int_text(total_text, row->total), backfill ? "t" : "f",
                            end > 0 ? "0" : NULL, pg_int_text(end_text, end)};
    status = pg_exec(conn,
                     "INSERT INTO topics (survey, id, title, query, created_at, updated_at, scanned, total,"
                     " cursor_seq, cursor_end) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $10::bigint, $11::bigint)"
                     " ON CONFLICT (survey, id) DO UPDATE SET"
                     " title = excluded.title, query = excluded.query, updated_at = excluded.updated_at,"
                     " scanned = excluded.scanned, total = excluded.total,"
                     " cursor_seq = CASE WHEN $9::boolean THEN excluded.cursor_seq ELSE topics.cursor_seq END,"
                     " cursor_end = CASE WHEN $9::boolean THEN excluded.cursor_end ELSE topics.cursor_end END",
                     11, values, NULL);
    if (status == STORE_OK)
        pg_touch(conn, row->survey);
    return status;
}

/* ---- surveyd verify ---- */

static void report_tag(const char *survey, const char *topic, const char *seq, const char *what,
                       void (*report)(const char *line, void *arg), void *arg, uint64_t *differences)
{
    char line[256];
    snprintf(line, sizeof line, "topics: survey %.64s topic %.64s: response seq %s %s", survey, topic, seq, what);
    report(line, arg);
    (*differences)++;
}

/* Whether the text array ids ("{a,b}") holds id. The ids are slugs: a comma or brace never occurs
 * inside one. */
static bool ids_hold(const char *ids, const char *id)
{
    size_t len = strlen(id);
    for (const char *p = strstr(ids, id); p; p = strstr(p + 1, id))
        if ((p[-1] == '{' || p[-1] == ',') && (p[len] == '}' || p[len] == ','))
            return true;
    return false;
}

/* Every response of survey evaluated against every topic of set, compared with its tags (the
 * result's third column: the topic ids it is tagged with, as a text array "{a,b}"). A response
 * that a topic's running back-fill has not reached yet (the fourth column: those topics) may
 * match without its tag: the back-fill makes it. */
static bool verify_survey(PGconn *db, const char *survey, const struct pg_topic_set *set,
                          void (*report)(const char *line, void *arg), void *arg, uint64_t *differences)
{
    const char *values[] = {survey};
    PGresult *result = PQexecParams(db,
                                    "SELECT r.seq, r.answers, coalesce((SELECT array_agg(t.topic ORDER BY t.topic)"
                                    " FROM response_topics AS t WHERE t.seq = r.seq AND t.survey = r.survey),"
                                    " '{}')::text, coalesce((SELECT array_agg(p.id) FROM topics AS p"
                                    " WHERE p.survey = r.survey AND r.seq > p.cursor_seq AND r.seq <= p.cursor_end),"
                                    " '{}')::text FROM responses AS r WHERE r.survey = $1 ORDER BY r.seq",
                                    1, NULL, values, NULL, NULL, 0);
    bool ok = PQresultStatus(result) == PGRES_TUPLES_OK;
    bool matched[STORE_TOPICS_MAX];
    for (int i = 0; ok && i < PQntuples(result); i++) {
        const char *seq = PQgetvalue(result, i, 0), *tags = PQgetvalue(result, i, 2);
        const char *pending = PQgetvalue(result, i, 3);
        if (set->topics.n > STORE_TOPICS_MAX || match_answers(set, PQgetvalue(result, i, 1), matched) != STORE_OK) {
            ok = false;
            break;
        }
        for (size_t t = 0; t < set->topics.n; t++) {
            bool tagged = ids_hold(tags, set->topics.ids[t]);
            if (matched[t] && !tagged && !ids_hold(pending, set->topics.ids[t]))
                report_tag(survey, set->topics.ids[t], seq, "matches but is not tagged", report, arg, differences);
            else if (!matched[t] && tagged)
                report_tag(survey, set->topics.ids[t], seq, "is tagged but does not match", report, arg, differences);
        }
    }
    PQclear(result);
    return ok;
}

/* Tags whose survey is not their response's. */
static bool verify_stray_tags(PGconn *db, void (*report)(const char *line, void *arg), void *arg,
                              uint64_t *differences)
{
    PGresult *result = PQexec(db, "SELECT t.survey, t.topic, t.seq FROM response_topics AS t"
                                  " JOIN responses AS r ON r.seq = t.seq WHERE r.survey <> t.survey");
    bool ok = PQresultStatus(result) == PGRES_TUPLES_OK;
    for (int i = 0; ok && i < PQntuples(result); i++)
        report_tag(PQgetvalue(result, i, 0), PQgetvalue(result, i, 1), PQgetvalue(result, i, 2),
                   "is tagged but has no text in that survey", report, arg, differences);
    PQclear(result);
    return ok;
}

enum store_status pg_verify_topics(PGconn *db, enum text_language language, void (*report)(const char *line, void *arg),
                                   void *arg, uint64_t *differences)
{
    PGresult *surveys = PQexec(db, "SELECT DISTINCT survey FROM topics ORDER BY survey");
    bool ok = PQresultStatus(surveys) == PGRES_TUPLES_OK;
    for (int i = 0; ok && i < PQntuples(surveys); i++) {
        const char *survey = PQgetvalue(surveys, i, 0);
        const char *values[] = {survey};
        PGresult *topics = PQexecParams(db, survey_topics_sql, 1, NULL, values, NULL, NULL, 0);
        struct pg_topic_set set;
        ok = PQresultStatus(topics) == PGRES_TUPLES_OK &&
             topic_set_of(language, survey, topics, &set) == STORE_OK;
        PQclear(topics);
        if (ok) {
            ok = verify_survey(db, survey, &set, report, arg, differences);
            topic_set_free(&set);
        }
    }
    PQclear(surveys);
    if (ok)
        ok = verify_stray_tags(db, report, arg, differences);
    return ok ? STORE_OK : STORE_ERROR;
}
