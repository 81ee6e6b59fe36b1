/* The PostgreSQL backend's full-text index (schema/postgres/007_text_index.sql, docs/search.md
 * "PostgreSQL"): a response's document (response_text.h) as a tsvector built here, in C, from
 * text_fold's tokens and their positions (stemmed with --text-language, as SQLite's index is fed),
 * so that the index holds exactly the tokens FTS5 (unicode61 remove_diacritics 2) holds, and a
 * query (text_query_tsquery, cast with ::tsquery, never re-parsed) matches the same rows on both
 * backends. Here: the insert and import hand-over (store.c computes the document), the edit's
 * recomputation, the build at open (first open at version 7, or another --text-language) and the
 * expected tsvector that `surveyd verify` compares with. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "postgres_ops.h"
#include "response_text.h"
#include "text_fold.h"
#include "validate.h"

/* PostgreSQL's limits: a lexeme is under 2 KiB (longer ones are left out: no query token can be
 * that long in practice), positions go up to 16383 (later ones count as 16383, as PostgreSQL does
 * on its own input: a phrase past that point cannot be told apart). */
#define LEXEME_MAX 2046
#define POSITION_MAX 16383

/* Responses per FETCH while the index is built at open: one COPY each. */
#define BUILD_BATCH 1000

/* The same migration lock as postgres_schema.c: a build and a migration never run together, and
 * two instances opening at once build once. */
#define BUILD_LOCK "SELECT pg_advisory_xact_lock(8319681739471021089)"

struct buf {
    char *data;
    size_t len, cap;
    bool failed;
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *data = realloc(b->data, cap);
        if (data == NULL) {
            b->failed = true;
            return;
        }
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

/* 'lexeme' with ' doubled and \ escaped (tsvector input's quoting), then :position. PostgreSQL
 * sorts the lexemes and merges a repeated one's positions on input. */
static void put_lexeme(struct buf *b, const char *lexeme, size_t len, size_t position)
{
    char number[32];
    put(b, b->len ? " '" : "'", b->len ? 2 : 1);
    for (size_t i = 0; i < len; i++) {
        if (lexeme[i] == '\'' || lexeme[i] == '\\')
            put(b, lexeme[i] == '\'' ? "'" : "\\", 1);
        put(b, lexeme + i, 1);
    }
    int n = snprintf(number, sizeof number, "':%zu", position > POSITION_MAX ? (size_t)POSITION_MAX : position);
    put(b, number, (size_t)n);
}

char *pg_text_tsvector(enum text_language language, const char *text)
{
    struct text_fold_cursor cursor;
    struct text_fold_token token;
    struct buf b = {0};
    size_t position = 0;
    int rc;

    text_fold_cursor_init(&cursor, text, strlen(text));
    while ((rc = text_fold_next(&cursor, &token)) == 1) {
        position++; /* every token takes a position, a left-out one too: phrases stay exact */
        char *stem = text_stem(language, token.folded, token.folded_length);
        if (stem == NULL) {
            rc = -1;
            break;
        }
        size_t len = strlen(stem);
        if (len > 0 && len <= LEXEME_MAX)
            put_lexeme(&b, stem, len, position);
        free(stem);
    }
    text_fold_cursor_free(&cursor);
    put(&b, "", 0);
    if (rc < 0 || b.failed) {
        free(b.data);
        return NULL;
    }
    return b.data;
}

/* ---- insert and import ---- */

static const char insert_sql[] =
    "INSERT INTO text_answers (seq, tsv) SELECT seq, $2::tsvector FROM responses WHERE id = $1";

/* While migrate's COPY runs no other statement may: the row waits for pg_text_flush_pending. */
static enum store_status keep_pending(struct pg_conn *conn, const char *id, char *tsv)
{
    if (conn->pending_count == conn->pending_cap) {
        int cap = conn->pending_cap ? conn->pending_cap * 2 : 64;
        char **ids = realloc(conn->pending_ids, (size_t)cap * sizeof *ids);
        if (ids != NULL)
            conn->pending_ids = ids;
        char **tsvs = ids ? realloc(conn->pending_tsv, (size_t)cap * sizeof *tsvs) : NULL;
        if (tsvs == NULL)
            goto oom;
        conn->pending_tsv = tsvs;
        conn->pending_cap = cap;
    }
    if ((conn->pending_ids[conn->pending_count] = strdup(id)) == NULL)
        goto oom;
    conn->pending_tsv[conn->pending_count++] = tsv;
    return STORE_OK;
oom:
    free(tsv);
    snprintf(conn->error, sizeof conn->error, "out of memory");
    return STORE_UNAVAILABLE;
}

enum store_status pg_index_text(struct store_conn *base, const char *id, const char *text)
{
    struct pg_conn *conn = pg_conn_of(base);
    enum store_status status;
    char *tsv;

