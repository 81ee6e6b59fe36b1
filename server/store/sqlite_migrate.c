/* The SQLite backend as surveyd migrate's source: store_dump.
 *
 * Everything is read in one read transaction on the store's reader connection: one snapshot, so the
 * counts, surveys, responses, invitations and idempotency records agree with each other however
 * busy a serving surveyd is. In WAL mode a reader never blocks the writer; it only keeps the WAL from being
 * checkpointed past its snapshot until the copy ends (docs/postgresql.md says so). Rows are stepped
 * one at a time and handed over without copies (an invitation's strings are copied and freed row
 * by row): memory stays constant whatever the store's size. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "sqlite_internal.h"

struct dump {
    sqlite3 *db;
    const struct store_dump_sink *sink;
    void *arg;
};

typedef enum store_status (*dump_row_fn)(struct dump *dump, sqlite3_stmt *s);

/* A text column, NULL for SQL NULL; false when SQLite could not give it (out of memory): a row
 * with a hole must stop the copy, never be copied without its text. */
static bool text_column(sqlite3_stmt *s, int column, const char **out)
{
    *out = (const char *)sqlite3_column_text(s, column);
    return *out != NULL || sqlite3_column_type(s, column) == SQLITE_NULL;
}

/* A text column into a fixed buffer; false when it is NULL or does not fit (never truncated). */
static bool copy_column(sqlite3_stmt *s, int column, char *out, size_t size)
{
    const char *text;

    if (!text_column(s, column, &text) || text == NULL || strlen(text) >= size)
        return false;
    memcpy(out, text, strlen(text) + 1);
    return true;
}

static enum store_status read_counts(struct dump *dump, sqlite3_stmt *s)
{
    struct store_dump_counts counts = {
        .surveys = sqlite3_column_int64(s, 0),
        .responses = sqlite3_column_int64(s, 1),
        .records = sqlite3_column_int64(s, 2),
        .invitations = sqlite3_column_int64(s, 3),
        .webhooks = sqlite3_column_int64(s, 4),
        .deliveries = sqlite3_column_int64(s, 5),
        .events = sqlite3_column_int64(s, 6),
        .topics = sqlite3_column_int64(s, 7),
    };
    return dump->sink->begin(&counts, dump->arg);
}

static enum store_status read_survey(struct dump *dump, sqlite3_stmt *s)
{
    struct store_survey_row row = {.created_at = sqlite3_column_int64(s, 2), .updated_at = sqlite3_column_int64(s, 3)};
    const char *definition;

    if (!copy_column(s, 0, row.id, sizeof row.id) || !text_column(s, 1, &definition) || definition == NULL)
        return STORE_ERROR;
    row.definition = (char *)definition;
    return dump->sink->survey(&row, dump->arg);
}

/* Columns: id, survey, submitted_at, received_at, channel, customer, agent, interaction, answers,
 * properties, edit_token_hash, edit_token_expires_at. */
static enum store_status read_response(struct dump *dump, sqlite3_stmt *s)
{
    struct store_stored_response stored = {
        .row = {.submitted_at = sqlite3_column_int64(s, 2), .received_at = sqlite3_column_int64(s, 3)},
    };
    struct store_response_row *row = &stored.row;
    const char *texts[6];

    if (!copy_column(s, 0, row->id, sizeof row->id) || !copy_column(s, 1, row->survey, sizeof row->survey))
        return STORE_ERROR;
    for (int i = 0; i < 6; i++)
        if (!text_column(s, 4 + i, &texts[i]))
            return STORE_UNAVAILABLE;
    if (texts[4] == NULL)
        return STORE_ERROR;
    row->channel = (char *)texts[0];
    row->customer = (char *)texts[1];
    row->agent = (char *)texts[2];
    row->interaction = (char *)texts[3];
    row->answers = (char *)texts[4];
    row->properties = (char *)texts[5];
    if (sqlite3_column_type(s, 10) != SQLITE_NULL) {
        stored.token.hash = sqlite3_column_blob(s, 10);
        stored.token.hash_len = (size_t)sqlite3_column_bytes(s, 10);
        stored.token.expires_at = sqlite3_column_int64(s, 11);
        if (stored.token.hash == NULL) /* a NULL blob that is not SQL NULL: out of memory */
            return STORE_UNAVAILABLE;
    }
    return dump->sink->response(&stored, dump->arg);
}

