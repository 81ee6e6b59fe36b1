/* An email as bytes: RFC 5322 headers and a MIME multipart/alternative body (plain text, then
 * HTML), every line CRLF-terminated and at most 78 characters, so that any SMTP server carries
 * it unchanged. Pure: no I/O. */
#ifndef SURVEYD_MAIL_H
#define SURVEYD_MAIL_H

#include <stddef.h>
#include <stdint.h>

struct mail {
    const char *from, *to;      /* plain addresses (validate_email_address) */
    const char *subject;        /* UTF-8, any length; sent as RFC 2047 encoded words */
    const char *text;           /* UTF-8 */
    const char *html;           /* UTF-8: an HTML fragment, wrapped into a document here */
    const char *message_id;     /* the part before '@': unique per message */
    int64_t date_ms;
};

/* The whole message, malloc'd, its length in *len; NULL when out of memory. */
char *mail_compose(const struct mail *mail, size_t *len);

#endif
