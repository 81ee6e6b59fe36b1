/* The SQLite backend: surveys, responses, listing and export (see sqlite_internal.h). */
#include "sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text_query.h"

/* ---- surveys ---- */

static void read_survey_row(sqlite3_stmt *s, struct store_survey_row *out)
{
    sqlite_copy_column(s, 0, out->id, sizeof out->id);
    out->definition = sqlite_column_text(s, 1);
    out->created_at = sqlite3_column_int64(s, 2);
    out->updated_at = sqlite3_column_int64(s, 3);
}

/* Runs a statement keyed by one text parameter and reads its single row with read(). */
static enum store_status get_one(struct sqlite_conn *conn, enum stmt_id id, const char *key,
                                 void (*read)(sqlite3_stmt *s, void *out), void *out)
{
    sqlite3_stmt *s = sqlite_stmt(conn, id);
    enum store_status status = STORE_NOT_FOUND;

    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, key);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        read(s, out);
        status = STORE_OK;
    } else if (rc != SQLITE_DONE) {
        status = sqlite_status_of(rc);
    }
    sqlite_done_with(s);
    return status;
}

static void read_survey(sqlite3_stmt *s, void *out)
{
    read_survey_row(s, out);
}

enum store_status sqlite_get_survey(struct store_conn *base_conn, const char *id, struct store_survey_row *out)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    memset(out, 0, sizeof *out);
    enum store_status status = get_one(conn, STMT_GET_SURVEY, id, read_survey, out);
    /* The column is NOT NULL: a NULL here is a copy that ran out of memory, never a definition. */
    if (status == STORE_OK && out->definition == NULL)
        status = STORE_UNAVAILABLE;
    return status;
}

enum store_status sqlite_survey_unchanged(struct store_conn *base_conn, const char *id, const char *definition,
                                         bool *unchanged)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_SURVEY_IS);
    int rc;

    *unchanged = false;
    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, id);
    sqlite_bind_text(s, 2, definition);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *unchanged = sqlite3_column_int(s, 0) == 1;
    sqlite_done_with(s);
    return rc == SQLITE_ROW ? STORE_OK : rc == SQLITE_DONE ? STORE_NOT_FOUND : sqlite_status_of(rc);
}

enum store_status sqlite_list_surveys(struct store_conn *base_conn, void (*each)(const struct store_survey_row *, void *),
                                     void *arg)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_LIST_SURVEYS);
    struct store_survey_row row;
    int rc;

    if (s == NULL)
        return STORE_ERROR;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        read_survey_row(s, &row);
        if (row.definition == NULL) { /* out of memory, as in store_get_survey */
            sqlite_done_with(s);
            return STORE_UNAVAILABLE;
        }
        each(&row, arg);
        store_survey_row_free(&row);
    }
    sqlite_done_with(s);
    return rc == SQLITE_DONE ? STORE_OK : sqlite_status_of(rc);
}

enum store_status sqlite_put_survey(struct store_conn *base_conn, const char *id, const char *definition, int64_t now_ms,
                                   bool *created)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_INSERT_SURVEY);
    enum store_status status;

    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, id);
    sqlite_bind_text(s, 2, definition);
    sqlite3_bind_int64(s, 3, now_ms);
    status = sqlite_run(conn, s);
    if (status != STORE_OK)
        return status;
    *created = sqlite3_changes(conn->db) == 1;
    if (!*created) {
        s = sqlite_stmt(conn, STMT_UPDATE_SURVEY);
        if (s == NULL)
            return STORE_ERROR;
        sqlite_bind_text(s, 1, id);
        sqlite_bind_text(s, 2, definition);
        sqlite3_bind_int64(s, 3, now_ms);
        if ((status = sqlite_run(conn, s)) != STORE_OK)
            return status;
    }
    /* survey_questions mirrors the definition's question types for the answer_facts view. */
    s = sqlite_stmt(conn, STMT_CLEAR_QUESTIONS);
    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, id);
    if ((status = sqlite_run(conn, s)) != STORE_OK)
        return status;
    s = sqlite_stmt(conn, STMT_SET_QUESTIONS);
    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, id);
    sqlite_bind_text(s, 2, definition);
    return sqlite_run(conn, s);
}

