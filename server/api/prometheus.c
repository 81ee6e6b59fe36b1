#include "prometheus.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "export.h"
#include "invitations.h"
#include "oom.h"
#include "webhook_sender.h"

#ifndef SURVEYD_VERSION
#define SURVEYD_VERSION "unknown"
#endif

struct text {
    struct export_buf buf;
};

static void emit(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(struct text *t, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0) {
        size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
        if (t->buf.len + len + 1 > t->buf.cap) {
            size_t cap = t->buf.cap ? t->buf.cap * 2 : 8192;
            while (cap < t->buf.len + len + 1)
                cap *= 2;
            char *grown = realloc(t->buf.data, cap);
            if (grown == NULL) {
                oom_note(); /* a scrape missing a line is wrong: http.c answers 500 instead */
                return;
            }
            t->buf.data = grown;
            t->buf.cap = cap;
        }
        memcpy(t->buf.data + t->buf.len, line, len + 1);
        t->buf.len += len;
    }
}

/* Label values: backslash, quote and newline escaped, as the format requires. Survey ids and route
 * patterns never need it, but the escaping keeps the output valid whatever they hold. */
static const char *label(const char *value, char *out, size_t size)
{
    size_t o = 0;
    for (; *value && o + 3 < size; value++) {
        if (*value == '\\' || *value == '"' || *value == '\n') {
            out[o++] = '\\';
            out[o++] = *value == '\n' ? 'n' : *value;
        } else {
            out[o++] = *value;
        }
    }
    out[o] = '\0';
    return out;
}

static void route_requests(const struct http_route_metrics *m, void *arg)
{
    struct text *t = arg;
    char pattern[300];
    const char *route = m->pattern ? label(m->pattern, pattern, sizeof pattern) : "unmatched";
    const char *method = m->method ? m->method : "";
    for (int i = 0; i < HTTP_STATUS_SLOTS; i++) {
        if (m->by_status[i] == 0)
            continue;
        char status[16];
        if (http_tracked_statuses[i])
            snprintf(status, sizeof status, "%u", http_tracked_statuses[i]);
        else
            snprintf(status, sizeof status, "other");
        emit(t, "surveyd_http_requests_total{method=\"%s\",route=\"%s\",status=\"%s\"} %llu\n", method, route, status,
             (unsigned long long)m->by_status[i]);
    }
}

static void route_durations(const struct http_route_metrics *m, void *arg)
{
    struct text *t = arg;
    char pattern[300];
    const char *route = m->pattern ? label(m->pattern, pattern, sizeof pattern) : "unmatched";
    const char *method = m->method ? m->method : "";
    if (m->count == 0)
        return;
    for (int b = 0; b < HTTP_DURATION_BUCKETS; b++)
        emit(t, "surveyd_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"%g\"} %llu\n", method,
             route, http_duration_bounds[b], (unsigned long long)m->duration_buckets[b]);
    emit(t, "surveyd_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"+Inf\"} %llu\n", method,
         route, (unsigned long long)m->count);
    emit(t, "surveyd_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} %.6f\n", method, route,
         m->duration_sum);
    emit(t, "surveyd_http_request_duration_seconds_count{method=\"%s\",route=\"%s\"} %llu\n", method, route,
         (unsigned long long)m->count);
}

static void ingested(const char *survey, uint64_t count, void *arg)
{
    char value[300];
    emit(arg, "surveyd_responses_ingested_total{survey=\"%s\"} %llu\n", label(survey, value, sizeof value),
         (unsigned long long)count);
}

