#include "page_html.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text_buffer.h"

/* ---- the frame every page shares ---- */

static void head(struct text_buffer *d, const char *title, const char *css_version, const char *js_version)
{
    text_buffer_put(d, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
           "<meta name=\"robots\" content=\"noindex, nofollow\">\n<title>");
    text_buffer_put_html(d, title);
    text_buffer_put(d, "</title>\n<link rel=\"stylesheet\" href=\"page.css?v=");
    text_buffer_put_html(d, css_version);
    text_buffer_put(d, "\">\n");
    if (js_version) {
        text_buffer_put(d, "<script src=\"page.js?v=");
        text_buffer_put_html(d, js_version);
        text_buffer_put(d, "\" defer></script>\n");
    }
    text_buffer_put(d, "</head>\n<body>\n<main class=\"surveyd-widget sd-page\">\n");
}

static void foot(struct text_buffer *d)
{
    text_buffer_put(d, "</main>\n</body>\n</html>\n");
}

/* ---- questions ---- */

static const char *default_prompt(const struct question *q)
{
    switch (q->type) {
    case QUESTION_NPS: return "How likely are you to recommend us to a friend or colleague?";
    case QUESTION_CSAT: return "How satisfied are you?";
    case QUESTION_CES: return "How easy was it to get what you needed?";
    case QUESTION_TEXT: return "Anything else you would like to tell us?";
    default: return NULL;
    }
}

static void put_prompt(struct text_buffer *d, const struct question *q)
{
    const char *prompt = q->text ? q->text : default_prompt(q);
    if (prompt) {
        text_buffer_put_html(d, prompt);
        return;
    }
    /* As the widget does: "would_return" reads "Would return". */
    char id[SURVEY_ID_MAX + 1];
    snprintf(id, sizeof id, "%s", q->id);
    for (char *p = id; *p; p++) {
        if (*p == '_' || *p == '-')
            *p = ' ';
    }
    if (id[0] >= 'a' && id[0] <= 'z')
        id[0] = (char)(id[0] - 'a' + 'A');
    text_buffer_put_html(d, id);
}

/* One choice of a radio group: value as submitted, label as shown (emoji: shown, label read). */
struct choice {
    char value[16];
    const char *value_text;     /* an option's text; NULL: value */
    const char *label;
    const char *emoji;
};

static int scale_choices(const struct question *q, struct choice *out, char labels[][8])
{
    int from = q->type == QUESTION_NPS ? 0 : 1, to = q->type == QUESTION_NPS ? 10 : q->scale, n = 0;
    if (q->type == QUESTION_CSAT && q->scale == 2) {
        out[0] = (struct choice){"1", NULL, "Bad", "\xf0\x9f\x91\x8e"};
        out[1] = (struct choice){"2", NULL, "Good", "\xf0\x9f\x91\x8d"};
        return 2;
    }
    for (int v = from; v <= to && n < 11; v++, n++) {
        snprintf(out[n].value, sizeof out[n].value, "%d", v);
        snprintf(labels[n], sizeof labels[n], "%d", v);
        out[n].value_text = NULL;
        out[n].label = labels[n];
        out[n].emoji = NULL;
    }
    return n;
}

static const char *const scale_ends[][2] = {
    [QUESTION_NPS] = {"Not likely", "Very likely"},
    [QUESTION_CSAT] = {"Very dissatisfied", "Very satisfied"},
    [QUESTION_CES] = {"Very difficult", "Very easy"},
};

static bool has_ends(const struct question *q)
{
    return (q->type == QUESTION_NPS || q->type == QUESTION_CSAT || q->type == QUESTION_CES) &&
           !(q->type == QUESTION_CSAT && q->scale == 2);
}

