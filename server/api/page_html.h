/* The hosted survey page's HTML (GET /s/{token}): the whole survey as a server-rendered form that
 * works without JavaScript, and the short pages around it (thank you, already answered, not found,
 * expired...). Pure: strings in, a malloc'd document out; hosted_page.c decides which to send.
 *
 * The markup follows the widget's (server/web/widget.js): the same classes, so page.css gives the
 * page the widget's look; one fieldset with a legend per question, real radio inputs with labels. */
#ifndef SURVEYD_PAGE_HTML_H
#define SURVEYD_PAGE_HTML_H

#include <stdbool.h>
#include <stddef.h>

#include "survey.h"

/* What the form shows of each question. */
struct page_question_state {
    const char *value;      /* the value to show chosen or filled in (a radio's value, a text), or NULL */
    const char *other;      /* a choice's write-in text, or NULL */
    const char *error;      /* the message to show beside it, or NULL */
    bool hidden;            /* already answered: not asked again */
};

struct page_form {
    const struct survey *survey;
    const char *action;         /* the form's target relative to the page: the token */
    const char *form_key;       /* the anti-forgery field's value */
    const char *css_version;    /* ?v= of page.css */
    const char *js_version;     /* ?v= of page.js */
    const char *notice;         /* a line above the questions ("Thank you..."), or NULL */
    const char *error;          /* a message about the whole form (no answer given...), or NULL */
    /* The question whose value came from the link (?a=): page.js records it once a person
     * interacts with the page. NULL: nothing to record without a submit. */
    const char *capture_question;
    struct page_question_state questions[SURVEY_MAX_QUESTIONS];
};

/* The form's document (*len bytes), or NULL when out of memory. */
char *page_html_form(const struct page_form *form, size_t *len);

enum page_message {
    PAGE_THANKS,            /* every question answered */
    PAGE_ANSWERED,          /* answered more than 24 hours ago, or the interaction answered elsewhere */
    PAGE_NOT_FOUND,         /* no such link */
    PAGE_EXPIRED,           /* the link's time is over */
    PAGE_FORBIDDEN,         /* a cross-site submission, or a form without its key */
    PAGE_RATE_LIMITED,
    PAGE_UNSUPPORTED,       /* a POST body that is not a form */
    PAGE_UNAVAILABLE,       /* the database did not answer */
    PAGE_ERROR,             /* anything else */
};

/* A short page saying `which`; title is the survey's title or NULL. NULL when out of memory. */
char *page_html_message(enum page_message which, const char *title, const char *css_version, size_t *len);

/* The radio value of `value` for question q as the form writes it ("9", "true", an option's text),
 * accepting the spellings links and the JSON API use ("yes", "good"): NULL when q has no such
 * choice. Used to preselect ?a=. */
const char *page_html_choice_value(const struct question *q, const char *value, char *buf, size_t size);

#endif
