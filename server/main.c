/* surveyd: start-up, signals, graceful stop. main owns every long-lived object. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app.h"
#include "auth.h"
#include "config.h"
#include "cors.h"
#include "edit_token.h"
#include "export.h"
#include "http.h"
#include "invitations.h"
#include "log.h"
#include "migrate.h"
#include "oom.h"
#include "ops.h"
#include "retention.h"
#include "topic_backfill.h"
#include "routes.h"
#include "smtp.h"
#include "stop_words.h"
#include "store.h"
#include "webhook_events.h"
#include "webhook_sender.h"
#include "writer.h"

#ifndef SURVEYD_VERSION
#define SURVEYD_VERSION "unknown"
#endif

/* In-flight requests get this long to finish after SIGTERM before the server stops anyway. */
#define DRAIN_TIMEOUT_MS 10000

/* mkdir -p, owner-only for what it creates: the database holds customers' answers. */
static bool make_dirs(const char *path, char *err, size_t err_size)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            goto fail;
        *p = '/';
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        goto fail;
    /* Said plainly here: SQLite would only say "unable to open database file". */
    if (access(buf, W_OK | X_OK) != 0) {
        snprintf(err, err_size, "data directory %.300s is not writable: %s", buf, strerror(errno));
        return false;
    }
    return true;
fail:
    snprintf(err, err_size, "cannot create data directory %.300s: %s", buf, strerror(errno));
    return false;
}

/* Signals are taken synchronously by main with sigwait(); every other thread inherits the mask. */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

#define MS_PER_HOUR INT64_C(3600000)

static struct webhook_sender *start_webhooks(const struct config *config, struct app *app, char *err,
                                             size_t err_size)
{
    struct webhook_sender_options options = {
        .allow_private = config->webhook_allow_private,
        .retry_window_ms = (int64_t)config->webhook_retry_hours * MS_PER_HOUR,
        .retry_base_ms = config->webhook_retry_base_ms,
        .concurrency = config->webhook_concurrency,
        .queue_max = config->webhook_queue_max,
        .keep_days = config->webhook_keep_days,
        .prepare = webhook_events_prepare,
    };
    app->webhook_allow_private = config->webhook_allow_private;
    if (config->webhook_allow_private)
        log_warn("webhooks: --webhook-allow-private: subscriptions may target loopback and private addresses");
    return webhook_sender_start(app->store, app->writer, &options, err, err_size);
}

