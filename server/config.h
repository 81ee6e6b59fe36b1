/* Command line and environment into one struct. Flags win over environment variables. */
#ifndef SURVEYD_CONFIG_H
#define SURVEYD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "auth.h"
#include "log.h"
#include "store.h"

enum config_command {
    CONFIG_SERVE,
    CONFIG_VERIFY,
    CONFIG_BACKUP,
    CONFIG_HEALTHCHECK,
    CONFIG_MIGRATE,
    CONFIG_HELP,
    CONFIG_VERSION,
};

struct config {
    enum config_command command;
    const char *listen;             /* "ADDR:PORT" or "[ADDR]:PORT" */
    const char *data_dir;           /* SQLite's folder, and where a generated admin token goes */
    const char *database;           /* postgresql://... or NULL for SQLite in data_dir */
    size_t max_body;
    enum store_durability durability;
    enum log_format log_format;
    unsigned threads;               /* libmicrohttpd worker threads; 0 = one per core */
    size_t max_queue;               /* writer queue bound */
    unsigned retention_days;        /* 0: keep responses forever */
    const char *cors_origins;       /* comma-separated origins, or "*" */
    const char *backup_dest;        /* surveyd backup DEST */
    const char *migrate_from;       /* surveyd migrate --from DATA_DIR (or a sqlite: location) */
    const char *migrate_to;         /* surveyd migrate --to postgresql://... */
    unsigned migrate_batch;         /* rows per transaction of the copy; 0: the default */
    double rate_limit, rate_burst;  /* anonymous submissions per client address; rate 0 = off */
    const char *trust_proxy;        /* addresses whose X-Forwarded-For is believed */
    const char *metrics_token;      /* bearer token required by /metrics; NULL: open */
    const char *stop_words;         /* --stop-words FILE for terms; NULL: the built-in English list */
    enum text_language text_language;   /* --text-language: how search stems words (none, english) */
    unsigned max_connections, max_connections_per_ip, request_timeout_s;
    unsigned max_exports;           /* exports streaming at once; more are 503 */
    unsigned export_stall_timeout_s; /* an export whose client reads nothing for this long is ended */
    struct auth_source admin_tokens, read_tokens, ingest_tokens;
    /* Invitations (README, "Invitations"). */
    const char *public_url;         /* base of invitation links, http(s)://host[:port][/path]; NULL: none made */
    unsigned throttle_days;         /* a survey's throttle_days when it sets none */
    const char *smtp_url;           /* smtp://host:port or smtps://...; NULL: no email sent */
    const char *smtp_from;          /* the From address, required with smtp_url */
    /* Webhooks (README "Webhooks"): outbound/webhook_sender.h's options. */
    bool webhook_allow_private;     /* --webhook-allow-private: loopback/private targets allowed */
    unsigned webhook_retry_hours;   /* a delivery is retried this long, then dead; default 72 */
    unsigned webhook_retry_base_ms; /* the first retry's delay (doubling, with jitter); default 10000 */
    unsigned webhook_concurrency;   /* attempts in flight per subscription; default 4 */
    unsigned webhook_queue_max;     /* pending deliveries per subscription; default 100000 */
    unsigned webhook_keep_days;     /* delivered and dead deliveries kept for replay; default 30 */
};

/* Fills *config from argv and the environment. On a bad flag or value returns false with a message
 * in err (the caller prints it with the usage hint and exits 2). */
bool config_parse(int argc, char **argv, struct config *config, char *err, size_t err_size);

void config_print_usage(const char *program);

/* The store location for store_options.database: the PostgreSQL URI, or "sqlite:" + data_dir. */
const char *config_store_location(const struct config *config, char *buf, size_t size);

/* The location without any password, for logs. */
const char *config_store_description(const struct config *config, char *buf, size_t size);

#endif
