#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_BODY (64 * 1024)
#define MAX_BODY_LIMIT (16 * 1024 * 1024)

enum long_only_option {
    OPT_MAX_BODY = 256,
    OPT_DURABILITY,
    OPT_DATABASE,
    OPT_FROM,
    OPT_TO,
    OPT_BATCH,
    OPT_ADMIN_TOKENS_FILE,
    OPT_READ_TOKENS_FILE,
    OPT_INGEST_TOKENS_FILE,
    OPT_LOG_FORMAT,
    OPT_THREADS,
    OPT_RETENTION_DAYS,
    OPT_CORS_ORIGINS,
    OPT_RATE_LIMIT,
    OPT_RATE_BURST,
    OPT_TRUST_PROXY,
    OPT_METRICS_TOKEN,
    OPT_MAX_CONNECTIONS,
    OPT_MAX_CONNECTIONS_PER_IP,
    OPT_REQUEST_TIMEOUT,
    OPT_MAX_EXPORTS,
    OPT_EXPORT_STALL_TIMEOUT,
    OPT_PUBLIC_URL,
    OPT_THROTTLE_DAYS,
    OPT_SMTP_URL,
    OPT_SMTP_FROM,
    OPT_WEBHOOK_ALLOW_PRIVATE,
    OPT_WEBHOOK_RETRY_HOURS,
    OPT_WEBHOOK_RETRY_BASE_MS,
    OPT_WEBHOOK_CONCURRENCY,
    OPT_WEBHOOK_QUEUE_MAX,
    OPT_WEBHOOK_KEEP_DAYS,
    OPT_STOP_WORDS,
    OPT_TEXT_LANGUAGE,
};

