/*
 * libFuzzer harness: HTML form bodies (server/http/http_form.h http_form_parse), the hosted survey
 * page's POST, and the automated-visit rules (server/domain/visit.h) on the same bytes.
 *
 * 1. Whatever the body, parsing returns a status and frees cleanly; on HTTP_FORM_OK every name and
 *    value is valid UTF-8 without NUL (strlen is the whole string), there are at most
 *    HTTP_FORM_MAX_FIELDS, and http_form_get finds each name's first value.
 * 2. The fields, encoded again (every byte but [A-Za-z0-9*-._] as %XX, space as '+'), parse back to
 *    exactly the same fields in the same order.
 * 3. visit_classify never crashes on the input as a User-Agent or as an ?a= value.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_form.h"
#include "visit.h"

static size_t encode(const char *s, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("*-._", *p)) {
            out[o++] = (char)*p;
        } else if (*p == ' ') {
            out[o++] = '+';
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_form form, again = {0};
    enum http_form_status status = http_form_parse((const char *)data, size, &form);

    if (status == HTTP_FORM_OK) {
        if (form.count > HTTP_FORM_MAX_FIELDS)
            abort();
        size_t cap = 1;
        for (int i = 0; i < form.count; i++) {
            if (http_form_get(&form, form.fields[i].name) == NULL)
                abort();
            cap += 3 * (strlen(form.fields[i].name) + strlen(form.fields[i].value)) + 2;
        }
        char *body = malloc(cap);
        size_t len = 0;
        for (int i = 0; body && i < form.count; i++) {
            if (i)
                body[len++] = '&';
            len += encode(form.fields[i].name, body + len);
            body[len++] = '=';
            len += encode(form.fields[i].value, body + len);
        }
        /* Every field encodes as at least "=", never an empty pair: all of them come back. */
        if (body && http_form_parse(body, len, &again) == HTTP_FORM_OK) {
            if (again.count != form.count)
                abort();
            for (int i = 0; i < form.count; i++) {
                if (strcmp(again.fields[i].name, form.fields[i].name) != 0 ||
                    strcmp(again.fields[i].value, form.fields[i].value) != 0)
                    abort();
            }
        } else if (body) {
            abort();
        }
        http_form_free(&again);
        free(body);
    }
    http_form_free(&form);

    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct visit_request visit = {.method = "GET", .user_agent = text, .value = text, .now_ms = 5000,
                                  .last_visit_at = 1000, .last_visit_value = "9"};
    if ((unsigned)visit_classify(&visit) >= VISIT_KINDS)
        abort();
    free(text);
    return 0;
}
