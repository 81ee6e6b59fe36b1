#include "text_buffer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void text_buffer_append(struct text_buffer *t, const char *s, size_t n)
{
    if (t->failed)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *grown = realloc(t->data, cap);
        if (grown == NULL) {
            t->failed = true;
            return;
        }
        t->data = grown;
        t->cap = cap;
    }
    memcpy(t->data + t->len, s, n);
    t->len += n;
    t->data[t->len] = '\0';
}

void text_buffer_put(struct text_buffer *t, const char *s)
{
    text_buffer_append(t, s, strlen(s));
}

void text_buffer_printf(struct text_buffer *t, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->failed = true;
        return;
    }
    if ((size_t)n < sizeof line) {
        text_buffer_append(t, line, (size_t)n);
        return;
    }
    /* Longer than the line: formatted again into memory of its size, never cut short. */
    char *long_line = malloc((size_t)n + 1);
    if (long_line == NULL) {
        t->failed = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(long_line, (size_t)n + 1, fmt, ap);
    va_end(ap);
    text_buffer_append(t, long_line, (size_t)n);
    free(long_line);
}

void text_buffer_put_html(struct text_buffer *t, const char *s)
{
    for (const char *p = s; *p;) {
        size_t run = strcspn(p, "&<>\"'");
        text_buffer_append(t, p, run);
        p += run;
        switch (*p) {
        case '&': text_buffer_put(t, "&amp;"); break;
        case '<': text_buffer_put(t, "&lt;"); break;
        case '>': text_buffer_put(t, "&gt;"); break;
        case '"': text_buffer_put(t, "&quot;"); break;
        case '\'': text_buffer_put(t, "&#39;"); break;
        default: return;
        }
        p++;
    }
}

char *text_buffer_finish(struct text_buffer *t, size_t *len)
{
    if (t->failed || t->data == NULL) {
        free(t->data);
        *t = (struct text_buffer){0};
        return NULL;
    }
    if (len)
        *len = t->len;
    return t->data;
}