enum store_status sqlite_delete_survey(struct store_conn *base_conn, const char *id)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_DELETE_SURVEY_RESPONSES);
    enum store_status status;

    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, id);
    if ((status = sqlite_run(conn, s)) != STORE_OK)
        return status;
    if ((s = sqlite_stmt(conn, STMT_DELETE_SURVEY)) == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, id);
    status = sqlite_run(conn, s);
    if (status != STORE_OK)
        return status;
    if (sqlite3_changes(conn->db) == 0)
        return STORE_NOT_FOUND;
    s = sqlite_stmt(conn, STMT_DELETE_SURVEY_IDEMPOTENCY);
    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, id);
    return sqlite_run(conn, s);
}

enum store_status sqlite_answer_count(struct store_conn *base_conn, const char *survey, const char *question,
                                     int64_t *count)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_ANSWER_COUNT);
    int rc;

    *count = 0;
    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, survey);
    sqlite_bind_text(s, 2, question);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *count = sqlite3_column_int64(s, 0);
    sqlite_done_with(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : sqlite_status_of(rc);
}

/* ---- responses ---- */

/* Columns in the order of every response query: id, survey, submitted_at, received_at, channel, customer, agent, interaction, answers, properties. */
static void read_response_row(sqlite3_stmt *s, struct store_response_row *out)
{
    sqlite_copy_column(s, 0, out->id, sizeof out->id);
    sqlite_copy_column(s, 1, out->survey, sizeof out->survey);
    out->submitted_at = sqlite3_column_int64(s, 2);
    out->received_at = sqlite3_column_int64(s, 3);
    out->channel = sqlite_column_text(s, 4);
    out->customer = sqlite_column_text(s, 5);
    out->agent = sqlite_column_text(s, 6);
    out->interaction = sqlite_column_text(s, 7);
    out->answers = sqlite_column_text(s, 8);
    out->properties = sqlite_column_text(s, 9);
}

static void read_response(sqlite3_stmt *s, void *out)
{
    read_response_row(s, out);
}

enum store_status sqlite_get_response(struct store_conn *base_conn, const char *id, struct store_response_row *out)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    memset(out, 0, sizeof *out);
    return get_one(conn, STMT_GET_RESPONSE, id, read_response, out);
}


static enum store_status find_interaction(struct sqlite_conn *conn, const char *survey, const char *interaction,
                                          char existing_id[32])
{
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_FIND_INTERACTION);
    int rc;

    existing_id[0] = '\0';
    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, survey);
    sqlite_bind_text(s, 2, interaction);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        sqlite_copy_column(s, 0, existing_id, 32);
    sqlite_done_with(s);
    return rc == SQLITE_ROW ? STORE_CONFLICT : rc == SQLITE_DONE ? STORE_OK : sqlite_status_of(rc);
}

enum store_status sqlite_insert_response(struct store_conn *base_conn, const struct response *r,
                                        const struct store_edit_token *token, char existing_id[32])
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    sqlite3_stmt *s;
    enum store_status status;

    existing_id[0] = '\0';
    s = sqlite_stmt(conn, STMT_INSERT_RESPONSE);
    if (s == NULL)
        return STORE_ERROR;
    sqlite_bind_text(s, 1, r->id);
    sqlite_bind_text(s, 2, r->survey);
    sqlite3_bind_int64(s, 3, r->submitted_at);
    sqlite3_bind_int64(s, 4, r->received_at);
    sqlite_bind_text(s, 5, r->channel);
    sqlite_bind_text(s, 6, r->customer);
    sqlite_bind_text(s, 7, r->agent);
    sqlite_bind_text(s, 8, r->interaction);
    sqlite_bind_text(s, 9, r->answers_json);
    sqlite_bind_text(s, 10, r->properties_json);
    if (token) {
        sqlite3_bind_blob(s, 11, token->hash, (int)token->hash_len, SQLITE_STATIC);
        sqlite3_bind_int64(s, 12, token->expires_at);
    }
    /* Inserted first, looked up only on a conflict: the UNIQUE (survey, interaction) index does the
     * check anyway, and a search of it before every insert cost a B-tree descent per response. */
    status = sqlite_run(conn, s);
    if (status == STORE_CONFLICT && r->interaction) {
        status = find_interaction(conn, r->survey, r->interaction, existing_id);
        if (status != STORE_OK) /* CONFLICT: that interaction's response, in existing_id */
            return status;
        status = STORE_CONFLICT;
    }
    if (status == STORE_CONFLICT) /* the survey vanished (foreign key) or an id collided */
        return STORE_NOT_FOUND;
    return status;
}

