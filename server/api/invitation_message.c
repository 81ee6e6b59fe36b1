#include "invitation_message.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oom.h"

/* Growing text; a failed allocation marks it failed and every later append is dropped. */
struct text {
    char *data;
    size_t len, cap;
    bool failed;
};

static void append(struct text *t, const char *s, size_t n)
{
    if (t->failed)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 2048;
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

static void put(struct text *t, const char *s)
{
    append(t, s, strlen(s));
}

/* Text and attribute values alike: & < > " ' escaped. */
static void put_escaped(struct text *t, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': put(t, "&amp;"); break;
        case '<': put(t, "&lt;"); break;
        case '>': put(t, "&gt;"); break;
        case '"': put(t, "&quot;"); break;
        case '\'': put(t, "&#39;"); break;
        default: append(t, s, 1); break;
        }
    }
}

/* A query value: unreserved characters as they are, every other byte %XX (UTF-8 included). */
static void put_query_value(struct text *t, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~", c)) {
            append(t, s, 1);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            append(t, esc, 3);
        }
    }
}

static char *finish(struct text *t)
{
    if (t->failed || t->data == NULL) {
        free(t->data);
        oom_note();
        return NULL;
    }
    return t->data;
}

const char *invitation_message_prompt(const struct question *q)
{
    if (q->text)
        return q->text;
    switch (q->type) {
    case QUESTION_NPS: return "How likely are you to recommend us to a friend or colleague?";
    case QUESTION_CSAT: return "How satisfied are you?";
    case QUESTION_CES: return "How easy was it to get what you needed?";
    case QUESTION_TEXT: return "Anything else you would like to tell us?";
    default: return "Your answer";
    }
}

/* The words at the ends of a numeric scale (the widget's). */
static void scale_ends(const struct question *q, const char **low, const char **high)
{
    *low = *high = NULL;
    if (q->type == QUESTION_NPS) {
        *low = "Not likely";
        *high = "Very likely";
    } else if (q->type == QUESTION_CSAT) {
        *low = "Very dissatisfied";
        *high = "Very satisfied";
    } else if (q->type == QUESTION_CES) {
        *low = "Very difficult";
        *high = "Very easy";
    }
}

#define FONT "font-family:Arial,Helvetica,sans-serif;"
#define BUTTON_STYLE                                                                                                \
    "display:inline-block;min-width:28px;padding:10px 8px;border:1px solid #6b7280;border-radius:6px;"            \
    "background:#ffffff;color:#1f2937;text-decoration:none;text-align:center;font-size:16px;font-weight:bold;" FONT

/* One answer link: its visible text is the value (or the option), its accessible name adds what
 * the value means where the scale says it. */
static void put_link(struct text *t, const char *url, const char *value, const char *shown, const char *label)
{
    put(t, "<td style=\"padding:3px\"><a href=\"");
    put_escaped(t, url);
    put(t, "?a=");
    put_query_value(t, value);
    put(t, "\"");
    if (label) {
        put(t, " aria-label=\"");
        put_escaped(t, shown);
        put(t, " (");
        put_escaped(t, label);
        put(t, ")\" title=\"");
        put_escaped(t, label);
        put(t, "\"");
    }
    put(t, " style=\"" BUTTON_STYLE "\">");
    put_escaped(t, shown);
    put(t, "</a></td>");
}

static void put_scale(struct text *t, const struct question *q, const char *url)
{
    const char *low, *high;
    char value[16];
    int from = q->type == QUESTION_NPS ? 0 : 1, to = q->type == QUESTION_NPS ? 10 : q->scale;

    scale_ends(q, &low, &high);
    for (int v = from; v <= to; v++) {
        snprintf(value, sizeof value, "%d", v);
        put_link(t, url, value, value, v == from ? low : v == to ? high : NULL);
    }
}

static void put_choices(struct text *t, const struct question *q, const char *url)
{
    switch (q->type) {
    case QUESTION_NPS:
    case QUESTION_CSAT:
    case QUESTION_CES:
        put_scale(t, q, url);
        break;
    case QUESTION_YES_NO:
        put_link(t, url, "yes", "Yes", NULL);
        put_link(t, url, "no", "No", NULL);
        break;
    case QUESTION_CHOICE:
        for (int i = 0; i < q->option_count; i++)
            put_link(t, url, q->options[i], q->options[i], NULL);
        break;
    case QUESTION_TEXT:
        break;
    }
}

/* "0 = Not likely, 10 = Very likely" under a scale: visible to all, hidden from screen readers that
 * already heard it in the links' names. */
static void put_legend(struct text *t, const struct question *q)
{
    const char *low, *high;
    char line[160];
    scale_ends(q, &low, &high);
    if (low == NULL)
        return;
    snprintf(line, sizeof line, "%d = %s, %d = %s", q->type == QUESTION_NPS ? 0 : 1, low,
             q->type == QUESTION_NPS ? 10 : q->scale, high);
    put(t, "<p aria-hidden=\"true\" style=\"margin:6px 0 0;font-size:13px;color:#4b5563;" FONT "\">");
    put_escaped(t, line);
    put(t, "</p>");
}

char *invitation_message_html(const struct survey *survey, const char *url)
{
    struct text t = {0};
    const struct question *q = &survey->questions[0];

    put(&t, "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" "
            "style=\"border-collapse:collapse;background:#ffffff\"><tr><td style=\"padding:20px;color:#1f2937;" FONT "\">");
    put(&t, "<h1 style=\"margin:0 0 12px;font-size:20px;line-height:1.3;color:#1f2937;" FONT "\">");
    put_escaped(&t, survey->title ? survey->title : "");
    put(&t, "</h1><p id=\"surveyd-question\" style=\"margin:0 0 14px;font-size:16px;line-height:1.45;" FONT "\">");
    put_escaped(&t, invitation_message_prompt(q));
    put(&t, "</p>");
    if (q->type == QUESTION_TEXT) {
        put(&t, "<a href=\"");
        put_escaped(&t, url);
        put(&t, "\" style=\"display:inline-block;padding:12px 20px;border-radius:6px;background:#2563eb;color:#ffffff;"
                "text-decoration:none;font-size:16px;font-weight:bold;" FONT "\">Answer</a>");
    } else {
        put(&t, "<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" "
                "border=\"0\" style=\"border-collapse:separate\"><tr>");
        put_choices(&t, q, url);
        put(&t, "</tr></table>");
        put_legend(&t, q);
    }
    put(&t, "<p style=\"margin:18px 0 0;font-size:13px;color:#4b5563;" FONT "\">Or open the survey: <a href=\"");
    put_escaped(&t, url);
    put(&t, "\" style=\"color:#2563eb\">");
    put_escaped(&t, url);
    put(&t, "</a></p></td></tr></table>");
    return finish(&t);
}

char *invitation_message_text(const struct survey *survey, const char *url)
{
    struct text t = {0};
    put(&t, survey->title ? survey->title : "");
    put(&t, "\n");
    put(&t, invitation_message_prompt(&survey->questions[0]));
    put(&t, "\n");
    put(&t, url);
    put(&t, "\n");
    return finish(&t);
}
