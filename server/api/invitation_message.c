#include "invitation_message.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oom.h"
#include "text_buffer.h"

/* The message, or NULL (out of memory, noted for the reply). */
static char *finished(struct text_buffer *t)
{
    char *text = text_buffer_finish(t, NULL);
    if (text == NULL)
        oom_note();
    return text;
}

/* A query value: unreserved characters as they are, every other byte %XX (UTF-8 included). */
static void put_query_value(struct text_buffer *t, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~", c)) {
            text_buffer_append(t, s, 1);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            text_buffer_append(t, esc, 3);
        }
    }
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
static void put_link(struct text_buffer *t, const char *url, const char *value, const char *shown, const char *label)
{
    text_buffer_put(t, "<td style=\"padding:3px\"><a href=\"");
    text_buffer_put_html(t, url);
    text_buffer_put(t, "?a=");
    put_query_value(t, value);
    text_buffer_put(t, "\"");
    if (label) {
        text_buffer_put(t, " aria-label=\"");
        text_buffer_put_html(t, shown);
        text_buffer_put(t, " (");
        text_buffer_put_html(t, label);
        text_buffer_put(t, ")\" title=\"");
        text_buffer_put_html(t, label);
        text_buffer_put(t, "\"");
    }
    text_buffer_put(t, " style=\"" BUTTON_STYLE "\">");
    text_buffer_put_html(t, shown);
    text_buffer_put(t, "</a></td>");
}

static void put_scale(struct text_buffer *t, const struct question *q, const char *url)
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

static void put_choices(struct text_buffer *t, const struct question *q, const char *url)
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
static void put_legend(struct text_buffer *t, const struct question *q)
{
    const char *low, *high;
    char line[160];
    scale_ends(q, &low, &high);
    if (low == NULL)
        return;
    snprintf(line, sizeof line, "%d = %s, %d = %s", q->type == QUESTION_NPS ? 0 : 1, low,
             q->type == QUESTION_NPS ? 10 : q->scale, high);
    text_buffer_put(t, "<p aria-hidden=\"true\" style=\"margin:6px 0 0;font-size:13px;color:#4b5563;" FONT "\">");
    text_buffer_put_html(t, line);
    text_buffer_put(t, "</p>");
}

char *invitation_message_html(const struct survey *survey, const char *url)
{
    struct text_buffer t = {0};
    const struct question *q = &survey->questions[0];

    text_buffer_put(&t, "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" "
            "style=\"border-collapse:collapse;background:#ffffff\"><tr><td style=\"padding:20px;color:#1f2937;" FONT "\">");
    text_buffer_put(&t, "<h1 style=\"margin:0 0 12px;font-size:20px;line-height:1.3;color:#1f2937;" FONT "\">");
    text_buffer_put_html(&t, survey->title ? survey->title : "");
    text_buffer_put(&t, "</h1><p id=\"surveyd-question\" style=\"margin:0 0 14px;font-size:16px;line-height:1.45;" FONT "\">");
    text_buffer_put_html(&t, invitation_message_prompt(q));
    text_buffer_put(&t, "</p>");
    if (q->type == QUESTION_TEXT) {
        text_buffer_put(&t, "<a href=\"");
        text_buffer_put_html(&t, url);
        text_buffer_put(&t, "\" style=\"display:inline-block;padding:12px 20px;border-radius:6px;background:#2563eb;color:#ffffff;"
                "text-decoration:none;font-size:16px;font-weight:bold;" FONT "\">Answer</a>");
    } else {
        text_buffer_put(&t, "<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" "
                "border=\"0\" style=\"border-collapse:separate\"><tr>");
        put_choices(&t, q, url);
        text_buffer_put(&t, "</tr></table>");
        put_legend(&t, q);
    }
    text_buffer_put(&t, "<p style=\"margin:18px 0 0;font-size:13px;color:#4b5563;" FONT "\">Or open the survey: <a href=\"");
    text_buffer_put_html(&t, url);
    text_buffer_put(&t, "\" style=\"color:#2563eb\">");
    text_buffer_put_html(&t, url);
    text_buffer_put(&t, "</a></p></td></tr></table>");
    return finished(&t);
}

char *invitation_message_text(const struct survey *survey, const char *url)
{
    struct text_buffer t = {0};
    text_buffer_put(&t, survey->title ? survey->title : "");
    text_buffer_put(&t, "\n");
    text_buffer_put(&t, invitation_message_prompt(&survey->questions[0]));
    text_buffer_put(&t, "\n");
    text_buffer_put(&t, url);
    text_buffer_put(&t, "\n");
    return finished(&t);
}
