#include "visit.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

/* Substrings of the User-Agent headers mail security gateways, link checkers and previewers send
 * (lower case). Most scanners that render pages pretend to be a desktop browser and are only caught
 * by HEAD, prefetch headers or bursts; these are the ones that say who they are. The list is
 * documented in docs/hosted-page.md: keep the two in step. */
static const char *const scanner_agents[] = {
    "safelinks",            /* Microsoft Defender for Office 365 Safe Links */
    "microsoft office",     /* Office apps' link preflight ("Microsoft Office Existence Discovery") */
    "ms-office",
    "bingpreview",
    "mimecast",
    "proofpoint",
    "barracuda",
    "symantec",
    "messagelabs",
    "ironport",             /* Cisco */
    "cisco",
    "trendmicro", "trend micro",
    "sophos",
    "zscaler",
    "fortiguard", "fortinet",
    "forcepoint", "websense",
    "paloalto", "palo alto",
    "checkpoint",
    "google-safety", "googleimageproxy", "google-read-aloud", "feedfetcher-google", "google web preview",
    "appengine-google",
    "yahoo! slurp", "yahoomailproxy",
    "slackbot", "twitterbot", "facebookexternalhit", "linkedinbot", "whatsapp", "telegrambot", "discordbot",
    "skypeuripreview", "applebot",
    "python-requests", "python-urllib", "go-http-client", "libwww-perl", "wget", "okhttp", "java/",
    "headlesschrome",
    "bot", "crawler", "spider", "preview", "scanner", "scan/", "urlscan", "checker",
};

/* strcasestr without _GNU_SOURCE: the list is short and agents are at most a few hundred bytes. */
static bool contains_folded(const char *haystack, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = haystack; *p; p++) {
        if (strncasecmp(p, needle, n) == 0)
            return true;
    }
    return false;
}

bool visit_scanner_agent(const char *user_agent)
{
    /* No User-Agent at all: browsers always send one; scripts and some scanners don't. */
    if (user_agent == NULL || *user_agent == '\0')
        return true;
    for (size_t i = 0; i < sizeof scanner_agents / sizeof scanner_agents[0]; i++) {
        if (contains_folded(user_agent, scanner_agents[i]))
            return true;
    }
    return false;
}

static bool prefetch_header(const char *value)
{
    return value && (contains_folded(value, "prefetch") || contains_folded(value, "preview") ||
                     contains_folded(value, "prerender"));
}

static bool burst(const struct visit_request *r)
{
    if (r->value == NULL || r->last_visit_at == 0 || r->last_visit_value == NULL)
        return false;
    int64_t since = r->now_ms - r->last_visit_at;
    return since >= 0 && since < VISIT_BURST_MS && strcmp(r->value, r->last_visit_value) != 0;
}

enum visit_kind visit_classify(const struct visit_request *r)
{
    if (r->method && strcmp(r->method, "HEAD") == 0)
        return VISIT_HEAD;
    if (prefetch_header(r->purpose) || prefetch_header(r->sec_purpose) || prefetch_header(r->x_purpose) ||
        prefetch_header(r->x_moz))
        return VISIT_PREFETCH;
    if (visit_scanner_agent(r->user_agent))
        return VISIT_SCANNER;
    if (burst(r))
        return VISIT_BURST;
    return VISIT_PERSON;
}

const char *visit_kind_name(enum visit_kind kind)
{
    static const char *const names[VISIT_KINDS] = {"person", "head", "prefetch", "scanner", "burst"};
    return (unsigned)kind < VISIT_KINDS ? names[kind] : "unknown";
}