static void put_radio(struct text_buffer *d, const struct question *q, int k, const struct choice *c, const char *chosen)
{
    const char *value = c->value_text ? c->value_text : c->value;
    text_buffer_printf(d, "<label class=\"sd-opt\" for=\"q-%s-%d\"><input type=\"radio\" name=\"", q->id, k);
    text_buffer_put_html(d, q->id);
    text_buffer_printf(d, "\" id=\"q-%s-%d\" value=\"", q->id, k);
    text_buffer_put_html(d, value);
    text_buffer_put(d, "\"");
    if (chosen && strcmp(chosen, value) == 0)
        text_buffer_put(d, " checked");
    text_buffer_put(d, ">");
    if (c->emoji) {
        text_buffer_put(d, "<span><span aria-hidden=\"true\">");
        text_buffer_put(d, c->emoji);
        text_buffer_put(d, "</span><span class=\"sd-sr\">");
        text_buffer_put_html(d, c->label);
        text_buffer_put(d, "</span></span>");
    } else {
        text_buffer_put(d, "<span>");
        text_buffer_put_html(d, c->label);
        text_buffer_put(d, "</span>");
    }
    text_buffer_put(d, "</label>");
}

static void put_radios(struct text_buffer *d, const struct question *q, const struct page_question_state *st)
{
    struct choice scale[11];
    char labels[11][8];
    int n = 0;
    const char *cls = "sd-opts";

    if (q->type == QUESTION_YES_NO) {
        scale[0] = (struct choice){"true", NULL, "Yes", NULL};
        scale[1] = (struct choice){"false", NULL, "No", NULL};
        n = 2;
    } else if (q->type != QUESTION_CHOICE) {
        n = scale_choices(q, scale, labels);
        cls = q->type == QUESTION_NPS ? "sd-opts sd-grid sd-nps"
              : n == 2 && q->type == QUESTION_CSAT ? "sd-opts sd-emoji"
                                                    : "sd-opts sd-grid";
    }
    if (q->type != QUESTION_CHOICE && q->type != QUESTION_YES_NO && strcmp(cls, "sd-opts sd-grid") == 0)
        text_buffer_printf(d, "<div class=\"sd-wrap sd-cols-%d\"><div class=\"%s\">", n, cls);
    else
        text_buffer_printf(d, "<div class=\"sd-wrap\"><div class=\"%s\">", cls);
    for (int k = 0; k < n; k++)
        put_radio(d, q, k, &scale[k], st->value);
    for (int k = 0; q->type == QUESTION_CHOICE && k < q->option_count; k++) {
        struct choice c = {"", q->options[k], q->options[k], NULL};
        put_radio(d, q, k, &c, st->value);
    }
    if (q->type == QUESTION_CHOICE && q->allow_other) {
        /* The write-in's radio sends "" and the text goes in "<id>.other" (hosted_page.c). */
        struct choice c = {"", NULL, "Other", NULL};
        put_radio(d, q, q->option_count, &c, st->other && st->other[0] ? "" : NULL);
    }
    text_buffer_put(d, "</div>");
    if (has_ends(q))
        text_buffer_printf(d, "<div class=\"sd-ends\" id=\"q-%s-ends\"><span>%s</span><span>%s</span></div>",
             q->id, scale_ends[q->type][0], scale_ends[q->type][1]);
    text_buffer_put(d, "</div>");
    if (q->type == QUESTION_CHOICE && q->allow_other) {
        text_buffer_printf(d, "<input type=\"text\" name=\"%s.other\" id=\"q-%s-other\" maxlength=\"2000\" "
                "aria-label=\"Other, please specify\" value=\"", q->id, q->id);
        text_buffer_put_html(d, st->other ? st->other : "");
        text_buffer_put(d, "\">");
    }
}