static const struct option long_options[] = {
    {"listen", required_argument, NULL, 'l'},
    {"data-dir", required_argument, NULL, 'd'},
    {"max-body", required_argument, NULL, OPT_MAX_BODY},
    {"durability", required_argument, NULL, OPT_DURABILITY},
    {"database", required_argument, NULL, OPT_DATABASE},
    {"from", required_argument, NULL, OPT_FROM},
    {"to", required_argument, NULL, OPT_TO},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"admin-tokens-file", required_argument, NULL, OPT_ADMIN_TOKENS_FILE},
    {"read-tokens-file", required_argument, NULL, OPT_READ_TOKENS_FILE},
    {"ingest-tokens-file", required_argument, NULL, OPT_INGEST_TOKENS_FILE},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"retention-days", required_argument, NULL, OPT_RETENTION_DAYS},
    {"cors-origins", required_argument, NULL, OPT_CORS_ORIGINS},
    {"rate-limit", required_argument, NULL, OPT_RATE_LIMIT},
    {"rate-burst", required_argument, NULL, OPT_RATE_BURST},
    {"trust-proxy", required_argument, NULL, OPT_TRUST_PROXY},
    {"metrics-token", required_argument, NULL, OPT_METRICS_TOKEN},
    {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
    {"max-connections-per-ip", required_argument, NULL, OPT_MAX_CONNECTIONS_PER_IP},
    {"request-timeout", required_argument, NULL, OPT_REQUEST_TIMEOUT},
    {"max-exports", required_argument, NULL, OPT_MAX_EXPORTS},
    {"export-stall-timeout", required_argument, NULL, OPT_EXPORT_STALL_TIMEOUT},
    {"public-url", required_argument, NULL, OPT_PUBLIC_URL},
    {"throttle-days", required_argument, NULL, OPT_THROTTLE_DAYS},
    {"smtp-url", required_argument, NULL, OPT_SMTP_URL},
    {"smtp-from", required_argument, NULL, OPT_SMTP_FROM},
    {"webhook-allow-private", no_argument, NULL, OPT_WEBHOOK_ALLOW_PRIVATE},
    {"webhook-retry-hours", required_argument, NULL, OPT_WEBHOOK_RETRY_HOURS},
    {"webhook-retry-base-ms", required_argument, NULL, OPT_WEBHOOK_RETRY_BASE_MS},
    {"webhook-concurrency", required_argument, NULL, OPT_WEBHOOK_CONCURRENCY},
    {"webhook-queue-max", required_argument, NULL, OPT_WEBHOOK_QUEUE_MAX},
    {"webhook-keep-days", required_argument, NULL, OPT_WEBHOOK_KEEP_DAYS},
    {"stop-words", required_argument, NULL, OPT_STOP_WORDS},
    {"text-language", required_argument, NULL, OPT_TEXT_LANGUAGE},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

void config_print_usage(const char *program)
{
    printf("Usage: %s [serve] [options]\n"
           "       %s verify [--data-dir DIR | --database URI]\n"
           "       %s backup DEST [--data-dir DIR]\n"
           "       %s healthcheck [--listen ADDR:PORT]\n"
           "       %s migrate --from DATA_DIR --to URI [--batch N]\n"
           "\n"
           "Collects customer survey responses (NPS, CSAT, CES) and serves their scores.\n"
           "\n"
           "Subcommands:\n"
           "  serve    run the HTTP service (the default)\n"
           "  verify   recompute every metrics rollup from the stored responses and report any\n"
           "           difference; exit 0 when consistent, 1 when not, 2 on error\n"
           "  backup   copy the live database consistently to DEST (SQLite online backup; ingest goes\n"
           "           on), then check the copy's integrity\n"
           "  healthcheck  exit 0 when GET /readyz at the listen address answers 200 (for containers)\n"
           "  migrate  copy the SQLite store in DATA_DIR (read-only, from one snapshot; it may be serving)\n"
           "           into an empty PostgreSQL database (URI: postgresql://...), N rows per transaction\n"
           "           (default 2000); exit 0 when everything was copied, 1 when the copy failed part-way,\n"
           "           2 when it could not start or the target is not empty\n"
           "\n",
           program, program, program, program, program);
    /* Two strings: one would pass the 4095 characters C17 promises a string literal may hold. */
    printf("Options (environment variable in brackets):\n"
           "  -l, --listen ADDR:PORT        address to listen on; port 0 picks a free one\n"
           "                                [SURVEYD_LISTEN] (default 127.0.0.1:8080)\n"
           "  -d, --data-dir DIR            where the embedded SQLite database lives, and the generated\n"
           "                                admin token [SURVEYD_DATA_DIR] (default ./data)\n"
           "      --database URI            PostgreSQL instead: a libpq URI, postgresql://... (several\n"
           "                                instances may share one database) [SURVEYD_DATABASE]\n"
           "      --max-body BYTES          largest request body accepted [SURVEYD_MAX_BODY] (default 65536)\n"
           "      --durability full|normal  full: a 201 survives power loss; normal: it survives a crash\n"
           "                                of surveyd but not of the machine [SURVEYD_DURABILITY] (default full)\n"
           "      --admin-tokens-file FILE  admin bearer tokens [SURVEYD_ADMIN_TOKENS_FILE];\n"
           "                                also SURVEYD_ADMIN_TOKENS=tok1,tok2\n"
           "      --read-tokens-file FILE   read tokens [SURVEYD_READ_TOKENS_FILE, SURVEYD_READ_TOKENS]\n"
           "      --ingest-tokens-file FILE ingest tokens [SURVEYD_INGEST_TOKENS_FILE, SURVEYD_INGEST_TOKENS]\n"
           "      --log-format text|json    [SURVEYD_LOG_FORMAT] (default text)\n"
           "      --threads N               HTTP worker threads, 0 = one per core [SURVEYD_THREADS] (default 0)\n"
           "      --cors-origins LIST       web origins allowed to call from browsers, comma-separated, or *;\n"
           "                                surveys add their own allowed_origins [SURVEYD_CORS_ORIGINS]\n"
           "      --rate-limit N            anonymous submissions (POST/PATCH to public surveys) per second\n"
           "                                per client address; 0 = off [SURVEYD_RATE_LIMIT] (default 5)\n"
           "      --rate-burst N            bucket size for the above [SURVEYD_RATE_BURST] (default 20)\n"
           "      --trust-proxy ADDRS       reverse proxies (comma-separated IPs) whose right-most\n"
           "                                X-Forwarded-For entry is the client [SURVEYD_TRUST_PROXY]\n"
           "      --max-connections N       open connections in all [SURVEYD_MAX_CONNECTIONS] (default 4096)\n"
           "      --max-connections-per-ip N  from one address [SURVEYD_MAX_CONNECTIONS_PER_IP] (default 256)\n"
           "      --request-timeout S       a request must arrive whole within S seconds, and an idle\n"
           "                                keep-alive connection closes after S [SURVEYD_REQUEST_TIMEOUT] (default 30)\n"
           "      --max-exports N           CSV/NDJSON exports streaming at once; more get 503\n"
           "                                [SURVEYD_MAX_EXPORTS] (default 16)\n"
           "      --export-stall-timeout S  end an export whose client has read nothing for S seconds\n"
           "                                [SURVEYD_EXPORT_STALL_TIMEOUT] (default 30)\n"
           "      --metrics-token TOKEN     require this bearer token (or a read/admin token) for GET /metrics\n"
           "                                [SURVEYD_METRICS_TOKEN] (default: /metrics is open)\n"
           "      --stop-words FILE         words left out of terms, one a line, instead of the built-in\n"
           "                                English list [SURVEYD_STOP_WORDS]\n"
           "      --text-language L         search stems words: none or english (Snowball); a SQLite\n"
           "                                store re-indexes on a change [SURVEYD_TEXT_LANGUAGE]\n"
           "                                (default none)\n"
           "      --retention-days N        delete responses older than N days, at start and hourly;\n"
           "                                0 = keep forever [SURVEYD_RETENTION_DAYS] (default 0)\n"
           "  -h, --help                    this text\n"
           "  -V, --version                 the version\n"
           "\n"
           "With no admin token configured, one is generated into DATA_DIR/admin-token.\n");
    printf("\nInvitations (POST /v1/surveys/{survey}/invitations):\n"
           "      --public-url URL          base of invitation links, http(s)://host[:port][/path], as\n"
           "                                customers reach this server; without it no invitation is made\n"
           "                                (503 public_url_not_configured) [SURVEYD_PUBLIC_URL]\n"
           "      --throttle-days N         a customer invited or answering within N days is not invited\n"
           "                                again, unless the survey sets throttle_days; 0 = off\n"
           "                                [SURVEYD_THROTTLE_DAYS] (default 7)\n"
           "      --smtp-url URL            send invitation emails through this server: smtp://host:port or\n"
           "                                smtps://host:port (user:password@ for AUTH) [SURVEYD_SMTP_URL]\n"
           "      --smtp-from ADDRESS       their From address; required with --smtp-url [SURVEYD_SMTP_FROM]\n");
    printf("\nWebhooks (PUT /v1/webhooks/{id}; deliveries are retried until delivered or dead):\n"
           "      --webhook-allow-private   let subscriptions target loopback, private and link-local\n"
           "                                addresses (tests, closed networks) [SURVEYD_WEBHOOK_ALLOW_PRIVATE=1]\n"
           "      --webhook-retry-hours N   retry a delivery for N hours (1-720), then it is dead\n"
           "                                [SURVEYD_WEBHOOK_RETRY_HOURS] (default 72)\n"
           "      --webhook-retry-base-ms N the first retry's delay (10-3600000), doubling per attempt up\n"
           "                                to 1 h, with jitter [SURVEYD_WEBHOOK_RETRY_BASE_MS] (default 10000)\n"
           "      --webhook-concurrency N   attempts in flight per subscription (1-64)\n"
           "                                [SURVEYD_WEBHOOK_CONCURRENCY] (default 4)\n"
           "      --webhook-queue-max N     events waiting per subscription (100-10000000); the oldest\n"
           "                                past it are dropped and counted [SURVEYD_WEBHOOK_QUEUE_MAX] (default 100000)\n"
           "      --webhook-keep-days N     keep delivered and dead deliveries N days (1-365) for replay\n"
           "                                [SURVEYD_WEBHOOK_KEEP_DAYS] (default 30)\n");
}

/* strtonum-style: the whole string a decimal integer within [min, max]. */
static bool parse_size(const char *text, unsigned long long min, unsigned long long max, unsigned long long *out)
{
    char *end;
    if (text == NULL || *text < '0' || *text > '9')
        return false;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static bool set_max_body(struct config *config, const char *text, char *err, size_t err_size)
{
    unsigned long long v;
    if (!parse_size(text, 1024, MAX_BODY_LIMIT, &v)) {
        snprintf(err, err_size, "--max-body must be a number of bytes from 1024 to %d", MAX_BODY_LIMIT);
        return false;
    }
    config->max_body = (size_t)v;
    return true;
}

static bool set_text_language(struct config *config, const char *text, char *err, size_t err_size)
{
    if (text_language_parse(text, &config->text_language))
        return true;
    snprintf(err, err_size, "--text-language must be none or english");
    return false;
}

static bool set_durability(struct config *config, const char *text, char *err, size_t err_size)
{
    if (strcmp(text, "full") == 0)
        config->durability = STORE_DURABILITY_FULL;
    else if (strcmp(text, "normal") == 0)
        config->durability = STORE_DURABILITY_NORMAL;
    else {
        snprintf(err, err_size, "--durability must be full or normal");
        return false;
    }
    return true;
}

static bool set_log_format(struct config *config, const char *text, char *err, size_t err_size)
{
    if (strcmp(text, "text") == 0)
        config->log_format = LOG_FORMAT_TEXT;
    else if (strcmp(text, "json") == 0)
        config->log_format = LOG_FORMAT_JSON;
    else {
        snprintf(err, err_size, "--log-format must be text or json");
        return false;
    }
    return true;
}

static bool set_threads(struct config *config, const char *text, char *err, size_t err_size)
{
    unsigned long long v;
    if (!parse_size(text, 0, 256, &v)) {
        snprintf(err, err_size, "--threads must be a number from 0 to 256");
        return false;
    }
    config->threads = (unsigned)v;
    return true;
}

static bool set_retention(struct config *config, const char *text, char *err, size_t err_size)
{
    unsigned long long v;
    if (!parse_size(text, 0, 36500, &v)) {
        snprintf(err, err_size, "--retention-days must be a number of days from 0 (off) to 36500");
        return false;
    }
    config->retention_days = (unsigned)v;
    return true;
}

static bool set_rate(double *out, const char *name, const char *text, char *err, size_t err_size)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(v >= 0 && v <= 1e6)) {
        snprintf(err, err_size, "--%s must be a number from 0 to 1000000", name);
        return false;
    }
    *out = v;
    return true;
}