/* ---- listing and export ---- */

/* q= with newest first: below this many matches in the whole index, reading every match and
 * sorting them is cheaper than walking the survey's newest rows and checking each against the
 * index (tests/bench/search.py measured the crossing point; docs/benchmarks.md).
 * SURVEYD_SEARCH_DRIVE_MAX overrides it: the tests run every query through both plans. */
#define TEXT_DRIVE_MAX_DEFAULT 8000

static int64_t text_drive_max, relevance_window;
static pthread_once_t text_drive_once = PTHREAD_ONCE_INIT;

/* A non-negative integer from the environment, or fallback. */
static int64_t env_count(const char *name, int64_t fallback)
{
    const char *env = getenv(name);
    char *end = NULL;
    long long n = env ? strtoll(env, &end, 10) : 0;
    return env && *env && *end == '\0' && n >= 0 ? n : fallback;
}

/* SURVEYD_SEARCH_RELEVANCE_WINDOW overrides STORE_RELEVANCE_WINDOW for the tests, which can't
 * store 10 000 matches to show the cut. */
static void read_text_drive_max(void)
{
    text_drive_max = env_count("SURVEYD_SEARCH_DRIVE_MAX", TEXT_DRIVE_MAX_DEFAULT);
    relevance_window = env_count("SURVEYD_SEARCH_RELEVANCE_WINDOW", STORE_RELEVANCE_WINDOW);
}

/* The statement for q: a plain listing, or one of the text plans (match is q->text as FTS5). */
static enum store_status list_statement(struct sqlite_conn *conn, const struct store_list_query *q, const char *match,
                                        enum stmt_id *id)
{
    if (match == NULL) {
        *id = q->survey ? STMT_LIST : STMT_LIST_CUSTOMER;
        return STORE_OK;
    }
    if (q->order == STORE_ORDER_RELEVANCE) {
        *id = STMT_LIST_TEXT_RANK;
        return STORE_OK;
    }
    if (q->survey == NULL) { /* a customer's history: their few rows, each checked */
        *id = STMT_LIST_CUSTOMER_TEXT_WALK;
        return STORE_OK;
    }
    sqlite3_stmt *s = sqlite_stmt(conn, STMT_TEXT_MATCHES);
    if (s == NULL)
        return STORE_ERROR;
    sqlite3_bind_text(s, 1, match, -1, SQLITE_STATIC);
    pthread_once(&text_drive_once, read_text_drive_max);
    sqlite3_bind_int64(s, 2, text_drive_max);
    int rc = sqlite3_step(s);
    int64_t matches = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite_done_with(s);
    if (rc != SQLITE_ROW)
        return sqlite_status_of(rc);
    *id = matches < text_drive_max ? STMT_LIST_TEXT_DRIVE : STMT_LIST_TEXT_WALK;
    return STORE_OK;
}

/* ?1..?9 of every listing statement: the filters, the page's start and its limit. Copies of the
 * strings: an export's statement outlives the request handler that built the query. */
