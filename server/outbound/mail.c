#include "mail.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ids.h"
#include "text_buffer.h"

static const char base64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 of n bytes (n a multiple of 3 except at the end) onto b, no line breaks. */
static void put_base64(struct text_buffer *b, const unsigned char *s, size_t n)
{
    char quad[4];
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) | (i + 2 < n ? s[i + 2] : 0);
        quad[0] = base64_alphabet[v >> 18 & 63];
        quad[1] = base64_alphabet[v >> 12 & 63];
        quad[2] = i + 1 < n ? base64_alphabet[v >> 6 & 63] : '=';
        quad[3] = i + 2 < n ? base64_alphabet[v & 63] : '=';
        text_buffer_append(b, quad, 4);
    }
}

/* A MIME part's body: base64 in lines of 76 characters (57 bytes each), so any UTF-8 and any line
 * length in the text travel unchanged. */
static void put_base64_lines(struct text_buffer *b, const char *text)
{
    size_t n = strlen(text);
    for (size_t i = 0; i < n; i += 57) {
        put_base64(b, (const unsigned char *)text + i, n - i < 57 ? n - i : 57);
        text_buffer_put(b, "\r\n");
    }
}

/* RFC 2047: the subject as UTF-8 "B" encoded words of at most 42 bytes each (69 characters once
 * encoded), never splitting a character, on folded lines. */
static void put_subject(struct text_buffer *b, const char *subject)
{
    size_t n = strlen(subject), i = 0;
    text_buffer_put(b, "Subject:");
    if (n == 0)
        text_buffer_put(b, " ");
    while (i < n) {
        size_t take = n - i < 42 ? n - i : 42;
        while (i + take < n && ((unsigned char)subject[i + take] & 0xC0) == 0x80)
            take--; /* the next byte continues a character: end this word before it */
        text_buffer_put(b, i ? "\r\n =?UTF-8?B?" : " =?UTF-8?B?");
        put_base64(b, (const unsigned char *)subject + i, take);
        text_buffer_put(b, "?=");
        i += take;
    }
    text_buffer_put(b, "\r\n");
}

static void put_date(struct text_buffer *b, int64_t ms)
{
    char line[64];
    time_t seconds = (time_t)(ms / 1000);
    struct tm tm;
    static const char days[][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    gmtime_r(&seconds, &tm);
    /* Written by hand: strftime's %a and %b follow the locale. */
    snprintf(line, sizeof line, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    text_buffer_put(b, line);
}

static void put_header(struct text_buffer *b, const char *name, const char *value)
{
    text_buffer_put(b, name);
    text_buffer_put(b, ": ");
    text_buffer_put(b, value);
    text_buffer_put(b, "\r\n");
}

static void put_part(struct text_buffer *b, const char *boundary, const char *type, const char *content)
{
    text_buffer_put(b, "--");
    text_buffer_put(b, boundary);
    text_buffer_put(b, "\r\nContent-Type: ");
    text_buffer_put(b, type);
    text_buffer_put(b, "; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    put_base64_lines(b, content);
}

/* Email clients show a fragment best inside a plain document of its own. */
static char *html_document(const char *fragment)
{
    static const char head[] = "<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
                               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                               "</head><body style=\"margin:0;padding:0;background:#ffffff\">";
    static const char tail[] = "</body></html>";
    size_t n = strlen(fragment);
    char *doc = malloc(sizeof head + n + sizeof tail);
    if (doc == NULL)
        return NULL;
    memcpy(doc, head, sizeof head - 1);
    memcpy(doc + sizeof head - 1, fragment, n);
    memcpy(doc + sizeof head - 1 + n, tail, sizeof tail);
    return doc;
}

char *mail_compose(const struct mail *mail, size_t *len)
{
    struct text_buffer b = {0};
    char boundary[48], random[17], id[256];
    const char *domain = strchr(mail->from, '@');
    char *html = html_document(mail->html);

    if (html == NULL || !ids_random_hex(random, 8)) {
        free(html);
        return NULL;
    }
    snprintf(boundary, sizeof boundary, "surveyd-%s", random);
    snprintf(id, sizeof id, "<%.60s.%s@%.120s>", mail->message_id, random, domain ? domain + 1 : "surveyd.invalid");
    put_date(&b, mail->date_ms);
    put_header(&b, "From", mail->from);
    put_header(&b, "To", mail->to);
    put_subject(&b, mail->subject);
    put_header(&b, "Message-ID", id);
    put_header(&b, "MIME-Version", "1.0");
    text_buffer_put(&b, "Content-Type: multipart/alternative; boundary=\"");
    text_buffer_put(&b, boundary);
    text_buffer_put(&b, "\"\r\n\r\n");
    put_part(&b, boundary, "text/plain", mail->text);
    put_part(&b, boundary, "text/html", html);
    text_buffer_put(&b, "--");
    text_buffer_put(&b, boundary);
    text_buffer_put(&b, "--\r\n");
    free(html);
    return text_buffer_finish(&b, len);
}