static bool set_count(unsigned *out, const char *name, const char *text, unsigned long long min,
                      unsigned long long max, char *err, size_t err_size)
{
    unsigned long long v;
    if (!parse_size(text, min, max, &v)) {
        snprintf(err, err_size, "--%s must be a number from %llu to %llu", name, min, max);
        return false;
    }
    *out = (unsigned)v;
    return true;
}

/* ---- invitations: the links' base, the throttle's default, the mail server ---- */

#define DEFAULT_THROTTLE_DAYS 7

/* Printable ASCII without spaces: a URL or address that goes into links and mail headers verbatim
 * must not smuggle in a line break or an HTML quote. */
static bool plain_token(const char *s, const char *refused)
{
    for (; *s; s++) {
        if (*s <= ' ' || *s > '~' || strchr(refused, *s))
            return false;
    }
    return true;
}

/* An absolute http(s) URL with a host and no query or fragment: links are made by appending
 * "/s/TOKEN" to it. */
static bool public_url_valid(const char *url)
{
    const char *host = strncmp(url, "https://", 8) == 0 ? url + 8 : strncmp(url, "http://", 7) == 0 ? url + 7 : NULL;
    return host && *host && *host != '/' && *host != ':' && strlen(url) <= 512 && plain_token(url, "?#\"<>'\\@");
}

