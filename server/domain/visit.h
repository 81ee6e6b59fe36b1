/* Telling a person's visit to a hosted survey page from a machine's: mail security scanners, link
 * previews and browser prefetches open every link of a message, and where opening a link counted
 * as an answer they filed fake ratings. Pure: the caller gathers the request's headers and the
 * invitation's last visit, and this decides. See docs/hosted-page.md, "Automated visits". */
#ifndef SURVEYD_VISIT_H
#define SURVEYD_VISIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Two visits with different ?a= values this close together are one machine trying every link: a
 * person who changes their mind does so on the page, not by clicking another link in the email. */
#define VISIT_BURST_MS 10000

enum visit_kind {
    VISIT_PERSON,           /* nothing says otherwise */
    VISIT_HEAD,             /* HEAD: a link checker asking whether the link works */
    VISIT_PREFETCH,         /* Purpose / Sec-Purpose: prefetch, X-Purpose: preview, X-Moz: prefetch */
    VISIT_SCANNER,          /* a user agent of a known mail scanner, link previewer, bot or crawler */
    VISIT_BURST,            /* another ?a= value within VISIT_BURST_MS of the previous visit's */
};
#define VISIT_KINDS 5

struct visit_request {
    const char *method;                 /* "GET" or "HEAD" */
    const char *user_agent;             /* NULL when absent */
    const char *purpose, *sec_purpose, *x_purpose, *x_moz;
    const char *value;                  /* the ?a= value, NULL when none */
    int64_t now_ms;
    int64_t last_visit_at;              /* the invitation's previous ?a= visit, 0 when none */
    const char *last_visit_value;
};

/* The first reason a visit looks automated, or VISIT_PERSON. */
enum visit_kind visit_classify(const struct visit_request *request);

/* Whether user_agent names a known scanner, previewer or bot (case-insensitive substrings). */
bool visit_scanner_agent(const char *user_agent);

/* The reason's label in /metrics and docs ("person", "head", "prefetch", "scanner", "burst"). */
const char *visit_kind_name(enum visit_kind kind);

/* The automated visits seen since start, by reason, for /metrics. Owned by main. */
struct visit_stats {
    atomic_ullong automated[VISIT_KINDS];   /* VISIT_PERSON's slot stays 0 */
};

#endif
