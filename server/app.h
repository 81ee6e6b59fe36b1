/* What main owns and every handler may use. Built once at start-up; never mutated afterwards. */
#ifndef SURVEYD_APP_H
#define SURVEYD_APP_H

#include "auth.h"
#include "cache.h"
#include "client.h"
#include "cors.h"
#include "ratelimit.h"
#include "survey_cache.h"
#include "store.h"
#include "versions.h"
#include "visit.h"
#include "writer.h"

struct export_gate;
struct invitation_stats;
struct smtp;
struct stop_words;
struct topic_backfill;
struct webhook_sender;

struct app {
    struct store *store;
    struct writer *writer;
    struct auth *auth;
    struct versions *versions;  /* per-survey data versions: ETags, cache validity */
    struct cache *cache;        /* computed metrics replies */
    struct survey_cache *surveys; /* parsed definitions */
    struct cors *cors;          /* origins allowed beyond each survey's own */
    struct ratelimit *ratelimit; /* anonymous submissions per client address; NULL when off */
    struct proxies *proxies;    /* reverse proxies whose X-Forwarded-For is believed */
    const char *metrics_token;  /* bearer token for /metrics; NULL: open */
    struct export_gate *exports; /* concurrent exports and stalled export clients; NULL: ungated */
    struct visit_stats *visits; /* hosted pages' automated visits by reason, for /metrics */
    /* Invitations: the links' base (NULL: none are made), the throttle for surveys that set none,
     * the email sender (NULL: no --smtp-url), and counters. */
    const char *public_url;
    unsigned throttle_days;
    const char *smtp_from;
    struct smtp *smtp;
    struct invitation_stats *invitation_stats;
    /* Webhooks: the outbox's sender (NULL only in tools that serve nothing), and whether
     * subscriptions may target loopback and private addresses. */
    struct webhook_sender *webhooks;
    bool webhook_allow_private;
    /* Terms (api/terms.c): words left out of them, built in or --stop-words. */
    const struct stop_words *stop_words;
    /* Search (api/search.c): queries are stemmed as the index is (--text-language). */
    enum text_language text_language;
    /* Topics (api/topics.c): the back-fill thread a PUT wakes; NULL when the PUT back-fills. */
    struct topic_backfill *topic_backfill;
};

#endif