static bool smtp_url_valid(const char *url)
{
    const char *host = strncmp(url, "smtps://", 8) == 0 ? url + 8 : strncmp(url, "smtp://", 7) == 0 ? url + 7 : NULL;
    return host && *host && *host != '/' && strlen(url) <= 1024 && plain_token(url, "?#\"<>'\\");
}

/* local@domain, nothing that could end or extend a header line. */
static bool mail_address_valid(const char *address)
{
    const char *at = strchr(address, '@');
    return at && at != address && at[1] && !strchr(at + 1, '@') && strlen(address) <= 254 &&
           plain_token(address, "\"<>(),;:[]\\");
}

static bool set_invitation_option(struct config *config, int option, const char *text, char *err, size_t err_size)
{
    switch (option) {
    case OPT_THROTTLE_DAYS:
        return set_count(&config->throttle_days, "throttle-days", text, 0, 365, err, err_size);
    case OPT_PUBLIC_URL:
        if (!public_url_valid(text)) {
            snprintf(err, err_size, "--public-url must be an absolute http:// or https:// URL without query, "
                                    "fragment or user (e.g. https://surveys.example.com)");
            return false;
        }
        config->public_url = text;
        return true;
    case OPT_SMTP_URL:
        if (!smtp_url_valid(text)) {
            snprintf(err, err_size, "--smtp-url must be smtp://host[:port] or smtps://host[:port]");
            return false;
        }
        config->smtp_url = text;
        return true;
    default:
        if (!mail_address_valid(text)) {
            snprintf(err, err_size, "--smtp-from must be a plain email address such as surveys@example.com");
            return false;
        }
        config->smtp_from = text;
        return true;
    }
}

