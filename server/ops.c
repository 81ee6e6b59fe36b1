#include "ops.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "oom.h"
#include "store.h"
#include "timefmt.h"
#include "validate.h"

#define HEALTHCHECK_TIMEOUT_MS 3000

static void print_difference(const char *line, void *arg)
{
    (void)arg;
    printf("%s\n", line);
}

/* Every stored answer against its question's current definition (type, scale, options), one survey
 * at a time. Rules that may legitimately change after answers exist are relaxed: `required` (a
 * question may become required later) and a text's max_length. */
struct answer_check {
    char survey_id[SURVEY_ID_MAX + 1];
    struct survey survey;
    bool parsed;
    uint64_t problems;
    FILE *out;                  /* its lines, printed after the rollup check's */
    struct store *store;
    enum store_status status;
};

static void relax(struct survey *survey)
{
    for (int i = 0; i < survey->question_count; i++) {
        survey->questions[i].required = false;
        if (survey->questions[i].type == QUESTION_TEXT)
            survey->questions[i].max_length = 10000; /* the most a definition allows */
    }
}

static void load_definition(struct answer_check *check, const char *survey_id, const char *definition)
{
    struct validate_errors errors;
    cJSON *json = cJSON_Parse(definition);

    if (check->parsed)
        survey_free(&check->survey);
    snprintf(check->survey_id, sizeof check->survey_id, "%s", survey_id);
    validate_errors_init(&errors);
    check->parsed = validate_definition(survey_id, json, &check->survey, &errors);
    validate_errors_free(&errors);
    cJSON_Delete(json);
    if (check->parsed)
        relax(&check->survey);
}

static void check_answers(const char *survey_id, const char *definition, const char *id, const char *answers,
                          void *arg)
{
    struct answer_check *check = arg;
    struct validate_errors errors;

    if (strcmp(check->survey_id, survey_id) != 0)
        load_definition(check, survey_id, definition);
    validate_errors_init(&errors);
    cJSON *stored = cJSON_Parse(answers);
    if (!check->parsed) {
        fprintf(check->out, "answers: response %s: the definition of survey %s does not parse\n", id, survey_id);
        check->problems++;
    } else if (!validate_stored_answers(&check->survey, stored, &errors)) {
        for (const cJSON *e = errors.list ? errors.list->child : NULL; e; e = e->next)
            fprintf(check->out, "answers: response %s of survey %s: %s %s\n", id, survey_id,
                   cJSON_GetStringValue(cJSON_GetObjectItem(e, "field")),
                   cJSON_GetStringValue(cJSON_GetObjectItem(e, "message")));
        check->problems++;
    }
    validate_errors_free(&errors);
    cJSON_Delete(stored);
}

static void *answers_thread(void *arg)
{
    struct answer_check *check = arg;

    check->status = store_each_answers(check->store, check_answers, check);
    return NULL;
}

/* The answer check's lines, kept in a temporary file while both checks ran, after the rollups'. */
static bool copy_out(FILE *from)
{
    char buf[8192];
    size_t n;

    rewind(from);
    while ((n = fread(buf, 1, sizeof buf, from)) > 0)
        fwrite(buf, 1, n, stdout);
    return !ferror(from);
}

/* The rollups against the raw rows, and every stored answer against its question. Safe while
 * surveyd runs (WAL readers; a read-only store that never touches the WAL).
 *
 * The two checks run side by side, the answers on a second thread: at 10 M responses they are
 * about a third and two thirds of verify's CPU, and one after the other they took longer than the
 * two minutes verify may take. The second thread reads through its own reader connection (the store
 * keeps one per thread), so in its own snapshot: as before, when it began after the rollup check's
 * transaction ended. The two share no data (rollups against raw rows; answers against the
 * definitions read in the same statement), so neither needs the other's snapshot. Its lines go to
 * a temporary file (memory stays bounded however many there are) and follow the rollup lines, in
 * the order they always had. */