    if (text == NULL) /* a response without text: nothing to index */
        return STORE_OK;
    if ((tsv = pg_text_tsvector(conn->store->text_language, text)) == NULL) {
        snprintf(conn->error, sizeof conn->error, "out of memory");
        return STORE_UNAVAILABLE;
    }
    if (tsv[0] == '\0') { /* text, but no token in it */
        free(tsv);
        return STORE_OK;
    }
    if (conn->db != NULL && PQtransactionStatus(conn->db) == PQTRANS_ACTIVE)
        return keep_pending(conn, id, tsv);
    const char *values[] = {id, tsv};
    status = pg_exec(conn, insert_sql, 2, values, NULL);
    free(tsv);
    return status;
}

void pg_text_pending_free(struct pg_conn *conn)
{
    for (int i = 0; i < conn->pending_count; i++) {
        free(conn->pending_ids[i]);
        free(conn->pending_tsv[i]);
    }
    free(conn->pending_ids);
    free(conn->pending_tsv);
    conn->pending_ids = conn->pending_tsv = NULL;
    conn->pending_count = conn->pending_cap = 0;
}

static const char flush_sql[] =
    "INSERT INTO text_answers (seq, tsv) SELECT r.seq, x.tsv::tsvector"
    " FROM unnest($1::text[], $2::text[]) AS x (id, tsv) JOIN responses r ON r.id = x.id";

/* tsv as an element of a text[] literal: double-quoted, " and \ escaped. */
static void put_array_element(struct buf *b, const char *text);

/* One statement for the whole batch (migrate's --batch rows): a round trip per row was most of
 * the import's added time. */
enum store_status pg_text_flush_pending(struct pg_conn *conn)
{
    struct buf ids = {0}, tsvs = {0};
    enum store_status status = STORE_OK;

    if (conn->pending_count == 0)
        return STORE_OK;
    for (int i = 0; i < conn->pending_count; i++) {
        put_array_element(&ids, conn->pending_ids[i]);
        put_array_element(&tsvs, conn->pending_tsv[i]);
    }
    put(&ids, "}", 1);
    put(&tsvs, "}", 1);
    if (ids.failed || tsvs.failed) {
        snprintf(conn->error, sizeof conn->error, "out of memory");
        status = STORE_UNAVAILABLE;
    } else {
        const char *values[] = {ids.data, tsvs.data};
        status = pg_exec(conn, flush_sql, 2, values, NULL);
    }
    free(ids.data);
    free(tsvs.data);
    pg_text_pending_free(conn);
    return status;
}

/* ---- a stored response's document ---- */

/* A stored definition parsed; false when it does not parse (then nothing of it is indexed, and
 * `surveyd verify` reports the survey). */
static bool parse_survey(const char *id, const char *definition, struct survey *out)
{
    struct validate_errors errors;
    cJSON *json = cJSON_Parse(definition);
    bool ok;

    validate_errors_init(&errors);
    memset(out, 0, sizeof *out);
    ok = json != NULL && validate_definition(id, json, out, &errors);
    validate_errors_free(&errors);
    cJSON_Delete(json);
    if (!ok)
        survey_free(out);
    return ok;
}

bool pg_text_stored_tsvector(enum text_language language, const struct survey *survey, const char *answers_json,
                             char **tsv)
{
    cJSON *answers = cJSON_Parse(answers_json);
    char *text = NULL;
    bool ok = true;

    *tsv = NULL;
    if (cJSON_IsObject(answers))
        ok = response_text_stored(survey, answers, &text, NULL);
    cJSON_Delete(answers);
    if (ok && text != NULL) {
        ok = (*tsv = pg_text_tsvector(language, text)) != NULL;
        if (ok && (*tsv)[0] == '\0') {
            free(*tsv);
            *tsv = NULL;
        }
    }
    free(text);
    return ok;
}

/* A run of rows ordered by survey: each survey's definition parsed once. */
struct survey_cache {
    struct survey survey;
    char id[SURVEY_ID_MAX + 1];
    bool tried, parsed;
};

static const struct survey *survey_cached(struct survey_cache *c, const char *id, const char *definition)
{
    if (!c->tried || strcmp(c->id, id) != 0) {
        if (c->parsed)
            survey_free(&c->survey);
        c->parsed = parse_survey(id, definition, &c->survey);
        c->tried = true;
        snprintf(c->id, sizeof c->id, "%s", id);
    }
    return c->parsed ? &c->survey : NULL;
}

static void survey_cache_free(struct survey_cache *c)
{
    if (c->parsed)
        survey_free(&c->survey);
    c->parsed = c->tried = false;
}

/* ---- edits ---- */

static const char reindex_source_sql[] =
    "SELECT r.seq, s.id, s.definition, r.answers FROM responses r JOIN surveys s ON s.id = r.survey"
    " WHERE r.seq = ANY ($1::bigint[]) ORDER BY s.id";
static const char put_sql[] =
    "INSERT INTO text_answers (seq, tsv) VALUES ($1::bigint, $2::tsvector)"
    " ON CONFLICT (seq) DO UPDATE SET tsv = excluded.tsv";
static const char delete_sql[] = "DELETE FROM text_answers WHERE seq = $1::bigint";

enum store_status pg_text_reindex(struct pg_conn *conn, const char *seqs)
{
    enum store_status status;
    const char *values[] = {seqs};
    struct survey_cache cache = {0};
    PGresult *r = pg_query(conn, reindex_source_sql, 1, values, &status);