static const char *env(const char *name);

static bool invitation_environment(struct config *config, char *err, size_t err_size)
{
    static const struct {
        const char *name;
        int option;
    } vars[] = {{"SURVEYD_PUBLIC_URL", OPT_PUBLIC_URL}, {"SURVEYD_THROTTLE_DAYS", OPT_THROTTLE_DAYS},
                {"SURVEYD_SMTP_URL", OPT_SMTP_URL}, {"SURVEYD_SMTP_FROM", OPT_SMTP_FROM}};
    const char *value;

    config->throttle_days = DEFAULT_THROTTLE_DAYS;
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        if ((value = env(vars[i].name)) && !set_invitation_option(config, vars[i].option, value, err, err_size))
            return false;
    }
    return true;
}

static const char *env(const char *name)
{
    const char *value = getenv(name);
    return value && *value ? value : NULL;
}

/* ---- webhooks: private targets, the retry schedule, concurrency, the outbox's bounds ---- */

#define DEFAULT_WEBHOOK_RETRY_HOURS 72
#define DEFAULT_WEBHOOK_RETRY_BASE_MS 10000
#define DEFAULT_WEBHOOK_CONCURRENCY 4
#define DEFAULT_WEBHOOK_QUEUE_MAX 100000
#define DEFAULT_WEBHOOK_KEEP_DAYS 30

static bool set_webhook_option(struct config *config, int option, const char *text, char *err, size_t err_size)
{
    switch (option) {
    case OPT_WEBHOOK_RETRY_HOURS:
        return set_count(&config->webhook_retry_hours, "webhook-retry-hours", text, 1, 720, err, err_size);
    case OPT_WEBHOOK_RETRY_BASE_MS:
        return set_count(&config->webhook_retry_base_ms, "webhook-retry-base-ms", text, 10, 3600000, err, err_size);
    case OPT_WEBHOOK_CONCURRENCY:
        return set_count(&config->webhook_concurrency, "webhook-concurrency", text, 1, 64, err, err_size);
    case OPT_WEBHOOK_QUEUE_MAX:
        return set_count(&config->webhook_queue_max, "webhook-queue-max", text, 100, 10000000, err, err_size);
    default:
        return set_count(&config->webhook_keep_days, "webhook-keep-days", text, 1, 365, err, err_size);
    }
}

/* A boolean variable: 1/true/yes or 0/false/no; anything else is an error rather than a guess. */
static bool set_flag(bool *out, const char *name, const char *text, char *err, size_t err_size)
{
    if (strcmp(text, "1") == 0 || strcmp(text, "true") == 0 || strcmp(text, "yes") == 0)
        *out = true;
    else if (strcmp(text, "0") == 0 || strcmp(text, "false") == 0 || strcmp(text, "no") == 0)
        *out = false;
    else {
        snprintf(err, err_size, "%s must be 1 or 0", name);
        return false;
    }
    return true;
}

