/* Streaming exports of responses: RFC 4180 CSV and NDJSON, in constant memory. */
#ifndef SURVEYD_EXPORT_H
#define SURVEYD_EXPORT_H

#include <stddef.h>

#include "http.h"
#include "query.h"
#include "store.h"
#include "survey.h"

/* Limits on exports, owned by main: how many may stream at once, and how long one may wait for a
 * client that reads nothing. Thread-safe. */
struct export_gate;

struct export_gate *export_gate_new(unsigned max_active, unsigned stall_timeout_s);
void export_gate_free(struct export_gate *gate);
unsigned export_gate_active(const struct export_gate *gate);
unsigned long long export_gate_refused(const struct export_gate *gate);

/* Replies 200 with every response matching query, streamed from a connection of its own. Takes
 * ownership of *survey (zeroed). Replies 503 (with Retry-After) when as many exports as the app's
 * gate allows are already streaming, or when no connection can be opened. At most about
 * EXPORT_STRETCH_BYTES (plus one row) are formatted ahead of what the client has taken. */
void export_reply(struct http_request *req, struct store *store, struct survey *survey,
                  const struct store_list_query *query, enum query_format format);

/* A growable text buffer, for the formatters below. */
struct export_buf {
    char *data;
    size_t len, cap;
    bool failed;                /* memory ran out: something was left out, so none of it may go out */
};

void export_buf_free(struct export_buf *buf);

/* One RFC 4180 field, always quoted. Wherever a spreadsheet could start a cell — the field's start,
 * or after ',', ';', '|', tab, CR or LF, which a reader with another list separator may split on —
 * a formula character (=, +, -, @, tab or CR, possibly behind quotes) gets an apostrophe before it. */
void export_csv_field(struct export_buf *buf, const char *text);

void export_csv_header(struct export_buf *buf, const struct survey *survey);
void export_csv_row(struct export_buf *buf, const struct survey *survey, const struct store_response_row *row);

#endif
