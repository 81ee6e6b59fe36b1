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
#include "oom.h"
#include "timefmt.h"

void export_buf_free(struct export_buf *buf)
{
    free(buf->data);
    memset(buf, 0, sizeof *buf);
}

/* Room for len more bytes and the terminating NUL; false (nothing written) when memory runs out. */
static bool reserve(struct export_buf *buf, size_t len)
{
    if (buf->len + len + 1 <= buf->cap)
        return true;
    size_t cap = buf->cap ? buf->cap : 4096;
    while (cap < buf->len + len + 1)
        cap *= 2;
    char *grown = realloc(buf->data, cap);
    if (grown == NULL)
        return false;
    buf->data = grown;
    buf->cap = cap;
    return true;
}

static void append(struct export_buf *buf, const char *text, size_t len)
{
    if (!reserve(buf, len)) {
        buf->failed = true; /* never a row with a field left out: the caller ends the stream */
        return;
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

/* Byte classes, so that a field is escaped in one pass with a table look-up per byte (strchr over
 * CELL_BREAKS for every byte was the export's largest cost: 14% of its CPU at 1 M rows). */
enum {
    CLASS_BREAK = 1,     /* in CELL_BREAKS */
    CLASS_FORMULA = 2,   /* starts a formula: =, +, -, @, tab, CR (OWASP's list) */
    CLASS_JSON_ESC = 4,  /* escaped inside a JSON string of a cell: , ; | */
    CLASS_JSON_LEAD = 8, /* escaped as a JSON string's first character: = + - @ */
};

static const unsigned char byte_class[256] = {
    [','] = CLASS_BREAK | CLASS_JSON_ESC, [';'] = CLASS_BREAK | CLASS_JSON_ESC, ['|'] = CLASS_BREAK | CLASS_JSON_ESC,
    ['\t'] = CLASS_BREAK | CLASS_FORMULA, ['\r'] = CLASS_BREAK | CLASS_FORMULA, ['\n'] = CLASS_BREAK,
    ['='] = CLASS_FORMULA | CLASS_JSON_LEAD, ['+'] = CLASS_FORMULA | CLASS_JSON_LEAD,
    ['-'] = CLASS_FORMULA | CLASS_JSON_LEAD, ['@'] = CLASS_FORMULA | CLASS_JSON_LEAD,
};

/* Whether a spreadsheet would take a cell starting at p for a formula (OWASP's list: =, +, -, @,
 * tab, CR), looking through quotes that a lenient parser may take for the start of a quoted cell. */
static bool formula_start(const char *p)
{
    while (*p == '"')
        p++;
    return (byte_class[(unsigned char)*p] & CLASS_FORMULA) != 0;
}

static void csv_field_len(struct export_buf *buf, const char *text, size_t len)
{
    /* Every field is quoted (OWASP's advice), so a separator inside a value never splits it for an
     * RFC 4180 reader whatever its list separator. And wherever a cell could start — at the field's
     * start, or after a character some reader may split on — a formula character gets a leading
     * apostrophe, so spreadsheets show the cell as text instead of evaluating it: even a reader that
     * splits `x;=cmd|...` on ';' sees `'=cmd|...`. Documented in the README. At most three bytes
     * per byte (an apostrophe and a doubled quote) and the two quotes. */
    if (!reserve(buf, 3 * len + 2))
        return;
    char *o = buf->data + buf->len;
    bool cell_start = true;
    *o++ = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (cell_start && formula_start(text + i))
            *o++ = '\'';
        *o++ = (char)c;
        if (c == '"')
            *o++ = '"';
        cell_start = (byte_class[c] & CLASS_BREAK) != 0;
    }
    *o++ = '"';
    *o = '\0';
    buf->len = (size_t)(o - buf->data);
}

void export_csv_field(struct export_buf *buf, const char *text)
{
    csv_field_len(buf, text, strlen(text));
}

/* JSON text for a cell (properties, an "other" write-in), rewritten so that no cell break appears
 * inside a string and no string starts with a formula character: those become \u escapes, which
 * decode to the same JSON value. The cell stays valid JSON, and export_csv_field finds no place to
 * put an apostrophe in it (a structural ',' is followed by '"' and a harmless character). */
static void json_csv_field(struct export_buf *buf, struct export_buf *safe, const char *json)
{
    static const char hex[] = "0123456789abcdef";
    size_t len = strlen(json);
    bool in_string = false, escaped = false;

    safe->len = 0;
    if (!reserve(safe, 6 * len))
        return;
    char *o = safe->data;
    for (const char *p = json; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (in_string && !escaped && c != '\\' && c != '"' &&
            ((byte_class[c] & CLASS_JSON_ESC) || (p[-1] == '"' && (byte_class[c] & CLASS_JSON_LEAD)))) {
            memcpy(o, "\\u00", 4);
            o[4] = hex[(c & 0x7f) >> 4];
            o[5] = hex[c & 0xf];
            o += 6;
            continue;
        }
        if (escaped)
            escaped = false;
        else if (in_string && c == '\\')
            escaped = true;
        else if (c == '"')
            in_string = !in_string;
        *o++ = (char)c;
    }
    *o = '\0';
    safe->len = (size_t)(o - safe->data);
    csv_field_len(buf, safe->data, safe->len);
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

/* An integer's decimal digits, without snprintf's format parsing (a cell per answer). */
static size_t format_integer(long long v, char out[24])
{
    char digits[24];
    size_t n = 0, len = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

    do {
        digits[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    if (v < 0)
        out[len++] = '-';
    while (n > 0)
        out[len++] = digits[--n];
    out[len] = '\0';
    return len;
}

/* An answer as a cell: numbers and booleans as JSON writes them, choices and text as the text, an
 * "other" write-in as its JSON object so it cannot be mistaken for an option. */
static void answer_cell(struct export_buf *buf, struct export_buf *scratch, const cJSON *value)
{
    char number[24];
    if (value == NULL || cJSON_IsNull(value)) {
        csv_field_len(buf, "", 0);
    } else if (cJSON_IsString(value)) {
        export_csv_field(buf, value->valuestring);
    } else if (cJSON_IsNumber(value)) {
        size_t len = format_integer((long long)value->valuedouble, number);
        csv_field_len(buf, number, len);
    } else if (cJSON_IsBool(value)) {
        export_csv_field(buf, cJSON_IsTrue(value) ? "true" : "false");
    } else {
        char *text = cJSON_PrintUnformatted(value);
        json_csv_field(buf, scratch, text ? text : "");
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
    struct export_buf scratch = {0}; /* for JSON cells, reused within the row */
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
        answer_cell(buf, &scratch, cJSON_GetObjectItemCaseSensitive(answers, survey->questions[i].id));
    }
    csv_separator(buf);
    json_csv_field(buf, &scratch, row->properties ? row->properties : "");
    append(buf, "\r\n", 2);
    cJSON_Delete(answers);
    export_buf_free(&scratch);
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
    for (int i = 0; i < ROWS_PER_STRETCH && ex->pending.len < EXPORT_STRETCH_BYTES && !ex->failed; i++) {
        oom_clear(); /* a row read or formatted short notes it (oom.h): see produce_row */
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

/* Out of memory while formatting a row (a field cJSON quietly left out, a buffer that could not
 * grow) ends the stream with an error: the client sees a cut-off body, never a wrong row. */
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
        } else {
            ex->pending.failed = true;
        }
        free(text);
    }
    if (oom_failed() || ex->pending.failed)
        ex->failed = true;
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
        if (ex->failed)
            return -1; /* what this stretch formatted may miss a field: none of it goes out */
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
        if (ex->pending.failed) {
            release(ex);
            api_reply_store_error(req, STORE_ERROR);
            return;
        }
        http_add_header(req, "Content-Disposition", "attachment; filename=\"responses.csv\"");
    }
    if (gate)
        http_set_idle_timeout(req, gate->stall_timeout_s);
    http_reply_stream(req, 200, format == FORMAT_CSV ? "text/csv; charset=utf-8; header=present" : "application/x-ndjson",
                      fill, ex, release);
}