static bool webhook_environment(struct config *config, char *err, size_t err_size)
{
    static const struct {
        const char *name;
        int option;
    } vars[] = {{"SURVEYD_WEBHOOK_RETRY_HOURS", OPT_WEBHOOK_RETRY_HOURS},
                {"SURVEYD_WEBHOOK_RETRY_BASE_MS", OPT_WEBHOOK_RETRY_BASE_MS},
                {"SURVEYD_WEBHOOK_CONCURRENCY", OPT_WEBHOOK_CONCURRENCY},
                {"SURVEYD_WEBHOOK_QUEUE_MAX", OPT_WEBHOOK_QUEUE_MAX},
                {"SURVEYD_WEBHOOK_KEEP_DAYS", OPT_WEBHOOK_KEEP_DAYS}};
    const char *value;

    config->webhook_retry_hours = DEFAULT_WEBHOOK_RETRY_HOURS;
    config->webhook_retry_base_ms = DEFAULT_WEBHOOK_RETRY_BASE_MS;
    config->webhook_concurrency = DEFAULT_WEBHOOK_CONCURRENCY;
    config->webhook_queue_max = DEFAULT_WEBHOOK_QUEUE_MAX;
    config->webhook_keep_days = DEFAULT_WEBHOOK_KEEP_DAYS;
    if ((value = env("SURVEYD_WEBHOOK_ALLOW_PRIVATE")) &&
        !set_flag(&config->webhook_allow_private, "SURVEYD_WEBHOOK_ALLOW_PRIVATE", value, err, err_size))
        return false;
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        if ((value = env(vars[i].name)) && !set_webhook_option(config, vars[i].option, value, err, err_size))
            return false;
    }
    return true;
}

/* ---- exports: how many stream at once, and how long one waits for a client reading nothing ---- */

#define DEFAULT_MAX_EXPORTS 16
#define DEFAULT_EXPORT_STALL_TIMEOUT 30

static bool set_export_option(struct config *config, int option, const char *text, char *err, size_t err_size)
{
    if (option == OPT_MAX_EXPORTS)
        return set_count(&config->max_exports, "max-exports", text, 1, 4096, err, err_size);
    return set_count(&config->export_stall_timeout_s, "export-stall-timeout", text, 1, 3600, err, err_size);
}

static bool export_environment(struct config *config, char *err, size_t err_size)
{
    const char *value;

    config->max_exports = DEFAULT_MAX_EXPORTS;
    config->export_stall_timeout_s = DEFAULT_EXPORT_STALL_TIMEOUT;
    if ((value = env("SURVEYD_MAX_EXPORTS")) && !set_export_option(config, OPT_MAX_EXPORTS, value, err, err_size))
        return false;
    if ((value = env("SURVEYD_EXPORT_STALL_TIMEOUT")) &&
        !set_export_option(config, OPT_EXPORT_STALL_TIMEOUT, value, err, err_size))
        return false;
    return true;
}

/* Defaults, then the environment; flags are applied over this afterwards. */
static bool apply_environment(struct config *config, char *err, size_t err_size)
{
    const char *value;

    config->listen = env("SURVEYD_LISTEN") ? env("SURVEYD_LISTEN") : "127.0.0.1:8080";
    config->data_dir = env("SURVEYD_DATA_DIR") ? env("SURVEYD_DATA_DIR") : "./data";
    config->database = env("SURVEYD_DATABASE") && *env("SURVEYD_DATABASE") ? env("SURVEYD_DATABASE") : NULL;
    config->max_body = DEFAULT_MAX_BODY;
    config->max_queue = 65536;
    config->cors_origins = env("SURVEYD_CORS_ORIGINS");
    config->rate_limit = 5;
    config->rate_burst = 20;
    config->trust_proxy = env("SURVEYD_TRUST_PROXY");
    config->metrics_token = env("SURVEYD_METRICS_TOKEN");
    config->stop_words = env("SURVEYD_STOP_WORDS") && *env("SURVEYD_STOP_WORDS") ? env("SURVEYD_STOP_WORDS") : NULL;
    config->max_connections = 4096;
    config->max_connections_per_ip = 256;
    config->request_timeout_s = 30;
    if ((value = env("SURVEYD_MAX_CONNECTIONS")) &&
        !set_count(&config->max_connections, "max-connections", value, 1, 1000000, err, err_size))
        return false;
    if ((value = env("SURVEYD_MAX_CONNECTIONS_PER_IP")) &&
        !set_count(&config->max_connections_per_ip, "max-connections-per-ip", value, 1, 1000000, err, err_size))
        return false;
    if ((value = env("SURVEYD_REQUEST_TIMEOUT")) &&
        !set_count(&config->request_timeout_s, "request-timeout", value, 1, 3600, err, err_size))
        return false;
    if ((value = env("SURVEYD_RATE_LIMIT")) && !set_rate(&config->rate_limit, "rate-limit", value, err, err_size))
        return false;
    if ((value = env("SURVEYD_RATE_BURST")) && !set_rate(&config->rate_burst, "rate-burst", value, err, err_size))
        return false;
    config->admin_tokens = (struct auth_source){env("SURVEYD_ADMIN_TOKENS"), env("SURVEYD_ADMIN_TOKENS_FILE")};
    config->read_tokens = (struct auth_source){env("SURVEYD_READ_TOKENS"), env("SURVEYD_READ_TOKENS_FILE")};
    config->ingest_tokens = (struct auth_source){env("SURVEYD_INGEST_TOKENS"), env("SURVEYD_INGEST_TOKENS_FILE")};
    if ((value = env("SURVEYD_MAX_BODY")) && !set_max_body(config, value, err, err_size))
        return false;
    if ((value = env("SURVEYD_DURABILITY")) && !set_durability(config, value, err, err_size))
        return false;
    if ((value = env("SURVEYD_TEXT_LANGUAGE")) && !set_text_language(config, value, err, err_size))
        return false;
    if ((value = env("SURVEYD_LOG_FORMAT")) && !set_log_format(config, value, err, err_size))
        return false;
    if ((value = env("SURVEYD_THREADS")) && !set_threads(config, value, err, err_size))
        return false;
    if ((value = env("SURVEYD_RETENTION_DAYS")) && !set_retention(config, value, err, err_size))
        return false;
    return export_environment(config, err, err_size) && invitation_environment(config, err, err_size) &&
           webhook_environment(config, err, err_size);
}