/* Columns: SQLITE_INVITATION_COLUMNS. Its strings are copies, freed once the sink has it. */
static enum store_status read_invitation(struct dump *dump, sqlite3_stmt *s)
{
    struct store_invitation_row row = {0};
    enum store_status status = sqlite_read_invitation(s, &row);

    if (status != STORE_OK)
        return status;
    status = dump->sink->invitation ? dump->sink->invitation(&row, dump->arg) : STORE_OK;
    store_invitation_row_free(&row);
    return status;
}

/* Columns: SQLITE_WEBHOOK_COLUMNS; copies, freed once the sink has it. */
static enum store_status read_webhook(struct dump *dump, sqlite3_stmt *s)
{
    struct store_webhook_row row = {0};
    enum store_status status;

    if (dump->sink->webhook == NULL)
        return STORE_OK;
    if ((status = sqlite_read_webhook(s, &row)) != STORE_OK)
        return status;
    status = dump->sink->webhook(&row, dump->arg);
    store_webhook_row_free(&row);
    return status;
}

/* Columns: SQLITE_DELIVERY_COLUMNS, in seq order; skipped with the webhooks. */
static enum store_status read_delivery(struct dump *dump, sqlite3_stmt *s)
{
    struct store_delivery_row row = {0};
    enum store_status status;

    if (dump->sink->webhook == NULL || dump->sink->delivery == NULL)
        return STORE_OK;
    if ((status = sqlite_read_delivery(s, &row)) != STORE_OK)
        return status;
    status = dump->sink->delivery(&row, dump->arg);
    store_delivery_row_free(&row);
    return status;
}

/* Columns: SQLITE_EVENT_COLUMNS, in seq order; skipped with the webhooks. */
static enum store_status read_event(struct dump *dump, sqlite3_stmt *s)
{
    struct store_event_row row = {0};
    enum store_status status;

    if (dump->sink->webhook == NULL || dump->sink->event == NULL)
        return STORE_OK;
    if ((status = sqlite_read_event(s, &row)) != STORE_OK)
        return status;
    status = dump->sink->event(&row, dump->arg);
    store_event_row_free(&row);
    return status;
}

/* Columns: survey, id, title, query, created_at, updated_at. */
static enum store_status read_topic(struct dump *dump, sqlite3_stmt *s)
{
    struct store_topic_row row = {.created_at = sqlite3_column_int64(s, 4), .updated_at = sqlite3_column_int64(s, 5)};
    const char *title, *query;

    if (dump->sink->topic == NULL)
        return STORE_OK;
    if (!copy_column(s, 0, row.survey, sizeof row.survey) || !copy_column(s, 1, row.id, sizeof row.id) ||
        !text_column(s, 2, &title) || !text_column(s, 3, &query) || title == NULL || query == NULL)
        return STORE_ERROR;
    row.title = (char *)title;
    row.query = (char *)query;
    return dump->sink->topic(&row, dump->arg);
}

/* Columns: scope, survey, key, body, status, reply, response_id, customer, created_at. */
static enum store_status read_record(struct dump *dump, sqlite3_stmt *s)
{
    struct store_idempotency_record record = {
        .status = sqlite3_column_int(s, 4),
        .created_at = sqlite3_column_int64(s, 8),
    };
    const char *texts[6];
    static const int columns[6] = {0, 1, 2, 5, 6, 7};

    for (int i = 0; i < 6; i++)
        if (!text_column(s, columns[i], &texts[i]))
            return STORE_UNAVAILABLE;
    if (texts[0] == NULL || texts[2] == NULL || texts[3] == NULL)
        return STORE_ERROR;
    record.request = (struct store_idempotency){
        .scope = texts[0],
        .survey = texts[1],
        .key = texts[2],
        .body = sqlite3_column_blob(s, 3),
        .body_len = (size_t)sqlite3_column_bytes(s, 3),
    };
    if (record.request.body == NULL)
        record.request.body = ""; /* an empty body: SQLite gives no pointer for zero bytes */
    record.reply = texts[3];
    record.response_id = texts[4];
    record.customer = texts[5];
    return dump->sink->record(&record, dump->arg);
}

