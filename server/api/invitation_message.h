/* What an invitation says: the email's HTML fragment and the plain-text/SMS version, both built
 * from the survey's first question and the invitation's link. Pure rendering: no I/O. */
#ifndef SURVEYD_INVITATION_MESSAGE_H
#define SURVEYD_INVITATION_MESSAGE_H

#include "survey.h"

/* A self-contained HTML fragment for email clients: tables and inline styles, no script, no
 * stylesheet, no image. The title, the first question's text, and its scale as links to
 * url?a=VALUE (nps 0..10, csat/ces 1..scale, yes_no yes/no, choice options; a text question gets
 * one "Answer" button to url). Everything from the definition is HTML-escaped. malloc'd; NULL
 * when out of memory. */
char *invitation_message_html(const struct survey *survey, const char *url);

/* A few short lines for a plain-text email part or an SMS: title, question, link. malloc'd. */
char *invitation_message_text(const struct survey *survey, const char *url);

/* The prompt shown for q: its text, or the widget's default for its type. */
const char *invitation_message_prompt(const struct question *q);

#endif