bool config_parse(int argc, char **argv, struct config *config, char *err, size_t err_size)
{
    int c;

    memset(config, 0, sizeof *config);
    config->command = CONFIG_SERVE;
    if (!apply_environment(config, err, err_size))
        return false;
    /* "serve" is the default subcommand and may be named. */
    static const struct {
        const char *name;
        enum config_command command;
    } subcommands[] = {{"serve", CONFIG_SERVE}, {"verify", CONFIG_VERIFY}, {"backup", CONFIG_BACKUP},
                       {"healthcheck", CONFIG_HEALTHCHECK}, {"migrate", CONFIG_MIGRATE}};
    for (size_t i = 0; argc > 1 && i < sizeof subcommands / sizeof subcommands[0]; i++) {
        if (strcmp(argv[1], subcommands[i].name) == 0) {
            config->command = subcommands[i].command;
            argv++;
            argc--;
            break;
        }
    }
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "l:d:hV", long_options, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case 'l':
            config->listen = optarg;
            break;
        case 'd':
            config->data_dir = optarg;
            break;
        case OPT_MAX_BODY:
            ok = set_max_body(config, optarg, err, err_size);
            break;
        case OPT_DATABASE:
            config->database = optarg;
            break;
        case OPT_FROM:
            config->migrate_from = optarg;
            break;
        case OPT_TO:
            config->migrate_to = optarg;
            break;
        case OPT_BATCH:
            ok = set_count(&config->migrate_batch, "batch", optarg, 1, 100000, err, err_size);
            break;
        case OPT_DURABILITY:
            ok = set_durability(config, optarg, err, err_size);
            break;
        case OPT_ADMIN_TOKENS_FILE:
            config->admin_tokens.file = optarg;
            break;
        case OPT_READ_TOKENS_FILE:
            config->read_tokens.file = optarg;
            break;
        case OPT_INGEST_TOKENS_FILE:
            config->ingest_tokens.file = optarg;
            break;
        case OPT_LOG_FORMAT:
            ok = set_log_format(config, optarg, err, err_size);
            break;
        case OPT_THREADS:
            ok = set_threads(config, optarg, err, err_size);
            break;
        case OPT_RATE_LIMIT:
            ok = set_rate(&config->rate_limit, "rate-limit", optarg, err, err_size);
            break;
        case OPT_RATE_BURST:
            ok = set_rate(&config->rate_burst, "rate-burst", optarg, err, err_size);
            break;
        case OPT_MAX_CONNECTIONS:
            ok = set_count(&config->max_connections, "max-connections", optarg, 1, 1000000, err, err_size);
            break;
        case OPT_MAX_CONNECTIONS_PER_IP:
            ok = set_count(&config->max_connections_per_ip, "max-connections-per-ip", optarg, 1, 1000000, err,
                           err_size);
            break;
        case OPT_REQUEST_TIMEOUT:
            ok = set_count(&config->request_timeout_s, "request-timeout", optarg, 1, 3600, err, err_size);
            break;
        case OPT_MAX_EXPORTS:
        case OPT_EXPORT_STALL_TIMEOUT:
            ok = set_export_option(config, c, optarg, err, err_size);
            break;
        case OPT_METRICS_TOKEN:
            config->metrics_token = optarg;
            break;
        case OPT_STOP_WORDS:
            config->stop_words = optarg;
            break;
        case OPT_TEXT_LANGUAGE:
            ok = set_text_language(config, optarg, err, err_size);
            break;
        case OPT_PUBLIC_URL:
        case OPT_THROTTLE_DAYS:
        case OPT_SMTP_URL:
        case OPT_SMTP_FROM:
            ok = set_invitation_option(config, c, optarg, err, err_size);
            break;
        case OPT_WEBHOOK_ALLOW_PRIVATE:
            config->webhook_allow_private = true;
            break;
        case OPT_WEBHOOK_RETRY_HOURS:
        case OPT_WEBHOOK_RETRY_BASE_MS:
        case OPT_WEBHOOK_CONCURRENCY:
        case OPT_WEBHOOK_QUEUE_MAX:
        case OPT_WEBHOOK_KEEP_DAYS:
            ok = set_webhook_option(config, c, optarg, err, err_size);
            break;
        case OPT_TRUST_PROXY:
            config->trust_proxy = optarg;
            break;
        case OPT_CORS_ORIGINS:
            config->cors_origins = optarg;
            break;
        case OPT_RETENTION_DAYS:
            ok = set_retention(config, optarg, err, err_size);
            break;
        case 'h':
            config->command = CONFIG_HELP;
            break;
        case 'V':
            config->command = CONFIG_VERSION;
            break;
        default:
            snprintf(err, err_size, "unknown or incomplete option '%s'", argv[optind - 1]);
            return false;
        }
        if (!ok)
            return false;
    }
    if (config->command == CONFIG_BACKUP && optind < argc)
        config->backup_dest = argv[optind++];
    if (optind < argc) {
        snprintf(err, err_size, "unexpected argument '%s'", argv[optind]);
        return false;
    }
    if (config->command != CONFIG_MIGRATE && (config->migrate_from || config->migrate_to || config->migrate_batch)) {
        snprintf(err, err_size, "--from, --to and --batch are options of surveyd migrate");
        return false;
    }
    if ((config->smtp_url == NULL) != (config->smtp_from == NULL)) {
        snprintf(err, err_size, "--smtp-url and --smtp-from go together: give both to send email, or neither");
        return false;
    }
    if (config->database && !(strncmp(config->database, "postgresql://", 13) == 0 ||
                               strncmp(config->database, "postgres://", 11) == 0)) {
        snprintf(err, err_size, "--database wants a PostgreSQL URI (postgresql://...); leave it out for SQLite");
        return false;
    }
    return true;
}

const char *config_store_location(const struct config *config, char *buf, size_t size)
{
    if (config->database)
        return config->database;
    snprintf(buf, size, "sqlite:%s", config->data_dir);
    return buf;
}

/* A URI's password may sit in its user part (user:secret@host) or in a password= parameter. */
const char *config_store_description(const struct config *config, char *buf, size_t size)
{
    if (config->database == NULL) {
        snprintf(buf, size, "SQLite in %s", config->data_dir);
        return buf;
    }
    const char *uri = config->database, *rest = strstr(uri, "://");
    rest = rest ? rest + 3 : uri;
    const char *at = strchr(rest, '@'), *slash = strchr(rest, '/');
    if (at && (slash == NULL || at < slash)) {
        const char *colon = memchr(rest, ':', (size_t)(at - rest));
        int user_len = (int)((colon ? colon : at) - rest);
        snprintf(buf, size, "PostgreSQL at %.*s%.*s%s", (int)(rest - uri), uri, user_len, rest, at);
    } else {
        snprintf(buf, size, "PostgreSQL at %s", uri);
    }
    char *password = strstr(buf, "password=");
    if (password)
        snprintf(password, size - (size_t)(password - buf), "password=(hidden)");
    return buf;
}