static void bind_filters(sqlite3_stmt *s, const struct store_list_query *q)
{
    const char *texts[] = {q->survey, NULL, q->before_id ? q->before_id : "", NULL,
                           q->channel, q->agent, q->customer, q->interaction};
    for (int i = 0; i < 8; i++) {
        if (i == 1 || i == 3)
            continue;
        if (texts[i])
            sqlite3_bind_text(s, i + 1, texts[i], -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(s, i + 1);
    }
    sqlite3_bind_int64(s, 2, q->before_ms);
    sqlite3_bind_int64(s, 4, q->from_ms);
    sqlite3_bind_int64(s, 9, q->limit);
}

/* The statement for q, bound. NULL with *status set when it could not. */
static sqlite3_stmt *bind_list(struct sqlite_conn *conn, const struct store_list_query *q, const char *match,
                               enum stmt_id id, enum store_status *status)
{
    sqlite3_stmt *s = sqlite_stmt(conn, id);
    if (s == NULL) {
        *status = STORE_ERROR;
        return NULL;
    }
    bind_filters(s, q);
    if (match) {
        sqlite3_bind_text(s, 10, match, -1, SQLITE_TRANSIENT);
        if (id == STMT_LIST_TEXT_RANK) {
            sqlite3_bind_int64(s, 11, q->offset);
            pthread_once(&text_drive_once, read_text_drive_max);
            sqlite3_bind_int64(s, 12, relevance_window);
        }
    }
    return s;
}

/* q->text as an FTS5 expression into *match (NULL without a text query). False when out of memory. */
static bool match_of(const struct store_list_query *q, char **match)
{
    *match = q->text ? text_query_fts5(q->text) : NULL;
    return q->text == NULL || *match != NULL;
}

/* ---- the walk: a newest-first page of a common term ----
 *
 * The page's candidates come newest first from the listing's own index, a chunk at a time (128
 * rows, doubling up to 4096); the full-text index is asked once per chunk which seqs between the
 * chunk's smallest and largest hold a match (FTS5 reads just that stretch of its doclists), and the
 * candidates found there are read and handed over in order. Probing the index row by row cost a
 * doclist seek per candidate, several times more. A chunk whose seqs are spread far apart (rows
 * imported out of time order) is probed row by row instead of reading a long stretch. */
#define WALK_CHUNK_MIN 128
#define WALK_CHUNK_MAX 4096
#define WALK_SPAN_MAX 64    /* seqs per candidate a chunk's range may cover before it is probed */

struct walk {
    struct sqlite_conn *conn;
    const char *match;
    int64_t seqs[WALK_CHUNK_MAX], times[WALK_CHUNK_MAX];
    char ids[WALK_CHUNK_MAX][32];
    int64_t *found;                     /* matching seqs of the chunk's range, ascending */
    size_t ncandidates, nfound, found_cap;
};

static enum store_status walk_candidates(struct walk *w, const struct store_list_query *page, size_t chunk)
{
    sqlite3_stmt *s = sqlite_stmt(w->conn, page->survey ? STMT_LIST_SEQS : STMT_LIST_CUSTOMER_SEQS);
    int rc;
    if (s == NULL)
        return STORE_ERROR;
    bind_filters(s, page);
    sqlite3_bind_int64(s, 9, (int64_t)chunk);
    w->ncandidates = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        w->seqs[w->ncandidates] = sqlite3_column_int64(s, 0);
        w->times[w->ncandidates] = sqlite3_column_int64(s, 1);
        sqlite_copy_column(s, 2, w->ids[w->ncandidates], sizeof w->ids[0]);
        w->ncandidates++;
    }
    sqlite_done_with(s);
    return rc == SQLITE_DONE ? STORE_OK : sqlite_status_of(rc);
}

/* Appends the matching seqs in [lo, hi] to w->found. */
static enum store_status walk_matches(struct walk *w, int64_t lo, int64_t hi)
{
    sqlite3_stmt *s = sqlite_stmt(w->conn, STMT_TEXT_IN_RANGE);
    int rc;
    if (s == NULL)
        return STORE_ERROR;
    sqlite3_bind_text(s, 1, w->match, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, lo);
    sqlite3_bind_int64(s, 3, hi);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (w->nfound == w->found_cap) {
            size_t cap = w->found_cap ? w->found_cap * 2 : WALK_CHUNK_MIN;
            int64_t *grown = realloc(w->found, cap * sizeof *grown);
            if (grown == NULL) {
                rc = SQLITE_NOMEM;
                break;
            }
            w->found = grown;
            w->found_cap = cap;
        }
        w->found[w->nfound++] = sqlite3_column_int64(s, 0);
    }
    sqlite_done_with(s);
    return rc == SQLITE_DONE ? STORE_OK : sqlite_status_of(rc);
}