static void put_question(struct text_buffer *d, const struct question *q, const struct page_question_state *st)
{
    bool text = q->type == QUESTION_TEXT;

    text_buffer_printf(d, "<fieldset id=\"q-%s\" data-question=\"%s\"", q->id, q->id);
    if (!text) {
        text_buffer_printf(d, " role=\"radiogroup\" aria-labelledby=\"q-%s-legend\"", q->id);
        if (q->required)
            text_buffer_put(d, " aria-required=\"true\"");
    }
    if (st->error)
        text_buffer_put(d, " aria-invalid=\"true\"");
    /* As the widget: a scale is described by its end labels ("Not likely", "Very likely"), and
     * by its error when there is one. */
    char described[2 * SURVEY_ID_MAX + 32] = "";
    if (!text && has_ends(q))
        snprintf(described, sizeof described, "q-%s-ends", q->id);
    if (!text && st->error) {
        size_t used = strlen(described);
        snprintf(described + used, sizeof described - used, "%sq-%s-err", used ? " " : "", q->id);
    }
    if (described[0])
        text_buffer_printf(d, " aria-describedby=\"%s\"", described);
    text_buffer_printf(d, ">\n<legend id=\"q-%s-legend\">", q->id);
    put_prompt(d, q);
    if (q->required)
        text_buffer_put(d, "<span class=\"sd-req\" aria-hidden=\"true\">*</span>");
    text_buffer_put(d, "</legend>\n");
    if (text) {
        text_buffer_printf(d, "<textarea name=\"%s\" id=\"q-%s-text\" rows=\"3\" maxlength=\"%d\" aria-labelledby=\"q-%s-legend\"",
             q->id, q->id, q->max_length, q->id);
        if (q->required)
            text_buffer_put(d, " aria-required=\"true\"");
        if (st->error)
            text_buffer_printf(d, " aria-invalid=\"true\" aria-describedby=\"q-%s-err\"", q->id);
        text_buffer_put(d, ">");
        text_buffer_put_html(d, st->value ? st->value : "");
        text_buffer_put(d, "</textarea>");
    } else {
        put_radios(d, q, st);
    }
    if (st->error) {
        text_buffer_printf(d, "\n<p class=\"sd-qerr\" id=\"q-%s-err\">", q->id);
        text_buffer_put_html(d, st->error);
        text_buffer_put(d, "</p>");
    }
    text_buffer_put(d, "\n</fieldset>\n");
}

static void put_error_summary(struct text_buffer *d, const struct page_form *form)
{
    bool any = form->error != NULL;
    for (int i = 0; i < form->survey->question_count; i++)
        any |= form->questions[i].error != NULL;
    if (!any)
        return;
    text_buffer_put(d, "<div class=\"sd-summary\" id=\"sd-summary\" role=\"alert\" tabindex=\"-1\">\n"
           "<p class=\"sd-err\">Please check your answers:</p>\n<ul>\n");
    if (form->error) {
        text_buffer_put(d, "<li>");
        text_buffer_put_html(d, form->error);
        text_buffer_put(d, "</li>\n");
    }
    for (int i = 0; i < form->survey->question_count; i++) {
        const struct question *q = &form->survey->questions[i];
        if (form->questions[i].error == NULL)
            continue;
        text_buffer_printf(d, "<li><a href=\"#q-%s\">", q->id);
        put_prompt(d, q);
        text_buffer_put(d, "</a>: ");
        text_buffer_put_html(d, form->questions[i].error);
        text_buffer_put(d, "</li>\n");
    }
    text_buffer_put(d, "</ul>\n</div>\n");
}

char *page_html_form(const struct page_form *form, size_t *len)
{
    struct text_buffer d = {0};
    const char *title = form->survey->title ? form->survey->title : "Your feedback";

    head(&d, title, form->css_version, form->js_version);
    text_buffer_put(&d, "<form method=\"post\" action=\"");
    text_buffer_put_html(&d, form->action);
    text_buffer_put(&d, "\" accept-charset=\"utf-8\" aria-labelledby=\"sd-title\" novalidate");
    if (form->capture_question) {
        text_buffer_put(&d, " data-capture=\"");
        text_buffer_put_html(&d, form->capture_question);
        text_buffer_put(&d, "\"");
    }
    text_buffer_put(&d, ">\n<h1 id=\"sd-title\">");
    text_buffer_put_html(&d, title);
    text_buffer_put(&d, "</h1>\n");
    if (form->notice) {
        text_buffer_put(&d, "<p class=\"sd-notice\" id=\"sd-notice\" role=\"status\" tabindex=\"-1\">");
        text_buffer_put_html(&d, form->notice);
        text_buffer_put(&d, "</p>\n");
    }
    put_error_summary(&d, form);
    text_buffer_put(&d, "<input type=\"hidden\" name=\"form_key\" value=\"");
    text_buffer_put_html(&d, form->form_key);
    text_buffer_put(&d, "\">\n");
    for (int i = 0; i < form->survey->question_count; i++) {
        if (!form->questions[i].hidden)
            put_question(&d, &form->survey->questions[i], &form->questions[i]);
    }
    text_buffer_put(&d, "<button type=\"submit\">Send</button>\n</form>\n");
    foot(&d);
    return text_buffer_finish(&d, len);
}

