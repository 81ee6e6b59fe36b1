#include "export.h"

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

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

/* Characters some spreadsheet may split a line on: the list separators of every locale we know of
 * (',', ';', tab, '|') and line breaks. A program that takes a different separator than ours, or
 * loses track of our quotes, starts a new cell after any of them. */
#define CELL_BREAKS ",;|\t\r\n"

/* Whether a spreadsheet would take a cell starting at p for a formula (OWASP's list: =, +, -, @,
 * tab, CR), looking through quotes that a lenient parser may take for the start of a quoted cell. */
static bool formula_start(const char *p)
{
    p += strspn(p, "\"");
    return *p != '\0' && strchr("=+-@\t\r", *p) != NULL;
}

void export_csv_field(struct export_buf *buf, const char *text)
{
    /* Every field is quoted (OWASP's advice), so a separator inside a value never splits it for an
     * RFC 4180 reader whatever its list separator. And wherever a cell could start — at the field's
     * start, or after a character some reader may split on — a formula character gets a leading
     * apostrophe, so spreadsheets show the cell as text instead of evaluating it: even a reader that
     * splits `x;=cmd|...` on ';' sees `'=cmd|...`. Documented in the README. */
    append(buf, "\"", 1);
    for (const char *p = text;; p++) {
        bool cell_start = p == text || strchr(CELL_BREAKS, p[-1]) != NULL;
        if (cell_start && formula_start(p))
            append(buf, "'", 1);
        if (*p == '\0')
            break;
        if (*p == '"')
            append(buf, "\"\"", 2);
        else
            append(buf, p, 1);
    }
    append(buf, "\"", 1);
}

/* JSON text for a cell (properties, an "other" write-in), rewritten so that no cell break appears
 * inside a string and no string starts with a formula character: those become \u escapes, which
 * decode to the same JSON value. The cell stays valid JSON, and export_csv_field finds no place to
 * put an apostrophe in it (a structural ',' is followed by '"' and a harmless character). */
static void json_csv_field(struct export_buf *buf, const char *json)
{
    struct export_buf safe = {0};
    bool in_string = false, escaped = false;

    for (const char *p = json; *p; p++) {
        char c = *p;
        if (in_string && !escaped && c != '\\' && c != '"' &&
            (strchr(",;|", c) || (p[-1] == '"' && strchr("=+-@", c)))) {
            char esc[16];
            snprintf(esc, sizeof esc, "\\u%04x", (unsigned)(unsigned char)c & 0x7fu);
            append_str(&safe, esc);
            continue;
        }
        if (escaped)
            escaped = false;
        else if (in_string && c == '\\')
            escaped = true;
        else if (c == '"')
            in_string = !in_string;
        append(&safe, p, 1);
    }
    export_csv_field(buf, safe.data ? safe.data : "");
    export_buf_free(&safe);
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
        export_csv_field(buf, fixed[i]);
    }
    for (int i = 0; i < survey->question_count; i++) {
        csv_separator(buf);
        export_csv_field(buf, survey->questions[i].id);
    }
    csv_separator(buf);
    export_csv_field(buf, "properties");
    append_str(buf, "\r\n");
}

/* An answer as a cell: numbers and booleans as JSON writes them, choices and text as the text, an
 * "other" write-in as its JSON object so it cannot be mistaken for an option. */
static void answer_cell(struct export_buf *buf, const cJSON *value)
{
    char number[32];
    if (value == NULL || cJSON_IsNull(value)) {
        export_csv_field(buf, "");
    } else if (cJSON_IsString(value)) {
        export_csv_field(buf, value->valuestring);
    } else if (cJSON_IsNumber(value)) {
        snprintf(number, sizeof number, "%lld", (long long)value->valuedouble);
        export_csv_field(buf, number);
    } else if (cJSON_IsBool(value)) {
        export_csv_field(buf, cJSON_IsTrue(value) ? "true" : "false");
    } else {
        char *text = cJSON_PrintUnformatted(value);
        json_csv_field(buf, text ? text : "");
        free(text);
    }
}