static void histogram(struct text *t, const char *name, const char *help, const double *bounds,
                      const unsigned long long *buckets, int count, unsigned long long total, double sum)
{
    emit(t, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (int b = 0; b < count; b++)
        emit(t, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[b], buckets[b]);
    emit(t, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name, total, name, sum, name, total);
}

static void add_ingested(const char *survey, uint64_t count, void *arg)
{
    *(unsigned long long *)arg += count;
}

/* Per-survey series name surveys, and a private survey's id must not be learnt by anyone who
 * cannot read it (ids can't be probed). So they go only to a caller holding the metrics token or
 * a read or admin token; an open /metrics shows the total alone. */
static void emit_ingested(struct text *t, struct app *app, bool full)
{
    emit(t, "# HELP surveyd_responses_ingested_total Survey responses stored since start%s.\n",
         full ? ", by survey" : " (by survey with --metrics-token or a read token)");
    emit(t, "# TYPE surveyd_responses_ingested_total counter\n");
    if (full) {
        versions_each_ingested(app->versions, ingested, t);
        return;
    }
    unsigned long long total = 0;
    versions_each_ingested(app->versions, add_ingested, &total);
    emit(t, "surveyd_responses_ingested_total %llu\n", total);
}

/* Visits to hosted survey pages that looked automated (visit.h), never recorded as answers. Every
 * reason is always listed, 0 included, so a rate() over it never starts from a missing series. */
static void emit_automated_visits(struct text *t, struct app *app)
{
    emit(t, "# HELP surveyd_invitation_automated_visits_total Visits to invitation links that looked "
            "automated (HEAD, prefetch, scanner user agent, burst of values), by reason.\n");
    emit(t, "# TYPE surveyd_invitation_automated_visits_total counter\n");
    for (int kind = VISIT_HEAD; kind < VISIT_KINDS; kind++)
        emit(t, "surveyd_invitation_automated_visits_total{reason=\"%s\"} %llu\n", visit_kind_name(kind),
             app->visits ? (unsigned long long)atomic_load(&app->visits->automated[kind]) : 0ULL);
}

/* Totals only, never by survey: an open /metrics must not name private surveys. */
static void emit_invitations(struct text *t, struct invitation_stats *s)
{
    static struct invitation_stats none;
    if (s == NULL)
        s = &none;
    emit(t, "# HELP surveyd_invitations_total Invitations created since start, by outcome.\n");
    emit(t, "# TYPE surveyd_invitations_total counter\n");
    emit(t, "surveyd_invitations_total{outcome=\"sent\"} %llu\n", (unsigned long long)atomic_load(&s->sent));
    emit(t, "surveyd_invitations_total{outcome=\"throttled\"} %llu\n", (unsigned long long)atomic_load(&s->throttled));
    emit(t, "surveyd_invitations_total{outcome=\"sampled_out\"} %llu\n",
         (unsigned long long)atomic_load(&s->sampled_out));
    emit(t, "# HELP surveyd_invitation_emails_total Invitation emails since start: accepted by the mail server, or not.\n");
    emit(t, "# TYPE surveyd_invitation_emails_total counter\n");
    emit(t, "surveyd_invitation_emails_total{result=\"sent\"} %llu\n", (unsigned long long)atomic_load(&s->emails_sent));
    emit(t, "surveyd_invitation_emails_total{result=\"failed\"} %llu\n",
         (unsigned long long)atomic_load(&s->emails_failed));
}

/* Totals over every subscription: an open /metrics names no subscription. */
static void emit_webhooks(struct text *t, struct app *app)
{
    struct webhook_stats s;
    webhook_sender_get_stats(app->webhooks, &s);
    emit(t, "# HELP surveyd_webhook_deliveries_total Webhook delivery attempts since start, by result: delivered "
            "(2xx), failed (retried later), dead (its retry window closed).\n");
    emit(t, "# TYPE surveyd_webhook_deliveries_total counter\n");
    emit(t, "surveyd_webhook_deliveries_total{result=\"delivered\"} %llu\n", s.delivered);
    emit(t, "surveyd_webhook_deliveries_total{result=\"failed\"} %llu\n", s.failed);
    emit(t, "surveyd_webhook_deliveries_total{result=\"dead\"} %llu\n", s.dead);
    emit(t, "# HELP surveyd_webhook_retries_total Webhook deliveries scheduled for another attempt.\n");
    emit(t, "# TYPE surveyd_webhook_retries_total counter\nsurveyd_webhook_retries_total %llu\n", s.retried);
    emit(t, "# HELP surveyd_webhook_disabled_total Subscriptions disabled because their receiver answered 410 Gone.\n");
    emit(t, "# TYPE surveyd_webhook_disabled_total counter\nsurveyd_webhook_disabled_total %llu\n", s.disabled);
    emit(t, "# HELP surveyd_webhook_dropped_total Events dropped, oldest first, for a subscription whose backlog "
            "passed --webhook-queue-max.\n");
    emit(t, "# TYPE surveyd_webhook_dropped_total counter\nsurveyd_webhook_dropped_total %llu\n", s.dropped);
    emit(t, "# HELP surveyd_webhook_queue_depth Webhook deliveries pending or being sent, plus logged events not "
            "yet prepared, over every subscription.\n");
    emit(t, "# TYPE surveyd_webhook_queue_depth gauge\nsurveyd_webhook_queue_depth %lld\n", (long long)s.queue_depth);
    emit(t, "# HELP surveyd_webhook_in_flight Webhook delivery attempts in progress in this process.\n");
    emit(t, "# TYPE surveyd_webhook_in_flight gauge\nsurveyd_webhook_in_flight %lld\n", (long long)s.in_flight);
    histogram(t, "surveyd_webhook_delivery_latency_seconds", "Time from an event to its delivery.",
              webhook_latency_bounds, s.latency_buckets, WEBHOOK_LATENCY_BUCKETS, s.latency_count, s.latency_seconds);
}

enum scrape_view { SCRAPE_DENIED, SCRAPE_OPEN, SCRAPE_FULL };

/* Open by default, like most exporters; --metrics-token makes it need that bearer token (or an
 * admin or read token). */
static enum scrape_view scrape_view(struct http_request *req)
{
    struct app *app = api_app(req);
    if (app->metrics_token && auth_bearer_matches(http_header(req, "Authorization"), app->metrics_token))
        return SCRAPE_FULL;
    struct auth_result auth = api_auth(req);
    if (auth_may_read(auth.roles))
        return SCRAPE_FULL;
    if (app->metrics_token == NULL)
        return SCRAPE_OPEN;
    api_reply_denied(req, auth);
    return SCRAPE_DENIED;
}

enum http_next prometheus_metrics(struct http_request *req)
{
    struct app *app = api_app(req);
    struct text t = {{0}};
    struct writer_stats w;

    enum scrape_view view = scrape_view(req);
    if (view == SCRAPE_DENIED)
        return HTTP_DONE;
    writer_get_stats(app->writer, &w);
    emit(&t, "# HELP surveyd_build_info Version of the running surveyd.\n# TYPE surveyd_build_info gauge\n");
    emit(&t, "surveyd_build_info{version=\"%s\"} 1\n", SURVEYD_VERSION);
    emit(&t, "# HELP surveyd_http_requests_total HTTP requests by route and status.\n");
    emit(&t, "# TYPE surveyd_http_requests_total counter\n");
    http_each_route_metrics(req, route_requests, &t);
    emit(&t, "# HELP surveyd_http_request_duration_seconds Time from request headers to the end of the reply.\n");
    emit(&t, "# TYPE surveyd_http_request_duration_seconds histogram\n");
    http_each_route_metrics(req, route_durations, &t);
    emit_ingested(&t, app, view == SCRAPE_FULL);
    histogram(&t, "surveyd_writer_batch_size", "Jobs committed together in one transaction.", writer_batch_bounds,
              w.batch_buckets, WRITER_BATCH_BUCKETS, w.batches, (double)w.jobs);
    histogram(&t, "surveyd_writer_commit_duration_seconds", "Time to apply and commit one batch.",
              writer_commit_bounds, w.commit_buckets, WRITER_COMMIT_BUCKETS, w.batches, w.commit_seconds);
    emit(&t, "# HELP surveyd_writer_failed_commits_total Batches whose commit failed (nothing of them stored).\n");
    emit(&t, "# TYPE surveyd_writer_failed_commits_total counter\nsurveyd_writer_failed_commits_total %llu\n",
         w.failed_commits);
    emit(&t, "# HELP surveyd_writer_queue_depth Jobs waiting for the writer.\n# TYPE surveyd_writer_queue_depth gauge\n");
    emit(&t, "surveyd_writer_queue_depth %zu\n", w.queue_depth);
    emit(&t, "# HELP surveyd_database_size_bytes Database and WAL files on disk.\n");
    emit(&t, "# TYPE surveyd_database_size_bytes gauge\nsurveyd_database_size_bytes %llu\n",
         (unsigned long long)store_size_bytes(app->store));
    emit(&t, "# HELP surveyd_rate_limited_total Anonymous submissions refused with 429.\n");
    emit(&t, "# TYPE surveyd_rate_limited_total counter\nsurveyd_rate_limited_total %llu\n",
         (unsigned long long)(app->ratelimit ? ratelimit_refused(app->ratelimit) : 0));
    emit_automated_visits(&t, app);
    emit(&t, "# HELP surveyd_exports_active CSV/NDJSON exports streaming now.\n");
    emit(&t, "# TYPE surveyd_exports_active gauge\nsurveyd_exports_active %u\n", export_gate_active(app->exports));
    emit(&t, "# HELP surveyd_exports_refused_total Exports refused with 503 because --max-exports were streaming.\n");
    emit(&t, "# TYPE surveyd_exports_refused_total counter\nsurveyd_exports_refused_total %llu\n",
         export_gate_refused(app->exports));
    emit_invitations(&t, app->invitation_stats);
    emit_webhooks(&t, app);
    http_reply_body(req, 200, t.buf.data ? t.buf.data : strdup(""), t.buf.len, "text/plain; version=0.0.4; charset=utf-8");
    return HTTP_DONE;
}