/* Runs one query of the dump and hands every row to read_row, stopping at the first status that
 * is not STORE_OK (the sink's or the database's; err is set for the database's). */
static enum store_status each_row(struct dump *dump, const char *sql, dump_row_fn read_row, char *err,
                                  size_t err_size)
{
    sqlite3_stmt *s = NULL;
    enum store_status status = STORE_OK;
    int rc = sqlite3_prepare_v2(dump->db, sql, -1, &s, NULL);

    if (rc == SQLITE_OK) {
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            status = read_row(dump, s);
            if (status != STORE_OK)
                break;
        }
    }
    if (status == STORE_OK && rc != SQLITE_DONE) {
        status = sqlite_status_of(rc);
        snprintf(err, err_size, "reading the SQLite store: %s", sqlite3_errmsg(dump->db));
    }
    sqlite3_finalize(s);
    return status;
}

/* Insertion order (seq) for responses, invitations and webhook deliveries (after the subscriptions
 * they belong to), so the copy's own order of insertion is the same; topics after the responses
 * their back-fill tags; the event log in seq order,
 * with its seqs, after the subscriptions whose cursors point into it; the idempotency records last,
 * after the responses they name. */
static const char *const dump_sql[] = {
    "SELECT (SELECT count(*) FROM surveys), (SELECT count(*) FROM responses), (SELECT count(*) FROM idempotency),"
    " (SELECT count(*) FROM invitations), (SELECT count(*) FROM webhooks), (SELECT count(*) FROM webhook_deliveries),"
    " (SELECT count(*) FROM webhook_events), (SELECT count(*) FROM topics)",
    "SELECT id, definition, created_at, updated_at FROM surveys ORDER BY id",
    "SELECT id, survey, submitted_at, received_at, channel, customer, agent, interaction, answers, properties,"
    " edit_token_hash, edit_token_expires_at FROM responses ORDER BY seq",
    "SELECT survey, id, title, query, created_at, updated_at FROM topics ORDER BY survey, id",
    "SELECT " SQLITE_INVITATION_COLUMNS " FROM invitations ORDER BY seq",
    "SELECT " SQLITE_WEBHOOK_COLUMNS " FROM webhooks ORDER BY id",
    "SELECT " SQLITE_DELIVERY_COLUMNS " FROM webhook_deliveries ORDER BY seq",
    "SELECT " SQLITE_EVENT_COLUMNS " FROM webhook_events ORDER BY seq",
    "SELECT scope, survey, key, body, status, reply, response_id, customer, created_at FROM idempotency"
    " ORDER BY created_at, scope, key",
};

enum store_status sqlite_dump(struct store *store, const struct store_dump_sink *sink, void *arg, char *err,
                              size_t err_size)
{
    static const dump_row_fn readers[] = {read_counts,  read_survey,   read_response, read_topic,
                                           read_invitation, read_webhook, read_delivery, read_event,
                                           read_record};
    struct store_conn *conn = store_reader(store);
    struct dump dump = {.db = conn ? ((struct sqlite_conn *)conn)->db : NULL, .sink = sink, .arg = arg};
    enum store_status status = STORE_OK;

    err[0] = '\0';
    if (dump.db == NULL) {
        snprintf(err, err_size, "cannot open a connection to the SQLite store");
        return STORE_UNAVAILABLE;
    }
    /* A deferred BEGIN: the snapshot is taken by the first SELECT and held until the COMMIT. */
    if (sqlite3_exec(dump.db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, err_size, "reading the SQLite store: %s", sqlite3_errmsg(dump.db));
        return STORE_UNAVAILABLE;
    }
    for (size_t i = 0; i < sizeof readers / sizeof readers[0] && status == STORE_OK; i++)
        status = each_row(&dump, dump_sql[i], readers[i], err, err_size);
    /* Only read: COMMIT and ROLLBACK are the same here, but one must end the snapshot either way. */
    sqlite3_exec(dump.db, "COMMIT", NULL, NULL, NULL);
    return status;
}
