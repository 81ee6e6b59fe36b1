#include "http_form.h"

#include <stdlib.h>
#include <string.h>

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Strict UTF-8: no overlongs, no surrogates, nothing above U+10FFFF, and no NUL (C strings). */
static bool utf8_valid(const unsigned char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (c == 0 || n == 0 || i + n > len || (n == 2 && c < 0xc2) || (n == 4 && c > 0xf4))
            return false;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
        }
        if (n == 3 && ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] >= 0xa0)))
            return false;
        if (n == 4 && ((c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] >= 0x90)))
            return false;
        i += n;
    }
    return true;
}

/* Decodes s[0..len) into a new string; NULL with *bad set when it is not UTF-8. */
static char *decode(const char *s, size_t len, bool *bad)
{
    char *out = malloc(len + 1);
    size_t o = 0;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%' && i + 2 < len && (hi = hex_value(s[i + 1])) >= 0 && (lo = hex_value(s[i + 2])) >= 0) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    if (!utf8_valid((const unsigned char *)out, o)) {
        free(out);
        *bad = true;
        return NULL;
    }
    return out;
}

enum http_form_status http_form_parse(const char *body, size_t len, struct http_form *form)
{
    memset(form, 0, sizeof *form);
    for (size_t i = 0; i < len;) {
        const char *pair = body + i;
        const char *amp = memchr(pair, '&', len - i);
        size_t pair_len = amp ? (size_t)(amp - pair) : len - i;
        i += pair_len + 1;
        if (pair_len == 0)
            continue;
        if (form->count == HTTP_FORM_MAX_FIELDS)
            return HTTP_FORM_TOO_MANY;
        const char *eq = memchr(pair, '=', pair_len);
        size_t name_len = eq ? (size_t)(eq - pair) : pair_len;
        bool bad = false;
        struct http_form_field *f = &form->fields[form->count];
        f->name = decode(pair, name_len, &bad);
        f->value = f->name ? decode(eq ? eq + 1 : "", eq ? pair_len - name_len - 1 : 0, &bad) : NULL;
        if (f->name == NULL || f->value == NULL) {
            free(f->name);
            f->name = NULL;
            return bad ? HTTP_FORM_BAD_UTF8 : HTTP_FORM_NO_MEMORY;
        }
        form->count++;
    }
    return HTTP_FORM_OK;
}

bool http_form_utf8_valid(const char *s, size_t len)
{
    return utf8_valid((const unsigned char *)s, len);
}

void http_form_free(struct http_form *form)
{
    for (int i = 0; i < form->count; i++) {
        free(form->fields[i].name);
        free(form->fields[i].value);
    }
    form->count = 0;
}

const char *http_form_get(const struct http_form *form, const char *name)
{
    for (int i = 0; i < form->count; i++) {
        if (strcmp(form->fields[i].name, name) == 0)
            return form->fields[i].value;
    }
    return NULL;
}

int http_form_count(const struct http_form *form, const char *name)
{
    int n = 0;
    for (int i = 0; i < form->count; i++)
        n += strcmp(form->fields[i].name, name) == 0;
    return n;
}
