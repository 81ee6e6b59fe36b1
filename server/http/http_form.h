/* application/x-www-form-urlencoded bodies (HTML forms), decoded as the WHATWG URL standard says:
 * '&' separates pairs, '+' is a space, %XX a byte. Pure. */
#ifndef SURVEYD_HTTP_FORM_H
#define SURVEYD_HTTP_FORM_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_FORM_MAX_FIELDS 128

struct http_form_field {
    char *name;
    char *value;
};

struct http_form {
    struct http_form_field fields[HTTP_FORM_MAX_FIELDS];
    int count;
};

enum http_form_status {
    HTTP_FORM_OK,
    HTTP_FORM_TOO_MANY,     /* more than HTTP_FORM_MAX_FIELDS pairs */
    HTTP_FORM_BAD_UTF8,     /* a name or value that is not UTF-8 once decoded, or holds a NUL */
    HTTP_FORM_NO_MEMORY,
};

/* Decodes body (len bytes) into form (zeroed first; free with http_form_free on every status). A
 * malformed %-escape is kept as it is, as browsers do. */
enum http_form_status http_form_parse(const char *body, size_t len, struct http_form *form);

void http_form_free(struct http_form *form);

/* Whether s[0..len) is UTF-8 without NUL, overlongs or surrogates (what every decoded field is). */
bool http_form_utf8_valid(const char *s, size_t len);

/* The first value of name, or NULL. */
const char *http_form_get(const struct http_form *form, const char *name);

/* How many fields carry name. */
int http_form_count(const struct http_form *form, const char *name);

#endif