int ops_verify(const struct config *config)
{
    char err[512];
    uint64_t differences, responses;
    char location[4200];
    struct store_options options = {config_store_location(config, location, sizeof location), config->durability,
                                    config->text_language};
    /* Read-only: verify runs beside a serving surveyd and must never disturb it. */
    struct store *store = store_open_read_only(&options, err, sizeof err);

    if (store == NULL) {
        fprintf(stderr, "surveyd verify: %s\n", err);
        return 2;
    }
    struct answer_check check = {.parsed = false, .store = store, .out = tmpfile()};
    pthread_t thread;
    bool threaded = check.out != NULL && pthread_create(&thread, NULL, answers_thread, &check) == 0;
    enum store_status status = store_verify(store, print_difference, NULL, &differences, &responses);
    if (threaded) {
        pthread_join(thread, NULL);
        fflush(stdout);
        if (!copy_out(check.out) && status == STORE_OK)
            status = STORE_ERROR;
    } else {
        /* No temporary file or no thread: one after the other, as before. */
        if (check.out != NULL)
            fclose(check.out);
        check.out = stdout;
        check.status = status == STORE_OK ? store_each_answers(store, check_answers, &check) : STORE_OK;
    }
    if (status == STORE_OK)
        status = check.status;
    if (check.out != stdout)
        fclose(check.out);
    if (check.parsed)
        survey_free(&check.survey);
    store_close(store);
    if (status != STORE_OK) {
        fprintf(stderr, "surveyd verify: the database could not be read completely\n");
        return 2;
    }
    if (check.problems > 0)
        printf("verify: %llu response%s with answers that do not fit their question's current definition\n",
               (unsigned long long)check.problems, check.problems == 1 ? "" : "s");
    if (differences > 0) {
        printf("verify: %llu rollup difference%s over %llu responses\n", (unsigned long long)differences,
               differences == 1 ? "" : "s", (unsigned long long)responses);
        return 1;
    }
    if (check.problems > 0)
        return 1;
    printf("verify: rollups consistent with %llu responses\n", (unsigned long long)responses);
    return 0;
}

/* A consistent copy of the live database (SQLite's online backup: one read snapshot, ingest goes on). */
int ops_backup(const struct config *config)
{
    char err[512];

    if (config->backup_dest == NULL) {
        fprintf(stderr, "surveyd backup: give the destination file: surveyd backup DEST [--data-dir DIR]\n");
        return 2;
    }
    char location[4200];
    struct store_options options = {config_store_location(config, location, sizeof location), config->durability,
                                    config->text_language};
    struct store *store = store_open_read_only(&options, err, sizeof err);
    if (store == NULL) {
        fprintf(stderr, "surveyd backup: %s\n", err);
        return 1;
    }
    enum store_status status = store_backup(store, config->backup_dest, err, sizeof err);
    store_close(store);
    if (status != STORE_OK) {
        fprintf(stderr, "surveyd backup: %s\n", err);
        return 1;
    }
    printf("backup: %s written and checked\n", config->backup_dest);
    return 0;
}

/* Splits "ADDR:PORT" / "[ADDR]:PORT"; a wildcard address is probed on loopback. */
static bool probe_address(const char *listen, char *host, size_t host_size, char *port, size_t port_size)
{
    const char *colon;
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (close == NULL || close[1] != ':')
            return false;
        snprintf(host, host_size, "%.*s", (int)(close - listen - 1), listen + 1);
        colon = close + 1;
    } else {
        colon = strrchr(listen, ':');
        if (colon == NULL)
            return false;
        snprintf(host, host_size, "%.*s", (int)(colon - listen), listen);
    }
    snprintf(port, port_size, "%s", colon + 1);
    if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0)
        snprintf(host, host_size, "127.0.0.1");
    else if (strcmp(host, "::") == 0)
        snprintf(host, host_size, "::1");
    return true;
}

static bool wait_for(int fd, short events)
{
    struct pollfd p = {fd, events, 0};
    return poll(&p, 1, HEALTHCHECK_TIMEOUT_MS) == 1 && (p.revents & events);
}

/* GET /readyz on the configured address: for container HEALTHCHECKs, which have no curl. */
int ops_healthcheck(const struct config *config)
{
    char host[256], port[16], reply[64] = "";
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *found = NULL;
    static const char request[] = "GET /readyz HTTP/1.0\r\nHost: localhost\r\nUser-Agent: surveyd-healthcheck\r\n\r\n";
    int fd = -1, status = 1;

    if (!probe_address(config->listen, host, sizeof host, port, sizeof port) ||
        getaddrinfo(host, port, &hints, &found) != 0) {
        fprintf(stderr, "surveyd healthcheck: bad address %s\n", config->listen);
        return 1;
    }
    fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        goto done;
    if (connect(fd, found->ai_addr, found->ai_addrlen) != 0 && (errno != EINPROGRESS || !wait_for(fd, POLLOUT)))
        goto done;
    if (write(fd, request, sizeof request - 1) != (ssize_t)(sizeof request - 1) || !wait_for(fd, POLLIN))
        goto done;
    ssize_t n = read(fd, reply, sizeof reply - 1);
    if (n > 0) {
        reply[n] = '\0';
        status = strncmp(reply, "HTTP/1.1 200", 12) == 0 || strncmp(reply, "HTTP/1.0 200", 12) == 0 ? 0 : 1;
    }
done:
    if (status != 0)
        fprintf(stderr, "surveyd healthcheck: %s:%s is not ready%s%.12s\n", host, port, reply[0] ? ": " : "",
                reply);
    if (fd >= 0)
        close(fd);
    freeaddrinfo(found);
    return status;
}