static int serve(const struct config *config)
{
    struct app app = {0};
    struct invitation_stats invitation_stats = {0};
    struct http_server *server = NULL;
    struct retention *retention = NULL;
    struct stop_words *stop_words = NULL;
    char err[512], bound[128];
    int listen_fd = -1, exit_code = 1;
    sigset_t signals;

    block_signals(&signals);
    if (!make_dirs(config->data_dir, err, sizeof err))
        goto fail;
    app.auth = auth_load(&config->admin_tokens, &config->read_tokens, &config->ingest_tokens, config->data_dir, err,
                         sizeof err);
    if (app.auth == NULL)
        goto fail;
    stop_words = config->stop_words ? stop_words_load(config->stop_words, err, sizeof err) : stop_words_builtin();
    if (stop_words == NULL) {
        if (config->stop_words == NULL)
            snprintf(err, sizeof err, "out of memory");
        goto fail;
    }
    app.stop_words = stop_words;
    char location[4200], described[4200];
    struct store_options store_options = {config_store_location(config, location, sizeof location),
                                          config->durability, config->text_language};
    app.text_language = config->text_language;
    app.store = store_open(&store_options, err, sizeof err);
    if (app.store == NULL)
        goto fail;
    app.cors = cors_new(config->cors_origins, err, sizeof err);
    if (app.cors == NULL)
        goto fail;
    app.proxies = client_proxies_new(config->trust_proxy, err, sizeof err);
    if (app.proxies == NULL)
        goto fail;
    app.ratelimit = ratelimit_new(config->rate_limit, config->rate_burst);
    app.metrics_token = config->metrics_token;
    app.exports = export_gate_new(config->max_exports, config->export_stall_timeout_s);
    app.versions = versions_new();
    /* 4 MiB of replies: within the daemon's 64 MB peak with 1024 connections (docs/benchmarks.md). */
    app.cache = cache_new(1024, 4u << 20);
    app.surveys = survey_cache_new();
    app.visits = calloc(1, sizeof *app.visits);
    if (app.versions == NULL || app.cache == NULL || app.surveys == NULL || app.exports == NULL || app.visits == NULL) {
        snprintf(err, sizeof err, "out of memory");
        goto fail;
    }
    if (!edit_token_init()) {
        snprintf(err, sizeof err, "cannot initialise libcrypto");
        goto fail;
    }
    app.public_url = config->public_url;
    app.throttle_days = config->throttle_days;
    app.invitation_stats = &invitation_stats;
    app.smtp_from = config->smtp_from;
    /* Before the HTTP threads: it initialises libcurl, which is not thread-safe to start. */
    if (config->smtp_url && (app.smtp = smtp_start(config->smtp_url, config->smtp_from, err, sizeof err)) == NULL)
        goto fail;
    app.writer = writer_start(app.store, config->max_queue);
    if (app.writer == NULL) {
        snprintf(err, sizeof err, "cannot start the writer thread");
        goto fail;
    }
    /* After the writer (it records through it), before HTTP (it initialises libcurl). */
    app.webhooks = start_webhooks(config, &app, err, sizeof err);
    if (app.webhooks == NULL)
        goto fail;
    /* Before HTTP: a topic's PUT wakes it. */
    app.topic_backfill = topic_backfill_start(&app);
    if (app.topic_backfill == NULL && store_topics_backfill_later(app.store)) {
        snprintf(err, sizeof err, "cannot start the topics' back-fill thread");
        goto fail;
    }
    listen_fd = http_listen(config->listen, err, sizeof err, bound, sizeof bound);
    if (listen_fd < 0)
        goto fail;
    struct http_server_options http_options = {
        .listen_fd = listen_fd,
        .threads = config->threads,
        .max_body = config->max_body,
        .max_connections = config->max_connections,
        .max_connections_per_ip = config->max_connections_per_ip,
        .request_timeout_s = config->request_timeout_s,
        .routes = routes_table,
        .route_count = routes_count,
        .app = &app,
        .cors_allowed = cors_allowed,
    };
    server = http_server_start(&http_options, err, sizeof err);
    if (server == NULL)
        goto fail;
    retention = retention_start(&app, config->retention_days);
    log_info("surveyd %s listening on %s (data: %s, durability %s)", SURVEYD_VERSION, bound,
             config_store_description(config, described, sizeof described),
             config->database ? "full" : config->durability == STORE_DURABILITY_FULL ? "full" : "normal");

    int signal_number = 0;
    sigwait(&signals, &signal_number);
    log_info("received %s: finishing in-flight requests", strsignal(signal_number));
    /* The order matters: libmicrohttpd's workers serve until http_server_stop() returns, and any of
     * them may still complete a request and hand it to the writer. So: stop accepting, let requests
     * in progress finish, refuse the ones that come too late, stop HTTP, and only then stop the
     * writer (cleanup below, which commits what is still queued). Nothing in `app` changes. */
    http_server_quiesce(server);
    http_server_drain(server, DRAIN_TIMEOUT_MS);
    http_server_refuse(server);
    exit_code = 0;
    goto cleanup;

fail:
    log_error("%s", err);
    if (listen_fd >= 0 && server == NULL)
        close(listen_fd);
cleanup:
    retention_stop(retention);
    http_server_stop(server);
    topic_backfill_stop(app.topic_backfill); /* its batch in progress commits through the writer */
    /* Its in-flight attempts finish and are recorded through the writer, so before writer_stop;
     * freed after it, as jobs still queued may wake it when they commit. */
    webhook_sender_stop(app.webhooks);
    writer_stop(app.writer);
    webhook_sender_free(app.webhooks);
    smtp_stop(app.smtp); /* after HTTP: no request may queue an email any more */
    store_close(app.store);
    cache_free(app.cache);
    survey_cache_free(app.surveys);
    cors_free(app.cors);
    ratelimit_free(app.ratelimit);
    client_proxies_free(app.proxies);
    versions_free(app.versions);
    export_gate_free(app.exports);
    free(app.visits);
    auth_free(app.auth);
    stop_words_free(stop_words);
    edit_token_cleanup();
    if (exit_code == 0)
        log_info("stopped");
    return exit_code;
}

int main(int argc, char **argv)
{
    struct config config;
    char err[256];

    if (!config_parse(argc, argv, &config, err, sizeof err)) {
        fprintf(stderr, "surveyd: %s\nTry 'surveyd --help'.\n", err);
        return 2;
    }
    log_set_format(config.log_format);
    oom_install();
    switch (config.command) {
    case CONFIG_HELP:
        config_print_usage("surveyd");
        return 0;
    case CONFIG_VERSION:
        printf("surveyd %s\n", SURVEYD_VERSION);
        return 0;
    case CONFIG_VERIFY:
        return ops_verify(&config);
    case CONFIG_BACKUP:
        return ops_backup(&config);
    case CONFIG_HEALTHCHECK:
        return ops_healthcheck(&config);
    case CONFIG_MIGRATE:
        return migrate_run(&config);
    case CONFIG_SERVE:
        break;
    }
    return serve(&config);
}