static void optional_field(struct export_buf *buf, const char *text)
{
    csv_separator(buf);
    export_csv_field(buf, text ? text : "");
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
    csv_separator(buf);
    json_csv_field(buf, row->properties ? row->properties : "");
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
    struct export_gate *gate;   /* the place it holds; NULL when ungated */
};

/* Rows formatted per stretch: each stretch is one short read transaction, ended before the HTTP
 * layer waits on the client (see store_iter_pause). A stretch also ends once it holds
 * EXPORT_STRETCH_BYTES, so big rows mean fewer of them: what waits for a client that reads nothing
 * is bounded in bytes (256 rows of 57 KB used to be 16 MB per export), not in rows. */
#define ROWS_PER_STRETCH 256
#define EXPORT_STRETCH_BYTES (256 * 1024)
/* A buffer grown past this by one huge row is given back once it has been sent. */
#define EXPORT_KEEP_BYTES (2 * EXPORT_STRETCH_BYTES)

/* ---- the gate: concurrent exports and stalled clients ---- */

struct export_gate {
    unsigned max_active;
    unsigned stall_timeout_s;
    atomic_uint active;
    atomic_ullong refused;
};

struct export_gate *export_gate_new(unsigned max_active, unsigned stall_timeout_s)
{
    struct export_gate *gate = calloc(1, sizeof *gate);
    if (gate == NULL)
        return NULL;
    gate->max_active = max_active;
    gate->stall_timeout_s = stall_timeout_s;
    atomic_init(&gate->active, 0);
    atomic_init(&gate->refused, 0);
    return gate;
}

void export_gate_free(struct export_gate *gate)
{
    free(gate);
}

unsigned export_gate_active(const struct export_gate *gate)
{
    return gate ? atomic_load(&gate->active) : 0;
}

unsigned long long export_gate_refused(const struct export_gate *gate)
{
    return gate ? atomic_load(&gate->refused) : 0;
}

/* Takes a place, or false when all are taken. Each streaming export holds a database connection
 * and up to a stretch of formatted rows; the cap keeps their sum bounded whatever clients do. */
static bool gate_enter(struct export_gate *gate)
{
    unsigned active = atomic_load(&gate->active);
    do {
        if (active >= gate->max_active) {
            atomic_fetch_add(&gate->refused, 1);
            return false;
        }
    } while (!atomic_compare_exchange_weak(&gate->active, &active, active + 1));
    return true;
}

static void gate_leave(struct export_gate *gate)
{
    atomic_fetch_sub(&gate->active, 1);
}

static void produce_row(struct export_stream *ex, struct store_response_row *row);

/* Formats the next stretch of rows into pending. */
static void produce(struct export_stream *ex)
{
    struct store_response_row row;
    for (int i = 0; i < ROWS_PER_STRETCH && ex->pending.len < EXPORT_STRETCH_BYTES; i++) {
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
        if (ex->pending.cap > EXPORT_KEEP_BYTES)
            export_buf_free(&ex->pending);
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
    if (ex->gate)
        gate_leave(ex->gate);
    free(ex);
#ifdef __GLIBC__
    /* An export's buffers and its connection's page cache come and go in large blocks; glibc keeps
     * freed memory in its arenas (one per thread) unless asked to give it back. */
    malloc_trim(0);
#endif
}

void export_reply(struct http_request *req, struct store *store, struct survey *survey,
                  const struct store_list_query *query, enum query_format format)
{
    struct export_gate *gate = api_app(req)->exports;
    struct export_stream *ex = calloc(1, sizeof *ex);
    char err[256];

    if (ex == NULL) {
        survey_free(survey);
        api_reply_store_error(req, STORE_ERROR);
        return;
    }
    if (gate && !gate_enter(gate)) {
        free(ex);
        survey_free(survey);
        http_add_header(req, "Retry-After", "5");
        http_reply_problem(req, 503, "unavailable", "too many exports are running; retry later", NULL);
        return;
    }
    ex->gate = gate;
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
    if (gate)
        http_set_idle_timeout(req, gate->stall_timeout_s);
    http_reply_stream(req, 200, format == FORMAT_CSV ? "text/csv; charset=utf-8; header=present" : "application/x-ndjson",
                      fill, ex, release);
}