static int compare_seq(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Which of the chunk's candidates match: w->found, sorted. */
static enum store_status walk_chunk_matches(struct walk *w)
{
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    enum store_status status = STORE_OK;
    for (size_t i = 0; i < w->ncandidates; i++) {
        lo = w->seqs[i] < lo ? w->seqs[i] : lo;
        hi = w->seqs[i] > hi ? w->seqs[i] : hi;
    }
    w->nfound = 0;
    bool whole = (uint64_t)(hi - lo) < (uint64_t)WALK_SPAN_MAX * w->ncandidates;
    if (whole)
        status = walk_matches(w, lo, hi);
    for (size_t i = 0; !whole && status == STORE_OK && i < w->ncandidates; i++)
        status = walk_matches(w, w->seqs[i], w->seqs[i]);
    qsort(w->found, w->nfound, sizeof w->found[0], compare_seq);
    return status;
}

static enum store_status walk_emit(struct walk *w, int64_t seq,
                                   void (*each)(const struct store_response_row *row, void *arg), void *arg)
{
    sqlite3_stmt *s = sqlite_stmt(w->conn, STMT_RESPONSE_BY_SEQ);
    struct store_response_row row;
    int rc;
    if (s == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(s, 1, seq);
    if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        read_response_row(s, &row);
        each(&row, arg);
        store_response_row_free(&row);
    }
    sqlite_done_with(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : sqlite_status_of(rc);
}

static enum store_status walk_list(struct sqlite_conn *conn, const struct store_list_query *q, const char *match,
                                   void (*each)(const struct store_response_row *row, void *arg), void *arg)
{
    struct walk *w = malloc(sizeof *w);
    struct store_list_query page = *q;
    char before_id[32];
    int64_t left = q->limit; /* -1: all */
    size_t chunk = WALK_CHUNK_MIN;
    enum store_status status = STORE_OK;

    if (w == NULL)
        return STORE_UNAVAILABLE;
    w->conn = conn;
    w->match = match;
    w->found = NULL;
    w->found_cap = 0;
    while (left != 0) {
        if ((status = walk_candidates(w, &page, chunk)) != STORE_OK || w->ncandidates == 0)
            break;
        if ((status = walk_chunk_matches(w)) != STORE_OK)
            break;
        for (size_t i = 0; i < w->ncandidates && left != 0 && status == STORE_OK; i++) {
            if (bsearch(&w->seqs[i], w->found, w->nfound, sizeof w->found[0], compare_seq) == NULL)
                continue;
            status = walk_emit(w, w->seqs[i], each, arg);
            if (left > 0)
                left--;
        }
        if (status != STORE_OK || w->ncandidates < chunk)
            break;
        page.before_ms = w->times[w->ncandidates - 1];
        memcpy(before_id, w->ids[w->ncandidates - 1], sizeof before_id);
        page.before_id = before_id;
        chunk = chunk * 2 > WALK_CHUNK_MAX ? WALK_CHUNK_MAX : chunk * 2;
    }
    free(w->found);
    free(w);
    return status;
}

enum store_status sqlite_list_responses(struct store_conn *base_conn, const struct store_list_query *q,
                                       void (*each)(const struct store_response_row *row, void *arg), void *arg)
{
    struct sqlite_conn *conn = (struct sqlite_conn *)base_conn;
    struct store_response_row row;
    enum store_status status;
    char *match;
    int rc;

    if (!match_of(q, &match))
        return STORE_UNAVAILABLE;
    enum stmt_id id = STMT_LIST; /* set by list_statement on STORE_OK */
    if ((status = list_statement(conn, q, match, &id)) != STORE_OK)
        goto done;
    if (id == STMT_LIST_TEXT_WALK || id == STMT_LIST_CUSTOMER_TEXT_WALK) {
        status = walk_list(conn, q, match, each, arg);
        goto done;
    }
    sqlite3_stmt *s = bind_list(conn, q, match, id, &status);
    if (s == NULL)
        goto done;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        read_response_row(s, &row);
        each(&row, arg);
        store_response_row_free(&row);
    }
    sqlite_done_with(s);
    status = rc == SQLITE_DONE ? STORE_OK : sqlite_status_of(rc);
done:
    free(match);
    return status;
}

/* An export reads in short stretches: between store_iter_pause() and the next row, no statement is
 * open, so no read snapshot outlives a stretch. A snapshot held for a whole export would pin the WAL
 * (it could not be checkpointed or reset while ingest goes on) and keep an erased customer's pages
 * in it; each stretch restarts from the last row read, keyset style. */
struct sqlite_iter {
    struct store_iter base;
    struct sqlite_conn *conn;    /* its own: an export must not disturb a request thread's statements */
    sqlite3_stmt *stmt;         /* non-NULL while a stretch is open */
    struct store_list_query query;
    char *texts[6];             /* the query's strings, owned */
    char *match;                /* query.text as FTS5, owned (query.text itself is not kept) */
    int64_t remaining;          /* rows still wanted; -1 for all */
    bool started;
    int64_t last_ms;            /* the last row returned */
    char last_id[32];
};

static char *own(struct sqlite_iter *it, int slot, const char *text)
{
    return text ? (it->texts[slot] = strdup(text)) : NULL;
}


struct store_iter *sqlite_iter_open(struct store *base_store, const struct store_list_query *q, char *err,
                                           size_t err_size)
{
    struct sqlite_store *store = (struct sqlite_store *)base_store;
    struct sqlite_iter *it = calloc(1, sizeof *it);
    if (it == NULL)
        return NULL;
    it->base.backend = &store_backend_sqlite;
    it->conn = sqlite_conn_open(store, false, err, err_size);
    if (it->conn == NULL) {
        sqlite_iter_close(&it->base);
        return NULL;
    }
    it->query = *q;
    it->query.survey = own(it, 0, q->survey);
    it->query.before_id = own(it, 1, q->before_id);
    it->query.channel = own(it, 2, q->channel);
    it->query.agent = own(it, 3, q->agent);
    it->query.customer = own(it, 4, q->customer);
    it->query.interaction = own(it, 5, q->interaction);
    it->remaining = q->limit;
    it->query.text = NULL;
    if (!match_of(q, &it->match)) {
        snprintf(err, err_size, "out of memory");
        sqlite_iter_close(&it->base);
        return NULL;
    }
    return &it->base;
}

enum store_status sqlite_iter_next(struct store_iter *base_it, struct store_response_row *row)
{
    struct sqlite_iter *it = (struct sqlite_iter *)base_it;
    if (it->remaining == 0)
        return STORE_NOT_FOUND;
    if (it->stmt == NULL) {
        struct store_list_query q = it->query;
        if (it->started) {
            q.before_ms = it->last_ms;
            q.before_id = it->last_id;
        }
        q.limit = it->remaining;
        enum stmt_id id = STMT_LIST; /* set by list_statement on STORE_OK */
        enum store_status status = list_statement(it->conn, &q, it->match, &id);
        if (status != STORE_OK || (it->stmt = bind_list(it->conn, &q, it->match, id, &status)) == NULL)
            return status;
    }
    int rc = sqlite3_step(it->stmt);
    if (rc == SQLITE_ROW) {
        read_response_row(it->stmt, row);
        it->started = true;
        it->last_ms = row->submitted_at;
        size_t id_len = strnlen(row->id, sizeof it->last_id - 1); /* ids are 26 characters */
        memcpy(it->last_id, row->id, id_len);
        it->last_id[id_len] = '\0';
        if (it->remaining > 0)
            it->remaining--;
        return STORE_OK;
    }
    sqlite_iter_pause(&it->base);
    return rc == SQLITE_DONE ? STORE_NOT_FOUND : sqlite_status_of(rc);
}

void sqlite_iter_pause(struct store_iter *base_it)
{
    struct sqlite_iter *it = (struct sqlite_iter *)base_it;
    if (it->stmt) {
        sqlite_done_with(it->stmt); /* ends the read transaction */
        it->stmt = NULL;
    }
    /* Between stretches the export waits on its client, maybe for long: its page cache (up to 2 MB
     * per connection, and exports run side by side) is worth nothing meanwhile. */
    if (it->conn)
        sqlite3_db_release_memory(it->conn->db);
}

void sqlite_iter_close(struct store_iter *base_it)
{
    struct sqlite_iter *it = (struct sqlite_iter *)base_it;
    if (it == NULL)
        return;
    sqlite_iter_pause(&it->base);
    if (it->conn)
        sqlite_conn_close(it->conn);
    for (int i = 0; i < 6; i++)
        free(it->texts[i]);
    free(it->match);
    free(it);
}
