#include "export.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "timefmt.h"

void export_buf_free(struct export_buf *buf)
{
    free(buf->data);
    memset(buf, 0, sizeof *buf);
}

static void append(struct export_buf *buf, const char *text, size_t len)
{
    if (buf->len + len + 1 > buf->cap) {
        size_t cap = buf->cap ? buf->cap : 4096;
        while (cap < buf->len + len + 1)
            cap *= 2;
        char *grown = realloc(buf->data, cap);
        if (grown == NULL)
            return; /* the row is cut short; the caller's stream continues with what fit */
        buf->data = grown;
        buf->cap = cap;
    }
    memcpy(buf->data + buf->len, text, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
}

static void append_str(struct export_buf *buf, const char *text)
{
    append(buf, text, strlen(text));
}

void export_csv_field(struct export_buf *buf, const char *text)
{
    bool formula = strchr("=+-@\t\r", text[0]) != NULL && text[0] != '\0';
    bool quote = formula || strpbrk(text, ",\"\r\n") != NULL;

    if (quote)
        append(buf, "\"", 1);
    /* OWASP's advice for CSV injection: a leading apostrophe makes spreadsheets show the cell as
     * text instead of evaluating it. Documented in the README. */
    if (formula)
        append(buf, "'", 1);
    for (const char *p = text; *p; p++) {
        if (*p == '"')
            append(buf, "\"\"", 2);
        else
            append(buf, p, 1);
    }
    if (quote)
        append(buf, "\"", 1);
}

static void csv_separator(struct export_buf *buf)
{
    append(buf, ",", 1);
}

void export_csv_header(struct export_buf *buf, const struct survey *survey)
{
    static const char *const fixed[] = {"id", "survey", "submitted_at", "received_at", "channel",
                                        "customer", "agent", "interaction"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        if (i)
            csv_separator(buf);
        append_str(buf, fixed[i]);
    }
    for (int i = 0; i < survey->question_count; i++) {
        csv_separator(buf);
        export_csv_field(buf, survey->questions[i].id);
    }
    append_str(buf, ",properties\r\n");
}

/* An answer as a cell: numbers and booleans as JSON writes them, choices and text as the text, an
 * "other" write-in as its JSON object so it cannot be mistaken for an option. */
static void answer_cell(struct export_buf *buf, const cJSON *value)
{
    char number[32];
    if (value == NULL || cJSON_IsNull(value))
        return;
    if (cJSON_IsString(value)) {
        export_csv_field(buf, value->valuestring);
    } else if (cJSON_IsNumber(value)) {
        snprintf(number, sizeof number, "%lld", (long long)value->valuedouble);
        append_str(buf, number);
    } else if (cJSON_IsBool(value)) {
        append_str(buf, cJSON_IsTrue(value) ? "true" : "false");
    } else {
        char *text = cJSON_PrintUnformatted(value);
        if (text)
            export_csv_field(buf, text);
        free(text);
    }
}

static void optional_field(struct export_buf *buf, const char *text)
{
    csv_separator(buf);
    if (text)
        export_csv_field(buf, text);
}

void export_csv_row(struct export_buf *buf, const struct survey *survey, const struct store_response_row *row)
{
    char submitted[TIMEFMT_BUFSIZE], received[TIMEFMT_BUFSIZE];
    cJSON *answers = cJSON_Parse(row->answers);

    timefmt_format_ms(row->submitted_at, submitted);
    timefmt_format_ms(row->received_at, received);
    export_csv_field(buf, row->id);
    optional_field(buf, row->survey);
    optional_field(buf, submitted);
    optional_field(buf, received);
    optional_field(buf, row->channel);
    optional_field(buf, row->customer);
    optional_field(buf, row->agent);
    optional_field(buf, row->interaction);
    for (int i = 0; i < survey->question_count; i++) {
        csv_separator(buf);
        answer_cell(buf, cJSON_GetObjectItemCaseSensitive(answers, survey->questions[i].id));
    }
    optional_field(buf, row->properties);
    append_str(buf, "\r\n");
    cJSON_Delete(answers);
}

/* ---- streaming ---- */

struct export_stream {
    struct store_iter *iter;
    struct survey survey;
    enum query_format format;
    struct export_buf pending;  /* formatted, not yet handed to the HTTP layer */
    size_t sent;                /* of pending */
    bool finished;
    bool failed;
};

/* Rows formatted per stretch: each stretch is one short read transaction, ended before the HTTP
 * layer waits on the client (see store_iter_pause). */
#define ROWS_PER_STRETCH 256

static void produce_row(struct export_stream *ex, struct store_response_row *row);

/* Formats the next stretch of rows into pending. */
static void produce(struct export_stream *ex)
{
    struct store_response_row row;
    for (int i = 0; i < ROWS_PER_STRETCH; i++) {
        enum store_status status = store_iter_next(ex->iter, &row);
        if (status == STORE_NOT_FOUND) {
            ex->finished = true;
            break;
        }
        if (status != STORE_OK) {
            ex->failed = true;
            break;
        }
        produce_row(ex, &row);
    }
    store_iter_pause(ex->iter);
}

static void produce_row(struct export_stream *ex, struct store_response_row *row)
{
    if (ex->format == FORMAT_CSV) {
        export_csv_row(&ex->pending, &ex->survey, row);
    } else {
        cJSON *json = api_render_response(row);
        char *text = cJSON_PrintUnformatted(json);
        cJSON_Delete(json);
        if (text) {
            append_str(&ex->pending, text);
            append(&ex->pending, "\n", 1);
        }
        free(text);
    }
    store_response_row_free(row);
}

static long fill(void *arg, char *out, size_t max)
{
    struct export_stream *ex = arg;

    while (ex->sent == ex->pending.len) {
        ex->pending.len = ex->sent = 0;
        if (ex->failed)
            return -1;
        if (ex->finished)
            return 0;
        produce(ex);
    }
    size_t n = ex->pending.len - ex->sent;
    if (n > max)
        n = max;
    memcpy(out, ex->pending.data + ex->sent, n);
    ex->sent += n;
    return (long)n;
}

static void release(void *arg)
{
    struct export_stream *ex = arg;
    store_iter_close(ex->iter);
    survey_free(&ex->survey);
    export_buf_free(&ex->pending);
    free(ex);
}

void export_reply(struct http_request *req, struct store *store, struct survey *survey,
                  const struct store_list_query *query, enum query_format format)
{
    struct export_stream *ex = calloc(1, sizeof *ex);
    char err[256];

    if (ex == NULL) {
        survey_free(survey);
        api_reply_store_error(req, STORE_ERROR);
        return;
    }
    /* Opened before the survey moves: the query may point into it. */
    ex->iter = store_iter_open(store, query, err, sizeof err);
    ex->survey = *survey;
    memset(survey, 0, sizeof *survey);
    ex->format = format;
    if (ex->iter == NULL) {
        release(ex);
        api_reply_store_error(req, STORE_UNAVAILABLE);
        return;
    }
    if (format == FORMAT_CSV) {
        export_csv_header(&ex->pending, &ex->survey);
        http_add_header(req, "Content-Disposition", "attachment; filename=\"responses.csv\"");
    }
    http_reply_stream(req, 200, format == FORMAT_CSV ? "text/csv; charset=utf-8; header=present" : "application/x-ndjson",
                      fill, ex, release);
}
