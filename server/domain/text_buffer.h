/* Growing text for documents built piece by piece (the hosted page, an invitation's email and SMS
 * text, a MIME message). Once an allocation fails every later append is dropped and
 * text_buffer_finish gives NULL, so half a document is never sent. */
#ifndef SURVEYD_TEXT_BUFFER_H
#define SURVEYD_TEXT_BUFFER_H

#include <stdbool.h>
#include <stddef.h>

struct text_buffer {
    char *data;             /* always NUL-terminated once anything was appended */
    size_t len, cap;
    bool failed;
};

void text_buffer_append(struct text_buffer *t, const char *s, size_t n);
void text_buffer_put(struct text_buffer *t, const char *s);
void text_buffer_printf(struct text_buffer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* HTML text and attribute values alike: & < > " ' escaped. */
void text_buffer_put_html(struct text_buffer *t, const char *s);

/* The text (the caller frees it) and, when len is not NULL, its length; NULL when an allocation
 * failed or nothing was appended (the buffer is freed then). */
char *text_buffer_finish(struct text_buffer *t, size_t *len);

#endif