    if (r == NULL)
        return status;
    for (int i = 0; i < PQntuples(r) && status == STORE_OK; i++) {
        char *tsv = NULL;
        const struct survey *survey = survey_cached(&cache, PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
        if (survey != NULL &&
            !pg_text_stored_tsvector(conn->store->text_language, survey, PQgetvalue(r, i, 3), &tsv)) {
            snprintf(conn->error, sizeof conn->error, "out of memory");
            status = STORE_UNAVAILABLE;
            break;
        }
        const char *row[] = {PQgetvalue(r, i, 0), tsv};
        status = pg_exec(conn, tsv ? put_sql : delete_sql, tsv ? 2 : 1, row, NULL);
        free(tsv);
    }
    survey_cache_free(&cache);
    PQclear(r);
    return status;
}

/* ---- the build at open ---- */

static bool run(PGconn *db, PGresult *r, const char *what, char *err, size_t err_size)
{
    ExecStatusType s = PQresultStatus(r);
    bool ok = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
    if (!ok)
        snprintf(err, err_size, "%s: %s", what, r ? PQresultErrorMessage(r) : PQerrorMessage(db));
    PQclear(r);
    return ok;
}

/* One line of COPY text format: seq, tab, the tsvector literal with \ doubled (a token holds no
 * tab or newline: text_fold's tokens are letters and digits). */
static void put_copy_line(struct buf *b, const char *seq, const char *tsv)
{
    put(b, seq, strlen(seq));
    put(b, "\t", 1);
    for (const char *p = tsv; *p; p++)
        put(b, *p == '\\' ? "\\\\" : p, *p == '\\' ? 2 : 1);
    put(b, "\n", 1);
}

/* Sends one COPY's data and reads its outcome. */
static bool copy_in(PGconn *db, const struct buf *b, char *err, size_t err_size)
{
    PGresult *start = PQexec(db, "COPY text_answers (seq, tsv) FROM STDIN"), *r;
    bool ok = PQresultStatus(start) == PGRES_COPY_IN;

    if (!ok) {
        snprintf(err, err_size, "building the text index: %s",
                 start ? PQresultErrorMessage(start) : PQerrorMessage(db));
        PQclear(start);
        return false;
    }
    PQclear(start);
    ok = PQputCopyData(db, b->data, (int)b->len) == 1 && PQputCopyEnd(db, NULL) == 1;
    ok = run(db, PQgetResult(db), "building the text index", err, err_size) && ok;
    while ((r = PQgetResult(db)) != NULL)
        PQclear(r);
    return ok;
}

/* The rows of one FETCH (seq, survey, definition, answers) into text_answers by one COPY. */
static bool copy_batch(PGconn *db, const PGresult *rows, enum text_language language, struct survey_cache *cache,
                       char *err, size_t err_size)
{
    struct buf b = {0};
    bool ok = true;

    for (int i = 0; i < PQntuples(rows) && ok; i++) {
        char *tsv = NULL;
        const struct survey *survey = survey_cached(cache, PQgetvalue(rows, i, 1), PQgetvalue(rows, i, 2));
        if (survey != NULL && !pg_text_stored_tsvector(language, survey, PQgetvalue(rows, i, 3), &tsv))
            ok = false;
        if (tsv != NULL)
            put_copy_line(&b, PQgetvalue(rows, i, 0), tsv);
        free(tsv);
    }
    if (!ok || b.failed)
        snprintf(err, err_size, "building the text index: out of memory");
    else if (b.len > 0)
        ok = copy_in(db, &b, err, err_size);
    free(b.data);
    return ok && !b.failed;
}

/* The language the index was built for: *built NULL-equivalent (false in *has) when never built. */
static bool built_language(PGconn *db, bool *has, enum text_language *built, char *err, size_t err_size)
{
    PGresult *r = PQexec(db, "SELECT language FROM text_index_settings WHERE id = 1");
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;

    if (ok) {
        *has = !PQgetisnull(r, 0, 0);
        ok = !*has || text_language_parse(PQgetvalue(r, 0, 0), built);
    }
    if (!ok)
        snprintf(err, err_size, "cannot read the text index's language: %s",
                 r ? PQresultErrorMessage(r) : PQerrorMessage(db));
    PQclear(r);
    return ok;
}

/* Every response's document into the (emptied) index, then the language recorded. */
static bool build(PGconn *db, enum text_language language, bool emptying, char *err, size_t err_size)
{
    struct survey_cache cache = {0};
    char sql[96];
    bool ok = (!emptying || run(db, PQexec(db, "DELETE FROM text_answers"), "emptying the text index", err, err_size)) &&
              run(db,
                  PQexec(db, "DECLARE text_build NO SCROLL CURSOR FOR SELECT r.seq, s.id, s.definition, r.answers"
                             " FROM responses r JOIN surveys s ON s.id = r.survey ORDER BY r.survey"),
                  "building the text index", err, err_size);
    snprintf(sql, sizeof sql, "FETCH %d FROM text_build", BUILD_BATCH);
    while (ok) {
        PGresult *rows = PQexec(db, sql);
        if (PQresultStatus(rows) != PGRES_TUPLES_OK) {
            ok = run(db, rows, "building the text index", err, err_size);
            break;
        }
        int n = PQntuples(rows);
        ok = copy_batch(db, rows, language, &cache, err, err_size);
        PQclear(rows);
        if (n < BUILD_BATCH)
            break;
    }
    survey_cache_free(&cache);
    snprintf(sql, sizeof sql, "UPDATE text_index_settings SET language = '%s' WHERE id = 1",
             text_language_name(language));
    return ok && run(db, PQexec(db, "CLOSE text_build"), "building the text index", err, err_size) &&
           run(db, PQexec(db, sql), "building the text index", err, err_size);
}

bool pg_text_sync(PGconn *db, enum text_language language, char *err, size_t err_size)
{
    enum text_language built = TEXT_LANGUAGE_NONE;
    bool has = false;

    if (!run(db, PQexec(db, "BEGIN"), "building the text index", err, err_size))
        return false;
    if (!run(db, PQexec(db, BUILD_LOCK), "building the text index", err, err_size) ||
        !built_language(db, &has, &built, err, err_size))
        goto fail;
    if (has && built == language)
        return run(db, PQexec(db, "COMMIT"), "building the text index", err, err_size);
    if (has)
        log_info("store: re-indexing the text answers for --text-language %s (the index was built for %s)",
                 text_language_name(language), text_language_name(built));
    else
        log_info("store: building the text index (--text-language %s)", text_language_name(language));
    if (!build(db, language, has, err, err_size) ||
        !run(db, PQexec(db, "COMMIT"), "building the text index", err, err_size))
        goto fail;
    log_info("store: built the text index");
    return true;
fail:
    PQclear(PQexec(db, "ROLLBACK"));
    return false;
}

/* ---- surveyd verify ---- */

struct verify {
    PGconn *db;
    enum text_language language;
    void (*report)(const char *line, void *arg);
    void *arg;
    uint64_t *differences;
    struct buf seqs, expected;  /* the batch's indexed rows: array literals being built */
};

static void report(struct verify *v, const char *seq, const char *what)
{
    char line[160];
    snprintf(line, sizeof line, "text index: response seq %s %s", seq, what);
    v->report(line, v->arg);
    (*v->differences)++;
}

static void put_array_element(struct buf *b, const char *text)
{
    put(b, b->len ? ",\"" : "{\"", 2);
    for (const char *p = text; *p; p++) {
        if (*p == '"' || *p == '\\')
            put(b, "\\", 1);
        put(b, p, 1);
    }
    put(b, "\"", 1);
}

/* The batch's rows that are indexed and should be: any whose tsvector is not the expected one. */
static bool compare_batch(struct verify *v, char *err, size_t err_size)
{
    if (v->seqs.len == 0)
        return true;
    put(&v->seqs, "}", 1);
    put(&v->expected, "}", 1);
    if (v->seqs.failed || v->expected.failed) {
        snprintf(err, err_size, "out of memory");
        return false;
    }
    const char *values[] = {v->seqs.data, v->expected.data};
    PGresult *r = PQexecParams(v->db,
                               "SELECT x.s FROM unnest($1::bigint[], $2::text[]) AS x (s, e)"
                               " JOIN text_answers t ON t.seq = x.s WHERE t.tsv <> x.e::tsvector ORDER BY x.s",
                               2, NULL, values, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    for (int i = 0; ok && i < PQntuples(r); i++)
        report(v, PQgetvalue(r, i, 0), "is indexed with other words than its text's");
    v->seqs.len = v->expected.len = 0;
    return run(v->db, r, "verifying the text index", err, err_size) && ok;
}

/* One FETCH (seq, survey, definition, answers, indexed): each row's expected tsvector. */
static bool verify_batch(struct verify *v, const PGresult *rows, struct survey_cache *cache, char *err,
                         size_t err_size)
{
    for (int i = 0; i < PQntuples(rows); i++) {
        const char *seq = PQgetvalue(rows, i, 0);
        bool indexed = PQgetvalue(rows, i, 4)[0] == 't';
        char *tsv = NULL;
        const struct survey *survey = survey_cached(cache, PQgetvalue(rows, i, 1), PQgetvalue(rows, i, 2));
        if (survey != NULL && !pg_text_stored_tsvector(v->language, survey, PQgetvalue(rows, i, 3), &tsv)) {
            snprintf(err, err_size, "out of memory");
            return false;
        }
        if (tsv != NULL && !indexed)
            report(v, seq, "has text but is not indexed");
        else if (tsv == NULL && indexed)
            report(v, seq, "has no text but is indexed");
        else if (tsv != NULL) {
            put_array_element(&v->seqs, seq);
            put_array_element(&v->expected, tsv);
        }
        free(tsv);
    }
    return compare_batch(v, err, err_size);
}

bool pg_text_verify(PGconn *db, void (*report_line)(const char *line, void *arg), void *arg, uint64_t *differences,
                    char *err, size_t err_size)
{
    struct verify v = {db, TEXT_LANGUAGE_NONE, report_line, arg, differences, {0}, {0}};
    struct survey_cache cache = {0};
    char sql[64];
    bool has = false;
    bool ok = built_language(db, &has, &v.language, err, err_size);

    if (ok && !has) {
        report_line("text index: never built (start surveyd serve on the database once)", arg);
        (*differences)++;
        return true;
    }
    ok = ok && run(db,
                   PQexec(db, "DECLARE text_verify NO SCROLL CURSOR FOR SELECT r.seq, s.id, s.definition, r.answers,"
                              " t.seq IS NOT NULL FROM responses r JOIN surveys s ON s.id = r.survey"
                              " LEFT JOIN text_answers t ON t.seq = r.seq ORDER BY r.survey, r.seq"),
                   "verifying the text index", err, err_size);
    snprintf(sql, sizeof sql, "FETCH %d FROM text_verify", BUILD_BATCH);
    while (ok) {
        PGresult *rows = PQexec(db, sql);
        if (PQresultStatus(rows) != PGRES_TUPLES_OK) {
            ok = run(db, rows, "verifying the text index", err, err_size);
            break;
        }
        int n = PQntuples(rows);
        ok = verify_batch(&v, rows, &cache, err, err_size);
        PQclear(rows);
        if (n < BUILD_BATCH)
            break;
    }
    survey_cache_free(&cache);
    free(v.seqs.data);
    free(v.expected.data);
    return ok && run(db, PQexec(db, "CLOSE text_verify"), "verifying the text index", err, err_size);
}