/* ---- the short pages ---- */

struct message_text {
    const char *heading;
    const char *body;
};

static struct message_text message_text(enum page_message which)
{
    switch (which) {
    case PAGE_THANKS:
        return (struct message_text){"Thank you!", "Your answers have been recorded. You can close this page."};
    case PAGE_ANSWERED:
        return (struct message_text){"Already answered",
                                     "This survey has already been answered. Thank you for your feedback!"};
    case PAGE_NOT_FOUND:
        return (struct message_text){"Survey not found",
                                     "Sorry, we could not find this survey. Please check that the link is complete."};
    case PAGE_EXPIRED:
        return (struct message_text){"This survey has closed",
                                     "Sorry, this link has expired and can no longer be answered. Thank you all the same."};
    case PAGE_FORBIDDEN:
        return (struct message_text){"Your answer could not be accepted",
                                     "Sorry, this form could not be verified. Please open the link from your message again "
                                     "and answer on that page."};
    case PAGE_RATE_LIMITED:
        return (struct message_text){"Please wait a moment",
                                     "Too many answers came from your network just now. Please try again in a minute."};
    case PAGE_UNSUPPORTED:
        return (struct message_text){"Your answer could not be read",
                                     "Sorry, this page accepts answers from its own form only."};
    case PAGE_UNAVAILABLE:
        return (struct message_text){"Please try again",
                                     "Sorry, we could not save or load your answers just now. Please try again in a "
                                     "moment."};
    case PAGE_ERROR:
    default:
        return (struct message_text){"Something went wrong", "Sorry, something went wrong on our side."};
    }
}

char *page_html_message(enum page_message which, const char *title, const char *css_version, size_t *len)
{
    struct text_buffer d = {0};
    struct message_text text = message_text(which);

    head(&d, title ? title : text.heading, css_version, NULL);
    text_buffer_put(&d, "<h1 id=\"sd-title\">");
    text_buffer_put_html(&d, text.heading);
    text_buffer_put(&d, "</h1>\n<p class=\"sd-done\">");
    text_buffer_put_html(&d, text.body);
    text_buffer_put(&d, "</p>\n");
    foot(&d);
    return text_buffer_finish(&d, len);
}

const char *page_html_choice_value(const struct question *q, const char *value, char *buf, size_t size)
{
    char *end;
    if (value == NULL || size == 0)
        return NULL;
    switch (q->type) {
    case QUESTION_NPS:
    case QUESTION_CSAT:
    case QUESTION_CES: {
        if (q->type == QUESTION_CSAT && q->scale == 2 && (strcmp(value, "bad") == 0 || strcmp(value, "good") == 0))
            value = value[0] == 'b' ? "1" : "2";
        if (*value < '0' || *value > '9' || strlen(value) > 2)
            return NULL;
        long v = strtol(value, &end, 10);
        int from = q->type == QUESTION_NPS ? 0 : 1, to = q->type == QUESTION_NPS ? 10 : q->scale;
        if (*end != '\0' || v < from || v > to)
            return NULL;
        snprintf(buf, size, "%ld", v);
        return buf;
    }
    case QUESTION_YES_NO:
        if (strcmp(value, "true") == 0 || strcmp(value, "yes") == 0 || strcmp(value, "1") == 0)
            return "true";
        if (strcmp(value, "false") == 0 || strcmp(value, "no") == 0 || strcmp(value, "0") == 0)
            return "false";
        return NULL;
    case QUESTION_CHOICE:
        for (int i = 0; i < q->option_count; i++) {
            if (strcmp(q->options[i], value) == 0)
                return q->options[i];
        }
        return NULL;
    default:
        return NULL;
    }
}
